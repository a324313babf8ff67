"""The results artifact: build, schema, validate, write, read, merge."""

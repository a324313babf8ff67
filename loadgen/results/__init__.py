"""The results artifact: build, schema, validate, write, read (artifact), merge (merge)."""

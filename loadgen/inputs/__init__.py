"""What the user hands in, read strictly: TOML source, validation, profiles, targets, templates."""

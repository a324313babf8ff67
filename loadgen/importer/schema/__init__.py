"""The JSON Schema of the import reconciliation artifact (import-result-v1.schema.json)."""

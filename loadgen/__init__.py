"""loadgen: a k6-style load generator for event-ingestion APIs, safe by construction."""

__version__ = "0.1.0"

"""`loadgen serve`: the embedded mock of the PostHog, Customer.io and Segment ingestion APIs.

Public API: `MockConfig` and its `parse_*` helpers (`config.py`), `serve()` / `run()`
(`runner.py`) and `LocalMock` (`process.py`, the mock in a subprocess).
"""

from loadgen.mock.config import MockConfig
from loadgen.mock.process import LocalMock
from loadgen.mock.runner import run, serve

__all__ = ["LocalMock", "MockConfig", "run", "serve"]

"""`loadgen serve`: the embedded mock of the PostHog, Customer.io and Segment ingestion APIs.

Public API: `MockConfig` and its `parse_*` helpers (`config.py`), `serve()` / `run()`
(`runner.py`) and `LocalMock` (`process.py`, the mock in a subprocess).

The names are loaded from their modules when first asked for: the runner needs only
`LocalMock`, which starts the mock in another process, and importing it runs this file
first; eager re-exports would load the whole server (~50-100 ms) into every `loadgen run`.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from loadgen import load_on_use

if TYPE_CHECKING:
    from loadgen.mock.config import MockConfig
    from loadgen.mock.process import LocalMock
    from loadgen.mock.runner import run, serve

__all__ = ["LocalMock", "MockConfig", "run", "serve"]

_MODULE_OF = MappingProxyType(
    {"LocalMock": "process", "MockConfig": "config", "run": "runner", "serve": "runner"}
)


def __getattr__(name: str) -> object:
    return load_on_use(__name__, _MODULE_OF, name)

"""loadgen: a k6-style load generator for event-ingestion APIs, safe by construction."""

from __future__ import annotations

import importlib
from collections.abc import Mapping

__version__ = "0.1.0"


def load_on_use(package: str, module_of: Mapping[str, str], name: str) -> object:
    """A package face's `__getattr__`: `name` from its module (`module_of[name]`, relative
    to `package`), imported only when first asked for, so a command that never uses a
    name does not pay for importing it (see the start-up section of docs/benchmarks.md)."""
    module = module_of.get(name)
    if module is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{package}.{module}"), name)

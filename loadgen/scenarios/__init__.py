"""Scenarios: build each planned request of a profile, with the exact wire format of its API.

The face of the package: `ScenarioSet` (scenario_set.py) is what the engine calls; each
API's wire format is one module (posthog.py, customerio.py, segment.py) on the parts in
api_format.py; users.py is the population and its journeys; replay.py streams a file.

The names are loaded from their modules when first asked for: the guard (and so `loadgen
lint`) needs only users.py's population math, and importing it runs this file first; eager
re-exports would load every payload builder with it (~10 ms of lint's start-up).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from loadgen import load_on_use

if TYPE_CHECKING:
    from loadgen.scenarios.api_format import BuiltRequest
    from loadgen.scenarios.replay import ReplayError, ReplayExhausted
    from loadgen.scenarios.scenario_set import ScenarioSet

__all__ = [
    "BuiltRequest",
    "ReplayError",
    "ReplayExhausted",
    "ScenarioSet",
]

_MODULE_OF = MappingProxyType(
    {
        "BuiltRequest": "api_format",
        "ReplayError": "replay",
        "ReplayExhausted": "replay",
        "ScenarioSet": "scenario_set",
    }
)


def __getattr__(name: str) -> object:
    return load_on_use(__name__, _MODULE_OF, name)

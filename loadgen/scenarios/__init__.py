"""Scenarios: build each planned request of a profile, with the exact wire format of its API.

The face of the package: `ScenarioSet` (scenario_set.py) is what the engine calls; each
API's wire format is one module (posthog.py, customerio.py, segment.py) on the parts in
api_format.py; users.py is the population and its journeys; replay.py streams a file.
"""

from loadgen.scenarios.api_format import BuiltRequest
from loadgen.scenarios.replay import ReplayError, ReplayExhausted
from loadgen.scenarios.scenario_set import ScenarioSet

__all__ = [
    "BuiltRequest",
    "ReplayError",
    "ReplayExhausted",
    "ScenarioSet",
]

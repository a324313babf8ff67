"""Microseconds per built request, for each API and kind (the engine's hot path).

Run: .venv/bin/python scripts/bench_scenarios.py
Each case builds requests from a one-scenario profile with realistic templates (3 runs,
median); batch cases also show µs per event.
"""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from loadgen.arrivals.plan import Plan
from loadgen.inputs.profile import load_profile
from loadgen.inputs.targets import BUILTIN_LOCAL, LOCAL_CREDENTIALS
from loadgen.scenarios import ScenarioSet

PROPERTIES = (
    'properties = { plan = "{{choice:free,pro,enterprise}}", amount = "{{float:1..500}}", '
    'sku = "SKU-{{int:1000..9999}}", order_id = "{{uuid}}", url = "https://example.com/'
    '{{choice:pricing,docs,blog}}" }'
)
HISTORICAL = 'api = "posthog"\nkind = "batch"\nbatch_size = 100\nhistorical = true\nhistory = "30d"'
CIO_V2_BATCH = 'api = "customerio"\nkind = "batch"\napi_version = "v2"\nbatch_size = 100'
CASES = [  # (label, scenario TOML lines)
    ("posthog track", 'api = "posthog"\nkind = "track"'),
    ("posthog identify", 'api = "posthog"\nkind = "identify"'),
    ("posthog alias", 'api = "posthog"\nkind = "alias"'),
    ("posthog batch 100", 'api = "posthog"\nkind = "batch"\nbatch_size = 100'),
    ("posthog batch 100 gzip", 'api = "posthog"\nkind = "batch"\nbatch_size = 100\ngzip = true'),
    ("posthog batch 100 hist", HISTORICAL),
    ("customerio v1 identify", 'api = "customerio"\nkind = "identify"'),
    ("customerio v1 track", 'api = "customerio"\nkind = "track"'),
    ("customerio v1 merge", 'api = "customerio"\nkind = "alias"'),
    ("customerio v2 track", 'api = "customerio"\nkind = "track"\napi_version = "v2"'),
    ("customerio v2 batch 100", CIO_V2_BATCH),
    ("segment identify", 'api = "segment"\nkind = "identify"'),
    ("segment track", 'api = "segment"\nkind = "track"'),
    ("segment alias", 'api = "segment"\nkind = "alias"'),
    ("segment batch 100", 'api = "segment"\nkind = "batch"\nbatch_size = 100'),
]
PROFILE = """name = "bench"
[load]
start_rate = 1000
[[load.stages]]
duration = "10m"
target = 1000
[users]
count = 1000000
skew = 1.1
[[scenarios]]
{scenario}
events = ["$pageview", "signed_up", "checkout_started"]
{properties}
"""


def measure(scenarios: ScenarioSet, count: int) -> float:
    start = time.perf_counter()
    for n in range(1, count + 1):
        scenarios.build(0, n)
    return (time.perf_counter() - start) / count * 1e6


def main() -> None:
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    print("command: .venv/bin/python scripts/bench_scenarios.py (3 runs each, median)")
    print(f"{'case':<26} {'µs/request':>11} {'µs/event':>9} {'requests/s':>11} {'bytes':>7}")
    credentials = {
        api: {k: LOCAL_CREDENTIALS[k] for k in keys}
        for api, keys in (
            ("posthog", ("token",)),
            ("customerio", ("site_id", "api_key")),
            ("segment", ("write_key",)),
        )
    }
    with tempfile.TemporaryDirectory() as tmp:
        for label, scenario in CASES:
            path = Path(tmp) / "bench.toml"
            path.write_text(PROFILE.format(scenario=scenario, properties=PROPERTIES))
            profile = load_profile(path)
            scenarios = ScenarioSet(Plan.build(profile, BUILTIN_LOCAL), credentials, seed=1)
            events = profile.scenarios[0].batch_size
            count = 20_000 // events
            measure(scenarios, count // 10)  # warm up the journeys and caches
            us = statistics.median(measure(scenarios, count) for _ in range(3))
            size = len(scenarios.build(0, count + 1).request.body)
            print(f"{label:<26} {us:>11.1f} {us / events:>9.2f} {1e6 / us:>11,.0f} {size:>7}")
            scenarios.close()


if __name__ == "__main__":
    main()

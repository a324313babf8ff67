"""Build profile TOML text for tests, with a valid default and targeted overrides."""

from __future__ import annotations

from pathlib import Path

BASE = """\
name = "t"
description = "test profile"
apps_enabled = false

[load]
model = "arrival-rate"
start_rate = {start_rate}
max_in_flight = 50

{stages}
[users]
count = 100
skew = 1.0

[[scenarios]]
name = "track"
api = "posthog"
kind = "track"
weight = 1
"""


def profile_text(start_rate: float = 1, stages: list[tuple[str, float]] | None = None) -> str:
    stages = stages if stages is not None else [("10s", 50)]
    blocks = "".join(f'[[load.stages]]\nduration = "{d}"\ntarget = {t}\n\n' for d, t in stages)
    return BASE.format(start_rate=start_rate, stages=blocks)


def write(tmp: Path, text: str, name: str = "p.toml") -> Path:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path

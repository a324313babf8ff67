"""The options that make one worker's slice of a fleet's run: `--segment` (which slice)
and `--start-at` (the fleet's agreed wall-clock start), read as usage errors (exit 2)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from loadgen.arrivals.plan import Plan
from loadgen.arrivals.schedule import ExecutionSegment, ExecutionSegmentError
from loadgen.cli.arguments import fail
from loadgen.errors import ExitCode
from loadgen.inputs.moment import StartAtError, parse_start_at

SegmentOpt = Annotated[
    str,
    typer.Option(help="Run only this slice of the schedule: i/n (the i-th of n, e.g. 2/4) or a:b."),
]
StartAtOpt = Annotated[
    str | None,
    typer.Option(
        "--start-at",
        help="Agreed wall-clock start of offset 0 (RFC 3339 with Z or an offset, or epoch "
        "seconds), within 24 h: wait for it, or skip (count as dropped) what is past.",
        show_default=False,
    ),
]


def read_segment(text: str) -> ExecutionSegment:
    try:
        return ExecutionSegment.parse(text)
    except ExecutionSegmentError as exc:
        fail(f"usage: --segment: {exc}", ExitCode.USAGE)


def read_start_at(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_start_at(text, datetime.now(UTC))
    except StartAtError as exc:
        fail(f"usage: --start-at: {exc}", ExitCode.USAGE)


def slice_facts(plan: Plan, segment: ExecutionSegment, text: str) -> dict[str, Any]:
    """What the slice runs of the whole plan (for `plan --json`)."""
    schedule = plan.schedule
    return {
        "segment": text,
        "segment_start": str(segment.start),
        "segment_end": str(segment.end),
        "segment_requests": schedule.requests_in(segment),
        "total_requests": schedule.total_requests,
    }


def slice_text(plan: Plan, segment: ExecutionSegment, text: str) -> str:
    """One line for the plan's text: the slice's share of the requests and of the rate."""
    facts = slice_facts(plan, segment, text)
    share = float(segment.end - segment.start)
    return (
        f"Segment {text} ({segment.start} to {segment.end} of the schedule): "
        f"{facts['segment_requests']:,} of {facts['total_requests']:,} requests, "
        f"peak about {plan.schedule.peak_rate * share:,.1f} req/s of this worker"
    )

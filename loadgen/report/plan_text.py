"""The text of a plan (`loadgen plan`, `--dry-run`) and the terminal chart of its ramp,
which the brief shows too."""

from __future__ import annotations

from loadgen.arrivals.plan import Plan
from loadgen.arrivals.schedule import Schedule
from loadgen.durations import format_duration

_BLOCKS = " ▁▂▃▄▅▆▇█"


def render_chart(schedule: Schedule, width: int = 64, height: int = 8) -> list[str]:
    """Rate over time as block characters; each column shows the highest rate in its span."""
    duration, peak = schedule.duration_s, schedule.peak_rate
    if duration <= 0 or peak <= 0:
        return ["(no load)"]
    columns = []
    for c in range(width):
        lo, hi = duration * c / width, duration * (c + 1) / width
        samples = [schedule.rate_at(lo + (hi - lo) * k / 4) for k in range(4)]
        samples += [schedule.rate_at(hi - 1e-9)]
        columns.append(max(samples) / peak * height)
    label_width = len(f"{peak:g}")
    lines = []
    for row in range(height, 0, -1):
        cells = "".join(_BLOCKS[max(0, min(8, round((v - (row - 1)) * 8)))] for v in columns)
        label = f"{peak:g}" if row == height else ("0" if row == 1 else "")
        lines.append(f"{label:>{label_width}} ┤{cells}")
    axis = f"{'':>{label_width}} └{'─' * width}"
    end = format_duration(duration)
    lines += [
        axis,
        f"{'':>{label_width}}  0s{end:>{width - 2}}",
        f"{'':>{label_width}}  requests/s over time",
    ]
    return lines


def render_plan(plan: Plan) -> str:
    d = plan.to_dict()
    out = [
        f"Plan for {d['profile']['name']} -> target {d['target']['name']} ({d['target']['url']})"
    ]
    if d["profile"]["description"]:
        out.append(f"  {d['profile']['description']}")
    out.append("")
    out.append("  stage  from        to          duration   rate (req/s)       requests")
    for st in d["stages"]:
        out.append(
            f"  {st['index'] + 1:>5}  {format_duration(st['start_s']):<10}  "
            f"{format_duration(st['end_s']):<10}  {format_duration(st['duration_s']):<9}  "
            f"{st['start_rps']:>7g} -> {st['end_rps']:<7g}  {st['requests']:>9,.0f}"
        )
    out += [
        "",
        f"  peak rate       {d['peak_rps']:g} requests/s ({d['peak_events_per_s']:g} events/s)",
        f"  total duration  {format_duration(d['duration_s'])}",
        f"  total requests  {d['total_requests']:,}",
        f"  total events    {d['total_events']:,}",
        f"  max in flight   {d['max_in_flight']:,}",
        "",
        "  scenario mix",
    ]
    for row in d["scenarios"]:
        out.append(
            f"    {row['name']:<20} {row['api']}/{row['kind']:<9} {row['share'] * 100:5.1f} %  "
            f"batch {row['batch_size']:<5} ~{row['requests']:,} requests, ~{row['events']:,} events"
        )
    out.append("")
    out += ["  " + line for line in render_chart(plan.schedule)]
    return "\n".join(out)

"""Progress while a run is going: a rich live panel on a terminal, a plain line every 5 s
otherwise (CI logs), nothing with --quiet. It only reads metric snapshots.

"achieved" and "planned" are counted over the same completed second: the last whole second
of the run so far (never past the schedule's end), the sends recorded in it against the
arrivals planned in it (as the metrics bucket them, by planned offset). Comparing the sends
of the last second with the planned rate at this instant made every ramp look a second
behind, and the last frame (rate 0 at the end) look ahead.
"""

from __future__ import annotations

import asyncio
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TextIO

from loadgen.metrics import LiveSnapshot

if TYPE_CHECKING:
    from rich.table import Table

DisplayMode = Literal["rich", "plain", "quiet"]
PLAIN_INTERVAL_S = 5.0
RICH_INTERVAL_S = 0.5


def choose_mode(quiet: bool, stream: TextIO = sys.stderr) -> DisplayMode:
    if quiet:
        return "quiet"
    return "rich" if stream.isatty() else "plain"


@dataclass(frozen=True, slots=True)
class RateWindow:
    """Starts planned and achieved in the same completed second [second, second + 1)."""

    second: int | None  # None before the first second has completed
    planned: int
    achieved: int

    def text(self) -> tuple[str, str]:
        """(achieved, planned) as req/s, "-" before the first complete second."""
        if self.second is None:
            return "-", "-"
        return f"{self.achieved:,.1f}", f"{self.planned:,.1f}"


def last_complete_second(elapsed: float, total_s: float) -> int | None:
    """The last whole second of the run by `elapsed`, never one past the schedule's end."""
    second = min(math.floor(elapsed), math.ceil(total_s)) - 1
    return second if second >= 0 else None


def rate_window(
    elapsed: float, total_s: float, snapshot: Callable[[float], LiveSnapshot]
) -> tuple[RateWindow, LiveSnapshot]:
    """The snapshot as of `elapsed` and the rates of its last complete second. Both come
    from the metrics, bucketed alike: arrivals by planned offset, sends by send time."""
    second = last_complete_second(elapsed, total_s)
    if second is None:
        return RateWindow(None, 0, 0), snapshot(elapsed)
    snap = snapshot(second + 1.0)  # its rates are those of `second`
    return RateWindow(second, round(snap.planned_rps), round(snap.achieved_rps)), snap


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def plain_line(elapsed: float, total: float, rates: RateWindow, snap: LiveSnapshot) -> str:
    s = snap.status
    achieved, planned = rates.text()
    return (
        f"[{elapsed:6.1f}s/{total:.0f}s] rate {achieved}/{planned} req/s "
        f"in_flight {snap.in_flight} sent {snap.started} done {snap.completed} "
        f"p50/p95/p99 {_ms(snap.p50_ms)}/{_ms(snap.p95_ms)}/{_ms(snap.p99_ms)} ms "
        f"2xx {s.get('2xx', 0)} 4xx {s.get('4xx', 0)} 429 {s.get('429', 0)} "
        f"5xx {s.get('5xx', 0)} errors {snap.transport_errors} dropped {snap.dropped}"
    )


def rich_table(
    title: str, elapsed: float, total: float, rates: RateWindow, snap: LiveSnapshot
) -> Table:
    # rich (~15-35 ms to import) only when the panel is drawn: a `--quiet` or piped run, the
    # benchmarks' and CI's, never loads it.
    from rich.progress_bar import ProgressBar
    from rich.table import Table

    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    done = min(elapsed, total)
    table.add_row(title, f"{done:.1f}s / {total:.0f}s")
    table.add_row("", ProgressBar(total=max(total, 1e-9), completed=done, width=50))
    achieved, planned = rates.text()
    table.add_row("rate", f"{achieved} achieved / {planned} planned req/s (last full second)")
    table.add_row(
        "in flight", f"{snap.in_flight:,}   sent {snap.started:,}   done {snap.completed:,}"
    )
    table.add_row(
        "latency", f"p50 {_ms(snap.p50_ms)}  p95 {_ms(snap.p95_ms)}  p99 {_ms(snap.p99_ms)} ms"
    )
    s = snap.status
    table.add_row(
        "status",
        f"[green]2xx {s.get('2xx', 0):,}[/]  4xx {s.get('4xx', 0):,}  "
        f"[yellow]429 {s.get('429', 0):,}[/]  [red]5xx {s.get('5xx', 0):,}[/]  "
        f"[red]transport errors {snap.transport_errors:,}[/]",
    )
    table.add_row("dropped", f"{snap.dropped:,}")
    return table


async def show_progress(
    mode: DisplayMode,
    title: str,
    total_s: float,
    elapsed: Callable[[], float],
    snapshot: Callable[[float], LiveSnapshot],
    stream: TextIO = sys.stderr,
) -> None:
    """Refresh until cancelled; the caller cancels it when the run ends. `snapshot` gives
    the metrics as of a time (`RunMetrics.snapshot`)."""
    if mode == "quiet":
        return
    if mode == "plain":
        while True:
            await asyncio.sleep(PLAIN_INTERVAL_S)
            t = elapsed()
            rates, snap = rate_window(t, total_s, snapshot)
            print(plain_line(t, total_s, rates, snap), file=stream, flush=True)

    def frame() -> Table:
        t = elapsed()
        rates, snap = rate_window(t, total_s, snapshot)
        return rich_table(title, t, total_s, rates, snap)

    from rich.console import Console  # on use: see rich_table
    from rich.live import Live

    console = Console(file=stream)
    with Live(console=console, auto_refresh=False, transient=False) as live:
        try:
            while True:
                live.update(frame(), refresh=True)
                await asyncio.sleep(RICH_INTERVAL_S)
        finally:
            live.update(frame(), refresh=True)


def wall_elapsed(start: float) -> Callable[[], float]:
    return lambda: time.perf_counter() - start

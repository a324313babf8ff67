"""Progress while a run is going: a rich live panel on a terminal, a plain line every 5 s
otherwise (CI logs), nothing with --quiet. It only reads metric snapshots."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from typing import Literal, TextIO

from rich.console import Console
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table

from loadgen.metrics import LiveSnapshot

DisplayMode = Literal["rich", "plain", "quiet"]
PLAIN_INTERVAL_S = 5.0
RICH_INTERVAL_S = 0.5


def choose_mode(quiet: bool, stream: TextIO = sys.stderr) -> DisplayMode:
    if quiet:
        return "quiet"
    return "rich" if stream.isatty() else "plain"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def plain_line(elapsed: float, total: float, planned_rps: float, snap: LiveSnapshot) -> str:
    s = snap.status
    return (
        f"[{elapsed:6.1f}s/{total:.0f}s] rate {snap.achieved_rps:.1f}/{planned_rps:.1f} req/s "
        f"in_flight {snap.in_flight} sent {snap.started} done {snap.completed} "
        f"p50/p95/p99 {_ms(snap.p50_ms)}/{_ms(snap.p95_ms)}/{_ms(snap.p99_ms)} ms "
        f"2xx {s.get('2xx', 0)} 4xx {s.get('4xx', 0)} 429 {s.get('429', 0)} "
        f"5xx {s.get('5xx', 0)} errors {snap.transport_errors} dropped {snap.dropped}"
    )


def rich_table(
    title: str, elapsed: float, total: float, planned_rps: float, snap: LiveSnapshot
) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    done = min(elapsed, total)
    table.add_row(title, f"{done:.1f}s / {total:.0f}s")
    table.add_row("", ProgressBar(total=max(total, 1e-9), completed=done, width=50))
    table.add_row("rate", f"{snap.achieved_rps:,.1f} achieved / {planned_rps:,.1f} planned req/s")
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
    planned_rate: Callable[[float], float],
    snapshot: Callable[[], LiveSnapshot],
    stream: TextIO = sys.stderr,
) -> None:
    """Refresh until cancelled; the caller cancels it when the run ends."""
    if mode == "quiet":
        return
    if mode == "plain":
        while True:
            await asyncio.sleep(PLAIN_INTERVAL_S)
            t = elapsed()
            print(plain_line(t, total_s, planned_rate(t), snapshot()), file=stream, flush=True)
    console = Console(file=stream)
    with Live(console=console, auto_refresh=False, transient=False) as live:
        try:
            while True:
                t = elapsed()
                live.update(
                    rich_table(title, t, total_s, planned_rate(t), snapshot()), refresh=True
                )
                await asyncio.sleep(RICH_INTERVAL_S)
        finally:
            t = elapsed()
            live.update(rich_table(title, t, total_s, planned_rate(t), snapshot()), refresh=True)


def wall_elapsed(start: float) -> Callable[[], float]:
    return lambda: time.perf_counter() - start

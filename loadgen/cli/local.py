"""The commands that need no target: `serve` the embedded mock, `init` a starter project,
print the `version`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from loadgen import __version__
from loadgen.cli.arguments import errors_to_exit_codes, fail
from loadgen.errors import ExitCode

HostOpt = Annotated[str, typer.Option(help="Address to listen on (loopback by default).")]
PortOpt = Annotated[int, typer.Option(help="Port; 0 picks a free one.")]
RpsLimitOpt = Annotated[float, typer.Option(help="Requests/s per workspace before 429s; 0 = off.")]
LatencyOpt = Annotated[
    str | None,
    typer.Option(
        help="Added latency: fixed:5ms, uniform:1ms-10ms, normal:20ms,5ms, "
        "lognormal:10ms,100ms, exponential:10ms."
    ),
]
ErrorRateOpt = Annotated[float, typer.Option(help="Probability of answering 503.")]
StallOpt = Annotated[
    str | None,
    typer.Option(help="EVERY:FOR, e.g. 10s:2s: hold every request for 2 s every 10 s."),
]
ResetRateOpt = Annotated[
    float, typer.Option(help="Probability of resetting the connection instead of answering.")
]
AcceptKeyOpt = Annotated[
    list[str] | None,
    typer.Option(help="Accept only these tokens / site_id:api_key / write keys (repeatable)."),
]
MockSeedOpt = Annotated[
    int | None, typer.Option(help="Seed for the fault injection, for reproducible runs.")
]


def serve(
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8000,
    rps_limit: RpsLimitOpt = 100.0,
    latency: LatencyOpt = None,
    error_rate: ErrorRateOpt = 0.0,
    stall: StallOpt = None,
    reset_rate: ResetRateOpt = 0.0,
    accept_key: AcceptKeyOpt = None,
    seed: MockSeedOpt = None,
) -> None:
    """Run the embedded mock ingestion API (PostHog, Customer.io, Segment) until Ctrl-C."""
    from loadgen.mock import config as mc
    from loadgen.mock.runner import run as run_mock

    try:
        config = mc.MockConfig(
            host=mc.parse_host(host),
            port=mc.parse_port(port),
            rps_limit=mc.parse_rps_limit(rps_limit),
            latency=mc.parse_latency(latency) if latency else None,
            error_rate=mc.parse_error_rate(error_rate),
            stall=mc.parse_stall(stall) if stall else None,
            reset_rate=mc.parse_reset_rate(reset_rate),
            accepted_keys=mc.parse_accepted_keys(accept_key or []),
            seed=mc.parse_seed(seed) if seed is not None else None,
        )
    except ValueError as exc:
        fail(f"usage: {exc}", ExitCode.USAGE)

    def ready(url: str) -> None:
        typer.echo(
            f"loadgen mock ingestion API listening on {url} (stats: {url}/_loadgen/stats)", err=True
        )

    try:
        run_mock(config, ready=ready)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", ExitCode.USAGE)


@errors_to_exit_codes
def init(
    api: Annotated[str, typer.Option(help="posthog | customerio | segment")] = "posthog",
    directory: Annotated[
        Path, typer.Option("--dir", help="Where to write the files.", file_okay=False)
    ] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
) -> None:
    """Write a starter profile and a targets.toml (staging, production) for one API."""
    from loadgen.inputs.starter import PROFILE_FILE, write_starter

    written = write_starter(api, directory, force=force)
    for path in written:
        typer.echo(f"wrote {path}", err=True)
    profile = directory / PROFILE_FILE
    typer.echo(f"next: loadgen plan {profile}; loadgen run {profile}", err=True)


def version() -> None:
    """Print loadgen's version."""
    typer.echo(__version__)

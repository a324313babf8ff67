"""`loadgen init`: a starter profile and a `targets.toml` for one API, like `k6 new`.

The profile is small on purpose: it lints clean against the built-in `local` target and
stays far under every default guard limit (peak 20 req/s, a 60 s ramp), so the first
`loadgen run` works before the user has changed anything. The targets file holds only
comments: `local` keeps working, and the `staging` / `production` entries show every key
the user must fill in for the chosen API.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from loadgen.errors import UsageError
from loadgen.inputs.targets_file import TARGETS_FILE

StarterApi = Literal["posthog", "customerio", "segment"]
APIS: tuple[StarterApi, ...] = ("posthog", "customerio", "segment")
PROFILE_FILE = "loadtest.toml"


@dataclass(frozen=True, slots=True)
class ApiText:
    """What differs between the APIs in the starter files."""

    url: str
    credentials: str
    track_properties: str
    identify_properties: str
    events: str


_API_TEXT: dict[StarterApi, ApiText] = {
    "posthog": ApiText(
        url="https://eu.i.posthog.com",
        credentials='{ token = "POSTHOG_TOKEN" }',
        track_properties='{ "$current_url" = "https://example.com/{{choice:pricing,docs}}" }',
        identify_properties='{ plan = "{{choice:free,pro}}" }',
        events='["$pageview", "signed_up"]',
    ),
    "customerio": ApiText(
        url="https://track-eu.customer.io",
        credentials='{ site_id = "CIO_SITE_ID", api_key = "CIO_API_KEY" }',
        track_properties='{ price = "{{float:1..300}}" }',
        identify_properties='{ email = "{{user}}@example.com", created_at = "{{timestamp}}" }',
        events='["viewed_product", "purchase"]',
    ),
    "segment": ApiText(
        url="https://events.eu1.segmentapis.com",
        credentials='{ write_key = "SEGMENT_WRITE_KEY" }',
        track_properties='{ plan = "{{choice:free,pro}}", amount = "{{float:1..500}}" }',
        identify_properties='{ email = "{{user}}@example.com" }',
        events='["Page Viewed", "Signed Up"]',
    ),
}

_PROFILE = """\
# A starter load test written by `loadgen init --api {api}`. Try it against the embedded
# mock first: `loadgen plan {profile}`, then `loadgen run {profile}`.
# Every key is described in loadgen's README ("Profiles"); the guard's rules in docs/guard.md.
name = "loadtest"                 # letters, digits, . _ - (it names the results file)
description = "starter {api} ramp: 1 -> 20 req/s in 30 s, hold 1 min, down in 30 s"
apps_enabled = false              # the pipeline team asks; required for production targets

# Before a run on staging or production, tell the pipeline team when load arrives: a
# weekday, inside 08:00-17:00 Europe/Berlin, in the future (lint warns otherwise).
# [schedule]
# start = 2026-12-01T10:00:00+01:00

[load]
model = "arrival-rate"            # open model: rates are requests/s
start_rate = 1                    # at most 10 % of the peak, or the guard calls it a spike
max_in_flight = 100               # an arrival that finds no room is dropped and counted
timeout = "10s"                   # per request

[[load.stages]]                   # ramp linearly to `target` over `duration`
duration = "30s"                  # no steeper than 10 req/s per second
target = 20

[[load.stages]]
duration = "1m"
target = 20

[[load.stages]]
duration = "30s"
target = 0

[users]
count = 1000                      # distinct ids
skew = 1.0                        # Zipf exponent, 0 = uniform
id_prefix = "loadtest-user-"

[[scenarios]]
name = "track"
api = "{api}"
kind = "track"
weight = 95                       # share of requests, relative to the other scenarios
events = {events}
properties = {track_properties}

[[scenarios]]
name = "identify"
api = "{api}"
kind = "identify"                 # identify + alias stay under 10 % of requests
weight = 5
properties = {identify_properties}

[thresholds]                      # k6 syntax
http_req_duration = ["p(95)<300"]
http_req_failed = ["rate<0.01"]
"""

_TARGETS = """\
# Targets for `loadgen run --target NAME`, written by `loadgen init --api {api}`.
# The built-in target `local` (the embedded mock, the default) needs no entry here.
# Uncomment and edit an entry below to load a real workspace. Credentials are the NAMES
# of environment variables, never their values.
[targets]

# [targets.staging]
# url = "https://{api}.staging.example.com"   # your staging ingestion endpoint
# api = "{api}"
# environment = "staging"
# workspace_rps_limit = 100     # the guard refuses peaks above it without an approval
# credentials = {credentials}

# Every run against production needs an approval signed by the pipeline team
# (`loadgen approve sign`), with their public key in trusted_keys.
# [targets.production]
# url = "{url}"   # or your own region / proxy
# api = "{api}"
# environment = "production"
# workspace_rps_limit = 100
# trusted_keys = []             # the pipeline team's Ed25519 public keys
# credentials = {credentials}
"""


def starter_files(api: StarterApi) -> dict[str, str]:
    """The text of each file `loadgen init --api API` writes, by file name."""
    text = _API_TEXT[api]
    fields = {
        "api": api,
        "profile": PROFILE_FILE,
        "url": text.url,
        "credentials": text.credentials,
        "events": text.events,
        "track_properties": text.track_properties,
        "identify_properties": text.identify_properties,
    }
    return {
        PROFILE_FILE: _PROFILE.format(**fields),
        TARGETS_FILE: _TARGETS.format(**fields),
    }


def write_starter(api: str, directory: Path, *, force: bool) -> list[Path]:
    """Write the starter files into `directory` (created if missing); returns their paths.

    Refuses (UsageError, nothing written) when a file exists, unless `force`.
    """
    chosen = next((known for known in APIS if known == api), None)
    if chosen is None:
        raise UsageError(f"--api {api!r} is not known: use one of {', '.join(APIS)}")
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"--dir {directory} is not a directory")
    files = starter_files(chosen)
    paths = [directory / name for name in files]
    existing = [p for p in paths if p.exists() or p.is_symlink()]
    if existing and not force:
        names = ", ".join(str(p) for p in existing)
        raise UsageError(f"{names} already exist(s); pass --force to overwrite")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for path, text in zip(paths, files.values(), strict=True):
            path.unlink(missing_ok=True)  # --force replaces a symlink, never writes through it
            path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write into {directory}: {exc.strerror or exc}") from exc
    return paths

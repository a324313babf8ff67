"""The reconciliation: printed, and written as a versioned JSON artifact.

The artifact's shape is `schema/import-result-v1.schema.json`; it is validated before it
is written, so a file that exists is a file that matches. Its core is the identity every
import must keep: read = accepted + dead_lettered + skipped (`balanced`), over every
session of the import (a resumed one adds to the earlier ones).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
from hdrh.histogram import HdrHistogram

from loadgen.importer.checkpoint import Counts
from loadgen.metrics.hdr import encode, stats_ms

SCHEMA_RESOURCE = "import-result-v1.schema.json"


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def build(
    facts: dict[str, Any], counts: Counts, latency: HdrHistogram, status: str, reason: str | None
) -> dict[str, Any]:
    """The artifact from the import's `facts` (file, target, ...) and its totals."""
    return {
        "schema": "loadgen-import-result",
        "schema_version": 1,
        "status": status,
        "status_reason": reason,
        **facts,
        "ended_at": iso(datetime.now(UTC).timestamp()),
        "records": {
            "read": counts.read,
            "accepted": counts.accepted,
            "dead_lettered": counts.dead_lettered,
            "skipped": counts.skipped,
        },
        "requests": counts.requests,
        "retries": counts.retries,
        "rate_limited": counts.rate_limited,
        "transport_errors": counts.transport_errors,
        "sessions": counts.sessions,
        "latency_ms": stats_ms(latency),
        "latency_hdr": encode(latency),
        "balanced": counts.balanced,
    }


def validate(doc: dict[str, Any]) -> None:
    import jsonschema  # only once an import has ended (never on a CLI's start-up)

    text = resources.files("loadgen.importer.schema").joinpath(SCHEMA_RESOURCE).read_text("utf-8")
    jsonschema.validate(doc, orjson.loads(text))


def write(doc: dict[str, Any], path: Path) -> None:
    validate(doc)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    os.replace(temp, path)


def render(doc: dict[str, Any], path: Path) -> str:
    r, lat = doc["records"], doc["latency_ms"]
    p50, p99 = lat.get("p50"), lat.get("p99")
    latency = f"p50 {p50} ms, p99 {p99} ms" if p50 is not None else "no answers"
    return "\n".join(
        [
            f"import {doc['status']}: {doc['file']} -> {doc['target']} ({doc['api']})",
            f"  read {r['read']:,} = accepted {r['accepted']:,} + dead-lettered "
            f"{r['dead_lettered']:,} + skipped {r['skipped']:,}"
            f"{'' if doc['balanced'] else '  (UNBALANCED)'}",
            f"  requests {doc['requests']:,}, retries {doc['retries']:,}, 429s "
            f"{doc['rate_limited']:,}, transport errors {doc['transport_errors']:,}, "
            f"sessions {doc['sessions']}",
            f"  latency {latency}; rate cap {doc['rate_cap']:g} req/s",
            f"  dead letters: {doc['dead_letter_file']}; checkpoint: {doc['checkpoint_file']}",
            f"  reconciliation: {path}",
        ]
    )


__all__ = ["build", "iso", "render", "validate", "write"]

"""One batch to the server until it reaches a final state, and the dead-letter file.

Transport: httpx.AsyncClient rather than loadgen's fast transport. An import is paced at a
few hundred requests per second at most (the workspace limit), so raw throughput does not
matter, while httpx runs on anyio (the task group and capacity limiter the import uses),
answers with the status, headers and body a retry or a dead-letter entry needs, and does
TLS with the target's `verify_tls`. Its base URL is the target's: no other host is ever
called.

Answers:
  - 2xx: the batch is accepted.
  - 429, 5xx, a transport error: retried after Retry-After if given, else a capped
    exponential backoff with full jitter; each retry goes through the pacer again. After
    `max_retries` the records are dead-lettered with the last answer.
  - 401, 403: the credentials are refused: the import stops (`CredentialsRefused`);
    dead-lettering every record of a good file for a bad key would be wrong.
  - other 4xx: a batch of several records is split in halves and each sent again, until
    the record the API rejects is alone; that one is dead-lettered with the answer.
A stop (Ctrl-C, SIGTERM) interrupts a retry's wait: that batch stays unacknowledged and is
sent again by `--resume`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import IO, Any

import anyio
import httpx
import orjson

from loadgen.errors import SafetyStop
from loadgen.importer.batches import Item
from loadgen.importer.checkpoint import Counts
from loadgen.importer.mapping import ImportMapping
from loadgen.importer.pacing import Pacer
from loadgen.metrics.hdr import new_histogram
from loadgen.transport.retry_after import parse_retry_after

MAX_ANSWER_CHARS = 2000  # of a server's answer kept in a dead-letter entry
_REFUSED = (401, 403)
_PARTIAL = 207  # Customer.io v2 batch: some entities refused, listed by batch_index


class CredentialsRefused(SafetyStop):
    """The server refused the target's credentials: stop before anything else is sent."""


class Outcome(Enum):
    ACKNOWLEDGED = "acknowledged"  # accepted or dead-lettered: a final state
    ABANDONED = "abandoned"  # stopped while waiting to retry: resent by --resume


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 8
    base_s: float = 0.5
    cap_s: float = 30.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2^attempt)]."""
        return rng.uniform(0, min(self.cap_s, self.base_s * 2**attempt))


class DeadLetters:
    """The dead-letter file: one JSON line per record, appended and flushed at once."""

    def __init__(self, path: Path, source: str) -> None:
        self.path, self._source = path, source
        self._out: IO[bytes] = open(path, "ab")  # noqa: SIM115 - closed by close()
        if self._out.tell() and not _ends_with_newline(path):
            self._out.write(b"\n")  # a kill -9 cut the last entry: start on a line of our own

    def write(self, item_line: int, record: object, reason: str, answer: str | None) -> None:
        entry = {
            "file": self._source,
            "line": item_line,
            "where": f"{self._source}:{item_line}",
            "reason": reason,
            "answer": answer[:MAX_ANSWER_CHARS] if answer is not None else None,
            "record": record,
        }
        self._out.write(orjson.dumps(entry) + b"\n")
        self._out.flush()

    def close(self) -> None:
        self._out.close()


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as stream:
        stream.seek(-1, 2)
        return stream.read(1) == b"\n"


def dead_lettered_lines(path: Path) -> set[int]:
    """Lines already in a dead-letter file (a resumed import does not write them twice)."""
    lines: set[int] = set()
    if not path.exists():
        return lines
    with open(path, "rb") as stream:
        for raw in stream:
            try:
                entry = orjson.loads(raw)
            except orjson.JSONDecodeError:  # the last line of a kill -9, half written
                continue
            if isinstance(entry, dict) and isinstance(entry.get("line"), int):
                lines.add(entry["line"])
    return lines


class Sender:
    """Delivers batches; counts into `counts` and the latency histogram."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        mapping: ImportMapping,
        pacer: Pacer,
        dead: DeadLetters,
        counts: Counts,
        stopping: Callable[[], bool],
        policy: RetryPolicy | None = None,
    ) -> None:
        self._client, self._mapping, self._pacer, self._dead = client, mapping, pacer, dead
        self.counts, self._stopping = counts, stopping
        self._policy = policy or RetryPolicy()
        self._rng = random.Random()
        self.latency = new_histogram()
        self.stop_requested = anyio.Event()

    async def deliver(self, items: list[Item]) -> Outcome:
        """Send `items` as one request until each is accepted or dead-lettered."""
        request = self._mapping.request(items, time.time())
        attempt = 0
        while True:
            status, answer, retry_after = await self._send_once(request)
            if status == _PARTIAL:
                return self._partial(items, answer)
            if status is not None and 200 <= status < 300:
                self.counts.accepted += len(items)
                return Outcome.ACKNOWLEDGED
            if status in _REFUSED:
                raise CredentialsRefused(
                    f"the server answered {status} to the target's credentials: {answer[:200]}"
                )
            if status is not None and status < 500 and status != 429:
                return await self._rejected(items, status, answer)
            if attempt >= self._policy.max_retries:
                why = f"gave up after {attempt} retries (last: {status or 'transport error'})"
                self._dead_letter(items, why, answer)
                return Outcome.ACKNOWLEDGED
            wait = retry_after if retry_after is not None else None
            wait = self._policy.backoff(attempt, self._rng) if wait is None else wait
            attempt += 1
            self.counts.retries += 1
            if await self._stopped_during(min(wait, self._policy.cap_s)):
                return Outcome.ABANDONED

    async def _send_once(self, request: Any) -> tuple[int | None, str, float | None]:
        await self._pacer.acquire()
        self.counts.requests += 1
        began = time.perf_counter()
        try:
            response = await self._client.request(
                request.method, request.path, content=request.body, headers=request.headers
            )
        except httpx.HTTPError as exc:  # connection refused, reset, timeout
            self.counts.transport_errors += 1
            return None, f"{type(exc).__name__}: {exc}", None
        self.latency.record_value(max(1, int((time.perf_counter() - began) * 1e6)))
        if response.status_code == 429:
            self.counts.rate_limited += 1
        header = response.headers.get("retry-after")
        retry_after = parse_retry_after(header) if header else None
        return response.status_code, response.text, retry_after

    async def _rejected(self, items: list[Item], status: int, answer: str) -> Outcome:
        if len(items) == 1:
            self._dead_letter(items, f"rejected by the server ({status})", answer)
            return Outcome.ACKNOWLEDGED
        half = len(items) // 2
        for part in (items[:half], items[half:]):  # in order: the first half first
            if await self.deliver(part) is Outcome.ABANDONED:
                return Outcome.ABANDONED
        return Outcome.ACKNOWLEDGED

    def _partial(self, items: list[Item], answer: str) -> Outcome:
        """A 207: the entities the server lists are dead-lettered with their error, the
        others are accepted (an unreadable answer: all of them are taken as accepted,
        as the status says the batch was processed)."""
        refused = _refused_indexes(answer)
        for index in sorted(i for i in refused if 0 <= i < len(items)):
            self._dead_letter([items[index]], "rejected inside the batch (207)", refused[index])
        bad = sum(1 for i in refused if 0 <= i < len(items))
        self.counts.accepted += len(items) - bad
        return Outcome.ACKNOWLEDGED

    def _dead_letter(self, items: list[Item], reason: str, answer: str | None) -> None:
        for item in items:
            self._dead.write(item.line, item.body, reason, answer)
        self.counts.dead_lettered += len(items)

    async def _stopped_during(self, seconds: float) -> bool:
        with anyio.move_on_after(seconds):
            await self.stop_requested.wait()
        return self._stopping()


def _refused_indexes(answer: str) -> dict[int, str]:
    """{batch_index: that entity's error as JSON} from a Customer.io 207 answer."""
    try:
        errors = orjson.loads(answer).get("errors", [])
    except (orjson.JSONDecodeError, AttributeError):
        return {}
    found: dict[int, str] = {}
    for error in errors if isinstance(errors, list) else []:
        if isinstance(error, dict) and isinstance(error.get("batch_index"), int):
            found[error["batch_index"]] = orjson.dumps(error).decode()
    return found


__all__ = [
    "CredentialsRefused",
    "DeadLetters",
    "Outcome",
    "RetryPolicy",
    "Sender",
    "dead_lettered_lines",
]

"""`ThreadedMock`: the mock served from a background thread of this process, for tests.

Cheaper to start than `LocalMock` (no interpreter start-up) and blocking-socket tests can
talk to it directly. Runs on uvloop like the real thing; no signal handling (not the main
thread), so it stops when the context exits.
"""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType
from typing import Any

import uvloop

from loadgen.mock.config import MockConfig
from loadgen.mock.process import admin_request
from loadgen.mock.runner import serve


class ThreadedMock:
    """Context manager serving `config` on a uvloop in a daemon thread; exposes `.url`."""

    def __init__(self, config: MockConfig | None = None, start_timeout: float = 10.0) -> None:
        self.config = config or MockConfig()
        self.url = ""
        self._timeout = start_timeout
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread = threading.Thread(target=self._main, name="loadgen-mock", daemon=True)
        self._error: BaseException | None = None

    def _main(self) -> None:
        loop = uvloop.new_event_loop()
        self._loop = loop
        try:
            self._task = loop.create_task(serve(self.config, ready=self._on_ready))
            loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        except BaseException as exc:  # surfaced to the test by __enter__
            self._error = exc
            self._ready.set()
        finally:
            loop.close()

    def _on_ready(self, url: str) -> None:
        self.url = url
        self._ready.set()

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def __enter__(self) -> ThreadedMock:
        self._thread.start()
        if not self._ready.wait(self._timeout) or self._error is not None:
            raise RuntimeError(f"the threaded mock did not start: {self._error!r}")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._loop is not None and self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(self._timeout)

    def stats(self) -> dict[str, Any]:
        status, payload = admin_request(self.url, "GET", "/_loadgen/stats")
        if status != 200 or not isinstance(payload, dict):
            raise RuntimeError(f"GET /_loadgen/stats answered {status}")
        return payload

    def reset(self) -> None:
        admin_request(self.url, "POST", "/_loadgen/reset")

    def set_faults(self, **changes: str | float | int | None) -> dict[str, Any]:
        status, payload = admin_request(self.url, "POST", "/_loadgen/faults", changes)
        if status != 200 or not isinstance(payload, dict):
            raise ValueError(f"the mock refused the faults: {payload}")
        return payload

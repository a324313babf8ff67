"""Start and stop the mock: `serve()` (async, until cancelled or SIGTERM/SIGINT) and `run()`."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
from collections.abc import Callable

from loadgen.mock.app import MockApp
from loadgen.mock.config import MockConfig
from loadgen.mock.server import HttpConnection, ServerState
from loadgen.mock.tls import server_context

GRACE_S = 2.0  # how long in-flight (delayed) responses get to finish on shutdown


def _url(config: MockConfig, port: int) -> str:
    scheme = "https" if config.tls_cert else "http"
    host = config.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


async def serve(config: MockConfig, *, ready: Callable[[str], None] | None = None) -> None:
    """Serve the mock until cancelled or sent SIGTERM/SIGINT; call `ready(url)` once listening.

    On a signal it stops listening, lets in-flight responses finish (up to 2 s), closes
    every connection and returns normally.
    """
    loop = asyncio.get_running_loop()
    app = MockApp(config, clock=loop.time)
    state = ServerState(app, config, loop)
    ssl_context = None
    if config.tls_cert is not None and config.tls_key is not None:
        ssl_context = server_context(config.tls_cert, config.tls_key)
    server = await loop.create_server(
        lambda: HttpConnection(state),
        config.host,
        config.port,
        ssl=ssl_context,
        backlog=2048,
        reuse_address=True,
    )
    stop, force = asyncio.Event(), asyncio.Event()
    signals = _install_signal_handlers(loop, lambda: (force if stop.is_set() else stop).set())
    sweeper = loop.create_task(state.sweep())
    try:
        port = server.sockets[0].getsockname()[1]
        if ready is not None:
            ready(_url(config, port))
        await stop.wait()
    finally:
        server.close()
        sweeper.cancel()
        await _drain(state, force)  # a second signal cuts the grace period short
        for sig in signals:
            loop.remove_signal_handler(sig)


def _install_signal_handlers(
    loop: asyncio.AbstractEventLoop, on_signal: Callable[[], object]
) -> list[signal.Signals]:
    if threading.current_thread() is not threading.main_thread() or sys.platform == "win32":
        return []  # only the main thread may own signal handlers; Windows loops have none
    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(RuntimeError):
            loop.add_signal_handler(sig, on_signal)
            installed.append(sig)
    return installed


async def _drain(state: ServerState, force: asyncio.Event) -> None:
    deadline = state.loop.time() + GRACE_S
    while state.loop.time() < deadline and not force.is_set():
        if all(c.idle for c in state.connections):
            break
        await asyncio.sleep(0.02)
    for conn in list(state.connections):
        conn.close()
    await asyncio.sleep(0)  # let the transports run their close callbacks


def run(config: MockConfig, *, ready: Callable[[str], None] | None = None) -> None:
    """Blocking: serve on uvloop (plain asyncio where uvloop is missing) until a signal."""
    try:
        import uvloop
    except ImportError:  # uvloop is not installed on Windows
        asyncio.run(serve(config, ready=ready))
        return
    uvloop.run(serve(config, ready=ready))

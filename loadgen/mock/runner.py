"""Start and stop the mock: `serve()` (async, until cancelled or SIGTERM/SIGINT) and `run()`.

As the child of `LocalMock` (`python -m loadgen.mock`) it also stops when its stdin reaches
end of file, which is how its parent asks it to stop, and what happens when the parent dies
however it dies (the kernel closes the pipe). Its stop signals are held blocked from start-up
until the handlers are in place and again from the end of the drain, so a SIGTERM that
arrives early, or a second one while it exits, still ends in a clean exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable

from loadgen.interrupts import STOP_SIGNALS
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


async def serve(
    config: MockConfig,
    *,
    ready: Callable[[str], None] | None = None,
    stop_on_eof: int | None = None,
    hold_signals: bool = False,
) -> None:
    """Serve the mock until cancelled or sent SIGTERM/SIGINT; call `ready(url)` once listening.

    On a signal (or end of file on the descriptor `stop_on_eof`) it stops listening, lets
    in-flight responses finish (up to 2 s), closes every connection and returns normally.
    `hold_signals` (a process of its own, started with them blocked): unblock the stop
    signals once handled, and block them again before the handlers go, for good.
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

    def on_stop() -> None:
        (force if stop.is_set() else stop).set()

    signals = _listen_for_stop(loop, on_stop, stop_on_eof, hold_signals)
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
        if stop_on_eof is not None:
            loop.remove_reader(stop_on_eof)
        if hold_signals:  # removing a handler restores the default action: death by SIGTERM
            signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        for sig in signals:
            loop.remove_signal_handler(sig)


def _listen_for_stop(
    loop: asyncio.AbstractEventLoop,
    on_stop: Callable[[], None],
    stop_on_eof: int | None,
    hold_signals: bool,
) -> list[signal.Signals]:
    """SIGTERM/SIGINT handlers (then a signal held so far is delivered), and the EOF watch."""
    signals = _install_signal_handlers(loop, on_stop)
    if hold_signals:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    if stop_on_eof is not None:
        loop.add_reader(stop_on_eof, _on_readable, stop_on_eof, on_stop)
    return signals


def _on_readable(fd: int, on_stop: Callable[[], None]) -> None:
    """The parent writes nothing: any wake-up is end of file (or an error), so stop."""
    try:
        data = os.read(fd, 4096)
    except OSError:
        data = b""
    if not data:
        on_stop()


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


def run(
    config: MockConfig,
    *,
    ready: Callable[[str], None] | None = None,
    stop_on_eof: int | None = None,
    hold_signals: bool = False,
) -> None:
    """Blocking: serve on uvloop (plain asyncio where uvloop is missing) until a signal."""
    main = serve(config, ready=ready, stop_on_eof=stop_on_eof, hold_signals=hold_signals)
    try:
        import uvloop
    except ImportError:  # uvloop is not installed on Windows
        asyncio.run(main)
        return
    uvloop.run(main)

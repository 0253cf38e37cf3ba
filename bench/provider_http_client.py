"""Which pooled HTTP client provider should call upstreams with.

Starts the stand-in upstream (``python -m services.provider.standin``, its own process, request
log off) and drives non-streaming OpenAI chat completions at it from this process with each
client in turn, same concurrency, same duration, same run:

* ``aiohttp (provider's session)``: :func:`services.provider.upstream.http.create_session`, the
  client provider uses;
* ``httpx (defaults)``: ``httpx.AsyncClient()`` as most code writes it (pool of 100, 20 kept
  alive);
* ``httpx (tuned pool)``: ``httpx.AsyncClient`` with limits raised to the concurrency and every
  connection kept alive.

It prints requests/s and p50/p99 latency for each, and each one's rate relative to aiohttp's.

    .venv/bin/python -m bench.provider_http_client [--concurrency 64] [--seconds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import orjson

from ops.database import REPO_ROOT
from services.provider.settings import HttpSettings
from services.provider.upstream.http import create_session

BODY = orjson.dumps(
    {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Say something short. [standin:tokens=8]"}],
        "max_tokens": 16,
    }
)
HEADERS = {"Authorization": "Bearer sk-bench-standin-0000", "Content-Type": "application/json"}


@dataclass(frozen=True)
class Result:
    name: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int

    def row(self, baseline: float) -> str:
        return (
            f"{self.name:<32} {self.requests_per_s:>8,.0f} req/s  "
            f"p50 {self.p50_ms:7.2f} ms  p99 {self.p99_ms:7.2f} ms  "
            f"errors {self.errors:<4} x{self.requests_per_s / baseline:4.2f}"
        )


async def _drive(
    name: str,
    send: Callable[[], Awaitable[int]],
    *,
    concurrency: int,
    seconds: float,
) -> Result:
    for _ in range(concurrency):  # open the connections before measuring
        await send()
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                status = await send()
            except Exception:  # noqa: BLE001 - a benchmark counts every failure
                errors += 1
                continue
            if status != 200:
                errors += 1
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return Result(
        name=name,
        requests_per_s=len(latencies) / elapsed,
        p50_ms=statistics.median(latencies) * 1000,
        p99_ms=latencies[int(len(latencies) * 0.99) - 1] * 1000,
        errors=errors,
    )


async def _aiohttp(url: str, *, concurrency: int, seconds: float) -> Result:
    session = create_session(
        HttpSettings(
            max_connections=2000,
            max_connections_per_host=0,
            connect_timeout_s=10,
            response_timeout_s=60,
            stream_idle_timeout_s=60,
            stream_max_duration_s=600,
            keepalive_timeout_s=60,
            max_response_bytes=4 * 1024 * 1024,
        )
    )

    async def send() -> int:
        async with session.post(url, data=BODY, headers=HEADERS) as response:
            orjson.loads(await response.read())
            return response.status

    try:
        return await _drive(
            "aiohttp (provider's session)", send, concurrency=concurrency, seconds=seconds
        )
    finally:
        await session.close()


async def _httpx(url: str, *, concurrency: int, seconds: float, tuned: bool) -> Result:
    limits = (
        httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2)
        if tuned
        else httpx.Limits(max_connections=100, max_keepalive_connections=20)
    )
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def send() -> int:
            response = await client.post(url, content=BODY, headers=HEADERS)
            orjson.loads(response.content)
            return response.status_code

        name = "httpx (tuned pool)" if tuned else "httpx (defaults)"
        return await _drive(name, send, concurrency=concurrency, seconds=seconds)


@contextlib.contextmanager
def _standin() -> contextlib.AbstractContextManager[str]:  # type: ignore[misc]
    process = subprocess.Popen(
        [sys.executable, "-m", "services.provider.standin", "--port", "0", "--no-record"],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.startswith("standin listening on "):
            raise RuntimeError(f"the stand-in did not start: {line!r}")
        yield line.removeprefix("standin listening on ")
    finally:
        process.terminate()
        process.wait(10)


async def _main(concurrency: int, seconds: float) -> None:
    with _standin() as origin:
        url = f"{origin}/openai/v1/chat/completions"
        results = [
            await _aiohttp(url, concurrency=concurrency, seconds=seconds),
            await _httpx(url, concurrency=concurrency, seconds=seconds, tuned=False),
            await _httpx(url, concurrency=concurrency, seconds=seconds, tuned=True),
        ]
    print(
        f"non-streaming chat completions against the stand-in, concurrency {concurrency}, "
        f"{seconds:.0f} s each, {os.cpu_count()} CPUs (client and stand-in share them)"
    )
    baseline = results[0].requests_per_s
    for result in results:
        print(result.row(baseline))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=8.0)
    arguments = parser.parse_args()
    asyncio.run(_main(arguments.concurrency, arguments.seconds))


if __name__ == "__main__":
    main()

"""``python -m services.gateway`` as a real process: it serves over a socket, logs JSON lines
with request ids, and shuts down cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from ops.pki import IssuedFiles
from tests.edge import gateway_environ

pytestmark = pytest.mark.timeout(60)

LISTENING = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")
STARTUP_TIMEOUT_S = 20


async def read_json_lines_until(
    stream: asyncio.StreamReader, seen: list[dict[str, Any]], pattern: re.Pattern[str]
) -> re.Match[str]:
    while True:
        line = await stream.readline()
        if not line:
            raise AssertionError(f"the gateway exited before logging {pattern.pattern!r}")
        entry = json.loads(line)
        seen.append(entry)
        match = pattern.search(entry["msg"])
        if match:
            return match


@pytest.mark.asyncio
async def test_module_serves_over_a_socket_and_stops_on_sigterm(
    pki: dict[str, IssuedFiles], repo_root: Path
) -> None:
    environ = {
        **{key: value for key, value in os.environ.items() if not key.startswith("TOKENMART_")},
        **gateway_environ(pki, ports={}, PORT="0", HEALTH_TIMEOUT_S="0.2"),
        "PYTHONPATH": os.pathsep.join((str(repo_root), str(repo_root / "gen"))),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.gateway",
        cwd=repo_root,
        env=environ,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    seen: list[dict[str, Any]] = []
    try:
        listening = await asyncio.wait_for(
            read_json_lines_until(process.stderr, seen, LISTENING), STARTUP_TIMEOUT_S
        )
        url = f"http://127.0.0.1:{listening.group(1)}"
        async with httpx.AsyncClient(base_url=url, timeout=5) as client:
            health = await client.get("/healthz", headers={"X-Request-Id": "over-the-wire-1"})
            missing = await client.get("/api/v1/nope")
        process.send_signal(signal.SIGTERM)
        remaining = (await asyncio.wait_for(process.stderr.read(), STARTUP_TIMEOUT_S)).decode()
        await asyncio.wait_for(process.wait(), STARTUP_TIMEOUT_S)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert health.status_code == 503
    assert health.json()["backends"] == {
        "auth": "UNREACHABLE",
        "wallet": "UNREACHABLE",
        "provider": "UNREACHABLE",
        "review": "UNREACHABLE",
    }
    assert health.headers["x-request-id"] == "over-the-wire-1"
    assert "server" not in health.headers
    assert missing.json()["error"]["reason"] == "NOT_FOUND"

    entries = seen + [json.loads(line) for line in remaining.splitlines() if line.strip()]
    assert all(entry["service"] == "gateway" for entry in entries)
    access = [entry for entry in entries if entry["logger"] == "tokenmart.http"]
    assert [(entry["path"], entry["status"]) for entry in access] == [
        ("/healthz", 503),
        ("/api/v1/nope", 404),
    ]
    assert access[0]["request_id"] == "over-the-wire-1"
    assert any("shutdown complete" in entry["msg"].lower() for entry in entries)
    # uvicorn re-raises the signal it handled once it has shut down gracefully.
    assert process.returncode in (0, -signal.SIGTERM)

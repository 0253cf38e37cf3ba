"""``make run`` end to end: the stack prepares everything, brings all five processes to healthy,
answers on the gateway, and on Ctrl-C (SIGINT) stops every process it started.

Run twice: against the real servers this suite uses, and with nothing configured (embedded
PostgreSQL and Redis), which is what a fresh machine gets.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy.engine import make_url

from ops.database import create_database, drop_database

pytestmark = pytest.mark.slow
READY_TIMEOUT_S = 60


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@pytest.fixture(params=["configured", "embedded"])
def stack_environment(
    request: pytest.FixtureRequest, server_admin_url: str, redis_url: str, tmp_path: Path
) -> Iterator[dict[str, str]]:
    ports = _free_ports(5)
    prefix = f"tms_{secrets.token_hex(4)}"
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("TOKENMART_")
    }
    environment.update(
        {
            "TOKENMART_STATE_DIR": str(tmp_path / "state"),
            "TOKENMART_ROLE_PREFIX": prefix,
            "TOKENMART_AUTH_PORT": str(ports[0]),
            "TOKENMART_WALLET_PORT": str(ports[1]),
            "TOKENMART_PROVIDER_PORT": str(ports[2]),
            "TOKENMART_REVIEW_PORT": str(ports[3]),
            "TOKENMART_GATEWAY_PORT": str(ports[4]),
        }
    )
    if request.param == "embedded":
        yield environment
        return
    create_database(server_admin_url, prefix)
    environment["TOKENMART_DATABASE_URL"] = (
        make_url(server_admin_url).set(database=prefix).render_as_string(hide_password=False)
    )
    environment["TOKENMART_REDIS_URL"] = redis_url
    try:
        yield environment
    finally:
        drop_database(server_admin_url, prefix, prefix=prefix)


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def test_the_stack_starts_healthy_and_stops_cleanly(
    stack_environment: dict[str, str], repo_root: Path
) -> None:
    stack = subprocess.Popen(
        [sys.executable, "-m", "ops", "run"],
        cwd=repo_root,
        env=stack_environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    gateway = f"http://127.0.0.1:{stack_environment['TOKENMART_GATEWAY_PORT']}"
    body: dict[str, object] = {}
    lines: list[str] = []
    assert stack.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(stack.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline and not any("processes are healthy" in x for x in lines):
            time.sleep(0.1)
        while time.monotonic() < deadline and stack.poll() is None:
            try:
                response = httpx.get(f"{gateway}/healthz", timeout=2)
                body = response.json()
                if response.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        assert body.get("status") == "ok", body
        assert body["backends"] == {
            "auth": "SERVING",
            "wallet": "SERVING",
            "provider": "SERVING",
            "review": "SERVING",
        }
        started = _descendants(stack.pid)
        names = " ".join(" ".join(p.cmdline()) for p in started)
        for service in ("auth", "wallet", "provider", "review", "gateway"):
            assert f"services.{service}" in names
        assert httpx.get(f"{gateway}/openapi.json", timeout=2).status_code == 200
    finally:
        stack.send_signal(signal.SIGINT)
        stack.wait(timeout=30)
        reader.join(timeout=10)
        stack.stdout.close()
    output = "".join(lines)
    assert stack.returncode == 0, output[-4000:]
    assert "all five processes are healthy" in output
    _gone, alive = psutil.wait_procs(started, timeout=5)
    assert not alive, [p.cmdline() for p in alive]
    # Nothing started for the stack survives it (embedded PostgreSQL and Redis included).
    state_dir = stack_environment["TOKENMART_STATE_DIR"]
    leftovers = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or ())
        if state_dir in cmdline:
            leftovers.append(cmdline)
    assert not leftovers
    # Logs are readable lines with a name prefix, not raw JSON.
    assert any(line.startswith("\x1b[36mauth") for line in output.splitlines())

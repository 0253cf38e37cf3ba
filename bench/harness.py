"""Real processes for benchmarks: a fresh database, the dev PKI, and the services started as
``python -m services.<name>`` exactly as ``make run`` starts them, plus helpers to drive wrk.

PostgreSQL is ``TOKENMART_DATABASE_URL`` when set (CI, this machine's server), else embedded;
each run uses a database and roles of its own and drops them at the end.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
from sqlalchemy.engine import make_url

from ops.database import REPO_ROOT, create_database, drop_database, role_names
from ops.embedded import EmbeddedPostgres, EmbeddedRedis
from ops.pki import IssuedFiles, ensure_pki
from ops.stack import DEV_SECRETS, PROCESSES, prepare_database, service_environments
from services.common.client import open_channel
from services.common.settings import PeerTarget, TlsSettings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    environments: dict[str, dict[str, str]]
    gateway_url: str
    server_url: str
    pki: dict[str, IssuedFiles]
    ports: dict[str, int]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def channel(self, service: str, *, peer: str) -> grpc.aio.Channel:
        """An mTLS channel to ``service`` presenting ``peer``'s certificate."""
        files = self.pki[peer]
        return open_channel(
            PeerTarget(
                service=service, target=f"127.0.0.1:{self.ports[service]}", default_timeout_s=30
            ),
            TlsSettings(ca_file=files.ca_file, cert_file=files.cert_file, key_file=files.key_file),
            full_service_name=f"tokenmart.{service}.v1.{service.capitalize()}Service",
        )

    def spawn(self, module: str, environment: Mapping[str, str]) -> subprocess.Popen[bytes]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("TOKENMART_")}
        process = subprocess.Popen(
            [sys.executable, "-m", module],
            cwd=REPO_ROOT,
            env={**base, **environment, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.processes.append(process)
        return process


def wait_healthy(url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become healthy")


@contextmanager
def running_stack(
    *,
    gateway_env: Mapping[str, str] | None = None,
    service_env: Mapping[str, Mapping[str, str]] | None = None,
) -> Iterator[Stack]:
    """All five processes on free loopback ports, with every service at log level WARNING;
    ``service_env`` adds variables to named services' environments."""
    with ExitStack() as cleanup:
        state = Path(tempfile.mkdtemp(prefix="tokenmart-bench-"))
        cleanup.callback(shutil.rmtree, state, ignore_errors=True)
        server_url = os.environ.get("TOKENMART_DATABASE_URL")
        if not server_url:
            postgres = EmbeddedPostgres.start(state / "postgres")
            cleanup.callback(postgres.stop)
            server_url = postgres.admin_url
        redis_url = os.environ.get("TOKENMART_REDIS_URL")
        if not redis_url:
            embedded = EmbeddedRedis.start(state / "redis")
            cleanup.callback(embedded.stop)
            redis_url = embedded.url
        prefix = f"tmb_{secrets.token_hex(4)}"
        create_database(server_url, prefix)
        cleanup.callback(drop_database, server_url, prefix, prefix=prefix)
        admin_url = make_url(server_url).set(database=prefix).render_as_string(hide_password=False)
        databases = prepare_database(
            admin_url,
            prefix=prefix,
            passwords={role: secrets.token_urlsafe(16) for role in role_names(prefix)},
        )
        ports = {name: free_port() for name in ("auth", "wallet", "provider", "review")}
        gateway_port = free_port()
        pki = ensure_pki(state / "pki")
        environments = service_environments(
            pki=pki,
            databases=databases,
            redis_url=redis_url,
            ports=ports,
            gateway_host="127.0.0.1",
            gateway_port=gateway_port,
            secrets={name: secrets.token_urlsafe(32) for name in DEV_SECRETS},
        )
        for name, environment in environments.items():
            environment[f"TOKENMART_{name.upper()}_LOG_LEVEL"] = "WARNING"
        environments["gateway"].update(gateway_env or {})
        for name, extra in (service_env or {}).items():
            environments[name].update(extra)
        stack = Stack(
            environments=environments,
            gateway_url=f"http://127.0.0.1:{gateway_port}",
            server_url=server_url,
            pki=pki,
            ports=ports,
        )

        def stop() -> None:
            for process in stack.processes:
                process.terminate()
            for process in stack.processes:
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()

        cleanup.callback(stop)
        for name in PROCESSES:
            stack.spawn(f"services.{name}", environments[name])
        wait_healthy(stack.gateway_url)
        yield stack


@dataclass(frozen=True)
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int

    def row(self, name: str) -> str:
        return (
            f"{name:<44} {self.requests_per_s:>9,.0f} req/s   "
            f"p50 {self.p50_ms:7.2f} ms   p99 {self.p99_ms:7.2f} ms   non-2xx {self.non_2xx}"
        )


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(
    url: str,
    *,
    headers: Mapping[str, str],
    duration_s: int = 10,
    connections: int = 32,
    threads: int = 2,
) -> WrkResult:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration_s}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, url], check=True, capture_output=True, text=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    latency = {
        percent: _ms(value, unit)
        for percent, value, unit in re.findall(
            r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", output, re.M
        )
    }
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return WrkResult(
        requests_per_s=rate,
        p50_ms=latency["50"],
        p99_ms=latency["99"],
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
    )

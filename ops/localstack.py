"""The whole of TokenMart Core as local processes on free loopback ports, for benchmarks, the
fault-injection soak and the client package's testing helper (where Docker is absent).

The processes are started exactly as ``make run`` starts them (``python -m services.<name>``,
the environments from :func:`ops.stack.service_environments`), against a database and roles of
their own (created on the server at ``TOKENMART_DATABASE_URL`` when set, else an embedded
PostgreSQL) that are dropped at the end. Each process can be killed and restarted by name, which
is what the soak needs.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import grpc
import httpx
from sqlalchemy.engine import make_url

from ops.database import REPO_ROOT, create_database, drop_database, role_names
from ops.embedded import EmbeddedPostgres, EmbeddedRedis
from ops.pki import IssuedFiles, ensure_pki
from ops.stack import (
    DEV_SECRETS,
    PROCESSES,
    STANDIN,
    STANDIN_MODULE,
    prepare_database,
    service_environments,
)
from services.common.client import open_channel
from services.common.settings import PeerTarget, TlsSettings

STOP_TIMEOUT_S = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, timeout_s: float = 60.0) -> None:
    """Wait until ``url``/healthz answers 200 (the gateway: every backend SERVING)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become healthy within {timeout_s:.0f} s")


@dataclass
class Stack:
    """A running local stack; ``processes`` maps a process name to its current child."""

    environments: dict[str, dict[str, str]]
    gateway_url: str
    server_url: str
    """The PostgreSQL server (admin) URL the stack's database lives on."""
    database_url: str
    """The admin URL of the stack's own database."""
    role_prefix: str
    redis_url: str
    pki: dict[str, IssuedFiles]
    ports: dict[str, int]
    standin_origin: str | None = None
    log_dir: Path | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def channel(self, service: str, *, peer: str) -> grpc.aio.Channel:
        """An mTLS channel to ``service`` presenting ``peer``'s certificate (e.g. ``ctl``)."""
        files = self.pki[peer]
        return open_channel(
            PeerTarget(
                service=service, target=f"127.0.0.1:{self.ports[service]}", default_timeout_s=30
            ),
            TlsSettings(ca_file=files.ca_file, cert_file=files.cert_file, key_file=files.key_file),
            full_service_name=f"tokenmart.{service}.v1.{service.capitalize()}Service",
        )

    def spawn(self, name: str) -> subprocess.Popen[bytes]:
        """Start process ``name`` (a service or ``standin``) with its environment."""
        if name == STANDIN:
            assert self.standin_origin is not None
            port = self.standin_origin.rsplit(":", 1)[1]
            return self.spawn_module(
                name, STANDIN_MODULE, {}, arguments=("--host", "127.0.0.1", "--port", port)
            )
        return self.spawn_module(name, f"services.{name}", self.environments[name])

    def spawn_module(
        self,
        label: str,
        module: str,
        environment: Mapping[str, str],
        *,
        arguments: tuple[str, ...] = (),
    ) -> subprocess.Popen[bytes]:
        """Run ``python -m module`` as process ``label`` (stopped with the stack)."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("TOKENMART_")}
        with ExitStack() as files:
            output: IO[bytes] | int = subprocess.DEVNULL
            if self.log_dir is not None:
                output = files.enter_context((self.log_dir / f"{label}.log").open("ab"))
            process = subprocess.Popen(
                [sys.executable, "-m", module, *arguments],
                cwd=REPO_ROOT,
                env={**base, **environment, "PYTHONUNBUFFERED": "1"},
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        self.processes[label] = process
        return process

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL) -> None:
        """Send ``sig`` to process ``name`` and wait for it to exit."""
        process = self.processes[name]
        if process.poll() is None:
            process.send_signal(sig)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self, name: str, *, timeout_s: float = 60.0) -> None:
        """Start ``name`` again (after :meth:`kill`) and wait until the gateway is healthy."""
        self.spawn(name)
        if name == STANDIN:
            assert self.standin_origin is not None
            wait_healthy(self.standin_origin, timeout_s)
        else:
            wait_healthy(self.gateway_url, timeout_s)

    def stop(self) -> None:
        """SIGTERM every process (the gateway first, the stand-in last), SIGKILL stragglers."""
        order = ["gateway", "review", "provider", "wallet", "auth", STANDIN]
        names = [n for n in self.processes if n not in order] + order
        for name in names:
            process = self.processes.get(name)
            if process is not None and process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def running_stack(
    *,
    gateway_env: Mapping[str, str] | None = None,
    service_env: Mapping[str, Mapping[str, str]] | None = None,
    standin: bool = False,
    redis_url: str | None = None,
    log_level: str = "WARNING",
    log_dir: Path | None = None,
) -> Iterator[Stack]:
    """All five processes (and with ``standin`` the stand-in upstream, which provider then calls
    for every upstream) on free loopback ports. ``service_env`` adds variables to named
    services' environments; ``redis_url`` overrides ``TOKENMART_REDIS_URL``; with ``log_dir``
    each process appends its output to ``<log_dir>/<name>.log``."""
    with ExitStack() as cleanup:
        state = Path(tempfile.mkdtemp(prefix="tokenmart-stack-"))
        cleanup.callback(shutil.rmtree, state, ignore_errors=True)
        server_url = os.environ.get("TOKENMART_DATABASE_URL")
        if not server_url:
            postgres = EmbeddedPostgres.start(state / "postgres")
            cleanup.callback(postgres.stop)
            server_url = postgres.admin_url
        redis_url = redis_url or os.environ.get("TOKENMART_REDIS_URL")
        if not redis_url:
            embedded = EmbeddedRedis.start(state / "redis")
            cleanup.callback(embedded.stop)
            redis_url = embedded.url
        prefix = f"tms_{secrets.token_hex(4)}"
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
        standin_origin = f"http://127.0.0.1:{free_port()}" if standin else None
        pki = ensure_pki(state / "pki")
        environments = service_environments(
            pki=pki,
            databases=databases,
            redis_url=redis_url,
            ports=ports,
            gateway_host="127.0.0.1",
            gateway_port=gateway_port,
            secrets={name: secrets.token_urlsafe(32) for name in DEV_SECRETS},
            standin_origin=standin_origin,
        )
        for name, environment in environments.items():
            environment[f"TOKENMART_{name.upper()}_LOG_LEVEL"] = log_level
        environments["gateway"].update(gateway_env or {})
        for name, extra in (service_env or {}).items():
            environments[name].update(extra)
        stack = Stack(
            environments=environments,
            gateway_url=f"http://127.0.0.1:{gateway_port}",
            server_url=server_url,
            database_url=admin_url,
            role_prefix=prefix,
            redis_url=redis_url,
            pki=pki,
            ports=ports,
            standin_origin=standin_origin,
            log_dir=log_dir,
        )
        cleanup.callback(stack.stop)
        if standin:
            stack.spawn(STANDIN)
            assert standin_origin is not None
            wait_healthy(standin_origin)
        for name in PROCESSES:
            stack.spawn(name)
        wait_healthy(stack.gateway_url)
        yield stack

"""Fixtures of the observability tests: real service processes with a metrics listener, a fresh
wallet database, log capture, and Prometheus text parsing.

``ServiceProcess`` runs ``python -m services.<name>`` exactly as ``make run`` and the Kubernetes
manifests do (settings from ``TOKENMART_<SVC>_*``, JSON logs on stderr, stop on SIGTERM), with its
gRPC and metrics listeners on ports chosen for it; the test reads its log file and scrapes its
``/metrics`` over a real socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url
from tokenmart.wallet.v1 import wallet_pb2_grpc

from ops.database import (
    REPO_ROOT,
    ServiceDatabase,
    create_database,
    drop_database,
    migrate,
    provision,
    role_names,
)
from ops.pki import IssuedFiles
from services.common.logging import JsonFormatter
from tests.grpc_helpers import mtls_channel

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServiceProcess:
    """``python -m services.<name>`` with a gRPC and a metrics port of its own."""

    def __init__(
        self, name: str, environment: Mapping[str, str], log: Path, pki: dict[str, IssuedFiles]
    ) -> None:
        self.name = name
        self.port = free_port()
        self.metrics_port = free_port()
        prefix = f"TOKENMART_{name.upper()}_"
        # The gateway serves HTTP where the others serve gRPC.
        listen = (
            {f"{prefix}PORT": str(self.port)}
            if name == "gateway"
            else {f"{prefix}GRPC_LISTEN": f"127.0.0.1:{self.port}"}
        )
        self.environment = {
            **environment,
            **listen,
            f"{prefix}METRICS_LISTEN": f"127.0.0.1:{self.metrics_port}",
            f"{prefix}TLS_CA_FILE": str(pki[name].ca_file),
            f"{prefix}TLS_CERT_FILE": str(pki[name].cert_file),
            f"{prefix}TLS_KEY_FILE": str(pki[name].key_file),
            f"{prefix}LOG_LEVEL": "INFO",
        }
        self.log = log
        self.pki = pki
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def channel(self, peer: str = "gateway") -> grpc.aio.Channel:
        return mtls_channel(
            self.port, ca_file=self.pki[peer].ca_file, cert=self.pki[peer], expect_name=self.name
        )

    def spawn(self) -> None:
        base = {key: value for key, value in os.environ.items() if not key.startswith("TOKENMART_")}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", f"services.{self.name}"],
                cwd=REPO_ROOT,
                env={**base, **self.environment, "PYTHONUNBUFFERED": "1"},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def start(self) -> None:
        """Spawn the process and wait until it reports SERVING (the gateway: until it answers)."""
        self.spawn()
        assert self.process is not None
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT_S
        if self.name == "gateway":
            async with httpx.AsyncClient() as client:
                while True:
                    assert self.process.poll() is None, self.log.read_text()[-3000:]
                    with contextlib.suppress(httpx.TransportError):
                        await client.get(f"http://127.0.0.1:{self.port}/healthz", timeout=5)
                        return
                    assert asyncio.get_running_loop().time() < deadline, "gateway did not start"
                    await asyncio.sleep(0.1)
        async with self.channel("ctl") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while True:
                assert self.process.poll() is None, self.log.read_text()[-3000:]
                with contextlib.suppress(grpc.aio.AioRpcError):
                    answer = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                    if answer.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                assert asyncio.get_running_loop().time() < deadline, f"{self.name} did not start"
                await asyncio.sleep(0.1)

    def terminate(self) -> int:
        """SIGTERM, as an orchestrator stops a pod; the exit status."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(STOP_TIMEOUT_S)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT_S)

    def log_entries(self) -> list[dict[str, Any]]:
        entries = []
        for line in self.log.read_text().splitlines():
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if isinstance(entry, dict):
                    entries.append(entry)
        return entries


class WalletProcessHandle:
    """What ``tests.wallet.helpers.world_for`` needs of a wallet: channels and stubs."""

    def __init__(self, process: ServiceProcess) -> None:
        self.process = process
        self.port = process.port

    def channel(self, peer: str = "gateway") -> grpc.aio.Channel:
        return self.process.channel(peer)

    @staticmethod
    def stub(channel: grpc.aio.Channel) -> wallet_pb2_grpc.WalletServiceStub:
        return wallet_pb2_grpc.WalletServiceStub(channel)


@pytest.fixture
def fresh_wallet_database(server_admin_url: str) -> Iterator[ServiceDatabase]:
    """A wallet schema of its own, so gauges computed over the whole ledger (holds outstanding,
    verification) see only what the test did."""
    prefix = f"tmo_{secrets.token_hex(4)}"
    create_database(server_admin_url, prefix)
    admin = make_url(server_admin_url).set(database=prefix).render_as_string(hide_password=False)
    try:
        passwords = {role: secrets.token_urlsafe(16) for role in role_names(prefix)}
        databases = provision(admin, prefix=prefix, passwords=passwords)
        migrate(databases["wallet"])
        yield databases["wallet"]
    finally:
        drop_database(server_admin_url, prefix, prefix=prefix)


@pytest.fixture
async def wallet_process(
    fresh_wallet_database: ServiceDatabase,
    pki: dict[str, IssuedFiles],
    auth_server: Any,
    tmp_path: Path,
) -> AsyncIterator[ServiceProcess]:
    """``python -m services.wallet`` on a fresh ledger, verifying tokens of the session auth."""
    process = ServiceProcess(
        "wallet",
        {
            "TOKENMART_WALLET_DATABASE_URL": fresh_wallet_database.runtime_url,
            "TOKENMART_WALLET_AUTH_TARGET": f"127.0.0.1:{auth_server.port}",
            "TOKENMART_WALLET_SHUTDOWN_GRACE_S": "0",
            "TOKENMART_WALLET_DATABASE_POOL_SIZE": "3",
            "TOKENMART_WALLET_DATABASE_MAX_OVERFLOW": "2",
        },
        tmp_path / "wallet.log",
        pki,
    )
    try:
        await process.start()
        yield process
    finally:
        process.kill()


# -- Prometheus text ----------------------------------------------------------------------------


class Scrape:
    """One scrape of a ``/metrics`` endpoint: the text and its samples."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples = [
            sample for family in text_string_to_metric_families(text) for sample in family.samples
        ]

    def value(self, name: str, **labels: str) -> float | None:
        """The value of the sample ``name`` whose labels include ``labels`` (None: absent)."""
        for sample in self.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
        return None

    def total(self, name: str, **labels: str) -> float:
        """The sum over every sample ``name`` whose labels include ``labels``."""
        return sum(
            float(sample.value)
            for sample in self.samples
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
        )

    def label_values(self, name: str, label: str) -> set[str]:
        return {s.labels[label] for s in self.samples if s.name == name and label in s.labels}


async def scrape(url: str) -> Scrape:
    async with httpx.AsyncClient() as client:
        response = await client.get(url, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return Scrape(response.text)


def scrape_registry(registry: Any) -> Scrape:
    from prometheus_client import generate_latest

    return Scrape(generate_latest(registry).decode())


# -- logs ---------------------------------------------------------------------------------------


class CapturedLogs:
    """The JSON lines the given loggers write while the test runs, as every service writes them."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    def entries(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line]


@pytest.fixture
def captured_logs() -> Iterator[CapturedLogs]:
    """Access-log lines (``tokenmart.rpc``, ``tokenmart.http``) of every in-process server."""
    captured = CapturedLogs()
    handler = logging.StreamHandler(captured.stream)
    handler.setFormatter(JsonFormatter("test"))
    loggers = [logging.getLogger(name) for name in ("tokenmart.rpc", "tokenmart.http")]
    levels = [item.level for item in loggers]
    for item in loggers:
        item.addHandler(handler)
        item.setLevel(logging.INFO)
    try:
        yield captured
    finally:
        for item, level in zip(loggers, levels, strict=True):
            item.removeHandler(handler)
            item.setLevel(level)

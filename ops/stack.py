"""``make run``: prepare everything, then run all five processes in the foreground.

Preparation (idempotent): the dev PKI; PostgreSQL (``TOKENMART_DATABASE_URL``, else embedded)
and Redis (``TOKENMART_REDIS_URL``, else embedded); roles, schemas and migrations of every
domain service. Then the stand-in upstream (``services.provider.standin``, on
``TOKENMART_STANDIN_PORT`` or a free port) starts, so provider's upstream base URLs point at it
and the whole product works offline; then auth, wallet, provider, review and the gateway start
as child processes whose JSON logs are rendered as readable lines with a coloured name prefix.
The stack waits until the gateway's ``/healthz`` reports every backend SERVING, prints how to
call it, and runs until Ctrl-C / SIGTERM, when it stops every child (SIGTERM, then SIGKILL after
a grace period) and the embedded servers. If any child dies, the whole stack stops with an error.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

from ops.database import (
    DOMAIN_SERVICES,
    REPO_ROOT,
    ServiceDatabase,
    create_database,
    migrate,
    provision,
)
from ops.embedded import EmbeddedPostgres, EmbeddedRedis
from ops.pki import IssuedFiles, ensure_pki
from ops.state import dev_passwords, dev_secrets, state_dir
from services.provider.standin.app import base_urls

PROCESSES = (*DOMAIN_SERVICES, "gateway")
DEFAULT_PORTS = {"auth": 50051, "wallet": 50052, "provider": 50053, "review": 50054}
DEFAULT_METRICS_PORTS = {
    "auth": 9461,
    "wallet": 9462,
    "provider": 9463,
    "review": 9464,
    "gateway": 9460,
}
"""Where ``make run`` serves each process's Prometheus ``/metrics`` (loopback only)."""
COLOURS = {
    "auth": 36,
    "wallet": 32,
    "provider": 35,
    "review": 33,
    "gateway": 34,
    "standin": 90,
    "stack": 37,
}
STANDIN = "standin"
STANDIN_MODULE = "services.provider.standin"
STANDIN_PLATFORM_KEYS = {
    "openai": "sk-standin-openai-platform",
    "anthropic": "sk-ant-standin-platform",
    "openrouter": "sk-or-standin-platform",
}
"""The platform keys provider sends to the stand-in: not secrets (the stand-in takes any key)."""
PROVIDER_MAX_MESSAGE_BYTES = 8 * 1024 * 1024
"""Provider's gRPC message cap: room for a 4 MiB inference body and its response."""
PEERS: Mapping[str, tuple[str, ...]] = {
    "auth": ("wallet",),
    "wallet": ("auth",),
    "provider": ("auth", "wallet"),
    "review": ("auth", "wallet"),
    "gateway": DOMAIN_SERVICES,
}
DEV_SECRETS = ("gateway_rate_limit_key", "auth_pepper", "auth_signing_kek", "provider_kek_1")
"""Secrets ``make run`` generates once into the state directory (production brings its own)."""
STOP_GRACE_S = 10.0
READY_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Prepared:
    environments: dict[str, dict[str, str]]
    gateway_url: str
    standin_host: str = "127.0.0.1"
    standin_port: int | None = None
    """The stand-in upstream's port; None runs no stand-in (provider calls the real APIs)."""

    @property
    def standin_origin(self) -> str:
        return f"http://{self.standin_host}:{self.standin_port}"


def _tls_env(prefix: str, files: IssuedFiles) -> dict[str, str]:
    return {
        f"{prefix}TLS_CA_FILE": str(files.ca_file),
        f"{prefix}TLS_CERT_FILE": str(files.cert_file),
        f"{prefix}TLS_KEY_FILE": str(files.key_file),
    }


def service_environments(
    *,
    pki: Mapping[str, IssuedFiles],
    databases: Mapping[str, ServiceDatabase],
    redis_url: str,
    ports: Mapping[str, int],
    gateway_host: str,
    gateway_port: int,
    secrets: Mapping[str, str],
    standin_origin: str | None = None,
    metrics_ports: Mapping[str, int] | None = None,
) -> dict[str, dict[str, str]]:
    """The ``TOKENMART_<SVC>_*`` variables of every process (no secrets beyond its own).

    With ``metrics_ports``, each named process serves ``/metrics`` on that loopback port.

    With ``standin_origin`` (``http://host:port`` of the stand-in upstream), provider calls the
    stand-in for all three upstreams, with the stand-in's dev platform keys.
    """
    environments: dict[str, dict[str, str]] = {}
    for process in PROCESSES:
        prefix = f"TOKENMART_{process.upper()}_"
        env = _tls_env(prefix, pki[process])
        if process in databases:
            env[f"{prefix}DATABASE_URL"] = databases[process].runtime_url
            env[f"{prefix}GRPC_LISTEN"] = f"127.0.0.1:{ports[process]}"
        for peer in PEERS[process]:
            env[f"{prefix}{peer.upper()}_TARGET"] = f"127.0.0.1:{ports[peer]}"
        if metrics_ports and process in metrics_ports:
            env[f"{prefix}METRICS_LISTEN"] = f"127.0.0.1:{metrics_ports[process]}"
        environments[process] = env
    environments["gateway"].update(
        {
            "TOKENMART_GATEWAY_HOST": gateway_host,
            "TOKENMART_GATEWAY_PORT": str(gateway_port),
            "TOKENMART_GATEWAY_REDIS_URL": redis_url,
            "TOKENMART_GATEWAY_RATE_LIMIT_KEY": secrets["gateway_rate_limit_key"],
        }
    )
    # Auth alone holds the credential pepper and the signing keys' encryption key (32 bytes each).
    environments["auth"].update(
        {
            "TOKENMART_AUTH_PEPPER": secrets["auth_pepper"],
            "TOKENMART_AUTH_SIGNING_KEK": secrets["auth_signing_kek"],
        }
    )
    # Provider alone holds the key-encryption key of BYOK secrets (version 1; rotation adds 2).
    environments["provider"].update(
        {
            "TOKENMART_PROVIDER_KEK_1": secrets["provider_kek_1"],
            "TOKENMART_PROVIDER_MAX_MESSAGE_BYTES": str(PROVIDER_MAX_MESSAGE_BYTES),
        }
    )
    if standin_origin is not None:
        for upstream, url in base_urls(standin_origin).items():
            environments["provider"][f"TOKENMART_PROVIDER_{upstream.upper()}_BASE_URL"] = url
            environments["provider"][f"TOKENMART_PROVIDER_{upstream.upper()}_API_KEY"] = (
                STANDIN_PLATFORM_KEYS[upstream]
            )
    return environments


def prepare_database(
    admin_url: str, *, prefix: str, passwords: dict[str, str]
) -> dict[str, ServiceDatabase]:
    databases = provision(admin_url, prefix=prefix, passwords=passwords)
    for item in databases.values():
        migrate(item)
    return databases


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _say(line: str) -> None:
    print(f"\033[{COLOURS['stack']}m{'stack':<9}|\033[0m {line}", flush=True)


def _render(line: str) -> str:
    """A JSON log line as ``HH:MM:SS level msg key=value``; other lines unchanged."""
    try:
        entry = json.loads(line)
    except ValueError:
        return line
    if not isinstance(entry, dict):
        return line
    ts = str(entry.pop("ts", ""))[11:19]
    level = str(entry.pop("level", "")).ljust(5)
    msg = entry.pop("msg", "")
    for key in ("service", "logger"):
        entry.pop(key, None)
    extras = " ".join(f"{key}={value}" for key, value in entry.items())
    return f"{ts} {level} {msg} {extras}".rstrip()


def _die_with_parent() -> None:
    # Children must not outlive the stack even if it is killed with SIGKILL (Linux only).
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


async def _pipe(name: str, stream: asyncio.StreamReader) -> None:
    prefix = f"\033[{COLOURS[name]}m{name:<9}|\033[0m "
    while True:
        raw = await stream.readline()
        if not raw:
            return
        print(prefix + _render(raw.decode(errors="replace").rstrip()), flush=True)


async def _wait_ready(url: str, children: dict[str, asyncio.subprocess.Process]) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT_S
    async with httpx.AsyncClient(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if any(child.returncode is not None for child in children.values()):
                return False
            try:
                response = await client.get(f"{url}/healthz")
                if response.status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.25)
    return False


async def _wait_standin(origin: str, child: asyncio.subprocess.Process) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT_S
    async with httpx.AsyncClient(timeout=2.0) as client:
        while time.monotonic() < deadline and child.returncode is None:
            try:
                if (await client.get(f"{origin}/healthz")).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    return False


async def _stop(children: dict[str, asyncio.subprocess.Process]) -> None:
    # The gateway first so no new requests arrive, then the domain services, then the stand-in
    # (provider may still be finishing requests against it).
    for name in ("gateway", *reversed(DOMAIN_SERVICES), STANDIN):
        child = children.get(name)
        if child is not None and child.returncode is None:
            child.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(
            asyncio.gather(*(child.wait() for child in children.values())), STOP_GRACE_S
        )
    except TimeoutError:
        for child in children.values():
            if child.returncode is None:
                child.kill()
        await asyncio.gather(*(child.wait() for child in children.values()))


async def supervise(prepared: Prepared, base_environ: Mapping[str, str]) -> int:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    children: dict[str, asyncio.subprocess.Process] = {}
    pipes: list[asyncio.Task[None]] = []

    async def spawn(name: str, arguments: list[str], environment: Mapping[str, str]) -> None:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            *arguments,
            cwd=REPO_ROOT,
            env={**environment, "PYTHONUNBUFFERED": "1"},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the stack, which stops children in order
            preexec_fn=_die_with_parent,
        )
        children[name] = child
        assert child.stdout is not None
        pipes.append(asyncio.create_task(_pipe(name, child.stdout)))

    if prepared.standin_port is not None:
        await spawn(
            STANDIN,
            [
                STANDIN_MODULE,
                "--host",
                prepared.standin_host,
                "--port",
                str(prepared.standin_port),
            ],
            base_environ,
        )
        if not await _wait_standin(prepared.standin_origin, children[STANDIN]):
            _say("the stand-in upstream did not start; stopping")
            await _stop(children)
            await asyncio.gather(*pipes, return_exceptions=True)
            return 1
    for name in PROCESSES:
        await spawn(name, [f"services.{name}"], {**base_environ, **prepared.environments[name]})
    exits: dict[str, asyncio.Task[Any]] = {
        name: asyncio.create_task(child.wait()) for name, child in children.items()
    }
    ready: asyncio.Task[Any] = asyncio.create_task(_wait_ready(prepared.gateway_url, children))
    stop_wait: asyncio.Task[Any] = asyncio.create_task(stopping.wait())
    status = 0
    try:
        done, _ = await asyncio.wait({ready, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
        if ready in done and ready.result():
            _say(f"all five processes are healthy: {prepared.gateway_url}/healthz")
            _say(f"OpenAPI document: {prepared.gateway_url}/openapi.json (browse: /docs)")
            if prepared.standin_port is not None:
                _say(
                    f"LLM calls go to the stand-in upstream at {prepared.standin_origin} "
                    "(offline; see services/provider/standin)"
                )
            metrics = [
                f"{name} http://{value}/metrics"
                for name, environment in prepared.environments.items()
                for key, value in environment.items()
                if key.endswith("_METRICS_LISTEN")
            ]
            if metrics:
                _say("Prometheus metrics: " + ", ".join(metrics))
            _say("press Ctrl-C to stop everything")
        elif ready in done:
            _say("the stack did not become healthy; stopping")
            status = 1
            stopping.set()
        if status == 0:
            watched = [stop_wait, *exits.values()]
            done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
            crashed = [name for name, task in exits.items() if task in done]
            if crashed and not stopping.is_set():
                _say(f"{', '.join(crashed)} exited unexpectedly; stopping the stack")
                status = 1
    finally:
        _say("stopping")
        await _stop(children)
        await asyncio.gather(*pipes, return_exceptions=True)
        for task in (ready, stop_wait):
            task.cancel()
        _say("stopped")
    return status


def run(environ: Mapping[str, str]) -> int:
    directory = state_dir(Path(environ.get("TOKENMART_STATE_DIR") or REPO_ROOT / ".tokenmart"))
    prefix = environ.get("TOKENMART_ROLE_PREFIX", "tokenmart")
    gateway_host = environ.get("TOKENMART_GATEWAY_HOST", "127.0.0.1")
    gateway_port = int(environ.get("TOKENMART_GATEWAY_PORT", "8080"))
    ports = {
        name: int(environ.get(f"TOKENMART_{name.upper()}_PORT", str(port)))
        for name, port in DEFAULT_PORTS.items()
    }
    metrics_ports = {
        name: int(environ.get(f"TOKENMART_{name.upper()}_METRICS_PORT", str(port)))
        for name, port in DEFAULT_METRICS_PORTS.items()
    }
    standin_port = int(environ.get("TOKENMART_STANDIN_PORT") or _free_port())
    with ExitStack() as cleanup:
        _say("issuing development certificates")
        pki = ensure_pki(directory / "pki")
        admin_url = environ.get("TOKENMART_DATABASE_URL")
        if not admin_url:
            _say("TOKENMART_DATABASE_URL is not set: starting embedded PostgreSQL")
            postgres = EmbeddedPostgres.start(directory / "postgres")
            cleanup.callback(postgres.stop)
            create_database(postgres.admin_url, "tokenmart")
            admin_url = (
                make_url(postgres.admin_url)
                .set(database="tokenmart")
                .render_as_string(hide_password=False)
            )
        redis_url = environ.get("TOKENMART_REDIS_URL")
        if not redis_url:
            _say("TOKENMART_REDIS_URL is not set: starting embedded Redis")
            embedded_redis = EmbeddedRedis.start(directory / "redis")
            cleanup.callback(embedded_redis.stop)
            redis_url = embedded_redis.url
        _say("provisioning roles and schemas, running migrations")
        databases = prepare_database(
            admin_url, prefix=prefix, passwords=dev_passwords(directory, prefix=prefix)
        )
        prepared = Prepared(
            environments=service_environments(
                pki=pki,
                databases=databases,
                redis_url=redis_url,
                ports=ports,
                gateway_host=gateway_host,
                gateway_port=gateway_port,
                secrets=dev_secrets(directory, list(DEV_SECRETS)),
                standin_origin=f"http://127.0.0.1:{standin_port}",
                metrics_ports=metrics_ports,
            ),
            gateway_url=f"http://{gateway_host}:{gateway_port}",
            standin_port=standin_port,
        )
        # The admin database URL and Redis URL stay here; each child gets only its own settings.
        base = {
            key: value
            for key, value in os.environ.items()
            if key not in ("TOKENMART_DATABASE_URL", "TOKENMART_REDIS_URL")
        }
        return asyncio.run(supervise(prepared, base))

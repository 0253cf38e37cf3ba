"""Putting the provider service together: the runtime, its background loops, the server.

Used by ``__main__`` (production) and by the test fixtures (an in-process server on port 0), so
both run exactly the same wiring. :class:`ProviderService` owns what must be opened on the
serving event loop and closed in order at shutdown: the channels to auth and wallet, the pooled
upstream HTTP session, this process's heartbeat and the settlement re-driver.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable

import grpc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from tokenmart.provider.v1 import provider_pb2_grpc

from services.common.client import open_channel
from services.common.db import create_engine
from services.common.metrics import ServiceMetrics
from services.common.server import GrpcServer, Registration, run_until_signal
from services.common.tokens import AccessTokenVerifier, AuthPublicKeys
from services.provider import access
from services.provider.api import ProviderApi
from services.provider.clients.wallet import (
    IDEMPOTENT_METHODS,
    WALLET_SERVICE,
    ServiceTokens,
    WalletClient,
)
from services.provider.domain.envelope import Envelope
from services.provider.domain.pagination import PageTokens
from services.provider.metrics import ProviderMetrics
from services.provider.operations.runtime import BackgroundTasks, Clock, Runtime, system_clock
from services.provider.operations.settlement import Redriver
from services.provider.settings import ProviderSettings
from services.provider.store.database import Database
from services.provider.upstream.adapters import Upstreams
from services.provider.upstream.http import create_session

logger = logging.getLogger("tokenmart.provider.server")

AUTH_SERVICE = "tokenmart.auth.v1.AuthService"
AUDIENCE = "tokenmart.provider"
DRAIN_TIMEOUT_S = 30.0


class ProviderService:
    """The runtime and everything it holds open; build with :meth:`open` on the serving loop."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        channels: tuple[grpc.aio.Channel, ...],
        redriver: Redriver,
        metrics: ProviderMetrics,
    ) -> None:
        self.runtime = runtime
        self._channels = channels
        self.redriver = redriver
        self.metrics = metrics

    @classmethod
    def open(
        cls,
        settings: ProviderSettings,
        engine: AsyncEngine,
        *,
        clock: Clock = system_clock,
        metrics: ServiceMetrics | None = None,
    ) -> ProviderService:
        """``metrics``: the process's registry (a fresh one when not given)."""
        common = settings.common
        provider_metrics = ProviderMetrics(
            metrics if metrics is not None else ServiceMetrics("provider"), engine
        )
        auth_channel = open_channel(
            common.peers["auth"],
            common.tls,
            full_service_name=AUTH_SERVICE,
            idempotent_methods=("GetPublicKeys", "IssueServiceToken"),
            metrics=provider_metrics.service.client,
        )
        wallet_channel = open_channel(
            common.peers["wallet"],
            common.tls,
            full_service_name=WALLET_SERVICE,
            idempotent_methods=IDEMPOTENT_METHODS,
            metrics=provider_metrics.service.client,
        )
        envelope = Envelope(settings.keks.keys, primary_version=settings.keks.primary_version)
        runtime = Runtime(
            settings=settings,
            database=Database(engine),
            envelope=envelope,
            page_tokens=PageTokens(envelope.subkey("page-tokens")),
            digest_key=envelope.subkey("request-digests"),
            verifier=AccessTokenVerifier(AuthPublicKeys(auth_channel), audience=AUDIENCE),
            wallet=WalletClient(
                wallet_channel,
                ServiceTokens(auth_channel),
                timeout_s=common.peers["wallet"].default_timeout_s,
            ),
            upstreams=Upstreams(
                settings, create_session(settings.http), metrics=provider_metrics.upstream
            ),
            clock=clock,
            instance_id=uuid.uuid4(),
            tasks=BackgroundTasks(),
        )
        return cls(
            runtime,
            channels=(auth_channel, wallet_channel),
            redriver=Redriver(runtime),
            metrics=provider_metrics,
        )

    def registrations(self) -> Iterable[Registration]:
        servicer = ProviderApi(self.runtime)

        def register(server: grpc.aio.Server) -> None:
            provider_pb2_grpc.add_ProviderServiceServicer_to_server(servicer, server)

        return (register,)

    async def start(self) -> None:
        """Register this process and start its heartbeat and the settlement re-driver."""
        await self.redriver.start()

    async def close(self, *, drain_timeout_s: float = DRAIN_TIMEOUT_S) -> None:
        """Let requests in flight finish and settle (bounded), then release everything."""
        await self.runtime.tasks.drain(drain_timeout_s)
        await self.redriver.stop()
        await self.runtime.upstreams.close()
        for channel in self._channels:
            await channel.close()


async def serve(settings: ProviderSettings) -> None:
    """Run the provider until SIGTERM/SIGINT (``python -m services.provider``)."""
    engine = create_engine(settings.common.database, application_name="tokenmart-provider")
    # Fail fast: a service that cannot reach its schema must not report SERVING.
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1 FROM provider.models LIMIT 1"))
    service = ProviderService.open(settings, engine)
    server = GrpcServer(
        service=settings.common.name,
        settings=settings.common.server,
        tls=settings.common.tls,
        allowlist=access.allowlist(reflection=settings.common.server.reflection),
        registrations=service.registrations(),
        served_names=(access.SERVICE,),
        metrics=service.metrics.service,
    )
    await service.start()
    logger.info(
        "provider instance started", extra={"instance_id": str(service.runtime.instance_id)}
    )

    async def cleanup() -> None:
        try:
            await service.close()
        finally:
            await engine.dispose()

    await run_until_signal(server, cleanup=cleanup)

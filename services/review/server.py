"""Putting the review service together: channels to auth and wallet, the runtime, the servicer,
the dispatcher and the background worker.

:class:`ReviewService` is used by ``__main__`` (production) and by the test fixtures (an
in-process server on port 0), so both run exactly the same wiring.
"""

from __future__ import annotations

import logging

import grpc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from tokenmart.auth.v1 import auth_pb2_grpc
from tokenmart.review.v1 import review_pb2_grpc
from tokenmart.wallet.v1 import wallet_pb2_grpc

from services.common.client import open_channel
from services.common.db import create_engine
from services.common.metrics import ServiceMetrics
from services.common.server import GrpcServer, run_until_signal
from services.common.tokens import AccessTokenVerifier, AuthPublicKeys
from services.review import access
from services.review.api import ReviewApi
from services.review.metrics import ReviewMetrics
from services.review.operations.dispatch import Dispatcher
from services.review.operations.runtime import Clock, PayoutKicks, Runtime, system_clock
from services.review.operations.worker import Worker
from services.review.peers import (
    AUTH_IDEMPOTENT,
    AUTH_SERVICE,
    WALLET_IDEMPOTENT,
    WALLET_SERVICE,
    AuthDirectory,
    ServiceTokens,
    Wallet,
)
from services.review.settings import ReviewSettings
from services.review.store.database import Database

logger = logging.getLogger("tokenmart.review")

AUDIENCE = "tokenmart.review"


class ReviewService:
    """Everything one review process runs; must be built with the serving event loop running."""

    def __init__(
        self,
        settings: ReviewSettings,
        engine: AsyncEngine,
        *,
        clock: Clock = system_clock,
        metrics: ServiceMetrics | None = None,
    ) -> None:
        """``metrics``: the process's registry (a fresh one when not given)."""
        common = settings.common
        self.settings = settings
        self.engine = engine
        self.metrics = ReviewMetrics(
            metrics if metrics is not None else ServiceMetrics("review"), engine
        )
        self.auth_channel = open_channel(
            common.peers["auth"],
            common.tls,
            full_service_name=AUTH_SERVICE,
            idempotent_methods=AUTH_IDEMPOTENT,
            metrics=self.metrics.service.client,
        )
        self.wallet_channel = open_channel(
            common.peers["wallet"],
            common.tls,
            full_service_name=WALLET_SERVICE,
            idempotent_methods=WALLET_IDEMPOTENT,
            metrics=self.metrics.service.client,
        )
        auth_stub = auth_pb2_grpc.AuthServiceStub(self.auth_channel)
        tokens = ServiceTokens(auth_stub)
        self.runtime = Runtime(
            settings=settings,
            database=Database(engine),
            verifier=AccessTokenVerifier(AuthPublicKeys(self.auth_channel), audience=AUDIENCE),
            auth=AuthDirectory(auth_stub, tokens),
            wallet=Wallet(wallet_pb2_grpc.WalletServiceStub(self.wallet_channel), tokens),
            clock=clock,
            kicks=PayoutKicks(),
        )
        self.dispatcher = Dispatcher(self.runtime)
        if settings.worker.dispatch_on_finalize:
            self.runtime.kicks.listen(self.dispatcher.kick)
        self.worker = Worker(self.runtime, self.dispatcher)
        self.servicer = ReviewApi(self.runtime, self.dispatcher)

    def register(self, server: grpc.aio.Server) -> None:
        review_pb2_grpc.add_ReviewServiceServicer_to_server(self.servicer, server)

    async def start_background(self) -> None:
        if self.settings.worker.enabled:
            self.worker.start()

    async def close(self) -> None:
        """Stop the worker, let kicked payouts finish (they are safe to cut: a lease runs out
        and the next pass re-sends), close the channels."""
        await self.worker.stop()
        await self.dispatcher.close()
        await self.auth_channel.close()
        await self.wallet_channel.close()


async def serve(settings: ReviewSettings) -> None:
    """Serve until SIGTERM/SIGINT (``python -m services.review``)."""
    common = settings.common
    engine = create_engine(common.database, application_name="tokenmart-review")
    # Fail fast: a service that cannot reach its schema must not report SERVING.
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    service = ReviewService(settings, engine)
    server = GrpcServer(
        service="review",
        settings=common.server,
        tls=common.tls,
        allowlist=access.allowlist(reflection=common.server.reflection),
        registrations=(service.register,),
        served_names=(access.SERVICE,),
        metrics=service.metrics.service,
    )
    await service.start_background()

    async def cleanup() -> None:
        await service.close()
        await engine.dispose()

    await run_until_signal(server, cleanup=cleanup)

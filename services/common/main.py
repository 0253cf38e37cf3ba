"""Start-up of a domain service: logging, database check, metrics, gRPC server, signal handling."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db import create_engine
from services.common.identity import PeerAllowlist
from services.common.logging import configure_logging
from services.common.metrics import ServiceMetrics
from services.common.server import GrpcServer, Registration, run_until_signal
from services.common.settings import ServiceSettings

logger = logging.getLogger("tokenmart.main")

Registrations = Callable[[AsyncEngine, ServiceMetrics], Iterable[Registration]]
"""The servicers over the engine; channels they open record their calls in the metrics."""


async def serve_service(
    settings: ServiceSettings,
    *,
    allowlist: PeerAllowlist,
    registrations: Registrations,
    served_names: Iterable[str],
) -> None:
    engine = create_engine(settings.database, application_name=f"tokenmart-{settings.name}")
    # Fail fast: a service that cannot reach its schema must not report SERVING.
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    metrics = ServiceMetrics(settings.name)
    server = GrpcServer(
        service=settings.name,
        settings=settings.server,
        tls=settings.tls,
        allowlist=allowlist,
        registrations=registrations(engine, metrics),
        served_names=served_names,
        metrics=metrics,
    )
    await run_until_signal(server, cleanup=engine.dispose)


def run_service(
    settings: ServiceSettings,
    *,
    allowlist: PeerAllowlist,
    registrations: Registrations,
    served_names: Iterable[str],
) -> None:
    configure_logging(settings.name, settings.log_level)
    asyncio.run(
        serve_service(
            settings, allowlist=allowlist, registrations=registrations, served_names=served_names
        )
    )

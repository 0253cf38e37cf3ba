"""The gRPC server every domain service runs.

:class:`GrpcServer` puts together: the mTLS listener with the peer allowlist and error mapping
(:mod:`services.common.interceptors`), grpc.health.v1 (every served service plus the overall
``""`` entry), reflection only when configured, an optional plaintext health-only listener for
orchestrator probes, an optional plaintext Prometheus ``/metrics`` listener
(:mod:`services.common.metrics`), and a graceful stop. :func:`run_until_signal` runs one until
SIGTERM or SIGINT, marks it NOT_SERVING, lets in-flight calls finish within the grace period,
then runs the service's clean-up.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Iterable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection

from services.common.identity import PeerAllowlist, server_credentials
from services.common.interceptors import ServerInterceptor
from services.common.metrics import MetricsServer, ServiceMetrics
from services.common.settings import GrpcServerSettings, TlsSettings

logger = logging.getLogger("tokenmart.server")

Registration = Callable[[grpc.aio.Server], None]
MAX_CONNECTION_AGE_MS = 5 * 60 * 1000
MAX_CONNECTION_AGE_GRACE_MS = (3 * 3600 + 600) * 1000
"""A connection past its age takes no new calls but keeps those in flight this long: longer
than the longest call there is (a streamed completion may run up to provider's 3 h bound)."""


class GrpcServer:
    def __init__(
        self,
        *,
        service: str,
        settings: GrpcServerSettings,
        tls: TlsSettings,
        allowlist: PeerAllowlist,
        registrations: Iterable[Registration] = (),
        served_names: Iterable[str] = (),
        metrics: ServiceMetrics | None = None,
    ) -> None:
        """``metrics``: the process's registry (a fresh one of its own when not given)."""
        self.service = service
        self.settings = settings
        self.served_names = tuple(served_names)
        self.metrics = metrics if metrics is not None else ServiceMetrics(service)
        self.health = health_aio.HealthServicer()
        options = [
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            ("grpc.max_send_message_length", settings.max_message_bytes),
            ("grpc.so_reuseport", 0),
            ("grpc.keepalive_time_ms", 30_000),
            # Callers re-resolve the service name when a connection ends: retiring connections
            # after a few minutes (in-flight calls finish first) lets them find new replicas.
            ("grpc.max_connection_age_ms", MAX_CONNECTION_AGE_MS),
            ("grpc.max_connection_age_grace_ms", MAX_CONNECTION_AGE_GRACE_MS),
            ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        ]
        self.server = grpc.aio.server(
            interceptors=[
                ServerInterceptor(
                    service=service, allowlist=allowlist, metrics=self.metrics.grpc_server
                )
            ],
            options=options,
            maximum_concurrent_rpcs=settings.max_concurrent_rpcs,
        )
        for register in registrations:
            register(self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        if settings.reflection:
            names = (*self.served_names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name)
            reflection.enable_server_reflection((*names, reflection.SERVICE_NAME), self.server)
        self.port = self.server.add_secure_port(settings.listen, server_credentials(tls))
        if not self.port:
            raise OSError(f"cannot listen on {settings.listen}")
        self.health_server: grpc.aio.Server | None = None
        self.health_port: int | None = None
        if settings.health_listen:
            self.health_server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
            health_pb2_grpc.add_HealthServicer_to_server(self.health, self.health_server)
            self.health_port = self.health_server.add_insecure_port(settings.health_listen)
        self.metrics_server = (
            MetricsServer(self.metrics, settings.metrics_listen)
            if settings.metrics_listen
            else None
        )
        self.metrics_port: int | None = None

    async def start(self) -> None:
        # Metrics first: a process that is up but not yet serving is worth seeing.
        if self.metrics_server is not None:
            self.metrics_port = await self.metrics_server.start()
        await self.server.start()
        if self.health_server is not None:
            await self.health_server.start()
        await self._set_health(health_pb2.HealthCheckResponse.SERVING)
        logger.info(
            "serving",
            extra={
                "port": self.port,
                "health_port": self.health_port,
                "metrics_port": self.metrics_port,
                "services": self.served_names,
            },
        )

    async def stop(self, grace_s: float | None = None) -> None:
        grace = self.settings.shutdown_grace_s if grace_s is None else grace_s
        await self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.server.stop(grace)
        if self.health_server is not None:
            await self.health_server.stop(0)
        # Last, so the drain itself can be watched.
        if self.metrics_server is not None:
            await self.metrics_server.stop()

    async def _set_health(
        self, status: health_pb2.HealthCheckResponse.ServingStatus.ValueType
    ) -> None:
        for name in ("", *self.served_names):
            await self.health.set(name, status)


async def run_until_signal(
    server: GrpcServer, *, cleanup: Callable[[], Awaitable[None]] | None = None
) -> None:
    """Serve until SIGTERM/SIGINT, then drain within the grace period and clean up."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await server.start()
    try:
        await stopping.wait()
        logger.info("stopping", extra={"grace_s": server.settings.shutdown_grace_s})
        await server.stop()
    finally:
        if cleanup is not None:
            await cleanup()
        logger.info("stopped")

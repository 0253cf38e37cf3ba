"""Prometheus metrics: a registry per process, the gRPC instruments, the ``/metrics`` listener.

Every process builds one :class:`ServiceMetrics` at start-up and passes it down explicitly (no
module-level registry: tests run many servers in one process and each needs its own). It holds:

* the process's :class:`~prometheus_client.CollectorRegistry`, with the standard process, platform
  and garbage-collector collectors;
* :class:`GrpcClientMetrics`, recorded by the client interceptor of every channel the process
  opens, and (for gRPC servers) :class:`GrpcServerMetrics`, recorded by the server interceptor;
* scrape-time refreshers: domain gauges that are read from the database when Prometheus asks
  (holds outstanding, outbox depth, settlement backlog), each under a short timeout, so a gauge is
  never older than the scrape and costs nothing between scrapes.

:class:`MetricsServer` serves the registry as text exposition (or OpenMetrics, when asked) on
``GET /metrics`` over a separate plaintext HTTP listener (``TOKENMART_<SVC>_METRICS_LISTEN``,
``host:port``), on the process's own event loop, and stops with it.

Labels are fixed, small sets chosen by the code (service, method, status code, error reason,
route template, provider): never an id, key, email, token or anything a caller typed, which keeps
the series count bounded and secrets out of the monitoring system.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.exposition import choose_encoder

from services.common.settings import parse_listen

logger = logging.getLogger("tokenmart.metrics")

LATENCY_BUCKETS_S: Final = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
"""RPC and HTTP latencies: most calls take milliseconds; inference streams take up to minutes."""

REFRESH_TIMEOUT_S: Final = 2.0
"""How long one scrape-time refresher may take before its gauges are reported stale."""

UNKNOWN_METHOD: Final = "unknown"
"""The method label of calls to methods this server does not serve (their names are the
caller's choice, so they never become labels)."""

_REASON: Final = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
_SOURCE: Final = re.compile(r"[a-z][a-z0-9_]{0,63}")


def reason_label(reason: str | None, *, code_name: str) -> str:
    """An error reason fit for a label: the ErrorInfo reason when it is a well-formed
    UPPER_SNAKE word, else the status code's name (every reason is a constant in the code, so
    this only guards against a malformed one ever widening the label set)."""
    if reason and _REASON.fullmatch(reason):
        return reason
    return code_name


class _RpcInstruments:
    """A requests counter and a latency histogram by (service, method[, code]), with the
    labelled children cached: ``labels()`` takes a lock and builds a key on every call."""

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        service: str,
        prefix: str,
        requests_help: str,
        latency_help: str,
    ) -> None:
        self.service = service
        self.requests = Counter(
            f"{prefix}_requests", requests_help, ("service", "method", "code"), registry=registry
        )
        self.latency = Histogram(
            f"{prefix}_latency_seconds",
            latency_help,
            ("service", "method"),
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )
        self._requests: dict[tuple[str, str], Counter] = {}
        self._latency: dict[str, Histogram] = {}

    def _record(self, method: str, code: str, elapsed_s: float) -> None:
        counter = self._requests.get((method, code))
        if counter is None:
            counter = self._requests[(method, code)] = self.requests.labels(
                self.service, method, code
            )
        counter.inc()
        histogram = self._latency.get(method)
        if histogram is None:
            histogram = self._latency[method] = self.latency.labels(self.service, method)
        histogram.observe(elapsed_s)


class GrpcServerMetrics(_RpcInstruments):
    """What a gRPC server records for every RPC it answers."""

    def __init__(self, registry: CollectorRegistry, *, service: str) -> None:
        super().__init__(
            registry,
            service=service,
            prefix="tokenmart_grpc_server",
            requests_help="RPCs answered, by method and status code.",
            latency_help="Time from the interceptor taking an RPC to its status, by method.",
        )
        self.errors = Counter(
            "tokenmart_grpc_server_errors",
            "RPCs answered with an error, by method and ErrorInfo reason (the status code's name "
            "when the error carries no reason).",
            ("service", "method", "reason"),
            registry=registry,
        )

    def observe(self, *, method: str, code: str, reason: str | None, elapsed_s: float) -> None:
        self._record(method, code, elapsed_s)
        if code != "OK":
            self.errors.labels(self.service, method, reason_label(reason, code_name=code)).inc()


class GrpcClientMetrics(_RpcInstruments):
    """What a process records for every RPC it makes to another service."""

    def __init__(self, registry: CollectorRegistry, *, service: str) -> None:
        super().__init__(
            registry,
            service=service,
            prefix="tokenmart_grpc_client",
            requests_help="RPCs made to other services, by target method and status code.",
            latency_help=(
                "Time from making an RPC to its status (retries included), by target method."
            ),
        )

    def observe(self, *, method: str, code: str, elapsed_s: float) -> None:
        self._record(method, code, elapsed_s)


Refresh = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class _Refresher:
    source: str
    refresh: Refresh
    timeout_s: float


class ServiceMetrics:
    """One process's registry and the instruments every process shares."""

    def __init__(self, service: str, *, registry: CollectorRegistry | None = None) -> None:
        self.service = service
        self.registry = registry if registry is not None else CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.client = GrpcClientMetrics(self.registry, service=service)
        self._grpc_server: GrpcServerMetrics | None = None
        self._refreshers: list[_Refresher] = []
        self._refresh_round: asyncio.Future[None] | None = None
        self._refresh_ok = Gauge(
            "tokenmart_metrics_refresh_ok",
            "1 when the last scrape-time refresh of a source's gauges succeeded, 0 when it failed "
            "or timed out (its gauges then keep their previous values).",
            ("source",),
            registry=self.registry,
        )

    @property
    def grpc_server(self) -> GrpcServerMetrics:
        """The server instruments, made on first use (the gateway serves no gRPC)."""
        if self._grpc_server is None:
            self._grpc_server = GrpcServerMetrics(self.registry, service=self.service)
        return self._grpc_server

    def on_scrape(
        self, source: str, refresh: Refresh, *, timeout_s: float = REFRESH_TIMEOUT_S
    ) -> None:
        """Run ``refresh`` (bounded by ``timeout_s``) before every scrape is answered."""
        assert _SOURCE.fullmatch(source), source
        assert timeout_s > 0, timeout_s
        self._refreshers.append(_Refresher(source, refresh, timeout_s))

    async def refresh(self) -> None:
        """Refresh every scrape-time source; concurrent scrapes share one round. Never raises."""
        if not self._refreshers:
            return
        if self._refresh_round is None or self._refresh_round.done():
            self._refresh_round = asyncio.ensure_future(self._refresh_all())
        # Shielded: a scraper that goes away must not cancel the round the others wait for.
        await asyncio.shield(self._refresh_round)

    async def _refresh_all(self) -> None:
        await asyncio.gather(*(self._refresh_one(item) for item in self._refreshers))

    async def _refresh_one(self, item: _Refresher) -> None:
        try:
            async with asyncio.timeout(item.timeout_s):
                await item.refresh()
        except Exception as error:  # noqa: BLE001 - a scrape reports, it never fails
            logger.warning(
                "metrics refresh failed",
                extra={"source": item.source, "error": type(error).__name__},
            )
            self._refresh_ok.labels(item.source).set(0)
            return
        self._refresh_ok.labels(item.source).set(1)

    def exposition(self, accept: str = "") -> tuple[bytes, str]:
        """The registry encoded for a scraper's ``Accept`` header: (body, content type)."""
        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type


class MetricsServer:
    """``GET /metrics`` on a plaintext HTTP listener of its own, on the running event loop."""

    def __init__(self, metrics: ServiceMetrics, listen: str) -> None:
        self.metrics = metrics
        self.host, self._requested_port = parse_listen(listen)
        self.port: int | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        """Listen; the port bound (the requested one, or a free one for port 0)."""
        assert self._runner is None, "started twice"
        app = web.Application()
        app.router.add_get("/metrics", self._serve)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self._requested_port, reuse_address=True)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        logger.info("metrics listener started", extra={"metrics_port": self.port})
        return self.port

    async def stop(self) -> None:
        """Stop listening. Idempotent."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
            logger.info("metrics listener stopped", extra={"metrics_port": self.port})

    async def _serve(self, request: web.Request) -> web.Response:
        await self.metrics.refresh()
        body, content_type = self.metrics.exposition(request.headers.get("Accept", ""))
        return web.Response(body=body, headers={"Content-Type": content_type})

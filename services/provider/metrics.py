"""The provider's domain metrics: upstream calls and the settlement backlog.

* Upstream calls are recorded by :class:`~services.provider.upstream.adapters.Upstreams` as they
  happen, by provider (``openai``, ``anthropic``, ``openrouter``): how each call opened (``ok`` or
  the UPSTREAM_* reason it became), how long that took (the whole response for a non-streaming
  call, the response headers for a stream), and every failure, mid-stream breaks included.
* The settlement backlog is read from the database when Prometheus scrapes (one query over the
  unsettled generations, which a partial index covers): generations that finished but whose
  billing has not reached wallet yet, and the age of the oldest. Steady growth means settlement
  is failing (wallet unreachable, or a generation the re-driver keeps retrying).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.metrics import ServiceMetrics, reason_label
from services.provider.store.models import SCHEMA

UPSTREAM_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
OK = "ok"

_BACKLOG = text(
    "SELECT count(*) FILTER (WHERE status <> 'in_progress'), "
    "coalesce(extract(epoch FROM now() - min(finished_at) "
    "FILTER (WHERE status <> 'in_progress')), 0), "
    "count(*) FILTER (WHERE status = 'in_progress') "
    f"FROM {SCHEMA}.generations WHERE settlement_status = 'pending'"
)


class UpstreamMetrics:
    """Calls to the LLM APIs, by provider."""

    def __init__(self, metrics: ServiceMetrics) -> None:
        registry = metrics.registry
        self.requests = Counter(
            "tokenmart_provider_upstream_requests",
            "Upstream calls by provider, streaming or not, and how they opened: ok, or the "
            "UPSTREAM_* reason the failure became.",
            ("provider", "stream", "outcome"),
            registry=registry,
        )
        self.errors = Counter(
            "tokenmart_provider_upstream_errors",
            "Upstream failures by provider and reason, streams that broke midway included.",
            ("provider", "reason"),
            registry=registry,
        )
        self.latency = Histogram(
            "tokenmart_provider_upstream_latency_seconds",
            "Time to the whole response (non-streaming) or to the response headers (streaming).",
            ("provider", "stream"),
            buckets=UPSTREAM_BUCKETS_S,
            registry=registry,
        )

    def opened(self, provider: str, *, stream: bool, reason: str | None, elapsed_s: float) -> None:
        """One call answered (``reason`` None) or refused/failed before its body."""
        streaming = "true" if stream else "false"
        outcome = OK if reason is None else reason_label(reason, code_name="UPSTREAM_UNAVAILABLE")
        self.requests.labels(provider, streaming, outcome).inc()
        self.latency.labels(provider, streaming).observe(elapsed_s)
        if reason is not None:
            self.errors.labels(provider, outcome).inc()

    def stream_broken(self, provider: str, reason: str) -> None:
        self.errors.labels(provider, reason_label(reason, code_name="UPSTREAM_UNAVAILABLE")).inc()


class ProviderMetrics:
    """The provider's instruments on the process registry."""

    def __init__(self, metrics: ServiceMetrics, engine: AsyncEngine) -> None:
        self.service = metrics
        self._engine = engine
        self.upstream = UpstreamMetrics(metrics)
        registry = metrics.registry
        self.settlement_backlog = Gauge(
            "tokenmart_provider_settlement_backlog",
            "Finished generations whose billing is not yet settled with wallet.",
            registry=registry,
        )
        self.settlement_backlog_oldest_age = Gauge(
            "tokenmart_provider_settlement_backlog_oldest_age_seconds",
            "How long ago the oldest unsettled generation finished (0 when none).",
            registry=registry,
        )
        self.generations_in_progress = Gauge(
            "tokenmart_provider_generations_in_progress",
            "Generations still running upstream with a hold on the agent's wallet.",
            registry=registry,
        )
        metrics.on_scrape("provider_settlement", self.refresh_backlog)

    async def refresh_backlog(self) -> None:
        async with self._engine.connect() as connection:
            backlog, oldest_s, in_progress = (await connection.execute(_BACKLOG)).one()
        self.settlement_backlog.set(backlog)
        self.settlement_backlog_oldest_age.set(float(oldest_s))
        self.generations_in_progress.set(in_progress)

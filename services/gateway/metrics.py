"""The gateway's metrics: HTTP requests, error reasons, rate limits and the auth cache.

Recorded on the process's :class:`~services.common.metrics.ServiceMetrics` registry (which also
holds the gRPC client metrics of the backend channels) and served on the metrics listener:

* ``tokenmart_http_requests_total{route,method,status}`` and
  ``tokenmart_http_latency_seconds{route,method}``: ``route`` is the route *template*
  (``/api/v1/tokenhall/generation/{generation_id}``), ``unmatched`` when no route matches; the raw
  path never becomes a label (ids and secret-looking paths would leak and multiply series).
  ``method`` is one of the standard methods or ``OTHER``; ``status`` is ``0`` when the client went
  away before any response started.
* ``tokenmart_http_errors_total{reason}``: every error envelope the gateway answered, by reason.
* ``tokenmart_ratelimit_decisions_total{bucket,decision,source}``: each limit checked, allowed or
  limited, decided in Redis or in-process; ``tokenmart_ratelimit_fallback_active`` is 1 while the
  decisions are made in-process (Redis down, or none configured).
* ``tokenmart_auth_cache_lookups_total{result}``: ``hit`` (a recent answer of auth reused),
  ``shared`` (joined a call to auth already in flight) or ``miss`` (asked auth).
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge, Histogram

from services.common.metrics import LATENCY_BUCKETS_S, ServiceMetrics, reason_label
from services.gateway.ratelimit import Decision, RateLimiter

UNMATCHED_ROUTE: Final = "unmatched"
NO_RESPONSE_STATUS: Final = "0"
_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str) -> str:
    """The HTTP method, or ``OTHER``: a client may send any token as a method."""
    return method if method in _METHODS else "OTHER"


class GatewayMetrics:
    """The gateway's instruments; ``service`` is the process registry they live in."""

    def __init__(self, service: ServiceMetrics | None = None) -> None:
        self.service = service if service is not None else ServiceMetrics("gateway")
        registry = self.service.registry
        self.requests = Counter(
            "tokenmart_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ("route", "method", "status"),
            registry=registry,
        )
        self.latency = Histogram(
            "tokenmart_http_latency_seconds",
            "Time from a request's arrival to the end of its response, by route template.",
            ("route", "method"),
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )
        self.errors = Counter(
            "tokenmart_http_errors",
            "Error responses by reason (the reason field of the error envelope).",
            ("reason",),
            registry=registry,
        )
        self.rate_limit_decisions = Counter(
            "tokenmart_ratelimit_decisions",
            "Rate-limit checks by bucket, decision (allowed or limited) and deciding store "
            "(redis, or local while Redis is unavailable).",
            ("bucket", "decision", "source"),
            registry=registry,
        )
        self.rate_limit_fallback = Gauge(
            "tokenmart_ratelimit_fallback_active",
            "1 while rate limits are decided in-process (Redis down or not configured).",
            registry=registry,
        )
        self.auth_cache = Counter(
            "tokenmart_auth_cache_lookups",
            "Credential checks by how they were answered: hit (cached answer of auth), shared "
            "(joined a call in flight) or miss (asked auth).",
            ("result",),
            registry=registry,
        )

    def request(
        self, *, route: str, method: str, status: int | None, elapsed_s: float, reason: str | None
    ) -> None:
        method = method_label(method)
        status_label = str(status) if status is not None else NO_RESPONSE_STATUS
        self.requests.labels(route, method, status_label).inc()
        self.latency.labels(route, method).observe(elapsed_s)
        if reason is not None:
            self.errors.labels(reason_label(reason, code_name="UNKNOWN")).inc()

    def rate_limit_decision(self, bucket: str, decision: Decision) -> None:
        self.rate_limit_decisions.labels(
            bucket, "allowed" if decision.allowed else "limited", decision.source
        ).inc()

    def auth_cache_lookup(self, result: str) -> None:
        self.auth_cache.labels(result).inc()

    def watch(self, limiter: RateLimiter) -> None:
        """Report ``limiter``'s fallback state at every scrape."""
        self.rate_limit_fallback.set_function(lambda: 1.0 if limiter.degraded else 0.0)

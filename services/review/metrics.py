"""The review service's domain metrics: the payout outbox.

Read from the database when Prometheus scrapes (one query over the undelivered entries, which a
partial index covers), so every replica reports the same numbers:

* ``tokenmart_review_outbox_pending``: payouts written by a decision and not yet delivered to
  wallet. It rises and falls with traffic; steady growth means the dispatcher cannot deliver.
* ``tokenmart_review_outbox_oldest_pending_age_seconds``: how long the oldest of them has waited.
* ``tokenmart_review_outbox_stuck``: entries that failed too often or were refused for good and
  wait for an operator (``tokenmartctl review outbox`` / ``redrive``).
"""

from __future__ import annotations

from prometheus_client import Gauge
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.metrics import ServiceMetrics
from services.review.store.models import SCHEMA

_OUTBOX = text(
    "SELECT count(*) FILTER (WHERE status = 'pending'), "
    "coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE status = 'pending')), 0), "
    "count(*) FILTER (WHERE status = 'stuck') "
    f"FROM {SCHEMA}.outbox_entries WHERE status <> 'delivered'"
)


class ReviewMetrics:
    """The outbox gauges on the process registry, refreshed at scrape time."""

    def __init__(self, metrics: ServiceMetrics, engine: AsyncEngine) -> None:
        self.service = metrics
        self._engine = engine
        registry = metrics.registry
        self.outbox_pending = Gauge(
            "tokenmart_review_outbox_pending",
            "Payout outbox entries written and not yet delivered to wallet.",
            registry=registry,
        )
        self.outbox_oldest_pending_age = Gauge(
            "tokenmart_review_outbox_oldest_pending_age_seconds",
            "Age of the oldest pending payout outbox entry (0 when none is pending).",
            registry=registry,
        )
        self.outbox_stuck = Gauge(
            "tokenmart_review_outbox_stuck",
            "Payout outbox entries that stopped retrying and wait for an operator.",
            registry=registry,
        )
        metrics.on_scrape("review_outbox", self.refresh_outbox)

    async def refresh_outbox(self) -> None:
        async with self._engine.connect() as connection:
            pending, oldest_s, stuck = (await connection.execute(_OUTBOX)).one()
        self.outbox_pending.set(pending)
        self.outbox_oldest_pending_age.set(float(oldest_s))
        self.outbox_stuck.set(stuck)

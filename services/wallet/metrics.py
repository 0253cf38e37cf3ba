"""The wallet's domain metrics: holds outstanding and the last ledger verification.

* Holds are read from the database when Prometheus scrapes (one indexed query on the pending
  holds, bounded by :data:`~services.common.metrics.REFRESH_TIMEOUT_S`), so every replica reports
  the same ledger-wide numbers and nothing is counted between scrapes.
* The ledger verification result is recorded by the servicer each time ``VerifyLedger`` runs on
  this process, and is absent (no sample at all) until one has: a process that has never verified
  must not look like one whose verification failed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.metrics import ServiceMetrics
from services.wallet.domain.verification import Report
from services.wallet.store.models import SCHEMA

# The partial index ix_holds_pending_expires_at covers exactly these rows.
_PENDING_HOLDS = text(
    "SELECT count(*), coalesce(sum(amount), 0), count(*) FILTER (WHERE expires_at < now()) "
    f"FROM {SCHEMA}.holds WHERE status = 'pending'"
)


@dataclass(frozen=True)
class _Verification:
    ok: bool
    accounts_checked: int
    transfers_checked: int
    failures_found: int
    finished_at_s: float
    duration_s: float


class LedgerVerificationMetrics(Collector):
    """The result of the last ``VerifyLedger`` this process ran."""

    def __init__(self) -> None:
        self._last: _Verification | None = None

    def record(self, report: Report, *, duration_s: float) -> None:
        self._last = _Verification(
            ok=report.ok,
            accounts_checked=report.accounts_checked,
            transfers_checked=report.transfers_checked,
            failures_found=report.failures_found,
            finished_at_s=time.time(),
            duration_s=duration_s,
        )

    def collect(self) -> Iterator[GaugeMetricFamily]:
        last = self._last
        if last is None:
            return
        yield GaugeMetricFamily(
            "tokenmart_wallet_ledger_verification_ok",
            "1 when the last VerifyLedger on this process found every hash chain, balance and "
            "total correct; 0 when it found any failure.",
            value=1 if last.ok else 0,
        )
        yield GaugeMetricFamily(
            "tokenmart_wallet_ledger_verification_timestamp_seconds",
            "When the last VerifyLedger on this process finished (Unix time).",
            value=last.finished_at_s,
        )
        yield GaugeMetricFamily(
            "tokenmart_wallet_ledger_verification_transfers_checked",
            "Transfers the last VerifyLedger on this process recomputed.",
            value=last.transfers_checked,
        )
        yield GaugeMetricFamily(
            "tokenmart_wallet_ledger_verification_accounts_checked",
            "Ledger accounts the last VerifyLedger on this process recomputed.",
            value=last.accounts_checked,
        )
        yield GaugeMetricFamily(
            "tokenmart_wallet_ledger_verification_failures",
            "Failures the last VerifyLedger on this process found (0 when ok).",
            value=last.failures_found,
        )
        yield GaugeMetricFamily(
            "tokenmart_wallet_ledger_verification_duration_seconds",
            "How long the last VerifyLedger on this process took.",
            value=last.duration_s,
        )


class WalletMetrics:
    """The wallet's gauges on the process registry, and the refresher that reads the holds."""

    def __init__(self, metrics: ServiceMetrics, engine: AsyncEngine) -> None:
        self.service = metrics
        self._engine = engine
        self.verification = LedgerVerificationMetrics()
        metrics.registry.register(self.verification)
        registry = metrics.registry
        self.holds_pending = Gauge(
            "tokenmart_wallet_holds_pending",
            "Holds (inference reservations) pending in the whole ledger.",
            registry=registry,
        )
        self.holds_pending_micros = Gauge(
            "tokenmart_wallet_holds_pending_micros",
            "Micro-credits reserved by pending holds in the whole ledger.",
            registry=registry,
        )
        self.holds_overdue = Gauge(
            "tokenmart_wallet_holds_overdue",
            "Pending holds past their timeout, waiting for the sweeper to void them.",
            registry=registry,
        )
        metrics.on_scrape("wallet_holds", self.refresh_holds)

    async def refresh_holds(self) -> None:
        async with self._engine.connect() as connection:
            count, micros, overdue = (await connection.execute(_PENDING_HOLDS)).one()
        self.holds_pending.set(count)
        self.holds_pending_micros.set(micros)
        self.holds_overdue.set(overdue)

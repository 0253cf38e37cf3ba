"""VerifyLedger: recompute the whole ledger on one consistent snapshot.

Accounts and transfers are read in a read-only REPEATABLE READ transaction, so what is compared
is one moment of the ledger even while transfers keep arriving. Rows stream through server-side
cursors in chunks (each fetch is one bounded statement), and the verifier keeps only per-account
state and the open holds, so the cost is linear in the ledger and memory does not grow with it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from services.wallet import errors
from services.wallet.domain.verification import LedgerVerifier, Report
from services.wallet.operations.runtime import Runtime
from services.wallet.store import accounts as account_store
from services.wallet.store import transfers as transfer_store

DEFAULT_MAX_FAILURES = 100
MAX_FAILURES = 1000
CHUNK = 5000


def max_failures(requested: int) -> int:
    if requested < 0:
        raise errors.MaxFailuresInvalid()
    return min(requested or DEFAULT_MAX_FAILURES, MAX_FAILURES)


@dataclass(frozen=True)
class Verification:
    report: Report
    started_at: datetime.datetime
    finished_at: datetime.datetime


async def verify_ledger(runtime: Runtime, *, failures_kept: int) -> Verification:
    started_at = runtime.now()
    verifier = LedgerVerifier(
        now=started_at,
        overdue_grace_s=runtime.settings.sweeper.overdue_grace_s,
        max_failures=failures_kept,
    )
    async with runtime.database.snapshot() as connection:
        async for accounts in account_store.stream_stored(connection, chunk=CHUNK):
            verifier.add_accounts(accounts)
        async for transfers in transfer_store.stream_stored(connection, chunk=CHUNK):
            verifier.add_transfers(transfers)
    report = verifier.finish()
    return Verification(report=report, started_at=started_at, finished_at=runtime.now())

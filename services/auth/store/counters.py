"""Attempt counters (login lockout, claim throttling), keyed by a digest of their subject."""

from __future__ import annotations

import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.domain.lockout import EMPTY_COUNTER, AttemptCounter
from services.auth.store import models


async def read(
    tx: AsyncSession, *, scope: str, subject: bytes, now: datetime.datetime
) -> AttemptCounter:
    """The counter of ``subject`` (empty when it never failed).

    Callers that decide on the counter serialize on an advisory lock for the subject first, so
    concurrent attempts cannot slip past the threshold together; no row is written for subjects
    that never fail.
    """
    row = (
        await tx.execute(
            select(models.AttemptCounter)
            .where(
                models.AttemptCounter.scope == scope,
                models.AttemptCounter.subject_digest == subject,
            )
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if row is None:
        return EMPTY_COUNTER
    return AttemptCounter(
        failure_count=row.failure_count,
        last_failure_at=row.last_failure_at,
        locked_until=row.locked_until,
    )


async def save(
    tx: AsyncSession,
    *,
    scope: str,
    subject: bytes,
    counter: AttemptCounter,
    now: datetime.datetime,
) -> None:
    values = {
        "failure_count": counter.failure_count,
        "last_failure_at": counter.last_failure_at,
        "locked_until": counter.locked_until,
        "updated_at": now,
    }
    await tx.execute(
        insert(models.AttemptCounter)
        .values(scope=scope, subject_digest=subject, **values)
        .on_conflict_do_update(
            index_elements=[models.AttemptCounter.scope, models.AttemptCounter.subject_digest],
            set_=values,
        )
    )

"""Queries on correlation flags (one row per pair, in id order, so flags are symmetric)."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Collection

from sqlalchemy import or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.review.domain.model import Correlation, ordered_pair
from services.review.store import convert, models


async def live_flag(tx: AsyncSession, first: uuid.UUID, second: uuid.UUID) -> Correlation | None:
    agent_a, agent_b = ordered_pair(first, second)
    row = (
        await tx.execute(
            select(models.Correlation).where(
                models.Correlation.agent_a_id == agent_a,
                models.Correlation.agent_b_id == agent_b,
                models.Correlation.deleted_at.is_(None),
            )
        )
    ).scalar_one_or_none()
    return convert.correlation(row) if row else None


async def insert_flag(
    tx: AsyncSession,
    *,
    flag_id: uuid.UUID,
    first: uuid.UUID,
    second: uuid.UUID,
    reason: str,
    created_by_account_id: uuid.UUID,
    now: datetime.datetime,
) -> Correlation:
    agent_a, agent_b = ordered_pair(first, second)
    row = models.Correlation(
        id=flag_id,
        agent_a_id=agent_a,
        agent_b_id=agent_b,
        reason=reason,
        created_by_account_id=created_by_account_id,
        created_at=now,
        deleted_at=None,
        deleted_by_account_id=None,
    )
    tx.add(row)
    await tx.flush()
    return convert.correlation(row)


async def flag_by_id(
    tx: AsyncSession, flag_id: uuid.UUID, *, lock: bool = False
) -> Correlation | None:
    query = select(models.Correlation).where(models.Correlation.id == flag_id)
    if lock:
        # key_share=True renders FOR NO KEY UPDATE (see store/database.py).
        query = query.with_for_update(key_share=True).execution_options(populate_existing=True)
    row = (await tx.execute(query)).scalar_one_or_none()
    return convert.correlation(row) if row else None


async def delete_flag(
    tx: AsyncSession, flag_id: uuid.UUID, *, account_id: uuid.UUID, now: datetime.datetime
) -> Correlation:
    row = (
        await tx.execute(
            update(models.Correlation)
            .where(models.Correlation.id == flag_id, models.Correlation.deleted_at.is_(None))
            .values(deleted_at=now, deleted_by_account_id=account_id)
            .returning(models.Correlation)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    return convert.correlation(row)


async def correlated_with(tx: AsyncSession, agent_id: uuid.UUID) -> frozenset[uuid.UUID]:
    """Every agent with a live flag shared with ``agent_id``, from either side of the pair."""
    rows = (
        await tx.execute(
            select(models.Correlation.agent_a_id, models.Correlation.agent_b_id).where(
                models.Correlation.deleted_at.is_(None),
                or_(
                    models.Correlation.agent_a_id == agent_id,
                    models.Correlation.agent_b_id == agent_id,
                ),
            )
        )
    ).all()
    return frozenset(row[1] if row[0] == agent_id else row[0] for row in rows)


async def flagged_among(
    tx: AsyncSession, agent_ids: Collection[uuid.UUID]
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """The live flags whose both agents are in ``agent_ids``."""
    if len(agent_ids) < 2:
        return []
    ids = list(agent_ids)
    rows = (
        await tx.execute(
            select(models.Correlation.agent_a_id, models.Correlation.agent_b_id).where(
                models.Correlation.deleted_at.is_(None),
                models.Correlation.agent_a_id.in_(ids),
                models.Correlation.agent_b_id.in_(ids),
            )
        )
    ).all()
    return [(row[0], row[1]) for row in rows]


async def list_flags(
    tx: AsyncSession,
    *,
    agent_id: uuid.UUID | None,
    after: tuple[datetime.datetime, uuid.UUID] | None,
    limit: int,
) -> list[Correlation]:
    """Live flags, newest first: created_at descending, then id descending."""
    query = select(models.Correlation).where(models.Correlation.deleted_at.is_(None))
    if agent_id is not None:
        query = query.where(
            or_(
                models.Correlation.agent_a_id == agent_id,
                models.Correlation.agent_b_id == agent_id,
            )
        )
    if after is not None:
        query = query.where(tuple_(models.Correlation.created_at, models.Correlation.id) < after)
    query = query.order_by(
        models.Correlation.created_at.desc(), models.Correlation.id.desc()
    ).limit(limit)
    return [convert.correlation(row) for row in (await tx.execute(query)).scalars()]

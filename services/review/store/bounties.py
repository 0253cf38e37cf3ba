"""Queries on bounties."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.review.domain.model import Bounty, BountyStatus, BountyType
from services.review.domain.validation import BountyTerms
from services.review.store import convert, models


async def insert_bounty(
    tx: AsyncSession,
    *,
    bounty_id: uuid.UUID,
    terms: BountyTerms,
    escrow_transfer_id: uuid.UUID,
    created_by_account_id: uuid.UUID,
    now: datetime.datetime,
) -> Bounty:
    row = models.Bounty(
        id=bounty_id,
        title=terms.title,
        description=terms.description,
        type=terms.type.value,
        reward_micros=terms.reward_micros,
        reviewer_reward_micros=terms.reviewer_reward_micros,
        reviewers_per_claim=terms.reviewers_per_claim,
        votes_to_decide=terms.votes_to_decide,
        max_claims=terms.max_claims,
        claims_taken=0,
        slots_refunded=0,
        claims_settled=0,
        required_trust_tier=terms.required_trust_tier,
        deadline=terms.deadline,
        status=BountyStatus.OPEN.value,
        slot_escrow_micros=terms.slot_escrow_micros,
        escrow_micros=terms.escrow_micros,
        escrow_outstanding_micros=terms.escrow_micros,
        escrow_transfer_id=escrow_transfer_id,
        created_by_account_id=created_by_account_id,
        created_at=now,
        updated_at=now,
        cancel_reason=None,
        cancelled_at=None,
        closed_at=None,
        completed_at=None,
    )
    tx.add(row)
    await tx.flush()
    return convert.bounty(row)


async def bounty_by_id(
    tx: AsyncSession, bounty_id: uuid.UUID, *, lock: bool = False
) -> Bounty | None:
    query = select(models.Bounty).where(models.Bounty.id == bounty_id)
    if lock:
        # key_share=True renders FOR NO KEY UPDATE (see store/database.py).
        query = query.with_for_update(key_share=True).execution_options(populate_existing=True)
    row = (await tx.execute(query)).scalar_one_or_none()
    return convert.bounty(row) if row else None


async def update_bounty(tx: AsyncSession, bounty_id: uuid.UUID, **values: Any) -> Bounty:
    """Write ``values`` to a bounty the caller has locked, and return it as it is now."""
    row = (
        await tx.execute(
            update(models.Bounty)
            .where(models.Bounty.id == bounty_id)
            .values(**values)
            .returning(models.Bounty)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    return convert.bounty(row)


@dataclass(frozen=True)
class BountyFilter:
    statuses: frozenset[BountyStatus] = frozenset()
    type: BountyType | None = None
    agent_id: uuid.UUID | None = None
    """When set, only what this agent may see: the board, and bounties it holds a claim on."""
    claimed_by_agent: bool = False
    """Only bounties ``agent_id`` holds a claim on."""


async def list_bounties(
    tx: AsyncSession,
    *,
    where: BountyFilter,
    board: Collection[BountyStatus],
    after: tuple[datetime.datetime, uuid.UUID] | None,
    limit: int,
) -> list[Bounty]:
    """Newest first: created_at descending, then id descending."""
    query = select(models.Bounty)
    if where.statuses:
        query = query.where(models.Bounty.status.in_([status.value for status in where.statuses]))
    if where.type is not None:
        query = query.where(models.Bounty.type == where.type.value)
    if where.agent_id is not None:
        holds_claim = exists().where(
            models.Claim.bounty_id == models.Bounty.id, models.Claim.agent_id == where.agent_id
        )
        if where.claimed_by_agent:
            query = query.where(holds_claim)
        else:
            query = query.where(
                or_(models.Bounty.status.in_([status.value for status in board]), holds_claim)
            )
    if after is not None:
        query = query.where(tuple_(models.Bounty.created_at, models.Bounty.id) < after)
    query = query.order_by(models.Bounty.created_at.desc(), models.Bounty.id.desc()).limit(limit)
    return [convert.bounty(row) for row in (await tx.execute(query)).scalars()]


async def past_deadline(tx: AsyncSession, *, now: datetime.datetime, limit: int) -> list[uuid.UUID]:
    """Open or filled bounties whose deadline has passed, oldest deadline first."""
    query = (
        select(models.Bounty.id)
        .where(
            models.Bounty.status.in_([BountyStatus.OPEN.value, BountyStatus.FILLED.value]),
            models.Bounty.deadline <= now,
        )
        .order_by(models.Bounty.deadline)
        .limit(limit)
    )
    return list((await tx.execute(query)).scalars())


async def total_outstanding(tx: AsyncSession) -> int:
    total = (
        await tx.execute(
            select(func.coalesce(func.sum(models.Bounty.escrow_outstanding_micros), 0))
        )
    ).scalar_one()
    return int(total)

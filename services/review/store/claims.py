"""Queries on claims and their reviews."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.review.domain.model import (
    LIVE_REVIEWS,
    Bounty,
    Claim,
    ClaimStatus,
    Decision,
    Review,
    ReviewStatus,
)
from services.review.store import convert, models

# -- claims -------------------------------------------------------------------------------------


async def insert_claim(
    tx: AsyncSession,
    *,
    claim_id: uuid.UUID,
    bounty_id: uuid.UUID,
    agent_id: uuid.UUID,
    owner_account_id: uuid.UUID,
    now: datetime.datetime,
) -> Claim:
    row = models.Claim(
        id=claim_id,
        bounty_id=bounty_id,
        agent_id=agent_id,
        owner_account_id=owner_account_id,
        status=ClaimStatus.CLAIMED.value,
        submission_text=None,
        claimed_at=now,
        submitted_at=None,
        finalized_at=None,
        decision=None,
        approvals=0,
        rejections=0,
        awaiting_reviewers=False,
        updated_at=now,
    )
    tx.add(row)
    await tx.flush()
    return convert.claim(row)


async def claim_by_id(tx: AsyncSession, claim_id: uuid.UUID, *, lock: bool = False) -> Claim | None:
    query = select(models.Claim).where(models.Claim.id == claim_id)
    if lock:
        # key_share=True renders FOR NO KEY UPDATE (see store/database.py).
        query = query.with_for_update(key_share=True).execution_options(populate_existing=True)
    row = (await tx.execute(query)).scalar_one_or_none()
    return convert.claim(row) if row else None


async def claim_of(tx: AsyncSession, *, bounty_id: uuid.UUID, agent_id: uuid.UUID) -> Claim | None:
    row = (
        await tx.execute(
            select(models.Claim).where(
                models.Claim.bounty_id == bounty_id, models.Claim.agent_id == agent_id
            )
        )
    ).scalar_one_or_none()
    return convert.claim(row) if row else None


async def unsubmitted_claims_of(tx: AsyncSession, agent_id: uuid.UUID) -> int:
    """Claims ``agent_id`` holds and has not submitted yet (the per-agent cap counts these)."""
    count = (
        await tx.execute(
            select(func.count()).where(
                models.Claim.agent_id == agent_id,
                models.Claim.status == ClaimStatus.CLAIMED.value,
            )
        )
    ).scalar_one()
    return int(count)


async def submit(
    tx: AsyncSession,
    *,
    bounty_id: uuid.UUID,
    agent_id: uuid.UUID,
    submission_text: str,
    now: datetime.datetime,
) -> Claim | None:
    """Compare-and-swap ``claimed -> submitted``; None when the claim was not ``claimed``."""
    row = (
        await tx.execute(
            update(models.Claim)
            .where(
                models.Claim.bounty_id == bounty_id,
                models.Claim.agent_id == agent_id,
                models.Claim.status == ClaimStatus.CLAIMED.value,
            )
            .values(
                status=ClaimStatus.SUBMITTED.value,
                submission_text=submission_text,
                submitted_at=now,
                updated_at=now,
            )
            .returning(models.Claim)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    return convert.claim(row) if row else None


async def set_awaiting(
    tx: AsyncSession, claim_id: uuid.UUID, *, awaiting: bool, now: datetime.datetime
) -> None:
    await tx.execute(
        update(models.Claim)
        .where(models.Claim.id == claim_id, models.Claim.awaiting_reviewers.is_not(awaiting))
        .values(awaiting_reviewers=awaiting, updated_at=now)
    )


async def finalize(
    tx: AsyncSession,
    claim_id: uuid.UUID,
    *,
    decision: Decision,
    approvals: int,
    rejections: int,
    now: datetime.datetime,
) -> Claim | None:
    """Compare-and-swap ``submitted -> approved | rejected``; None if it was not ``submitted``."""
    status = ClaimStatus.APPROVED if decision is Decision.APPROVE else ClaimStatus.REJECTED
    row = (
        await tx.execute(
            update(models.Claim)
            .where(models.Claim.id == claim_id, models.Claim.status == ClaimStatus.SUBMITTED.value)
            .values(
                status=status.value,
                decision=decision.value,
                approvals=approvals,
                rejections=rejections,
                finalized_at=now,
                awaiting_reviewers=False,
                updated_at=now,
            )
            .returning(models.Claim)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    return convert.claim(row) if row else None


async def count_votes(
    tx: AsyncSession, claim_id: uuid.UUID, *, approvals: int, rejections: int
) -> None:
    await tx.execute(
        update(models.Claim)
        .where(models.Claim.id == claim_id)
        .values(approvals=approvals, rejections=rejections)
    )


async def end_unsubmitted(
    tx: AsyncSession, bounty_id: uuid.UUID, *, status: ClaimStatus, now: datetime.datetime
) -> int:
    """Move every ``claimed`` claim of a bounty to ``status`` (expired or cancelled)."""
    assert status in (ClaimStatus.EXPIRED, ClaimStatus.CANCELLED)
    rows = (
        await tx.execute(
            update(models.Claim)
            .where(
                models.Claim.bounty_id == bounty_id,
                models.Claim.status == ClaimStatus.CLAIMED.value,
            )
            .values(status=status.value, finalized_at=now, updated_at=now)
            .returning(models.Claim.id)
        )
    ).all()
    return len(rows)


async def unused_claims_of(tx: AsyncSession, bounty_id: uuid.UUID) -> int:
    """Claims of a bounty that ended without a submission (expired or cancelled)."""
    count = (
        await tx.execute(
            select(func.count()).where(
                models.Claim.bounty_id == bounty_id,
                models.Claim.status.in_([ClaimStatus.EXPIRED.value, ClaimStatus.CANCELLED.value]),
            )
        )
    ).scalar_one()
    return int(count)


@dataclass(frozen=True)
class ClaimFilter:
    agent_id: uuid.UUID | None = None
    bounty_id: uuid.UUID | None = None
    statuses: frozenset[ClaimStatus] = frozenset()
    awaiting_reviewers_only: bool = False


async def list_claims(
    tx: AsyncSession,
    *,
    where: ClaimFilter,
    after: tuple[datetime.datetime, uuid.UUID] | None,
    limit: int,
) -> list[Claim]:
    """Newest first: claimed_at descending, then id descending."""
    query = select(models.Claim)
    if where.agent_id is not None:
        query = query.where(models.Claim.agent_id == where.agent_id)
    if where.bounty_id is not None:
        query = query.where(models.Claim.bounty_id == where.bounty_id)
    if where.statuses:
        query = query.where(models.Claim.status.in_([status.value for status in where.statuses]))
    if where.awaiting_reviewers_only:
        query = query.where(models.Claim.awaiting_reviewers)
    if after is not None:
        query = query.where(tuple_(models.Claim.claimed_at, models.Claim.id) < after)
    query = query.order_by(models.Claim.claimed_at.desc(), models.Claim.id.desc()).limit(limit)
    return [convert.claim(row) for row in (await tx.execute(query)).scalars()]


async def awaiting_reviewers(tx: AsyncSession, *, limit: int) -> list[uuid.UUID]:
    """Submitted claims short of reviewers, longest waiting first."""
    query = (
        select(models.Claim.id)
        .where(models.Claim.awaiting_reviewers)
        .order_by(models.Claim.submitted_at)
        .limit(limit)
    )
    return list((await tx.execute(query)).scalars())


# -- reviews ------------------------------------------------------------------------------------


async def insert_review(
    tx: AsyncSession,
    *,
    claim: Claim,
    reviewer_agent_id: uuid.UUID,
    reviewer_owner_account_id: uuid.UUID,
    slot: int,
    now: datetime.datetime,
    due_at: datetime.datetime,
) -> Review:
    row = models.Review(
        id=uuid.uuid4(),
        claim_id=claim.id,
        bounty_id=claim.bounty_id,
        reviewer_agent_id=reviewer_agent_id,
        reviewer_owner_account_id=reviewer_owner_account_id,
        slot=slot,
        status=ReviewStatus.ASSIGNED.value,
        decision=None,
        notes=None,
        assigned_at=now,
        due_at=due_at,
        submitted_at=None,
        closed_at=None,
        reward_micros=0,
    )
    tx.add(row)
    await tx.flush()
    return convert.review(row)


async def reviews_of(
    tx: AsyncSession, claim_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, list[Review]]:
    """Every review of the claims, by claim, in slot then assignment order."""
    result: dict[uuid.UUID, list[Review]] = {claim_id: [] for claim_id in claim_ids}
    if not claim_ids:
        return result
    rows = (
        await tx.execute(
            select(models.Review)
            .where(models.Review.claim_id.in_(list(claim_ids)))
            .order_by(models.Review.slot, models.Review.assigned_at, models.Review.id)
        )
    ).scalars()
    for row in rows:
        result[row.claim_id].append(convert.review(row))
    return result


async def review_by_id(tx: AsyncSession, review_id: uuid.UUID) -> Review | None:
    row = (
        await tx.execute(select(models.Review).where(models.Review.id == review_id))
    ).scalar_one_or_none()
    return convert.review(row) if row else None


async def vote(
    tx: AsyncSession,
    review_id: uuid.UUID,
    *,
    decision: Decision,
    notes: str,
    reward_micros: int,
    now: datetime.datetime,
) -> Review | None:
    """Compare-and-swap on the empty decision; None when the review was not ``assigned``."""
    row = (
        await tx.execute(
            update(models.Review)
            .where(
                models.Review.id == review_id, models.Review.status == ReviewStatus.ASSIGNED.value
            )
            .values(
                status=ReviewStatus.SUBMITTED.value,
                decision=decision.value,
                notes=notes,
                submitted_at=now,
                reward_micros=reward_micros,
            )
            .returning(models.Review)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    return convert.review(row) if row else None


async def close_reviews(
    tx: AsyncSession,
    review_ids: Sequence[uuid.UUID],
    *,
    status: ReviewStatus,
    now: datetime.datetime,
) -> int:
    """Withdraw or replace assigned reviews (a cast vote is never closed)."""
    assert status in (ReviewStatus.WITHDRAWN, ReviewStatus.REPLACED)
    if not review_ids:
        return 0
    rows = (
        await tx.execute(
            update(models.Review)
            .where(
                models.Review.id.in_(list(review_ids)),
                models.Review.status == ReviewStatus.ASSIGNED.value,
            )
            .values(status=status.value, closed_at=now)
            .returning(models.Review.id)
        )
    ).all()
    return len(rows)


async def overdue_claims(
    tx: AsyncSession, *, now: datetime.datetime, limit: int
) -> list[uuid.UUID]:
    """Claims with an assigned review past due, most overdue first."""
    query = (
        select(models.Review.claim_id, func.min(models.Review.due_at).label("due"))
        .where(models.Review.status == ReviewStatus.ASSIGNED.value, models.Review.due_at <= now)
        .group_by(models.Review.claim_id)
        .order_by("due")
        .limit(limit)
    )
    return [row[0] for row in (await tx.execute(query)).all()]


async def open_reviews_between(
    tx: AsyncSession, first: uuid.UUID, second: uuid.UUID
) -> list[uuid.UUID]:
    """Claims where one of the two agents reviews the other's submission, still unvoted."""
    pair = [(first, second), (second, first)]
    query = (
        select(models.Review.claim_id)
        .join(models.Claim, models.Claim.id == models.Review.claim_id)
        .where(
            models.Review.status == ReviewStatus.ASSIGNED.value,
            tuple_(models.Review.reviewer_agent_id, models.Claim.agent_id).in_(pair),
        )
        .distinct()
    )
    return sorted((await tx.execute(query)).scalars())


@dataclass(frozen=True)
class PendingRow:
    review: Review
    claim: Claim
    bounty: Bounty


async def pending_reviews(
    tx: AsyncSession,
    *,
    reviewer_agent_id: uuid.UUID | None,
    due_before: datetime.datetime | None,
    after: tuple[datetime.datetime, uuid.UUID] | None,
    limit: int,
) -> list[PendingRow]:
    """Assigned reviews (of one reviewer, or all), soonest due first, with claim and bounty."""
    query = (
        select(models.Review, models.Claim, models.Bounty)
        .join(models.Claim, models.Claim.id == models.Review.claim_id)
        .join(models.Bounty, models.Bounty.id == models.Review.bounty_id)
        .where(
            models.Review.status == ReviewStatus.ASSIGNED.value,
            models.Claim.status == ClaimStatus.SUBMITTED.value,
        )
    )
    if reviewer_agent_id is not None:
        query = query.where(models.Review.reviewer_agent_id == reviewer_agent_id)
    if due_before is not None:
        query = query.where(models.Review.due_at <= due_before)
    if after is not None:
        query = query.where(tuple_(models.Review.due_at, models.Review.id) > after)
    query = query.order_by(models.Review.due_at, models.Review.id).limit(limit)
    return [
        PendingRow(
            review=convert.review(row[0]),
            claim=convert.claim(row[1]),
            bounty=convert.bounty(row[2]),
        )
        for row in (await tx.execute(query)).all()
    ]


def live(reviews: Sequence[Review]) -> list[Review]:
    return [item for item in reviews if item.status in LIVE_REVIEWS]

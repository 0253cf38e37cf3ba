"""Correlation flags: CreateCorrelation, DeleteCorrelation, ListCorrelations.

A flag is stored once per pair, in id order, so "A is correlated with B" and "B with A" are the
same row. Flagging a pair withdraws every unvoted review in which one of them reviews the other's
work and staffs those slots again, in the same transaction (claims locked in id order).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.review import errors
from services.review.domain import validation
from services.review.domain.model import AgentFacts, Correlation, ReviewStatus, ordered_pair
from services.review.operations import access, assignment
from services.review.operations.common import (
    checked,
    decode_position,
    next_page_token,
    page_size,
)
from services.review.operations.runtime import Caller, Runtime
from services.review.store import agents as agent_store
from services.review.store import bounties as bounty_store
from services.review.store import claims as claim_store
from services.review.store import correlations as store
from services.review.store.database import advisory_lock


@dataclass(frozen=True)
class Flagged:
    correlation: Correlation
    created: bool
    reviews_reassigned: int


async def known_agents(
    runtime: Runtime, first: uuid.UUID, second: uuid.UUID
) -> tuple[AgentFacts, AgentFacts]:
    """Both agents as auth has them (read before the transaction); AGENT_NOT_FOUND otherwise."""
    if first == second:
        raise errors.SameAgent()
    facts = []
    for agent_id in (first, second):
        found = await runtime.auth.agent(agent_id)
        if found is None:
            raise errors.AgentNotFound(str(agent_id))
        facts.append(found)
    return facts[0], facts[1]


async def create_correlation(
    tx: AsyncSession,
    runtime: Runtime,
    caller: Caller,
    *,
    agents: tuple[AgentFacts, AgentFacts],
    reason: str,
) -> Flagged:
    account_id = access.require_admin(caller)
    assert account_id is not None
    checked_reason = checked(lambda: validation.optional_reason(reason))
    now = runtime.now()
    await agent_store.upsert(tx, list(agents), now=now)
    first, second = ordered_pair(agents[0].agent_id, agents[1].agent_id)
    await advisory_lock(tx, f"correlation|{first}|{second}")
    existing = await store.live_flag(tx, first, second)
    if existing is not None:
        return Flagged(correlation=existing, created=False, reviews_reassigned=0)
    flag = await store.insert_flag(
        tx,
        flag_id=uuid.uuid4(),
        first=first,
        second=second,
        reason=checked_reason,
        created_by_account_id=account_id,
        now=now,
    )
    reassigned = 0
    for claim_id in await claim_store.open_reviews_between(tx, first, second):
        claim = await claim_store.claim_by_id(tx, claim_id, lock=True)
        assert claim is not None
        bounty = await bounty_store.bounty_by_id(tx, claim.bounty_id)
        assert bounty is not None
        reviews = (await claim_store.reviews_of(tx, [claim.id]))[claim.id]
        conflicted = [
            item.id
            for item in reviews
            if item.status is ReviewStatus.ASSIGNED
            and {item.reviewer_agent_id, claim.agent_id} == {first, second}
        ]
        reassigned += await assignment.replace_reviews(
            tx,
            runtime,
            claim=claim,
            bounty=bounty,
            review_ids=conflicted,
            status=ReviewStatus.WITHDRAWN,
            now=now,
        )
    return Flagged(correlation=flag, created=True, reviews_reassigned=reassigned)


async def delete_correlation(
    tx: AsyncSession, runtime: Runtime, caller: Caller, *, correlation_id: uuid.UUID
) -> Correlation:
    account_id = access.require_admin(caller)
    assert account_id is not None
    flag = await store.flag_by_id(tx, correlation_id, lock=True)
    if flag is None:
        raise errors.CorrelationNotFound()
    if flag.deleted_at is not None:
        return flag
    return await store.delete_flag(tx, flag.id, account_id=account_id, now=runtime.now())


@dataclass(frozen=True)
class CorrelationPage:
    correlations: list[Correlation]
    next_page_token: str


async def list_correlations(
    tx: AsyncSession,
    runtime: Runtime,
    caller: Caller,
    *,
    requested_page_size: int,
    page_token: str,
    agent_id: uuid.UUID | None,
) -> CorrelationPage:
    access.require_admin(caller, or_operator=True)
    size = page_size(requested_page_size)
    filters = {"agent": str(agent_id or "")}
    after = decode_position(page_token, list_name="correlations", filters=filters)
    rows = await store.list_flags(tx, agent_id=agent_id, after=after, limit=size + 1)
    return CorrelationPage(
        correlations=rows[:size],
        next_page_token=next_page_token(
            rows,
            page_size=size,
            list_name="correlations",
            filters=filters,
            position=lambda flag: (flag.created_at, flag.id),
        ),
    )

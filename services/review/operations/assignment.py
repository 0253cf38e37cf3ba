"""Staffing a claim's reviewer panel: at submission, when reviewers are short or late, and when a
reviewer stops being eligible.

:func:`staff` fills every free slot of a submitted claim it can, in the caller's transaction,
with the claim's row locked by the caller: eligible candidates come from the agent mirror in SQL
(see ``store.agents.eligible``), a random window of at most :data:`CANDIDATE_WINDOW` of them
starting at a CSPRNG-chosen agent id, and the panel is drawn from that window at random keeping
owners distinct and flagged pairs apart (``domain.eligibility.draw``). When fewer reviewers are
eligible than slots are free, the claim is marked ``awaiting_reviewers`` and the worker tries
again on every pass: it never waits silently.
"""

from __future__ import annotations

import datetime
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.review.domain.eligibility import Candidate, Conflicts, draw
from services.review.domain.model import Bounty, Claim, ClaimStatus, ReviewStatus
from services.review.operations.runtime import Runtime
from services.review.store import agents as agent_store
from services.review.store import claims as claim_store
from services.review.store import correlations as correlation_store

CANDIDATE_WINDOW = 512
"""Eligible agents read per draw: bounded, and far more than any panel needs."""


async def conflicts_of(
    tx: AsyncSession, runtime: Runtime, *, claim: Claim, bounty: Bounty
) -> Conflicts:
    return Conflicts(
        submitter_agent_id=claim.agent_id,
        submitter_owner_account_id=claim.owner_account_id,
        creator_account_id=bounty.created_by_account_id,
        correlated_with_submitter=await correlation_store.correlated_with(tx, claim.agent_id),
        min_trust_tier=runtime.settings.bounties.reviewer_min_trust_tier,
    )


async def staff(
    tx: AsyncSession,
    runtime: Runtime,
    *,
    claim: Claim,
    bounty: Bounty,
    now: datetime.datetime,
) -> int:
    """Assign reviewers to the free slots of ``claim`` (locked by the caller); how many."""
    assert claim.status is ClaimStatus.SUBMITTED and claim.bounty_id == bounty.id
    reviews = (await claim_store.reviews_of(tx, [claim.id]))[claim.id]
    live = claim_store.live(reviews)
    free_slots = sorted(set(range(bounty.reviewers_per_claim)) - {item.slot for item in live})
    if not free_slots:
        await claim_store.set_awaiting(tx, claim.id, awaiting=False, now=now)
        return 0
    candidates = await agent_store.eligible(
        tx,
        claim_id=claim.id,
        conflicts=await conflicts_of(tx, runtime, claim=claim, bounty=bounty),
        pivot=uuid.uuid4(),
        window=CANDIDATE_WINDOW,
    )
    panel = [
        Candidate(agent_id=item.reviewer_agent_id, owner_account_id=item.reviewer_owner_account_id)
        for item in live
    ]
    flagged = await correlation_store.flagged_among(
        tx, {item.agent_id for item in (*candidates, *panel)}
    )
    chosen = draw(candidates, wanted=len(free_slots), panel=panel, flagged_pairs=flagged)
    due_at = now + datetime.timedelta(seconds=runtime.settings.bounties.review_due_s)
    for slot, reviewer in zip(free_slots, chosen, strict=False):
        await claim_store.insert_review(
            tx,
            claim=claim,
            reviewer_agent_id=reviewer.agent_id,
            reviewer_owner_account_id=reviewer.owner_account_id,
            slot=slot,
            now=now,
            due_at=due_at,
        )
    await claim_store.set_awaiting(tx, claim.id, awaiting=len(chosen) < len(free_slots), now=now)
    return len(chosen)


async def replace_reviews(
    tx: AsyncSession,
    runtime: Runtime,
    *,
    claim: Claim,
    bounty: Bounty,
    review_ids: list[uuid.UUID],
    status: ReviewStatus,
    now: datetime.datetime,
) -> int:
    """Close the given assigned reviews (replaced or withdrawn) and staff their slots again."""
    closed = await claim_store.close_reviews(tx, review_ids, status=status, now=now)
    if closed and claim.status is ClaimStatus.SUBMITTED:
        await staff(tx, runtime, claim=claim, bounty=bounty, now=now)
    return closed

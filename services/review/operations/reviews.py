"""Reviews: ListPendingReviews, SubmitReview (the vote, the tally and the finalization in one
transaction under the claim's lock), ListAdminPendingReviews.

A vote, in one transaction:

1. lock the claim (every vote on a claim serializes here, so the tally below always sees every
   vote committed before it, and exactly one vote can be the deciding one: no lost finalization
   when the last two votes race);
2. check the review is the caller's, still assigned, not past due, and that the reviewer is still
   eligible, from facts read fresh from auth and the correlation flags as they are now; an
   ineligible reviewer's review is withdrawn and reassigned and the vote refused;
3. compare-and-swap the review's empty decision to the vote;
4. tally; when the outcome is certain, compare-and-swap the claim to its decision, withdraw the
   reviews no longer needed, write the payout entry with its fixed batch, and account the slot on
   the bounty (locked after the claim, the order every transaction follows).
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import RecordedRefusal
from services.common.tokens import Scope
from services.review import errors
from services.review.domain import payouts, validation
from services.review.domain.eligibility import conflict
from services.review.domain.model import (
    AgentFacts,
    Bounty,
    Claim,
    ClaimStatus,
    Decision,
    OutboxEntry,
    OutboxKind,
    Review,
    ReviewStatus,
)
from services.review.domain.quorum import decide
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
from services.review.store import claims as store
from services.review.store import outbox as outbox_store


async def reviewer_facts(runtime: Runtime, agent_id: uuid.UUID) -> AgentFacts:
    """The voting agent as auth has it now (read before the transaction). A suspended or
    otherwise ineligible reviewer is not refused here: the vote withdraws its review first."""
    facts = await runtime.auth.agent(agent_id)
    if facts is None:
        raise errors.AgentNotFound(str(agent_id))
    return facts


@dataclass(frozen=True)
class Vote:
    review: Review
    claim: Claim
    finalized: bool
    payout: OutboxEntry | None


async def submit_review(
    tx: AsyncSession,
    runtime: Runtime,
    *,
    reviewer: AgentFacts,
    review_id: uuid.UUID,
    decision: Decision,
    notes: str,
) -> Vote:
    checked_notes = checked(lambda: validation.notes(notes))
    now = runtime.now()
    await agent_store.upsert(tx, [reviewer], now=now)
    found = await store.review_by_id(tx, review_id)
    if found is None or found.reviewer_agent_id != reviewer.agent_id:
        raise errors.ReviewNotFound()
    claim = await store.claim_by_id(tx, found.claim_id, lock=True)
    assert claim is not None
    # Re-read under the claim's lock: a concurrent vote, replacement or finalization is visible.
    review = await store.review_by_id(tx, review_id)
    assert review is not None
    if review.status is ReviewStatus.SUBMITTED:
        raise errors.ReviewAlreadySubmitted()
    if review.status is not ReviewStatus.ASSIGNED or claim.status is not ClaimStatus.SUBMITTED:
        raise errors.ReviewNotOpen()
    if now >= review.due_at:
        raise errors.ReviewDeadlinePassed()
    bounty = await bounty_store.bounty_by_id(tx, claim.bounty_id)
    assert bounty is not None
    conflicts = await assignment.conflicts_of(tx, runtime, claim=claim, bounty=bounty)
    if conflict(reviewer, conflicts) is not None:
        await assignment.replace_reviews(
            tx,
            runtime,
            claim=claim,
            bounty=bounty,
            review_ids=[review.id],
            status=ReviewStatus.WITHDRAWN,
            now=now,
        )
        raise RecordedRefusal(errors.ReviewerNotEligible())
    voted = await store.vote(
        tx,
        review.id,
        decision=decision,
        notes=checked_notes,
        reward_micros=bounty.reviewer_reward_micros,
        now=now,
    )
    if voted is None:
        raise errors.ReviewAlreadySubmitted()
    return await _tally(tx, runtime, claim=claim, bounty=bounty, review=voted, now=now)


async def _tally(
    tx: AsyncSession,
    runtime: Runtime,
    *,
    claim: Claim,
    bounty: Bounty,
    review: Review,
    now: datetime.datetime,
) -> Vote:
    reviews = (await store.reviews_of(tx, [claim.id]))[claim.id]
    votes = [item for item in reviews if item.status is ReviewStatus.SUBMITTED]
    approvals = sum(1 for item in votes if item.decision is Decision.APPROVE)
    rejections = len(votes) - approvals
    outcome = decide(
        approvals=approvals,
        rejections=rejections,
        reviewers=bounty.reviewers_per_claim,
        votes_to_decide=bounty.votes_to_decide,
    )
    if outcome is None:
        await store.count_votes(tx, claim.id, approvals=approvals, rejections=rejections)
        counted = await store.claim_by_id(tx, claim.id)
        assert counted is not None
        return Vote(review=review, claim=counted, finalized=False, payout=None)
    decided = await store.finalize(
        tx, claim.id, decision=outcome, approvals=approvals, rejections=rejections, now=now
    )
    # The claim is locked by this transaction and was submitted: nothing else can decide it.
    assert decided is not None, "a locked, submitted claim is decided once"
    unneeded = [item.id for item in reviews if item.status is ReviewStatus.ASSIGNED]
    await store.close_reviews(tx, unneeded, status=ReviewStatus.WITHDRAWN, now=now)
    payout = await _write_payout(tx, claim=decided, bounty=bounty, votes=votes, now=now)
    return Vote(review=review, claim=decided, finalized=True, payout=payout)


async def _write_payout(
    tx: AsyncSession,
    *,
    claim: Claim,
    bounty: Bounty,
    votes: list[Review],
    now: datetime.datetime,
) -> OutboxEntry:
    assert claim.decision is not None
    locked = await bounty_store.bounty_by_id(tx, bounty.id, lock=True)
    assert locked is not None
    entry = await outbox_store.insert_entry(
        tx,
        entry_id=payouts.payout_entry_id(claim.id),
        kind=OutboxKind.CLAIM_PAYOUT,
        bounty_id=locked.id,
        claim_id=claim.id,
        transfers=payouts.claim_payout(
            claim_id=claim.id,
            submitter_agent_id=claim.agent_id,
            decision=claim.decision,
            reward_micros=locked.reward_micros,
            reviewer_reward_micros=locked.reviewer_reward_micros,
            reviewers_per_claim=locked.reviewers_per_claim,
            voters=[
                payouts.Voter(review_id=item.id, agent_id=item.reviewer_agent_id) for item in votes
            ],
        ),
        now=now,
    )
    assert entry.total_micros == locked.slot_escrow_micros
    settled = locked.claims_settled + 1
    await bounty_store.update_bounty(
        tx,
        locked.id,
        claims_settled=settled,
        escrow_outstanding_micros=(locked.max_claims - locked.slots_refunded - settled)
        * locked.slot_escrow_micros,
        updated_at=now,
    )
    return entry


# -- pending lists ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PendingPage:
    rows: list[store.PendingRow]
    next_page_token: str


async def list_pending(
    tx: AsyncSession,
    runtime: Runtime,
    caller: Caller,
    *,
    requested_page_size: int,
    page_token: str,
    overdue_only: bool = False,
    for_admin: bool,
) -> PendingPage:
    if for_admin:
        access.require_admin(caller, or_operator=True)
        reviewer: uuid.UUID | None = None
    else:
        reviewer = access.require_agent(caller, Scope.AGENT_READ)
    size = page_size(requested_page_size)
    filters = {"reviewer": str(reviewer or ""), "overdue": overdue_only}
    list_name = "admin-pending" if for_admin else "pending"
    after = decode_position(page_token, list_name=list_name, filters=filters)
    rows = await store.pending_reviews(
        tx,
        reviewer_agent_id=reviewer,
        due_before=runtime.now() if overdue_only else None,
        after=after,
        limit=size + 1,
    )
    return PendingPage(
        rows=rows[:size],
        next_page_token=next_page_token(
            rows,
            page_size=size,
            list_name=list_name,
            filters=filters,
            position=lambda row: (row.review.due_at, row.review.id),
        ),
    )

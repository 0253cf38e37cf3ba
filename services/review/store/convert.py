"""Rows to domain values. Every read of the store goes through one of these."""

from __future__ import annotations

from collections.abc import Iterable

from services.review.domain.model import (
    AgentFacts,
    AgentLifecycle,
    AgentStatus,
    Bounty,
    BountyStatus,
    BountyType,
    Claim,
    ClaimStatus,
    Correlation,
    Decision,
    OutboxEntry,
    OutboxKind,
    OutboxStatus,
    PayoutTransfer,
    Recipient,
    Review,
    ReviewStatus,
    TransferCode,
)
from services.review.store import models


def bounty(row: models.Bounty) -> Bounty:
    return Bounty(
        id=row.id,
        title=row.title,
        description=row.description,
        type=BountyType(row.type),
        reward_micros=row.reward_micros,
        reviewer_reward_micros=row.reviewer_reward_micros,
        reviewers_per_claim=row.reviewers_per_claim,
        votes_to_decide=row.votes_to_decide,
        max_claims=row.max_claims,
        claims_taken=row.claims_taken,
        slots_refunded=row.slots_refunded,
        claims_settled=row.claims_settled,
        required_trust_tier=row.required_trust_tier,
        deadline=row.deadline,
        status=BountyStatus(row.status),
        slot_escrow_micros=row.slot_escrow_micros,
        escrow_micros=row.escrow_micros,
        escrow_outstanding_micros=row.escrow_outstanding_micros,
        escrow_transfer_id=row.escrow_transfer_id,
        created_by_account_id=row.created_by_account_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        cancel_reason=row.cancel_reason,
        cancelled_at=row.cancelled_at,
        closed_at=row.closed_at,
        completed_at=row.completed_at,
    )


def claim(row: models.Claim) -> Claim:
    return Claim(
        id=row.id,
        bounty_id=row.bounty_id,
        agent_id=row.agent_id,
        owner_account_id=row.owner_account_id,
        status=ClaimStatus(row.status),
        submission_text=row.submission_text,
        claimed_at=row.claimed_at,
        submitted_at=row.submitted_at,
        finalized_at=row.finalized_at,
        decision=Decision(row.decision) if row.decision else None,
        approvals=row.approvals,
        rejections=row.rejections,
        awaiting_reviewers=row.awaiting_reviewers,
    )


def review(row: models.Review) -> Review:
    return Review(
        id=row.id,
        claim_id=row.claim_id,
        bounty_id=row.bounty_id,
        reviewer_agent_id=row.reviewer_agent_id,
        reviewer_owner_account_id=row.reviewer_owner_account_id,
        slot=row.slot,
        status=ReviewStatus(row.status),
        decision=Decision(row.decision) if row.decision else None,
        notes=row.notes,
        assigned_at=row.assigned_at,
        due_at=row.due_at,
        submitted_at=row.submitted_at,
        closed_at=row.closed_at,
        reward_micros=row.reward_micros,
    )


def correlation(row: models.Correlation) -> Correlation:
    return Correlation(
        id=row.id,
        agent_a_id=row.agent_a_id,
        agent_b_id=row.agent_b_id,
        reason=row.reason,
        created_by_account_id=row.created_by_account_id,
        created_at=row.created_at,
        deleted_at=row.deleted_at,
    )


def agent(row: models.Agent) -> AgentFacts:
    return AgentFacts(
        agent_id=row.agent_id,
        owner_account_id=row.owner_account_id,
        lifecycle=AgentLifecycle(row.lifecycle),
        status=AgentStatus(row.status),
        trust_tier=row.trust_tier,
        updated_at=row.source_updated_at,
    )


def payout_transfer(row: models.PayoutTransfer) -> PayoutTransfer:
    return PayoutTransfer(
        transfer_id=row.transfer_id,
        position=row.position,
        recipient=Recipient(row.recipient),
        agent_id=row.agent_id,
        amount_micros=row.amount_micros,
        code=TransferCode(row.code),
    )


def outbox_entry(
    row: models.OutboxEntry, transfers: Iterable[models.PayoutTransfer]
) -> OutboxEntry:
    return OutboxEntry(
        id=row.id,
        kind=OutboxKind(row.kind),
        bounty_id=row.bounty_id,
        claim_id=row.claim_id,
        status=OutboxStatus(row.status),
        total_micros=row.total_micros,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error_reason=row.last_error_reason,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
        transfers=tuple(
            payout_transfer(item) for item in sorted(transfers, key=lambda t: t.position)
        ),
    )

"""Bounties, claims, reviews, correlation flags and payouts as the rules see them.

Each dataclass asserts the invariants a row of it must satisfy; the same invariants are named
CHECK constraints in ``store/models.py`` and lines under "Guarantees" in the README.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from enum import StrEnum

MICROS_MAX = 10**15
"""The largest amount a wallet transfer (and so a bounty's escrow) may carry."""
MAX_CLAIMS_MAX = 100
TRUST_TIER_MAX = 3


class BountyType(StrEnum):
    WORK = "work"
    VERIFICATION = "verification"


class BountyStatus(StrEnum):
    OPEN = "open"
    FILLED = "filled"
    CLOSED = "closed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


ACCEPTING_CLAIMS = frozenset({BountyStatus.OPEN})
"""Only an open bounty takes new claims (FILLED ones have no free slot)."""
BOARD_STATUSES = frozenset({BountyStatus.OPEN, BountyStatus.FILLED})
"""What agents see of bounties they hold no claim on."""


class ClaimStatus(StrEnum):
    CLAIMED = "claimed"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


DECIDED = frozenset({ClaimStatus.APPROVED, ClaimStatus.REJECTED})
UNUSED = frozenset({ClaimStatus.EXPIRED, ClaimStatus.CANCELLED})
"""Claims whose slot returns to the treasury unused."""
FINAL = DECIDED | UNUSED


class ReviewStatus(StrEnum):
    ASSIGNED = "assigned"
    SUBMITTED = "submitted"
    REPLACED = "replaced"
    WITHDRAWN = "withdrawn"


LIVE_REVIEWS = frozenset({ReviewStatus.ASSIGNED, ReviewStatus.SUBMITTED})
"""Reviews that hold one of the claim's reviewer slots."""


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class OutboxKind(StrEnum):
    CLAIM_PAYOUT = "claim_payout"
    SLOT_REFUND = "slot_refund"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    STUCK = "stuck"


class Recipient(StrEnum):
    AGENT = "agent"
    TREASURY = "treasury"


class TransferCode(StrEnum):
    BOUNTY_REWARD = "bounty_reward"
    REVIEW_REWARD = "review_reward"
    REFUND = "refund"


class AgentLifecycle(StrEnum):
    REGISTERED_UNCLAIMED = "registered_unclaimed"
    CLAIMED = "claimed"


class AgentStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


@dataclass(frozen=True)
class AgentFacts:
    """What review knows of an agent: its row in the mirror, or a fresh answer from auth."""

    agent_id: uuid.UUID
    owner_account_id: uuid.UUID | None
    lifecycle: AgentLifecycle
    status: AgentStatus
    trust_tier: int
    updated_at: datetime.datetime
    """auth's updated_at of the agent (the mirror never goes back to an older version)."""

    def __post_init__(self) -> None:
        assert (self.lifecycle is AgentLifecycle.CLAIMED) == (self.owner_account_id is not None)
        assert 0 <= self.trust_tier <= TRUST_TIER_MAX

    @property
    def claimed(self) -> bool:
        return self.lifecycle is AgentLifecycle.CLAIMED

    @property
    def active(self) -> bool:
        return self.status is AgentStatus.ACTIVE


@dataclass(frozen=True)
class Bounty:
    id: uuid.UUID
    title: str
    description: str
    type: BountyType
    reward_micros: int
    reviewer_reward_micros: int
    reviewers_per_claim: int
    votes_to_decide: int
    max_claims: int
    claims_taken: int
    slots_refunded: int
    claims_settled: int
    required_trust_tier: int
    deadline: datetime.datetime
    status: BountyStatus
    slot_escrow_micros: int
    escrow_micros: int
    escrow_outstanding_micros: int
    escrow_transfer_id: uuid.UUID
    created_by_account_id: uuid.UUID
    created_at: datetime.datetime
    updated_at: datetime.datetime
    cancel_reason: str | None
    cancelled_at: datetime.datetime | None
    closed_at: datetime.datetime | None
    completed_at: datetime.datetime | None

    def __post_init__(self) -> None:
        assert self.reward_micros > 0
        assert 0 <= self.reviewer_reward_micros <= self.reward_micros
        assert 1 <= self.votes_to_decide <= self.reviewers_per_claim
        assert self.slot_escrow_micros == slot_escrow(
            reward_micros=self.reward_micros,
            reviewer_reward_micros=self.reviewer_reward_micros,
            reviewers_per_claim=self.reviewers_per_claim,
        )
        assert self.escrow_micros == self.max_claims * self.slot_escrow_micros <= MICROS_MAX
        assert 0 <= self.claims_taken <= self.max_claims <= MAX_CLAIMS_MAX
        # Every slot is open, settled by a payout, or refunded; the escrow says the same.
        assert 0 <= self.slots_refunded + self.claims_settled <= self.max_claims
        assert self.escrow_outstanding_micros == self.open_slots * self.slot_escrow_micros
        assert self.status is not BountyStatus.FILLED or self.claims_taken == self.max_claims
        assert (self.status is BountyStatus.CANCELLED) == (self.cancelled_at is not None)
        assert (self.cancelled_at is None) == (self.cancel_reason is None)
        assert (self.status is BountyStatus.COMPLETED) == (self.completed_at is not None)
        assert (self.status is not BountyStatus.COMPLETED) or self.escrow_outstanding_micros == 0

    @property
    def open_slots(self) -> int:
        """Slots whose escrow is still owed to the bounty (neither paid out nor refunded)."""
        return self.max_claims - self.slots_refunded - self.claims_settled

    @property
    def unclaimed_slots(self) -> int:
        return self.max_claims - self.claims_taken


def slot_escrow(
    *, reward_micros: int, reviewer_reward_micros: int, reviewers_per_claim: int
) -> int:
    """What one claim slot holds in escrow: the reward and every reviewer's reward."""
    return reward_micros + reviewers_per_claim * reviewer_reward_micros


@dataclass(frozen=True)
class Claim:
    id: uuid.UUID
    bounty_id: uuid.UUID
    agent_id: uuid.UUID
    owner_account_id: uuid.UUID
    status: ClaimStatus
    submission_text: str | None
    claimed_at: datetime.datetime
    submitted_at: datetime.datetime | None
    finalized_at: datetime.datetime | None
    decision: Decision | None
    approvals: int
    rejections: int
    awaiting_reviewers: bool

    def __post_init__(self) -> None:
        submitted = self.status in (ClaimStatus.SUBMITTED, *DECIDED)
        assert submitted == (self.submitted_at is not None) == (self.submission_text is not None)
        assert (self.status in FINAL) == (self.finalized_at is not None)
        assert (self.status is ClaimStatus.APPROVED) == (self.decision is Decision.APPROVE)
        assert (self.status is ClaimStatus.REJECTED) == (self.decision is Decision.REJECT)
        assert self.approvals >= 0 and self.rejections >= 0
        assert (not self.awaiting_reviewers) or self.status is ClaimStatus.SUBMITTED


@dataclass(frozen=True)
class Review:
    id: uuid.UUID
    claim_id: uuid.UUID
    bounty_id: uuid.UUID
    reviewer_agent_id: uuid.UUID
    reviewer_owner_account_id: uuid.UUID
    slot: int
    status: ReviewStatus
    decision: Decision | None
    notes: str | None
    assigned_at: datetime.datetime
    due_at: datetime.datetime
    submitted_at: datetime.datetime | None
    closed_at: datetime.datetime | None
    reward_micros: int

    def __post_init__(self) -> None:
        voted = self.status is ReviewStatus.SUBMITTED
        assert voted == (self.decision is not None) == (self.submitted_at is not None)
        assert (self.status in (ReviewStatus.REPLACED, ReviewStatus.WITHDRAWN)) == (
            self.closed_at is not None
        )
        assert voted or self.reward_micros == 0
        assert self.due_at > self.assigned_at


@dataclass(frozen=True)
class Correlation:
    id: uuid.UUID
    agent_a_id: uuid.UUID
    agent_b_id: uuid.UUID
    reason: str
    created_by_account_id: uuid.UUID
    created_at: datetime.datetime
    deleted_at: datetime.datetime | None

    def __post_init__(self) -> None:
        # A pair is stored once, in id order, which makes the flag symmetric by construction.
        assert self.agent_a_id < self.agent_b_id


def ordered_pair(first: uuid.UUID, second: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    assert first != second
    return (first, second) if first < second else (second, first)


@dataclass(frozen=True)
class PayoutTransfer:
    transfer_id: uuid.UUID
    position: int
    recipient: Recipient
    agent_id: uuid.UUID | None
    amount_micros: int
    code: TransferCode

    def __post_init__(self) -> None:
        assert 0 < self.amount_micros <= MICROS_MAX
        assert (self.recipient is Recipient.AGENT) == (self.agent_id is not None)
        assert (self.code is TransferCode.REFUND) == (self.recipient is Recipient.TREASURY)


@dataclass(frozen=True)
class OutboxEntry:
    id: uuid.UUID
    kind: OutboxKind
    bounty_id: uuid.UUID
    claim_id: uuid.UUID | None
    status: OutboxStatus
    total_micros: int
    attempts: int
    next_attempt_at: datetime.datetime
    last_error_reason: str | None
    created_at: datetime.datetime
    delivered_at: datetime.datetime | None
    transfers: tuple[PayoutTransfer, ...]

    def __post_init__(self) -> None:
        assert (self.kind is OutboxKind.CLAIM_PAYOUT) == (self.claim_id is not None)
        assert (self.status is OutboxStatus.DELIVERED) == (self.delivered_at is not None)
        assert self.attempts >= 0
        if self.transfers:
            assert sum(item.amount_micros for item in self.transfers) == self.total_micros
            assert [item.position for item in self.transfers] == list(range(len(self.transfers)))

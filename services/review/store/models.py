"""The review schema's tables. Alembic migrations must match these (checked in tests).

Every invariant of the state machines that a row can state is also a named CHECK or UNIQUE
constraint here, so a bug in the code cannot write a row the rules forbid:

* one claim per agent per bounty (``uq_claims_bounty_id_agent_id``), and a bounty's slot
  accounting is exact (``ck_bounties_outstanding_is_open_slots`` and its neighbours);
* one vote per review assignment, one assignment per reviewer per claim
  (``uq_reviews_claim_id_reviewer_agent_id``), at most one live reviewer per slot
  (``uq_reviews_one_live_per_slot``);
* one finalization per claim (the claim guard trigger lets a decision be written once), one payout
  batch per finalized claim (``uq_outbox_entries_claim_id``), one slot refund per bounty
  (``uq_outbox_entries_one_slot_refund_per_bounty``), and every payout transfer id once
  (``pk_payout_transfers``);
* a correlation flag is stored once per pair, in id order (``ck_correlations_pair_in_id_order``,
  ``uq_correlations_one_live_per_pair``), which makes it symmetric.

Transitions are guarded by triggers created in the migration (a decided claim, a cast vote, a
delivered payout, a removed flag never change again). Money is BIGINT micro-credits, ids are
UUIDs, times are ``timestamptz``.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import service_metadata
from services.common.store import request_log_table

SCHEMA = "review"
metadata = service_metadata(SCHEMA)
request_log = request_log_table(metadata)

TIMESTAMP = DateTime(timezone=True)
MICROS_MAX = 10**15


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


BOUNTY_TYPES = ("work", "verification")
BOUNTY_STATUSES = ("open", "filled", "closed", "completed", "cancelled")
CLAIM_STATUSES = ("claimed", "submitted", "approved", "rejected", "expired", "cancelled")
REVIEW_STATUSES = ("assigned", "submitted", "replaced", "withdrawn")
DECISIONS = ("approve", "reject")
OUTBOX_KINDS = ("claim_payout", "slot_refund")
OUTBOX_STATUSES = ("pending", "delivered", "stuck")
RECIPIENTS = ("agent", "treasury")
TRANSFER_CODES = ("bounty_reward", "review_reward", "refund")
LIFECYCLES = ("registered_unclaimed", "claimed")
AGENT_STATUSES = ("active", "suspended")


class Base(DeclarativeBase):
    metadata = metadata
    type_annotation_map: dict[Any, Any] = {
        uuid.UUID: Uuid(),
        datetime.datetime: TIMESTAMP,
        str: Text(),
        bool: Boolean(),
    }


class Bounty(Base):
    __tablename__ = "bounties"
    __table_args__ = (
        UniqueConstraint("escrow_transfer_id"),
        CheckConstraint("char_length(title) BETWEEN 1 AND 200", name="title_length"),
        CheckConstraint("char_length(description) <= 20000", name="description_length"),
        CheckConstraint(_in("type", BOUNTY_TYPES), name="type_known"),
        CheckConstraint(_in("status", BOUNTY_STATUSES), name="status_known"),
        CheckConstraint("reward_micros > 0", name="reward_positive"),
        CheckConstraint(
            "reviewer_reward_micros BETWEEN 0 AND reward_micros", name="reviewer_reward_range"
        ),
        CheckConstraint(
            "reviewers_per_claim BETWEEN 1 AND 9 AND votes_to_decide BETWEEN 1 AND "
            "reviewers_per_claim",
            name="quorum_range",
        ),
        CheckConstraint("max_claims BETWEEN 1 AND 100", name="max_claims_range"),
        CheckConstraint("claims_taken BETWEEN 0 AND max_claims", name="claims_taken_range"),
        CheckConstraint(
            "slots_refunded >= 0 AND claims_settled >= 0 "
            "AND slots_refunded + claims_settled <= max_claims",
            name="slots_accounted",
        ),
        CheckConstraint("required_trust_tier BETWEEN 0 AND 3", name="trust_tier_range"),
        CheckConstraint(
            "slot_escrow_micros = reward_micros + reviewers_per_claim * reviewer_reward_micros",
            name="slot_escrow_is_reward_and_reviewer_shares",
        ),
        CheckConstraint(
            f"escrow_micros = max_claims * slot_escrow_micros AND escrow_micros <= {MICROS_MAX}",
            name="escrow_is_every_slot",
        ),
        CheckConstraint(
            "escrow_outstanding_micros = "
            "(max_claims - slots_refunded - claims_settled) * slot_escrow_micros",
            name="outstanding_is_open_slots",
        ),
        CheckConstraint(
            "status <> 'filled' OR claims_taken = max_claims", name="filled_has_no_free_slot"
        ),
        CheckConstraint(
            "(status = 'cancelled') = (cancelled_at IS NOT NULL) "
            "AND (cancelled_at IS NULL) = (cancel_reason IS NULL) "
            "AND char_length(cancel_reason) BETWEEN 1 AND 500",
            name="cancellation_has_reason",
        ),
        CheckConstraint(
            "(status = 'completed') = (completed_at IS NOT NULL) "
            "AND (status <> 'completed' OR escrow_outstanding_micros = 0)",
            name="completed_is_settled",
        ),
        CheckConstraint("status <> 'closed' OR closed_at IS NOT NULL", name="closed_has_time"),
        CheckConstraint("deadline > created_at", name="deadline_after_creation"),
        Index(None, "created_at", "id"),
        Index(
            "ix_bounties_open_by_deadline",
            "deadline",
            postgresql_where=text("status IN ('open', 'filled')"),
        ),
        {"comment": "Bounties and the escrow of their slots, funded from the treasury."},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    title: Mapped[str]
    description: Mapped[str]
    type: Mapped[str]
    reward_micros: Mapped[int] = mapped_column(BigInteger)
    reviewer_reward_micros: Mapped[int] = mapped_column(BigInteger)
    reviewers_per_claim: Mapped[int] = mapped_column(SmallInteger)
    votes_to_decide: Mapped[int] = mapped_column(SmallInteger)
    max_claims: Mapped[int] = mapped_column(SmallInteger)
    claims_taken: Mapped[int] = mapped_column(SmallInteger)
    slots_refunded: Mapped[int] = mapped_column(SmallInteger)
    claims_settled: Mapped[int] = mapped_column(SmallInteger)
    required_trust_tier: Mapped[int] = mapped_column(SmallInteger)
    deadline: Mapped[datetime.datetime]
    status: Mapped[str]
    slot_escrow_micros: Mapped[int] = mapped_column(BigInteger)
    escrow_micros: Mapped[int] = mapped_column(BigInteger)
    escrow_outstanding_micros: Mapped[int] = mapped_column(BigInteger)
    escrow_transfer_id: Mapped[uuid.UUID]
    created_by_account_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime.datetime]
    updated_at: Mapped[datetime.datetime]
    cancel_reason: Mapped[str | None]
    cancelled_at: Mapped[datetime.datetime | None]
    closed_at: Mapped[datetime.datetime | None]
    completed_at: Mapped[datetime.datetime | None]


class Claim(Base):
    __tablename__ = "claims"
    __table_args__ = (
        UniqueConstraint("bounty_id", "agent_id"),
        CheckConstraint(_in("status", CLAIM_STATUSES), name="status_known"),
        CheckConstraint(f"decision IS NULL OR {_in('decision', DECISIONS)}", name="decision_known"),
        CheckConstraint(
            "(status IN ('submitted', 'approved', 'rejected')) = (submitted_at IS NOT NULL) "
            "AND (submitted_at IS NULL) = (submission_text IS NULL)",
            name="submitted_has_submission",
        ),
        CheckConstraint(
            "char_length(submission_text) BETWEEN 1 AND 50000", name="submission_length"
        ),
        CheckConstraint(
            "(status IN ('approved', 'rejected', 'expired', 'cancelled')) "
            "= (finalized_at IS NOT NULL)",
            name="final_has_time",
        ),
        CheckConstraint(
            "(status = 'approved') = (decision IS NOT DISTINCT FROM 'approve') "
            "AND (status = 'rejected') = (decision IS NOT DISTINCT FROM 'reject')",
            name="decision_matches_status",
        ),
        CheckConstraint("approvals >= 0 AND rejections >= 0", name="votes_not_negative"),
        CheckConstraint(
            "NOT awaiting_reviewers OR status = 'submitted'", name="awaiting_only_when_submitted"
        ),
        Index(None, "agent_id", "status"),
        Index(None, "claimed_at", "id"),
        Index(
            "ix_claims_awaiting_reviewers",
            "submitted_at",
            postgresql_where=text("awaiting_reviewers"),
        ),
        {"comment": "One agent's slot on a bounty: claimed, submitted, then decided."},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    bounty_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bounties.id"))
    agent_id: Mapped[uuid.UUID]
    owner_account_id: Mapped[uuid.UUID]
    status: Mapped[str]
    submission_text: Mapped[str | None]
    claimed_at: Mapped[datetime.datetime]
    submitted_at: Mapped[datetime.datetime | None]
    finalized_at: Mapped[datetime.datetime | None]
    decision: Mapped[str | None]
    approvals: Mapped[int] = mapped_column(SmallInteger)
    rejections: Mapped[int] = mapped_column(SmallInteger)
    awaiting_reviewers: Mapped[bool]
    updated_at: Mapped[datetime.datetime]


class Review(Base):
    __tablename__ = "reviews"
    __table_args__ = (
        UniqueConstraint("claim_id", "reviewer_agent_id"),
        CheckConstraint("slot BETWEEN 0 AND 8", name="slot_range"),
        CheckConstraint(_in("status", REVIEW_STATUSES), name="status_known"),
        CheckConstraint(f"decision IS NULL OR {_in('decision', DECISIONS)}", name="decision_known"),
        CheckConstraint(
            "(status = 'submitted') = (decision IS NOT NULL) "
            "AND (decision IS NULL) = (submitted_at IS NULL)",
            name="vote_iff_submitted",
        ),
        CheckConstraint(
            "(status IN ('replaced', 'withdrawn')) = (closed_at IS NOT NULL)",
            name="closed_has_time",
        ),
        CheckConstraint(
            "reward_micros >= 0 AND (status = 'submitted' OR reward_micros = 0)",
            name="reward_only_for_votes",
        ),
        CheckConstraint("char_length(notes) <= 5000", name="notes_length"),
        CheckConstraint("due_at > assigned_at", name="due_after_assignment"),
        Index(
            "uq_reviews_one_live_per_slot",
            "claim_id",
            "slot",
            unique=True,
            postgresql_where=text("status IN ('assigned', 'submitted')"),
        ),
        Index(None, "reviewer_agent_id", "status", "due_at"),
        Index("ix_reviews_assigned_by_due", "due_at", postgresql_where=text("status = 'assigned'")),
        {"comment": "Reviewer assignments of a claim and their votes."},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    claim_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("claims.id"))
    bounty_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bounties.id"))
    reviewer_agent_id: Mapped[uuid.UUID]
    reviewer_owner_account_id: Mapped[uuid.UUID]
    slot: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str]
    decision: Mapped[str | None]
    notes: Mapped[str | None]
    assigned_at: Mapped[datetime.datetime]
    due_at: Mapped[datetime.datetime]
    submitted_at: Mapped[datetime.datetime | None]
    closed_at: Mapped[datetime.datetime | None]
    reward_micros: Mapped[int] = mapped_column(BigInteger)


class OutboxEntry(Base):
    __tablename__ = "outbox_entries"
    __table_args__ = (
        UniqueConstraint("claim_id"),
        CheckConstraint(_in("kind", OUTBOX_KINDS), name="kind_known"),
        CheckConstraint(_in("status", OUTBOX_STATUSES), name="status_known"),
        CheckConstraint(
            "(kind = 'claim_payout') = (claim_id IS NOT NULL)", name="claim_payout_names_claim"
        ),
        CheckConstraint(
            "(status = 'delivered') = (delivered_at IS NOT NULL)", name="delivered_has_time"
        ),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        CheckConstraint(f"total_micros BETWEEN 1 AND {MICROS_MAX}", name="total_range"),
        CheckConstraint("char_length(last_error_reason) <= 64", name="error_reason_length"),
        Index(
            "uq_outbox_entries_one_slot_refund_per_bounty",
            "bounty_id",
            unique=True,
            postgresql_where=text("kind = 'slot_refund'"),
        ),
        Index(None, "bounty_id"),
        Index(None, "created_at", "id"),
        Index(
            "ix_outbox_entries_undelivered",
            "next_attempt_at",
            postgresql_where=text("status <> 'delivered'"),
        ),
        {"comment": "Payouts written with the decision that owes them; sent to wallet once."},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str]
    bounty_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bounties.id"))
    claim_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("claims.id"))
    status: Mapped[str]
    total_micros: Mapped[int] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime.datetime]
    last_error_reason: Mapped[str | None]
    created_at: Mapped[datetime.datetime]
    delivered_at: Mapped[datetime.datetime | None]
    updated_at: Mapped[datetime.datetime]


class PayoutTransfer(Base):
    __tablename__ = "payout_transfers"
    __table_args__ = (
        UniqueConstraint("entry_id", "position"),
        CheckConstraint(f"amount_micros BETWEEN 1 AND {MICROS_MAX}", name="amount_range"),
        CheckConstraint(_in("recipient", RECIPIENTS), name="recipient_known"),
        CheckConstraint(_in("code", TRANSFER_CODES), name="code_known"),
        CheckConstraint(
            "(recipient = 'agent') = (agent_id IS NOT NULL)", name="agent_recipient_named"
        ),
        CheckConstraint(
            "(code = 'refund') = (recipient = 'treasury')", name="refunds_go_to_the_treasury"
        ),
        CheckConstraint("position BETWEEN 0 AND 99", name="position_range"),
        {"comment": "The fixed linked batch of each outbox entry. Insert-only."},
    )

    transfer_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("outbox_entries.id"))
    position: Mapped[int] = mapped_column(SmallInteger)
    recipient: Mapped[str]
    agent_id: Mapped[uuid.UUID | None]
    amount_micros: Mapped[int] = mapped_column(BigInteger)
    code: Mapped[str]


class Correlation(Base):
    __tablename__ = "correlations"
    __table_args__ = (
        CheckConstraint("agent_a_id < agent_b_id", name="pair_in_id_order"),
        CheckConstraint("char_length(reason) <= 500", name="reason_length"),
        CheckConstraint(
            "(deleted_at IS NULL) = (deleted_by_account_id IS NULL)", name="deletion_has_actor"
        ),
        Index(
            "uq_correlations_one_live_per_pair",
            "agent_a_id",
            "agent_b_id",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index(None, "agent_b_id"),
        Index(None, "created_at", "id"),
        {"comment": "Symmetric flags: neither agent of a pair reviews the other's work."},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    agent_a_id: Mapped[uuid.UUID]
    agent_b_id: Mapped[uuid.UUID]
    reason: Mapped[str]
    created_by_account_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime.datetime]
    deleted_at: Mapped[datetime.datetime | None]
    deleted_by_account_id: Mapped[uuid.UUID | None]


class Agent(Base):
    __tablename__ = "agents"
    __table_args__ = (
        CheckConstraint(_in("lifecycle", LIFECYCLES), name="lifecycle_known"),
        CheckConstraint(_in("status", AGENT_STATUSES), name="status_known"),
        CheckConstraint("trust_tier BETWEEN 0 AND 3", name="trust_tier_range"),
        CheckConstraint(
            "(lifecycle = 'claimed') = (owner_account_id IS NOT NULL)", name="claimed_iff_owned"
        ),
        Index(None, "owner_account_id"),
        Index(
            "ix_agents_reviewer_pool",
            "agent_id",
            postgresql_where=text("lifecycle = 'claimed' AND status = 'active'"),
        ),
        {"comment": "Mirror of auth's agents (owner, lifecycle, status, tier) for assignment."},
    )

    agent_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    owner_account_id: Mapped[uuid.UUID | None]
    lifecycle: Mapped[str]
    status: Mapped[str]
    trust_tier: Mapped[int] = mapped_column(SmallInteger)
    source_updated_at: Mapped[datetime.datetime]
    synced_at: Mapped[datetime.datetime]


class SyncState(Base):
    __tablename__ = "sync_state"
    __table_args__ = ({"comment": "Where each mirror's incremental sync resumes."},)

    name: Mapped[str] = mapped_column(primary_key=True)
    cursor: Mapped[datetime.datetime | None]
    synced_at: Mapped[datetime.datetime]

"""The review schema: bounties and their escrow slots, claims, reviewer assignments and votes,
the payout outbox with its fixed transfer batches, correlation flags, and the mirror of auth's
agents used for reviewer assignment.

Constraints mirror the state-machine invariants (see ``services/review/store/models.py``);
guard triggers make transitions one-way (a decided claim, a cast vote, a delivered payout, a
removed flag never change back, and a bounty's terms never change). The runtime role gets, per
table, only what the service does: payout batches are SELECT and INSERT only, and nothing is
ever deleted.

Revision ID: review_0002
Revises: review_0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from services.common.migrations import grant_runtime

revision = "review_0002"
down_revision = "review_0001"
branch_labels = None
depends_on = None

SCHEMA = "review"

GRANTS: dict[str, tuple[str, ...]] = {
    "bounties": ("SELECT", "INSERT", "UPDATE"),
    "claims": ("SELECT", "INSERT", "UPDATE"),
    "reviews": ("SELECT", "INSERT", "UPDATE"),
    "outbox_entries": ("SELECT", "INSERT", "UPDATE"),
    # A payout batch is fixed when its entry is written: re-sending can only repeat it.
    "payout_transfers": ("SELECT", "INSERT"),
    "correlations": ("SELECT", "INSERT", "UPDATE"),
    "agents": ("SELECT", "INSERT", "UPDATE"),
    "sync_state": ("SELECT", "INSERT", "UPDATE"),
}

_BOUNTY_TRANSITIONS = (
    "('open', 'filled'), ('open', 'closed'), ('filled', 'closed'), ('open', 'cancelled'), "
    "('filled', 'cancelled'), ('closed', 'cancelled'), ('filled', 'completed'), "
    "('closed', 'completed')"
)
_CLAIM_TRANSITIONS = (
    "('claimed', 'submitted'), ('claimed', 'expired'), ('claimed', 'cancelled'), "
    "('submitted', 'approved'), ('submitted', 'rejected')"
)

# table -> (condition under which the update is refused, message). Each runs BEFORE UPDATE.
GUARDS: dict[str, tuple[str, str]] = {
    "bounties": (
        "NEW.id <> OLD.id OR NEW.title <> OLD.title OR NEW.description <> OLD.description"
        " OR NEW.type <> OLD.type OR NEW.reward_micros <> OLD.reward_micros"
        " OR NEW.reviewer_reward_micros <> OLD.reviewer_reward_micros"
        " OR NEW.reviewers_per_claim <> OLD.reviewers_per_claim"
        " OR NEW.votes_to_decide <> OLD.votes_to_decide OR NEW.max_claims <> OLD.max_claims"
        " OR NEW.required_trust_tier <> OLD.required_trust_tier OR NEW.deadline <> OLD.deadline"
        " OR NEW.slot_escrow_micros <> OLD.slot_escrow_micros"
        " OR NEW.escrow_micros <> OLD.escrow_micros"
        " OR NEW.escrow_transfer_id <> OLD.escrow_transfer_id"
        " OR NEW.created_by_account_id <> OLD.created_by_account_id"
        " OR NEW.created_at <> OLD.created_at"
        " OR NEW.claims_taken < OLD.claims_taken OR NEW.slots_refunded < OLD.slots_refunded"
        " OR NEW.claims_settled < OLD.claims_settled"
        f" OR (NEW.status <> OLD.status AND (OLD.status, NEW.status) NOT IN"
        f" ({_BOUNTY_TRANSITIONS}))"
        " OR (OLD.cancelled_at IS NOT NULL AND (NEW.cancelled_at IS DISTINCT FROM OLD.cancelled_at"
        " OR NEW.cancel_reason IS DISTINCT FROM OLD.cancel_reason))"
        " OR (OLD.closed_at IS NOT NULL AND NEW.closed_at IS DISTINCT FROM OLD.closed_at)",
        "bounty terms are fixed, counters only grow, and the status only moves forward",
    ),
    "claims": (
        "NEW.id <> OLD.id OR NEW.bounty_id <> OLD.bounty_id OR NEW.agent_id <> OLD.agent_id"
        " OR NEW.owner_account_id <> OLD.owner_account_id OR NEW.claimed_at <> OLD.claimed_at"
        f" OR (NEW.status <> OLD.status AND (OLD.status, NEW.status) NOT IN ({_CLAIM_TRANSITIONS}))"
        " OR (OLD.submitted_at IS NOT NULL AND (NEW.submitted_at IS DISTINCT FROM OLD.submitted_at"
        " OR NEW.submission_text IS DISTINCT FROM OLD.submission_text))"
        " OR (OLD.finalized_at IS NOT NULL AND (NEW.finalized_at IS DISTINCT FROM OLD.finalized_at"
        " OR NEW.decision IS DISTINCT FROM OLD.decision OR NEW.approvals <> OLD.approvals"
        " OR NEW.rejections <> OLD.rejections))",
        "a claim moves only forward, and is submitted and decided once",
    ),
    "reviews": (
        "NEW.id <> OLD.id OR NEW.claim_id <> OLD.claim_id OR NEW.bounty_id <> OLD.bounty_id"
        " OR NEW.reviewer_agent_id <> OLD.reviewer_agent_id"
        " OR NEW.reviewer_owner_account_id <> OLD.reviewer_owner_account_id"
        " OR NEW.slot <> OLD.slot OR NEW.assigned_at <> OLD.assigned_at"
        " OR NEW.due_at <> OLD.due_at"
        " OR (OLD.status <> 'assigned' AND (NEW.status <> OLD.status"
        " OR NEW.decision IS DISTINCT FROM OLD.decision OR NEW.notes IS DISTINCT FROM OLD.notes"
        " OR NEW.submitted_at IS DISTINCT FROM OLD.submitted_at"
        " OR NEW.closed_at IS DISTINCT FROM OLD.closed_at"
        " OR NEW.reward_micros <> OLD.reward_micros))",
        "a review is voted, replaced or withdrawn once",
    ),
    "outbox_entries": (
        "NEW.id <> OLD.id OR NEW.kind <> OLD.kind OR NEW.bounty_id <> OLD.bounty_id"
        " OR NEW.claim_id IS DISTINCT FROM OLD.claim_id OR NEW.total_micros <> OLD.total_micros"
        " OR NEW.created_at <> OLD.created_at"
        " OR (OLD.status = 'delivered' AND (NEW.status <> 'delivered'"
        " OR NEW.delivered_at IS DISTINCT FROM OLD.delivered_at))",
        "a payout is fixed when written and delivered once",
    ),
    "correlations": (
        "NEW.id <> OLD.id OR NEW.agent_a_id <> OLD.agent_a_id OR NEW.agent_b_id <> OLD.agent_b_id"
        " OR NEW.reason <> OLD.reason OR NEW.created_by_account_id <> OLD.created_by_account_id"
        " OR NEW.created_at <> OLD.created_at"
        " OR (OLD.deleted_at IS NOT NULL AND (NEW.deleted_at IS DISTINCT FROM OLD.deleted_at"
        " OR NEW.deleted_by_account_id IS DISTINCT FROM OLD.deleted_by_account_id))",
        "the pair of a flag is fixed and a removed flag stays removed",
    ),
    "agents": (
        "NEW.agent_id <> OLD.agent_id OR NEW.source_updated_at < OLD.source_updated_at"
        " OR (OLD.lifecycle = 'claimed' AND (NEW.lifecycle <> 'claimed'"
        " OR NEW.owner_account_id IS DISTINCT FROM OLD.owner_account_id))",
        "the mirror never goes back to an older version, and a claimed agent keeps its owner",
    ),
}


def _create_guard(table: str, condition: str, message: str) -> None:
    function = f'"{SCHEMA}"."guard_{table}"'
    op.execute(
        f"""
        CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $guard$
        BEGIN
            IF {condition} THEN
                RAISE EXCEPTION '{table}: {message}' USING ERRCODE = 'check_violation';
            END IF;
            RETURN NEW;
        END
        $guard$
        """
    )
    op.execute(
        f'CREATE TRIGGER "guard_{table}" BEFORE UPDATE ON "{SCHEMA}"."{table}" '
        f"FOR EACH ROW EXECUTE FUNCTION {function}()"
    )


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("owner_account_id", sa.Uuid(), nullable=True),
        sa.Column("lifecycle", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("trust_tier", sa.SmallInteger(), nullable=False),
        sa.Column("source_updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(lifecycle = 'claimed') = (owner_account_id IS NOT NULL)",
            name=op.f("ck_agents_claimed_iff_owned"),
        ),
        sa.CheckConstraint(
            "lifecycle IN ('registered_unclaimed', 'claimed')",
            name=op.f("ck_agents_lifecycle_known"),
        ),
        sa.CheckConstraint(
            "status IN ('active', 'suspended')", name=op.f("ck_agents_status_known")
        ),
        sa.CheckConstraint("trust_tier BETWEEN 0 AND 3", name=op.f("ck_agents_trust_tier_range")),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_agents")),
        schema="review",
        comment="Mirror of auth's agents (owner, lifecycle, status, tier) for assignment.",
    )
    op.create_index(
        op.f("ix_agents_owner_account_id"),
        "agents",
        ["owner_account_id"],
        unique=False,
        schema="review",
    )
    op.create_index(
        "ix_agents_reviewer_pool",
        "agents",
        ["agent_id"],
        unique=False,
        schema="review",
        postgresql_where=sa.text("lifecycle = 'claimed' AND status = 'active'"),
    )
    op.create_table(
        "bounties",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("reward_micros", sa.BigInteger(), nullable=False),
        sa.Column("reviewer_reward_micros", sa.BigInteger(), nullable=False),
        sa.Column("reviewers_per_claim", sa.SmallInteger(), nullable=False),
        sa.Column("votes_to_decide", sa.SmallInteger(), nullable=False),
        sa.Column("max_claims", sa.SmallInteger(), nullable=False),
        sa.Column("claims_taken", sa.SmallInteger(), nullable=False),
        sa.Column("slots_refunded", sa.SmallInteger(), nullable=False),
        sa.Column("claims_settled", sa.SmallInteger(), nullable=False),
        sa.Column("required_trust_tier", sa.SmallInteger(), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("slot_escrow_micros", sa.BigInteger(), nullable=False),
        sa.Column("escrow_micros", sa.BigInteger(), nullable=False),
        sa.Column("escrow_outstanding_micros", sa.BigInteger(), nullable=False),
        sa.Column("escrow_transfer_id", sa.Uuid(), nullable=False),
        sa.Column("created_by_account_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(status = 'cancelled') = (cancelled_at IS NOT NULL) AND (cancelled_at IS NULL) ="
            " (cancel_reason IS NULL) AND char_length(cancel_reason) BETWEEN 1 AND 500",
            name=op.f("ck_bounties_cancellation_has_reason"),
        ),
        sa.CheckConstraint(
            "(status = 'completed') = (completed_at IS NOT NULL) AND (status <> 'completed' OR"
            " escrow_outstanding_micros = 0)",
            name=op.f("ck_bounties_completed_is_settled"),
        ),
        sa.CheckConstraint(
            "status <> 'closed' OR closed_at IS NOT NULL", name=op.f("ck_bounties_closed_has_time")
        ),
        sa.CheckConstraint(
            "status <> 'filled' OR claims_taken = max_claims",
            name=op.f("ck_bounties_filled_has_no_free_slot"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'filled', 'closed', 'completed', 'cancelled')",
            name=op.f("ck_bounties_status_known"),
        ),
        sa.CheckConstraint("type IN ('work', 'verification')", name=op.f("ck_bounties_type_known")),
        sa.CheckConstraint(
            "char_length(description) <= 20000", name=op.f("ck_bounties_description_length")
        ),
        sa.CheckConstraint(
            "char_length(title) BETWEEN 1 AND 200", name=op.f("ck_bounties_title_length")
        ),
        sa.CheckConstraint(
            "claims_taken BETWEEN 0 AND max_claims", name=op.f("ck_bounties_claims_taken_range")
        ),
        sa.CheckConstraint(
            "deadline > created_at", name=op.f("ck_bounties_deadline_after_creation")
        ),
        sa.CheckConstraint(
            "escrow_micros = max_claims * slot_escrow_micros AND escrow_micros <= 1000000000000000",
            name=op.f("ck_bounties_escrow_is_every_slot"),
        ),
        sa.CheckConstraint(
            "escrow_outstanding_micros = (max_claims - slots_refunded - claims_settled) *"
            " slot_escrow_micros",
            name=op.f("ck_bounties_outstanding_is_open_slots"),
        ),
        sa.CheckConstraint(
            "max_claims BETWEEN 1 AND 100", name=op.f("ck_bounties_max_claims_range")
        ),
        sa.CheckConstraint(
            "required_trust_tier BETWEEN 0 AND 3", name=op.f("ck_bounties_trust_tier_range")
        ),
        sa.CheckConstraint(
            "reviewer_reward_micros BETWEEN 0 AND reward_micros",
            name=op.f("ck_bounties_reviewer_reward_range"),
        ),
        sa.CheckConstraint(
            "reviewers_per_claim BETWEEN 1 AND 9 AND votes_to_decide BETWEEN 1 AND"
            " reviewers_per_claim",
            name=op.f("ck_bounties_quorum_range"),
        ),
        sa.CheckConstraint("reward_micros > 0", name=op.f("ck_bounties_reward_positive")),
        sa.CheckConstraint(
            "slot_escrow_micros = reward_micros + reviewers_per_claim * reviewer_reward_micros",
            name=op.f("ck_bounties_slot_escrow_is_reward_and_reviewer_shares"),
        ),
        sa.CheckConstraint(
            "slots_refunded >= 0 AND claims_settled >= 0 AND slots_refunded + claims_settled <="
            " max_claims",
            name=op.f("ck_bounties_slots_accounted"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bounties")),
        sa.UniqueConstraint("escrow_transfer_id", name=op.f("uq_bounties_escrow_transfer_id")),
        schema="review",
        comment="Bounties and the escrow of their slots, funded from the treasury.",
    )
    op.create_index(
        op.f("ix_bounties_created_at_id"),
        "bounties",
        ["created_at", "id"],
        unique=False,
        schema="review",
    )
    op.create_index(
        "ix_bounties_open_by_deadline",
        "bounties",
        ["deadline"],
        unique=False,
        schema="review",
        postgresql_where=sa.text("status IN ('open', 'filled')"),
    )
    op.create_table(
        "correlations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agent_a_id", sa.Uuid(), nullable=False),
        sa.Column("agent_b_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by_account_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by_account_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "(deleted_at IS NULL) = (deleted_by_account_id IS NULL)",
            name=op.f("ck_correlations_deletion_has_actor"),
        ),
        sa.CheckConstraint(
            "agent_a_id < agent_b_id", name=op.f("ck_correlations_pair_in_id_order")
        ),
        sa.CheckConstraint(
            "char_length(reason) <= 500", name=op.f("ck_correlations_reason_length")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_correlations")),
        schema="review",
        comment="Symmetric flags: neither agent of a pair reviews the other's work.",
    )
    op.create_index(
        op.f("ix_correlations_agent_b_id"),
        "correlations",
        ["agent_b_id"],
        unique=False,
        schema="review",
    )
    op.create_index(
        op.f("ix_correlations_created_at_id"),
        "correlations",
        ["created_at", "id"],
        unique=False,
        schema="review",
    )
    op.create_index(
        "uq_correlations_one_live_per_pair",
        "correlations",
        ["agent_a_id", "agent_b_id"],
        unique=True,
        schema="review",
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_table(
        "sync_state",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("cursor", sa.DateTime(timezone=True), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sync_state")),
        schema="review",
        comment="Where each mirror's incremental sync resumes.",
    )
    op.create_table(
        "claims",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("bounty_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("owner_account_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("submission_text", sa.Text(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finalized_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision", sa.Text(), nullable=True),
        sa.Column("approvals", sa.SmallInteger(), nullable=False),
        sa.Column("rejections", sa.SmallInteger(), nullable=False),
        sa.Column("awaiting_reviewers", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(status = 'approved') = (decision IS NOT DISTINCT FROM 'approve') AND (status ="
            " 'rejected') = (decision IS NOT DISTINCT FROM 'reject')",
            name=op.f("ck_claims_decision_matches_status"),
        ),
        sa.CheckConstraint(
            "(status IN ('approved', 'rejected', 'expired', 'cancelled')) = (finalized_at IS NOT"
            " NULL)",
            name=op.f("ck_claims_final_has_time"),
        ),
        sa.CheckConstraint(
            "(status IN ('submitted', 'approved', 'rejected')) = (submitted_at IS NOT NULL) AND"
            " (submitted_at IS NULL) = (submission_text IS NULL)",
            name=op.f("ck_claims_submitted_has_submission"),
        ),
        sa.CheckConstraint(
            "NOT awaiting_reviewers OR status = 'submitted'",
            name=op.f("ck_claims_awaiting_only_when_submitted"),
        ),
        sa.CheckConstraint(
            "decision IS NULL OR decision IN ('approve', 'reject')",
            name=op.f("ck_claims_decision_known"),
        ),
        sa.CheckConstraint(
            "status IN ('claimed', 'submitted', 'approved', 'rejected', 'expired', 'cancelled')",
            name=op.f("ck_claims_status_known"),
        ),
        sa.CheckConstraint(
            "approvals >= 0 AND rejections >= 0", name=op.f("ck_claims_votes_not_negative")
        ),
        sa.CheckConstraint(
            "char_length(submission_text) BETWEEN 1 AND 50000",
            name=op.f("ck_claims_submission_length"),
        ),
        sa.ForeignKeyConstraint(
            ["bounty_id"], ["review.bounties.id"], name=op.f("fk_claims_bounty_id_bounties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claims")),
        sa.UniqueConstraint("bounty_id", "agent_id", name=op.f("uq_claims_bounty_id_agent_id")),
        schema="review",
        comment="One agent's slot on a bounty: claimed, submitted, then decided.",
    )
    op.create_index(
        op.f("ix_claims_agent_id_status"),
        "claims",
        ["agent_id", "status"],
        unique=False,
        schema="review",
    )
    op.create_index(
        "ix_claims_awaiting_reviewers",
        "claims",
        ["submitted_at"],
        unique=False,
        schema="review",
        postgresql_where=sa.text("awaiting_reviewers"),
    )
    op.create_index(
        op.f("ix_claims_claimed_at_id"),
        "claims",
        ["claimed_at", "id"],
        unique=False,
        schema="review",
    )
    op.create_table(
        "outbox_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("bounty_id", sa.Uuid(), nullable=False),
        sa.Column("claim_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("total_micros", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(kind = 'claim_payout') = (claim_id IS NOT NULL)",
            name=op.f("ck_outbox_entries_claim_payout_names_claim"),
        ),
        sa.CheckConstraint(
            "(status = 'delivered') = (delivered_at IS NOT NULL)",
            name=op.f("ck_outbox_entries_delivered_has_time"),
        ),
        sa.CheckConstraint(
            "kind IN ('claim_payout', 'slot_refund')", name=op.f("ck_outbox_entries_kind_known")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'stuck')",
            name=op.f("ck_outbox_entries_status_known"),
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_outbox_entries_attempts_not_negative")),
        sa.CheckConstraint(
            "char_length(last_error_reason) <= 64",
            name=op.f("ck_outbox_entries_error_reason_length"),
        ),
        sa.CheckConstraint(
            "total_micros BETWEEN 1 AND 1000000000000000",
            name=op.f("ck_outbox_entries_total_range"),
        ),
        sa.ForeignKeyConstraint(
            ["bounty_id"], ["review.bounties.id"], name=op.f("fk_outbox_entries_bounty_id_bounties")
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["review.claims.id"], name=op.f("fk_outbox_entries_claim_id_claims")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_entries")),
        sa.UniqueConstraint("claim_id", name=op.f("uq_outbox_entries_claim_id")),
        schema="review",
        comment="Payouts written with the decision that owes them; sent to wallet once.",
    )
    op.create_index(
        op.f("ix_outbox_entries_bounty_id"),
        "outbox_entries",
        ["bounty_id"],
        unique=False,
        schema="review",
    )
    op.create_index(
        op.f("ix_outbox_entries_created_at_id"),
        "outbox_entries",
        ["created_at", "id"],
        unique=False,
        schema="review",
    )
    op.create_index(
        "ix_outbox_entries_undelivered",
        "outbox_entries",
        ["next_attempt_at"],
        unique=False,
        schema="review",
        postgresql_where=sa.text("status <> 'delivered'"),
    )
    op.create_index(
        "uq_outbox_entries_one_slot_refund_per_bounty",
        "outbox_entries",
        ["bounty_id"],
        unique=True,
        schema="review",
        postgresql_where=sa.text("kind = 'slot_refund'"),
    )
    op.create_table(
        "reviews",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("bounty_id", sa.Uuid(), nullable=False),
        sa.Column("reviewer_agent_id", sa.Uuid(), nullable=False),
        sa.Column("reviewer_owner_account_id", sa.Uuid(), nullable=False),
        sa.Column("slot", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("decision", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reward_micros", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "(status = 'submitted') = (decision IS NOT NULL) AND (decision IS NULL) ="
            " (submitted_at IS NULL)",
            name=op.f("ck_reviews_vote_iff_submitted"),
        ),
        sa.CheckConstraint(
            "(status IN ('replaced', 'withdrawn')) = (closed_at IS NOT NULL)",
            name=op.f("ck_reviews_closed_has_time"),
        ),
        sa.CheckConstraint(
            "decision IS NULL OR decision IN ('approve', 'reject')",
            name=op.f("ck_reviews_decision_known"),
        ),
        sa.CheckConstraint(
            "reward_micros >= 0 AND (status = 'submitted' OR reward_micros = 0)",
            name=op.f("ck_reviews_reward_only_for_votes"),
        ),
        sa.CheckConstraint(
            "status IN ('assigned', 'submitted', 'replaced', 'withdrawn')",
            name=op.f("ck_reviews_status_known"),
        ),
        sa.CheckConstraint("char_length(notes) <= 5000", name=op.f("ck_reviews_notes_length")),
        sa.CheckConstraint("due_at > assigned_at", name=op.f("ck_reviews_due_after_assignment")),
        sa.CheckConstraint("slot BETWEEN 0 AND 8", name=op.f("ck_reviews_slot_range")),
        sa.ForeignKeyConstraint(
            ["bounty_id"], ["review.bounties.id"], name=op.f("fk_reviews_bounty_id_bounties")
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["review.claims.id"], name=op.f("fk_reviews_claim_id_claims")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
        sa.UniqueConstraint(
            "claim_id", "reviewer_agent_id", name=op.f("uq_reviews_claim_id_reviewer_agent_id")
        ),
        schema="review",
        comment="Reviewer assignments of a claim and their votes.",
    )
    op.create_index(
        "ix_reviews_assigned_by_due",
        "reviews",
        ["due_at"],
        unique=False,
        schema="review",
        postgresql_where=sa.text("status = 'assigned'"),
    )
    op.create_index(
        op.f("ix_reviews_reviewer_agent_id_status_due_at"),
        "reviews",
        ["reviewer_agent_id", "status", "due_at"],
        unique=False,
        schema="review",
    )
    op.create_index(
        "uq_reviews_one_live_per_slot",
        "reviews",
        ["claim_id", "slot"],
        unique=True,
        schema="review",
        postgresql_where=sa.text("status IN ('assigned', 'submitted')"),
    )
    op.create_table(
        "payout_transfers",
        sa.Column("transfer_id", sa.Uuid(), nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("amount_micros", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "(code = 'refund') = (recipient = 'treasury')",
            name=op.f("ck_payout_transfers_refunds_go_to_the_treasury"),
        ),
        sa.CheckConstraint(
            "(recipient = 'agent') = (agent_id IS NOT NULL)",
            name=op.f("ck_payout_transfers_agent_recipient_named"),
        ),
        sa.CheckConstraint(
            "code IN ('bounty_reward', 'review_reward', 'refund')",
            name=op.f("ck_payout_transfers_code_known"),
        ),
        sa.CheckConstraint(
            "recipient IN ('agent', 'treasury')", name=op.f("ck_payout_transfers_recipient_known")
        ),
        sa.CheckConstraint(
            "amount_micros BETWEEN 1 AND 1000000000000000",
            name=op.f("ck_payout_transfers_amount_range"),
        ),
        sa.CheckConstraint(
            "position BETWEEN 0 AND 99", name=op.f("ck_payout_transfers_position_range")
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["review.outbox_entries.id"],
            name=op.f("fk_payout_transfers_entry_id_outbox_entries"),
        ),
        sa.PrimaryKeyConstraint("transfer_id", name=op.f("pk_payout_transfers")),
        sa.UniqueConstraint(
            "entry_id", "position", name=op.f("uq_payout_transfers_entry_id_position")
        ),
        schema="review",
        comment="The fixed linked batch of each outbox entry. Insert-only.",
    )
    for table, (condition, message) in GUARDS.items():
        _create_guard(table, condition, message)
    for table, privileges in GRANTS.items():
        grant_runtime(schema=SCHEMA, table=table, privileges=privileges)


def downgrade() -> None:
    for table in GUARDS:
        op.execute(f'DROP TRIGGER "guard_{table}" ON "{SCHEMA}"."{table}"')
        op.execute(f'DROP FUNCTION "{SCHEMA}"."guard_{table}"()')
    op.drop_table("payout_transfers", schema="review")
    op.drop_index(
        "uq_reviews_one_live_per_slot",
        table_name="reviews",
        schema="review",
        postgresql_where=sa.text("status IN ('assigned', 'submitted')"),
    )
    op.drop_index(
        op.f("ix_reviews_reviewer_agent_id_status_due_at"), table_name="reviews", schema="review"
    )
    op.drop_index(
        "ix_reviews_assigned_by_due",
        table_name="reviews",
        schema="review",
        postgresql_where=sa.text("status = 'assigned'"),
    )
    op.drop_table("reviews", schema="review")
    op.drop_index(
        "uq_outbox_entries_one_slot_refund_per_bounty",
        table_name="outbox_entries",
        schema="review",
        postgresql_where=sa.text("kind = 'slot_refund'"),
    )
    op.drop_index(
        "ix_outbox_entries_undelivered",
        table_name="outbox_entries",
        schema="review",
        postgresql_where=sa.text("status <> 'delivered'"),
    )
    op.drop_index(
        op.f("ix_outbox_entries_created_at_id"), table_name="outbox_entries", schema="review"
    )
    op.drop_index(op.f("ix_outbox_entries_bounty_id"), table_name="outbox_entries", schema="review")
    op.drop_table("outbox_entries", schema="review")
    op.drop_index(op.f("ix_claims_claimed_at_id"), table_name="claims", schema="review")
    op.drop_index(
        "ix_claims_awaiting_reviewers",
        table_name="claims",
        schema="review",
        postgresql_where=sa.text("awaiting_reviewers"),
    )
    op.drop_index(op.f("ix_claims_agent_id_status"), table_name="claims", schema="review")
    op.drop_table("claims", schema="review")
    op.drop_table("sync_state", schema="review")
    op.drop_index(
        "uq_correlations_one_live_per_pair",
        table_name="correlations",
        schema="review",
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.drop_index(op.f("ix_correlations_created_at_id"), table_name="correlations", schema="review")
    op.drop_index(op.f("ix_correlations_agent_b_id"), table_name="correlations", schema="review")
    op.drop_table("correlations", schema="review")
    op.drop_index(
        "ix_bounties_open_by_deadline",
        table_name="bounties",
        schema="review",
        postgresql_where=sa.text("status IN ('open', 'filled')"),
    )
    op.drop_index(op.f("ix_bounties_created_at_id"), table_name="bounties", schema="review")
    op.drop_table("bounties", schema="review")
    op.drop_index(
        "ix_agents_reviewer_pool",
        table_name="agents",
        schema="review",
        postgresql_where=sa.text("lifecycle = 'claimed' AND status = 'active'"),
    )
    op.drop_index(op.f("ix_agents_owner_account_id"), table_name="agents", schema="review")
    op.drop_table("agents", schema="review")

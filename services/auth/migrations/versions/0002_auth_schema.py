"""The auth schema: accounts, sessions, agents, claim codes, keys, identity tokens, signing
keys, attempt counters and the insert-only audit log.

Constraints mirror the domain invariants (see ``services/auth/store/models.py``); triggers make
final transitions final (a revoked key, session or claim code, a claimed agent, a consumed
identity token, a retired signing key never come back). The runtime role gets, per table, only
what the service does: the audit log is SELECT and INSERT only, nothing is ever deleted.

Revision ID: auth_0002
Revises: auth_0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from services.common.migrations import grant_runtime

revision = "auth_0002"
down_revision = "auth_0001"
branch_labels = None
depends_on = None

SCHEMA = "auth"

GRANTS: dict[str, tuple[str, ...]] = {
    "accounts": ("SELECT", "INSERT", "UPDATE"),
    "sessions": ("SELECT", "INSERT", "UPDATE"),
    "session_tokens": ("SELECT", "INSERT", "UPDATE"),
    "agents": ("SELECT", "INSERT", "UPDATE"),
    "claim_codes": ("SELECT", "INSERT", "UPDATE"),
    "api_keys": ("SELECT", "INSERT", "UPDATE"),
    "identity_tokens": ("SELECT", "INSERT", "UPDATE"),
    "signing_keys": ("SELECT", "INSERT", "UPDATE"),
    "attempt_counters": ("SELECT", "INSERT", "UPDATE"),
    # Insert-only: an audit entry, once written, cannot be changed or removed at runtime.
    "audit_events": ("SELECT", "INSERT"),
}

# table -> (condition under which the update is refused, message). Each runs BEFORE UPDATE.
GUARDS: dict[str, tuple[str, str]] = {
    "accounts": (
        "NEW.id <> OLD.id OR NEW.created_at <> OLD.created_at",
        "account identity is fixed",
    ),
    "sessions": (
        "NEW.id <> OLD.id OR NEW.account_id <> OLD.account_id OR NEW.created_at <> OLD.created_at"
        " OR NEW.expires_at > OLD.expires_at"
        " OR (OLD.revoked_at IS NOT NULL AND (NEW.revoked_at IS DISTINCT FROM OLD.revoked_at"
        " OR NEW.revocation_reason IS DISTINCT FROM OLD.revocation_reason))",
        "a session cannot be extended, moved or un-revoked",
    ),
    "session_tokens": (
        "NEW.id <> OLD.id OR NEW.session_id <> OLD.session_id OR NEW.generation <> OLD.generation"
        " OR NEW.session_token_hash <> OLD.session_token_hash"
        " OR NEW.refresh_token_hash <> OLD.refresh_token_hash"
        " OR NEW.previous_token_id IS DISTINCT FROM OLD.previous_token_id"
        " OR (OLD.rotated_at IS NOT NULL AND NEW.rotated_at IS DISTINCT FROM OLD.rotated_at)",
        "a rotated session token stays rotated",
    ),
    "agents": (
        "NEW.id <> OLD.id OR NEW.created_at <> OLD.created_at"
        " OR (OLD.lifecycle = 'claimed' AND (NEW.lifecycle <> 'claimed'"
        " OR NEW.owner_account_id IS DISTINCT FROM OLD.owner_account_id"
        " OR NEW.claimed_at IS DISTINCT FROM OLD.claimed_at))",
        "a claimed agent keeps its owner",
    ),
    "claim_codes": (
        "NEW.id <> OLD.id OR NEW.agent_id <> OLD.agent_id OR NEW.code_hash <> OLD.code_hash"
        " OR NEW.expires_at > OLD.expires_at"
        " OR ((OLD.consumed_at IS NOT NULL OR OLD.revoked_at IS NOT NULL)"
        " AND (NEW.consumed_at IS DISTINCT FROM OLD.consumed_at"
        " OR NEW.revoked_at IS DISTINCT FROM OLD.revoked_at"
        " OR NEW.consumed_by_account_id IS DISTINCT FROM OLD.consumed_by_account_id))",
        "a used or replaced claim code stays burned",
    ),
    "api_keys": (
        "NEW.id <> OLD.id OR NEW.agent_id <> OLD.agent_id OR NEW.family <> OLD.family"
        " OR NEW.secret_hash <> OLD.secret_hash OR NEW.key_prefix <> OLD.key_prefix"
        " OR NEW.created_at <> OLD.created_at"
        " OR NEW.created_by_key_id IS DISTINCT FROM OLD.created_by_key_id"
        " OR NEW.created_by_account_id IS DISTINCT FROM OLD.created_by_account_id"
        " OR (OLD.revoked_at IS NOT NULL AND (NEW.revoked_at IS DISTINCT FROM OLD.revoked_at"
        " OR NEW.revocation_reason IS DISTINCT FROM OLD.revocation_reason))",
        "a revoked key stays revoked, and a key keeps its identity",
    ),
    "identity_tokens": (
        "NEW.id <> OLD.id OR NEW.agent_id <> OLD.agent_id OR NEW.token_hash <> OLD.token_hash"
        " OR NEW.audience <> OLD.audience OR NEW.expires_at <> OLD.expires_at"
        " OR (OLD.consumed_at IS NOT NULL AND (NEW.consumed_at IS DISTINCT FROM OLD.consumed_at"
        " OR NEW.outcome IS DISTINCT FROM OLD.outcome))",
        "an identity token is consumed once",
    ),
    "signing_keys": (
        "NEW.id <> OLD.id OR NEW.public_key <> OLD.public_key"
        " OR NEW.private_key_nonce <> OLD.private_key_nonce"
        " OR NEW.private_key_ciphertext <> OLD.private_key_ciphertext"
        " OR (OLD.status = 'retired' AND (NEW.status <> 'retired'"
        " OR NEW.not_after > OLD.not_after))"
        " OR (OLD.status = 'active' AND NEW.status = 'next')",
        "a retired signing key stays retired",
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
        "accounts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "left(password_hash, 10) = '$argon2id$'", name=op.f("ck_accounts_password_is_argon2id")
        ),
        sa.CheckConstraint(
            "role IN ('user', 'admin', 'super_admin')", name=op.f("ck_accounts_role_known")
        ),
        sa.CheckConstraint(
            "char_length(display_name) <= 100", name=op.f("ck_accounts_display_name_length")
        ),
        sa.CheckConstraint(
            "email = lower(btrim(email)) AND char_length(email) BETWEEN 3 AND 254",
            name=op.f("ck_accounts_email_normalised"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("email", name=op.f("uq_accounts_email")),
        schema="auth",
        comment="Human accounts. Passwords only as Argon2id PHC strings.",
    )
    op.create_table(
        "attempt_counters",
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("subject_digest", sa.LargeBinary(), nullable=False),
        sa.Column("failure_count", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "scope IN ('login_email', 'login_ip', 'claim_account', 'claim_ip')",
            name=op.f("ck_attempt_counters_scope_known"),
        ),
        sa.CheckConstraint(
            "(failure_count = 0) = (last_failure_at IS NULL)",
            name=op.f("ck_attempt_counters_failures_have_a_time"),
        ),
        sa.CheckConstraint(
            "failure_count >= 0", name=op.f("ck_attempt_counters_failure_count_not_negative")
        ),
        sa.CheckConstraint(
            "locked_until IS NULL OR failure_count > 0",
            name=op.f("ck_attempt_counters_locks_follow_failures"),
        ),
        sa.CheckConstraint(
            "octet_length(subject_digest) = 32", name=op.f("ck_attempt_counters_subject_is_digest")
        ),
        sa.PrimaryKeyConstraint("scope", "subject_digest", name=op.f("pk_attempt_counters")),
        schema="auth",
        comment="Login lockout and claim throttling, per keyed digest of email/IP/account.",
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_account_id", sa.Uuid(), nullable=True),
        sa.Column("actor_agent_id", sa.Uuid(), nullable=True),
        sa.Column("actor_key_id", sa.Uuid(), nullable=True),
        sa.Column("actor_service", sa.Text(), nullable=True),
        sa.Column("subject_account_id", sa.Uuid(), nullable=True),
        sa.Column("subject_agent_id", sa.Uuid(), nullable=True),
        sa.Column("subject_key_id", sa.Uuid(), nullable=True),
        sa.Column("subject_session_id", sa.Uuid(), nullable=True),
        sa.Column("client_ip", postgresql.INET(), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.CheckConstraint(
            "(outcome = 'failure') = (failure_reason IS NOT NULL)",
            name=op.f("ck_audit_events_failure_has_reason"),
        ),
        sa.CheckConstraint(
            (
                "event_type IN ('account_registered', 'login_succeeded', 'login_failed', "
                "'login_locked_out', 'session_refreshed', 'session_refresh_reused', "
                "'session_logged_out', 'session_revoked', 'agent_registered', 'agent_claimed', "
                "'agent_claim_failed', 'claim_code_renewed', 'agent_rekeyed', 'agent_suspended', "
                "'agent_reactivated', 'agent_access_denied', 'key_created', 'key_updated', "
                "'key_revoked', 'role_changed', 'trust_tier_changed', 'identity_token_created', "
                "'identity_token_verified', 'identity_token_rejected', 'admin_account_created', "
                "'signing_key_rotated')"
            ),
            name=op.f("ck_audit_events_event_type_known"),
        ),
        sa.CheckConstraint(
            "failure_reason IS NULL OR failure_reason ~ '^[A-Z][A-Z0-9_]{0,63}$'",
            name=op.f("ck_audit_events_failure_reason_format"),
        ),
        sa.CheckConstraint(
            "jsonb_typeof(details) = 'object'", name=op.f("ck_audit_events_details_is_object")
        ),
        sa.CheckConstraint(
            "outcome IN ('success', 'failure')", name=op.f("ck_audit_events_outcome_known")
        ),
        sa.CheckConstraint(
            "request_id IS NULL OR char_length(request_id) <= 128",
            name=op.f("ck_audit_events_request_id_length"),
        ),
        sa.CheckConstraint(
            "user_agent IS NULL OR char_length(user_agent) <= 512",
            name=op.f("ck_audit_events_user_agent_length"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
        schema="auth",
        comment="Insert-only audit log of every auth event; never a secret.",
    )
    op.create_index(
        op.f("ix_audit_events_actor_account_id_occurred_at"),
        "audit_events",
        ["actor_account_id", "occurred_at"],
        unique=False,
        schema="auth",
    )
    op.create_index(
        op.f("ix_audit_events_actor_agent_id_occurred_at"),
        "audit_events",
        ["actor_agent_id", "occurred_at"],
        unique=False,
        schema="auth",
    )
    op.create_index(
        op.f("ix_audit_events_actor_key_id_occurred_at"),
        "audit_events",
        ["actor_key_id", "occurred_at"],
        unique=False,
        schema="auth",
    )
    op.create_index(
        op.f("ix_audit_events_occurred_at_id"),
        "audit_events",
        ["occurred_at", "id"],
        unique=False,
        schema="auth",
    )
    op.create_index(
        op.f("ix_audit_events_subject_account_id_occurred_at"),
        "audit_events",
        ["subject_account_id", "occurred_at"],
        unique=False,
        schema="auth",
    )
    op.create_index(
        op.f("ix_audit_events_subject_agent_id_occurred_at"),
        "audit_events",
        ["subject_agent_id", "occurred_at"],
        unique=False,
        schema="auth",
    )
    op.create_index(
        op.f("ix_audit_events_subject_key_id_occurred_at"),
        "audit_events",
        ["subject_key_id", "occurred_at"],
        unique=False,
        schema="auth",
    )
    op.create_table(
        "signing_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("algorithm", sa.Text(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("private_key_nonce", sa.LargeBinary(), nullable=False),
        sa.Column("private_key_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("algorithm = 'ed25519'", name=op.f("ck_signing_keys_algorithm_ed25519")),
        sa.CheckConstraint(
            "status <> 'retired' OR not_after IS NOT NULL",
            name=op.f("ck_signing_keys_retired_has_end"),
        ),
        sa.CheckConstraint(
            "status IN ('next', 'active', 'retired')", name=op.f("ck_signing_keys_status_known")
        ),
        sa.CheckConstraint(
            "not_after IS NULL OR not_after >= not_before",
            name=op.f("ck_signing_keys_window_ordered"),
        ),
        sa.CheckConstraint(
            "octet_length(private_key_ciphertext) = 48",
            name=op.f("ck_signing_keys_ciphertext_is_sealed_key"),
        ),
        sa.CheckConstraint(
            "octet_length(private_key_nonce) = 12", name=op.f("ck_signing_keys_nonce_length")
        ),
        sa.CheckConstraint(
            "octet_length(public_key) = 32", name=op.f("ck_signing_keys_public_key_length")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signing_keys")),
        schema="auth",
        comment="Access-token signing keys; private halves AES-256-GCM sealed (AAD = id).",
    )
    op.create_index(
        "uq_signing_keys_one_per_live_status",
        "signing_keys",
        ["status"],
        unique=True,
        schema="auth",
        postgresql_where=sa.text("status IN ('next', 'active')"),
    )
    op.create_table(
        "agents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_normalised", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("harness", sa.Text(), nullable=False),
        sa.Column("lifecycle", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("owner_account_id", sa.Uuid(), nullable=True),
        sa.Column("trust_tier", sa.SmallInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("suspension_reason", sa.Text(), nullable=True),
        sa.Column("registration_ip", postgresql.INET(), nullable=True),
        sa.CheckConstraint(
            "(lifecycle = 'claimed') = (claimed_at IS NOT NULL)",
            name=op.f("ck_agents_claimed_has_claimed_at"),
        ),
        sa.CheckConstraint(
            "(lifecycle = 'claimed') = (owner_account_id IS NOT NULL)",
            name=op.f("ck_agents_claimed_iff_owned"),
        ),
        sa.CheckConstraint(
            "(status = 'suspended') = (suspended_at IS NOT NULL)",
            name=op.f("ck_agents_suspended_has_suspended_at"),
        ),
        sa.CheckConstraint(
            "(status = 'suspended') = (suspension_reason IS NOT NULL)",
            name=op.f("ck_agents_suspended_has_reason"),
        ),
        sa.CheckConstraint("harness ~ '^[a-z0-9_-]{0,32}$'", name=op.f("ck_agents_harness_format")),
        sa.CheckConstraint(
            "lifecycle IN ('registered_unclaimed', 'claimed')",
            name=op.f("ck_agents_lifecycle_known"),
        ),
        sa.CheckConstraint("name ~ '^[A-Za-z0-9_-]{2,64}$'", name=op.f("ck_agents_name_format")),
        sa.CheckConstraint(
            "status IN ('active', 'suspended')", name=op.f("ck_agents_status_known")
        ),
        sa.CheckConstraint(
            "char_length(description) <= 500", name=op.f("ck_agents_description_length")
        ),
        sa.CheckConstraint("name_normalised = lower(name)", name=op.f("ck_agents_name_normalised")),
        sa.CheckConstraint(
            "suspension_reason IS NULL OR char_length(suspension_reason) BETWEEN 1 AND 500",
            name=op.f("ck_agents_suspension_reason_length"),
        ),
        sa.CheckConstraint("trust_tier BETWEEN 0 AND 3", name=op.f("ck_agents_trust_tier_range")),
        sa.ForeignKeyConstraint(
            ["owner_account_id"],
            ["auth.accounts.id"],
            name=op.f("fk_agents_owner_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
        sa.UniqueConstraint("name_normalised", name=op.f("uq_agents_name_normalised")),
        schema="auth",
        comment="AI agents: lifecycle registered_unclaimed -> claimed, status, trust tier.",
    )
    op.create_index(
        op.f("ix_agents_owner_account_id"),
        "agents",
        ["owner_account_id"],
        unique=False,
        schema="auth",
    )
    op.create_index(
        op.f("ix_agents_registration_ip_created_at"),
        "agents",
        ["registration_ip", "created_at"],
        unique=False,
        schema="auth",
    )
    op.create_index(
        op.f("ix_agents_updated_at_id"), "agents", ["updated_at", "id"], unique=False, schema="auth"
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revocation_reason", sa.Text(), nullable=True),
        sa.Column("client_ip", postgresql.INET(), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            (
                "revocation_reason IS NULL OR revocation_reason IN ('logout', 'user_revoked', "
                "'refresh_reuse', 'admin')"
            ),
            name=op.f("ck_sessions_revocation_reason_known"),
        ),
        sa.CheckConstraint(
            "(revoked_at IS NULL) = (revocation_reason IS NULL)",
            name=op.f("ck_sessions_revocation_has_reason"),
        ),
        sa.CheckConstraint(
            "char_length(user_agent) <= 512", name=op.f("ck_sessions_user_agent_length")
        ),
        sa.CheckConstraint(
            "expires_at > created_at", name=op.f("ck_sessions_expires_after_creation")
        ),
        sa.CheckConstraint("generation >= 0", name=op.f("ck_sessions_generation_not_negative")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["auth.accounts.id"], name=op.f("fk_sessions_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
        schema="auth",
        comment="One login's family of rotating session and refresh tokens.",
    )
    op.create_index(
        op.f("ix_sessions_account_id_created_at"),
        "sessions",
        ["account_id", "created_at"],
        unique=False,
        schema="auth",
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("family", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(), nullable=False),
        sa.Column("key_prefix", sa.Text(), nullable=False),
        sa.Column("credit_limit_micros", sa.BigInteger(), nullable=True),
        sa.Column("rate_limit_rpm", sa.Integer(), nullable=True),
        sa.Column("allowed_models", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revocation_reason", sa.Text(), nullable=True),
        sa.Column("created_by_key_id", sa.Uuid(), nullable=True),
        sa.Column("created_by_account_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            (
                "(family = 'agent' AND key_prefix ~ '^tokenmart_[0-9A-Za-z]{8}$') OR (family = "
                "'inference' AND key_prefix ~ '^th_[0-9A-Za-z]{8}$') OR (family = 'management' AND "
                "key_prefix ~ '^thm_[0-9A-Za-z]{8}$')"
            ),
            name=op.f("ck_api_keys_prefix_matches_family"),
        ),
        sa.CheckConstraint(
            "family <> 'agent' OR "
            "(credit_limit_micros IS NULL AND cardinality(allowed_models) = 0)",
            name=op.f("ck_api_keys_agent_keys_have_no_spend_limits"),
        ),
        sa.CheckConstraint(
            "family IN ('agent', 'inference', 'management')", name=op.f("ck_api_keys_family_known")
        ),
        sa.CheckConstraint(
            "cardinality(allowed_models) <= 100", name=op.f("ck_api_keys_allowed_models_count")
        ),
        sa.CheckConstraint(
            "char_length(name) BETWEEN 1 AND 100", name=op.f("ck_api_keys_name_length")
        ),
        sa.CheckConstraint(
            "created_by_key_id IS DISTINCT FROM id", name=op.f("ck_api_keys_not_self_created")
        ),
        sa.CheckConstraint(
            "created_by_key_id IS NULL OR created_by_account_id IS NULL",
            name=op.f("ck_api_keys_one_creator"),
        ),
        sa.CheckConstraint(
            "credit_limit_micros IS NULL OR credit_limit_micros BETWEEN 0 AND 1000000000000000",
            name=op.f("ck_api_keys_credit_limit_range"),
        ),
        sa.CheckConstraint(
            "expires_at IS NULL OR expires_at > created_at",
            name=op.f("ck_api_keys_expires_after_creation"),
        ),
        sa.CheckConstraint(
            "octet_length(secret_hash) = 32", name=op.f("ck_api_keys_secret_hash_is_sha256")
        ),
        sa.CheckConstraint(
            "rate_limit_rpm IS NULL OR rate_limit_rpm BETWEEN 1 AND 100000",
            name=op.f("ck_api_keys_rate_limit_range"),
        ),
        sa.CheckConstraint(
            "revocation_reason IS NULL OR char_length(revocation_reason) <= 500",
            name=op.f("ck_api_keys_revocation_reason_length"),
        ),
        sa.CheckConstraint(
            "revocation_reason IS NULL OR revoked_at IS NOT NULL",
            name=op.f("ck_api_keys_reason_only_if_revoked"),
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["auth.agents.id"], name=op.f("fk_api_keys_agent_id_agents")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_account_id"],
            ["auth.accounts.id"],
            name=op.f("fk_api_keys_created_by_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_key_id"],
            ["auth.api_keys.id"],
            name=op.f("fk_api_keys_created_by_key_id_api_keys"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_api_keys_secret_hash")),
        schema="auth",
        comment="tokenmart_, th_ and thm_ keys, stored as HMAC digests only.",
    )
    op.create_index(
        op.f("ix_api_keys_agent_id_created_at"),
        "api_keys",
        ["agent_id", "created_at"],
        unique=False,
        schema="auth",
    )
    op.create_table(
        "claim_codes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consumed_by_account_id", sa.Uuid(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(consumed_at IS NULL) = (consumed_by_account_id IS NULL)",
            name=op.f("ck_claim_codes_consumed_has_account"),
        ),
        sa.CheckConstraint(
            "consumed_at IS NULL OR revoked_at IS NULL",
            name=op.f("ck_claim_codes_consumed_or_revoked_not_both"),
        ),
        sa.CheckConstraint(
            "expires_at > created_at", name=op.f("ck_claim_codes_expires_after_creation")
        ),
        sa.CheckConstraint(
            "octet_length(code_hash) = 32", name=op.f("ck_claim_codes_code_hash_is_sha256")
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["auth.agents.id"], name=op.f("fk_claim_codes_agent_id_agents")
        ),
        sa.ForeignKeyConstraint(
            ["consumed_by_account_id"],
            ["auth.accounts.id"],
            name=op.f("fk_claim_codes_consumed_by_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_claim_codes_code_hash")),
        schema="auth",
        comment="Claim codes, stored as HMAC digests only; single use, expiring.",
    )
    op.create_index(
        op.f("ix_claim_codes_agent_id_created_at"),
        "claim_codes",
        ["agent_id", "created_at"],
        unique=False,
        schema="auth",
    )
    op.create_index(
        "uq_claim_codes_one_live_per_agent",
        "claim_codes",
        ["agent_id"],
        unique=True,
        schema="auth",
        postgresql_where=sa.text("consumed_at IS NULL AND revoked_at IS NULL"),
    )
    op.create_table(
        "identity_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("audience", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.CheckConstraint(
            (
                "outcome IS NULL OR outcome IN ('valid', 'expired', 'audience_mismatch', "
                "'agent_suspended')"
            ),
            name=op.f("ck_identity_tokens_outcome_known"),
        ),
        sa.CheckConstraint(
            "(consumed_at IS NULL) = (outcome IS NULL)",
            name=op.f("ck_identity_tokens_consumed_has_outcome"),
        ),
        sa.CheckConstraint(
            "char_length(audience) BETWEEN 1 AND 255",
            name=op.f("ck_identity_tokens_audience_length"),
        ),
        sa.CheckConstraint(
            "expires_at > created_at", name=op.f("ck_identity_tokens_expires_after_creation")
        ),
        sa.CheckConstraint(
            "octet_length(token_hash) = 32", name=op.f("ck_identity_tokens_token_hash_is_sha256")
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["auth.agents.id"], name=op.f("fk_identity_tokens_agent_id_agents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_identity_tokens_token_hash")),
        schema="auth",
        comment="tmid_ identity tokens: audience-bound, single use, digests only.",
    )
    op.create_index(
        op.f("ix_identity_tokens_agent_id"),
        "identity_tokens",
        ["agent_id"],
        unique=False,
        schema="auth",
    )
    op.create_table(
        "session_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("previous_token_id", sa.Uuid(), nullable=True),
        sa.Column("session_token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("refresh_token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("session_token_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refresh_token_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(generation = 0) = (previous_token_id IS NULL)",
            name=op.f("ck_session_tokens_chain_starts_at_generation_0"),
        ),
        sa.CheckConstraint(
            "octet_length(refresh_token_hash) = 32",
            name=op.f("ck_session_tokens_refresh_hash_is_sha256"),
        ),
        sa.CheckConstraint(
            "octet_length(session_token_hash) = 32",
            name=op.f("ck_session_tokens_session_hash_is_sha256"),
        ),
        sa.CheckConstraint(
            "session_token_expires_at > created_at AND refresh_token_expires_at > created_at",
            name=op.f("ck_session_tokens_expires_after_creation"),
        ),
        sa.ForeignKeyConstraint(
            ["previous_token_id"],
            ["auth.session_tokens.id"],
            name=op.f("fk_session_tokens_previous_token_id_session_tokens"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["auth.sessions.id"], name=op.f("fk_session_tokens_session_id_sessions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_tokens")),
        sa.UniqueConstraint("previous_token_id", name=op.f("uq_session_tokens_previous_token_id")),
        sa.UniqueConstraint(
            "refresh_token_hash", name=op.f("uq_session_tokens_refresh_token_hash")
        ),
        sa.UniqueConstraint(
            "session_id", "generation", name=op.f("uq_session_tokens_session_id_generation")
        ),
        sa.UniqueConstraint(
            "session_token_hash", name=op.f("uq_session_tokens_session_token_hash")
        ),
        schema="auth",
        comment="Each rotation of a session: digests of its tms_ and tmr_ tokens.",
    )
    op.create_index(
        "uq_session_tokens_one_current_per_session",
        "session_tokens",
        ["session_id"],
        unique=True,
        schema="auth",
        postgresql_where=sa.text("rotated_at IS NULL"),
    )
    for table, (condition, message) in GUARDS.items():
        _create_guard(table, condition, message)
    for table, privileges in GRANTS.items():
        grant_runtime(schema=SCHEMA, table=table, privileges=privileges)


def downgrade() -> None:
    for table in GUARDS:
        op.execute(f'DROP TRIGGER "guard_{table}" ON "{SCHEMA}"."{table}"')
        op.execute(f'DROP FUNCTION "{SCHEMA}"."guard_{table}"()')
    op.drop_index(
        "uq_session_tokens_one_current_per_session",
        table_name="session_tokens",
        schema="auth",
        postgresql_where=sa.text("rotated_at IS NULL"),
    )
    op.drop_table("session_tokens", schema="auth")
    op.drop_index(op.f("ix_identity_tokens_agent_id"), table_name="identity_tokens", schema="auth")
    op.drop_table("identity_tokens", schema="auth")
    op.drop_index(
        "uq_claim_codes_one_live_per_agent",
        table_name="claim_codes",
        schema="auth",
        postgresql_where=sa.text("consumed_at IS NULL AND revoked_at IS NULL"),
    )
    op.drop_index(
        op.f("ix_claim_codes_agent_id_created_at"), table_name="claim_codes", schema="auth"
    )
    op.drop_table("claim_codes", schema="auth")
    op.drop_index(op.f("ix_api_keys_agent_id_created_at"), table_name="api_keys", schema="auth")
    op.drop_table("api_keys", schema="auth")
    op.drop_index(op.f("ix_sessions_account_id_created_at"), table_name="sessions", schema="auth")
    op.drop_table("sessions", schema="auth")
    op.drop_index(op.f("ix_agents_updated_at_id"), table_name="agents", schema="auth")
    op.drop_index(op.f("ix_agents_registration_ip_created_at"), table_name="agents", schema="auth")
    op.drop_index(op.f("ix_agents_owner_account_id"), table_name="agents", schema="auth")
    op.drop_table("agents", schema="auth")
    op.drop_index(
        "uq_signing_keys_one_per_live_status",
        table_name="signing_keys",
        schema="auth",
        postgresql_where=sa.text("status IN ('next', 'active')"),
    )
    op.drop_table("signing_keys", schema="auth")
    op.drop_index(
        op.f("ix_audit_events_subject_key_id_occurred_at"), table_name="audit_events", schema="auth"
    )
    op.drop_index(
        op.f("ix_audit_events_subject_agent_id_occurred_at"),
        table_name="audit_events",
        schema="auth",
    )
    op.drop_index(
        op.f("ix_audit_events_subject_account_id_occurred_at"),
        table_name="audit_events",
        schema="auth",
    )
    op.drop_index(op.f("ix_audit_events_occurred_at_id"), table_name="audit_events", schema="auth")
    op.drop_index(
        op.f("ix_audit_events_actor_key_id_occurred_at"), table_name="audit_events", schema="auth"
    )
    op.drop_index(
        op.f("ix_audit_events_actor_agent_id_occurred_at"), table_name="audit_events", schema="auth"
    )
    op.drop_index(
        op.f("ix_audit_events_actor_account_id_occurred_at"),
        table_name="audit_events",
        schema="auth",
    )
    op.drop_table("audit_events", schema="auth")
    op.drop_table("attempt_counters", schema="auth")
    op.drop_table("accounts", schema="auth")

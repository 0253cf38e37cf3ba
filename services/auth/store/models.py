"""The auth schema's tables. Alembic migrations must match these (checked in tests).

Every invariant of the domain that a row can state is also a named CHECK or UNIQUE constraint
here, so a bug in the code cannot write a row the rules forbid. Transitions that must never be
undone (revocation, claiming, consumption) are guarded by triggers created in the migrations.
Secrets never appear: credentials are HMAC-SHA-256 digests (32 bytes), passwords Argon2id PHC
strings, signing keys AES-256-GCM ciphertexts.

Money is BIGINT micro-credits, ids are UUIDs, times are ``timestamptz``.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, INET, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import service_metadata
from services.common.store import request_log_table

SCHEMA = "auth"
metadata = service_metadata(SCHEMA)
request_log = request_log_table(metadata)

TIMESTAMP = DateTime(timezone=True)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


ROLES = ("user", "admin", "super_admin")
LIFECYCLES = ("registered_unclaimed", "claimed")
AGENT_STATUSES = ("active", "suspended")
KEY_FAMILIES = ("agent", "inference", "management")
REVOCATION_REASONS = ("logout", "user_revoked", "refresh_reuse", "admin")
IDENTITY_OUTCOMES = ("valid", "expired", "audience_mismatch", "agent_suspended")
SIGNING_KEY_STATUSES = ("next", "active", "retired")
COUNTER_SCOPES = ("login_email", "login_ip", "claim_account", "claim_ip")
AUDIT_OUTCOMES = ("success", "failure")
AUDIT_EVENT_TYPES = (
    "account_registered",
    "login_succeeded",
    "login_failed",
    "login_locked_out",
    "session_refreshed",
    "session_refresh_reused",
    "session_logged_out",
    "session_revoked",
    "agent_registered",
    "agent_claimed",
    "agent_claim_failed",
    "claim_code_renewed",
    "agent_rekeyed",
    "agent_suspended",
    "agent_reactivated",
    "agent_access_denied",
    "key_created",
    "key_updated",
    "key_revoked",
    "role_changed",
    "trust_tier_changed",
    "identity_token_created",
    "identity_token_verified",
    "identity_token_rejected",
    "admin_account_created",
    "signing_key_rotated",
    "signing_keys_resealed",
)


class Base(DeclarativeBase):
    metadata = metadata
    type_annotation_map: dict[Any, Any] = {
        uuid.UUID: Uuid(),
        datetime.datetime: TIMESTAMP,
        str: Text(),
        bytes: LargeBinary(),
    }


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        UniqueConstraint("email"),
        CheckConstraint(
            "email = lower(btrim(email)) AND char_length(email) BETWEEN 3 AND 254",
            name="email_normalised",
        ),
        CheckConstraint("char_length(display_name) <= 100", name="display_name_length"),
        CheckConstraint("left(password_hash, 10) = '$argon2id$'", name="password_is_argon2id"),
        CheckConstraint(_in("role", ROLES), name="role_known"),
        {"comment": "Human accounts. Passwords only as Argon2id PHC strings."},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    email: Mapped[str]
    display_name: Mapped[str]
    password_hash: Mapped[str]
    role: Mapped[str]
    created_at: Mapped[datetime.datetime]
    updated_at: Mapped[datetime.datetime]
    last_login_at: Mapped[datetime.datetime | None]


class Session(Base):
    __tablename__ = "sessions"
    __table_args__ = (
        CheckConstraint("expires_at > created_at", name="expires_after_creation"),
        CheckConstraint(
            "(revoked_at IS NULL) = (revocation_reason IS NULL)", name="revocation_has_reason"
        ),
        CheckConstraint(
            f"revocation_reason IS NULL OR {_in('revocation_reason', REVOCATION_REASONS)}",
            name="revocation_reason_known",
        ),
        CheckConstraint("char_length(user_agent) <= 512", name="user_agent_length"),
        CheckConstraint("generation >= 0", name="generation_not_negative"),
        Index(None, "account_id", "created_at"),
        {"comment": "One login's family of rotating session and refresh tokens."},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime.datetime]
    expires_at: Mapped[datetime.datetime]
    last_refreshed_at: Mapped[datetime.datetime | None]
    revoked_at: Mapped[datetime.datetime | None]
    revocation_reason: Mapped[str | None]
    client_ip: Mapped[str | None] = mapped_column(INET)
    user_agent: Mapped[str]
    generation: Mapped[int] = mapped_column(Integer)


class SessionToken(Base):
    __tablename__ = "session_tokens"
    __table_args__ = (
        UniqueConstraint("session_token_hash"),
        UniqueConstraint("refresh_token_hash"),
        UniqueConstraint("session_id", "generation"),
        UniqueConstraint("previous_token_id"),
        CheckConstraint("octet_length(session_token_hash) = 32", name="session_hash_is_sha256"),
        CheckConstraint("octet_length(refresh_token_hash) = 32", name="refresh_hash_is_sha256"),
        CheckConstraint(
            "(generation = 0) = (previous_token_id IS NULL)", name="chain_starts_at_generation_0"
        ),
        CheckConstraint(
            "session_token_expires_at > created_at AND refresh_token_expires_at > created_at",
            name="expires_after_creation",
        ),
        Index(
            "uq_session_tokens_one_current_per_session",
            "session_id",
            unique=True,
            postgresql_where=text("rotated_at IS NULL"),
        ),
        {"comment": "Each rotation of a session: digests of its tms_ and tmr_ tokens."},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id"))
    generation: Mapped[int] = mapped_column(Integer)
    previous_token_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("session_tokens.id"))
    session_token_hash: Mapped[bytes]
    refresh_token_hash: Mapped[bytes]
    session_token_expires_at: Mapped[datetime.datetime]
    refresh_token_expires_at: Mapped[datetime.datetime]
    created_at: Mapped[datetime.datetime]
    rotated_at: Mapped[datetime.datetime | None]


class Agent(Base):
    __tablename__ = "agents"
    __table_args__ = (
        UniqueConstraint("name_normalised"),
        CheckConstraint("name ~ '^[A-Za-z0-9_-]{2,64}$'", name="name_format"),
        CheckConstraint("name_normalised = lower(name)", name="name_normalised"),
        CheckConstraint("char_length(description) <= 500", name="description_length"),
        CheckConstraint("harness ~ '^[a-z0-9_-]{0,32}$'", name="harness_format"),
        CheckConstraint(_in("lifecycle", LIFECYCLES), name="lifecycle_known"),
        CheckConstraint(_in("status", AGENT_STATUSES), name="status_known"),
        CheckConstraint(
            "(lifecycle = 'claimed') = (owner_account_id IS NOT NULL)",
            name="claimed_iff_owned",
        ),
        CheckConstraint(
            "(lifecycle = 'claimed') = (claimed_at IS NOT NULL)", name="claimed_has_claimed_at"
        ),
        CheckConstraint(
            "(status = 'suspended') = (suspended_at IS NOT NULL)",
            name="suspended_has_suspended_at",
        ),
        CheckConstraint(
            "(status = 'suspended') = (suspension_reason IS NOT NULL)",
            name="suspended_has_reason",
        ),
        CheckConstraint(
            "suspension_reason IS NULL OR char_length(suspension_reason) BETWEEN 1 AND 500",
            name="suspension_reason_length",
        ),
        CheckConstraint("trust_tier BETWEEN 0 AND 3", name="trust_tier_range"),
        Index(None, "owner_account_id"),
        Index(None, "updated_at", "id"),
        Index(None, "registration_ip", "created_at"),
        {"comment": "AI agents: lifecycle registered_unclaimed -> claimed, status, trust tier."},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str]
    name_normalised: Mapped[str]
    description: Mapped[str]
    harness: Mapped[str]
    lifecycle: Mapped[str]
    status: Mapped[str]
    owner_account_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("accounts.id"))
    trust_tier: Mapped[int] = mapped_column(SmallInteger)
    created_at: Mapped[datetime.datetime]
    updated_at: Mapped[datetime.datetime]
    claimed_at: Mapped[datetime.datetime | None]
    suspended_at: Mapped[datetime.datetime | None]
    suspension_reason: Mapped[str | None]
    registration_ip: Mapped[str | None] = mapped_column(INET)


class ClaimCode(Base):
    __tablename__ = "claim_codes"
    __table_args__ = (
        UniqueConstraint("code_hash"),
        CheckConstraint("octet_length(code_hash) = 32", name="code_hash_is_sha256"),
        CheckConstraint("expires_at > created_at", name="expires_after_creation"),
        CheckConstraint(
            "(consumed_at IS NULL) = (consumed_by_account_id IS NULL)",
            name="consumed_has_account",
        ),
        CheckConstraint(
            "consumed_at IS NULL OR revoked_at IS NULL", name="consumed_or_revoked_not_both"
        ),
        Index(
            "uq_claim_codes_one_live_per_agent",
            "agent_id",
            unique=True,
            postgresql_where=text("consumed_at IS NULL AND revoked_at IS NULL"),
        ),
        Index(None, "agent_id", "created_at"),
        {"comment": "Claim codes, stored as HMAC digests only; single use, expiring."},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agents.id"))
    code_hash: Mapped[bytes]
    created_at: Mapped[datetime.datetime]
    expires_at: Mapped[datetime.datetime]
    consumed_at: Mapped[datetime.datetime | None]
    consumed_by_account_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("accounts.id"))
    revoked_at: Mapped[datetime.datetime | None]


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (
        UniqueConstraint("secret_hash"),
        CheckConstraint("octet_length(secret_hash) = 32", name="secret_hash_is_sha256"),
        CheckConstraint(_in("family", KEY_FAMILIES), name="family_known"),
        CheckConstraint("char_length(name) BETWEEN 1 AND 100", name="name_length"),
        CheckConstraint(
            "(family = 'agent' AND key_prefix ~ '^tokenmart_[0-9A-Za-z]{8}$')"
            " OR (family = 'inference' AND key_prefix ~ '^th_[0-9A-Za-z]{8}$')"
            " OR (family = 'management' AND key_prefix ~ '^thm_[0-9A-Za-z]{8}$')",
            name="prefix_matches_family",
        ),
        CheckConstraint(
            "credit_limit_micros IS NULL OR credit_limit_micros BETWEEN 0 AND 1000000000000000",
            name="credit_limit_range",
        ),
        CheckConstraint(
            "rate_limit_rpm IS NULL OR rate_limit_rpm BETWEEN 1 AND 100000",
            name="rate_limit_range",
        ),
        CheckConstraint("cardinality(allowed_models) <= 100", name="allowed_models_count"),
        CheckConstraint(
            "family <> 'agent' OR "
            "(credit_limit_micros IS NULL AND cardinality(allowed_models) = 0)",
            name="agent_keys_have_no_spend_limits",
        ),
        CheckConstraint(
            "expires_at IS NULL OR expires_at > created_at", name="expires_after_creation"
        ),
        CheckConstraint(
            "revocation_reason IS NULL OR revoked_at IS NOT NULL", name="reason_only_if_revoked"
        ),
        CheckConstraint(
            "revocation_reason IS NULL OR char_length(revocation_reason) <= 500",
            name="revocation_reason_length",
        ),
        CheckConstraint(
            "created_by_key_id IS NULL OR created_by_account_id IS NULL",
            name="one_creator",
        ),
        CheckConstraint("created_by_key_id IS DISTINCT FROM id", name="not_self_created"),
        Index(None, "agent_id", "created_at"),
        {"comment": "tokenmart_, th_ and thm_ keys, stored as HMAC digests only."},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agents.id"))
    family: Mapped[str]
    name: Mapped[str]
    secret_hash: Mapped[bytes]
    key_prefix: Mapped[str]
    credit_limit_micros: Mapped[int | None] = mapped_column(BigInteger)
    rate_limit_rpm: Mapped[int | None] = mapped_column(Integer)
    allowed_models: Mapped[list[str]] = mapped_column(ARRAY(Text))
    expires_at: Mapped[datetime.datetime | None]
    created_at: Mapped[datetime.datetime]
    updated_at: Mapped[datetime.datetime]
    last_used_at: Mapped[datetime.datetime | None]
    revoked_at: Mapped[datetime.datetime | None]
    revocation_reason: Mapped[str | None]
    created_by_key_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_keys.id"))
    created_by_account_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("accounts.id"))


class IdentityToken(Base):
    __tablename__ = "identity_tokens"
    __table_args__ = (
        UniqueConstraint("token_hash"),
        CheckConstraint("octet_length(token_hash) = 32", name="token_hash_is_sha256"),
        CheckConstraint("char_length(audience) BETWEEN 1 AND 255", name="audience_length"),
        CheckConstraint("expires_at > created_at", name="expires_after_creation"),
        CheckConstraint("(consumed_at IS NULL) = (outcome IS NULL)", name="consumed_has_outcome"),
        CheckConstraint(
            f"outcome IS NULL OR {_in('outcome', IDENTITY_OUTCOMES)}", name="outcome_known"
        ),
        Index(None, "agent_id"),
        {"comment": "tmid_ identity tokens: audience-bound, single use, digests only."},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agents.id"))
    token_hash: Mapped[bytes]
    audience: Mapped[str]
    created_at: Mapped[datetime.datetime]
    expires_at: Mapped[datetime.datetime]
    consumed_at: Mapped[datetime.datetime | None]
    outcome: Mapped[str | None]


class SigningKey(Base):
    __tablename__ = "signing_keys"
    __table_args__ = (
        CheckConstraint("algorithm = 'ed25519'", name="algorithm_ed25519"),
        CheckConstraint("octet_length(public_key) = 32", name="public_key_length"),
        CheckConstraint("octet_length(private_key_nonce) = 12", name="nonce_length"),
        CheckConstraint(
            "octet_length(private_key_ciphertext) = 48", name="ciphertext_is_sealed_key"
        ),
        CheckConstraint(_in("status", SIGNING_KEY_STATUSES), name="status_known"),
        CheckConstraint("status <> 'retired' OR not_after IS NOT NULL", name="retired_has_end"),
        CheckConstraint("not_after IS NULL OR not_after >= not_before", name="window_ordered"),
        Index(
            "uq_signing_keys_one_per_live_status",
            "status",
            unique=True,
            postgresql_where=text("status IN ('next', 'active')"),
        ),
        {"comment": "Access-token signing keys; private halves AES-256-GCM sealed (AAD = id)."},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    algorithm: Mapped[str]
    public_key: Mapped[bytes]
    private_key_nonce: Mapped[bytes]
    private_key_ciphertext: Mapped[bytes]
    status: Mapped[str]
    not_before: Mapped[datetime.datetime]
    not_after: Mapped[datetime.datetime | None]
    created_at: Mapped[datetime.datetime]


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        CheckConstraint(_in("event_type", AUDIT_EVENT_TYPES), name="event_type_known"),
        CheckConstraint(_in("outcome", AUDIT_OUTCOMES), name="outcome_known"),
        CheckConstraint(
            "(outcome = 'failure') = (failure_reason IS NOT NULL)",
            name="failure_has_reason",
        ),
        CheckConstraint(
            "failure_reason IS NULL OR failure_reason ~ '^[A-Z][A-Z0-9_]{0,63}$'",
            name="failure_reason_format",
        ),
        CheckConstraint(
            "user_agent IS NULL OR char_length(user_agent) <= 512", name="user_agent_length"
        ),
        CheckConstraint(
            "request_id IS NULL OR char_length(request_id) <= 128", name="request_id_length"
        ),
        CheckConstraint("jsonb_typeof(details) = 'object'", name="details_is_object"),
        Index(None, "occurred_at", "id"),
        Index(None, "subject_account_id", "occurred_at"),
        Index(None, "actor_account_id", "occurred_at"),
        Index(None, "subject_agent_id", "occurred_at"),
        Index(None, "actor_agent_id", "occurred_at"),
        Index(None, "subject_key_id", "occurred_at"),
        Index(None, "actor_key_id", "occurred_at"),
        {"comment": "Insert-only audit log of every auth event; never a secret."},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    event_type: Mapped[str]
    outcome: Mapped[str]
    failure_reason: Mapped[str | None]
    occurred_at: Mapped[datetime.datetime]
    actor_account_id: Mapped[uuid.UUID | None]
    actor_agent_id: Mapped[uuid.UUID | None]
    actor_key_id: Mapped[uuid.UUID | None]
    actor_service: Mapped[str | None]
    subject_account_id: Mapped[uuid.UUID | None]
    subject_agent_id: Mapped[uuid.UUID | None]
    subject_key_id: Mapped[uuid.UUID | None]
    subject_session_id: Mapped[uuid.UUID | None]
    client_ip: Mapped[str | None] = mapped_column(INET)
    user_agent: Mapped[str | None]
    request_id: Mapped[str | None]
    details: Mapped[dict[str, Any]] = mapped_column(JSONB)


class AttemptCounter(Base):
    __tablename__ = "attempt_counters"
    __table_args__ = (
        CheckConstraint(_in("scope", COUNTER_SCOPES), name="scope_known"),
        CheckConstraint("octet_length(subject_digest) = 32", name="subject_is_digest"),
        CheckConstraint("failure_count >= 0", name="failure_count_not_negative"),
        CheckConstraint(
            "(failure_count = 0) = (last_failure_at IS NULL)", name="failures_have_a_time"
        ),
        CheckConstraint("locked_until IS NULL OR failure_count > 0", name="locks_follow_failures"),
        {"comment": "Login lockout and claim throttling, per keyed digest of email/IP/account."},
    )

    scope: Mapped[str] = mapped_column(primary_key=True)
    subject_digest: Mapped[bytes] = mapped_column(primary_key=True)
    failure_count: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime.datetime | None]
    locked_until: Mapped[datetime.datetime | None]
    updated_at: Mapped[datetime.datetime]

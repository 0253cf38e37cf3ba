"""The provider schema's tables. Alembic migrations must match these (checked in tests).

Every invariant of the domain that a row can state is also a named CHECK or UNIQUE constraint
here, so a bug in the code cannot write a row the rules forbid: prices are positive (D5), a BYOK
key has exactly one owner matching its scope and its ciphertext has the shapes AES-256-GCM
produces, a deleted key has no ciphertext, a generation's settlement fields agree with each
other. Transitions that must never be undone (a settled generation, a deleted key) are guarded by
triggers created in the migration. No table has a column for a plaintext secret, a prompt or a
completion.

Money is BIGINT micro-credits, ids are UUIDs, times are ``timestamptz``.
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
    Index,
    Integer,
    LargeBinary,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import service_metadata
from services.common.store import request_log_table

SCHEMA = "provider"
metadata = service_metadata(SCHEMA)
request_log = request_log_table(metadata)

TIMESTAMP = DateTime(timezone=True)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


PROVIDERS = ("openai", "anthropic", "openrouter")
SCOPES = ("agent", "account")
DIALECTS = ("openai_chat_completions", "anthropic_messages")
KEY_SOURCES = ("platform", "byok_agent", "byok_account")
GENERATION_STATUSES = ("in_progress", "succeeded", "failed", "cancelled", "incomplete")
SETTLEMENT_STATUSES = ("pending", "settled", "not_required")
USAGE_SOURCES = ("upstream_reported", "counted", "hold_captured")
PRICE_MAX = 10**12


class Base(DeclarativeBase):
    metadata = metadata
    type_annotation_map: dict[Any, Any] = {
        uuid.UUID: Uuid(),
        datetime.datetime: TIMESTAMP,
        str: Text(),
        bytes: LargeBinary(),
        int: BigInteger(),
        bool: Boolean(),
    }


class ModelRow(Base):
    __tablename__ = "models"
    __table_args__ = (
        CheckConstraint(
            "model_id ~ '^[a-z0-9][a-z0-9._-]{0,63}/[a-z0-9][a-z0-9._:-]{0,127}$'",
            name="model_id_format",
        ),
        CheckConstraint("char_length(display_name) BETWEEN 1 AND 200", name="display_name_length"),
        CheckConstraint("char_length(description) <= 1000", name="description_length"),
        CheckConstraint(_in("provider", PROVIDERS), name="provider_known"),
        CheckConstraint("upstream_model ~ '^[\\x21-\\x7e]{1,200}$'", name="upstream_model_format"),
        # D5: a model priced zero by mistake can never be stored, so it can never be free.
        CheckConstraint(
            f"input_price_micros > 0 AND input_price_micros <= {PRICE_MAX} "
            f"AND output_price_micros > 0 AND output_price_micros <= {PRICE_MAX}",
            name="prices_positive",
        ),
        CheckConstraint("context_length BETWEEN 1 AND 10000000", name="context_length_range"),
        CheckConstraint(
            "max_output_tokens BETWEEN 1 AND context_length", name="max_output_within_context"
        ),
        CheckConstraint("revision >= 1", name="revision_positive"),
        {"comment": "The model registry: prices per million tokens in micro-credits, limits."},
    )

    model_id: Mapped[str] = mapped_column(primary_key=True)
    display_name: Mapped[str]
    description: Mapped[str]
    provider: Mapped[str]
    upstream_model: Mapped[str]
    input_price_micros: Mapped[int]
    output_price_micros: Mapped[int]
    context_length: Mapped[int] = mapped_column(Integer)
    max_output_tokens: Mapped[int] = mapped_column(Integer)
    supports_streaming: Mapped[bool]
    supports_tools: Mapped[bool]
    supports_vision: Mapped[bool]
    active: Mapped[bool]
    revision: Mapped[int]
    created_at: Mapped[datetime.datetime]
    updated_at: Mapped[datetime.datetime]


class ProviderKeyRow(Base):
    __tablename__ = "provider_keys"
    __table_args__ = (
        CheckConstraint(_in("scope", SCOPES), name="scope_known"),
        CheckConstraint(_in("provider", PROVIDERS), name="provider_known"),
        CheckConstraint(
            "(scope = 'agent' AND agent_id IS NOT NULL AND account_id IS NULL) OR "
            "(scope = 'account' AND account_id IS NOT NULL AND agent_id IS NULL)",
            name="owner_matches_scope",
        ),
        CheckConstraint("char_length(last4) = 4", name="last4_length"),
        CheckConstraint("char_length(label) <= 100", name="label_length"),
        CheckConstraint(
            "(deleted_at IS NULL) = (wrapped_key IS NOT NULL) AND "
            "(wrapped_key IS NULL) = (secret_nonce IS NULL) AND "
            "(wrapped_key IS NULL) = (secret_ciphertext IS NULL) AND "
            "(wrapped_key IS NULL) = (kek_version IS NULL)",
            name="deleted_has_no_ciphertext",
        ),
        # nonce (12) + AES-256-GCM(32-byte data key) + tag (16); nonce 12; ciphertext + tag.
        CheckConstraint(
            "wrapped_key IS NULL OR octet_length(wrapped_key) = 60", name="wrapped_key_length"
        ),
        CheckConstraint(
            "secret_nonce IS NULL OR octet_length(secret_nonce) = 12", name="secret_nonce_length"
        ),
        CheckConstraint(
            "secret_ciphertext IS NULL OR octet_length(secret_ciphertext) BETWEEN 24 AND 528",
            name="secret_ciphertext_length",
        ),
        CheckConstraint("kek_version IS NULL OR kek_version >= 1", name="kek_version_positive"),
        Index(
            "uq_provider_keys_one_live_per_agent",
            "agent_id",
            "provider",
            unique=True,
            postgresql_where=text("deleted_at IS NULL AND scope = 'agent'"),
        ),
        Index(
            "uq_provider_keys_one_live_per_account",
            "account_id",
            "provider",
            unique=True,
            postgresql_where=text("deleted_at IS NULL AND scope = 'account'"),
        ),
        Index("ix_provider_keys_kek_version", "kek_version"),
        {
            "comment": "BYOK provider keys, envelope-encrypted (AES-256-GCM data key wrapped by "
            "a versioned KEK); only the last 4 characters are kept in clear."
        },
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    provider: Mapped[str]
    scope: Mapped[str]
    agent_id: Mapped[uuid.UUID | None]
    account_id: Mapped[uuid.UUID | None]
    label: Mapped[str]
    last4: Mapped[str]
    always_use: Mapped[bool]
    kek_version: Mapped[int | None] = mapped_column(Integer)
    wrapped_key: Mapped[bytes | None]
    secret_nonce: Mapped[bytes | None]
    secret_ciphertext: Mapped[bytes | None]
    created_by: Mapped[str]
    created_at: Mapped[datetime.datetime]
    updated_at: Mapped[datetime.datetime]
    last_used_at: Mapped[datetime.datetime | None]
    deleted_at: Mapped[datetime.datetime | None]


class GenerationRow(Base):
    __tablename__ = "generations"
    __table_args__ = (
        UniqueConstraint("caller", "request_id"),
        CheckConstraint(_in("dialect", DIALECTS), name="dialect_known"),
        CheckConstraint(_in("provider", PROVIDERS), name="provider_known"),
        CheckConstraint(_in("key_source", KEY_SOURCES), name="key_source_known"),
        CheckConstraint(_in("status", GENERATION_STATUSES), name="status_known"),
        CheckConstraint(_in("settlement_status", SETTLEMENT_STATUSES), name="settlement_known"),
        CheckConstraint(
            "usage_source IS NULL OR " + _in("usage_source", USAGE_SOURCES),
            name="usage_source_known",
        ),
        CheckConstraint(
            "(key_source = 'platform') = (provider_key_id IS NULL)",
            name="byok_names_its_key",
        ),
        CheckConstraint(
            "input_price_micros > 0 AND output_price_micros > 0", name="prices_positive"
        ),
        CheckConstraint("fee_bps BETWEEN 0 AND 10000", name="fee_bps_range"),
        CheckConstraint(
            "held_micros >= 0 AND price_micros >= 0 AND charge_micros >= 0 "
            "AND charged_micros >= 0 AND shortfall_micros >= 0",
            name="amounts_not_negative",
        ),
        CheckConstraint("(hold_id IS NULL) = (held_micros = 0)", name="hold_has_amount"),
        # A request that needed no hold is never billed: nothing may be captured without a hold.
        CheckConstraint(
            "held_micros > 0 OR (charge_micros = 0 AND charged_micros = 0)",
            name="no_hold_no_charge",
        ),
        CheckConstraint(
            "settlement_status <> 'not_required' OR held_micros = 0",
            name="not_required_means_no_hold",
        ),
        CheckConstraint(
            "(settlement_status = 'settled') = (settled_at IS NOT NULL)",
            name="settled_has_time",
        ),
        CheckConstraint(
            "settlement_status <> 'pending' OR hold_id IS NOT NULL",
            name="pending_has_hold",
        ),
        CheckConstraint(
            "(status = 'in_progress') = (finished_at IS NULL)", name="finished_has_time"
        ),
        CheckConstraint(
            "status = 'in_progress' OR settlement_status <> 'pending' "
            "OR next_settlement_at IS NOT NULL",
            name="finished_pending_is_scheduled",
        ),
        CheckConstraint(
            "(input_tokens IS NULL) = (usage_source IS NULL) "
            "AND (input_tokens IS NULL) = (output_tokens IS NULL) "
            "AND (input_tokens IS NULL) = (cached_input_tokens IS NULL)",
            name="usage_complete",
        ),
        CheckConstraint(
            "input_tokens IS NULL OR (input_tokens >= 0 AND output_tokens >= 0 "
            "AND cached_input_tokens BETWEEN 0 AND input_tokens)",
            name="usage_not_negative",
        ),
        CheckConstraint(
            "error_reason IS NULL OR error_reason ~ '^[A-Z][A-Z0-9_]{0,63}$'",
            name="error_reason_format",
        ),
        CheckConstraint(
            "upstream_attempts BETWEEN 0 AND 3 AND settlement_attempts >= 0",
            name="attempts_range",
        ),
        Index(
            "ix_generations_unsettled",
            "created_at",
            "id",
            postgresql_where=text("settlement_status = 'pending'"),
        ),
        Index("ix_generations_key_id_created_at", "key_id", "created_at"),
        Index("ix_generations_agent_id_created_at", "agent_id", "created_at"),
        {
            "comment": "One row per inference request: the generation log and its settlement "
            "record. Never prompt or completion text."
        },
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    request_id: Mapped[str]
    caller: Mapped[str]
    agent_id: Mapped[uuid.UUID]
    key_id: Mapped[uuid.UUID]
    owner_account_id: Mapped[uuid.UUID | None]
    dialect: Mapped[str]
    streamed: Mapped[bool]
    model_requested: Mapped[str]
    model_served: Mapped[str]
    provider: Mapped[str]
    upstream_model: Mapped[str]
    key_source: Mapped[str]
    provider_key_id: Mapped[uuid.UUID | None]
    upstream_attempts: Mapped[int] = mapped_column(Integer)
    input_price_micros: Mapped[int]
    output_price_micros: Mapped[int]
    fee_bps: Mapped[int] = mapped_column(Integer)
    estimate_input_tokens: Mapped[int]
    max_output_tokens: Mapped[int]
    hold_id: Mapped[uuid.UUID | None]
    held_micros: Mapped[int]
    status: Mapped[str]
    error_reason: Mapped[str | None]
    upstream_status: Mapped[int] = mapped_column(Integer)
    input_tokens: Mapped[int | None]
    output_tokens: Mapped[int | None]
    cached_input_tokens: Mapped[int | None]
    usage_source: Mapped[str | None]
    price_micros: Mapped[int]
    charge_micros: Mapped[int]
    charged_micros: Mapped[int]
    shortfall_micros: Mapped[int]
    settlement_status: Mapped[str]
    settlement_attempts: Mapped[int] = mapped_column(Integer)
    last_settlement_error: Mapped[str | None]
    next_settlement_at: Mapped[datetime.datetime | None]
    instance_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime.datetime]
    first_token_at: Mapped[datetime.datetime | None]
    finished_at: Mapped[datetime.datetime | None]
    settled_at: Mapped[datetime.datetime | None]


class InstanceRow(Base):
    __tablename__ = "instances"
    __table_args__ = (
        CheckConstraint("heartbeat_at >= started_at", name="heartbeat_after_start"),
        {
            "comment": "Running provider processes and their heartbeats: a generation whose "
            "process stopped beating is settled by another."
        },
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    started_at: Mapped[datetime.datetime]
    heartbeat_at: Mapped[datetime.datetime]
    stopped_at: Mapped[datetime.datetime | None]

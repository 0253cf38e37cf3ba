"""The provider schema: the model registry (seeded), BYOK keys, generations, process heartbeats.

Constraints mirror the domain invariants (see ``services/provider/store/models.py``): prices are
positive (a model priced zero by mistake cannot be stored, so it can never be free), a key's
ciphertext has the shapes AES-256-GCM produces and is gone once the key is deleted, a
generation's settlement fields agree with each other. Triggers make final transitions final: a
deleted key stays deleted, a finished generation keeps its outcome, a settled one its settlement,
and a model's revision grows by one per change. The runtime role gets SELECT, INSERT and UPDATE
on these tables and can DELETE nothing.

Revision ID: provider_0002
Revises: provider_0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import datetime

import sqlalchemy as sa
from alembic import op

from services.common.migrations import grant_runtime

revision = "provider_0002"
down_revision = "provider_0001"
branch_labels = None
depends_on = None

SCHEMA = "provider"

GRANTS: dict[str, tuple[str, ...]] = {
    "models": ("SELECT", "INSERT", "UPDATE"),
    "provider_keys": ("SELECT", "INSERT", "UPDATE"),
    "generations": ("SELECT", "INSERT", "UPDATE"),
    "instances": ("SELECT", "INSERT", "UPDATE"),
}

# table -> (condition under which the update is refused, message). Each runs BEFORE UPDATE.
GUARDS: dict[str, tuple[str, str]] = {
    "models": (
        "NEW.model_id <> OLD.model_id OR NEW.created_at <> OLD.created_at"
        " OR NEW.revision <> OLD.revision + 1",
        "a model keeps its id and each change adds one to its revision",
    ),
    "provider_keys": (
        "NEW.id <> OLD.id OR NEW.provider <> OLD.provider OR NEW.scope <> OLD.scope"
        " OR NEW.agent_id IS DISTINCT FROM OLD.agent_id"
        " OR NEW.account_id IS DISTINCT FROM OLD.account_id"
        " OR NEW.created_at <> OLD.created_at OR NEW.created_by <> OLD.created_by"
        " OR NEW.last4 <> OLD.last4"
        " OR OLD.deleted_at IS NOT NULL"
        " OR (NEW.secret_ciphertext IS NOT NULL"
        " AND (NEW.secret_ciphertext <> OLD.secret_ciphertext"
        " OR NEW.secret_nonce <> OLD.secret_nonce))",
        "a key keeps its owner and secret, and a deleted key stays deleted",
    ),
    "generations": (
        "NEW.id <> OLD.id OR NEW.request_id <> OLD.request_id OR NEW.caller <> OLD.caller"
        " OR NEW.agent_id <> OLD.agent_id OR NEW.key_id <> OLD.key_id"
        " OR NEW.owner_account_id IS DISTINCT FROM OLD.owner_account_id"
        " OR NEW.dialect <> OLD.dialect OR NEW.streamed <> OLD.streamed"
        " OR NEW.model_requested <> OLD.model_requested OR NEW.provider <> OLD.provider"
        " OR NEW.created_at <> OLD.created_at OR NEW.fee_bps <> OLD.fee_bps"
        " OR NEW.input_price_micros <> OLD.input_price_micros"
        " OR NEW.output_price_micros <> OLD.output_price_micros"
        " OR (OLD.status <> 'in_progress' AND (NEW.status <> OLD.status"
        " OR NEW.charge_micros <> OLD.charge_micros OR NEW.price_micros <> OLD.price_micros"
        " OR NEW.input_tokens IS DISTINCT FROM OLD.input_tokens"
        " OR NEW.output_tokens IS DISTINCT FROM OLD.output_tokens"
        " OR NEW.finished_at IS DISTINCT FROM OLD.finished_at))"
        # Settled is final; "nothing to settle" is final once the request is over (while it
        # runs, a BYOK key falling back to the platform key brings a hold after all).
        " OR ((OLD.settlement_status = 'settled'"
        " OR (OLD.settlement_status = 'not_required' AND OLD.status <> 'in_progress'))"
        " AND (NEW.settlement_status <> OLD.settlement_status"
        " OR NEW.charged_micros <> OLD.charged_micros"
        " OR NEW.shortfall_micros <> OLD.shortfall_micros"
        " OR NEW.hold_id IS DISTINCT FROM OLD.hold_id OR NEW.held_micros <> OLD.held_micros"
        " OR NEW.settled_at IS DISTINCT FROM OLD.settled_at))",
        "a generation keeps its identity and prices; an outcome and a settlement are final",
    ),
}

SEED_TIME = datetime.datetime(2026, 11, 29, tzinfo=datetime.UTC)
# (model_id, display_name, description, provider, upstream_model, input price, output price,
#  context_length, max_output_tokens, streaming, tools, vision); prices in micro-credits per
# million tokens (1 credit = 1 USD of list price). Copied here, not imported: a migration must not
# change when code does.
SEED: tuple[tuple[str, str, str, str, str, int, int, int, int, bool, bool, bool], ...] = (
    (
        "openai/gpt-4o-mini",
        "GPT-4o mini",
        "OpenAI's small, fast multimodal model.",
        "openai",
        "gpt-4o-mini",
        150_000,
        600_000,
        128_000,
        16_384,
        True,
        True,
        True,
    ),
    (
        "openai/gpt-4o",
        "GPT-4o",
        "OpenAI's flagship multimodal model.",
        "openai",
        "gpt-4o",
        2_500_000,
        10_000_000,
        128_000,
        16_384,
        True,
        True,
        True,
    ),
    (
        "openai/gpt-4.1-mini",
        "GPT-4.1 mini",
        "OpenAI's long-context small model.",
        "openai",
        "gpt-4.1-mini",
        400_000,
        1_600_000,
        1_047_576,
        32_768,
        True,
        True,
        True,
    ),
    (
        "anthropic/claude-3-5-haiku",
        "Claude 3.5 Haiku",
        "Anthropic's fastest model.",
        "anthropic",
        "claude-3-5-haiku-20241022",
        800_000,
        4_000_000,
        200_000,
        8_192,
        True,
        True,
        True,
    ),
    (
        "anthropic/claude-sonnet-4",
        "Claude Sonnet 4",
        "Anthropic's balanced model for coding and agents.",
        "anthropic",
        "claude-sonnet-4-20250514",
        3_000_000,
        15_000_000,
        200_000,
        64_000,
        True,
        True,
        True,
    ),
    (
        "meta-llama/llama-3.3-70b-instruct",
        "Llama 3.3 70B Instruct (via OpenRouter)",
        "Meta's open-weights 70B model, served through OpenRouter.",
        "openrouter",
        "meta-llama/llama-3.3-70b-instruct",
        130_000,
        400_000,
        131_072,
        16_384,
        True,
        True,
        False,
    ),
    (
        "deepseek/deepseek-chat",
        "DeepSeek V3 (via OpenRouter)",
        "DeepSeek's general chat model, served through OpenRouter.",
        "openrouter",
        "deepseek/deepseek-chat",
        270_000,
        1_100_000,
        64_000,
        8_192,
        True,
        True,
        False,
    ),
)


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
        "generations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Text(), nullable=False),
        sa.Column("caller", sa.Text(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("key_id", sa.Uuid(), nullable=False),
        sa.Column("owner_account_id", sa.Uuid(), nullable=True),
        sa.Column("dialect", sa.Text(), nullable=False),
        sa.Column("streamed", sa.Boolean(), nullable=False),
        sa.Column("model_requested", sa.Text(), nullable=False),
        sa.Column("model_served", sa.Text(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("upstream_model", sa.Text(), nullable=False),
        sa.Column("key_source", sa.Text(), nullable=False),
        sa.Column("provider_key_id", sa.Uuid(), nullable=True),
        sa.Column("upstream_attempts", sa.Integer(), nullable=False),
        sa.Column("input_price_micros", sa.BigInteger(), nullable=False),
        sa.Column("output_price_micros", sa.BigInteger(), nullable=False),
        sa.Column("fee_bps", sa.Integer(), nullable=False),
        sa.Column("estimate_input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("max_output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("hold_id", sa.Uuid(), nullable=True),
        sa.Column("held_micros", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("error_reason", sa.Text(), nullable=True),
        sa.Column("upstream_status", sa.Integer(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=True),
        sa.Column("output_tokens", sa.BigInteger(), nullable=True),
        sa.Column("cached_input_tokens", sa.BigInteger(), nullable=True),
        sa.Column("usage_source", sa.Text(), nullable=True),
        sa.Column("price_micros", sa.BigInteger(), nullable=False),
        sa.Column("charge_micros", sa.BigInteger(), nullable=False),
        sa.Column("charged_micros", sa.BigInteger(), nullable=False),
        sa.Column("shortfall_micros", sa.BigInteger(), nullable=False),
        sa.Column("settlement_status", sa.Text(), nullable=False),
        sa.Column("settlement_attempts", sa.Integer(), nullable=False),
        sa.Column("last_settlement_error", sa.Text(), nullable=True),
        sa.Column("next_settlement_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("instance_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_token_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(key_source = 'platform') = (provider_key_id IS NULL)",
            name=op.f("ck_generations_byok_names_its_key"),
        ),
        sa.CheckConstraint(
            "(settlement_status = 'settled') = (settled_at IS NOT NULL)",
            name=op.f("ck_generations_settled_has_time"),
        ),
        sa.CheckConstraint(
            "(status = 'in_progress') = (finished_at IS NULL)",
            name=op.f("ck_generations_finished_has_time"),
        ),
        sa.CheckConstraint(
            "dialect IN ('openai_chat_completions', 'anthropic_messages')",
            name=op.f("ck_generations_dialect_known"),
        ),
        sa.CheckConstraint(
            "error_reason IS NULL OR error_reason ~ '^[A-Z][A-Z0-9_]{0,63}$'",
            name=op.f("ck_generations_error_reason_format"),
        ),
        sa.CheckConstraint(
            "key_source IN ('platform', 'byok_agent', 'byok_account')",
            name=op.f("ck_generations_key_source_known"),
        ),
        sa.CheckConstraint(
            "provider IN ('openai', 'anthropic', 'openrouter')",
            name=op.f("ck_generations_provider_known"),
        ),
        sa.CheckConstraint(
            "settlement_status <> 'not_required' OR held_micros = 0",
            name=op.f("ck_generations_not_required_means_no_hold"),
        ),
        sa.CheckConstraint(
            "settlement_status <> 'pending' OR hold_id IS NOT NULL",
            name=op.f("ck_generations_pending_has_hold"),
        ),
        sa.CheckConstraint(
            "settlement_status IN ('pending', 'settled', 'not_required')",
            name=op.f("ck_generations_settlement_known"),
        ),
        sa.CheckConstraint(
            (
                "status = 'in_progress' OR settlement_status <> 'pending' OR next_settlement_at IS"
                " NOT NULL"
            ),
            name=op.f("ck_generations_finished_pending_is_scheduled"),
        ),
        sa.CheckConstraint(
            "status IN ('in_progress', 'succeeded', 'failed', 'cancelled', 'incomplete')",
            name=op.f("ck_generations_status_known"),
        ),
        sa.CheckConstraint(
            (
                "usage_source IS NULL OR usage_source IN ('upstream_reported', 'counted', "
                "'hold_captured')"
            ),
            name=op.f("ck_generations_usage_source_known"),
        ),
        sa.CheckConstraint(
            "(hold_id IS NULL) = (held_micros = 0)", name=op.f("ck_generations_hold_has_amount")
        ),
        sa.CheckConstraint(
            (
                "(input_tokens IS NULL) = (usage_source IS NULL) AND (input_tokens IS NULL) = "
                "(output_tokens IS NULL) AND (input_tokens IS NULL) = (cached_input_tokens IS "
                "NULL)"
            ),
            name=op.f("ck_generations_usage_complete"),
        ),
        sa.CheckConstraint(
            "fee_bps BETWEEN 0 AND 10000", name=op.f("ck_generations_fee_bps_range")
        ),
        sa.CheckConstraint(
            "held_micros > 0 OR (charge_micros = 0 AND charged_micros = 0)",
            name=op.f("ck_generations_no_hold_no_charge"),
        ),
        sa.CheckConstraint(
            (
                "held_micros >= 0 AND price_micros >= 0 AND charge_micros >= 0 AND charged_micros "
                ">= 0 AND shortfall_micros >= 0"
            ),
            name=op.f("ck_generations_amounts_not_negative"),
        ),
        sa.CheckConstraint(
            "input_price_micros > 0 AND output_price_micros > 0",
            name=op.f("ck_generations_prices_positive"),
        ),
        sa.CheckConstraint(
            (
                "input_tokens IS NULL OR (input_tokens >= 0 AND output_tokens >= 0 AND "
                "cached_input_tokens BETWEEN 0 AND input_tokens)"
            ),
            name=op.f("ck_generations_usage_not_negative"),
        ),
        sa.CheckConstraint(
            "upstream_attempts BETWEEN 0 AND 3 AND settlement_attempts >= 0",
            name=op.f("ck_generations_attempts_range"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_generations")),
        sa.UniqueConstraint("caller", "request_id", name=op.f("uq_generations_caller_request_id")),
        schema="provider",
        comment=(
            "One row per inference request: the generation log and its settlement record. Never "
            "prompt or completion text."
        ),
    )
    op.create_index(
        "ix_generations_agent_id_created_at",
        "generations",
        ["agent_id", "created_at"],
        unique=False,
        schema="provider",
    )
    op.create_index(
        "ix_generations_key_id_created_at",
        "generations",
        ["key_id", "created_at"],
        unique=False,
        schema="provider",
    )
    op.create_index(
        "ix_generations_unsettled",
        "generations",
        ["created_at", "id"],
        unique=False,
        schema="provider",
        postgresql_where=sa.text("settlement_status = 'pending'"),
    )
    op.create_table(
        "instances",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "heartbeat_at >= started_at", name=op.f("ck_instances_heartbeat_after_start")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instances")),
        schema="provider",
        comment=(
            "Running provider processes and their heartbeats: a generation whose process stopped "
            "beating is settled by another."
        ),
    )
    op.create_table(
        "models",
        sa.Column("model_id", sa.Text(), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("upstream_model", sa.Text(), nullable=False),
        sa.Column("input_price_micros", sa.BigInteger(), nullable=False),
        sa.Column("output_price_micros", sa.BigInteger(), nullable=False),
        sa.Column("context_length", sa.Integer(), nullable=False),
        sa.Column("max_output_tokens", sa.Integer(), nullable=False),
        sa.Column("supports_streaming", sa.Boolean(), nullable=False),
        sa.Column("supports_tools", sa.Boolean(), nullable=False),
        sa.Column("supports_vision", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "model_id ~ '^[a-z0-9][a-z0-9._-]{0,63}/[a-z0-9][a-z0-9._:-]{0,127}$'",
            name=op.f("ck_models_model_id_format"),
        ),
        sa.CheckConstraint(
            "provider IN ('openai', 'anthropic', 'openrouter')",
            name=op.f("ck_models_provider_known"),
        ),
        sa.CheckConstraint(
            "upstream_model ~ '^[\\x21-\\x7e]{1,200}$'",
            name=op.f("ck_models_upstream_model_format"),
        ),
        sa.CheckConstraint(
            "char_length(description) <= 1000", name=op.f("ck_models_description_length")
        ),
        sa.CheckConstraint(
            "char_length(display_name) BETWEEN 1 AND 200",
            name=op.f("ck_models_display_name_length"),
        ),
        sa.CheckConstraint(
            "context_length BETWEEN 1 AND 10000000", name=op.f("ck_models_context_length_range")
        ),
        sa.CheckConstraint(
            (
                "input_price_micros > 0 AND input_price_micros <= 1000000000000 AND "
                "output_price_micros > 0 AND output_price_micros <= 1000000000000"
            ),
            name=op.f("ck_models_prices_positive"),
        ),
        sa.CheckConstraint(
            "max_output_tokens BETWEEN 1 AND context_length",
            name=op.f("ck_models_max_output_within_context"),
        ),
        sa.CheckConstraint("revision >= 1", name=op.f("ck_models_revision_positive")),
        sa.PrimaryKeyConstraint("model_id", name=op.f("pk_models")),
        schema="provider",
        comment="The model registry: prices per million tokens in micro-credits, limits.",
    )
    op.create_table(
        "provider_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("last4", sa.Text(), nullable=False),
        sa.Column("always_use", sa.Boolean(), nullable=False),
        sa.Column("kek_version", sa.Integer(), nullable=True),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("secret_nonce", sa.LargeBinary(), nullable=True),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            (
                "(scope = 'agent' AND agent_id IS NOT NULL AND account_id IS NULL) OR (scope = "
                "'account' AND account_id IS NOT NULL AND agent_id IS NULL)"
            ),
            name=op.f("ck_provider_keys_owner_matches_scope"),
        ),
        sa.CheckConstraint(
            "provider IN ('openai', 'anthropic', 'openrouter')",
            name=op.f("ck_provider_keys_provider_known"),
        ),
        sa.CheckConstraint(
            "scope IN ('agent', 'account')", name=op.f("ck_provider_keys_scope_known")
        ),
        sa.CheckConstraint(
            (
                "(deleted_at IS NULL) = (wrapped_key IS NOT NULL) AND (wrapped_key IS NULL) = "
                "(secret_nonce IS NULL) AND (wrapped_key IS NULL) = (secret_ciphertext IS NULL) "
                "AND (wrapped_key IS NULL) = (kek_version IS NULL)"
            ),
            name=op.f("ck_provider_keys_deleted_has_no_ciphertext"),
        ),
        sa.CheckConstraint("char_length(label) <= 100", name=op.f("ck_provider_keys_label_length")),
        sa.CheckConstraint("char_length(last4) = 4", name=op.f("ck_provider_keys_last4_length")),
        sa.CheckConstraint(
            "kek_version IS NULL OR kek_version >= 1",
            name=op.f("ck_provider_keys_kek_version_positive"),
        ),
        sa.CheckConstraint(
            "secret_ciphertext IS NULL OR octet_length(secret_ciphertext) BETWEEN 24 AND 528",
            name=op.f("ck_provider_keys_secret_ciphertext_length"),
        ),
        sa.CheckConstraint(
            "secret_nonce IS NULL OR octet_length(secret_nonce) = 12",
            name=op.f("ck_provider_keys_secret_nonce_length"),
        ),
        sa.CheckConstraint(
            "wrapped_key IS NULL OR octet_length(wrapped_key) = 60",
            name=op.f("ck_provider_keys_wrapped_key_length"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_keys")),
        schema="provider",
        comment=(
            "BYOK provider keys, envelope-encrypted (AES-256-GCM data key wrapped by a versioned "
            "KEK); only the last 4 characters are kept in clear."
        ),
    )
    op.create_index(
        "ix_provider_keys_kek_version",
        "provider_keys",
        ["kek_version"],
        unique=False,
        schema="provider",
    )
    op.create_index(
        "uq_provider_keys_one_live_per_account",
        "provider_keys",
        ["account_id", "provider"],
        unique=True,
        schema="provider",
        postgresql_where=sa.text("deleted_at IS NULL AND scope = 'account'"),
    )
    op.create_index(
        "uq_provider_keys_one_live_per_agent",
        "provider_keys",
        ["agent_id", "provider"],
        unique=True,
        schema="provider",
        postgresql_where=sa.text("deleted_at IS NULL AND scope = 'agent'"),
    )
    for table, privileges in GRANTS.items():
        grant_runtime(schema=SCHEMA, table=table, privileges=privileges)
    for table, (condition, message) in GUARDS.items():
        _create_guard(table, condition, message)
    models = sa.table(
        "models",
        *(
            sa.column(name)
            for name in (
                "model_id",
                "display_name",
                "description",
                "provider",
                "upstream_model",
                "input_price_micros",
                "output_price_micros",
                "context_length",
                "max_output_tokens",
                "supports_streaming",
                "supports_tools",
                "supports_vision",
                "active",
                "revision",
                "created_at",
                "updated_at",
            )
        ),
        schema=SCHEMA,
    )
    op.bulk_insert(
        models,
        [
            {
                "model_id": row[0],
                "display_name": row[1],
                "description": row[2],
                "provider": row[3],
                "upstream_model": row[4],
                "input_price_micros": row[5],
                "output_price_micros": row[6],
                "context_length": row[7],
                "max_output_tokens": row[8],
                "supports_streaming": row[9],
                "supports_tools": row[10],
                "supports_vision": row[11],
                "active": True,
                "revision": 1,
                "created_at": SEED_TIME,
                "updated_at": SEED_TIME,
            }
            for row in SEED
        ],
    )


def downgrade() -> None:
    for table in GUARDS:
        op.execute(f'DROP TRIGGER IF EXISTS "guard_{table}" ON "{SCHEMA}"."{table}"')
        op.execute(f'DROP FUNCTION IF EXISTS "{SCHEMA}"."guard_{table}"()')
    op.drop_index(
        "uq_provider_keys_one_live_per_agent",
        table_name="provider_keys",
        schema="provider",
        postgresql_where=sa.text("deleted_at IS NULL AND scope = 'agent'"),
    )
    op.drop_index(
        "uq_provider_keys_one_live_per_account",
        table_name="provider_keys",
        schema="provider",
        postgresql_where=sa.text("deleted_at IS NULL AND scope = 'account'"),
    )
    op.drop_index("ix_provider_keys_kek_version", table_name="provider_keys", schema="provider")
    op.drop_table("provider_keys", schema="provider")
    op.drop_table("models", schema="provider")
    op.drop_table("instances", schema="provider")
    op.drop_index(
        "ix_generations_unsettled",
        table_name="generations",
        schema="provider",
        postgresql_where=sa.text("settlement_status = 'pending'"),
    )
    op.drop_index("ix_generations_key_id_created_at", table_name="generations", schema="provider")
    op.drop_index("ix_generations_agent_id_created_at", table_name="generations", schema="provider")
    op.drop_table("generations", schema="provider")

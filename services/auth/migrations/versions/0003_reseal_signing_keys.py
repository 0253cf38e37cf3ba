"""Re-sealing signing keys under a new key-encryption key (``ResealSigningKeys``).

* ``guard_signing_keys`` now lets an update replace a key's sealed private half
  (``private_key_nonce`` and ``private_key_ciphertext``), but only both together, with a fresh
  nonce, and with every other column unchanged in that same statement: a re-seal moves the same
  private key under another KEK and changes nothing else. The public key and id stay fixed and a
  retired key stays retired, as before.
* ``ck_audit_events_event_type_known`` admits ``signing_keys_resealed``.

Grants are unchanged: the runtime role already holds UPDATE on ``signing_keys`` (rotation sets
``status`` and ``not_after``), and the guard, not the grant, decides which columns may move.

Revision ID: auth_0003
Revises: auth_0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "auth_0003"
down_revision = "auth_0002"
branch_labels = None
depends_on = None

SCHEMA = "auth"

_KEEPS_IDENTITY = "NEW.id <> OLD.id OR NEW.public_key <> OLD.public_key"
_RETIRED_STAYS_RETIRED = (
    " OR (OLD.status = 'retired' AND (NEW.status <> 'retired'"
    " OR NEW.not_after > OLD.not_after))"
    " OR (OLD.status = 'active' AND NEW.status = 'next')"
)
_RESEALS_ONLY_THE_SEALED_KEY = (
    " OR ((NEW.private_key_nonce <> OLD.private_key_nonce"
    " OR NEW.private_key_ciphertext <> OLD.private_key_ciphertext)"
    " AND (NEW.private_key_nonce = OLD.private_key_nonce"
    " OR NEW.private_key_ciphertext = OLD.private_key_ciphertext"
    " OR NEW.algorithm <> OLD.algorithm OR NEW.status <> OLD.status"
    " OR NEW.not_before <> OLD.not_before OR NEW.not_after IS DISTINCT FROM OLD.not_after"
    " OR NEW.created_at <> OLD.created_at))"
)
GUARD = (
    _KEEPS_IDENTITY + _RESEALS_ONLY_THE_SEALED_KEY + _RETIRED_STAYS_RETIRED,
    "a retired signing key stays retired, and a re-seal changes only the sealed private key",
)
GUARD_0002 = (
    _KEEPS_IDENTITY
    + " OR NEW.private_key_nonce <> OLD.private_key_nonce"
    + " OR NEW.private_key_ciphertext <> OLD.private_key_ciphertext"
    + _RETIRED_STAYS_RETIRED,
    "a retired signing key stays retired",
)

EVENT_TYPES_0002 = (
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
)
EVENT_TYPES = (*EVENT_TYPES_0002, "signing_keys_resealed")


def _replace_guard(condition: str, message: str) -> None:
    # The same function 0002 created (its trigger keeps pointing at it), with a new body.
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION "{SCHEMA}"."guard_signing_keys"() RETURNS trigger
        LANGUAGE plpgsql AS $guard$
        BEGIN
            IF {condition} THEN
                RAISE EXCEPTION 'signing_keys: {message}' USING ERRCODE = 'check_violation';
            END IF;
            RETURN NEW;
        END
        $guard$
        """
    )


def _replace_event_types(event_types: tuple[str, ...]) -> None:
    listed = ", ".join(f"'{event_type}'" for event_type in event_types)
    op.drop_constraint(op.f("ck_audit_events_event_type_known"), "audit_events", schema=SCHEMA)
    op.create_check_constraint(
        op.f("ck_audit_events_event_type_known"),
        "audit_events",
        f"event_type IN ({listed})",
        schema=SCHEMA,
    )


def upgrade() -> None:
    _replace_guard(*GUARD)
    _replace_event_types(EVENT_TYPES)


def downgrade() -> None:
    # Refused while a signing_keys_resealed event exists (the audit log is never rewritten).
    _replace_event_types(EVENT_TYPES_0002)
    _replace_guard(*GUARD_0002)

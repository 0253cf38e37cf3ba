"""The wallet schema's tables. Alembic migrations must match these (checked in tests).

Every invariant a row can state is a named CHECK or UNIQUE constraint here (and in migration
0002), so no code path can write a row the ledger's rules forbid:

* ``ledger_accounts``: the four TigerBeetle counters, never negative; ``debits_pending +
  debits_posted <= credits_posted`` on every account whose kind carries that flag (user wallets,
  treasury, escrow, key budgets) and the mirror rule on the mint; flags, ledger and owner follow
  from the kind; one wallet per agent, per account and per key, one account per system kind; the
  chain head is a SHA-256 hash exactly when the account has transfers.
* ``transfers``: immutable (a trigger refuses UPDATE, DELETE and TRUNCATE, and the runtime role
  holds only SELECT and INSERT); amount 1..10^15; at most one of pending / post / void; a
  resolution names its pending transfer, which it resolves at most once
  (``uq_transfers_pending_id``); a pending transfer has a timeout and expiry; the hashes are
  SHA-256.
* ``holds``: one inference request's reservation; its status moves once from pending, and the
  ids of what settled it never change (trigger).

The money moves only through ``wallet.apply_transfers`` (PL/pgSQL, migration 0002), which locks
every account of a call in id order, checks and writes in one round trip.

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
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import service_metadata
from services.common.store import request_log_table

SCHEMA = "wallet"
metadata = service_metadata(SCHEMA)
request_log = request_log_table(metadata)

TIMESTAMP = DateTime(timezone=True)
AMOUNT_MAX = 10**15


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


ACCOUNT_KINDS = (
    "agent_wallet",
    "account_wallet",
    "mint",
    "treasury",
    "bounty_escrow",
    "provider_revenue",
    "key_budget",
    "key_budget_source",
)
SYSTEM_KINDS = ("mint", "treasury", "bounty_escrow", "provider_revenue", "key_budget_source")
DEBITS_BOUNDED_KINDS = ("agent_wallet", "account_wallet", "treasury", "bounty_escrow", "key_budget")
KEY_BUDGET_KINDS = ("key_budget", "key_budget_source")
INITIATOR_KINDS = ("agent", "account", "service", "wallet")
HOLD_STATUSES = ("pending", "posted", "voided", "expired")
HOLD_CODES = (4, 5)

# Column lists shared with the migration's grants: what the runtime role may change.
ACCOUNT_MUTABLE_COLUMNS = (
    "debits_pending",
    "debits_posted",
    "credits_pending",
    "credits_posted",
    "limit_micros",
    "chain_head",
    "transfer_count",
    "updated_at",
)
HOLD_MUTABLE_COLUMNS = (
    "status",
    "resolved_at",
    "posted_micros",
    "overage_micros",
    "shortfall_micros",
    "post_transfer_id",
    "void_transfer_id",
    "updated_at",
)


class Base(DeclarativeBase):
    metadata = metadata
    type_annotation_map: dict[Any, Any] = {
        uuid.UUID: Uuid(),
        datetime.datetime: TIMESTAMP,
        str: Text(),
        bytes: LargeBinary(),
        int: BigInteger(),
    }


class LedgerAccount(Base):
    __tablename__ = "ledger_accounts"
    __table_args__ = (
        UniqueConstraint("agent_id"),
        UniqueConstraint("account_id"),
        UniqueConstraint("key_id"),
        Index(
            "uq_ledger_accounts_one_per_system_kind",
            "kind",
            unique=True,
            postgresql_where=text(_in("kind", SYSTEM_KINDS)),
        ),
        CheckConstraint(_in("kind", ACCOUNT_KINDS), name="kind_known"),
        CheckConstraint(
            f"ledger = CASE WHEN {_in('kind', KEY_BUDGET_KINDS)} THEN 2 ELSE 1 END",
            name="ledger_follows_kind",
        ),
        CheckConstraint(
            "(kind = 'agent_wallet') = (agent_id IS NOT NULL)"
            " AND (kind = 'account_wallet') = (account_id IS NOT NULL)"
            " AND (kind = 'key_budget') = (key_id IS NOT NULL)",
            name="owner_follows_kind",
        ),
        CheckConstraint(
            f"debits_must_not_exceed_credits = ({_in('kind', DEBITS_BOUNDED_KINDS)})"
            " AND credits_must_not_exceed_debits = (kind = 'mint')",
            name="flags_follow_kind",
        ),
        CheckConstraint("debits_pending >= 0", name="debits_pending_not_negative"),
        CheckConstraint("debits_posted >= 0", name="debits_posted_not_negative"),
        CheckConstraint("credits_pending >= 0", name="credits_pending_not_negative"),
        CheckConstraint("credits_posted >= 0", name="credits_posted_not_negative"),
        CheckConstraint(
            "NOT debits_must_not_exceed_credits"
            " OR debits_pending + debits_posted <= credits_posted",
            name="debits_must_not_exceed_credits",
        ),
        CheckConstraint(
            "NOT credits_must_not_exceed_debits"
            " OR credits_pending + credits_posted <= debits_posted",
            name="credits_must_not_exceed_debits",
        ),
        CheckConstraint(
            "limit_micros >= 0 AND (kind = 'key_budget' OR limit_micros = 0)",
            name="limit_only_on_key_budgets",
        ),
        CheckConstraint(
            "chain_head IS NULL OR octet_length(chain_head) = 32", name="chain_head_is_sha256"
        ),
        CheckConstraint(
            "transfer_count >= 0 AND (transfer_count = 0) = (chain_head IS NULL)",
            name="chain_head_iff_transfers",
        ),
        {"comment": "Ledger accounts with TigerBeetle's four counters (micro-credits)."},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str]
    ledger: Mapped[int] = mapped_column(SmallInteger)
    agent_id: Mapped[uuid.UUID | None]
    account_id: Mapped[uuid.UUID | None]
    key_id: Mapped[uuid.UUID | None]
    debits_must_not_exceed_credits: Mapped[bool]
    credits_must_not_exceed_debits: Mapped[bool]
    debits_pending: Mapped[int]
    debits_posted: Mapped[int]
    credits_pending: Mapped[int]
    credits_posted: Mapped[int]
    limit_micros: Mapped[int]
    chain_head: Mapped[bytes | None]
    transfer_count: Mapped[int]
    created_at: Mapped[datetime.datetime]
    updated_at: Mapped[datetime.datetime]


class Transfer(Base):
    __tablename__ = "transfers"
    __table_args__ = (
        UniqueConstraint("sequence"),
        Index(
            "uq_transfers_pending_id",
            "pending_id",
            unique=True,
            postgresql_where=text("pending_id IS NOT NULL"),
        ),
        Index(None, "debit_account_id", "created_at", "id"),
        Index(None, "credit_account_id", "created_at", "id"),
        Index(None, "created_at", "id"),
        CheckConstraint(f"amount BETWEEN 1 AND {AMOUNT_MAX}", name="amount_range"),
        CheckConstraint("ledger IN (1, 2)", name="ledger_known"),
        CheckConstraint("code BETWEEN 1 AND 11", name="code_known"),
        CheckConstraint(
            "ledger = CASE WHEN code IN (10, 11) THEN 2 ELSE 1 END", name="code_follows_ledger"
        ),
        CheckConstraint("flags BETWEEN 0 AND 15", name="flags_known"),
        CheckConstraint("(flags & 14) IN (0, 2, 4, 8)", name="one_phase_at_most"),
        CheckConstraint(
            "((flags & 12) <> 0) = (pending_id IS NOT NULL)", name="resolution_names_pending"
        ),
        CheckConstraint(
            "((flags & 2) <> 0) = (timeout_s > 0) AND ((flags & 2) <> 0) = (expires_at IS NOT NULL)"
            " AND timeout_s BETWEEN 0 AND 3600",
            name="pending_has_timeout",
        ),
        CheckConstraint(
            "expires_at IS NULL OR expires_at = created_at + make_interval(secs => timeout_s)",
            name="expiry_follows_timeout",
        ),
        CheckConstraint("debit_account_id <> credit_account_id", name="accounts_different"),
        CheckConstraint("char_length(reference) <= 128", name="reference_length"),
        CheckConstraint("char_length(memo) <= 500", name="memo_length"),
        CheckConstraint(_in("initiator_kind", INITIATOR_KINDS), name="initiator_kind_known"),
        CheckConstraint(
            "(initiator_kind <> 'agent' OR initiator_agent_id IS NOT NULL)"
            " AND (initiator_kind <> 'account' OR initiator_account_id IS NOT NULL)",
            name="initiator_shape",
        ),
        CheckConstraint(
            "char_length(initiator_subject) BETWEEN 1 AND 64"
            " AND char_length(initiator_peer) BETWEEN 1 AND 32"
            " AND char_length(initiator_request_id) <= 128",
            name="initiator_lengths",
        ),
        CheckConstraint("sequence > 0", name="sequence_positive"),
        CheckConstraint("octet_length(hash) = 32", name="hash_is_sha256"),
        CheckConstraint(
            "(debit_previous_hash IS NULL OR octet_length(debit_previous_hash) = 32)"
            " AND (credit_previous_hash IS NULL OR octet_length(credit_previous_hash) = 32)",
            name="previous_hashes_are_sha256",
        ),
        {"comment": "Immutable, hash-chained transfers. Insert-only; corrections are new rows."},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    sequence: Mapped[int]
    debit_account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_accounts.id"))
    credit_account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount: Mapped[int]
    ledger: Mapped[int] = mapped_column(SmallInteger)
    code: Mapped[int] = mapped_column(SmallInteger)
    flags: Mapped[int] = mapped_column(SmallInteger)
    pending_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("transfers.id"))
    timeout_s: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime.datetime | None]
    reference: Mapped[str]
    memo: Mapped[str]
    initiator_kind: Mapped[str]
    initiator_subject: Mapped[str]
    initiator_agent_id: Mapped[uuid.UUID | None]
    initiator_account_id: Mapped[uuid.UUID | None]
    initiator_key_id: Mapped[uuid.UUID | None]
    initiator_peer: Mapped[str]
    initiator_request_id: Mapped[str]
    debit_previous_hash: Mapped[bytes | None]
    credit_previous_hash: Mapped[bytes | None]
    hash: Mapped[bytes]
    created_at: Mapped[datetime.datetime]


class Hold(Base):
    __tablename__ = "holds"
    __table_args__ = (
        UniqueConstraint("post_transfer_id"),
        UniqueConstraint("void_transfer_id"),
        Index(
            "ix_holds_pending_expires_at",
            "expires_at",
            postgresql_where=text("status = 'pending'"),
        ),
        CheckConstraint(_in("status", HOLD_STATUSES), name="status_known"),
        CheckConstraint(f"amount BETWEEN 1 AND {AMOUNT_MAX}", name="amount_range"),
        CheckConstraint(f"code IN {HOLD_CODES}", name="code_is_inference"),
        CheckConstraint("char_length(reference) <= 128", name="reference_length"),
        CheckConstraint("timeout_s BETWEEN 1 AND 3600", name="timeout_range"),
        CheckConstraint(
            "expires_at = created_at + make_interval(secs => timeout_s)",
            name="expiry_follows_timeout",
        ),
        CheckConstraint(
            "(budget_account_id IS NULL) = (budget_transfer_id IS NULL)"
            " AND (budget_account_id IS NULL OR key_id IS NOT NULL)",
            name="budget_side_complete",
        ),
        CheckConstraint("(status = 'pending') = (resolved_at IS NULL)", name="resolved_iff_done"),
        CheckConstraint(
            "(status = 'posted') = (posted_micros > 0) AND posted_micros <= amount",
            name="posted_within_hold",
        ),
        CheckConstraint(
            "overage_micros >= 0 AND shortfall_micros >= 0", name="settlement_not_negative"
        ),
        CheckConstraint(
            "(post_transfer_id IS NOT NULL) = (status = 'posted'"
            " OR (status = 'expired' AND post_transfer_id IS NOT NULL))"
            " AND (post_transfer_id IS NOT NULL"
            " OR (posted_micros = 0 AND overage_micros = 0 AND shortfall_micros = 0))",
            name="settlement_needs_post",
        ),
        CheckConstraint(
            "(void_transfer_id IS NOT NULL) = (status IN ('voided', 'expired'))",
            name="void_iff_voided",
        ),
        {"comment": "One inference request's hold: its pending transfers and how they settled."},
    )

    id: Mapped[uuid.UUID] = mapped_column(ForeignKey("transfers.id"), primary_key=True)
    agent_id: Mapped[uuid.UUID]
    wallet_account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_accounts.id"))
    key_id: Mapped[uuid.UUID | None]
    budget_account_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("ledger_accounts.id"))
    budget_transfer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("transfers.id"))
    created_by_subject: Mapped[str]
    amount: Mapped[int]
    code: Mapped[int] = mapped_column(SmallInteger)
    reference: Mapped[str]
    timeout_s: Mapped[int] = mapped_column(Integer)
    status: Mapped[str]
    created_at: Mapped[datetime.datetime]
    expires_at: Mapped[datetime.datetime]
    resolved_at: Mapped[datetime.datetime | None]
    posted_micros: Mapped[int]
    overage_micros: Mapped[int]
    shortfall_micros: Mapped[int]
    post_transfer_id: Mapped[uuid.UUID | None]
    void_transfer_id: Mapped[uuid.UUID | None]
    updated_at: Mapped[datetime.datetime]

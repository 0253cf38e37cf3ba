"""Rows to domain objects (and the stored forms VerifyLedger reads)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.wallet.domain import chain
from services.wallet.domain.holds import Hold, HoldStatus
from services.wallet.domain.ledger import (
    AccountIdentity,
    AccountKind,
    Balances,
    Initiator,
    InitiatorKind,
    Ledger,
    LedgerAccount,
    Transfer,
    TransferCode,
    TransferFlag,
)
from services.wallet.domain.verification import StoredAccount, StoredTransfer

ACCOUNT_COLUMNS = (
    "id, kind, ledger, agent_id, account_id, key_id, debits_must_not_exceed_credits, "
    "credits_must_not_exceed_debits, debits_pending, debits_posted, credits_pending, "
    "credits_posted, limit_micros, chain_head, transfer_count, created_at, updated_at"
)
TRANSFER_COLUMNS = (
    "id, sequence, debit_account_id, credit_account_id, amount, ledger, code, flags, pending_id, "
    "timeout_s, expires_at, reference, memo, initiator_kind, initiator_subject, "
    "initiator_agent_id, initiator_account_id, initiator_key_id, initiator_peer, "
    "initiator_request_id, debit_previous_hash, credit_previous_hash, hash, created_at"
)
HOLD_COLUMNS = (
    "id, agent_id, wallet_account_id, key_id, budget_account_id, budget_transfer_id, "
    "created_by_subject, amount, code, reference, timeout_s, status, created_at, expires_at, "
    "resolved_at, posted_micros, overage_micros, shortfall_micros, post_transfer_id, "
    "void_transfer_id"
)


# Enum lookups by value, precomputed: rows are converted in bulk (batches, lists).
_LEDGERS = {int(item): item for item in Ledger}
_CODES = {int(item): item for item in TransferCode}
_FLAGS = {bits: TransferFlag(bits) for bits in range(16)}
_INITIATOR_KINDS = {item.value: item for item in InitiatorKind}


def identity(row: Any) -> AccountIdentity:
    return AccountIdentity(
        id=row.id,
        kind=AccountKind(row.kind),
        agent_id=row.agent_id,
        account_id=row.account_id,
        key_id=row.key_id,
    )


def account(row: Any) -> LedgerAccount:
    return LedgerAccount(
        identity=identity(row),
        balances=Balances(
            debits_pending=row.debits_pending,
            debits_posted=row.debits_posted,
            credits_pending=row.credits_pending,
            credits_posted=row.credits_posted,
        ),
        limit_micros=row.limit_micros,
        chain_head=bytes(row.chain_head) if row.chain_head is not None else None,
        transfer_count=row.transfer_count,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def stored_account(row: Any) -> StoredAccount:
    return StoredAccount(
        id=row.id,
        kind=row.kind,
        ledger=row.ledger,
        debits_must_not_exceed_credits=row.debits_must_not_exceed_credits,
        credits_must_not_exceed_debits=row.credits_must_not_exceed_debits,
        debits_pending=row.debits_pending,
        debits_posted=row.debits_posted,
        credits_pending=row.credits_pending,
        credits_posted=row.credits_posted,
        limit_micros=row.limit_micros,
        chain_head=bytes(row.chain_head) if row.chain_head is not None else None,
        transfer_count=row.transfer_count,
    )


def _optional_bytes(value: Any) -> bytes | None:
    return bytes(value) if value is not None else None


def transfer(values: Sequence[Any]) -> Transfer:
    """A transfer from the values of ``TRANSFER_COLUMNS``, in that order."""
    (
        transfer_id,
        sequence,
        debit_account_id,
        credit_account_id,
        amount,
        ledger,
        code,
        flags,
        pending_id,
        timeout_s,
        expires_at,
        reference,
        memo,
        initiator_kind,
        initiator_subject,
        initiator_agent_id,
        initiator_account_id,
        initiator_key_id,
        initiator_peer,
        initiator_request_id,
        debit_previous_hash,
        credit_previous_hash,
        stored_hash,
        created_at,
    ) = values
    return Transfer(
        id=transfer_id,
        sequence=sequence,
        debit_account_id=debit_account_id,
        credit_account_id=credit_account_id,
        amount=amount,
        ledger=_LEDGERS[ledger],
        code=_CODES[code],
        flags=_FLAGS[flags],
        pending_id=pending_id,
        timeout_s=timeout_s,
        expires_at=expires_at,
        reference=reference,
        memo=memo,
        initiator=Initiator(
            kind=_INITIATOR_KINDS[initiator_kind],
            subject=initiator_subject,
            peer=initiator_peer,
            request_id=initiator_request_id,
            agent_id=initiator_agent_id,
            account_id=initiator_account_id,
            key_id=initiator_key_id,
        ),
        debit_previous_hash=_optional_bytes(debit_previous_hash),
        credit_previous_hash=_optional_bytes(credit_previous_hash),
        hash=bytes(stored_hash),
        created_at=created_at,
    )


def stored_transfer(row: Any) -> StoredTransfer:
    """From a row of ``TRANSFER_COLUMNS`` (unpacked by position: VerifyLedger reads every row)."""
    (
        transfer_id,
        sequence,
        debit_account_id,
        credit_account_id,
        amount,
        ledger,
        code,
        flags,
        pending_id,
        timeout_s,
        expires_at,
        reference,
        memo,
        initiator_kind,
        initiator_subject,
        initiator_agent_id,
        initiator_account_id,
        initiator_key_id,
        initiator_peer,
        initiator_request_id,
        debit_previous_hash,
        credit_previous_hash,
        stored_hash,
        created_at,
    ) = row
    return StoredTransfer(
        fields=chain.HashInput(
            id=transfer_id,
            sequence=sequence,
            debit_account_id=debit_account_id,
            credit_account_id=credit_account_id,
            amount=amount,
            ledger=ledger,
            code=code,
            flags=flags,
            pending_id=pending_id,
            timeout_s=timeout_s,
            expires_at=expires_at,
            reference=reference,
            memo=memo,
            initiator_kind=initiator_kind,
            initiator_subject=initiator_subject,
            initiator_agent_id=initiator_agent_id,
            initiator_account_id=initiator_account_id,
            initiator_key_id=initiator_key_id,
            initiator_peer=initiator_peer,
            initiator_request_id=initiator_request_id,
            created_at=created_at,
            debit_previous_hash=_optional_bytes(debit_previous_hash),
            credit_previous_hash=_optional_bytes(credit_previous_hash),
        ),
        hash=bytes(stored_hash),
    )


def hold(row: Any) -> Hold:
    return Hold(
        id=row.id,
        agent_id=row.agent_id,
        wallet_account_id=row.wallet_account_id,
        key_id=row.key_id,
        budget_account_id=row.budget_account_id,
        budget_transfer_id=row.budget_transfer_id,
        created_by_subject=row.created_by_subject,
        amount=row.amount,
        code=TransferCode(row.code),
        reference=row.reference,
        timeout_s=row.timeout_s,
        status=HoldStatus(row.status),
        created_at=row.created_at,
        expires_at=row.expires_at,
        resolved_at=row.resolved_at,
        posted_micros=row.posted_micros,
        overage_micros=row.overage_micros,
        shortfall_micros=row.shortfall_micros,
        post_transfer_id=row.post_transfer_id,
        void_transfer_id=row.void_transfer_id,
    )

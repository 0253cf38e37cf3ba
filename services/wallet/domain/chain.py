"""Tamper evidence: each transfer's hash, chained per account.

Every ledger account carries the hash of its last transfer (its chain head). A transfer's hash is
SHA-256 over a domain separator, the transfer's immutable fields in a fixed binary layout, and the
previous heads of both its accounts, so it extends both chains at once. The head lives on the
account row that the transfer locks anyway, so writers never queue on one global head (SPEC §2).

The layout is defined twice and must agree byte for byte: here (VerifyLedger recomputes every
hash with it, independently of the database) and in ``wallet.transfer_hash`` in migration 0002
(used when a transfer is written). ``tests/wallet/test_domain.py`` compares them on random input.

Layout (big-endian integers; ``opt(x)`` is a 0x00 byte for NULL, else 0x01 followed by x;
``text(s)`` is the UTF-8 byte length as int32 followed by the bytes; times are microseconds since
the Unix epoch as int64)::

    "tm-transfer-v1" | id (16) | sequence (i64) | debit (16) | credit (16) | amount (i64)
    | ledger (i16) | code (i16) | flags (i16) | opt(pending_id (16)) | timeout_s (i32)
    | opt(expires_at (i64)) | text(reference) | text(memo) | text(initiator kind)
    | text(initiator subject) | opt(agent (16)) | opt(account (16)) | opt(key (16))
    | text(peer) | text(request_id) | created_at (i64)
    | opt(debit previous hash (32)) | opt(credit previous hash (32))
"""

from __future__ import annotations

import datetime
import hashlib
import struct
import uuid
from dataclasses import dataclass

from services.wallet.domain.ledger import HASH_BYTES, Transfer

DOMAIN_SEPARATOR = b"tm-transfer-v1"
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_MICROSECOND = datetime.timedelta(microseconds=1)


@dataclass(frozen=True)
class HashInput:
    """Every field a transfer's hash covers, flat, exactly as stored (no validation: VerifyLedger
    hashes whatever the table holds, tampered or not)."""

    id: uuid.UUID
    sequence: int
    debit_account_id: uuid.UUID
    credit_account_id: uuid.UUID
    amount: int
    ledger: int
    code: int
    flags: int
    pending_id: uuid.UUID | None
    timeout_s: int
    expires_at: datetime.datetime | None
    reference: str
    memo: str
    initiator_kind: str
    initiator_subject: str
    initiator_agent_id: uuid.UUID | None
    initiator_account_id: uuid.UUID | None
    initiator_key_id: uuid.UUID | None
    initiator_peer: str
    initiator_request_id: str
    created_at: datetime.datetime
    debit_previous_hash: bytes | None
    credit_previous_hash: bytes | None


def of_transfer(transfer: Transfer) -> HashInput:
    initiator = transfer.initiator
    return HashInput(
        id=transfer.id,
        sequence=transfer.sequence,
        debit_account_id=transfer.debit_account_id,
        credit_account_id=transfer.credit_account_id,
        amount=transfer.amount,
        ledger=int(transfer.ledger),
        code=int(transfer.code),
        flags=int(transfer.flags),
        pending_id=transfer.pending_id,
        timeout_s=transfer.timeout_s,
        expires_at=transfer.expires_at,
        reference=transfer.reference,
        memo=transfer.memo,
        initiator_kind=initiator.kind.value,
        initiator_subject=initiator.subject,
        initiator_agent_id=initiator.agent_id,
        initiator_account_id=initiator.account_id,
        initiator_key_id=initiator.key_id,
        initiator_peer=initiator.peer,
        initiator_request_id=initiator.request_id,
        created_at=transfer.created_at,
        debit_previous_hash=transfer.debit_previous_hash,
        credit_previous_hash=transfer.credit_previous_hash,
    )


def epoch_micros(moment: datetime.datetime) -> int:
    """Microseconds since the Unix epoch, exactly (PostgreSQL's timestamptz resolution)."""
    assert moment.tzinfo is not None
    return (moment - _EPOCH) // _MICROSECOND


def _optional(value: bytes | None) -> bytes:
    return b"\x00" if value is None else b"\x01" + value


def _text(value: str) -> bytes:
    encoded = value.encode("utf-8")
    return struct.pack(">i", len(encoded)) + encoded


def _uuid(value: uuid.UUID | None) -> bytes | None:
    return None if value is None else value.bytes


def canonical_encoding(item: HashInput) -> bytes:
    expires = None if item.expires_at is None else struct.pack(">q", epoch_micros(item.expires_at))
    return b"".join(
        (
            DOMAIN_SEPARATOR,
            item.id.bytes,
            struct.pack(">q", item.sequence),
            item.debit_account_id.bytes,
            item.credit_account_id.bytes,
            struct.pack(">qhhh", item.amount, item.ledger, item.code, item.flags),
            _optional(_uuid(item.pending_id)),
            struct.pack(">i", item.timeout_s),
            _optional(expires),
            _text(item.reference),
            _text(item.memo),
            _text(item.initiator_kind),
            _text(item.initiator_subject),
            _optional(_uuid(item.initiator_agent_id)),
            _optional(_uuid(item.initiator_account_id)),
            _optional(_uuid(item.initiator_key_id)),
            _text(item.initiator_peer),
            _text(item.initiator_request_id),
            struct.pack(">q", epoch_micros(item.created_at)),
            _optional(item.debit_previous_hash),
            _optional(item.credit_previous_hash),
        )
    )


def transfer_hash(item: HashInput) -> bytes:
    """The hash a transfer must carry, given its fields and its recorded previous heads."""
    digest = hashlib.sha256(canonical_encoding(item)).digest()
    assert len(digest) == HASH_BYTES
    return digest

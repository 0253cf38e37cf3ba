"""The one way money moves: a call to ``wallet.apply_transfers`` (migration 0002).

One round trip per call, whatever the number of transfers: the function locks every account of
the call in ascending id order, evaluates each draft in order (TigerBeetle's checks, linked
chains, pending resolution, balance limits), then writes the accepted transfers, extends both
accounts' hash chains and updates the counters. The outcome of every draft comes back in input
order.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.errors import RequestIdConflict
from services.wallet.domain.ledger import Draft, Initiator, Outcome
from services.wallet.store import convert

_APPLY_PARAMETERS = (
    ("ids", "uuid[]"),
    ("debits", "uuid[]"),
    ("credits", "uuid[]"),
    ("amounts", "bigint[]"),
    ("codes", "smallint[]"),
    ("flags", "smallint[]"),
    ("pending_ids", "uuid[]"),
    ("timeouts", "integer[]"),
    ("references", "text[]"),
    ("memos", "text[]"),
    ("rejections", "smallint[]"),
    ("denials", "smallint[]"),
    ("now", "timestamptz"),
    ("kind", "text"),
    ("subject", "text"),
    ("agent_id", "uuid"),
    ("account_id", "uuid"),
    ("key_id", "uuid"),
    ("peer", "text"),
    ("request_id", "text"),
)
"""``wallet.apply_transfers``' parameters in order, as :func:`_arguments` produces them."""
_APPLY = text(
    "SELECT * FROM wallet.apply_transfers("
    + ", ".join(f"CAST(:{name} AS {kind})" for name, kind in _APPLY_PARAMETERS)
    + ")"
)


def _arguments(drafts: Sequence[Draft], now: datetime.datetime, initiator: Initiator) -> list[Any]:
    """The arguments of ``wallet.apply_transfers``, in its order."""
    return [
        [draft.id for draft in drafts],
        [draft.debit_account_id for draft in drafts],
        [draft.credit_account_id for draft in drafts],
        [draft.amount for draft in drafts],
        [int(draft.code) for draft in drafts],
        [int(draft.flags) for draft in drafts],
        [draft.pending_id for draft in drafts],
        [draft.timeout_s for draft in drafts],
        [draft.reference for draft in drafts],
        [draft.memo for draft in drafts],
        [draft.rejection for draft in drafts],
        [draft.denial for draft in drafts],
        now,
        initiator.kind.value,
        initiator.subject,
        initiator.agent_id,
        initiator.account_id,
        initiator.key_id,
        initiator.peer,
        initiator.request_id,
    ]


def _outcome(row: Sequence[Any]) -> Outcome:
    """From the columns of ``wallet.apply_transfers`` (o_id .. o_created_at are
    TRANSFER_COLUMNS, in order)."""
    return Outcome(
        index=row[0],
        result=row[1],
        transfer=convert.transfer(row[2:26]) if row[2] is not None else None,
        debit_available=row[26],
        credit_available=row[27],
    )


async def apply(
    connection: AsyncConnection,
    drafts: Sequence[Draft],
    *,
    now: datetime.datetime,
    initiator: Initiator,
) -> list[Outcome]:
    assert drafts and now.tzinfo is not None
    arguments = _arguments(drafts, now, initiator)
    parameters = {
        name: value for (name, _), value in zip(_APPLY_PARAMETERS, arguments, strict=True)
    }
    rows = (await connection.execute(_APPLY, parameters)).all()
    assert len(rows) == len(drafts), "the ledger answers every draft"
    outcomes = [_outcome(tuple(row)) for row in rows]
    assert [outcome.index for outcome in outcomes] == list(range(len(drafts)))
    return outcomes


# -- a whole request in one statement (migration wallet_0003) ----------------------------------


@dataclass(frozen=True)
class Claim:
    """The request a call of :func:`apply_once` answers, for the request log."""

    lock_key: str
    """The advisory-lock key ``services.common.idempotency.run_once`` takes for the request."""
    caller: str
    method: str
    request_id: str
    digest: bytes
    record_failures: bool
    """Record the outcome even when a transfer failed (batches); a single-transfer request
    that fails records nothing, so it may be sent again once the failure is fixed."""


_APPLIED, _REPLAYED, _RECORDED_MESSAGE, _CONFLICT = 0, 1, 2, 3
_APPLY_ONCE = (
    "SELECT r_status, r_stored, r_outcome FROM wallet.apply_transfers_once("
    + ", ".join(f"${number}" for number in range(1, 27))
    + ")"
)


async def apply_once(
    connection: AsyncConnection,
    drafts: Sequence[Draft],
    *,
    claim: Claim,
    now: datetime.datetime,
    initiator: Initiator,
) -> list[Outcome] | bytes:
    """Apply ``drafts`` once per request: the outcomes (of now or of the first call), or the
    serialized answer ``run_once`` recorded for the request before revision wallet_0003.

    One statement on the driver connection: outside a transaction it is its own transaction;
    inside one (a directory lookup began it) it is part of it. Raises
    :class:`RequestIdConflict` when the request id was used for a different request.
    """
    assert drafts and now.tzinfo is not None
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    rows = await driver.fetch(
        _APPLY_ONCE,
        claim.lock_key,
        claim.caller,
        claim.method,
        claim.request_id,
        claim.digest,
        claim.record_failures,
        *_arguments(drafts, now, initiator),
    )
    status = rows[0]["r_status"]
    if status == _CONFLICT:
        raise RequestIdConflict(metadata={"request_id": claim.request_id})
    if status == _RECORDED_MESSAGE:
        return bytes(rows[0]["r_stored"])
    assert status in (_APPLIED, _REPLAYED)
    outcomes = [_outcome(tuple(row["r_outcome"])) for row in rows]
    assert [outcome.index for outcome in outcomes] == list(range(len(outcomes)))
    assert status == _REPLAYED or len(outcomes) == len(drafts), "the ledger answers every draft"
    return outcomes

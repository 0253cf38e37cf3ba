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

_APPLY = text(
    "SELECT * FROM wallet.apply_transfers("
    "CAST(:ids AS uuid[]), CAST(:debits AS uuid[]), CAST(:credits AS uuid[]), "
    "CAST(:amounts AS bigint[]), CAST(:codes AS smallint[]), CAST(:flags AS smallint[]), "
    "CAST(:pending_ids AS uuid[]), CAST(:timeouts AS integer[]), CAST(:references AS text[]), "
    "CAST(:memos AS text[]), CAST(:rejections AS smallint[]), CAST(:denials AS smallint[]), "
    "CAST(:now AS timestamptz), CAST(:kind AS text), CAST(:subject AS text), "
    "CAST(:agent_id AS uuid), CAST(:account_id AS uuid), CAST(:key_id AS uuid), "
    "CAST(:peer AS text), CAST(:request_id AS text))"
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
    rows = (
        await connection.execute(
            _APPLY,
            {
                "ids": [draft.id for draft in drafts],
                "debits": [draft.debit_account_id for draft in drafts],
                "credits": [draft.credit_account_id for draft in drafts],
                "amounts": [draft.amount for draft in drafts],
                "codes": [int(draft.code) for draft in drafts],
                "flags": [int(draft.flags) for draft in drafts],
                "pending_ids": [draft.pending_id for draft in drafts],
                "timeouts": [draft.timeout_s for draft in drafts],
                "references": [draft.reference for draft in drafts],
                "memos": [draft.memo for draft in drafts],
                "rejections": [draft.rejection for draft in drafts],
                "denials": [draft.denial for draft in drafts],
                "now": now,
                "kind": initiator.kind.value,
                "subject": initiator.subject,
                "agent_id": initiator.agent_id,
                "account_id": initiator.account_id,
                "key_id": initiator.key_id,
                "peer": initiator.peer,
                "request_id": initiator.request_id,
            },
        )
    ).all()
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

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

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

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
    outcomes = []
    for row in rows:
        outcomes.append(
            Outcome(
                index=row.o_index,
                result=row.o_result,
                # Columns o_id .. o_created_at are TRANSFER_COLUMNS, in order.
                transfer=convert.transfer(row[2:26]) if row.o_id is not None else None,
                debit_available=row.o_debit_available,
                credit_available=row.o_credit_available,
            )
        )
    assert [outcome.index for outcome in outcomes] == list(range(len(drafts)))
    return outcomes

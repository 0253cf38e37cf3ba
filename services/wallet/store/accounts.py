"""Queries on ledger accounts. Counters change only through ``store.ledger.apply``."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import AsyncIterator, Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.wallet.domain.ledger import AccountKind, LedgerAccount
from services.wallet.domain.verification import StoredAccount
from services.wallet.store import convert
from services.wallet.store.convert import ACCOUNT_COLUMNS

OWNER_COLUMNS = {
    AccountKind.AGENT_WALLET: "agent_id",
    AccountKind.ACCOUNT_WALLET: "account_id",
    AccountKind.KEY_BUDGET: "key_id",
}


async def by_id(connection: AsyncConnection, account_id: uuid.UUID) -> LedgerAccount | None:
    row = (
        await connection.execute(
            text(f"SELECT {ACCOUNT_COLUMNS} FROM wallet.ledger_accounts WHERE id = :id"),
            {"id": account_id},
        )
    ).first()
    return convert.account(row) if row is not None else None


async def by_owner(
    connection: AsyncConnection, kind: AccountKind, owner_id: uuid.UUID
) -> LedgerAccount | None:
    column = OWNER_COLUMNS[kind]
    row = (
        await connection.execute(
            text(f"SELECT {ACCOUNT_COLUMNS} FROM wallet.ledger_accounts WHERE {column} = :owner"),
            {"owner": owner_id},
        )
    ).first()
    return convert.account(row) if row is not None else None


async def system_accounts(connection: AsyncConnection) -> dict[AccountKind, LedgerAccount]:
    rows = (
        await connection.execute(
            text(
                f"SELECT {ACCOUNT_COLUMNS} FROM wallet.ledger_accounts "
                "WHERE kind IN ('mint', 'treasury', 'bounty_escrow', 'provider_revenue', "
                "'key_budget_source')"
            )
        )
    ).all()
    return {AccountKind(row.kind): convert.account(row) for row in rows}


async def ensure(
    connection: AsyncConnection, kind: AccountKind, owner_id: uuid.UUID, *, now: datetime.datetime
) -> tuple[LedgerAccount, bool]:
    """The account of ``owner_id``, opened now if it did not exist; (account, created).

    Race-safe: concurrent callers both insert ``ON CONFLICT DO NOTHING``; the loser reads the
    winner's row (READ COMMITTED sees it once the winner commits).
    """
    column = OWNER_COLUMNS[kind]
    row = (
        await connection.execute(
            text(
                "INSERT INTO wallet.ledger_accounts (id, kind, ledger, "
                f"{column}, debits_must_not_exceed_credits, credits_must_not_exceed_debits, "
                "debits_pending, debits_posted, credits_pending, credits_posted, limit_micros, "
                "transfer_count, created_at, updated_at) VALUES (:id, :kind, :ledger, :owner, "
                ":debits_bounded, false, 0, 0, 0, 0, 0, 0, :now, :now) "
                f"ON CONFLICT ({column}) DO NOTHING RETURNING {ACCOUNT_COLUMNS}"
            ),
            {
                "id": uuid.uuid4(),
                "kind": kind.value,
                "ledger": int(kind.ledger),
                "owner": owner_id,
                "debits_bounded": kind.debits_must_not_exceed_credits,
                "now": now,
            },
        )
    ).first()
    if row is not None:
        return convert.account(row), True
    existing = await by_owner(connection, kind, owner_id)
    assert existing is not None, "ON CONFLICT DO NOTHING means the row exists"
    return existing, False


async def lock(
    connection: AsyncConnection, account_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, LedgerAccount]:
    """Lock accounts ``FOR UPDATE`` in ascending id order (the ledger's one lock order)."""
    rows = (
        await connection.execute(
            text(
                f"SELECT {ACCOUNT_COLUMNS} FROM wallet.ledger_accounts "
                "WHERE id = ANY (CAST(:ids AS uuid[])) ORDER BY id FOR UPDATE"
            ),
            {"ids": sorted(set(account_ids))},
        )
    ).all()
    return {row.id: convert.account(row) for row in rows}


async def stream_stored(
    connection: AsyncConnection, *, chunk: int
) -> AsyncIterator[list[StoredAccount]]:
    """Every account as stored, in id order, ``chunk`` rows at a time (server-side cursor)."""
    result = await connection.stream(
        text(f"SELECT {ACCOUNT_COLUMNS} FROM wallet.ledger_accounts ORDER BY id")
    )
    async for rows in result.partitions(chunk):
        yield [convert.stored_account(row) for row in rows]

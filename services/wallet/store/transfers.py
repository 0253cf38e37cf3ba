"""Reading transfers: one, a page of a list, or the whole ledger in sequence order."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import AsyncIterator, Collection, Iterable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.wallet.domain.ledger import Transfer, TransferCode
from services.wallet.domain.verification import StoredTransfer
from services.wallet.store import convert
from services.wallet.store.convert import TRANSFER_COLUMNS


async def by_id(connection: AsyncConnection, transfer_id: uuid.UUID) -> Transfer | None:
    row = (
        await connection.execute(
            text(f"SELECT {TRANSFER_COLUMNS} FROM wallet.transfers WHERE id = :id"),
            {"id": transfer_id},
        )
    ).first()
    return convert.transfer(row) if row is not None else None


async def by_ids(connection: AsyncConnection, transfer_ids: Iterable[uuid.UUID]) -> list[Transfer]:
    rows = (
        await connection.execute(
            text(
                f"SELECT {TRANSFER_COLUMNS} FROM wallet.transfers "
                "WHERE id = ANY (CAST(:ids AS uuid[])) ORDER BY sequence"
            ),
            {"ids": list(transfer_ids)},
        )
    ).all()
    return [convert.transfer(row) for row in rows]


async def resolutions_of(
    connection: AsyncConnection, pending_ids: Iterable[uuid.UUID]
) -> list[Transfer]:
    """The posts and voids of these pending transfers, in sequence order."""
    rows = (
        await connection.execute(
            text(
                f"SELECT {TRANSFER_COLUMNS} FROM wallet.transfers "
                "WHERE pending_id = ANY (CAST(:ids AS uuid[])) ORDER BY sequence"
            ),
            {"ids": list(pending_ids)},
        )
    ).all()
    return [convert.transfer(row) for row in rows]


@dataclass(frozen=True)
class ListFilter:
    account_id: uuid.UUID | None
    """None lists the whole ledger."""
    codes: Collection[TransferCode]
    reference: str
    since: datetime.datetime | None
    until: datetime.datetime | None


Position = tuple[datetime.datetime, uuid.UUID]


async def page(
    connection: AsyncConnection, where: ListFilter, *, after: Position | None, limit: int
) -> list[Transfer]:
    """Up to ``limit`` transfers, newest first (created_at, then id, descending)."""
    clauses = []
    params: dict[str, object] = {"limit": limit}
    if where.codes:
        clauses.append("code = ANY (CAST(:codes AS smallint[]))")
        params["codes"] = sorted(int(code) for code in where.codes)
    if where.reference:
        clauses.append("reference = :reference")
        params["reference"] = where.reference
    if where.since is not None:
        clauses.append("created_at >= :since")
        params["since"] = where.since
    if where.until is not None:
        clauses.append("created_at < :until")
        params["until"] = where.until
    if after is not None:
        clauses.append("(created_at, id) < (:after_time, :after_id)")
        params["after_time"], params["after_id"] = after
    order = "ORDER BY created_at DESC, id DESC LIMIT :limit"
    if where.account_id is None:
        condition = " AND ".join(clauses) or "TRUE"
        query = f"SELECT {TRANSFER_COLUMNS} FROM wallet.transfers WHERE {condition} {order}"
    else:
        # One index range scan per side, merged: an OR across the two columns would not use
        # the (account, created_at, id) indexes.
        params["account_id"] = where.account_id
        sides = []
        for column in ("debit_account_id", "credit_account_id"):
            condition = " AND ".join((f"{column} = :account_id", *clauses))
            sides.append(
                f"(SELECT {TRANSFER_COLUMNS} FROM wallet.transfers WHERE {condition} {order})"
            )
        query = f"SELECT * FROM ({' UNION ALL '.join(sides)}) merged {order}"
    rows = (await connection.execute(text(query), params)).all()
    return [convert.transfer(row) for row in rows]


async def stream_stored(
    connection: AsyncConnection, *, chunk: int
) -> AsyncIterator[list[StoredTransfer]]:
    """Every transfer in sequence order, ``chunk`` rows at a time (server-side cursor)."""
    result = await connection.stream(
        text(f"SELECT {TRANSFER_COLUMNS} FROM wallet.transfers ORDER BY sequence")
    )
    async for rows in result.partitions(chunk):
        yield [convert.stored_transfer(row) for row in rows]

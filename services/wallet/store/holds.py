"""Queries on holds. A hold row indexes its pending transfers; the money is in the transfers."""

from __future__ import annotations

import datetime
import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.wallet.domain.holds import Hold, HoldStatus
from services.wallet.store import convert
from services.wallet.store.convert import HOLD_COLUMNS


async def by_id(
    connection: AsyncConnection, hold_id: uuid.UUID, *, for_update: bool = False
) -> Hold | None:
    lock = " FOR UPDATE" if for_update else ""
    row = (
        await connection.execute(
            text(f"SELECT {HOLD_COLUMNS} FROM wallet.holds WHERE id = :id{lock}"), {"id": hold_id}
        )
    ).first()
    return convert.hold(row) if row is not None else None


async def by_post_transfer_id(
    connection: AsyncConnection, post_transfer_id: uuid.UUID
) -> Hold | None:
    row = (
        await connection.execute(
            text(f"SELECT {HOLD_COLUMNS} FROM wallet.holds WHERE post_transfer_id = :id"),
            {"id": post_transfer_id},
        )
    ).first()
    return convert.hold(row) if row is not None else None


async def insert(connection: AsyncConnection, hold: Hold, *, now: datetime.datetime) -> None:
    assert hold.status is HoldStatus.PENDING
    await connection.execute(
        text(
            "INSERT INTO wallet.holds (id, agent_id, wallet_account_id, key_id, budget_account_id, "
            "budget_transfer_id, created_by_subject, amount, code, reference, timeout_s, status, "
            "created_at, expires_at, resolved_at, posted_micros, overage_micros, "
            "shortfall_micros, post_transfer_id, void_transfer_id, updated_at) VALUES (:id, "
            ":agent_id, :wallet_account_id, :key_id, :budget_account_id, :budget_transfer_id, "
            ":created_by_subject, :amount, :code, :reference, :timeout_s, 'pending', :created_at, "
            ":expires_at, NULL, 0, 0, 0, NULL, NULL, :now)"
        ),
        {
            "id": hold.id,
            "agent_id": hold.agent_id,
            "wallet_account_id": hold.wallet_account_id,
            "key_id": hold.key_id,
            "budget_account_id": hold.budget_account_id,
            "budget_transfer_id": hold.budget_transfer_id,
            "created_by_subject": hold.created_by_subject,
            "amount": hold.amount,
            "code": int(hold.code),
            "reference": hold.reference,
            "timeout_s": hold.timeout_s,
            "created_at": hold.created_at,
            "expires_at": hold.expires_at,
            "now": now,
        },
    )


async def settle(connection: AsyncConnection, hold: Hold, *, now: datetime.datetime) -> None:
    """Write a hold's new status and settlement (the guard trigger allows each change once)."""
    await connection.execute(
        text(
            "UPDATE wallet.holds SET status = :status, resolved_at = :resolved_at, "
            "posted_micros = :posted, overage_micros = :overage, shortfall_micros = :shortfall, "
            "post_transfer_id = :post_transfer_id, void_transfer_id = :void_transfer_id, "
            "updated_at = :now WHERE id = :id"
        ),
        {
            "id": hold.id,
            "status": hold.status.value,
            "resolved_at": hold.resolved_at,
            "posted": hold.posted_micros,
            "overage": hold.overage_micros,
            "shortfall": hold.shortfall_micros,
            "post_transfer_id": hold.post_transfer_id,
            "void_transfer_id": hold.void_transfer_id,
            "now": now,
        },
    )


async def claim_expired(
    connection: AsyncConnection, *, now: datetime.datetime, limit: int
) -> list[Hold]:
    """Lock up to ``limit`` pending holds past expiry that no other transaction holds.

    ``SKIP LOCKED`` lets several wallet replicas sweep at once without waiting on each other or
    voiding a hold twice: each hold row is taken by one sweeper, and its status re-read under
    the lock.
    """
    rows = (
        await connection.execute(
            text(
                f"SELECT {HOLD_COLUMNS} FROM wallet.holds "
                "WHERE status = 'pending' AND expires_at <= :now "
                "ORDER BY expires_at LIMIT :limit FOR UPDATE SKIP LOCKED"
            ),
            {"now": now, "limit": limit},
        )
    ).all()
    return [convert.hold(row) for row in rows]


async def by_void_transfer_id(
    connection: AsyncConnection, void_transfer_id: uuid.UUID
) -> Hold | None:
    row = (
        await connection.execute(
            text(f"SELECT {HOLD_COLUMNS} FROM wallet.holds WHERE void_transfer_id = :id"),
            {"id": void_transfer_id},
        )
    ).first()
    return convert.hold(row) if row is not None else None

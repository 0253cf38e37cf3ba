"""Queries on the payout outbox and its fixed transfer batches."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.review.domain.model import (
    OutboxEntry,
    OutboxKind,
    OutboxStatus,
    PayoutTransfer,
)
from services.review.store import convert, models


async def insert_entry(
    tx: AsyncSession,
    *,
    entry_id: uuid.UUID,
    kind: OutboxKind,
    bounty_id: uuid.UUID,
    claim_id: uuid.UUID | None,
    transfers: Sequence[PayoutTransfer],
    now: datetime.datetime,
) -> OutboxEntry:
    """Write an entry and its batch; the caller holds the bounty's lock."""
    total = sum(item.amount_micros for item in transfers)
    entry = models.OutboxEntry(
        id=entry_id,
        kind=kind.value,
        bounty_id=bounty_id,
        claim_id=claim_id,
        status=OutboxStatus.PENDING.value,
        total_micros=total,
        attempts=0,
        next_attempt_at=now,
        last_error_reason=None,
        created_at=now,
        delivered_at=None,
        updated_at=now,
    )
    tx.add(entry)
    await tx.flush()
    rows = [
        models.PayoutTransfer(
            transfer_id=item.transfer_id,
            entry_id=entry_id,
            position=item.position,
            recipient=item.recipient.value,
            agent_id=item.agent_id,
            amount_micros=item.amount_micros,
            code=item.code.value,
        )
        for item in transfers
    ]
    tx.add_all(rows)
    await tx.flush()
    return convert.outbox_entry(entry, rows)


async def _with_transfers(
    tx: AsyncSession, entries: Sequence[models.OutboxEntry]
) -> list[OutboxEntry]:
    if not entries:
        return []
    rows = (
        await tx.execute(
            select(models.PayoutTransfer).where(
                models.PayoutTransfer.entry_id.in_([entry.id for entry in entries])
            )
        )
    ).scalars()
    by_entry: dict[uuid.UUID, list[models.PayoutTransfer]] = {entry.id: [] for entry in entries}
    for row in rows:
        by_entry[row.entry_id].append(row)
    return [convert.outbox_entry(entry, by_entry[entry.id]) for entry in entries]


async def entry_by_id(tx: AsyncSession, entry_id: uuid.UUID) -> OutboxEntry | None:
    row = (
        await tx.execute(select(models.OutboxEntry).where(models.OutboxEntry.id == entry_id))
    ).scalar_one_or_none()
    if row is None:
        return None
    return (await _with_transfers(tx, [row]))[0]


async def lease(
    tx: AsyncSession,
    entry_id: uuid.UUID,
    *,
    now: datetime.datetime,
    lease_until: datetime.datetime,
    force: bool,
) -> OutboxEntry | None:
    """Take one entry for sending, or None when it is not due (or delivered, or leased).

    Taking it pushes ``next_attempt_at`` to the end of the lease, so another dispatcher skips it
    until then; ``force`` (an operator's re-drive) takes a stuck or not-yet-due entry too and
    starts its attempts again.
    """
    query = update(models.OutboxEntry).where(models.OutboxEntry.id == entry_id)
    if force:
        query = query.where(models.OutboxEntry.status != OutboxStatus.DELIVERED.value).values(
            status=OutboxStatus.PENDING.value, attempts=1
        )
    else:
        query = query.where(
            models.OutboxEntry.status == OutboxStatus.PENDING.value,
            models.OutboxEntry.next_attempt_at <= now,
        ).values(attempts=models.OutboxEntry.attempts + 1)
    row = (
        await tx.execute(
            query.values(next_attempt_at=lease_until, updated_at=now)
            .returning(models.OutboxEntry)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    return (await _with_transfers(tx, [row]))[0]


async def due(tx: AsyncSession, *, now: datetime.datetime, limit: int) -> list[uuid.UUID]:
    """Pending entries whose next attempt is due, oldest due first."""
    query = (
        select(models.OutboxEntry.id)
        .where(
            models.OutboxEntry.status == OutboxStatus.PENDING.value,
            models.OutboxEntry.next_attempt_at <= now,
        )
        .order_by(models.OutboxEntry.next_attempt_at, models.OutboxEntry.id)
        .limit(limit)
    )
    return list((await tx.execute(query)).scalars())


async def undelivered(tx: AsyncSession, *, limit: int) -> list[uuid.UUID]:
    """Pending and stuck entries, oldest first."""
    query = (
        select(models.OutboxEntry.id)
        .where(models.OutboxEntry.status != OutboxStatus.DELIVERED.value)
        .order_by(models.OutboxEntry.created_at, models.OutboxEntry.id)
        .limit(limit)
    )
    return list((await tx.execute(query)).scalars())


async def mark_delivered(tx: AsyncSession, entry_id: uuid.UUID, *, now: datetime.datetime) -> bool:
    rows = (
        await tx.execute(
            update(models.OutboxEntry)
            .where(
                models.OutboxEntry.id == entry_id,
                models.OutboxEntry.status != OutboxStatus.DELIVERED.value,
            )
            .values(
                status=OutboxStatus.DELIVERED.value,
                delivered_at=now,
                last_error_reason=None,
                next_attempt_at=now,
                updated_at=now,
            )
            .returning(models.OutboxEntry.id)
        )
    ).all()
    return bool(rows)


async def mark_failed(
    tx: AsyncSession,
    entry_id: uuid.UUID,
    *,
    reason: str,
    stuck: bool,
    next_attempt_at: datetime.datetime,
    now: datetime.datetime,
) -> None:
    await tx.execute(
        update(models.OutboxEntry)
        .where(
            models.OutboxEntry.id == entry_id,
            models.OutboxEntry.status != OutboxStatus.DELIVERED.value,
        )
        .values(
            status=(OutboxStatus.STUCK if stuck else OutboxStatus.PENDING).value,
            last_error_reason=reason[:64],
            next_attempt_at=next_attempt_at,
            updated_at=now,
        )
    )


async def undelivered_of(tx: AsyncSession, bounty_id: uuid.UUID) -> int:
    count = (
        await tx.execute(
            select(func.count()).where(
                models.OutboxEntry.bounty_id == bounty_id,
                models.OutboxEntry.status != OutboxStatus.DELIVERED.value,
            )
        )
    ).scalar_one()
    return int(count)


@dataclass(frozen=True)
class Undelivered:
    entries: int
    total_micros: int


async def undelivered_totals(tx: AsyncSession) -> Undelivered:
    row = (
        await tx.execute(
            select(func.count(), func.coalesce(func.sum(models.OutboxEntry.total_micros), 0)).where(
                models.OutboxEntry.status != OutboxStatus.DELIVERED.value
            )
        )
    ).one()
    return Undelivered(entries=int(row[0]), total_micros=int(row[1]))


async def payout_statuses(
    tx: AsyncSession, claim_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, OutboxStatus]:
    """The payout entry's status of each claim that has one."""
    if not claim_ids:
        return {}
    rows = (
        await tx.execute(
            select(models.OutboxEntry.claim_id, models.OutboxEntry.status).where(
                models.OutboxEntry.claim_id.in_(list(claim_ids))
            )
        )
    ).all()
    return {row[0]: OutboxStatus(row[1]) for row in rows if row[0] is not None}


@dataclass(frozen=True)
class EntryFilter:
    statuses: frozenset[OutboxStatus] = frozenset()
    bounty_id: uuid.UUID | None = None


async def list_entries(
    tx: AsyncSession,
    *,
    where: EntryFilter,
    after: tuple[datetime.datetime, uuid.UUID] | None,
    limit: int,
) -> list[OutboxEntry]:
    """Oldest first: created_at ascending, then id ascending."""
    query = select(models.OutboxEntry)
    if where.statuses:
        query = query.where(
            models.OutboxEntry.status.in_([status.value for status in where.statuses])
        )
    if where.bounty_id is not None:
        query = query.where(models.OutboxEntry.bounty_id == where.bounty_id)
    if after is not None:
        query = query.where(tuple_(models.OutboxEntry.created_at, models.OutboxEntry.id) > after)
    query = query.order_by(models.OutboxEntry.created_at, models.OutboxEntry.id).limit(limit)
    return await _with_transfers(tx, list((await tx.execute(query)).scalars()))

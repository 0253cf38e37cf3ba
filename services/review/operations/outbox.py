"""Reading the payout outbox (ListOutbox, for operators)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.review.domain.model import OutboxEntry, OutboxStatus
from services.review.operations import access
from services.review.operations.common import decode_position, next_page_token, page_size
from services.review.operations.runtime import Caller
from services.review.store import outbox as store


@dataclass(frozen=True)
class OutboxPage:
    entries: list[OutboxEntry]
    next_page_token: str


async def list_outbox(
    tx: AsyncSession,
    caller: Caller,
    *,
    requested_page_size: int,
    page_token: str,
    statuses: frozenset[OutboxStatus],
    bounty_id: uuid.UUID | None,
) -> OutboxPage:
    access.require_operator(caller)
    size = page_size(requested_page_size)
    filters = {
        "statuses": sorted(status.value for status in statuses),
        "bounty": str(bounty_id or ""),
    }
    after = decode_position(page_token, list_name="outbox", filters=filters)
    rows = await store.list_entries(
        tx,
        where=store.EntryFilter(statuses=statuses, bounty_id=bounty_id),
        after=after,
        limit=size + 1,
    )
    return OutboxPage(
        entries=rows[:size],
        next_page_token=next_page_token(
            rows,
            page_size=size,
            list_name="outbox",
            filters=filters,
            position=lambda entry: (entry.created_at, entry.id),
        ),
    )

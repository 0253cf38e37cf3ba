"""Helpers shared by the operations: validation mapping, paging positions, advisory locks."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth import errors
from services.auth.domain import pagination, validation
from services.auth.operations.runtime import Runtime

T = TypeVar("T")


def checked(check: Callable[[], T]) -> T:
    """Run a domain validation, turning :class:`validation.Invalid` into the API error."""
    try:
        return check()
    except validation.Invalid as invalid:
        raise errors.invalid(invalid.reason, invalid.field) from None


async def advisory_lock(tx: AsyncSession, key: str) -> None:
    """A transaction-scoped lock on ``key`` in the auth namespace (released at commit)."""
    await tx.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"auth|{key}"}
    )


Position = tuple[datetime.datetime, uuid.UUID]


def decode_position(
    runtime: Runtime, token: str, *, list_name: str, filters: Mapping[str, Any]
) -> Position | None:
    raw = checked(
        lambda: runtime.page_tokens.decode(token, list_name=list_name, filters=filters, width=2)
    )
    if raw is None:
        return None
    try:
        return datetime.datetime.fromisoformat(raw[0]), uuid.UUID(raw[1])
    except ValueError:
        raise errors.PageTokenInvalid() from None


def next_page_token(
    runtime: Runtime,
    rows: Sequence[T],
    *,
    page_size: int,
    list_name: str,
    filters: Mapping[str, Any],
    position: Callable[[T], Position],
) -> str:
    """A token after the last row when the page is full (the caller fetched page_size + 1)."""
    if len(rows) <= page_size:
        return ""
    last_time, last_id = position(rows[page_size - 1])
    return runtime.page_tokens.encode(
        list_name=list_name, filters=filters, position=(last_time.isoformat(), str(last_id))
    )


def page_size(requested: int) -> int:
    return checked(lambda: pagination.page_size(requested))

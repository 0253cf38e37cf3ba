"""Transactions, and what a database failure means to a caller.

:meth:`Database.transaction` yields an :class:`~sqlalchemy.ext.asyncio.AsyncSession` inside one
transaction (READ COMMITTED; rows that decisions depend on are locked explicitly, always in the
order claim → bounty, or bounty → unsubmitted claims, so two transactions never wait on each
other in a cycle). Explicit locks are ``FOR NO KEY UPDATE``, like the row locks of UPDATE
itself: they serialize writers of a row but not inserts that merely reference it (a foreign key
takes ``FOR KEY SHARE``), so writing a review of a claim never waits for its bounty's lock.

A refusal that must keep what it wrote (a vote refused because the reviewer is no longer eligible
withdraws and reassigns the review first) is raised inside the transaction as
:class:`RecordedRefusal`: the transaction commits, and then the refusal's error reaches the
caller. Every other exception rolls back.

A database that cannot be reached, or a statement cancelled by its timeout, becomes
:class:`~services.review.errors.DatabaseUnavailable` (UNAVAILABLE, safe to retry with the same
request id, since nothing was committed).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.common.db import RecordedRefusal, is_unavailable
from services.review.errors import DatabaseUnavailable

T = TypeVar("T")


class Database:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One transaction; commits on success, rolls back on any exception."""
        try:
            async with self._sessions() as session, session.begin():
                yield session
        except Exception as error:
            if is_unavailable(error):
                raise DatabaseUnavailable() from error
            raise

    async def run(self, body: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run ``body`` in a transaction; a :class:`RecordedRefusal` commits, then raises."""
        refusal: RecordedRefusal | None = None
        async with self.transaction() as session:
            try:
                return await body(session)
            except RecordedRefusal as refused:
                refusal = refused
        assert refusal is not None
        raise refusal.error


async def advisory_lock(tx: AsyncSession, key: str) -> None:
    """A transaction-scoped lock on ``key`` in the review namespace (released at commit)."""
    await tx.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"review|{key}"}
    )

"""Transactions, and what a database failure means to a caller.

:meth:`Database.transaction` yields an :class:`~sqlalchemy.ext.asyncio.AsyncSession` inside one
transaction (READ COMMITTED; rows that decisions depend on are locked explicitly). A refusal that
must leave a trace (an audit entry, a burned token, a revoked session family) is raised inside
the transaction as :class:`RecordedRefusal`: the transaction commits what was written, and then
the refusal's error reaches the caller. Every other exception rolls back.

A database that cannot be reached, or a statement cancelled by its timeout, becomes
:class:`~services.auth.errors.DatabaseUnavailable` (UNAVAILABLE, safe to retry with the same
request id, since nothing was committed).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.auth.errors import DatabaseUnavailable
from services.common.db import RecordedRefusal, is_unavailable

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

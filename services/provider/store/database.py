"""Transactions, and what a database failure means to a caller.

:meth:`Database.transaction` yields an :class:`~sqlalchemy.ext.asyncio.AsyncConnection` inside one
transaction (READ COMMITTED; rows that decisions depend on are locked explicitly). Transactions
are short: no transaction is ever held open across an upstream call or a wallet call on the
serving path.

A database that cannot be reached, or a statement cancelled by its timeout, becomes
:class:`~services.provider.errors.DatabaseUnavailable` (UNAVAILABLE, safe to retry with the same
request id, since nothing was committed).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.db import is_unavailable
from services.provider.errors import DatabaseUnavailable

T = TypeVar("T")


class Database:
    """Transactions on plain connections: provider's queries are SQL expressions on tables,
    with no ORM state to track, so a connection costs less than a session per request."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        # Same pool; no BEGIN/COMMIT round trips for work that is one statement anyway.
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """One transaction; commits on success, rolls back on any exception."""
        try:
            async with self.engine.begin() as connection:
                yield connection
        except Exception as error:
            if is_unavailable(error):
                raise DatabaseUnavailable() from error
            raise

    async def run(self, body: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``body`` in a transaction."""
        async with self.transaction() as connection:
            return await body(connection)

    async def run_statement(self, body: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``body``, which executes exactly one statement, without a transaction around it
        (a single statement is atomic by itself)."""
        try:
            async with self._autocommit.connect() as connection:
                return await body(connection)
        except Exception as error:
            if is_unavailable(error):
                raise DatabaseUnavailable() from error
            raise

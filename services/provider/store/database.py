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

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.provider.errors import DatabaseUnavailable

T = TypeVar("T")

_UNAVAILABLE_SQLSTATES = frozenset(
    {
        "57014",  # query_canceled (statement_timeout)
        "57P01",  # admin_shutdown
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now
        "53300",  # too_many_connections
        "08000",
        "08003",
        "08006",
        "08001",
        "08004",
    }
)


def _sqlstate(error: BaseException) -> str | None:
    for candidate in (getattr(error, "orig", None), error.__cause__, error):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
        cause = getattr(candidate, "__cause__", None)
        code = getattr(cause, "sqlstate", None)
        if isinstance(code, str):
            return code
    return None


def is_unavailable(error: BaseException) -> bool:
    """Whether ``error`` means the database could not serve us (as opposed to a bug)."""
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, (sa_exc.TimeoutError, sa_exc.InterfaceError, ConnectionError)):
        return True
    if isinstance(error, OSError | asyncio.TimeoutError):
        return True
    if isinstance(error, sa_exc.DBAPIError):
        return _sqlstate(error) in _UNAVAILABLE_SQLSTATES
    return False


def constraint_name(error: sa_exc.IntegrityError) -> str | None:
    """The name of the constraint an INSERT or UPDATE violated."""
    for candidate in (getattr(error.orig, "__cause__", None), error.orig):
        name = getattr(candidate, "constraint_name", None)
        if isinstance(name, str):
            return name
    return None


def lock_not_available(error: sa_exc.DBAPIError) -> bool:
    """Whether a ``FOR UPDATE NOWAIT`` found the row locked by another transaction."""
    return _sqlstate(error) == "55P03"


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

"""Transactions, bounded retries, and what a database failure means to a caller.

:meth:`Database.run` runs a body in one READ COMMITTED transaction on an
:class:`~sqlalchemy.ext.asyncio.AsyncConnection` (rows that decisions depend on are locked
explicitly, in ascending id order). A transaction that loses a race the database resolves by
aborting it is retried from the start, at most ``retries`` times, with a short jittered pause:

* a deadlock or serialization failure (which the fixed lock order makes rare: it needs two calls
  inserting the same new ids in different orders);
* a unique violation on a ledger id (two calls creating the same transfer or hold id at once;
  the retry finds the committed row and answers EXISTS or the precise conflict).

After the last retry the caller gets ABORTED (``CONCURRENT_UPDATE``) and may retry with the same
ids. A pooled connection found dead by the first statement (the database restarted or the
backend was terminated while the connection sat in a busy pool, see
:mod:`services.common.db`) is retried once on a fresh connection: the body is idempotent by
request id and transfer ids, so even a COMMIT whose outcome was lost replays rather than
repeats. A database that cannot be reached, or a statement cancelled by its timeout, is
UNAVAILABLE (``DATABASE_UNAVAILABLE``); nothing was committed, so the same ids may be retried.
:meth:`Database.snapshot` opens a read-only REPEATABLE READ transaction: one consistent view for
VerifyLedger.

``run(body, single_statement=True)`` is for a body whose write is one statement on the driver
connection (``store.ledger.apply_once``): no BEGIN/COMMIT round trips; any reads the body makes
through SQLAlchemy before it begin a transaction the statement joins, committed at the end.
Errors raised by the driver itself are classified the same way.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import asyncpg
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.db import constraint_name, is_unavailable, sqlstate
from services.wallet.errors import ConcurrentUpdate, DatabaseUnavailable

T = TypeVar("T")
logger = logging.getLogger("tokenmart.wallet.database")

_RETRIED_SQLSTATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected
_RETRIED_UNIQUE_CONSTRAINTS = frozenset(
    {
        "pk_transfers",
        "uq_transfers_pending_id",
        "pk_holds",
        "uq_holds_post_transfer_id",
        "uq_holds_void_transfer_id",
    }
)
_BACKOFF_S = 0.005
_SERVER_GONE = frozenset({"57P01", "57P02", "57P03"})  # admin/crash shutdown, starting up


def is_lost_race(error: BaseException) -> bool:
    """Whether running the same transaction again may succeed (see the module docstring)."""
    if not isinstance(error, sa_exc.DBAPIError | asyncpg.PostgresError):
        return False
    state = sqlstate(error)
    if state in _RETRIED_SQLSTATES:
        return True
    return state == "23505" and constraint_name(error) in _RETRIED_UNIQUE_CONSTRAINTS


def _connection_died(error: BaseException) -> bool:
    """Whether the connection was dead or is gone, so the same call on a fresh one may
    succeed. Besides what SQLAlchemy invalidated, covers what asyncpg raises for statements
    sent on the driver connection, including a protocol left mid-message by a terminated
    backend ("another operation is in progress") until the socket's end is read."""
    if isinstance(error, sa_exc.DBAPIError):
        return error.connection_invalidated
    if isinstance(error, asyncpg.PostgresError) and sqlstate(error) in _SERVER_GONE:
        return True
    return isinstance(
        error,
        asyncpg.PostgresConnectionError
        | asyncpg.InterfaceError
        | asyncpg.exceptions.InternalClientError
        | OSError,
    )


class Database:
    def __init__(self, engine: AsyncEngine, *, retries: int) -> None:
        assert retries >= 0
        self.engine = engine
        self.retries = retries

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """One READ COMMITTED transaction; commits on success, rolls back on any exception."""
        try:
            async with self.engine.begin() as connection:
                yield connection
        except Exception as error:
            if is_unavailable(error):
                raise DatabaseUnavailable() from error
            raise

    @asynccontextmanager
    async def single_statement(self) -> AsyncIterator[AsyncConnection]:
        """A connection whose transaction, if a read began one, commits on success."""
        try:
            async with self.engine.connect() as connection:
                try:
                    yield connection
                except BaseException as error:
                    if not isinstance(error, sa_exc.SQLAlchemyError) and _connection_died(error):
                        # SQLAlchemy did not see the failure, so do what it does on a
                        # disconnect: drop this connection and every one pooled with it (a
                        # restart or failover killed them all; the next checkouts reconnect).
                        await connection.invalidate()
                        await self.engine.dispose()
                        raise DatabaseUnavailable() from error
                    raise
                if connection.in_transaction():
                    await connection.commit()
        except Exception as error:
            if is_unavailable(error):
                raise DatabaseUnavailable() from error
            raise

    async def run(
        self, body: Callable[[AsyncConnection], Awaitable[T]], *, single_statement: bool = False
    ) -> T:
        """Run ``body`` in a transaction, again from the start after a lost race (bounded)."""
        attempt = 0
        reconnected = False
        while True:
            try:
                scope = self.single_statement() if single_statement else self.transaction()
                async with scope as connection:
                    return await body(connection)
            except DatabaseUnavailable as unavailable:
                cause = unavailable.__cause__
                if cause is None or not _connection_died(cause) or reconnected:
                    raise
                reconnected = True
                continue
            except (sa_exc.DBAPIError, asyncpg.PostgresError) as error:
                if not is_lost_race(error):
                    raise
                if attempt >= self.retries:
                    logger.warning("transaction kept losing races", extra={"attempts": attempt})
                    raise ConcurrentUpdate() from error
            attempt += 1
            await asyncio.sleep(_BACKOFF_S * attempt * (1 + random.random()))  # noqa: S311

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncConnection]:
        """A read-only REPEATABLE READ transaction: one consistent view of the whole ledger."""
        try:
            async with self.engine.connect() as connection:
                connection = await connection.execution_options(
                    isolation_level="REPEATABLE READ", postgresql_readonly=True
                )
                async with connection.begin():
                    yield connection
        except Exception as error:
            if is_unavailable(error):
                raise DatabaseUnavailable() from error
            raise

"""Database helpers shared by every service: the async engine and the model conventions.

Each service connects as its own runtime role, which can reach only its own schema (the grants
make this true, not the code). Money columns are BIGINT micro-credits, keys are UUIDs, times
are ``timestamptz``; constraint names follow one naming convention so migrations are stable.

Stale pooled connections (PostgreSQL restarted, a backend terminated, a proxy timed out) are
caught by pinging a connection at checkout only when it has sat idle in the pool for longer than
``PING_AFTER_IDLE_S``: a busy pool skips the extra round trip that SQLAlchemy's ``pool_pre_ping``
would add to every transaction, while a connection that has been idle long enough to have gone
stale is tested first and transparently replaced. A connection that dies while in use fails its
statement; SQLAlchemy then invalidates it, and the service maps that to UNAVAILABLE (every
mutating RPC is idempotent by request id, so the caller retries safely).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
from sqlalchemy import MetaData, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services.common.errors import TokenMartError
from services.common.settings import DatabaseSettings

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def service_metadata(schema: str) -> MetaData:
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def async_url(url: str) -> str:
    """The same database URL with the asyncpg driver."""
    return make_url(url).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    """The same database URL with the psycopg (3) driver, for migrations and tooling."""
    return make_url(url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


PING_AFTER_IDLE_S = 1.0
_LAST_USED = "tokenmart_last_used"


def ping_idle_connections(engine: AsyncEngine, *, idle_s: float = PING_AFTER_IDLE_S) -> None:
    """Ping a pooled connection at checkout if it was idle for more than ``idle_s`` seconds."""

    def connected(dbapi_connection: Any, record: Any) -> None:
        record.info[_LAST_USED] = time.monotonic()

    def checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info[_LAST_USED] = time.monotonic()

    def checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        last_used = record.info.get(_LAST_USED)
        if last_used is not None and time.monotonic() - last_used <= idle_s:
            return
        try:
            dbapi_connection.ping()
        except Exception as error:
            # The pool discards this connection and checks out (or opens) another.
            raise sa_exc.DisconnectionError() from error

    event.listen(engine.sync_engine, "connect", connected)
    event.listen(engine.sync_engine, "checkin", checked_in)
    event.listen(engine.sync_engine, "checkout", checked_out)


def create_engine(settings: DatabaseSettings, *, application_name: str) -> AsyncEngine:
    engine = create_async_engine(
        async_url(settings.url),
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        connect_args={
            "server_settings": {
                "application_name": application_name,
                "statement_timeout": str(settings.statement_timeout_ms),
                "idle_in_transaction_session_timeout": str(settings.statement_timeout_ms * 3),
            }
        },
    )
    ping_idle_connections(engine)
    return engine


# -- what a database error means ---------------------------------------------------------------

UNAVAILABLE_SQLSTATES = frozenset(
    {
        "57014",  # query_canceled (statement_timeout)
        "57P01",  # admin_shutdown
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now
        "53300",  # too_many_connections
        "08000",  # connection_exception
        "08003",  # connection_does_not_exist
        "08006",  # connection_failure
        "08001",  # sqlclient_unable_to_establish_sqlconnection
        "08004",  # sqlserver_rejected_establishment_of_sqlconnection
    }
)


def sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE behind a SQLAlchemy/asyncpg error, wherever the driver put it."""
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
    if isinstance(error, sa_exc.TimeoutError | sa_exc.InterfaceError | ConnectionError):
        return True
    if isinstance(error, OSError | asyncio.TimeoutError):
        return True
    # Raised by asyncpg itself, for statements sent on the driver connection.
    if isinstance(error, asyncpg.PostgresConnectionError | asyncpg.InterfaceError):
        return True
    if isinstance(error, sa_exc.DBAPIError | asyncpg.PostgresError):
        return sqlstate(error) in UNAVAILABLE_SQLSTATES
    return False


def constraint_name(error: BaseException) -> str | None:
    """The name of the constraint an INSERT or UPDATE violated."""
    orig = getattr(error, "orig", None)
    for candidate in (getattr(orig, "__cause__", None), orig, error.__cause__, error):
        name = getattr(candidate, "constraint_name", None)
        if isinstance(name, str):
            return name
    return None


def lock_not_available(error: BaseException) -> bool:
    """Whether a ``FOR UPDATE NOWAIT`` found the row locked by another transaction."""
    return sqlstate(error) == "55P03"


class RecordedRefusal(Exception):
    """Refuse the request, but commit what the transaction wrote first (e.g. an audit entry)."""

    def __init__(self, error: TokenMartError) -> None:
        super().__init__(error.reason)
        self.error = error

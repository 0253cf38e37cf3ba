"""Database helpers shared by every service: the async engine and the model conventions.

Each service connects as its own runtime role, which can reach only its own schema (the grants
make this true, not the code). Money columns are BIGINT micro-credits, keys are UUIDs, times
are ``timestamptz``; constraint names follow one naming convention so migrations are stable.
"""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

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


def create_engine(settings: DatabaseSettings, *, application_name: str) -> AsyncEngine:
    return create_async_engine(
        async_url(settings.url),
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_pre_ping=True,
        connect_args={
            "server_settings": {
                "application_name": application_name,
                "statement_timeout": str(settings.statement_timeout_ms),
                "idle_in_transaction_session_timeout": str(settings.statement_timeout_ms * 3),
            }
        },
    )

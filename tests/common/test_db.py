"""Stale pooled connections: an idle one is pinged and replaced at checkout; a busy pool skips
the ping, so a connection that dies mid-use fails one statement and is then replaced."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ops.database import ServiceDatabase
from services.common.db import (
    PING_AFTER_IDLE_S,
    async_url,
    create_engine,
    ping_idle_connections,
)
from services.common.settings import DatabaseSettings


@pytest.fixture
async def engine(service_databases: dict[str, ServiceDatabase]):
    engine = create_engine(
        DatabaseSettings(
            url=service_databases["review"].runtime_url,
            pool_size=1,
            max_overflow=0,
            statement_timeout_ms=5000,
        ),
        application_name="tokenmart-db-test",
    )
    yield engine
    await engine.dispose()


@pytest.fixture
async def admin(admin_url: str):
    admin = create_async_engine(async_url(admin_url))
    yield admin
    await admin.dispose()


async def _backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _terminate(admin: AsyncEngine, pid: int) -> None:
    async with admin.connect() as connection:
        terminated = (
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        ).scalar_one()
    assert terminated
    # pg_terminate_backend only signals; wait until the backend is really gone.
    for _ in range(100):
        async with admin.connect() as connection:
            alive = (
                await connection.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
                )
            ).scalar_one()
        if not alive:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the terminated backend is still there")


async def test_an_idle_connection_that_died_is_replaced_without_an_error(engine, admin) -> None:
    first = await _backend_pid(engine)
    await _terminate(admin, first)
    await asyncio.sleep(PING_AFTER_IDLE_S + 0.2)
    second = await _backend_pid(engine)  # the checkout ping failed and a new connection opened
    assert second != first


async def test_a_busy_connection_that_died_fails_once_then_is_replaced(
    service_databases: dict[str, ServiceDatabase], admin
) -> None:
    # An idle window longer than the test: the connection always counts as recently used.
    engine = create_async_engine(
        async_url(service_databases["review"].runtime_url), pool_size=1, max_overflow=0
    )
    ping_idle_connections(engine, idle_s=3600)
    try:
        first = await _backend_pid(engine)
        await _terminate(admin, first)
        # No ping within the idle window, so the statement itself finds the connection dead.
        with pytest.raises(sa_exc.DBAPIError) as raised:
            await _backend_pid(engine)
        assert raised.value.connection_invalidated
        assert await _backend_pid(engine) != first
    finally:
        await engine.dispose()

"""What one database round trip costs a Python service here, by driver and event loop.

The same transaction (BEGIN; advisory lock; a lookup by key; SELECT 1; an INSERT; COMMIT: the
shape of a wallet CreateTransfer, six round trips) run 300 times by one client, through:

* psycopg 3, synchronous (the baseline: a blocking socket, like pgbench's C client);
* asyncpg on asyncio, then on uvloop;
* SQLAlchemy's async engine over asyncpg (what the services use).

It prints wall time and process CPU per transaction. Measured on an otherwise idle 2-core VM
(2026-11-29): psycopg 908 us wall / 398 us CPU, asyncpg 841 / 498, asyncpg on uvloop 729 / 334,
SQLAlchemy async 2,503 / 1,724: the SQLAlchemy layer, not the driver or the event loop, is
most of a hot path's database cost (about 200 us CPU per statement).

    .venv/bin/python -m bench.db_round_trips [--iterations 300]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import secrets
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import psycopg
import uvloop
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from ops.database import create_database, drop_database
from ops.embedded import EmbeddedPostgres

TABLE = "round_trip_log"


def _row(name: str, wall_s: float, cpu_s: float, iterations: int) -> str:
    return (
        f"{name:<34} {wall_s / iterations * 1e6:>8,.0f} us wall   "
        f"{cpu_s / iterations * 1e6:>8,.0f} us CPU per transaction"
    )


def _psycopg(dsn: str, iterations: int) -> tuple[float, float]:
    with psycopg.connect(dsn) as connection:
        cpu, wall = time.process_time(), time.perf_counter()
        for index in range(iterations):
            key = f"psycopg-{index}"
            with connection.transaction():
                connection.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))
                connection.execute(f"SELECT value FROM {TABLE} WHERE key = %s", (key,))
                connection.execute("SELECT 1")
                connection.execute(f"INSERT INTO {TABLE} VALUES (%s, %s)", (key, b"x" * 200))
        return time.perf_counter() - wall, time.process_time() - cpu


async def _asyncpg(dsn: str, iterations: int, label: str) -> tuple[float, float]:
    connection = await asyncpg.connect(dsn)
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        for index in range(iterations):
            key = f"{label}-{index}"
            async with connection.transaction():
                await connection.fetch("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key)
                await connection.fetch(f"SELECT value FROM {TABLE} WHERE key = $1", key)
                await connection.fetch("SELECT 1")
                await connection.execute(f"INSERT INTO {TABLE} VALUES ($1, $2)", key, b"x" * 200)
        return time.perf_counter() - wall, time.process_time() - cpu
    finally:
        await connection.close()


async def _sqlalchemy(dsn: str, iterations: int) -> tuple[float, float]:
    url = make_url(dsn).set(drivername="postgresql+asyncpg")
    engine = create_async_engine(url, pool_size=1)
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        for index in range(iterations):
            key = {"key": f"sqlalchemy-{index}"}
            async with engine.begin() as connection:
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), key
                )
                await connection.execute(text(f"SELECT value FROM {TABLE} WHERE key = :key"), key)
                await connection.execute(text("SELECT 1"))
                await connection.execute(
                    text(f"INSERT INTO {TABLE} VALUES (:key, :value)"),
                    {**key, "value": b"x" * 200},
                )
        return time.perf_counter() - wall, time.process_time() - cpu
    finally:
        await engine.dispose()


def _run(
    factory: Callable[[], Coroutine[Any, Any, tuple[float, float]]], *, uv: bool
) -> tuple[float, float]:
    if uv:
        return uvloop.run(factory())
    return asyncio.run(factory())


def main(iterations: int) -> None:
    server_url = os.environ.get("TOKENMART_DATABASE_URL")
    postgres = None
    if not server_url:
        postgres = EmbeddedPostgres.start(Path(tempfile.mkdtemp(prefix="tokenmart-rt-")))
        server_url = postgres.admin_url
    database = f"tmb_round_trips_{secrets.token_hex(3)}"
    create_database(server_url, database)
    dsn = make_url(server_url).set(database=database).render_as_string(hide_password=False)
    try:
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(f"CREATE TABLE {TABLE} (key text PRIMARY KEY, value bytea)")
        print(f"one client, {iterations} transactions of 6 round trips each, loopback TCP")
        print(_row("psycopg 3, blocking (baseline)", *_psycopg(dsn, iterations), iterations))
        for name, uv in (("asyncpg on asyncio", False), ("asyncpg on uvloop", True)):
            factory = functools.partial(_asyncpg, dsn, iterations, name.replace(" ", "-"))
            result = _run(factory, uv=uv)
            print(_row(name, *result, iterations))
        result = _run(functools.partial(_sqlalchemy, dsn, iterations), uv=False)
        print(_row("SQLAlchemy async + asyncpg", *result, iterations))
    finally:
        drop_database(server_url, database, prefix=None)
        if postgres is not None:
            postgres.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=300)
    main(parser.parse_args().iterations)

"""Fixtures of the wallet tests: a world of real principals, and the ledger verified after every
test (THREATS.md: the invariants hold after every test)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.engine import make_url

from ops.database import (
    ServiceDatabase,
    create_database,
    drop_database,
    migrate,
    provision,
    role_names,
)
from tests.conftest import AuthServerHandle, WalletServerHandle
from tests.wallet.helpers import Rows, World, failures, world_for


@pytest.fixture
async def world(
    wallet_server: WalletServerHandle, auth_server: AuthServerHandle
) -> AsyncIterator[World]:
    async with world_for(wallet_server, auth_server) as connected:
        yield connected


@pytest.fixture
def rows(wallet_server: WalletServerHandle) -> Rows:
    return Rows(wallet_server.owner_url)


@pytest.fixture(autouse=True)
async def ledger_verified(
    wallet_server: WalletServerHandle, auth_server: AuthServerHandle
) -> AsyncIterator[None]:
    """Every wallet test ends with VerifyLedger ok over the whole shared ledger."""
    yield
    async with world_for(wallet_server, auth_server) as world:
        response = await world.verify()
    assert response.ok, failures(response)


@pytest.fixture
def fresh_wallet_database(server_admin_url: str) -> Iterator[ServiceDatabase]:
    """A database of its own with the wallet schema migrated: for tests that tamper with the
    ledger or move a ledger clock far ahead, so the shared ledger never sees their effects."""
    prefix = f"tmw_{secrets.token_hex(4)}"
    create_database(server_admin_url, prefix)
    admin = make_url(server_admin_url).set(database=prefix).render_as_string(hide_password=False)
    try:
        passwords = {role: secrets.token_urlsafe(16) for role in role_names(prefix)}
        databases = provision(admin, prefix=prefix, passwords=passwords)
        migrate(databases["wallet"])
        yield databases["wallet"]
    finally:
        drop_database(server_admin_url, prefix, prefix=prefix)


@pytest.fixture
def fresh_admin_url(server_admin_url: str, fresh_wallet_database: ServiceDatabase) -> str:
    """A superuser URL of the fresh database (for tests that act as an attacker with DBA rights)."""
    name = make_url(fresh_wallet_database.runtime_url).database
    return make_url(server_admin_url).set(database=name).render_as_string(hide_password=False)

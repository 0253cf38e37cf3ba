"""Fixtures of the provider tests: a lab over the shared servers, and the provider rows."""

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
from tests.conftest import AuthServerHandle, ProviderServerHandle, WalletServerHandle
from tests.provider.helpers import Lab, ProviderRows, lab_for


@pytest.fixture
async def lab(
    provider_server: ProviderServerHandle,
    auth_server: AuthServerHandle,
    wallet_server: WalletServerHandle,
) -> AsyncIterator[Lab]:
    async with lab_for(provider_server, auth_server, wallet_server) as connected:
        yield connected


@pytest.fixture
def rows(provider_server: ProviderServerHandle) -> ProviderRows:
    return ProviderRows(provider_server.owner_url)


@pytest.fixture
def fresh_databases(server_admin_url: str) -> Iterator[dict[str, ServiceDatabase]]:
    """A database of its own with every service schema migrated: for tests that change every
    row of a table (KEK rotation re-wraps every key of the schema), or that need a wallet
    where the session's agents have none."""
    prefix = f"tmp_{secrets.token_hex(4)}"
    create_database(server_admin_url, prefix)
    admin = make_url(server_admin_url).set(database=prefix).render_as_string(hide_password=False)
    try:
        passwords = {role: secrets.token_urlsafe(16) for role in role_names(prefix)}
        databases = provision(admin, prefix=prefix, passwords=passwords)
        for item in databases.values():
            migrate(item)
        yield databases
    finally:
        drop_database(server_admin_url, prefix, prefix=prefix)


@pytest.fixture
def fresh_provider_database(fresh_databases: dict[str, ServiceDatabase]) -> ServiceDatabase:
    return fresh_databases["provider"]

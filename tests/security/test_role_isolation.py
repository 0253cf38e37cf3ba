"""Each service's runtime role reaches only its own schema, and only as its migrations grant.

The database, not the code, makes "wallet alone changes balances" true (SPEC overview, M5).
Every statement runs as the runtime role over a real connection.
"""

from __future__ import annotations

import itertools

import psycopg
import pytest
from psycopg import errors

from ops.database import DOMAIN_SERVICES, ServiceDatabase

PAIRS = [(a, b) for a, b in itertools.permutations(DOMAIN_SERVICES, 2)]


def _connect(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True)


def _insert(schema: str) -> str:
    return (
        f"INSERT INTO {schema}.request_log (caller, method, request_id, request_digest, response) "
        "VALUES ('probe', 'Probe', md5(random()::text), sha256('x'), '')"
    )


@pytest.mark.parametrize(("service", "other"), PAIRS)
def test_a_runtime_role_cannot_read_or_write_another_services_schema(
    service: str, other: str, service_databases: dict[str, ServiceDatabase]
) -> None:
    with _connect(service_databases[service].runtime_url) as connection:
        for statement in (
            f"SELECT count(*) FROM {other}.request_log",
            _insert(other),
            f"UPDATE {other}.request_log SET response = ''",
            f"DELETE FROM {other}.request_log",
            f"CREATE TABLE {other}.planted (id int)",
        ):
            with pytest.raises(errors.InsufficientPrivilege):
                connection.execute(statement)


@pytest.mark.parametrize("service", DOMAIN_SERVICES)
def test_a_runtime_role_uses_its_own_schema_only_as_granted(
    service: str, service_databases: dict[str, ServiceDatabase]
) -> None:
    with _connect(service_databases[service].runtime_url) as connection:
        connection.execute(_insert(service))
        assert connection.execute(f"SELECT count(*) FROM {service}.request_log").fetchone()[0] >= 1
        # The replay log is insert-only, and the runtime role cannot change the schema.
        for statement in (
            f"UPDATE {service}.request_log SET response = ''",
            f"DELETE FROM {service}.request_log",
            f"CREATE TABLE {service}.planted (id int)",
            "CREATE TABLE public.planted (id int)",
            f"DROP TABLE {service}.request_log",
            f"ALTER TABLE {service}.request_log ADD COLUMN planted int",
        ):
            with pytest.raises((errors.InsufficientPrivilege, errors.InvalidSchemaName)):
                connection.execute(statement)


@pytest.mark.parametrize("service", DOMAIN_SERVICES)
def test_a_runtime_role_holds_no_dangerous_attributes(
    service: str, service_databases: dict[str, ServiceDatabase]
) -> None:
    item = service_databases[service]
    with _connect(item.runtime_url) as connection:
        row = connection.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolreplication "
            "FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert row == (False, False, False, False, False)
        # Not a member of any other role (in particular not of its schema owner).
        members = connection.execute(
            "SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member "
            "WHERE r.rolname = current_user"
        ).fetchone()[0]
        assert members == 0
        with pytest.raises(errors.InsufficientPrivilege):
            connection.execute(f"SET ROLE {item.owner_role}")


@pytest.mark.parametrize(("service", "other"), PAIRS)
def test_a_schema_owner_cannot_reach_another_services_schema(
    service: str, other: str, service_databases: dict[str, ServiceDatabase]
) -> None:
    with (
        _connect(service_databases[service].owner_url) as connection,
        pytest.raises(errors.InsufficientPrivilege),
    ):
        connection.execute(f"SELECT count(*) FROM {other}.request_log")

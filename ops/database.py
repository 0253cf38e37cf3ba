"""Provisioning and migrating the database: one schema and two roles per domain service.

For each of auth, wallet, provider and review:

* ``<prefix>_<svc>_owner`` owns schema ``<svc>`` and runs its Alembic migrations;
* ``<prefix>_<svc>`` is the runtime login role. It has USAGE on its own schema only, and the
  migrations grant it per table exactly the privileges the service needs.

PUBLIC loses every default right on the database and on the ``public`` schema, so a role can
reach nothing it was not explicitly given. The gateway has no role at all.

:func:`provision` needs a superuser (or CREATEROLE + database owner) connection, and is
idempotent: re-running resets passwords to the given ones and changes nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from psycopg import sql
from sqlalchemy.engine import URL, make_url

DOMAIN_SERVICES = ("auth", "wallet", "provider", "review")
REPO_ROOT = Path(__file__).resolve().parent.parent
_PREFIX = re.compile(r"^[a-z][a-z0-9_]{0,30}$")


@dataclass(frozen=True)
class ServiceDatabase:
    service: str
    schema: str
    owner_role: str
    runtime_role: str
    owner_url: str
    runtime_url: str


def _psycopg_dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _with_login(url: URL, *, user: str, password: str) -> str:
    return url.set(drivername="postgresql", username=user, password=password).render_as_string(
        hide_password=False
    )


def service_databases(
    admin_url: str, *, prefix: str, passwords: dict[str, str]
) -> dict[str, ServiceDatabase]:
    """The roles and URLs of every domain service (no database access)."""
    assert _PREFIX.match(prefix), prefix
    url = make_url(admin_url)
    result: dict[str, ServiceDatabase] = {}
    for service in DOMAIN_SERVICES:
        owner, runtime = f"{prefix}_{service}_owner", f"{prefix}_{service}"
        result[service] = ServiceDatabase(
            service=service,
            schema=service,
            owner_role=owner,
            runtime_role=runtime,
            owner_url=_with_login(url, user=owner, password=passwords[owner]),
            runtime_url=_with_login(url, user=runtime, password=passwords[runtime]),
        )
    return result


def role_names(prefix: str) -> list[str]:
    return [
        name for svc in DOMAIN_SERVICES for name in (f"{prefix}_{svc}_owner", f"{prefix}_{svc}")
    ]


def create_database(admin_url: str, database: str) -> None:
    """Create ``database`` on the server of ``admin_url`` unless it exists."""
    url = make_url(admin_url)
    with psycopg.connect(_psycopg_dsn(url), autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def drop_database(admin_url: str, database: str, *, prefix: str | None) -> None:
    """Drop ``database`` and, given a ``prefix``, its roles (tests clean up after themselves)."""
    url = make_url(admin_url)
    with psycopg.connect(_psycopg_dsn(url), autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
        )
        for role in role_names(prefix) if prefix else ():
            connection.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def provision(
    admin_url: str, *, prefix: str, passwords: dict[str, str]
) -> dict[str, ServiceDatabase]:
    """Create or update roles, schemas and baseline grants for every domain service."""
    databases = service_databases(admin_url, prefix=prefix, passwords=passwords)
    url = make_url(admin_url)
    database = url.database
    assert database, "the admin URL must name a database"
    with psycopg.connect(_psycopg_dsn(url), autocommit=True) as connection:
        ident = sql.Identifier
        # Nothing is reachable by default: not the database, not the public schema.
        connection.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(ident(database)))
        connection.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
        for item in databases.values():
            for role in (item.owner_role, item.runtime_role):
                exists = connection.execute(
                    "SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)
                ).fetchone()
                verb = "ALTER" if exists else "CREATE"
                connection.execute(
                    sql.SQL(
                        verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
                        "NOBYPASSRLS INHERIT CONNECTION LIMIT 200 PASSWORD {}"
                    ).format(ident(role), sql.Literal(passwords[role]))
                )
                connection.execute(
                    sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                        ident(database), ident(role)
                    )
                )
                connection.execute(
                    sql.SQL("ALTER ROLE {} IN DATABASE {} SET search_path = {}").format(
                        ident(role), ident(database), ident(item.schema)
                    )
                )
            connection.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(
                    ident(item.schema), ident(item.owner_role)
                )
            )
            connection.execute(
                sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(
                    ident(item.schema), ident(item.owner_role)
                )
            )
            connection.execute(
                sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(ident(item.schema))
            )
            connection.execute(
                sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
                    ident(item.schema), ident(item.runtime_role)
                )
            )
    return databases


def alembic_config(item: ServiceDatabase) -> Config:
    config = Config()
    config.set_main_option(
        "script_location", str(REPO_ROOT / "services" / item.service / "migrations")
    )
    owner = make_url(item.owner_url).set(drivername="postgresql+psycopg")
    # ConfigParser interpolation treats % specially; escape it.
    config.set_main_option(
        "sqlalchemy.url", owner.render_as_string(hide_password=False).replace("%", "%%")
    )
    config.attributes["runtime_role"] = item.runtime_role
    return config


def migrate(item: ServiceDatabase) -> None:
    """Bring the service's schema to the newest revision, as the schema owner."""
    command.upgrade(alembic_config(item), "head")


def check(item: ServiceDatabase) -> None:
    """Fail if the service's models and migrations have drifted apart."""
    command.check(alembic_config(item))


MIGRATE_LOCK_KEY = 0x746F6B656E6D7274
"""The advisory lock that serialises ``migrate_all`` runs on one database ("tokenmrt")."""


def migrate_all(
    admin_url: str, *, prefix: str, passwords: Mapping[str, str]
) -> dict[str, ServiceDatabase]:
    """Provision every domain service and migrate each schema to head, as one serialised run.

    A Kubernetes Job may start a second pod while the first still runs (a retry after a lost
    node, an overlapping rollout), and compose may be brought up twice: without the lock, two
    runs race on CREATE ROLE and on Alembic's version table. The lock is held on a connection of
    its own and released when it closes, even if this process dies.
    """
    url = make_url(admin_url)
    if not url.database:
        raise ValueError("the admin URL must name a database")
    with psycopg.connect(_psycopg_dsn(url), autocommit=True) as lock:
        lock.execute("SELECT pg_advisory_lock(%s)", (MIGRATE_LOCK_KEY,))
        databases = provision(admin_url, prefix=prefix, passwords=dict(passwords))
        for item in databases.values():
            migrate(item)
    return databases


def head_revision(item: ServiceDatabase) -> str | None:
    """The newest revision among the service's migrations (what ``migrate`` brings it to)."""
    return ScriptDirectory.from_config(alembic_config(item)).get_current_head()

"""The body of every service's Alembic ``env.py``.

Migrations run as the schema's owner role (never as the runtime role) and keep their version
table inside the service's own schema. Each migration grants the runtime role exactly the
privileges it needs on the objects it creates, through :func:`grant_runtime`.
"""

from __future__ import annotations

import re

from alembic import context, op
from sqlalchemy import MetaData, create_engine, pool

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
ALLOWED_PRIVILEGES = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE"})


def run_migrations(*, target_metadata: MetaData, schema: str) -> None:
    if context.is_offline_mode():
        raise SystemExit("offline migrations are not supported; run against a database")
    config = context.config
    url = config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url must be set by the caller"
    # The roles' search_path is their schema; override it so autogenerate compares the schema
    # by name (a default schema is reported as None and would never match the models).
    engine = create_engine(
        url, poolclass=pool.NullPool, connect_args={"options": "-c search_path=pg_catalog"}
    )
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table_schema=schema,
            include_schemas=True,
            include_name=lambda name, type_, _parent: type_ != "schema" or name == schema,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def runtime_role() -> str:
    """The runtime role of the service being migrated, as passed by the migration runner."""
    role = context.config.attributes.get("runtime_role")
    assert isinstance(role, str) and _IDENTIFIER.match(role), "runtime_role attribute missing"
    return role


def grant_runtime(*, schema: str, table: str, privileges: tuple[str, ...]) -> None:
    """Grant the runtime role ``privileges`` on ``schema.table`` and nothing else."""
    assert set(privileges) <= ALLOWED_PRIVILEGES, privileges
    assert _IDENTIFIER.match(schema)
    assert _IDENTIFIER.match(table)
    op.execute(f'GRANT {", ".join(privileges)} ON "{schema}"."{table}" TO "{runtime_role()}"')


def create_request_log(schema: str) -> None:
    """Create the shared ``request_log`` table (see :mod:`services.common.store`)."""
    import sqlalchemy as sa

    op.create_table(
        "request_log",
        sa.Column("caller", sa.Text(), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("request_id", sa.Text(), nullable=False),
        sa.Column("request_digest", sa.LargeBinary(), nullable=False),
        sa.Column("response", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "octet_length(request_digest) = 32", name=op.f("ck_request_log_digest_is_sha256")
        ),
        sa.CheckConstraint(
            "char_length(request_id) BETWEEN 1 AND 128",
            name=op.f("ck_request_log_request_id_length"),
        ),
        sa.PrimaryKeyConstraint("caller", "method", "request_id", name=op.f("pk_request_log")),
        schema=schema,
        comment="First answer to each mutating request, for replays. Insert-only.",
    )
    grant_runtime(schema=schema, table="request_log", privileges=("SELECT", "INSERT"))

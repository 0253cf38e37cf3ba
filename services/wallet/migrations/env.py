"""Alembic environment of the wallet schema (run by ``python -m ops migrate``)."""

from services.wallet.store.models import SCHEMA, metadata
from services.common.migrations import run_migrations

run_migrations(target_metadata=metadata, schema=SCHEMA)

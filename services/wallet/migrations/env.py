"""Alembic environment of the wallet schema (run by ``python -m ops migrate``)."""

from services.common.migrations import run_migrations
from services.wallet.store.models import SCHEMA, metadata

run_migrations(target_metadata=metadata, schema=SCHEMA)

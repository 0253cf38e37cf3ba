"""Alembic environment of the provider schema (run by ``python -m ops migrate``)."""

from services.common.migrations import run_migrations
from services.provider.store.models import SCHEMA, metadata

run_migrations(target_metadata=metadata, schema=SCHEMA)

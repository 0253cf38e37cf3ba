"""Alembic environment of the review schema (run by ``python -m ops migrate``)."""

from services.review.store.models import SCHEMA, metadata
from services.common.migrations import run_migrations

run_migrations(target_metadata=metadata, schema=SCHEMA)

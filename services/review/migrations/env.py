"""Alembic environment of the review schema (run by ``python -m ops migrate``)."""

from services.common.migrations import run_migrations
from services.review.store.models import SCHEMA, metadata

run_migrations(target_metadata=metadata, schema=SCHEMA)

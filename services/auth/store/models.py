"""The auth schema's tables. Alembic migrations must match these (checked in tests)."""

from __future__ import annotations

from services.common.db import service_metadata
from services.common.store import request_log_table

SCHEMA = "auth"
metadata = service_metadata(SCHEMA)
request_log = request_log_table(metadata)

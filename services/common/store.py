"""Tables every service's schema has, declared once and added to each service's metadata."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, DateTime, LargeBinary, MetaData, Table, Text, func


def request_log_table(metadata: MetaData) -> Table:
    """The replay log behind :mod:`services.common.idempotency` (insert-only at runtime)."""
    return Table(
        "request_log",
        metadata,
        Column("caller", Text, primary_key=True),
        Column("method", Text, primary_key=True),
        Column("request_id", Text, primary_key=True),
        Column("request_digest", LargeBinary, nullable=False),
        Column("response", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        CheckConstraint("octet_length(request_digest) = 32", name="digest_is_sha256"),
        CheckConstraint("char_length(request_id) BETWEEN 1 AND 128", name="request_id_length"),
        comment="First answer to each mutating request, for replays. Insert-only.",
    )

"""Baseline of the auth schema: the request replay log.

Revision ID: auth_0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

from services.common.migrations import create_request_log

revision = "auth_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_request_log("auth")


def downgrade() -> None:
    op.drop_table("request_log", schema="auth")

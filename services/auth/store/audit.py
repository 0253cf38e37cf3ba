"""The audit log: insert and list (the runtime role can do nothing else to it)."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.domain.audit import Actor, AuditEvent, EventType, Outcome, RequestFacts
from services.auth.store import models


async def insert_event(tx: AsyncSession, event: AuditEvent) -> None:
    tx.add(
        models.AuditEvent(
            id=event.id,
            event_type=event.event_type.value,
            outcome=event.outcome.value,
            failure_reason=event.failure_reason,
            occurred_at=event.occurred_at,
            actor_account_id=event.actor.account_id,
            actor_agent_id=event.actor.agent_id,
            actor_key_id=event.actor.key_id,
            actor_service=event.actor.service,
            subject_account_id=event.subject_account_id,
            subject_agent_id=event.subject_agent_id,
            subject_key_id=event.subject_key_id,
            subject_session_id=event.subject_session_id,
            client_ip=event.request.client_ip,
            user_agent=event.request.user_agent,
            request_id=event.request.request_id,
            details=dict(event.details),
        )
    )
    await tx.flush()


@dataclass(frozen=True)
class EventFilter:
    account_id: uuid.UUID | None = None
    agent_id: uuid.UUID | None = None
    key_id: uuid.UUID | None = None
    event_types: Collection[EventType] = ()
    since: datetime.datetime | None = None
    until: datetime.datetime | None = None


async def list_events(
    tx: AsyncSession,
    *,
    where: EventFilter,
    after: tuple[datetime.datetime, uuid.UUID] | None,
    limit: int,
) -> list[AuditEvent]:
    """Newest first (occurred_at descending, then id descending)."""
    table = models.AuditEvent
    query = select(table)
    if where.account_id is not None:
        query = query.where(
            or_(
                table.actor_account_id == where.account_id,
                table.subject_account_id == where.account_id,
            )
        )
    if where.agent_id is not None:
        query = query.where(
            or_(table.actor_agent_id == where.agent_id, table.subject_agent_id == where.agent_id)
        )
    if where.key_id is not None:
        query = query.where(
            or_(table.actor_key_id == where.key_id, table.subject_key_id == where.key_id)
        )
    if where.event_types:
        query = query.where(table.event_type.in_([event.value for event in where.event_types]))
    if where.since is not None:
        query = query.where(table.occurred_at >= where.since)
    if where.until is not None:
        query = query.where(table.occurred_at < where.until)
    if after is not None:
        query = query.where(tuple_(table.occurred_at, table.id) < after)
    query = query.order_by(table.occurred_at.desc(), table.id.desc()).limit(limit)
    return [
        AuditEvent(
            id=row.id,
            event_type=EventType(row.event_type),
            outcome=Outcome(row.outcome),
            failure_reason=row.failure_reason,
            occurred_at=row.occurred_at,
            actor=Actor(
                account_id=row.actor_account_id,
                agent_id=row.actor_agent_id,
                key_id=row.actor_key_id,
                service=row.actor_service,
            ),
            subject_account_id=row.subject_account_id,
            subject_agent_id=row.subject_agent_id,
            subject_key_id=row.subject_key_id,
            subject_session_id=row.subject_session_id,
            request=RequestFacts(
                client_ip=str(row.client_ip) if row.client_ip is not None else None,
                user_agent=row.user_agent,
                request_id=row.request_id,
            ),
            details=row.details,
        )
        for row in (await tx.execute(query)).scalars()
    ]

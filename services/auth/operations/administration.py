"""Operator surfaces: ListAuditEvents, RotateSigningKey and ResealSigningKeys."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.auth import errors
from services.auth.domain import validation
from services.auth.domain.audit import AuditEvent, EventType
from services.auth.domain.principal import Scope
from services.auth.domain.signing_keys import ACTIVATE_AFTER_MAX
from services.auth.operations.access import require
from services.auth.operations.common import checked, decode_position, next_page_token, page_size
from services.auth.operations.keyring import Reseal, Rotation, RotationNotAllowed
from services.auth.operations.runtime import Caller, Runtime, record
from services.auth.store import audit as store


@dataclass(frozen=True)
class EventPage:
    events: list[AuditEvent]
    next_page_token: str


async def list_audit_events(
    tx: AsyncSession,
    runtime: Runtime,
    caller: Caller,
    *,
    requested_page_size: int,
    page_token: str,
    account_id: str,
    agent_id: str,
    key_id: str,
    event_types: frozenset[EventType],
    since: datetime.datetime | None,
    until: datetime.datetime | None,
) -> EventPage:
    require(caller, Scope.ADMIN, Scope.OPERATOR)
    if since is not None and until is not None and since > until:
        raise errors.TimeRangeInvalid()
    size = page_size(requested_page_size)

    def optional(raw: str, field: str) -> uuid.UUID | None:
        return checked(lambda: validation.optional_uuid_field(raw, field=field))

    where = store.EventFilter(
        account_id=optional(account_id, "account_id"),
        agent_id=optional(agent_id, "agent_id"),
        key_id=optional(key_id, "key_id"),
        event_types=event_types,
        since=since,
        until=until,
    )
    filters = {
        "account": account_id,
        "agent": agent_id,
        "key": key_id,
        "types": sorted(event.value for event in event_types),
        "since": since.isoformat() if since else "",
        "until": until.isoformat() if until else "",
    }
    after = decode_position(runtime, page_token, list_name="audit", filters=filters)
    rows = await store.list_events(tx, where=where, after=after, limit=size + 1)
    return EventPage(
        events=rows[:size],
        next_page_token=next_page_token(
            runtime,
            rows,
            page_size=size,
            list_name="audit",
            filters=filters,
            position=lambda event: (event.occurred_at, event.id),
        ),
    )


async def rotate_signing_key(
    tx: AsyncSession,
    runtime: Runtime,
    caller: Caller,
    *,
    compromised: bool,
    activate_after: datetime.timedelta | None,
) -> Rotation:
    require(caller, Scope.OPERATOR)
    if activate_after is None:
        # Twice the verifiers' cache time: every verifier has fetched the key before it signs.
        activate_after = datetime.timedelta(
            seconds=2 * runtime.settings.tokens.public_keys_refresh_s
        )
    elif not datetime.timedelta(0) <= activate_after <= ACTIVATE_AFTER_MAX:
        raise errors.ActivateAfterInvalid()
    try:
        rotation = await runtime.keyring.rotate(
            tx, compromised=compromised, activate_after=activate_after
        )
    except RotationNotAllowed:
        raise errors.RotationInProgress() from None
    await record(
        tx,
        runtime,
        EventType.SIGNING_KEY_ROTATED,
        actor=caller.actor,
        details={
            "new_key_id": rotation.new_key.key_id,
            "previous_key_id": rotation.previous_key.key_id,
            "compromised": compromised,
            "activates_at": rotation.activates_at.isoformat(),
        },
    )
    return rotation


async def reseal_signing_keys(tx: AsyncSession, runtime: Runtime, caller: Caller) -> Reseal:
    require(caller, Scope.OPERATOR)
    reseal = await runtime.keyring.reseal(tx)
    await record(
        tx,
        runtime,
        EventType.SIGNING_KEYS_RESEALED,
        actor=caller.actor,
        # Counts and key ids only: never a KEK, a nonce or a sealed or opened key.
        details={
            "resealed": len(reseal.resealed),
            "already_current": reseal.already_current,
            "failed": len(reseal.failed),
            "resealed_key_ids": list(reseal.resealed),
            "failed_key_ids": list(reseal.failed),
        },
    )
    return reseal

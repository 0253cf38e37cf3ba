"""Reading the generation log, and the operator's settlement levers.

A generation is visible to the agent that made it (any of its credentials, or a session acting as
it), to sessions of the account that owned the agent at request time, to admins and to ctl;
to everyone else it does not exist (one answer for "absent" and "not yours").
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.errors import TokenMartError
from services.common.tokens import Scope
from services.provider import errors
from services.provider.domain import pagination
from services.provider.domain.generations import Generation
from services.provider.domain.validation import Invalid, canonical_uuid, generation_id
from services.provider.operations import settlement
from services.provider.operations.access import Caller
from services.provider.operations.runtime import Runtime
from services.provider.store import generations as store

SETTLE_DEFAULT_LIMIT = 100
SETTLE_MAX_LIMIT = 1000
GENERATION_IN_PROGRESS = "GENERATION_IN_PROGRESS"


def _invalid(invalid: Invalid) -> TokenMartError:
    return errors.from_invalid(invalid.reason, invalid.message, invalid.metadata)


def _visible(caller: Caller, generation: Generation) -> bool:
    if caller.is_privileged:
        return True
    if caller.agent_uuid is not None and caller.agent_uuid == generation.agent_id:
        return True
    return (
        caller.principal.is_account
        and caller.account_uuid is not None
        and caller.account_uuid == generation.owner_account_id
    )


async def get_generation(tx: AsyncConnection, caller: Caller, *, raw_id: str) -> Generation:
    caller.require(Scope.AGENT_READ, Scope.ACCOUNT, Scope.ADMIN, Scope.OPERATOR)
    try:
        wanted = generation_id(raw_id)
    except Invalid as invalid:
        raise _invalid(invalid) from None
    generation = await store.generation_by_id(tx, wanted)
    if generation is None or not _visible(caller, generation):
        raise errors.GenerationNotFound()
    return generation


async def key_usage(
    tx: AsyncConnection,
    runtime: Runtime,
    caller: Caller,
    *,
    key_id: str,
    since: datetime.datetime | None,
) -> store.KeyUsage:
    caller.require(Scope.AGENT_READ, Scope.KEYS_MANAGE, Scope.ACCOUNT)
    try:
        key = canonical_uuid(key_id, reason="KEY_ID_INVALID", field="key_id")
    except Invalid as invalid:
        raise _invalid(invalid) from None
    if since is not None and since > runtime.now():
        raise errors.TimeRangeInvalid()
    account = caller.account_uuid if caller.principal.is_account else None
    if caller.agent_uuid is None and account is None:
        return store.KeyUsage(0, 0, 0, 0, 0, 0, None)
    return await store.key_usage(
        tx, key_id=key, agent_id=caller.agent_uuid, owner_account_id=account, since=since
    )


@dataclass(frozen=True)
class UnsettledPage:
    generations: list[Generation]
    next_page_token: str
    total: int


async def list_unsettled(
    tx: AsyncConnection,
    runtime: Runtime,
    caller: Caller,
    *,
    requested_page_size: int,
    page_token: str,
    older_than: datetime.timedelta | None,
) -> UnsettledPage:
    caller.require(Scope.OPERATOR)
    if older_than is not None and older_than < datetime.timedelta(0):
        raise errors.OlderThanInvalid()
    try:
        size = pagination.page_size(requested_page_size)
        filters = {"older_than_s": older_than.total_seconds() if older_than else -1.0}
        position = runtime.page_tokens.decode(
            page_token, list_name="unsettled", filters=filters, width=2
        )
    except Invalid as invalid:
        raise _invalid(invalid) from None
    after = (
        (datetime.datetime.fromisoformat(position[0]), uuid.UUID(position[1])) if position else None
    )
    rows, total = await store.unsettled_page(
        tx,
        created_before=runtime.now() - older_than if older_than is not None else None,
        after=after,
        limit=size + 1,
    )
    next_token = ""
    if len(rows) > size:
        rows = rows[:size]
        last = rows[-1]
        next_token = runtime.page_tokens.encode(
            list_name="unsettled",
            filters=filters,
            position=(last.created_at.isoformat(), str(last.id)),
        )
    return UnsettledPage(generations=rows, next_page_token=next_token, total=total)


@dataclass(frozen=True)
class Outcome:
    generation_id: uuid.UUID
    generation: Generation | None
    """The generation after the attempt; None when it was left alone."""
    error_reason: str


async def _current(runtime: Runtime, wanted: uuid.UUID) -> Generation | None:
    async def read(tx: AsyncConnection) -> Generation | None:
        return await store.generation_by_id(tx, wanted)

    return await runtime.database.run(read)


async def settle_pending(
    runtime: Runtime, caller: Caller, *, generation_ids: list[str], limit: int
) -> tuple[list[Outcome], int]:
    """Settle the named generations (or every due one) now; (outcomes, still unsettled)."""
    caller.require(Scope.OPERATOR)
    if limit < 0:
        raise errors.LimitInvalid()
    bound = min(limit or SETTLE_DEFAULT_LIMIT, SETTLE_MAX_LIMIT)
    try:
        wanted = [
            canonical_uuid(raw, reason="GENERATION_ID_INVALID", field="generation_ids")
            for raw in generation_ids
        ]
    except Invalid as invalid:
        raise _invalid(invalid) from None
    outcomes: list[Outcome] = []
    if wanted:
        busy = await runtime.database.run(
            lambda tx: store.in_progress_elsewhere(
                tx,
                wanted,
                orphan_after_s=runtime.settings.settlement.orphan_after_s,
                stuck_before=settlement.stuck_before(runtime),
            )
        )
        outcomes.extend(
            Outcome(generation_id=item, generation=None, error_reason=GENERATION_IN_PROGRESS)
            for item in wanted
            if item in busy
        )
        wanted = [item for item in wanted if item not in busy]
    if wanted or not generation_ids:
        settled = await settlement.redrive(
            runtime, limit=bound, generation_ids=wanted or None, force=True
        )
        outcomes.extend(
            Outcome(
                generation_id=item.id,
                generation=item,
                error_reason=(item.last_settlement_error or "") if item.settled_at is None else "",
            )
            for item in settled
        )
        # Named generations that were not pending: report where they stand, repeat nothing.
        attempted = {item.id for item in settled}
        for item in wanted:
            if item in attempted:
                continue
            current = await _current(runtime, item)
            outcomes.append(
                Outcome(
                    generation_id=item,
                    generation=current,
                    error_reason="" if current is not None else errors.GenerationNotFound.reason,
                )
            )
    remaining = await runtime.database.run(store.count_unsettled)
    return outcomes, remaining

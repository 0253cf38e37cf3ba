"""Queries on ``provider.generations`` and ``provider.instances``.

Settlement work is claimed, not locked across remote calls: :func:`claim_due` marks the
generations it hands out with a short lease (``next_settlement_at`` moved into the future) in one
statement that skips rows other replicas hold, and commits; the wallet call happens after; the
result is written with a conditional update that only a still-pending generation accepts. Two
replicas therefore never settle the same generation at the same time, and if they ever did
(a lease that ran out), wallet's idempotent transfer ids make the second attempt a replay.

Liveness uses the database's clock (``now()``) for every process, so replicas with skewed
clocks agree on which process is dead.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Table, and_, bindparam, func, or_, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.provider.domain.billing import KeySource, Prices, Usage, UsageSource
from services.provider.domain.generations import Generation, GenerationStatus, SettlementStatus
from services.provider.domain.registry import UpstreamProvider
from services.provider.domain.requests import Dialect
from services.provider.store.models import GenerationRow, InstanceRow

generations: Table = GenerationRow.__table__  # type: ignore[assignment]
instances: Table = InstanceRow.__table__  # type: ignore[assignment]


def _generation(row: Row[Any]) -> Generation:
    usage = (
        Usage(
            input_tokens=row.input_tokens,
            output_tokens=row.output_tokens,
            cached_input_tokens=row.cached_input_tokens,
        )
        if row.input_tokens is not None
        else None
    )
    return Generation(
        id=row.id,
        request_id=row.request_id,
        caller=row.caller,
        agent_id=row.agent_id,
        key_id=row.key_id,
        owner_account_id=row.owner_account_id,
        dialect=Dialect(row.dialect),
        streamed=row.streamed,
        model_requested=row.model_requested,
        model_served=row.model_served,
        provider=UpstreamProvider(row.provider),
        upstream_model=row.upstream_model,
        key_source=KeySource(row.key_source),
        provider_key_id=row.provider_key_id,
        upstream_attempts=row.upstream_attempts,
        prices=Prices(input_micros=row.input_price_micros, output_micros=row.output_price_micros),
        fee_bps=row.fee_bps,
        estimate_input_tokens=row.estimate_input_tokens,
        max_output_tokens=row.max_output_tokens,
        hold_id=row.hold_id,
        held_micros=row.held_micros,
        status=GenerationStatus(row.status),
        error_reason=row.error_reason,
        upstream_status=row.upstream_status,
        usage=usage,
        usage_source=UsageSource(row.usage_source) if row.usage_source else None,
        price_micros=row.price_micros,
        charge_micros=row.charge_micros,
        charged_micros=row.charged_micros,
        shortfall_micros=row.shortfall_micros,
        settlement_status=SettlementStatus(row.settlement_status),
        settlement_attempts=row.settlement_attempts,
        last_settlement_error=row.last_settlement_error,
        next_settlement_at=row.next_settlement_at,
        instance_id=row.instance_id,
        created_at=row.created_at,
        first_token_at=row.first_token_at,
        finished_at=row.finished_at,
        settled_at=row.settled_at,
    )


@dataclass(frozen=True)
class NewGeneration:
    """The record written before anything is held or called."""

    id: uuid.UUID
    request_id: str
    caller: str
    agent_id: uuid.UUID
    key_id: uuid.UUID
    owner_account_id: uuid.UUID | None
    dialect: Dialect
    streamed: bool
    model_requested: str
    provider: UpstreamProvider
    upstream_model: str
    key_source: KeySource
    provider_key_id: uuid.UUID | None
    prices: Prices
    fee_bps: int
    estimate_input_tokens: int
    max_output_tokens: int
    hold_id: uuid.UUID | None
    held_micros: int
    instance_id: uuid.UUID
    created_at: datetime.datetime


_INSERT_COLUMNS = (
    "id",
    "request_id",
    "caller",
    "agent_id",
    "key_id",
    "owner_account_id",
    "dialect",
    "streamed",
    "model_requested",
    "model_served",
    "provider",
    "upstream_model",
    "key_source",
    "provider_key_id",
    "upstream_attempts",
    "input_price_micros",
    "output_price_micros",
    "fee_bps",
    "estimate_input_tokens",
    "max_output_tokens",
    "hold_id",
    "held_micros",
    "status",
    "upstream_status",
    "price_micros",
    "charge_micros",
    "charged_micros",
    "shortfall_micros",
    "settlement_status",
    "settlement_attempts",
    "instance_id",
    "created_at",
)
# The serving path's statements are built once, with bound parameters: building a 30-column
# statement per request costs more CPU than executing it.
_INSERT = (
    insert(generations)
    .values({name: bindparam(name) for name in _INSERT_COLUMNS})
    .on_conflict_do_nothing(index_elements=[generations.c.caller, generations.c.request_id])
    .returning(*generations.c)
)


async def insert_generation(tx: AsyncConnection, new: NewGeneration) -> Generation | None:
    """Insert the record; None when (caller, request_id) already named a generation."""
    parameters = {
        "id": new.id,
        "request_id": new.request_id,
        "caller": new.caller,
        "agent_id": new.agent_id,
        "key_id": new.key_id,
        "owner_account_id": new.owner_account_id,
        "dialect": new.dialect.value,
        "streamed": new.streamed,
        "model_requested": new.model_requested,
        "model_served": "",
        "provider": new.provider.value,
        "upstream_model": new.upstream_model,
        "key_source": new.key_source.value,
        "provider_key_id": new.provider_key_id,
        "upstream_attempts": 1,
        "input_price_micros": new.prices.input_micros,
        "output_price_micros": new.prices.output_micros,
        "fee_bps": new.fee_bps,
        "estimate_input_tokens": new.estimate_input_tokens,
        "max_output_tokens": new.max_output_tokens,
        "hold_id": new.hold_id,
        "held_micros": new.held_micros,
        "status": GenerationStatus.IN_PROGRESS.value,
        "upstream_status": 0,
        "price_micros": 0,
        "charge_micros": 0,
        "charged_micros": 0,
        "shortfall_micros": 0,
        "settlement_status": (
            SettlementStatus.PENDING if new.held_micros else SettlementStatus.NOT_REQUIRED
        ).value,
        "settlement_attempts": 0,
        "instance_id": new.instance_id,
        "created_at": new.created_at,
    }
    row = (await tx.execute(_INSERT, parameters)).first()
    return _generation(row) if row is not None else None


async def generation_id_for(tx: AsyncConnection, *, caller: str, request_id: str) -> uuid.UUID:
    row = (
        await tx.execute(
            select(generations.c.id).where(
                generations.c.caller == caller, generations.c.request_id == request_id
            )
        )
    ).one()
    generation_id: uuid.UUID = row.id
    return generation_id


_BY_ID = select(generations).where(generations.c.id == bindparam("p_id"))


async def generation_by_id(tx: AsyncConnection, generation_id: uuid.UUID) -> Generation | None:
    row = (await tx.execute(_BY_ID, {"p_id": generation_id})).first()
    return _generation(row) if row is not None else None


async def drop_hold(
    tx: AsyncConnection,
    generation_id: uuid.UUID,
    *,
    error_reason: str,
    upstream_status: int,
    now: datetime.datetime,
) -> Generation:
    """Nothing is held (the hold was refused or never placed): the request failed, and there
    is nothing to settle."""
    statement = (
        update(generations)
        .where(generations.c.id == generation_id, generations.c.status == "in_progress")
        .values(
            hold_id=None,
            held_micros=0,
            status=GenerationStatus.FAILED.value,
            error_reason=error_reason,
            upstream_status=upstream_status,
            settlement_status=SettlementStatus.NOT_REQUIRED.value,
            finished_at=now,
        )
        .returning(*generations.c)
    )
    return _still_ours((await tx.execute(statement)).first(), generation_id)


async def next_attempt(
    tx: AsyncConnection,
    generation_id: uuid.UUID,
    *,
    attempt: int,
    key_source: KeySource,
    provider_key_id: uuid.UUID | None,
    hold_id: uuid.UUID | None,
    held_micros: int,
) -> Generation:
    """Switch to the next key after the previous one's hold was released."""
    statement = (
        update(generations)
        .where(generations.c.id == generation_id, generations.c.status == "in_progress")
        .values(
            upstream_attempts=attempt,
            key_source=key_source.value,
            provider_key_id=provider_key_id,
            hold_id=hold_id,
            held_micros=held_micros,
            settlement_status=(
                SettlementStatus.PENDING if held_micros else SettlementStatus.NOT_REQUIRED
            ).value,
        )
        .returning(*generations.c)
    )
    return _still_ours((await tx.execute(statement)).first(), generation_id)


class GenerationTakenOver(Exception):
    """Another process settled this generation as orphaned while it was still being served
    (this process's heartbeat stalled for longer than ``ORPHAN_AFTER_S``)."""


def _still_ours(row: Row[Any] | None, generation_id: uuid.UUID) -> Generation:
    if row is None:
        raise GenerationTakenOver(str(generation_id))
    return _generation(row)


@dataclass(frozen=True)
class Outcome:
    """How a request ended, recorded before anything is captured."""

    status: GenerationStatus
    error_reason: str | None
    upstream_status: int
    usage: Usage | None
    usage_source: UsageSource | None
    price_micros: int
    charge_micros: int
    model_served: str
    first_token_at: datetime.datetime | None
    finished_at: datetime.datetime

    def __post_init__(self) -> None:
        assert self.status is not GenerationStatus.IN_PROGRESS
        assert (self.usage is None) == (self.usage_source is None)


_OUTCOME_COLUMNS = (
    "status",
    "error_reason",
    "upstream_status",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "usage_source",
    "price_micros",
    "charge_micros",
    "model_served",
    "first_token_at",
    "finished_at",
)
_RECORD_OUTCOME = (
    update(generations)
    .where(generations.c.id == bindparam("p_id"), generations.c.status == "in_progress")
    .values({name: bindparam(f"p_{name}") for name in (*_OUTCOME_COLUMNS, "next_settlement_at")})
    .returning(*generations.c)
)


def _outcome_parameters(outcome: Outcome) -> dict[str, Any]:
    usage = outcome.usage
    return {
        "p_status": outcome.status.value,
        "p_error_reason": outcome.error_reason,
        "p_upstream_status": outcome.upstream_status,
        "p_input_tokens": usage.input_tokens if usage else None,
        "p_output_tokens": usage.output_tokens if usage else None,
        "p_cached_input_tokens": usage.cached_input_tokens if usage else None,
        "p_usage_source": outcome.usage_source.value if outcome.usage_source else None,
        "p_price_micros": outcome.price_micros,
        "p_charge_micros": outcome.charge_micros,
        "p_model_served": outcome.model_served,
        "p_first_token_at": outcome.first_token_at,
        "p_finished_at": outcome.finished_at,
    }


async def record_outcome(
    tx: AsyncConnection,
    generation_id: uuid.UUID,
    outcome: Outcome,
    *,
    settle_after: datetime.datetime,
) -> Generation:
    parameters = {
        "p_id": generation_id,
        "p_next_settlement_at": settle_after,
        **_outcome_parameters(outcome),
    }
    row = (await tx.execute(_RECORD_OUTCOME, parameters)).first()
    if row is not None:
        return _generation(row)
    # Settled meanwhile as orphaned by another process (its hold captured): keep that record.
    taken = await generation_by_id(tx, generation_id)
    assert taken is not None and taken.finished
    return taken


_SETTLED_VALUES = {
    "settlement_status": SettlementStatus.SETTLED.value,
    "charged_micros": bindparam("p_charged_micros"),
    "shortfall_micros": bindparam("p_shortfall_micros"),
    "settled_at": bindparam("p_settled_at"),
    "settlement_attempts": generations.c.settlement_attempts + 1,
    "last_settlement_error": None,
}
_RECORD_SETTLED = (
    update(generations)
    .where(
        generations.c.id == bindparam("p_id"),
        generations.c.settlement_status == SettlementStatus.PENDING.value,
    )
    .values(_SETTLED_VALUES)
    .returning(*generations.c)
)
_RECORD_ORPHAN_SETTLED = (
    update(generations)
    .where(
        generations.c.id == bindparam("p_id"),
        generations.c.settlement_status == SettlementStatus.PENDING.value,
        generations.c.status == "in_progress",
    )
    .values(
        {
            **_SETTLED_VALUES,
            **{name: bindparam(f"p_{name}") for name in _OUTCOME_COLUMNS},
            "next_settlement_at": bindparam("p_settled_at"),
        }
    )
    .returning(*generations.c)
)


async def record_settled(
    tx: AsyncConnection,
    generation_id: uuid.UUID,
    *,
    charged_micros: int,
    shortfall_micros: int,
    now: datetime.datetime,
    orphan_outcome: Outcome | None,
) -> Generation | None:
    """Mark a pending generation settled; None when it was not pending any more.

    ``orphan_outcome`` also records how a request whose process died is taken to have ended.
    """
    parameters: dict[str, Any] = {
        "p_id": generation_id,
        "p_charged_micros": charged_micros,
        "p_shortfall_micros": shortfall_micros,
        "p_settled_at": now,
    }
    statement = _RECORD_SETTLED
    if orphan_outcome is not None:
        parameters.update(_outcome_parameters(orphan_outcome))
        statement = _RECORD_ORPHAN_SETTLED
    row = (await tx.execute(statement, parameters)).first()
    return _generation(row) if row is not None else None


async def record_settlement_failure(
    tx: AsyncConnection,
    generation_id: uuid.UUID,
    *,
    error_reason: str,
    retry_at: datetime.datetime,
) -> None:
    await tx.execute(
        update(generations)
        .where(
            generations.c.id == generation_id,
            generations.c.settlement_status == SettlementStatus.PENDING.value,
        )
        .values(
            settlement_attempts=generations.c.settlement_attempts + 1,
            last_settlement_error=error_reason,
            next_settlement_at=retry_at,
        )
    )


def _live_instances(orphan_after_s: float) -> Any:
    return select(instances.c.id).where(
        instances.c.stopped_at.is_(None),
        instances.c.heartbeat_at
        >= func.now() - text(f"interval '{float(orphan_after_s)} seconds'"),
    )


async def claim_due(
    tx: AsyncConnection,
    *,
    now: datetime.datetime,
    lease_until: datetime.datetime,
    limit: int,
    orphan_after_s: float,
    stuck_before: datetime.datetime,
    generation_ids: list[uuid.UUID] | None = None,
    force: bool = False,
) -> list[Generation]:
    """Pending generations ready to settle, leased to the caller until ``lease_until``.

    Ready: finished and due (``next_settlement_at`` passed, or any time with ``force``), or still
    in progress under a process that stopped beating, or for longer than any request may last
    (its outcome will never be recorded).
    """
    ready = or_(
        generations.c.status != "in_progress",
        generations.c.instance_id.not_in(_live_instances(orphan_after_s)),
        generations.c.created_at < stuck_before,
    )
    candidates = select(generations.c.id).where(
        generations.c.settlement_status == SettlementStatus.PENDING.value, ready
    )
    if not force:
        candidates = candidates.where(
            or_(
                generations.c.next_settlement_at.is_(None),
                generations.c.next_settlement_at <= now,
            )
        )
    if generation_ids is not None:
        candidates = candidates.where(generations.c.id.in_(generation_ids))
    candidates = (
        candidates.order_by(generations.c.created_at, generations.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(generations)
        .where(generations.c.id.in_(candidates.scalar_subquery()))
        .values(next_settlement_at=lease_until)
        .returning(*generations.c)
    )
    rows = (await tx.execute(statement)).all()
    claimed = [_generation(row) for row in rows]
    return sorted(claimed, key=lambda item: (item.created_at, item.id))


async def close_abandoned(
    tx: AsyncConnection,
    *,
    now: datetime.datetime,
    orphan_after_s: float,
    stuck_before: datetime.datetime,
    limit: int,
) -> int:
    """End the log entries of unbilled requests whose process died (BYOK at a zero fee: no
    hold, nothing to settle), so the log never shows them running forever."""
    candidates = (
        select(generations.c.id)
        .where(
            generations.c.status == GenerationStatus.IN_PROGRESS.value,
            generations.c.settlement_status == SettlementStatus.NOT_REQUIRED.value,
            or_(
                generations.c.instance_id.not_in(_live_instances(orphan_after_s)),
                generations.c.created_at < stuck_before,
            ),
        )
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    result = await tx.execute(
        update(generations)
        .where(generations.c.id.in_(candidates.scalar_subquery()))
        .values(
            status=GenerationStatus.INCOMPLETE.value,
            error_reason="OUTCOME_UNKNOWN",
            finished_at=now,
        )
    )
    return int(result.rowcount or 0)


async def in_progress_elsewhere(
    tx: AsyncConnection,
    generation_ids: list[uuid.UUID],
    *,
    orphan_after_s: float,
    stuck_before: datetime.datetime,
) -> set[uuid.UUID]:
    """Which of these pending generations a live process is still serving."""
    if not generation_ids:
        return set()
    query = select(generations.c.id).where(
        generations.c.id.in_(generation_ids),
        generations.c.settlement_status == SettlementStatus.PENDING.value,
        generations.c.status == "in_progress",
        generations.c.instance_id.in_(_live_instances(orphan_after_s)),
        generations.c.created_at >= stuck_before,
    )
    return {row.id for row in (await tx.execute(query)).all()}


async def unsettled_page(
    tx: AsyncConnection,
    *,
    created_before: datetime.datetime | None,
    after: tuple[datetime.datetime, uuid.UUID] | None,
    limit: int,
) -> tuple[list[Generation], int]:
    """A page of pending generations, oldest first, and how many are pending in all."""
    pending = generations.c.settlement_status == SettlementStatus.PENDING.value
    query = (
        select(generations)
        .where(pending)
        .order_by(generations.c.created_at, generations.c.id)
        .limit(limit)
    )
    if created_before is not None:
        query = query.where(generations.c.created_at <= created_before)
    if after is not None:
        query = query.where(
            tuple_(generations.c.created_at, generations.c.id) > tuple_(after[0], after[1])
        )
    rows = [_generation(row) for row in (await tx.execute(query)).all()]
    total = (await tx.execute(select(func.count()).where(pending))).scalar_one()
    return rows, int(total)


async def count_unsettled(tx: AsyncConnection) -> int:
    query = select(func.count()).where(
        generations.c.settlement_status == SettlementStatus.PENDING.value
    )
    return int((await tx.execute(query)).scalar_one())


@dataclass(frozen=True)
class KeyUsage:
    requests: int
    succeeded: int
    failed: int
    input_tokens: int
    output_tokens: int
    charged_micros: int
    last_generation_at: datetime.datetime | None


async def key_usage(
    tx: AsyncConnection,
    *,
    key_id: uuid.UUID,
    agent_id: uuid.UUID | None,
    owner_account_id: uuid.UUID | None,
    since: datetime.datetime | None,
) -> KeyUsage:
    """Totals of one key's generations made by ``agent_id`` or by agents of the account."""
    owners = []
    if agent_id is not None:
        owners.append(generations.c.agent_id == agent_id)
    if owner_account_id is not None:
        owners.append(generations.c.owner_account_id == owner_account_id)
    assert owners
    query = select(
        func.count(),
        func.count().filter(generations.c.status == "succeeded"),
        func.count().filter(generations.c.status.in_(("failed", "cancelled", "incomplete"))),
        func.coalesce(func.sum(generations.c.input_tokens), 0),
        func.coalesce(func.sum(generations.c.output_tokens), 0),
        func.coalesce(func.sum(generations.c.charged_micros), 0),
        func.max(generations.c.created_at),
    ).where(generations.c.key_id == key_id, or_(*owners))
    if since is not None:
        query = query.where(generations.c.created_at >= since)
    row = (await tx.execute(query)).one()
    return KeyUsage(
        requests=int(row[0]),
        succeeded=int(row[1]),
        failed=int(row[2]),
        input_tokens=int(row[3]),
        output_tokens=int(row[4]),
        charged_micros=int(row[5]),
        last_generation_at=row[6],
    )


# -- instances ----------------------------------------------------------------------------------


async def register_instance(tx: AsyncConnection, instance_id: uuid.UUID) -> None:
    await tx.execute(
        instances.insert().values(id=instance_id, started_at=func.now(), heartbeat_at=func.now())
    )


async def heartbeat(tx: AsyncConnection, instance_id: uuid.UUID) -> None:
    await tx.execute(
        update(instances)
        .where(instances.c.id == instance_id, instances.c.stopped_at.is_(None))
        .values(heartbeat_at=func.greatest(func.now(), instances.c.started_at))
    )


async def stop_instance(tx: AsyncConnection, instance_id: uuid.UUID) -> None:
    await tx.execute(
        update(instances)
        .where(and_(instances.c.id == instance_id, instances.c.stopped_at.is_(None)))
        .values(stopped_at=func.now())
    )

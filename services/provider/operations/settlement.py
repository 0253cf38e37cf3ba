"""Settling generations with wallet, and the re-driver that makes settlement unskippable.

:func:`settle` performs one attempt for one generation: it posts the recorded charge (or the
whole hold when the outcome was never recorded), or voids the hold when the charge is zero, with
transfer ids derived from the generation id, and records the result. Wallet being unreachable is
recorded as a failed attempt with a back-off; nothing is lost.

The serving process settles each request as soon as it ends. Whatever it could not settle (wallet
down, the process killed, the client gone mid-stream) is found by :class:`Redriver`, which runs in
every provider process: each interval it claims due generations (see
``store/generations.claim_due``) and settles them, so every generation is settled exactly once
(by generation id), whichever process gets to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import uuid
from dataclasses import dataclass

from services.provider.clients.wallet import Settled, SettlementUnavailable
from services.provider.domain.billing import Usage, UsageSource, price_micros
from services.provider.domain.generations import (
    Generation,
    GenerationStatus,
    SettlementPlan,
    derived_id,
    post_transfer_id,
    settlement_plan,
    void_transfer_id,
)
from services.provider.operations.runtime import Runtime
from services.provider.store import generations as store

logger = logging.getLogger("tokenmart.provider.settlement")

OUTCOME_UNKNOWN = "OUTCOME_UNKNOWN"
"""error_reason of a generation whose process died before recording how it ended."""
BACKOFF_BASE_S = 1.0
BACKOFF_EXPONENT_MAX = 20


def retry_delay_s(attempts: int, ceiling_s: float) -> float:
    """Exponential back-off after ``attempts`` failed attempts, capped at ``ceiling_s``."""
    return float(min(ceiling_s, BACKOFF_BASE_S * 2 ** min(attempts, BACKOFF_EXPONENT_MAX)))


async def _call_wallet(runtime: Runtime, generation: Generation, plan: SettlementPlan) -> Settled:
    assert generation.hold_id is not None
    hold = generation.hold_id
    if plan.is_void:
        return await runtime.wallet.void_hold(
            hold_id=hold,
            void_transfer_id=void_transfer_id(hold, generation.id),
            request_id=derived_id(generation.id, f"void-request|{hold}"),
        )
    return await runtime.wallet.post_hold(
        hold_id=hold,
        post_transfer_id=post_transfer_id(generation),
        request_id=derived_id(generation.id, f"post-request|{hold}"),
        amount_micros=plan.amount_micros,
    )


def _orphan_outcome(
    generation: Generation, settled: Settled, now: datetime.datetime
) -> store.Outcome:
    """How a generation whose process died is recorded: upstream may have answered, usage is
    unknown, and the hold was captured; or, when the hold was never placed, upstream was never
    called (it is called only after the hold) and nothing was charged."""
    if settled.hold_missing:
        return store.Outcome(
            status=GenerationStatus.FAILED,
            error_reason=OUTCOME_UNKNOWN,
            upstream_status=0,
            usage=None,
            usage_source=None,
            price_micros=0,
            charge_micros=0,
            model_served="",
            first_token_at=None,
            finished_at=now,
        )
    usage = Usage(
        input_tokens=generation.estimate_input_tokens,
        output_tokens=generation.max_output_tokens,
    )
    return store.Outcome(
        status=GenerationStatus.INCOMPLETE,
        error_reason=OUTCOME_UNKNOWN,
        upstream_status=0,
        usage=usage,
        usage_source=UsageSource.HOLD_CAPTURED,
        price_micros=price_micros(usage, generation.prices),
        charge_micros=generation.held_micros,
        model_served="",
        first_token_at=None,
        finished_at=now,
    )


async def settle(runtime: Runtime, generation: Generation) -> Generation:
    """One settlement attempt; returns the generation as it stands afterwards."""
    plan = settlement_plan(generation)
    if plan is None:
        return generation
    try:
        settled = await _call_wallet(runtime, generation, plan)
    except SettlementUnavailable as unavailable:
        await _defer(runtime, generation, unavailable.reason)
        refreshed = await runtime.database.run(lambda tx: store.generation_by_id(tx, generation.id))
        assert refreshed is not None
        return refreshed
    now = runtime.now()
    orphan = _orphan_outcome(generation, settled, now) if plan.capture_unknown else None
    shortfall = settled.shortfall_micros
    if settled.hold_missing and not plan.capture_unknown:
        # The charge had no hold to come from: record it as debt, never as free output.
        shortfall = max(shortfall, plan.amount_micros - settled.charged_micros)
    recorded = await runtime.database.run_statement(
        lambda tx: store.record_settled(
            tx,
            generation.id,
            charged_micros=settled.charged_micros,
            shortfall_micros=shortfall,
            now=now,
            orphan_outcome=orphan,
        )
    )
    if recorded is None:  # settled meanwhile by another attempt (same transfer ids: same result)
        current = await runtime.database.run(lambda tx: store.generation_by_id(tx, generation.id))
        assert current is not None
        return current
    if shortfall:
        logger.warning(
            "settlement left a shortfall",
            extra={"generation_id": str(generation.id), "shortfall_micros": shortfall},
        )
    return recorded


async def _defer(runtime: Runtime, generation: Generation, reason: str) -> None:
    """Record a failed attempt; the re-driver tries again after an exponential back-off."""
    delay = retry_delay_s(generation.settlement_attempts, runtime.settings.settlement.retry_max_s)
    retry_at = runtime.now() + datetime.timedelta(seconds=delay)
    logger.warning(
        "settlement deferred",
        extra={"generation_id": str(generation.id), "reason": reason, "retry_in_s": delay},
    )
    error_reason = _reason_text(reason)
    await runtime.database.run_statement(
        lambda tx: store.record_settlement_failure(
            tx, generation.id, error_reason=error_reason, retry_at=retry_at
        )
    )


def stuck_before(runtime: Runtime) -> datetime.datetime:
    """A generation still in progress that started before this has outlived every deadline:
    its serving process lost it (a bug), so it is settled as if that process had died."""
    http = runtime.settings.http
    longest_s = max(http.stream_max_duration_s, http.response_timeout_s) + 60.0
    return runtime.now() - datetime.timedelta(seconds=longest_s)


def _reason_text(reason: str) -> str:
    """An UPPER_SNAKE reason for the record (wallet's reason, or the gRPC code's name)."""
    cleaned = "".join(char if char.isalnum() else "_" for char in reason.upper())[:64]
    return cleaned if cleaned and cleaned[0].isalpha() else "WALLET_UNAVAILABLE"


@dataclass(frozen=True)
class Redriven:
    generation: Generation
    in_progress: bool = False


async def redrive(
    runtime: Runtime,
    *,
    limit: int,
    generation_ids: list[uuid.UUID] | None = None,
    force: bool = False,
) -> list[Generation]:
    """Claim up to ``limit`` due generations and settle each once."""
    settings = runtime.settings.settlement
    now = runtime.now()
    lease = now + datetime.timedelta(seconds=max(30.0, settings.grace_s))
    claimed = await runtime.database.run(
        lambda tx: store.claim_due(
            tx,
            now=now,
            lease_until=lease,
            limit=limit,
            orphan_after_s=settings.orphan_after_s,
            stuck_before=stuck_before(runtime),
            generation_ids=generation_ids,
            force=force,
        )
    )
    results = []
    for generation in claimed:
        results.append(await settle(runtime, generation))
    return results


class Redriver:
    """The per-process loops: this process's heartbeat, and the settlement re-drive."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        runtime = self._runtime
        await runtime.database.run(lambda tx: store.register_instance(tx, runtime.instance_id))
        self._tasks = [
            asyncio.create_task(
                self._loop(self._beat, runtime.settings.settlement.heartbeat_interval_s)
            ),
            asyncio.create_task(self._loop(self._drive, runtime.settings.settlement.interval_s)),
        ]

    async def stop(self) -> None:
        self._stopping.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        runtime = self._runtime
        with contextlib.suppress(Exception):
            await runtime.database.run(lambda tx: store.stop_instance(tx, runtime.instance_id))

    async def _loop(self, step: object, interval_s: float) -> None:
        assert callable(step)
        while not self._stopping.is_set():
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("background step failed; retrying next interval")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval_s):
                    await self._stopping.wait()

    async def _beat(self) -> None:
        runtime = self._runtime
        await runtime.database.run_statement(lambda tx: store.heartbeat(tx, runtime.instance_id))

    async def _drive(self) -> None:
        runtime = self._runtime
        batch = runtime.settings.settlement.batch_size
        while not self._stopping.is_set():
            settled = await redrive(runtime, limit=batch)
            if len(settled) < batch:
                break
        now = runtime.now()
        await runtime.database.run(
            lambda tx: store.close_abandoned(
                tx,
                now=now,
                orphan_after_s=runtime.settings.settlement.orphan_after_s,
                stuck_before=stuck_before(runtime),
                limit=batch,
            )
        )

"""The background worker: everything review does without being asked, one bounded pass at a time.

Each pass, in this order (every step handles at most ``WORKER_BATCH_SIZE`` rows, each row in its
own short transaction, so one bad row never blocks the rest):

1. **mirror** the agents that changed in auth since the last sync (``ListAgents``, resuming a
   little before the last change seen, since a transaction can commit after a later-stamped one;
   upserts never go back to an older version), at most every ``AGENT_SYNC_INTERVAL_S``;
2. **close** bounties whose deadline passed: unsubmitted claims expire, unused slots are refunded;
3. **replace** reviewers past their due time, and **staff** claims still short of reviewers;
4. **dispatch** payouts that are due (new ones, and retries whose backoff has run out).

The worker runs in every replica: each step locks what it changes, and dispatch is idempotent,
so two passes at once do no harm. :meth:`Worker.run_pass` is what tests drive directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from services.common.errors import Unavailable
from services.review.domain.model import ClaimStatus, ReviewStatus
from services.review.operations import assignment, bounties
from services.review.operations.dispatch import Dispatched, Dispatcher
from services.review.operations.runtime import Runtime
from services.review.store import agents as agent_store
from services.review.store import bounties as bounty_store
from services.review.store import claims as claim_store

logger = logging.getLogger("tokenmart.review.worker")

SYNC_OVERLAP = datetime.timedelta(seconds=30)
SYNC_PAGE_SIZE = 200
SYNC_PAGES_MAX = 50
"""Pages per sync pass (10,000 agents); the next pass continues where this one stopped."""


@dataclass
class PassReport:
    agents_synced: int = 0
    bounties_closed: int = 0
    reviews_replaced: int = 0
    claims_staffed: int = 0
    payouts: list[Dispatched] = field(default_factory=list)


class Worker:
    def __init__(
        self,
        runtime: Runtime,
        dispatcher: Dispatcher,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.runtime = runtime
        self.dispatcher = dispatcher
        self._monotonic = monotonic
        self._last_sync: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def start(self) -> None:
        assert self._task is None
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _loop(self) -> None:
        interval = self.runtime.settings.worker.interval_s
        while not self._stopping.is_set():
            try:
                await self.run_pass()
            except Exception:
                logger.exception("a worker pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), interval)

    async def run_pass(self, *, sync_agents: bool | None = None) -> PassReport:
        """One pass of every step; ``sync_agents`` forces (or skips) the mirror sync."""
        report = PassReport()
        limit = self.runtime.settings.worker.batch_size
        due = self._last_sync is None or (
            self._monotonic() - self._last_sync
            >= self.runtime.settings.worker.agent_sync_interval_s
        )
        if sync_agents if sync_agents is not None else due:
            report.agents_synced = await self._step("sync agents", self.sync_agents)
        report.bounties_closed = await self._step(
            "close bounties", lambda: self.close_bounties(limit)
        )
        report.reviews_replaced = await self._step(
            "replace overdue reviews", lambda: self.replace_overdue(limit)
        )
        report.claims_staffed = await self._step("staff claims", lambda: self.staff_claims(limit))
        try:
            report.payouts = await self.dispatcher.dispatch_due(limit=limit)
        except Exception:
            logger.exception("worker step failed", extra={"step": "dispatch payouts"})
        return report

    async def _step(self, name: str, step: Callable[[], Awaitable[int]]) -> int:
        try:
            return await step()
        except Unavailable as error:
            # Expected while a dependency restarts: the next pass retries; no traceback.
            logger.warning("worker step skipped", extra={"step": name, "reason": error.reason})
            return 0
        except Exception:
            logger.exception("worker step failed", extra={"step": name})
            return 0

    # -- steps ---------------------------------------------------------------------------------

    async def sync_agents(self) -> int:
        database = self.runtime.database
        async with database.transaction() as tx:
            cursor = await agent_store.sync_cursor(tx, agent_store.AGENT_SYNC)
        after = cursor - SYNC_OVERLAP if cursor is not None else None
        page_token = ""
        synced = 0
        newest = cursor
        for _ in range(SYNC_PAGES_MAX):
            page = await self.runtime.auth.changes(
                updated_after=after, page_token=page_token, page_size=SYNC_PAGE_SIZE
            )
            if page.agents:
                async with database.transaction() as tx:
                    await agent_store.upsert(tx, page.agents, now=self.runtime.now())
                synced += len(page.agents)
                latest = max(agent.updated_at for agent in page.agents)
                newest = latest if newest is None else max(newest, latest)
            if not page.next_page_token:
                break
            page_token = page.next_page_token
        async with database.transaction() as tx:
            await agent_store.save_sync_cursor(
                tx, agent_store.AGENT_SYNC, cursor=newest, now=self.runtime.now()
            )
        self._last_sync = self._monotonic()
        return synced

    async def close_bounties(self, limit: int) -> int:
        async with self.runtime.database.transaction() as tx:
            due = await bounty_store.past_deadline(tx, now=self.runtime.now(), limit=limit)
        closed = 0
        for bounty_id in due:
            async with self.runtime.database.transaction() as tx:
                refund = await bounties.close_bounty(tx, self.runtime, bounty_id)
                closed += 1
            if refund is not None:
                self.runtime.kicks.written(refund.id)
        return closed

    async def replace_overdue(self, limit: int) -> int:
        now = self.runtime.now()
        async with self.runtime.database.transaction() as tx:
            claim_ids = await claim_store.overdue_claims(tx, now=now, limit=limit)
        replaced = 0
        for claim_id in claim_ids:
            replaced += await self._replace_on(claim_id)
        return replaced

    async def _replace_on(self, claim_id: uuid.UUID) -> int:
        async with self.runtime.database.transaction() as tx:
            claim = await claim_store.claim_by_id(tx, claim_id, lock=True)
            if claim is None or claim.status is not ClaimStatus.SUBMITTED:
                return 0
            bounty = await bounty_store.bounty_by_id(tx, claim.bounty_id)
            assert bounty is not None
            now = self.runtime.now()
            reviews = (await claim_store.reviews_of(tx, [claim.id]))[claim.id]
            overdue = [
                item.id
                for item in reviews
                if item.status is ReviewStatus.ASSIGNED and item.due_at <= now
            ]
            return await assignment.replace_reviews(
                tx,
                self.runtime,
                claim=claim,
                bounty=bounty,
                review_ids=overdue,
                status=ReviewStatus.REPLACED,
                now=now,
            )

    async def staff_claims(self, limit: int) -> int:
        async with self.runtime.database.transaction() as tx:
            claim_ids = await claim_store.awaiting_reviewers(tx, limit=limit)
        staffed = 0
        for claim_id in claim_ids:
            async with self.runtime.database.transaction() as tx:
                claim = await claim_store.claim_by_id(tx, claim_id, lock=True)
                if claim is None or not claim.awaiting_reviewers:
                    continue
                bounty = await bounty_store.bounty_by_id(tx, claim.bounty_id)
                assert bounty is not None
                staffed += await assignment.staff(
                    tx, self.runtime, claim=claim, bounty=bounty, now=self.runtime.now()
                )
        return staffed

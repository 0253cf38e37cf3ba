"""The hold sweeper: voids holds past their timeout, inside every wallet process.

Every ``SWEEP_INTERVAL_S`` it runs up to ``SWEEP_MAX_BATCHES`` transactions, each voiding up to
``SWEEP_BATCH_SIZE`` expired holds (``operations.holds.expire_due``), until a transaction finds
fewer than a full batch. Replicas sweep concurrently without coordination: each hold row is
claimed with ``FOR UPDATE SKIP LOCKED`` and its void transfer ids are derived from the hold, so a
hold is voided once whoever gets there first. A failing sweep is logged and retried on the next
tick; it never stops the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from services.wallet.operations import holds
from services.wallet.operations.runtime import Runtime

logger = logging.getLogger("tokenmart.wallet.sweeper")


class Sweeper:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._task: asyncio.Task[None] | None = None

    async def sweep(self) -> int:
        """One sweep: void every hold due now (bounded); how many were voided."""
        settings = self.runtime.settings.sweeper
        voided = 0
        for _ in range(settings.max_batches):
            count = await self.runtime.database.run(
                lambda connection: holds.expire_due(
                    connection, self.runtime, limit=settings.batch_size
                )
            )
            voided += count
            if count < settings.batch_size:
                break
        if voided:
            logger.info("expired holds voided", extra={"holds": voided})
        return voided

    async def _run(self) -> None:
        interval_s = self.runtime.settings.sweeper.interval_s
        while True:
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("sweeping expired holds failed")
            await asyncio.sleep(interval_s)

    def start(self) -> None:
        assert self._task is None, "started twice"
        self._task = asyncio.create_task(self._run(), name="wallet-hold-sweeper")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

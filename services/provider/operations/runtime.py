"""Everything an operation needs, built once per process and passed down explicitly."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from services.common.tokens import AccessTokenVerifier
from services.provider.clients.wallet import WalletClient
from services.provider.domain.envelope import Envelope
from services.provider.domain.pagination import PageTokens
from services.provider.settings import ProviderSettings
from services.provider.store.database import Database
from services.provider.upstream.adapters import Upstreams

logger = logging.getLogger("tokenmart.provider.runtime")

Clock = Callable[[], datetime.datetime]
"""Returns the current time, timezone-aware UTC. Rules read time from here (liveness of other
processes excepted: that uses the database's clock, see ``store/generations.py``)."""

T = TypeVar("T")


def system_clock() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class BackgroundTasks:
    """Tasks that must finish even when the RPC that started them is cancelled.

    Inference work and its settlement run here, not in the RPC's own task, so a client that goes
    away cancels only its wait: the request is still recorded and billed. At shutdown
    :meth:`drain` waits for them (bounded); whatever does not finish is settled by the re-driver
    of another (or the next) process.
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coroutine: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # Errors that reached here were already answered to the caller (or nobody waited);
            # retrieving them keeps asyncio from reporting "exception was never retrieved".
            logger.debug("background task ended with an error", exc_info=task.exception())

    def __len__(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout_s: float) -> None:
        if not self._tasks:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
        for task in list(self._tasks):
            task.cancel()


@dataclass(frozen=True)
class Runtime:
    settings: ProviderSettings
    database: Database
    envelope: Envelope
    page_tokens: PageTokens
    digest_key: bytes
    """HMAC key for request digests of secret-bearing requests (never the secret itself)."""
    verifier: AccessTokenVerifier
    wallet: WalletClient
    upstreams: Upstreams
    clock: Clock
    instance_id: uuid.UUID
    tasks: BackgroundTasks

    def now(self) -> datetime.datetime:
        now = self.clock()
        assert now.tzinfo is not None, "the clock must be timezone-aware"
        return now

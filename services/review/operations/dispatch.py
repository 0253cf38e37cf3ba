"""The payout dispatcher: sends outbox entries to wallet, exactly once by construction.

An entry and its batch were written in the transaction that decided what is owed (a claim's
finalization, a bounty's cancellation or closing). Sending one:

1. **lease** it (one UPDATE): pending and due, or anything undelivered when an operator forces
   it; the lease pushes its next attempt past the lease time so other dispatchers skip it;
2. check that every agent it pays is still active, from auth (a suspended agent never earns:
   the entry waits, retrying, until the agent is reactivated);
3. send the whole batch as ONE linked ``CreateEscrowTransfers`` call with review's service token
   and the batch's derived transfer ids;
4. record the verdict (``domain.outbox``): delivered (and, under the bounty's lock, complete the
   bounty if nothing else is owed), or retry later with backoff, or stuck.

A crash anywhere in between is harmless: the entry stays pending, its lease runs out, and the
next attempt sends the same transfer ids, which wallet answers with EXISTS for anything it has
already applied. Nothing here can pay twice, so the dispatcher may run in every replica.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import grpc
from sqlalchemy.ext.asyncio import AsyncSession
from tokenmart.wallet.v1 import wallet_pb2

from services.common.errors import TokenMartError
from services.common.status import error_reason
from services.review import errors
from services.review.domain import outbox as rules
from services.review.domain.model import (
    BountyStatus,
    OutboxEntry,
    OutboxStatus,
    PayoutTransfer,
    Recipient,
    TransferCode,
)
from services.review.operations.runtime import Runtime
from services.review.store import bounties as bounty_store
from services.review.store import outbox as store

logger = logging.getLogger("tokenmart.review.dispatch")

_CODES = {
    TransferCode.BOUNTY_REWARD: wallet_pb2.TRANSFER_CODE_BOUNTY_REWARD,
    TransferCode.REVIEW_REWARD: wallet_pb2.TRANSFER_CODE_REVIEW_REWARD,
    TransferCode.REFUND: wallet_pb2.TRANSFER_CODE_REFUND,
}
_MEMOS = {
    TransferCode.BOUNTY_REWARD: "bounty reward",
    TransferCode.REVIEW_REWARD: "review reward",
    TransferCode.REFUND: "bounty escrow refund",
}
_ESCROW = wallet_pb2.AccountRef(system_account=wallet_pb2.ACCOUNT_KIND_BOUNTY_ESCROW)
_TREASURY = wallet_pb2.AccountRef(system_account=wallet_pb2.ACCOUNT_KIND_TREASURY)


@dataclass(frozen=True)
class Dispatched:
    entry_id: uuid.UUID
    status: OutboxStatus
    error_reason: str | None


def batch(entry: OutboxEntry) -> list[wallet_pb2.TransferInput]:
    """The entry's transfers as one linked chain (every transfer but the last is linked)."""
    reference = str(entry.claim_id or entry.bounty_id)
    last = len(entry.transfers) - 1
    return [
        wallet_pb2.TransferInput(
            transfer_id=str(item.transfer_id),
            debit=_ESCROW,
            credit=(
                wallet_pb2.AccountRef(agent_id=str(item.agent_id))
                if item.recipient is Recipient.AGENT
                else _TREASURY
            ),
            amount_micros=item.amount_micros,
            code=_CODES[item.code],
            reference=reference,
            memo=_MEMOS[item.code],
            linked=position < last,
        )
        for position, item in enumerate(entry.transfers)
    ]


class Dispatcher:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._tasks: set[asyncio.Task[Dispatched | None]] = set()

    # -- entry points --------------------------------------------------------------------------

    def kick(self, entry_id: uuid.UUID) -> None:
        """Send ``entry_id`` soon, in the background (after the transaction that wrote it)."""
        task = asyncio.get_running_loop().create_task(self._kicked(entry_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def dispatch_due(self, *, limit: int) -> list[Dispatched]:
        async with self.runtime.database.transaction() as tx:
            entry_ids = await store.due(tx, now=self.runtime.now(), limit=limit)
        results = [await self.dispatch(entry_id, force=False) for entry_id in entry_ids]
        return [result for result in results if result is not None]

    async def redrive(self, entry_ids: Sequence[uuid.UUID], *, limit: int) -> list[Dispatched]:
        """Force-send named entries, or every undelivered entry, oldest first, up to limit."""
        if not entry_ids:
            async with self.runtime.database.transaction() as tx:
                entry_ids = await store.undelivered(tx, limit=limit)
        outcomes: list[Dispatched] = []
        for entry_id in entry_ids[:limit]:
            result = await self.dispatch(entry_id, force=True)
            if result is None:
                # Delivered already: nothing to send, and that is its outcome.
                result = Dispatched(
                    entry_id=entry_id, status=OutboxStatus.DELIVERED, error_reason=None
                )
            outcomes.append(result)
        return outcomes

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def settle(self) -> None:
        """Wait for the kicked dispatches in flight (tests, and an orderly shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- one entry -----------------------------------------------------------------------------

    async def dispatch(self, entry_id: uuid.UUID, *, force: bool) -> Dispatched | None:
        """Send one entry now if it is due (or ``force``); None when there was nothing to do."""
        now = self.runtime.now()
        settings = self.runtime.settings.worker
        async with self.runtime.database.transaction() as tx:
            entry = await store.lease(
                tx,
                entry_id,
                now=now,
                lease_until=now + datetime.timedelta(seconds=settings.outbox_lease_s),
                force=force,
            )
        if entry is None:
            return None
        verdict = await self._send(entry)
        return await self._record(entry, verdict)

    async def _kicked(self, entry_id: uuid.UUID) -> Dispatched | None:
        try:
            return await self.dispatch(entry_id, force=False)
        except Exception:
            logger.exception("dispatching a payout failed", extra={"entry_id": str(entry_id)})
            return None

    async def _send(self, entry: OutboxEntry) -> rules.Verdict:
        try:
            suspended = await self._suspended_recipients(entry.transfers)
            if suspended:
                return rules.failure("RECIPIENT_SUSPENDED")
            outcomes = await self.runtime.wallet.escrow_transfers(batch(entry))
        except errors.WalletUnavailable:
            return rules.failure("WALLET_UNAVAILABLE")
        except errors.AuthUnavailable:
            return rules.failure("AUTH_UNAVAILABLE")
        except TokenMartError as error:
            return rules.failure(error.reason)
        except grpc.aio.AioRpcError as error:
            # Wallet refused the call as a whole (for example a malformed batch): not retryable.
            return rules.failure(error_reason(error) or error.code().name)
        by_id = {outcome.transfer_id: outcome.result for outcome in outcomes}
        expected = [str(item.transfer_id) for item in entry.transfers]
        if sorted(by_id) != sorted(expected):
            return rules.failure("WALLET_ANSWER_MISMATCH")
        return rules.read_results([by_id[transfer_id] for transfer_id in expected])

    async def _suspended_recipients(self, transfers: Sequence[PayoutTransfer]) -> list[uuid.UUID]:
        agents = sorted({item.agent_id for item in transfers if item.agent_id is not None})
        suspended = []
        for agent_id in agents:
            facts = await self.runtime.auth.agent(agent_id)
            if facts is None or not facts.active or not facts.claimed:
                suspended.append(agent_id)
        return suspended

    async def _record(self, entry: OutboxEntry, verdict: rules.Verdict) -> Dispatched:
        now = self.runtime.now()
        settings = self.runtime.settings.worker
        if verdict.delivered:
            async with self.runtime.database.transaction() as tx:
                await _deliver(tx, entry, now=now)
            logger.info("payout delivered", extra={"entry_id": str(entry.id)})
            return Dispatched(entry_id=entry.id, status=OutboxStatus.DELIVERED, error_reason=None)
        assert verdict.reason is not None
        # The lease counted this attempt; entry.attempts is the count after it.
        stuck = not verdict.retryable or entry.attempts >= settings.outbox_max_attempts
        next_attempt = now + rules.backoff(
            attempts=max(entry.attempts, 1),
            base_s=settings.outbox_backoff_base_s,
            max_s=settings.outbox_backoff_max_s,
        )
        async with self.runtime.database.transaction() as tx:
            await store.mark_failed(
                tx,
                entry.id,
                reason=verdict.reason,
                stuck=stuck,
                next_attempt_at=now if stuck else next_attempt,
                now=now,
            )
        log = logger.error if stuck else logger.warning
        log(
            "payout not delivered",
            extra={"entry_id": str(entry.id), "reason": verdict.reason, "stuck": stuck},
        )
        status = OutboxStatus.STUCK if stuck else OutboxStatus.PENDING
        return Dispatched(entry_id=entry.id, status=status, error_reason=verdict.reason)


async def _deliver(tx: AsyncSession, entry: OutboxEntry, *, now: datetime.datetime) -> None:
    # The bounty's lock serializes this with every transaction that writes an entry for it, so
    # "nothing owed and nothing undelivered" is true when the bounty is marked completed.
    bounty = await bounty_store.bounty_by_id(tx, entry.bounty_id, lock=True)
    assert bounty is not None
    await store.mark_delivered(tx, entry.id, now=now)
    if (
        bounty.status in (BountyStatus.FILLED, BountyStatus.CLOSED)
        and bounty.escrow_outstanding_micros == 0
        and await store.undelivered_of(tx, bounty.id) == 0
    ):
        await bounty_store.update_bounty(
            tx,
            bounty.id,
            status=BountyStatus.COMPLETED.value,
            completed_at=now,
            updated_at=now,
        )

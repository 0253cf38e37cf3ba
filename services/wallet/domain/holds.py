"""Holds: two-phase reservations for one inference request (SPEC §3 "hold → call → capture").

A hold is a linked pair of pending transfers: the agent's wallet to provider revenue and, when
the key has a credit limit, the key's budget to the key-budget source. Ids of everything a hold
creates are derived from the caller's ids (UUIDv5, namespace = the caller's id), so a settlement
re-driven after a crash writes nothing twice.

Settlement (PostHold): up to the held amount is posted from the hold and the rest of the hold
returns; cost beyond the hold is charged as linked single-phase transfers bounded by what the
wallet and key budget can still pay; what is left is the shortfall, which provider records as
debt. A hold past its expiry is never posted (TigerBeetle): it is voided and the whole cost is
charged as overage.
"""

from __future__ import annotations

import datetime
import enum
import uuid
from dataclasses import dataclass

from services.wallet.domain.ledger import HOLD_TIMEOUT_MAX_S, TransferCode

HOLD_CODES = frozenset({TransferCode.INFERENCE, TransferCode.PLATFORM_FEE})


class HoldStatus(enum.StrEnum):
    PENDING = "pending"
    POSTED = "posted"
    VOIDED = "voided"
    EXPIRED = "expired"


def budget_transfer_id(hold_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(hold_id, "key-budget")


def allocation_transfer_id(hold_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(hold_id, "key-budget-allocation")


def budget_side(transfer_id: uuid.UUID) -> uuid.UUID:
    """The budget-side twin of a wallet-side post or void."""
    return uuid.uuid5(transfer_id, "key-budget")


def overage_transfer_id(post_transfer_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(post_transfer_id, "overage")


def overage_budget_transfer_id(post_transfer_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(post_transfer_id, "overage-key-budget")


def expiry_transfer_id(hold_id: uuid.UUID) -> uuid.UUID:
    """The void wallet writes itself when a hold expires (sweeper or a late PostHold)."""
    return uuid.uuid5(hold_id, "expiry")


def timeout_valid(timeout_s: int) -> bool:
    return 1 <= timeout_s <= HOLD_TIMEOUT_MAX_S


@dataclass(frozen=True)
class Hold:
    id: uuid.UUID
    agent_id: uuid.UUID
    wallet_account_id: uuid.UUID
    key_id: uuid.UUID | None
    budget_account_id: uuid.UUID | None
    budget_transfer_id: uuid.UUID | None
    created_by_subject: str
    amount: int
    code: TransferCode
    reference: str
    timeout_s: int
    status: HoldStatus
    created_at: datetime.datetime
    expires_at: datetime.datetime
    resolved_at: datetime.datetime | None
    posted_micros: int
    overage_micros: int
    shortfall_micros: int
    post_transfer_id: uuid.UUID | None
    void_transfer_id: uuid.UUID | None

    def __post_init__(self) -> None:
        assert self.code in HOLD_CODES and timeout_valid(self.timeout_s)
        assert self.expires_at == self.created_at + datetime.timedelta(seconds=self.timeout_s)
        assert (self.budget_account_id is None) == (self.budget_transfer_id is None)
        assert (self.status is HoldStatus.PENDING) == (self.resolved_at is None)
        assert (self.status is HoldStatus.POSTED) == (self.posted_micros > 0)
        assert 0 <= self.posted_micros <= self.amount
        assert self.post_transfer_id is not None or (
            self.posted_micros == self.overage_micros == self.shortfall_micros == 0
        )

    @property
    def has_budget(self) -> bool:
        return self.budget_account_id is not None

    @property
    def cost_micros(self) -> int:
        """What its settlement asked to charge (captured + overage + shortfall)."""
        return self.posted_micros + self.overage_micros + self.shortfall_micros

    def expired_at(self, now: datetime.datetime) -> bool:
        return now >= self.expires_at


@dataclass(frozen=True)
class Settlement:
    captured: int
    """Posted from the hold."""
    overage: int
    """Charged beyond the hold (or, after expiry, instead of it)."""
    shortfall: int
    """Could not be charged at all."""

    def __post_init__(self) -> None:
        assert min(self.captured, self.overage, self.shortfall) >= 0


def settle(
    *,
    cost: int,
    held: int,
    expired: bool,
    wallet_available: int,
    budget_available: int | None,
) -> Settlement:
    """Split ``cost`` into captured, overage and shortfall.

    ``wallet_available`` / ``budget_available`` are what each side can spend once the hold is
    released (its pending amount returned), before anything is posted.
    """
    assert cost >= 1 and held >= 1
    captured = 0 if expired else min(cost, held)
    extra = cost - captured
    room = wallet_available - captured
    if budget_available is not None:
        room = min(room, budget_available - captured)
    overage = max(0, min(extra, room))
    settlement = Settlement(captured=captured, overage=overage, shortfall=extra - overage)
    assert settlement.captured + settlement.overage + settlement.shortfall == cost
    return settlement


def allocation_delta(*, limit_micros: int, allocated_micros: int, available_micros: int) -> int:
    """How much to allocate to a key budget (> 0) or return from it (< 0) so that it enforces
    ``limit_micros`` from now on.

    ``allocated_micros`` is the budget's net allocation so far (credits allocated minus
    allocations returned); its spend is ``allocated - available``. Raising the limit adds the
    difference. Lowering it returns at most what is still available, so the net allocation never
    drops below what was already spent (or is held): the budget then has nothing left, and a
    later raise is measured from there, which keeps ``available = limit - spend`` whenever the
    limit covers the spend.
    """
    assert limit_micros >= 0 and allocated_micros >= 0 and available_micros >= 0
    delta = limit_micros - allocated_micros
    if delta >= 0:
        return delta
    return -min(-delta, available_micros)

"""The generation record: one inference request's log entry and its settlement state.

The record is written before the hold is placed (so a crash can never leave a hold that nobody
settles), updated once upstream has answered (so the amount to capture is durable before it is
captured), and once more when wallet has settled it. Settlement is a pure decision on the record:

* the request finished: post its charge (platform: the registry price of the reported or
  counted usage; BYOK: the platform fee), or void the hold when the charge is zero;
* the request's process died before it finished (the outcome was never recorded): the usage is
  unknown, so the whole hold is captured (SPEC §3: "if usage is missing, capture the hold");
* no hold was ever needed (BYOK at a zero fee): nothing to settle.

Transfer ids are derived from the generation id (UUIDv5), so every re-drive of the same
settlement is the same wallet request and completes exactly once.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from enum import StrEnum

from services.provider.domain.billing import KeySource, Prices, Usage, UsageSource
from services.provider.domain.registry import UpstreamProvider
from services.provider.domain.requests import Dialect

TRANSFER_NAMESPACE = uuid.UUID("5d1f3a0e-8c5b-4f5e-9a57-2b8f0c6d7e41")
"""UUIDv5 namespace of every wallet id provider derives from a generation id."""


class GenerationStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INCOMPLETE = "incomplete"


class SettlementStatus(StrEnum):
    PENDING = "pending"
    SETTLED = "settled"
    NOT_REQUIRED = "not_required"


class HoldCode(StrEnum):
    INFERENCE = "inference"
    PLATFORM_FEE = "platform_fee"


def hold_code(source: KeySource) -> HoldCode:
    return HoldCode.PLATFORM_FEE if source.is_byok else HoldCode.INFERENCE


def derived_id(generation_id: uuid.UUID, purpose: str) -> uuid.UUID:
    """A wallet id for ``purpose`` of this generation (the same on every attempt)."""
    return uuid.uuid5(TRANSFER_NAMESPACE, f"{generation_id}|{purpose}")


def hold_id(generation_id: uuid.UUID, attempt: int) -> uuid.UUID:
    """The hold of the ``attempt``-th key tried (1 for the first)."""
    assert attempt >= 1
    return derived_id(generation_id, f"hold|{attempt}")


@dataclass(frozen=True)
class Generation:
    id: uuid.UUID
    request_id: str
    caller: str
    agent_id: uuid.UUID
    key_id: uuid.UUID
    owner_account_id: uuid.UUID | None
    dialect: Dialect
    streamed: bool
    model_requested: str
    model_served: str
    provider: UpstreamProvider
    upstream_model: str
    key_source: KeySource
    provider_key_id: uuid.UUID | None
    upstream_attempts: int
    prices: Prices
    fee_bps: int
    estimate_input_tokens: int
    max_output_tokens: int
    hold_id: uuid.UUID | None
    held_micros: int
    status: GenerationStatus
    error_reason: str | None
    upstream_status: int
    usage: Usage | None
    usage_source: UsageSource | None
    price_micros: int
    charge_micros: int
    """What the finished request costs the agent (decided before settling)."""
    charged_micros: int
    """What wallet actually took (after settlement)."""
    shortfall_micros: int
    settlement_status: SettlementStatus
    settlement_attempts: int
    last_settlement_error: str | None
    next_settlement_at: datetime.datetime | None
    instance_id: uuid.UUID
    created_at: datetime.datetime
    first_token_at: datetime.datetime | None
    finished_at: datetime.datetime | None
    settled_at: datetime.datetime | None

    def __post_init__(self) -> None:
        assert self.held_micros >= 0 and self.charge_micros >= 0
        assert (self.hold_id is None) == (self.held_micros == 0)
        assert self.charged_micros >= 0 and self.shortfall_micros >= 0
        # A request that needed no hold is never billed (also ck_generations_no_hold_no_charge).
        if self.held_micros == 0 and self.status is not GenerationStatus.IN_PROGRESS:
            assert self.charge_micros == 0

    @property
    def finished(self) -> bool:
        return self.status is not GenerationStatus.IN_PROGRESS


@dataclass(frozen=True)
class SettlementPlan:
    """What settling a generation means right now."""

    amount_micros: int
    """Post this much from the hold; 0 means void it."""
    capture_unknown: bool
    """The outcome was never recorded: the hold is captured as the usage is unknown."""

    @property
    def is_void(self) -> bool:
        return self.amount_micros == 0


def settlement_plan(generation: Generation) -> SettlementPlan | None:
    """How to settle ``generation``, or None when there is nothing (left) to do."""
    if generation.settlement_status is not SettlementStatus.PENDING:
        return None
    assert generation.hold_id is not None, "a pending settlement always has a hold"
    if not generation.finished:
        return SettlementPlan(amount_micros=generation.held_micros, capture_unknown=True)
    return SettlementPlan(amount_micros=generation.charge_micros, capture_unknown=False)


def post_transfer_id(generation: Generation) -> uuid.UUID:
    assert generation.hold_id is not None
    return derived_id(generation.id, f"post|{generation.hold_id}")


def void_transfer_id(hold: uuid.UUID, generation_id: uuid.UUID) -> uuid.UUID:
    return derived_id(generation_id, f"void|{hold}")

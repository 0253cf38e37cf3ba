"""What a request costs: token usage, prices, the worst case held before the call, the charge.

Money is integer micro-credits. A request's price is
``ceil(input_tokens * input_price / 10^6) + ceil(output_tokens * output_price / 10^6)`` with
prices per million tokens, so a request that used any token of a (positively priced) model costs
at least one micro-credit: nothing is rounded down to free.

The hold is the worst case: the input estimate (bounded by the context length, since upstream
refuses more) plus the clamped output limit that is sent upstream, priced. Upstream cannot bill
beyond those limits, so the charge never exceeds the hold unless upstream itself misreports; if
it does, wallet charges the overage as far as the wallet and key budget allow and the rest is
recorded as shortfall (debt), never taken from another wallet.

BYOK requests are billed only the platform fee: ``ceil(price * fee_bps / 10^4)``; with the
default fee of 0 nothing is held and nothing is charged.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

MILLION = 1_000_000
BASIS_POINTS = 10_000
AMOUNT_MAX_MICROS = 10**15
"""Wallet's largest transfer; a hold above it is refused as too large."""


class KeySource(StrEnum):
    """Whose provider key paid upstream (the values are stored)."""

    PLATFORM = "platform"
    BYOK_AGENT = "byok_agent"
    BYOK_ACCOUNT = "byok_account"

    @property
    def is_byok(self) -> bool:
        return self is not KeySource.PLATFORM


class UsageSource(StrEnum):
    """Where the token counts of a generation came from (the values are stored)."""

    UPSTREAM_REPORTED = "upstream_reported"
    COUNTED = "counted"
    HOLD_CAPTURED = "hold_captured"


@dataclass(frozen=True)
class Usage:
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int = 0

    def __post_init__(self) -> None:
        assert self.input_tokens >= 0 and self.output_tokens >= 0
        assert 0 <= self.cached_input_tokens <= self.input_tokens

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True)
class Prices:
    """A model's prices at request time, in micro-credits per million tokens."""

    input_micros: int
    output_micros: int

    def __post_init__(self) -> None:
        # D5: a price of zero would make output free (also ck_generations_prices_positive).
        assert self.input_micros > 0 and self.output_micros > 0


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def price_micros(usage: Usage, prices: Prices) -> int:
    """The registry price of ``usage`` (cached input is billed as input)."""
    return _ceil_div(usage.input_tokens * prices.input_micros, MILLION) + _ceil_div(
        usage.output_tokens * prices.output_micros, MILLION
    )


def fee_micros(price: int, fee_bps: int) -> int:
    """The platform fee on a BYOK request of registry price ``price``."""
    assert price >= 0 and 0 <= fee_bps <= BASIS_POINTS
    return _ceil_div(price * fee_bps, BASIS_POINTS)


def charge_micros(price: int, *, key_source: KeySource, fee_bps: int) -> int:
    """What the agent pays for a request of registry price ``price``."""
    return fee_micros(price, fee_bps) if key_source.is_byok else price


@dataclass(frozen=True)
class Estimate:
    """The bounds a request is held for, decided before the call."""

    input_tokens: int
    """The input estimate used for the hold (an over-estimate, capped by the context length)."""
    max_output_tokens: int
    """The output limit sent upstream (the client's, clamped to the model's maximum)."""

    def __post_init__(self) -> None:
        assert self.input_tokens >= 0 and self.max_output_tokens >= 1

    def worst_case(self, prices: Prices) -> int:
        return price_micros(
            Usage(input_tokens=self.input_tokens, output_tokens=self.max_output_tokens), prices
        )


def hold_micros(estimate: Estimate, prices: Prices, *, key_source: KeySource, fee_bps: int) -> int:
    """The amount to hold before the call; 0 means no hold is needed."""
    amount = charge_micros(estimate.worst_case(prices), key_source=key_source, fee_bps=fee_bps)
    return min(amount, AMOUNT_MAX_MICROS)


def counted_usage(
    *,
    reported_input_tokens: int | None,
    estimate: Estimate,
    output_bytes: int,
    output_events: int,
    bytes_per_token: int,
) -> Usage:
    """Usage of a stream that was cut before upstream reported it (THREATS D3).

    Input is what upstream reported at the start if it did (Anthropic does), else the estimate;
    output is an over-count of what was produced (bytes / bytes_per_token, and at least one token
    per content event), never more than the output limit upstream was held to.
    """
    assert bytes_per_token >= 1
    produced = max(_ceil_div(output_bytes, bytes_per_token), output_events)
    return Usage(
        input_tokens=(
            reported_input_tokens if reported_input_tokens is not None else estimate.input_tokens
        ),
        output_tokens=min(produced, estimate.max_output_tokens),
    )

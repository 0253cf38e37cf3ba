"""How the payout dispatcher reads wallet's answers and when it tries again.

Wallet reports one result per transfer of a batch. A batch is delivered when every transfer is
OK or EXISTS (EXISTS is a transfer that an earlier attempt already applied: that is exactly-once
working, not an error). Otherwise the first result that is not a consequence of another
transfer's failure (LINKED_EVENT_FAILED) names why, and decides what happens next:

* **retry** (with exponential backoff, up to the configured attempts): the wallet is unreachable,
  a recipient's wallet is not opened yet, or a recipient is suspended (a suspended agent never
  earns; its payout waits until it is reactivated);
* **stuck** at once (an operator must look): anything that says the batch itself is wrong, for
  example a transfer id that exists with other fields, or escrow short of funds. Re-sending such
  a batch can never succeed, and an operator can re-drive it after fixing the cause.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

DELIVERED_RESULTS = frozenset({"OK", "EXISTS"})
CONSEQUENTIAL_RESULTS = frozenset({"LINKED_EVENT_FAILED"})
RETRYABLE_REASONS = frozenset(
    {
        "WALLET_UNAVAILABLE",
        "RECIPIENT_SUSPENDED",
        "AUTH_UNAVAILABLE",
        "CREDIT_ACCOUNT_NOT_FOUND",
        "CONCURRENT_UPDATE",
        "REQUEST_IN_PROGRESS",
    }
)


@dataclass(frozen=True)
class Verdict:
    delivered: bool
    reason: str | None
    """Why it is not delivered (a wallet result name or a review reason), else None."""
    retryable: bool


def read_results(results: Sequence[str]) -> Verdict:
    """The verdict on one batch from wallet's per-transfer result names (prefix removed)."""
    assert results
    if all(result in DELIVERED_RESULTS for result in results):
        return Verdict(delivered=True, reason=None, retryable=False)
    causes = [
        result
        for result in results
        if result not in DELIVERED_RESULTS and result not in CONSEQUENTIAL_RESULTS
    ]
    reason = causes[0] if causes else "LINKED_EVENT_FAILED"
    return failure(reason)


def failure(reason: str) -> Verdict:
    return Verdict(delivered=False, reason=reason, retryable=reason in RETRYABLE_REASONS)


def backoff(*, attempts: int, base_s: float, max_s: float) -> datetime.timedelta:
    """The wait before attempt ``attempts + 1``: base, 2 * base, 4 * base, ... up to max."""
    assert attempts >= 1
    exponent = min(attempts - 1, 32)
    return datetime.timedelta(seconds=min(max_s, base_s * (2**exponent)))

"""Attempt counters with exponential backoff: login lockout and claim-attempt throttling.

A counter counts consecutive failures. Once ``failure_count`` reaches the threshold the subject
is locked for ``base_s * 2^(failures - threshold)`` seconds, capped at ``max_s``; attempts during
a lock are refused without being checked, and every failure after a lock doubles the next one.
The count starts over only after a quiet period of ``window_s`` with no failure and no lock
running, or after a success.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class BackoffPolicy:
    threshold: int
    window_s: int
    base_s: int
    max_s: int

    def __post_init__(self) -> None:
        assert self.threshold >= 1 and self.window_s >= 1 and 1 <= self.base_s <= self.max_s


@dataclass(frozen=True)
class AttemptCounter:
    failure_count: int
    last_failure_at: datetime.datetime | None
    locked_until: datetime.datetime | None

    def __post_init__(self) -> None:
        assert self.failure_count >= 0
        assert (self.failure_count == 0) == (self.last_failure_at is None)
        assert self.locked_until is None or self.failure_count > 0


EMPTY_COUNTER = AttemptCounter(failure_count=0, last_failure_at=None, locked_until=None)


def retry_after_s(counter: AttemptCounter, now: datetime.datetime) -> int | None:
    """Seconds until the subject may try again, or None when it may try now."""
    if counter.locked_until is None or counter.locked_until <= now:
        return None
    return max(1, math.ceil((counter.locked_until - now).total_seconds()))


def after_failure(
    counter: AttemptCounter, *, policy: BackoffPolicy, now: datetime.datetime
) -> AttemptCounter:
    """The counter after one more failure, locked once the threshold is reached."""
    assert retry_after_s(counter, now) is None, "attempts during a lock are not counted"
    if counter.last_failure_at is not None:
        quiet_since = max(counter.last_failure_at, counter.locked_until or counter.last_failure_at)
        if now - quiet_since >= datetime.timedelta(seconds=policy.window_s):
            counter = EMPTY_COUNTER
    failures = counter.failure_count + 1
    locked_until = None
    if failures >= policy.threshold:
        exponent = min(failures - policy.threshold, 30)
        lock_s = min(policy.max_s, policy.base_s * 2**exponent)
        locked_until = now + datetime.timedelta(seconds=lock_s)
    return AttemptCounter(failure_count=failures, last_failure_at=now, locked_until=locked_until)

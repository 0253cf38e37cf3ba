"""The gateway's rate limiter: Redis shared by every replica, in-process when Redis is down.

SPEC §5 and THREATS I1/I7/D11: requests are limited per client IP, per API key (its
``rate_limit_rpm``) and per account on login and claim; "if Redis is down the gateway falls back
to a local in-process limiter — it neither fails open nor stops serving".

Algorithm
---------
GCRA (the generic cell rate algorithm, a leaky bucket that stores one number per identity):
a bucket of ``limit`` requests per ``window_s`` admits a request when the identity's
"theoretical arrival time" (TAT) is at most ``window_s`` ahead of now, and then pushes the TAT
forward by one emission interval ``window_s / limit``. So a quiet identity may burst ``limit``
requests at once and then gets one more every interval; over any span ``t`` it is admitted at most
``limit + t * limit / window_s`` times. All arithmetic is integer microseconds (the interval is
rounded *up*), so exactly ``limit`` of a burst are admitted, never ``limit + 1``.

In Redis the whole decision is one Lua script (one round trip, atomic, one key per call, so it is
also cluster-safe) that reads the clock with ``TIME``: every replica agrees on time, whatever
their own clocks say. Keys are ``<prefix><bucket>:<hmac>`` (default prefix ``tm:rl:``), where
``hmac`` is HMAC-SHA-256 under ``identity_key`` of the bucket and identity, truncated to 128 bits:
raw IPs, key ids and emails never appear in Redis (nor in this process's memory), and, because the
hash is keyed, the small IPv4 space cannot be brute-forced back out of a key. Callers normalise
identities (e.g. lower-case emails) before checking. Keys expire once their bucket is full again.

Failure handling
----------------
Every Redis call runs under ``operation_timeout_s`` (100 ms); the client from :meth:`from_url`
has the same socket timeouts and no retries. Any Redis failure (refused, timeout, a bad answer)
opens a circuit breaker: the decision is made by :class:`LocalLimiter` instead, which applies the
same GCRA with the same limits in this process (so with ``n`` replicas an identity gets at most
``n`` times its limit during an outage: limited, never open). One warning is logged when the
outage starts and one line when Redis answers again, not one per request. While open, one request
per ``retry_interval_s`` tries Redis again; the first success closes the breaker. The state of the
two stores is not merged: at a switch an identity may get at most one fresh allowance.

:meth:`RateLimiter.check` never raises for a store failure and never admits a request because a
store failed. It raises ``ValueError`` only for programming errors (a malformed bucket name or
window). A limit below 1 admits nothing.

The local limiter's memory is bounded: at most ``local_max_entries`` identities, forgotten once
their bucket is full again (which changes nothing) and otherwise least-recently-seen first, so an
identity flood evicts idle identities before the busy ones that are being limited.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import redis.asyncio as redis_asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

logger = logging.getLogger("tokenmart.gateway.ratelimit")

DEFAULT_KEY_PREFIX: Final = "tm:rl:"
KEY_WINDOW_S: Final = 60.0
"""Per-key limits are requests per minute (``rate_limit_rpm``)."""
IDENTITY_KEY_MIN_BYTES: Final = 16
_MICROS: Final = 1_000_000
_BUCKET_PATTERN: Final = re.compile(r"[a-z][a-z0-9_]{0,31}")
_PREFIX_PATTERN: Final = re.compile(r"[A-Za-z0-9:_.-]{1,64}")
_WINDOW_MAX_S: Final = 7 * 24 * 3600.0
_EXPIRED_SWEEP_PER_CALL: Final = 8

# KEYS[1]: the bucket key. ARGV[1]: emission interval (µs), ARGV[2]: limit, ARGV[3]: "1" to
# count the request, "0" only to ask whether one would be admitted (nothing is stored).
# Returns {allowed (1/0), remaining, retry_after (µs), reset_after (µs)}; all integers.
_GCRA_LUA: Final = """
pcall(redis.replicate_commands)
local interval = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local tat = now
local stored = redis.call('GET', KEYS[1])
if stored then
  local parsed = tonumber(stored)
  if parsed and parsed > now then tat = parsed end
end
local new_tat = tat + interval
local allow_at = new_tat - interval * limit
if allow_at > now then
  return {0, 0, allow_at - now, tat - now}
end
if ARGV[3] == '0' then
  return {1, math.floor((now + interval * limit - new_tat) / interval), 0, tat - now}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat),
           'PX', math.ceil((new_tat - now) / 1000))
return {1, math.floor((now + interval * limit - new_tat) / interval), 0, new_tat - now}
"""


def _micros(seconds: float) -> int:
    return round(seconds * _MICROS)


def _check_bucket(bucket: str) -> None:
    if not _BUCKET_PATTERN.fullmatch(bucket):
        raise ValueError("a bucket name is 1-32 of a-z 0-9 _, starting with a letter")


def _check_window(window_s: float) -> None:
    if not (isinstance(window_s, int | float) and 0.001 <= window_s <= _WINDOW_MAX_S):
        raise ValueError("window_s must be between 1 ms and 7 days")


@dataclass(frozen=True)
class Decision:
    """One rate-limit answer."""

    allowed: bool
    limit: int
    remaining: int
    """Requests still admitted right now (after this one, if it was admitted)."""
    reset_after_s: float
    """Until the bucket is full again (nothing counted any more)."""
    retry_after_s: float
    """Until the next request can be admitted; 0 when this one was."""
    source: Literal["redis", "local"]
    """Which store decided: ``local`` means the in-process fallback."""

    def headers(self) -> dict[str, str]:
        """``X-RateLimit-Limit/Remaining/Reset`` (Reset in seconds from now), and
        ``Retry-After`` (whole seconds, at least 1) on a refusal."""
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(math.ceil(self.reset_after_s)),
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after_s)))
        return headers


@dataclass(frozen=True)
class Rule:
    """A bucket: at most ``limit`` requests per ``window_s`` per identity."""

    bucket: str
    limit: int
    window_s: float

    def __post_init__(self) -> None:
        _check_bucket(self.bucket)
        _check_window(self.window_s)
        if self.limit < 1:
            raise ValueError("a rule's limit is at least 1")


@dataclass(frozen=True)
class RateLimitRules:
    """The gateway's buckets and their defaults; identities are what the comment says."""

    ip: Rule = Rule("ip", 120, 60.0)
    """Client IP, on routes that take no credential."""
    ip_flood: Rule = Rule("ip_flood", 1200, 60.0)
    """Client IP, on every route: a ceiling even for authenticated traffic (D11)."""
    credential_failure_ip: Rule = Rule("cred_fail_ip", 30, 300.0)
    """Client IP, counted on each rejected credential: key spraying (I1)."""
    login_account: Rule = Rule("login_account", 10, 900.0)
    """Normalised email (registered or not), on login."""
    login_ip: Rule = Rule("login_ip", 30, 900.0)
    """Client IP, on login."""
    account_registration_ip: Rule = Rule("account_reg_ip", 10, 3600.0)
    """Client IP, on account registration."""
    agent_registration_ip: Rule = Rule("agent_reg_ip", 10, 3600.0)
    """Client IP, on agent registration."""
    claim_account: Rule = Rule("claim_account", 10, 3600.0)
    """Account id, on claim attempts (I7)."""
    claim_ip: Rule = Rule("claim_ip", 30, 3600.0)
    """Client IP, on claim attempts (I7)."""
    refresh_ip: Rule = Rule("refresh_ip", 60, 60.0)
    """Client IP, on session refresh."""
    key_bucket: str = "key"
    """Key id, at the key's own ``rate_limit_rpm``: see :meth:`for_key`."""

    def for_key(self, rate_limit_rpm: int) -> Rule:
        """The per-key rule: ``rate_limit_rpm`` requests per minute."""
        return Rule(self.key_bucket, rate_limit_rpm, KEY_WINDOW_S)


# KEYS[1]: the bucket key. ARGV[1]: emission interval (µs). Gives back one request counted
# earlier (the TAT moves back one interval, never below now). Returns 1.
_REFUND_LUA: Final = """
pcall(redis.replicate_commands)
local interval = tonumber(ARGV[1])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local stored = redis.call('GET', KEYS[1])
if not stored then return 1 end
local tat = tonumber(stored)
if not tat then return 1 end
local new_tat = tat - interval
if new_tat <= now then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], string.format('%.0f', new_tat),
             'PX', math.ceil((new_tat - now) / 1000))
end
return 1
"""


class LocalLimiter:
    """GCRA in this process's memory, with at most ``max_entries`` identities."""

    def __init__(self, *, clock: Callable[[], float], max_entries: int) -> None:
        assert max_entries >= 1
        self._clock = clock
        self._max_entries = max_entries
        self._tats: OrderedDict[str, int] = OrderedDict()
        self.evicted_live = 0
        """How many identities were forgotten while still counted (capacity pressure)."""

    def __len__(self) -> int:
        return len(self._tats)

    def check(self, key: str, *, interval_us: int, limit: int, consume: bool = True) -> Decision:
        now = _micros(self._clock())
        tat = max(self._tats.get(key, now), now)
        new_tat = tat + interval_us
        allow_at = new_tat - interval_us * limit
        if allow_at > now:
            if key in self._tats:
                self._tats.move_to_end(key)
            return _decision(
                allowed=False,
                limit=limit,
                remaining=0,
                retry_after_us=allow_at - now,
                reset_after_us=tat - now,
                source="local",
            )
        if not consume:
            return _decision(
                allowed=True,
                limit=limit,
                remaining=(now + interval_us * limit - new_tat) // interval_us,
                retry_after_us=0,
                reset_after_us=tat - now,
                source="local",
            )
        self._tats[key] = new_tat
        self._tats.move_to_end(key)
        self._evict(now)
        return _decision(
            allowed=True,
            limit=limit,
            remaining=(now + interval_us * limit - new_tat) // interval_us,
            retry_after_us=0,
            reset_after_us=new_tat - now,
            source="local",
        )

    def refund(self, key: str, *, interval_us: int) -> None:
        """Give back one request counted earlier (see :meth:`RateLimiter.refund`)."""
        tat = self._tats.get(key)
        if tat is None:
            return
        now = _micros(self._clock())
        if tat - interval_us <= now:
            del self._tats[key]
        else:
            self._tats[key] = tat - interval_us

    def _evict(self, now: int) -> None:
        # Identities whose bucket is full again carry no information: forget them first.
        for _ in range(_EXPIRED_SWEEP_PER_CALL):
            oldest = next(iter(self._tats.items()), None)
            if oldest is None or oldest[1] > now:
                break
            del self._tats[oldest[0]]
        while len(self._tats) > self._max_entries:
            _, tat = self._tats.popitem(last=False)
            if tat > now:
                self.evicted_live += 1


class RateLimiter:
    """Rate limits in Redis, falling back to :class:`LocalLimiter` while Redis fails."""

    def __init__(
        self,
        redis: redis_asyncio.Redis | None,
        *,
        identity_key: bytes,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        clock: Callable[[], float] = time.monotonic,
        operation_timeout_s: float = 0.1,
        retry_interval_s: float = 2.0,
        local_max_entries: int = 100_000,
    ) -> None:
        """``redis`` None means no Redis is configured: every decision is local.

        ``identity_key`` (at least 16 random bytes, the same on every replica) keys the hash of
        identities. ``clock`` (monotonic seconds) drives the local limiter and the breaker.
        """
        if len(identity_key) < IDENTITY_KEY_MIN_BYTES:
            raise ValueError(f"identity_key must be at least {IDENTITY_KEY_MIN_BYTES} bytes")
        if not _PREFIX_PATTERN.fullmatch(key_prefix):
            raise ValueError("key_prefix must be 1-64 of A-Z a-z 0-9 : _ . -")
        assert operation_timeout_s > 0 and retry_interval_s > 0
        self._redis = redis
        self._script = redis.register_script(_GCRA_LUA) if redis is not None else None
        self._refund_script = redis.register_script(_REFUND_LUA) if redis is not None else None
        self._identity_key = identity_key
        self._key_prefix = key_prefix
        self._clock = clock
        self._operation_timeout_s = operation_timeout_s
        self._retry_interval_s = retry_interval_s
        self._local = LocalLimiter(clock=clock, max_entries=local_max_entries)
        self._down_since: float | None = None
        self._next_probe_at = 0.0
        self._probing = False

    @classmethod
    def from_url(
        cls,
        url: str | None,
        *,
        identity_key: bytes,
        timeout_s: float = 0.1,
        max_connections: int = 128,
        **options: Any,
    ) -> RateLimiter:
        """A limiter with its own Redis client: short timeouts, no retries (the fallback is
        the retry), a bounded pool. ``url`` None: local only."""
        client: redis_asyncio.Redis | None = None
        if url is not None:
            pool = redis_asyncio.BlockingConnectionPool.from_url(
                url,
                socket_timeout=timeout_s,
                socket_connect_timeout=timeout_s,
                retry=Retry(NoBackoff(), 0),
                # Waits for a free connection (within the operation timeout) instead of
                # failing at once, so a busy moment does not look like an outage.
                max_connections=max_connections,
                timeout=timeout_s,
            )
            client = redis_asyncio.Redis.from_pool(pool)
        return cls(client, identity_key=identity_key, operation_timeout_s=timeout_s, **options)

    @property
    def degraded(self) -> bool:
        """True while decisions are made in-process because Redis failed."""
        return self._redis is None or self._down_since is not None

    @property
    def local(self) -> LocalLimiter:
        return self._local

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()

    def redis_key(self, bucket: str, identity: str) -> str:
        """Where ``identity``'s count in ``bucket`` lives: no trace of the identity itself."""
        _check_bucket(bucket)
        message = bucket.encode() + b"\x00" + identity.encode("utf-8", "surrogatepass")
        digest = hmac.new(self._identity_key, message, hashlib.sha256).hexdigest()[:32]
        return f"{self._key_prefix}{bucket}:{digest}"

    async def check_rule(self, rule: Rule, identity: str, *, consume: bool = True) -> Decision:
        return await self.check(
            rule.bucket, identity, limit=rule.limit, window_s=rule.window_s, consume=consume
        )

    async def check(
        self, bucket: str, identity: str, *, limit: int, window_s: float, consume: bool = True
    ) -> Decision:
        """Count one request of ``identity`` in ``bucket`` and say whether it is admitted.

        With ``consume`` False nothing is counted: the answer says whether a request would be
        admitted now (used to refuse an identity that has run out *before* doing the work, when
        only failures are counted, as for rejected credentials).
        """
        _check_window(window_s)
        key = self.redis_key(bucket, identity)
        if limit < 1:
            return _decision(
                allowed=False,
                limit=0,
                remaining=0,
                retry_after_us=_micros(window_s),
                reset_after_us=_micros(window_s),
                source="local",
            )
        # Rounded up: `limit` intervals never fit in less than the window.
        interval_us = -(-_micros(window_s) // limit)
        route = self._route()
        if route is not None:
            decision = await self._check_redis(
                key, interval_us=interval_us, limit=limit, probe=route == "probe", consume=consume
            )
            if decision is not None:
                return decision
        return self._local.check(key, interval_us=interval_us, limit=limit, consume=consume)

    async def refund_rule(self, rule: Rule, identity: str) -> None:
        await self.refund(rule.bucket, identity, limit=rule.limit, window_s=rule.window_s)

    async def refund(self, bucket: str, identity: str, *, limit: int, window_s: float) -> None:
        """Give back one request that :meth:`check` counted, e.g. a reservation that turned out
        not to be what the bucket counts (a credential attempt that succeeded). Never raises for
        a store failure; both stores are refunded, since the count may live in either."""
        _check_window(window_s)
        if limit < 1:
            return
        key = self.redis_key(bucket, identity)
        interval_us = -(-_micros(window_s) // limit)
        self._local.refund(key, interval_us=interval_us)
        if self._refund_script is not None and self._down_since is None:
            try:
                async with asyncio.timeout(self._operation_timeout_s):
                    await self._refund_script(keys=[key], args=[interval_us])
            except Exception as error:  # noqa: BLE001 - any store failure: the breaker opens
                self._redis_failed(error)

    def _route(self) -> Literal["redis", "probe"] | None:
        """Redis while it answers; while it does not, one probe per retry interval."""
        if self._script is None:
            return None
        if self._down_since is None:
            return "redis"
        if self._probing or self._clock() < self._next_probe_at:
            return None
        self._probing = True  # this request probes; the others stay local meanwhile
        return "probe"

    async def _check_redis(
        self, key: str, *, interval_us: int, limit: int, probe: bool, consume: bool
    ) -> Decision | None:
        assert self._script is not None
        try:
            async with asyncio.timeout(self._operation_timeout_s):
                answer = await self._script(
                    keys=[key], args=[interval_us, limit, "1" if consume else "0"]
                )
            decision = _redis_decision(answer, limit=limit)
        except Exception as error:  # noqa: BLE001 - any store failure means: decide locally
            self._redis_failed(error)
            return None
        finally:
            if probe:
                self._probing = False
        self._redis_answered()
        return decision

    def _redis_failed(self, error: Exception) -> None:
        now = self._clock()
        self._next_probe_at = now + self._retry_interval_s
        if self._down_since is None:
            self._down_since = now
            logger.warning(
                "rate-limit store unavailable; limiting in-process until it answers again",
                extra={"error": type(error).__name__},
            )

    def _redis_answered(self) -> None:
        if self._down_since is not None:
            logger.info(
                "rate-limit store answers again; limiting in Redis",
                extra={"outage_s": round(self._clock() - self._down_since, 3)},
            )
            self._down_since = None


def _redis_decision(answer: object, *, limit: int) -> Decision:
    if not isinstance(answer, Sequence) or len(answer) != 4:
        raise ValueError("unexpected answer from the rate-limit script")
    allowed, remaining, retry_after_us, reset_after_us = (int(item) for item in answer)
    if allowed not in (0, 1) or not 0 <= remaining <= limit or retry_after_us < 0:
        raise ValueError("unexpected answer from the rate-limit script")
    return _decision(
        allowed=allowed == 1,
        limit=limit,
        remaining=remaining,
        retry_after_us=retry_after_us,
        reset_after_us=max(reset_after_us, 0),
        source="redis",
    )


def _decision(
    *,
    allowed: bool,
    limit: int,
    remaining: int,
    retry_after_us: int,
    reset_after_us: int,
    source: Literal["redis", "local"],
) -> Decision:
    return Decision(
        allowed=allowed,
        limit=limit,
        remaining=remaining,
        reset_after_s=reset_after_us / _MICROS,
        retry_after_s=retry_after_us / _MICROS,
        source=source,
    )

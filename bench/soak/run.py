"""One soak run: its own Redis, the whole stack with the stand-in upstream, the market, the load
with the injector, settling, the invariants, and the printed summary (and a JSON report)."""

from __future__ import annotations

import asyncio
import datetime
import json
import random
import secrets
import time
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.soak.client import Gateway
from bench.soak.faults import FAULTS, Injection, Injector, plan
from bench.soak.load import Load, Mix
from bench.soak.population import SetupError, populate
from bench.soak.records import Records
from bench.soak.redis_server import LoopbackRedis
from bench.soak.settle import Settled, settle
from bench.soak.verify import Invariant, Verifier
from ops.database import REPO_ROOT
from ops.localstack import Stack, running_stack

OWNERS = 6
AGENTS_PER_OWNER = 2
TAIL_S = 4.0
"""Load that keeps running after the last fault has recovered, before the load stops."""
FAULT_GAP_TARGET_S = 12.0
"""Aim for a fault about this often; a run shorter than one round still gets every fault once."""
SETTLE_TIMEOUT_S = 120.0
PROGRESS_EVERY_S = 20.0

GATEWAY_ENV = {
    # Setup traffic (registration, logins) arrives through a trusted proxy from many client
    # addresses, as real users do; everything else comes from the soak's one loopback address,
    # so the per-IP flood ceiling (meant for the internet) is raised as the benchmarks do.
    "TOKENMART_GATEWAY_TRUSTED_PROXIES": "127.0.0.1/32",
    "TOKENMART_GATEWAY_IP_FLOOD_PER_MINUTE": "10000000",
}
SERVICE_ENV: Mapping[str, Mapping[str, str]] = {
    # Background workers, on short intervals so the soak does not wait minutes for them.
    "provider": {
        "TOKENMART_PROVIDER_SETTLEMENT_INTERVAL_S": "0.5",
        "TOKENMART_PROVIDER_SETTLEMENT_GRACE_S": "2",
        "TOKENMART_PROVIDER_SETTLEMENT_RETRY_MAX_S": "2",
        "TOKENMART_PROVIDER_HEARTBEAT_INTERVAL_S": "1",
        "TOKENMART_PROVIDER_ORPHAN_AFTER_S": "5",
    },
    "wallet": {"TOKENMART_WALLET_SWEEP_INTERVAL_S": "0.5"},
    "review": {
        "TOKENMART_REVIEW_WORKER_INTERVAL_S": "0.5",
        "TOKENMART_REVIEW_AGENT_SYNC_INTERVAL_S": "1",
        "TOKENMART_REVIEW_OUTBOX_LEASE_S": "2",
        "TOKENMART_REVIEW_OUTBOX_BACKOFF_MAX_S": "2",
        # With the short backoff, 20 attempts could be spent within one outage; an entry must
        # not go STUCK (operator territory) just because a fault outlasted them.
        "TOKENMART_REVIEW_OUTBOX_MAX_ATTEMPTS": "200",
    },
    # Argon2id at OWASP's lower bound instead of the production cost: the soak logs in often
    # on a 2-core machine, and password hashing is not what it measures.
    "auth": {
        "TOKENMART_AUTH_ARGON2_TIME_COST": "2",
        "TOKENMART_AUTH_ARGON2_MEMORY_KIB": "19456",
        "TOKENMART_AUTH_ARGON2_PARALLELISM": "1",
    },
}


@dataclass(frozen=True)
class Options:
    duration_s: float
    seed: int
    rounds: int | None = None
    report: Path | None = None
    log_dir: Path | None = None
    mix: Mix = field(default_factory=Mix)


@dataclass
class Result:
    options: Options
    log_dir: Path
    load_s: float = 0.0
    total_s: float = 0.0
    workers: int = 0
    injections: list[Injection] = field(default_factory=list)
    invariants: list[Invariant] = field(default_factory=list)
    settled: Settled | None = None
    records: Records | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.invariants) and all(i.ok for i in self.invariants)


def say(line: str) -> None:
    print(f"soak | {line}", flush=True)


def _log_dir(options: Options) -> Path:
    if options.log_dir is not None:
        return options.log_dir
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    return REPO_ROOT / "bench" / ".work" / "soak" / f"{stamp}-seed{options.seed}"


def run(options: Options) -> Result:
    began = time.monotonic()
    log_dir = _log_dir(options)
    (log_dir / "logs").mkdir(parents=True, exist_ok=True)
    result = Result(options=options, log_dir=log_dir)
    say(
        f"seed {options.seed}, load {options.duration_s:.0f} s, logs in {log_dir}; starting "
        "Redis and the stack (auth, wallet, provider, review, gateway, stand-in upstream)"
    )
    with ExitStack() as cleanup:
        redis = LoopbackRedis.start(log_dir / "redis")
        cleanup.callback(redis.stop)
        stack = cleanup.enter_context(
            running_stack(
                standin=True,
                redis_url=redis.url,
                log_dir=log_dir / "logs",
                log_level="INFO",
                gateway_env=GATEWAY_ENV,
                service_env=SERVICE_ENV,
            )
        )
        say(f"stack healthy at {stack.gateway_url} (database {stack.role_prefix}, {redis.url})")
        asyncio.run(_drive(stack, redis, options, result))
        say("stopping the stack; its database and roles are dropped")
    result.total_s = time.monotonic() - began
    return result


async def _drive(stack: Stack, redis: LoopbackRedis, options: Options, result: Result) -> None:
    rng = random.Random(options.seed)
    records = Records()
    result.records = records
    gateway = Gateway(stack.gateway_url, records, rng)
    tag = f"{options.seed}-{secrets.token_hex(3)}"
    try:
        try:
            population = await populate(
                stack, gateway, tag=tag, owners=OWNERS, agents_per_owner=AGENTS_PER_OWNER
            )
        except SetupError as error:
            result.error = f"setup failed: {error}"
            say(result.error)
            return
        say(
            f"market ready: {len(population.owners)} owners, {len(population.agents)} claimed "
            f"agents, {len(population.keys)} th_ keys, grants made, treasury funded"
        )
        rounds = options.rounds or max(
            1, int(options.duration_s // (len(FAULTS) * FAULT_GAP_TARGET_S))
        )
        faults = plan(rng, rounds)
        spacing_s = options.duration_s / (len(faults) + 1)
        say(f"fault plan ({rounds} round(s), one every ~{spacing_s:.1f} s): {', '.join(faults)}")
        load = Load(gateway, population, rng=rng, tag=tag, mix=options.mix)
        injector = Injector(
            stack=stack,
            redis=redis,
            gateway=gateway,
            population=population,
            faults=faults,
            spacing_s=spacing_s,
            say=say,
        )
        started = time.monotonic()
        load.start()
        result.workers = load.workers
        progress = asyncio.create_task(_progress(records, started))
        try:
            await injector.run()
            remaining = options.duration_s - (time.monotonic() - started)
            await asyncio.sleep(max(remaining, TAIL_S))
        finally:
            progress.cancel()
            await load.stop()
        result.load_s = time.monotonic() - started
        result.injections = injector.injections
        say(f"load stopped after {result.load_s:.1f} s; settling (replays, votes, drains)")
        result.settled = await settle(
            stack, gateway, population, rng=rng, tag=tag, timeout_s=SETTLE_TIMEOUT_S
        )
        say(
            f"settled in {result.settled.waited_s:.1f} s: {result.settled.replayed} replayed, "
            f"{result.settled.vote_rounds} vote rounds, backlog {result.settled.remaining}"
        )
        result.invariants = await Verifier(
            stack=stack,
            gateway=gateway,
            population=population,
            injections=injector.injections,
            settled=result.settled,
        ).run()
    finally:
        await gateway.close()


async def _progress(records: Records, started: float) -> None:
    while True:
        await asyncio.sleep(PROGRESS_EVERY_S)
        answers = sum(sum(c.values()) for c in records.answers.values())
        say(
            f"[{time.monotonic() - started:7.1f}s] {answers:,} answers so far, "
            f"{records.successes:,} 2xx"
        )


def summary(result: Result) -> str:
    lines = ["", "=" * 100, "SOAK SUMMARY", "=" * 100]
    options = result.options
    lines.append(
        f"seed {options.seed}; load {result.load_s:.1f} s (asked {options.duration_s:.0f} s) with "
        f"{result.workers} workers; whole run {result.total_s:.1f} s; logs {result.log_dir}"
    )
    if result.error:
        lines.append(f"ERROR: {result.error}")
    lines.append("")
    lines.append(f"INJECTIONS ({len(result.injections)})")
    lines += [f"  {injection.line()}" for injection in result.injections]
    records = result.records
    if records is not None:
        lines.append("")
        lines.append("REQUESTS by kind and outcome (every attempt, retries included)")
        for kind in sorted(records.answers):
            labels = records.answers[kind]
            total = sum(labels.values())
            outcomes = ", ".join(f"{label} x{count:,}" for label, count in labels.most_common())
            lines.append(f"  {kind:<17} {total:>7,}  {outcomes}")
        lines.append("")
        lines.append("OPERATIONS with effects, by final answer (retried with the same key)")
        for kind in sorted(records.operations):
            states = records.operations[kind]
            lines.append(
                f"  {kind:<17} "
                + ", ".join(f"{state} {count:,}" for state, count in sorted(states.items()))
            )
    if result.settled is not None:
        lines.append("")
        lines.append(
            f"SETTLED in {result.settled.waited_s:.1f} s: backlog {result.settled.remaining}"
        )
    lines.append("")
    lines += [invariant.line() for invariant in result.invariants]
    passed = sum(1 for invariant in result.invariants if invariant.ok)
    lines.append("")
    lines.append(
        f"RESULT: {'OK' if result.ok else 'FAILED'}: {passed}/{len(result.invariants)} "
        f"invariants hold after {len(result.injections)} injected faults"
    )
    return "\n".join(lines)


def report(result: Result) -> dict[str, Any]:
    records = result.records
    return {
        "ok": result.ok,
        "error": result.error,
        "seed": result.options.seed,
        "load_s": result.load_s,
        "total_s": result.total_s,
        "log_dir": str(result.log_dir),
        "injections": [
            {
                "fault": item.fault,
                "at_s": item.at_s,
                "wall": item.wall,
                "action": item.action,
                "ok": item.ok,
                "recovered_after_s": item.recovered_after_s,
                "detail": item.detail,
            }
            for item in result.injections
        ],
        "invariants": [item.as_dict() for item in result.invariants],
        "requests": {} if records is None else {k: dict(v) for k, v in records.answers.items()},
        "operations": {}
        if records is None
        else {k: dict(v) for k, v in records.operations.items()},
    }


def main(options: Options) -> int:
    result = run(options)
    print(summary(result), flush=True)
    if options.report is not None:
        options.report.parent.mkdir(parents=True, exist_ok=True)
        options.report.write_text(json.dumps(report(result), indent=2))
    if result.error is not None:
        return 2
    return 0 if result.ok else 1

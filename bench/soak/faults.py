"""The fault injector: while the load runs, it kills each process with SIGKILL and restarts it,
restarts Redis, and terminates every PostgreSQL connection of the stack's roles, one fault at a
time, spaced over the run so that load is flowing before and after each one.

Before each fault the injector waits until the load has had a few more successful answers since
the previous recovery (bounded), so each fault lands on a stack that is demonstrably serving
again rather than on one still recovering from the last. Every injection is logged at once
with its time and what it did.

Redis is kept down while the injector probes the gateway with an authenticated request: the
gateway must keep serving (its limiter falls back to in-process decisions, THREATS D11), and the
probe says so deterministically, whatever the load happened to do in that window.
"""

from __future__ import annotations

import asyncio
import datetime
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import grpc
import httpx
import psycopg
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy.engine import make_url

from bench.soak.client import Gateway
from bench.soak.population import Population
from bench.soak.redis_server import LoopbackRedis
from ops.localstack import Stack, wait_healthy

SERVICES = ("auth", "wallet", "provider", "review", "gateway")
FAULTS = (*SERVICES, "redis", "postgres")
DOWNTIME_S = 1.0
"""How long a killed process stays dead before it is started again."""
RESTART_TIMEOUT_S = 90.0
FLOW_SUCCESSES = 5
"""2xx answers the load must get after a recovery before the next fault."""
FLOW_TIMEOUT_S = 45.0
PROBE_ATTEMPTS = 20
PROBE_PAUSE_S = 0.25


@dataclass
class Injection:
    fault: str
    at_s: float
    wall: str
    action: str
    ok: bool
    recovered_after_s: float
    detail: str

    def line(self) -> str:
        state = "ok" if self.ok else "FAILED"
        return (
            f"[{self.at_s:7.1f}s] {self.wall} INJECT {self.action}; {self.detail} "
            f"({state}, {self.recovered_after_s:.1f} s)"
        )


def plan(rng: random.Random, rounds: int) -> list[str]:
    """Every fault once per round, in an order drawn from the seed."""
    faults: list[str] = []
    for _ in range(rounds):
        order = list(FAULTS)
        rng.shuffle(order)
        faults.extend(order)
    return faults


def psycopg_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def terminate_backends(stack: Stack) -> int:
    """``pg_terminate_backend`` for every connection of the stack's roles; how many ended."""
    with psycopg.connect(psycopg_url(stack.database_url), autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE starts_with(usename::text, %s) AND pid <> pg_backend_pid()",
            (f"{stack.role_prefix}_",),
        ).fetchone()
    return 0 if row is None else int(row[0])


class Injector:
    def __init__(
        self,
        *,
        stack: Stack,
        redis: LoopbackRedis,
        gateway: Gateway,
        population: Population,
        faults: list[str],
        spacing_s: float,
        say: Callable[[str], None],
    ) -> None:
        self.stack = stack
        self.redis = redis
        self.gateway = gateway
        self.population = population
        self.faults = faults
        self.spacing_s = spacing_s
        self.say = say
        self.injections: list[Injection] = []
        self.started = time.monotonic()

    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    async def run(self) -> None:
        self.started = time.monotonic()
        for index, fault in enumerate(self.faults):
            await self._wait_until((index + 1) * self.spacing_s)
            await self._wait_for_flow()
            self.injections.append(await self._inject(fault))
            self.say(self.injections[-1].line())

    async def _wait_until(self, at_s: float) -> None:
        delay = at_s - self.elapsed_s()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _wait_for_flow(self) -> None:
        records = self.gateway.records
        wanted = records.successes + FLOW_SUCCESSES
        deadline = time.monotonic() + FLOW_TIMEOUT_S
        # Polled: the count grows in many places, and a 0.1 s tick costs nothing here.
        while records.successes < wanted and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)

    async def _inject(self, fault: str) -> Injection:
        at_s = self.elapsed_s()
        wall = datetime.datetime.now(datetime.UTC).strftime("%H:%M:%S.%f")[:-3] + "Z"
        began = time.monotonic()
        if fault in SERVICES:
            action, ok, detail = await self._kill_and_restart(fault)
        elif fault == "redis":
            action, ok, detail = await self._restart_redis()
        else:
            action, ok, detail = await self._drop_connections()
        return Injection(
            fault=fault,
            at_s=at_s,
            wall=wall,
            action=action,
            ok=ok,
            recovered_after_s=time.monotonic() - began,
            detail=detail,
        )

    async def _kill_and_restart(self, name: str) -> tuple[str, bool, str]:
        pid = self.stack.processes[name].pid
        action = f"kill -9 {name} (pid {pid})"
        await asyncio.to_thread(self.stack.kill, name)
        await asyncio.sleep(DOWNTIME_S)
        spawned = time.monotonic()
        new_pid = (await asyncio.to_thread(self.stack.spawn, name)).pid
        # Two moments: when the new process itself serves, and when the gateway (its callers'
        # channels) is healthy again; a gap between them is the callers' reconnect backoff.
        serving = asyncio.create_task(self._serving(name))
        try:
            await asyncio.to_thread(wait_healthy, self.stack.gateway_url, RESTART_TIMEOUT_S)
        except RuntimeError as error:
            serving.cancel()
            return action, False, f"restarted as pid {new_pid}; {error}"
        healthy_s = time.monotonic() - spawned
        # A healthy gateway implies the process serves; polling lag must not say otherwise.
        serving_s = min(await serving, healthy_s)
        return (
            action,
            True,
            f"restarted as pid {new_pid}: serving after {serving_s:.1f} s, "
            f"gateway healthy after {healthy_s:.1f} s",
        )

    async def _serving(self, name: str) -> float:
        """Seconds from spawn until the process answers its own health check (bounded)."""
        began = time.monotonic()
        deadline = began + RESTART_TIMEOUT_S
        while time.monotonic() < deadline:
            if await self._answers(name):
                break
            await asyncio.sleep(0.1)
        return time.monotonic() - began

    async def _answers(self, name: str) -> bool:
        if name == "gateway":
            try:
                async with httpx.AsyncClient(timeout=1.0) as client:
                    await client.get(f"{self.stack.gateway_url}/healthz")
            except httpx.HTTPError:
                return False
            return True
        # A fresh channel each time, so no reconnect backoff of ours hides the moment.
        channel = self.stack.channel(name, peer="ctl")
        try:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=1.0
            )
        except grpc.aio.AioRpcError:
            return False
        finally:
            await channel.close()
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    async def _restart_redis(self) -> tuple[str, bool, str]:
        pid = self.redis.pid
        await asyncio.to_thread(self.redis.kill)
        served = await self._probe()
        try:
            await asyncio.to_thread(self.redis.spawn)
        except RuntimeError as error:
            return f"kill -9 redis (pid {pid})", False, f"restart failed: {error}"
        detail = (
            "gateway served an authenticated request while Redis was down"
            if served
            else "gateway did NOT serve while Redis was down"
        )
        return f"kill -9 redis (pid {pid})", served, f"{detail}; restarted as pid {self.redis.pid}"

    async def _probe(self) -> bool:
        """An authenticated, rate-limited request must succeed while Redis is down (D11)."""
        agent = self.population.rich[0]
        for _ in range(PROBE_ATTEMPTS):
            response = await self.gateway.once(
                "probe",
                "GET",
                "/api/v1/agents/me",
                headers={"Authorization": f"Bearer {agent.api_key}"},
            )
            if response is not None and response.status_code == 200:
                return True
            await asyncio.sleep(PROBE_PAUSE_S)
        return False

    async def _drop_connections(self) -> tuple[str, bool, str]:
        try:
            count = await asyncio.to_thread(terminate_backends, self.stack)
        except psycopg.Error as error:
            return "pg_terminate_backend", False, f"could not terminate: {error}"
        # Zero would mean nothing was connected, i.e. no fault at all.
        return (
            f"pg_terminate_backend for roles {self.stack.role_prefix}_*",
            count > 0,
            f"{count} connections terminated",
        )

    def counts(self) -> dict[str, int]:
        done: dict[str, int] = dict.fromkeys(FAULTS, 0)
        for injection in self.injections:
            if injection.ok:
                done[injection.fault] += 1
        return done

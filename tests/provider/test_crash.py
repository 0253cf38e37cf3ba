"""THREATS D4: the provider *process* is killed (SIGKILL) between the upstream answer and the
settlement, restarted, and the settlement completes after the restart, exactly once.

Provider runs as ``python -m services.provider`` exactly as ``make run`` starts it, against the
session's auth, wallet and stand-in. Its link to wallet goes through a TCP proxy
(``tests/provider/proxy.py``), so the test decides what reaches wallet before the kill. The kill
is timed by observing the durable generation record, never by sleeping and hoping.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import orjson
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tokenmart.provider.v1 import provider_pb2, provider_pb2_grpc
from tokenmart.wallet.v1 import wallet_pb2

from ops.database import REPO_ROOT, ServiceDatabase
from ops.pki import IssuedFiles
from tests.conftest import (
    AuthServerHandle,
    StandinHandle,
    WalletServerHandle,
    provider_test_environ,
)
from tests.grpc_helpers import mtls_channel
from tests.provider.helpers import (
    CREDIT,
    MINI,
    OPENAI,
    Lab,
    ProviderRows,
    lab_for,
    openai_body,
    rid,
)
from tests.provider.proxy import TcpProxy

pytestmark = pytest.mark.slow
START_TIMEOUT_S = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ProviderProcess:
    """``python -m services.provider`` on a fixed port, killed or stopped by the test."""

    def __init__(self, environment: dict[str, str], log: Path) -> None:
        self.environment = environment
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def port(self) -> int:
        return int(self.environment["TOKENMART_PROVIDER_GRPC_LISTEN"].rsplit(":", 1)[1])

    def _spawn(self) -> subprocess.Popen[bytes]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("TOKENMART_")}
        with self.log.open("ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "services.provider"],
                cwd=REPO_ROOT,
                env={**base, **self.environment, "PYTHONUNBUFFERED": "1"},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def start(self, pki: dict[str, IssuedFiles]) -> None:
        self.process = self._spawn()
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT_S
        async with mtls_channel(
            self.port, ca_file=pki["ctl"].ca_file, cert=pki["ctl"], expect_name="provider"
        ) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while True:
                assert self.process.poll() is None, self.log.read_text()[-3000:]
                with contextlib.suppress(grpc.aio.AioRpcError):
                    answer = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                    if answer.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                assert asyncio.get_running_loop().time() < deadline, "provider did not start"
                await asyncio.sleep(0.1)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@contextlib.asynccontextmanager
async def _world(
    service_databases: dict[str, ServiceDatabase],
    pki: dict[str, IssuedFiles],
    auth_server: AuthServerHandle,
    wallet_server: WalletServerHandle,
    standin: StandinHandle,
    tmp_path: Path,
) -> AsyncIterator[tuple[ProviderProcess, TcpProxy]]:
    proxy = await TcpProxy(wallet_server.port).start()
    environment = provider_test_environ(
        service_databases["provider"].runtime_url,
        pki["provider"],
        auth_port=auth_server.port,
        wallet_port=proxy.port,
        standin=standin,
        env={"LOG_LEVEL": "INFO"},
    )
    environment["TOKENMART_PROVIDER_GRPC_LISTEN"] = f"127.0.0.1:{_free_port()}"
    process = ProviderProcess(environment, tmp_path / "provider.log")
    try:
        yield process, proxy
    finally:
        process.stop()
        await proxy.close()


async def _until(check: Callable[[], Awaitable[Any]], *, timeout_s: float = 30.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        value = await check()
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.05)


async def _call(
    lab: Lab,
    process: ProviderProcess,
    pki: dict[str, IssuedFiles],
    body: dict[str, Any],
    token: Any,
) -> None:
    async with mtls_channel(
        process.port, ca_file=pki["gateway"].ca_file, cert=pki["gateway"], expect_name="provider"
    ) as channel:
        with contextlib.suppress(grpc.aio.AioRpcError):  # the process dies under the call
            await provider_pb2_grpc.ProviderServiceStub(channel).ChatCompletion(
                provider_pb2.ChatCompletionRequest(
                    request_id=rid(), dialect=OPENAI, body=orjson.dumps(body), model=MINI
                ),
                metadata=token,
                timeout=60,
            )


def _generation_of(rows: ProviderRows, agent_id: str) -> dict[str, Any] | None:
    found = rows.rows("SELECT id FROM generations WHERE agent_id = %s", agent_id)
    return rows.generation(str(found[0][0])) if found else None


async def _posts_of(lab: Lab, hold_id: str) -> list[wallet_pb2.Transfer]:
    hold = await lab.wallet_ctl.GetHold(
        wallet_pb2.GetHoldRequest(hold_id=hold_id), metadata=await lab.operator(2)
    )
    return [
        transfer
        for transfer in hold.hold.transfers
        if wallet_pb2.TRANSFER_FLAG_POST_PENDING in transfer.flags
    ]


@pytest.mark.parametrize("cut", ["before_capture_reached_wallet", "after_capture_reached_wallet"])
async def test_d4_a_provider_killed_between_answer_and_settlement_settles_once_after_restart(
    cut: str,
    lab: Lab,
    rows: ProviderRows,
    service_databases: dict[str, ServiceDatabase],
    pki: dict[str, IssuedFiles],
    auth_server: AuthServerHandle,
    wallet_server: WalletServerHandle,
    standin_upstream: StandinHandle,
    tmp_path: Path,
) -> None:
    agent = await lab.agent(funds=CREDIT)
    tag = secrets.token_hex(8)
    body = openai_body(f"[standin:marker={tag}] [standin:delay_ms=1500] [standin:tokens=30]")
    async with _world(
        service_databases, pki, auth_server, wallet_server, standin_upstream, tmp_path
    ) as (process, proxy):
        await process.start(pki)
        call = asyncio.create_task(
            _call(lab, process, pki, body, await lab.token(agent.inference_key))
        )
        # Upstream has the request, so the hold is in place; from now on the test decides what
        # of provider's link to wallet works.
        await _until(lambda: _async(standin_upstream.recorded(tag)))
        if cut == "before_capture_reached_wallet":
            proxy.upstream = False  # PostHold never reaches wallet
        else:
            proxy.downstream = False  # PostHold reaches wallet; its answer never comes back
        # The durable record says: upstream answered, the cost is decided, not yet settled.
        answered = await _until(
            lambda: _async(
                (record := _generation_of(rows, agent.agent_id))
                and record["status"] == "succeeded"
                and record["settlement_status"] == "pending"
                and record
            )
        )
        hold_id = str(answered["hold_id"])
        if cut == "after_capture_reached_wallet":
            await _until(lambda: _posts_of(lab, hold_id))
        process.kill()
        await asyncio.wait_for(call, 30)
        record = rows.generation(str(answered["id"]))
        assert record["settlement_status"] == "pending" and record["charged_micros"] == 0
        posts = await _posts_of(lab, hold_id)
        if cut == "before_capture_reached_wallet":
            assert posts == [] and await lab.pending(agent) == answered["held_micros"]
        else:
            assert len(posts) == 1 and await lab.pending(agent) == 0
        # Restart: a new process (a new instance) with a working link settles what is due.
        proxy.upstream = proxy.downstream = True
        proxy.drop_connections()
        await process.start(pki)
        settled = await _until(
            lambda: _async(
                (item := rows.generation(str(answered["id"])))["settlement_status"] == "settled"
                and item
            )
        )
    charge = answered["charge_micros"]
    assert charge > 0 and settled["charged_micros"] == charge and settled["shortfall_micros"] == 0
    assert len(await _posts_of(lab, hold_id)) == 1  # exactly once
    assert await lab.available(agent) == CREDIT - charge
    assert await lab.pending(agent) == 0
    # Re-driving again is reported, never repeated.
    again = await lab.provider_ctl.SettlePending(
        provider_pb2.SettlePendingRequest(request_id=rid(), generation_ids=[str(answered["id"])]),
        metadata=await lab.operator(),
    )
    assert [outcome.settlement_status for outcome in again.outcomes] == [
        provider_pb2.SETTLEMENT_STATUS_SETTLED
    ]
    assert again.outcomes[0].charged_micros == charge
    assert await lab.available(agent) == CREDIT - charge
    assert len(await _posts_of(lab, hold_id)) == 1


async def test_d4_a_provider_killed_before_the_answer_was_recorded_captures_the_hold(
    lab: Lab,
    rows: ProviderRows,
    service_databases: dict[str, ServiceDatabase],
    pki: dict[str, IssuedFiles],
    auth_server: AuthServerHandle,
    wallet_server: WalletServerHandle,
    standin_upstream: StandinHandle,
    tmp_path: Path,
) -> None:
    """Upstream may have answered, but nobody recorded what it used: the worst case that was
    held is captured once the dead process is noticed (never free output)."""
    agent = await lab.agent(funds=CREDIT)
    tag = secrets.token_hex(8)
    body = openai_body(f"[standin:marker={tag}] [standin:delay_ms=5000]", max_tokens=100)
    async with _world(
        service_databases, pki, auth_server, wallet_server, standin_upstream, tmp_path
    ) as (process, _proxy):
        await process.start(pki)
        call = asyncio.create_task(
            _call(lab, process, pki, body, await lab.token(agent.inference_key))
        )
        await _until(lambda: _async(standin_upstream.recorded(tag)))
        record = _generation_of(rows, agent.agent_id)
        assert record is not None and record["status"] == "in_progress"
        process.kill()
        await asyncio.wait_for(call, 30)
        # Another provider process (here: the session's server) notices the dead heartbeat.
        settled = await _until(
            lambda: _async(
                (item := rows.generation(str(record["id"])))["settlement_status"] == "settled"
                and item
            ),
            timeout_s=60,
        )
    assert (settled["status"], settled["error_reason"]) == ("incomplete", "OUTCOME_UNKNOWN")
    assert settled["usage_source"] == "hold_captured"
    assert settled["charged_micros"] == settled["held_micros"] == record["held_micros"] > 0
    assert settled["output_tokens"] == 100
    assert await lab.available(agent) == CREDIT - settled["held_micros"]
    assert await lab.pending(agent) == 0


async def test_an_unbilled_request_of_a_killed_provider_is_closed_in_the_log(
    lab: Lab,
    rows: ProviderRows,
    service_databases: dict[str, ServiceDatabase],
    pki: dict[str, IssuedFiles],
    auth_server: AuthServerHandle,
    wallet_server: WalletServerHandle,
    standin_upstream: StandinHandle,
    tmp_path: Path,
) -> None:
    """A BYOK request at a zero fee holds nothing; if its process dies, the log entry is closed
    (never "in progress" forever) and nothing is charged."""
    agent = await lab.agent(funds=CREDIT)
    await lab.provider.CreateProviderKey(
        provider_pb2.CreateProviderKeyRequest(
            request_id=rid(),
            provider=provider_pb2.UPSTREAM_PROVIDER_OPENAI,
            secret=f"sk-byok-{secrets.token_hex(12)}",
            scope=provider_pb2.PROVIDER_KEY_SCOPE_AGENT,
        ),
        metadata=await lab.token(await lab.management_key(agent)),
    )
    tag = secrets.token_hex(8)
    body = openai_body(f"[standin:marker={tag}] [standin:delay_ms=5000]")
    async with _world(
        service_databases, pki, auth_server, wallet_server, standin_upstream, tmp_path
    ) as (process, _proxy):
        await process.start(pki)
        call = asyncio.create_task(
            _call(lab, process, pki, body, await lab.token(agent.inference_key))
        )
        await _until(lambda: _async(standin_upstream.recorded(tag)))
        record = _generation_of(rows, agent.agent_id)
        assert record is not None and record["settlement_status"] == "not_required"
        process.kill()
        await asyncio.wait_for(call, 30)
        closed = await _until(
            lambda: _async(
                (item := rows.generation(str(record["id"])))["status"] != "in_progress" and item
            ),
            timeout_s=60,
        )
    assert (closed["status"], closed["error_reason"]) == ("incomplete", "OUTCOME_UNKNOWN")
    assert closed["charged_micros"] == 0 and closed["key_source"] == "byok_agent"
    assert await lab.available(agent) == CREDIT


async def test_a_process_taken_for_dead_still_answers_and_the_hold_is_settled_once(
    start_provider_server: Callable[..., Any],
    lab: Lab,
    rows: ProviderRows,
    standin_upstream: StandinHandle,
) -> None:
    """If a live process is taken for dead (its heartbeat stalled), another settles its request
    by capturing the hold; the first process then answers its client and bills nothing twice."""
    stalled = start_provider_server()
    agent = await lab.agent(funds=CREDIT)
    tag = secrets.token_hex(8)
    async with lab_for(stalled, lab.server_auth, lab.server_wallet) as other:
        call = asyncio.create_task(
            other.chat(agent, openai_body(f"[standin:marker={tag}] [standin:delay_ms=3000]"))
        )
        await _until(lambda: _async(standin_upstream.recorded(tag)))
        rows.execute(
            "UPDATE instances SET stopped_at = now() WHERE id = %s",
            str(stalled.runtime.instance_id),
        )
        record = _generation_of(rows, agent.agent_id)
        assert record is not None
        taken = await _until(
            lambda: _async(
                (item := rows.generation(str(record["id"])))["settlement_status"] == "settled"
                and item
            )
        )
        response = await call
    assert response.generation_id == str(record["id"])
    assert (taken["status"], taken["error_reason"]) == ("incomplete", "OUTCOME_UNKNOWN")
    assert response.charged_micros == taken["charged_micros"] == taken["held_micros"]
    assert await lab.available(agent) == CREDIT - taken["held_micros"]
    assert await lab.pending(agent) == 0


async def _async(value: Any) -> Any:
    return value

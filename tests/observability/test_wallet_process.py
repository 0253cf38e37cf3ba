"""A real wallet process (``python -m services.wallet``) serves ``/metrics`` on its own listener:
RPC counts, error reasons and latencies move with real calls, holds outstanding and the ledger
verification result are reported, trace context reaches its logs, and SIGTERM stops it cleanly."""

from __future__ import annotations

import asyncio
import secrets
import time

import grpc
import httpx
import pytest
from tokenmart.wallet.v1 import wallet_pb2

from services.common.status import error_info
from services.common.tracing import Trace
from tests.conftest import AuthServerHandle
from tests.observability.conftest import Scrape, ServiceProcess, WalletProcessHandle, scrape
from tests.wallet.helpers import CREDIT, rid, world_for

pytestmark = pytest.mark.slow

WALLET = "/tokenmart.wallet.v1.WalletService"
HOLD_MICROS = 3 * CREDIT


def hold(amount: int, *, hold_id: str | None = None) -> wallet_pb2.CreateHoldRequest:
    return wallet_pb2.CreateHoldRequest(
        request_id=rid(),
        hold_id=hold_id or rid(),
        amount_micros=amount,
        timeout_s=3600,
        code=wallet_pb2.TRANSFER_CODE_INFERENCE,
        reference=rid(),
    )


async def until_scraped(process: ServiceProcess, name: str, expected: float) -> Scrape:
    """Scrape until ``name`` reads ``expected`` (gauges are refreshed per scrape); bounded."""
    for _ in range(100):
        scraped = await scrape(process.metrics_url)
        if scraped.value(name) == expected:
            return scraped
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} never read {expected}: {scraped.value(name)}")


async def test_a_wallet_process_reports_its_rpcs_holds_and_ledger_verification(
    wallet_process: ServiceProcess, auth_server: AuthServerHandle
) -> None:
    # Before any hold, on a fresh ledger: nothing outstanding, and no verification result yet
    # (absent, not 0: a process that never verified must not look like a failed verification).
    first = await until_scraped(wallet_process, "tokenmart_wallet_holds_pending", 0)
    assert first.value("tokenmart_wallet_holds_pending_micros") == 0
    assert first.value("tokenmart_wallet_ledger_verification_ok") is None
    assert first.value("tokenmart_metrics_refresh_ok", source="wallet_holds") == 1
    assert first.value("process_start_time_seconds") is not None

    async with world_for(WalletProcessHandle(wallet_process), auth_server) as world:  # type: ignore[arg-type]
        agent = await world.funded_agent(10 * CREDIT)
        key = await world.key(agent)
        token = await world.token(key.raw)
        created = await world.provider.CreateHold(hold(HOLD_MICROS), metadata=token)
        assert created.hold.status == wallet_pb2.HOLD_STATUS_PENDING

        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await world.provider.CreateHold(hold(HOLD_MICROS, hold_id="not-a-uuid"), metadata=token)
        info = error_info(refused.value)
        assert info is not None and refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT

        held = await until_scraped(wallet_process, "tokenmart_wallet_holds_pending", 1)
        assert held.value("tokenmart_wallet_holds_pending_micros") == HOLD_MICROS
        assert held.value("tokenmart_wallet_holds_overdue") == 0

        verified = await world.verify()
        assert verified.ok and verified.transfers_checked > 0

    after = await scrape(wallet_process.metrics_url)
    create_hold = f"{WALLET}/CreateHold"
    requests = "tokenmart_grpc_server_requests_total"
    assert after.value(requests, service="wallet", method=create_hold, code="OK") == 1
    assert after.value(requests, service="wallet", method=create_hold, code="INVALID_ARGUMENT") == 1
    assert (
        after.value(
            "tokenmart_grpc_server_errors_total",
            service="wallet",
            method=create_hold,
            reason=info.reason,
        )
        == 1
    )
    latency = "tokenmart_grpc_server_latency_seconds_count"
    assert after.value(latency, service="wallet", method=create_hold) == 2
    assert after.value(requests, service="wallet", method=f"{WALLET}/Mint", code="OK") == 1
    # Wallet's own calls to auth (its public keys, to verify the access tokens above).
    public_keys = "/tokenmart.auth.v1.AuthService/GetPublicKeys"
    assert after.total("tokenmart_grpc_client_requests_total", method=public_keys, code="OK") >= 1
    # The verification the operator ran, as this process saw it.
    assert after.value("tokenmart_wallet_ledger_verification_ok") == 1
    assert after.value("tokenmart_wallet_ledger_verification_failures") == 0
    assert (
        after.value("tokenmart_wallet_ledger_verification_transfers_checked")
        == verified.transfers_checked
    )
    stamped = after.value("tokenmart_wallet_ledger_verification_timestamp_seconds")
    assert stamped is not None and stamped <= time.time()
    # No id or credential of the calls above is in any label.
    for secret in (agent.agent_id, agent.wallet_id, key.raw, key.key_id, created.hold.hold_id):
        assert secret not in after.text


async def test_trace_context_reaches_the_process_logs_and_sigterm_stops_it_cleanly(
    wallet_process: ServiceProcess,
) -> None:
    sent = Trace.mint()
    request_id = f"obs-{secrets.token_hex(6)}"
    async with wallet_process.channel("gateway") as channel:
        with pytest.raises(grpc.aio.AioRpcError):  # no access token: refused, and still logged
            await WalletProcessHandle.stub(channel).GetBalance(
                wallet_pb2.GetBalanceRequest(),
                metadata=(("traceparent", sent.traceparent), ("x-request-id", request_id)),
                timeout=10,
            )

    assert wallet_process.terminate() == 0
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as client:
            await client.get(wallet_process.metrics_url, timeout=5)
    lines = [
        entry
        for entry in wallet_process.log_entries()
        if entry.get("msg") == "rpc" and entry.get("method") == f"{WALLET}/GetBalance"
    ]
    assert len(lines) == 1
    assert lines[0]["trace_id"] == sent.trace_id
    assert lines[0]["request_id"] == request_id
    # The process logged its start of the metrics listener and its clean stop.
    messages = [entry.get("msg") for entry in wallet_process.log_entries()]
    assert "metrics listener started" in messages and "stopped" in messages

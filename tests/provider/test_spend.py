"""Hold -> call -> capture -> release, checked against the real wallet to the micro-credit, and
the spend attacks: concurrent calls against a small balance (D1) and against a key's credit limit
(D2), and streams cut by the client or by upstream (D3)."""

from __future__ import annotations

import asyncio
import math
import secrets
from collections.abc import Callable
from typing import Any

import grpc
import orjson
import pytest
from tokenmart.provider.v1 import provider_pb2
from tokenmart.wallet.v1 import wallet_pb2

from tests.conftest import ProviderServerHandle
from tests.provider.helpers import (
    ANTHROPIC,
    CREDIT,
    HAIKU,
    LLAMA,
    MINI,
    OPENAI,
    Agent,
    Lab,
    ProviderRows,
    anthropic_body,
    code_and_reason,
    lab_for,
    openai_body,
    rid,
    sse_json,
)

StartProvider = Callable[..., ProviderServerHandle]
PRICES = {
    MINI: (150_000, 600_000),
    HAIKU: (800_000, 4_000_000),
    LLAMA: (130_000, 400_000),
}


def price(model: str, input_tokens: int, output_tokens: int) -> int:
    per_input, per_output = PRICES[model]
    return math.ceil(input_tokens * per_input / 1_000_000) + math.ceil(
        output_tokens * per_output / 1_000_000
    )


async def _settled(
    rows: ProviderRows, generation_id: str, timeout_s: float = 20.0
) -> dict[str, Any]:
    """The generation once its settlement is no longer pending (the re-driver may finish it)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        record = rows.generation(generation_id)
        if record["settlement_status"] != "pending" and record["status"] != "in_progress":
            return record
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"generation {generation_id} never settled: {record}")
        await asyncio.sleep(0.1)


async def _latest(rows: ProviderRows, agent: Agent, timeout_s: float = 20.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        found = rows.rows(
            "SELECT id FROM generations WHERE agent_id = %s ORDER BY created_at DESC LIMIT 1",
            agent.agent_id,
        )
        if found:
            return await _settled(rows, str(found[0][0]), timeout_s)
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("no generation recorded")
        await asyncio.sleep(0.1)


# -- billing to the micro-credit ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "dialect"),
    [(MINI, OPENAI), (HAIKU, OPENAI), (LLAMA, OPENAI), (MINI, ANTHROPIC), (HAIKU, ANTHROPIC)],
)
async def test_a_request_costs_exactly_its_reported_usage_at_registry_prices(
    lab: Lab, rows: ProviderRows, model: str, dialect: int
) -> None:
    agent = await lab.agent(funds=CREDIT)
    body = (
        openai_body("price me [standin:tokens=40]", model=model)
        if dialect == OPENAI
        else anthropic_body("price me [standin:tokens=40]", model=model, max_tokens=100)
    )
    response = await lab.chat(agent, body, dialect=dialect)
    expected = price(model, response.usage.input_tokens, response.usage.output_tokens)
    assert response.usage.output_tokens == 40
    assert response.charged_micros == expected > 0
    assert response.settlement_status == provider_pb2.SETTLEMENT_STATUS_SETTLED
    assert response.key_source == provider_pb2.KEY_SOURCE_PLATFORM
    assert await lab.available(agent) == CREDIT - expected
    assert await lab.pending(agent) == 0
    record = rows.generation(response.generation_id)
    assert record["price_micros"] == record["charge_micros"] == record["charged_micros"] == expected
    assert record["held_micros"] >= expected
    assert record["usage_source"] == "upstream_reported" and record["shortfall_micros"] == 0


@pytest.mark.parametrize(
    ("model", "dialect"), [(MINI, OPENAI), (HAIKU, ANTHROPIC), (HAIKU, OPENAI)]
)
async def test_a_stream_costs_exactly_its_reported_usage(
    lab: Lab, model: str, dialect: int
) -> None:
    agent = await lab.agent(funds=CREDIT)
    body = (
        openai_body("stream [standin:tokens=25]", model=model, stream=True)
        if dialect == OPENAI
        else anthropic_body("stream [standin:tokens=25]", model=model, stream=True)
    )
    messages = await lab.stream(agent, body, dialect=dialect)
    assert messages[0].WhichOneof("event") == "started"
    finished = messages[-1].finished
    assert finished.status == provider_pb2.GENERATION_STATUS_SUCCEEDED
    assert finished.usage_source == provider_pb2.USAGE_SOURCE_UPSTREAM_REPORTED
    assert finished.usage.output_tokens == 25
    expected = price(model, finished.usage.input_tokens, finished.usage.output_tokens)
    assert finished.charged_micros == expected
    assert finished.settlement_status == provider_pb2.SETTLEMENT_STATUS_SETTLED
    assert await lab.available(agent) == CREDIT - expected
    assert await lab.pending(agent) == 0


async def test_upstream_is_asked_for_stream_usage_and_the_client_gets_it_only_if_asked(
    lab: Lab,
) -> None:
    agent = await lab.agent(funds=CREDIT)
    tag = secrets.token_hex(6)
    silent = await lab.stream(agent, openai_body(f"[standin:marker={tag}]", stream=True))
    upstream = lab.server.standin.recorded(tag)[0]["body"]
    assert upstream["stream_options"] == {"include_usage": True}
    assert all("usage" not in item for item in sse_json(silent) if isinstance(item, dict))
    assert silent[-1].finished.usage.output_tokens > 0  # billed from upstream's usage anyway
    asked = await lab.stream(
        agent, openai_body("x", stream=True, stream_options={"include_usage": True})
    )
    usage_chunks = [
        item for item in sse_json(asked) if isinstance(item, dict) and item.get("usage")
    ]
    assert len(usage_chunks) == 1 and usage_chunks[0]["choices"] == []


# -- missing usage, overage ---------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
async def test_missing_usage_captures_the_whole_hold(
    lab: Lab, rows: ProviderRows, stream: bool
) -> None:
    """No free output: when upstream does not say what it used, the worst case is billed."""
    agent = await lab.agent(funds=CREDIT)
    body = openai_body("[standin:no_usage]", model=MINI, max_tokens=50, stream=stream)
    if stream:
        messages = await lab.stream(agent, body)
        finished = messages[-1].finished
        assert finished.usage_source == provider_pb2.USAGE_SOURCE_HOLD_CAPTURED
        charged = finished.charged_micros
    else:
        response = await lab.chat(agent, body)
        charged = response.charged_micros
    record = await _latest(rows, agent)
    assert record["usage_source"] == "hold_captured"
    assert charged == record["held_micros"] == record["charged_micros"] > 0
    assert record["output_tokens"] == 50  # the clamped limit that was held for
    assert await lab.available(agent) == CREDIT - charged


async def test_misreported_usage_beyond_the_hold_is_bounded_by_the_wallet(
    lab: Lab, rows: ProviderRows
) -> None:
    """An upstream reporting more than it was allowed to produce: the excess is charged only as
    far as the wallet goes, the rest is recorded as shortfall, the balance never goes negative."""
    agent = await lab.agent(funds=2000)
    response = await lab.chat(
        agent, openai_body("[standin:tokens=10] [standin:usage_multiplier=10000]", max_tokens=10)
    )
    record = rows.generation(response.generation_id)
    assert record["output_tokens"] == 100_000
    assert record["charge_micros"] == record["price_micros"] > 2000
    assert record["charged_micros"] == response.charged_micros <= 2000
    assert record["charged_micros"] + record["shortfall_micros"] == record["charge_micros"]
    assert await lab.available(agent) == 2000 - record["charged_micros"] >= 0


# -- BYOK ---------------------------------------------------------------------------------------


async def _byok(lab: Lab, agent: Agent, *, provider: int, secret: str | None = None) -> str:
    secret = secret or f"sk-byok-{secrets.token_hex(12)}"
    await lab.provider.CreateProviderKey(
        provider_pb2.CreateProviderKeyRequest(
            request_id=rid(),
            provider=provider,
            secret=secret,
            scope=provider_pb2.PROVIDER_KEY_SCOPE_AGENT,
        ),
        metadata=await lab.token(await lab.management_key(agent)),
    )
    return secret


async def test_byok_at_the_default_fee_needs_no_credits_and_charges_nothing(
    lab: Lab, rows: ProviderRows
) -> None:
    agent = await lab.agent(funds=0)
    await _byok(lab, agent, provider=provider_pb2.UPSTREAM_PROVIDER_OPENAI)
    response = await lab.chat(agent, openai_body("on my own key"))
    assert response.key_source == provider_pb2.KEY_SOURCE_BYOK_AGENT
    assert response.charged_micros == 0
    assert response.settlement_status == provider_pb2.SETTLEMENT_STATUS_NOT_REQUIRED
    record = rows.generation(response.generation_id)
    assert record["held_micros"] == 0 and record["hold_id"] is None
    assert record["price_micros"] > 0  # what the platform key would have cost, recorded
    assert await lab.available(agent) == 0


async def test_byok_pays_the_configured_platform_fee(
    start_provider_server: StartProvider, lab: Lab, rows: ProviderRows
) -> None:
    fee_server = start_provider_server(env={"BYOK_FEE_BPS": "500"})
    agent = await lab.agent(funds=CREDIT)
    await _byok(lab, agent, provider=provider_pb2.UPSTREAM_PROVIDER_ANTHROPIC)
    async with lab_for(fee_server, lab.server_auth, lab.server_wallet) as other:
        response = await other.chat(agent, openai_body("[standin:tokens=300]", model=HAIKU))
    record = rows.generation(response.generation_id)
    expected_price = price(HAIKU, response.usage.input_tokens, response.usage.output_tokens)
    assert record["key_source"] == "byok_agent" and record["fee_bps"] == 500
    assert record["price_micros"] == expected_price
    assert response.charged_micros == math.ceil(expected_price * 500 / 10_000) > 0
    assert await lab.available(agent) == CREDIT - response.charged_micros
    hold = await lab.wallet_ctl.GetHold(
        wallet_pb2.GetHoldRequest(hold_id=str(record["hold_id"])),
        metadata=await lab.operator(2),
    )
    assert hold.hold.code == wallet_pb2.TRANSFER_CODE_PLATFORM_FEE


# -- D1: concurrent calls against a small balance -----------------------------------------------


async def test_d1_concurrent_calls_never_spend_more_than_the_balance(
    lab: Lab, rows: ProviderRows
) -> None:
    body = openai_body("race [standin:tokens=20] [standin:chunk_delay_ms=5]", max_tokens=2000)
    probe = await lab.agent(funds=CREDIT)
    held = rows.generation((await lab.chat(probe, body)).generation_id)["held_micros"]
    funds = held * 3 + held // 2  # room for three holds at once, not four
    agent = await lab.agent(funds=funds)
    metadata = await lab.token(agent.inference_key)

    refusals: list[tuple[grpc.StatusCode, str | None]] = []

    async def one(index: int) -> str | None:
        try:
            if index % 2:
                call = lab.stream_call({**body, "stream": True}, metadata)
                messages = [message async for message in call]
                return messages[0].started.generation_id
            return (await lab.chat(agent, body, metadata=metadata)).generation_id
        except grpc.aio.AioRpcError as error:
            refusals.append(code_and_reason(error))
            return None

    results = await asyncio.gather(*(one(index) for index in range(24)))
    served = [item for item in results if item]
    assert set(refusals) == {(grpc.StatusCode.FAILED_PRECONDITION, "INSUFFICIENT_FUNDS")}
    assert 1 <= len(served) < 24
    records = [await _settled(rows, item) for item in served]
    charged = sum(record["charged_micros"] for record in records)
    after = await lab.available(agent)
    assert after >= 0
    assert funds - after == charged <= funds
    assert await lab.pending(agent) == 0
    for record in records:  # no free output: every answer was paid in full
        assert record["status"] == "succeeded"
        assert record["charged_micros"] == record["charge_micros"] > 0
        assert record["shortfall_micros"] == 0
    refused = rows.value(
        "SELECT count(*) FROM generations WHERE agent_id = %s AND error_reason = "
        "'INSUFFICIENT_FUNDS'",
        agent.agent_id,
    )
    assert refused == 24 - len(served)


# -- D2: concurrent calls against a key's credit limit ------------------------------------------


async def test_d2_concurrent_calls_never_spend_more_than_the_keys_limit(
    lab: Lab, rows: ProviderRows
) -> None:
    body = openai_body("budget [standin:tokens=30]", max_tokens=1000)
    probe = await lab.agent(funds=CREDIT)
    held = rows.generation((await lab.chat(probe, body)).generation_id)["held_micros"]
    limit = held * 2 + held // 3
    agent = await lab.agent(funds=50 * CREDIT, credit_limit_micros=limit)
    metadata = await lab.token(agent.inference_key)

    refusals: list[tuple[grpc.StatusCode, str | None]] = []

    async def one() -> str | None:
        try:
            return (await lab.chat(agent, body, metadata=metadata)).generation_id
        except grpc.aio.AioRpcError as error:
            refusals.append(code_and_reason(error))
            return None

    served = [item for item in await asyncio.gather(*(one() for _ in range(16))) if item]
    assert served
    # Key budgets are lifetime limits: keep going until the budget is spent, sequentially too.
    while True:
        extra = await one()
        if extra is None:
            break
        served.append(extra)
    assert set(refusals) == {(grpc.StatusCode.FAILED_PRECONDITION, "KEY_BUDGET_EXCEEDED")}
    records = [await _settled(rows, item) for item in served]
    spent = sum(record["charged_micros"] for record in records)
    assert spent <= limit
    assert 50 * CREDIT - await lab.available(agent) == spent
    hold = await lab.wallet_ctl.GetHold(
        wallet_pb2.GetHoldRequest(hold_id=str(records[0]["hold_id"])),
        metadata=await lab.operator(2),
    )
    budget = await lab.ledger_account(
        wallet_pb2.AccountRef(ledger_account_id=hold.hold.key_budget_account_id)
    )
    assert budget.debits_posted_micros == spent <= budget.credits_posted_micros == limit
    assert budget.debits_pending_micros == 0


# -- D3: streams cut by the client or by upstream -----------------------------------------------


@pytest.mark.parametrize(("model", "dialect"), [(MINI, OPENAI), (HAIKU, ANTHROPIC)])
async def test_d3_a_client_that_disconnects_mid_stream_pays_for_what_was_produced(
    lab: Lab, rows: ProviderRows, model: str, dialect: int
) -> None:
    agent = await lab.agent(funds=CREDIT)
    text = "[standin:tokens=400] [standin:chunk_delay_ms=20]"
    body = (
        openai_body(text, model=model, stream=True)
        if dialect == OPENAI
        else anthropic_body(text, model=model, max_tokens=1000, stream=True)
    )
    call = lab.stream_call(body, await lab.token(agent.inference_key), dialect=dialect)
    generation_id = ""
    chunks = 0
    async for message in call:
        if message.WhichOneof("event") == "started":
            generation_id = message.started.generation_id
        elif message.WhichOneof("event") == "chunk":
            chunks += 1
            if chunks == 8:
                break
    call.cancel()
    record = await _settled(rows, generation_id)
    assert record["status"] == "cancelled" and record["error_reason"] == "CANCELLED"
    assert record["usage_source"] == "counted"
    # At least what reached the client, and far from the 400 tokens upstream would have made.
    assert 5 <= record["output_tokens"] < 200
    expected = price(model, record["input_tokens"], record["output_tokens"])
    assert record["charged_micros"] == record["charge_micros"] == expected > 0
    assert await lab.available(agent) == CREDIT - expected
    assert await lab.pending(agent) == 0


@pytest.mark.parametrize(
    ("model", "dialect"), [(MINI, OPENAI), (HAIKU, ANTHROPIC), (MINI, ANTHROPIC)]
)
async def test_d3_an_upstream_that_dies_mid_stream_is_billed_for_what_it_produced(
    lab: Lab, rows: ProviderRows, model: str, dialect: int
) -> None:
    agent = await lab.agent(funds=CREDIT)
    text = "[standin:tokens=50] [standin:disconnect_after=6]"
    body = (
        openai_body(text, model=model, stream=True)
        if dialect == OPENAI
        else anthropic_body(text, model=model, max_tokens=100, stream=True)
    )
    messages = await lab.stream(agent, body, dialect=dialect)
    assert messages[0].WhichOneof("event") == "started"
    finished = messages[-1].finished
    assert finished.status == provider_pb2.GENERATION_STATUS_INCOMPLETE
    assert finished.error_reason == "UPSTREAM_UNAVAILABLE"
    assert finished.usage_source == provider_pb2.USAGE_SOURCE_COUNTED
    assert finished.usage.output_tokens >= 6
    expected = price(model, finished.usage.input_tokens, finished.usage.output_tokens)
    assert finished.charged_micros == expected > 0
    # The client was told, in its own dialect, before `finished`.
    if dialect == OPENAI:
        assert messages[-3].chunk.data.startswith(b'data: {"error"')
        assert messages[-2].chunk.data == b"data: [DONE]\n\n"
    else:
        assert messages[-2].chunk.data.startswith(b"event: error\n")
    assert await lab.available(agent) == CREDIT - expected
    assert await lab.pending(agent) == 0


async def test_d3_an_upstream_error_event_mid_stream_ends_it_incomplete(lab: Lab) -> None:
    agent = await lab.agent(funds=CREDIT)
    messages = await lab.stream(
        agent,
        anthropic_body("[standin:tokens=30] [standin:error_event_after=4]", stream=True),
        dialect=ANTHROPIC,
    )
    finished = messages[-1].finished
    assert finished.status == provider_pb2.GENERATION_STATUS_INCOMPLETE
    assert finished.usage_source == provider_pb2.USAGE_SOURCE_COUNTED
    assert finished.charged_micros > 0
    error_event = messages[-2].chunk.data
    assert error_event.startswith(b"event: error\n") and b"overloaded_error" in error_event
    assert await lab.available(agent) == CREDIT - finished.charged_micros


async def test_a_client_gone_before_a_unary_answer_is_still_billed_by_reported_usage(
    lab: Lab, rows: ProviderRows
) -> None:
    agent = await lab.agent(funds=CREDIT)
    call = lab.provider.ChatCompletion(
        provider_pb2.ChatCompletionRequest(
            request_id=rid(),
            dialect=OPENAI,
            body=orjson.dumps(openai_body("[standin:delay_ms=1000]")),
            model=MINI,
        ),
        metadata=await lab.token(agent.inference_key),
        timeout=60,
    )
    await asyncio.sleep(0.5)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    record = await _latest(rows, agent)
    assert record["status"] == "cancelled"
    assert record["usage_source"] == "upstream_reported"
    expected = price(MINI, record["input_tokens"], record["output_tokens"])
    assert record["charged_micros"] == expected > 0
    assert await lab.available(agent) == CREDIT - expected


async def test_the_ledger_still_verifies(lab: Lab) -> None:
    report = await lab.verify_ledger()
    assert report.ok, [failure.detail for failure in report.failures]

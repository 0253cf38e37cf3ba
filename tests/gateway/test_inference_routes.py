"""The inference routes end to end with the official SDKs: openai and anthropic → in-process
gateway → real auth, wallet and provider servers → the stand-in upstream. Every completion is
checked against the wallet to the micro-credit: the balance drops by exactly the generation's
``charged_micros`` as GET generation/{id} reports it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx
import httpx2
import openai
import orjson
import pytest

from tests.conftest import AuthServerHandle, ProviderServerHandle, WalletServerHandle
from tests.edge import CLIENT_IP, MakeGateway
from tests.flows import Agent, Api, AuthRows, Session, bearer, some_client_ip
from tests.security.conftest import Edge
from tests.security.test_wallet_edge import balance, funded_agent

MINI = "openai/gpt-4o-mini"
HAIKU = "anthropic/claude-3-5-haiku"
BASE = "http://testserver/api/v1/tokenhall"
FUNDS = 5_000_000
LOOKUP_OPENAI = {
    "type": "function",
    "function": {
        "name": "lookup",
        "description": "Look a word up.",
        "parameters": {
            "type": "object",
            "properties": {"word": {"type": "string"}},
            "required": ["word"],
        },
    },
}
LOOKUP_ANTHROPIC = {
    "name": "lookup",
    "description": "Look a word up.",
    "input_schema": {
        "type": "object",
        "properties": {"word": {"type": "string"}},
        "required": ["word"],
    },
}


@dataclass
class Caller:
    owner: Session
    agent: Agent
    th_key: str


@pytest.fixture
async def hall(
    make_gateway: MakeGateway,
    auth_server: AuthServerHandle,
    wallet_server: WalletServerHandle,
    provider_server: ProviderServerHandle,
) -> AsyncIterator[Edge]:
    gateway = make_gateway(
        ports={
            "auth": auth_server.port,
            "wallet": wallet_server.port,
            "provider": provider_server.port,
        }
    )
    # Requests come through the trusted proxy from an address of this test's own, so the
    # per-address limits other tests spent on the proxy's address are not what is measured.
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gateway.app, client=(CLIENT_IP, 40000)),
        base_url="http://testserver",
        headers={"X-Forwarded-For": some_client_ip()},
    )
    yield Edge(
        gateway=gateway, api=Api(client), auth=auth_server, rows=AuthRows(auth_server.owner_url)
    )
    await client.aclose()


def transport(edge: Edge) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=edge.gateway.app, client=(CLIENT_IP, 40000))
    )


def openai_client(edge: Edge, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=BASE,
        api_key=key,
        http_client=transport(edge),
        max_retries=0,
        # Refused credentials count against the client address: spread them (the test client
        # stands behind a trusted proxy).
        default_headers={"X-Forwarded-For": some_client_ip()},
    )


def anthropic_client(edge: Edge, key: str) -> anthropic.AsyncAnthropic:
    # anthropic 2.14 runs on httpx2 (a fork with the same API), not httpx.
    http_client = httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=edge.gateway.app, client=(CLIENT_IP, 40000))
    )
    return anthropic.AsyncAnthropic(
        base_url=f"{BASE}/anthropic",
        api_key=key,
        http_client=http_client,
        max_retries=0,
        default_headers={"X-Forwarded-For": some_client_ip()},
    )


async def inference_caller(edge: Edge, amount: int = FUNDS) -> Caller:
    admin = await edge.admin_session()
    owner, agent = await funded_agent(edge, admin, amount) if amount else await _unfunded(edge)
    key = await edge.api.create_key(owner.headers(), agent_id=agent.agent_id)
    return Caller(owner=owner, agent=agent, th_key=key["raw_key"])


async def _unfunded(edge: Edge) -> tuple[Session, Agent]:
    owner = await edge.api.new_session()
    return owner, await edge.api.owned_agent(owner)


async def settled_generation(edge: Edge, key: str, generation_id: str) -> dict[str, Any]:
    """The generation's record once settlement is done (a stream may settle just after).

    Each look counts against the key's own per-minute limit, so the polling slows down as it
    goes and waits out a 429 as a client would, rather than spending the key's budget."""
    record: dict[str, Any] = {}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60.0
    pause = 0.05
    while loop.time() < deadline:
        response = await edge.api.client.get(
            f"/api/v1/tokenhall/generation/{generation_id}", headers=bearer(key)
        )
        if response.status_code == 429:
            await asyncio.sleep(min(float(response.headers.get("Retry-After", "1")), 5.0))
            continue
        assert response.status_code == 200, response.text
        record = response.json()["data"]
        if record["settlement_status"] != "pending" and record["status"] != "in_progress":
            return record
        await asyncio.sleep(pause)
        pause = min(pause * 1.5, 1.0)
    raise AssertionError(f"generation never settled: {record}")


async def assert_billed(edge: Edge, caller: Caller, generation_id: str, before: int) -> None:
    record = await settled_generation(edge, caller.th_key, generation_id)
    assert record["charged_micros"] > 0
    assert record["charged_micros"] <= record["held_micros"]
    assert record["agent_id"] == caller.agent.agent_id
    after = await balance(edge, bearer(caller.th_key))
    assert before - after == record["charged_micros"]


# -- OpenAI dialect ------------------------------------------------------------------------------


async def test_openai_sdk_completion_is_billed_to_the_micro_credit(hall: Edge) -> None:
    caller = await inference_caller(hall)
    client = openai_client(hall, caller.th_key)
    raw = await client.chat.completions.with_raw_response.create(
        model=MINI, messages=[{"role": "user", "content": "Say hello."}], max_tokens=20
    )
    completion = raw.parse()
    assert completion.id.startswith("gen-")
    assert raw.headers["x-generation-id"] == completion.id
    assert completion.choices[0].message.content
    assert completion.usage is not None and completion.usage.completion_tokens > 0
    record = await settled_generation(hall, caller.th_key, completion.id)
    assert record["status"] == "succeeded"
    assert record["usage"]["output_tokens"] == completion.usage.completion_tokens
    assert record["dialect"] == "openai_chat_completions"
    await assert_billed(hall, caller, completion.id, FUNDS)


async def test_openai_sdk_streaming_is_billed_to_the_micro_credit(hall: Edge) -> None:
    caller = await inference_caller(hall)
    client = openai_client(hall, caller.th_key)
    stream = await client.chat.completions.create(
        model=MINI,
        messages=[{"role": "user", "content": "Count to five."}],
        max_tokens=30,
        stream=True,
        stream_options={"include_usage": True},
    )
    ids, text, usage = set(), [], None
    async for chunk in stream:
        ids.add(chunk.id)
        for choice in chunk.choices:
            text.append(choice.delta.content or "")
        usage = chunk.usage or usage
    assert "".join(text).strip()
    assert len(ids) == 1
    (generation_id,) = ids
    assert generation_id.startswith("gen-")
    assert usage is not None and usage.completion_tokens > 0
    record = await settled_generation(hall, caller.th_key, generation_id)
    assert record["streamed"] is True and record["status"] == "succeeded"
    await assert_billed(hall, caller, generation_id, FUNDS)


async def test_openai_sdk_tools_and_cross_dialect(hall: Edge) -> None:
    caller = await inference_caller(hall)
    client = openai_client(hall, caller.th_key)
    before = FUNDS
    for model in (MINI, HAIKU):
        completion = await client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "Define cat. [standin:tool]"}],
            tools=[LOOKUP_OPENAI],  # type: ignore[list-item]
            max_tokens=100,
        )
        choice = completion.choices[0]
        assert choice.finish_reason == "tool_calls"
        assert choice.message.tool_calls
        call = choice.message.tool_calls[0]
        assert call.function.name == "lookup"  # type: ignore[union-attr]
        assert isinstance(orjson.loads(call.function.arguments), dict)  # type: ignore[union-attr]
        await assert_billed(hall, caller, completion.id, before)
        before = await balance(hall, bearer(caller.th_key))


async def test_openai_models_list(hall: Edge) -> None:
    caller = await inference_caller(hall, amount=0)
    page = await openai_client(hall, caller.th_key).models.list()
    models = {model.id: model for model in page.data}
    assert {MINI, HAIKU} <= set(models)
    assert models[MINI].object == "model"
    assert models[MINI].owned_by == "openai"
    assert models[HAIKU].owned_by == "anthropic"
    raw = await hall.api.client.get("/api/v1/tokenhall/models", headers=bearer(caller.th_key))
    body = raw.json()
    assert body["object"] == "list"
    entry = next(item for item in body["data"] if item["id"] == MINI)
    assert isinstance(entry["created"], int)
    assert entry["pricing"]["input_per_million_tokens_micros"] > 0


async def test_openai_sdk_errors(hall: Edge) -> None:
    caller = await inference_caller(hall)
    client = openai_client(hall, caller.th_key)
    messages: Any = [{"role": "user", "content": "hi"}]
    with pytest.raises(openai.NotFoundError) as missing:
        await client.chat.completions.create(model="openai/no-such-model", messages=messages)
    assert missing.value.body["code"] == "model_not_found"  # type: ignore[index]
    assert missing.value.body["type"] == "not_found_error"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError):
        await client.chat.completions.create(
            model="openai/no-such-model", messages=messages, stream=True
        )
    with pytest.raises(openai.AuthenticationError):
        await openai_client(hall, "th_" + "x" * 40).chat.completions.create(
            model=MINI, messages=messages
        )
    with pytest.raises(openai.RateLimitError):
        await client.chat.completions.create(
            model=MINI, messages=[{"role": "user", "content": "[standin:error=429]"}]
        )
    with pytest.raises(openai.BadRequestError) as bad:
        await client.chat.completions.create(model=MINI, messages=messages, n=2)
    assert bad.value.body["type"] == "invalid_request_error"  # type: ignore[index]
    # Nothing above was billed.
    assert await balance(hall, bearer(caller.th_key)) == FUNDS


async def test_insufficient_funds_is_402_in_both_dialects(hall: Edge) -> None:
    caller = await inference_caller(hall, amount=0)
    with pytest.raises(openai.APIStatusError) as refused:
        await openai_client(hall, caller.th_key).chat.completions.create(
            model=MINI, messages=[{"role": "user", "content": "hi"}]
        )
    assert refused.value.status_code == 402
    assert refused.value.body["code"] == "insufficient_funds"  # type: ignore[index]
    assert refused.value.body["type"] == "insufficient_quota"  # type: ignore[index]
    with pytest.raises(anthropic.APIStatusError) as also:
        await anthropic_client(hall, caller.th_key).messages.create(
            model=HAIKU, max_tokens=20, messages=[{"role": "user", "content": "hi"}]
        )
    assert also.value.status_code == 402
    assert also.value.body == {  # type: ignore[comparison-overlap]
        "type": "error",
        "error": {"type": "billing_error", "message": also.value.body["error"]["message"]},  # type: ignore[index]
    }


# -- Anthropic dialect ---------------------------------------------------------------------------


async def test_anthropic_sdk_message_is_billed_to_the_micro_credit(hall: Edge) -> None:
    caller = await inference_caller(hall)
    client = anthropic_client(hall, caller.th_key)
    raw = await client.messages.with_raw_response.create(
        model=HAIKU, max_tokens=40, messages=[{"role": "user", "content": "Say hello."}]
    )
    message = await raw.parse()
    assert message.id.startswith("gen-")
    assert raw.headers["x-generation-id"] == message.id
    assert message.content[0].type == "text" and message.content[0].text
    assert message.usage.output_tokens > 0
    record = await settled_generation(hall, caller.th_key, message.id)
    assert record["dialect"] == "anthropic_messages"
    assert record["usage"]["output_tokens"] == message.usage.output_tokens
    await assert_billed(hall, caller, message.id, FUNDS)


async def test_anthropic_sdk_streaming_is_billed_to_the_micro_credit(hall: Edge) -> None:
    caller = await inference_caller(hall)
    client = anthropic_client(hall, caller.th_key)
    async with client.messages.stream(
        model=HAIKU, max_tokens=40, messages=[{"role": "user", "content": "Count to five."}]
    ) as stream:
        text = [piece async for piece in stream.text_stream]
        final = await stream.get_final_message()
    assert "".join(text).strip()
    assert final.id.startswith("gen-")
    assert final.usage.output_tokens > 0
    record = await settled_generation(hall, caller.th_key, final.id)
    assert record["streamed"] is True
    await assert_billed(hall, caller, final.id, FUNDS)


async def test_anthropic_sdk_tools_and_cross_dialect(hall: Edge) -> None:
    caller = await inference_caller(hall)
    client = anthropic_client(hall, caller.th_key)
    before = FUNDS
    for model in (HAIKU, MINI):
        message = await client.messages.create(
            model=model,
            max_tokens=100,
            tools=[LOOKUP_ANTHROPIC],  # type: ignore[list-item]
            messages=[{"role": "user", "content": "Define cat. [standin:tool]"}],
        )
        assert message.stop_reason == "tool_use"
        uses = [block for block in message.content if block.type == "tool_use"]
        assert uses and uses[0].name == "lookup"
        await assert_billed(hall, caller, message.id, before)
        before = await balance(hall, bearer(caller.th_key))


async def test_anthropic_sdk_errors(hall: Edge) -> None:
    caller = await inference_caller(hall)
    client = anthropic_client(hall, caller.th_key)
    with pytest.raises(anthropic.NotFoundError) as missing:
        await client.messages.create(
            model="anthropic/no-such-model",
            max_tokens=10,
            messages=[{"role": "user", "content": "hi"}],
        )
    assert missing.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    with pytest.raises(anthropic.AuthenticationError):
        await anthropic_client(hall, "th_" + "y" * 40).messages.create(
            model=HAIKU, max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    with pytest.raises(anthropic.BadRequestError) as bad:
        await client.messages.create(
            model=HAIKU, max_tokens=0, messages=[{"role": "user", "content": "hi"}]
        )
    assert bad.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert await balance(hall, bearer(caller.th_key)) == FUNDS


async def test_the_messages_route_and_x_api_key(hall: Edge) -> None:
    caller = await inference_caller(hall)
    response = await hall.api.client.post(
        "/api/v1/tokenhall/messages",
        json={"model": HAIKU, "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-api-key": caller.th_key, "anthropic-version": "2023-06-01"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "message" and body["id"] == response.headers["x-generation-id"]
    await assert_billed(hall, caller, body["id"], FUNDS)


# -- Streams, envelopes, idempotency ------------------------------------------------------------


async def test_mid_stream_failure_is_the_dialect_error_event_and_bills_the_output(
    hall: Edge,
) -> None:
    caller = await inference_caller(hall)
    response = await hall.api.client.post(
        "/api/v1/tokenhall/chat/completions",
        json={
            "model": MINI,
            "stream": True,
            "max_tokens": 30,
            "messages": [{"role": "user", "content": "[standin:error_event_after=3]"}],
        },
        headers=bearer(caller.th_key),
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert b'"error"' in response.content
    generation_id = response.headers["x-generation-id"]
    record = await settled_generation(hall, caller.th_key, generation_id)
    assert record["status"] == "incomplete"
    await assert_billed(hall, caller, generation_id, FUNDS)


async def test_anthropic_stream_ends_with_message_stop(hall: Edge) -> None:
    caller = await inference_caller(hall)
    response = await hall.api.client.post(
        "/api/v1/tokenhall/anthropic/v1/messages",
        json={
            "model": HAIKU,
            "stream": True,
            "max_tokens": 20,
            "messages": [{"role": "user", "content": "hi"}],
        },
        headers=bearer(caller.th_key),
    )
    assert response.status_code == 200
    events = [line for line in response.text.splitlines() if line.startswith("event:")]
    assert events[0] == "event: message_start"
    assert events[-1] == "event: message_stop"
    await assert_billed(hall, caller, response.headers["x-generation-id"], FUNDS)


async def test_every_error_on_the_inference_paths_takes_the_dialect_envelope(hall: Edge) -> None:
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=hall.gateway.app, client=(CLIENT_IP, 40000)),
        base_url="http://testserver",
        headers={"X-Forwarded-For": some_client_ip()},
    )
    openai_paths = ("/api/v1/tokenhall/chat/completions",)
    anthropic_paths = ("/api/v1/tokenhall/messages", "/api/v1/tokenhall/anthropic/v1/messages")
    for path in openai_paths + anthropic_paths:
        cases = [
            (await client.post(path, json={"model": MINI}), 401),
            (await client.post(path, content=b"{", headers=bearer("th_" + "z" * 40)), 415),
            (
                await client.post(
                    path,
                    content=b"{nope",
                    headers={**bearer("th_" + "z" * 40), "content-type": "application/json"},
                ),
                400,
            ),
            (await client.get(path), 405),
        ]
        for response, status in cases:
            assert response.status_code == status, (path, response.text)
            body = response.json()
            if path in openai_paths:
                assert set(body["error"]) == {"message", "type", "code", "param"}, body
                assert body["error"]["param"] is None
            else:
                assert body["type"] == "error" and set(body["error"]) == {"type", "message"}
    missing = await client.post("/api/v1/tokenhall/chat/nothing-here", json={})
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "not_found_error"
    # Platform routes keep the platform envelope.
    platform = await client.get("/api/v1/tokenhall/credits")
    assert set(platform.json()["error"]) == {"code", "message", "reason"}


async def test_an_idempotent_retry_is_409_and_billed_once(hall: Edge) -> None:
    caller = await inference_caller(hall)
    headers = {**bearer(caller.th_key), "Idempotency-Key": str(uuid.uuid4())}
    body = {"model": MINI, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    first = await hall.api.client.post(
        "/api/v1/tokenhall/chat/completions", json=body, headers=headers
    )
    assert first.status_code == 200, first.text
    again = await hall.api.client.post(
        "/api/v1/tokenhall/chat/completions", json=body, headers=headers
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "generation_exists"
    await assert_billed(hall, caller, first.headers["x-generation-id"], FUNDS)


async def test_a_client_that_goes_away_cancels_the_stream_and_is_billed(hall: Edge) -> None:
    """Raw ASGI: the client disconnects after the first event; provider bills what it made."""
    caller = await inference_caller(hall)
    payload = orjson.dumps(
        {
            "model": MINI,
            "stream": True,
            "max_tokens": 200,
            "messages": [
                {"role": "user", "content": "[standin:tokens=200] [standin:chunk_delay_ms=50]"}
            ],
        }
    )
    got_event = asyncio.Event()
    sent: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": payload, "more_body": False}
        await got_event.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and message.get("body"):
            got_event.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/tokenhall/chat/completions",
        "raw_path": b"/api/v1/tokenhall/chat/completions",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
            (b"authorization", f"Bearer {caller.th_key}".encode()),
            (b"x-forwarded-for", some_client_ip().encode()),
        ],
        "client": (CLIENT_IP, 40000),
        "server": ("testserver", 80),
    }
    await asyncio.wait_for(hall.gateway.app(scope, receive, send), timeout=20)
    start = next(message for message in sent if message["type"] == "http.response.start")
    assert start["status"] == 200
    generation_id = dict(start["headers"])[b"x-generation-id"].decode()
    record = await settled_generation(hall, caller.th_key, generation_id)
    assert record["status"] == "cancelled"
    assert 0 < record["usage"]["output_tokens"] < 200
    await assert_billed(hall, caller, generation_id, FUNDS)

"""Every error path of ChatCompletion and StreamChatCompletion, with its code AND reason, over
the real servers; each refused request also leaves the wallet as it was (no charge, no hold
left open) and, where upstream was reached, a generation that says why it failed."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from typing import Any

import grpc
import orjson
import pytest
from tokenmart.auth.v1 import auth_pb2
from tokenmart.provider.v1 import provider_pb2

from services.common.status import error_info
from tests.conftest import (
    ProviderServerHandle,
    ServiceDatabase,
    StandinHandle,
    WalletServerHandle,
)
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
    lab_for,
    marker,
    openai_body,
    refused,
    rid,
)

StartProvider = Callable[..., ProviderServerHandle]


async def _unchanged(lab: Lab, agent: Agent, before: int) -> None:
    assert await lab.available(agent) == before
    assert await lab.pending(agent) == 0


def _generation_of(rows: ProviderRows, agent: Agent) -> dict[str, Any]:
    found = rows.rows(
        "SELECT id FROM generations WHERE agent_id = %s ORDER BY created_at DESC LIMIT 1",
        agent.agent_id,
    )
    assert found, "no generation was recorded"
    return rows.generation(str(found[0][0]))


# -- who may call -------------------------------------------------------------------------------


async def test_inference_needs_an_access_token(lab: Lab) -> None:
    agent = await lab.agent(funds=CREDIT)
    await refused(
        lab.provider.ChatCompletion(
            provider_pb2.ChatCompletionRequest(
                request_id=rid(), dialect=OPENAI, body=orjson.dumps(openai_body("x")), model=MINI
            )
        ),
        grpc.StatusCode.UNAUTHENTICATED,
        "ACCESS_TOKEN_MISSING",
    )
    assert await lab.available(agent) == CREDIT


async def test_an_inference_token_not_addressed_to_wallet_is_refused(lab: Lab) -> None:
    agent = await lab.agent(funds=CREDIT)
    provider_only = await lab.token(agent.inference_key, audiences=(auth_pb2.AUDIENCE_PROVIDER,))
    await refused(
        lab.chat(agent, openai_body("x"), metadata=provider_only),
        grpc.StatusCode.UNAUTHENTICATED,
        "ACCESS_TOKEN_INVALID",
    )
    await _unchanged(lab, agent, CREDIT)


async def test_only_inference_keys_may_run_inference(lab: Lab) -> None:
    """THREATS I3: a tokenmart_ key, a thm_ key or a session never runs inference."""
    agent = await lab.agent(funds=CREDIT)
    assert agent.owner is not None
    management = await lab.management_key(agent)
    for credential, acting in (
        (agent.agent_key, ""),
        (management, ""),
        (agent.owner.session_token, agent.agent_id),
    ):
        metadata = await lab.token(credential, agent_id=acting)
        await refused(
            lab.chat(agent, openai_body("x"), metadata=metadata),
            grpc.StatusCode.PERMISSION_DENIED,
            "SCOPE_MISSING",
        )
    await _unchanged(lab, agent, CREDIT)


async def test_a_peer_other_than_gateway_may_not_run_inference(
    lab: Lab, provider_server: ProviderServerHandle
) -> None:
    agent = await lab.agent(funds=CREDIT)
    async with provider_server.channel("review") as channel:
        await refused(
            provider_server.stub(channel).ChatCompletion(
                provider_pb2.ChatCompletionRequest(
                    request_id=rid(),
                    dialect=OPENAI,
                    body=orjson.dumps(openai_body("x")),
                    model=MINI,
                ),
                metadata=await lab.token(agent.inference_key),
            ),
            grpc.StatusCode.PERMISSION_DENIED,
            "PEER_NOT_ALLOWED",
        )


# -- the request --------------------------------------------------------------------------------


async def test_request_id_and_dialect_are_required(lab: Lab) -> None:
    agent = await lab.agent(funds=CREDIT)
    await refused(
        lab.chat(agent, openai_body("x"), request_id="not-a-uuid"),
        grpc.StatusCode.INVALID_ARGUMENT,
        "REQUEST_ID_INVALID",
    )
    error = await refused(
        lab.chat(agent, openai_body("x"), dialect=provider_pb2.API_DIALECT_UNSPECIFIED),
        grpc.StatusCode.INVALID_ARGUMENT,
        "ENUM_VALUE_UNSPECIFIED",
    )
    info = error_info(error)
    assert info is not None and info.metadata["field"] == "dialect"


@pytest.mark.parametrize(
    ("body", "dialect", "reason", "field"),
    [
        ({"model": MINI, "messages": "hello"}, OPENAI, "BODY_INVALID", "messages"),
        (
            {"model": HAIKU, "messages": [{"role": "user", "content": "x"}]},
            ANTHROPIC,
            "BODY_INVALID",
            "max_tokens",
        ),
        (openai_body("x", n=3), OPENAI, "BODY_INVALID", "n"),
        (openai_body("x", max_tokens=-1), OPENAI, "MAX_TOKENS_INVALID", "max_tokens"),
        (anthropic_body("x", max_tokens=0), ANTHROPIC, "MAX_TOKENS_INVALID", "max_tokens"),
    ],
)
async def test_bodies_that_break_the_dialect_are_refused_before_anything_is_held(
    lab: Lab, body: dict[str, Any], dialect: int, reason: str, field: str
) -> None:
    agent = await lab.agent(funds=CREDIT)
    error = await refused(
        lab.chat(agent, body, dialect=dialect), grpc.StatusCode.INVALID_ARGUMENT, reason
    )
    info = error_info(error)
    assert info is not None and info.metadata["field"] == field
    await _unchanged(lab, agent, CREDIT)


async def test_a_body_that_is_not_json_is_refused(lab: Lab) -> None:
    agent = await lab.agent(funds=CREDIT)
    await refused(
        lab.provider.ChatCompletion(
            provider_pb2.ChatCompletionRequest(
                request_id=rid(), dialect=OPENAI, body=b"{model: nope", model=MINI
            ),
            metadata=await lab.token(agent.inference_key),
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "BODY_INVALID",
    )


async def test_body_too_large(start_provider_server: StartProvider, lab: Lab) -> None:
    small = start_provider_server(env={"MAX_BODY_BYTES": "2048"})
    agent = await lab.agent(funds=CREDIT)
    async with lab_for(small, lab.server_auth, lab.server_wallet) as other:
        await refused(
            other.chat(agent, openai_body("x" * 3000)),
            grpc.StatusCode.INVALID_ARGUMENT,
            "BODY_TOO_LARGE",
        )
    await _unchanged(lab, agent, CREDIT)


async def test_model_must_match_the_body(lab: Lab) -> None:
    agent = await lab.agent(funds=CREDIT)
    await refused(
        lab.chat(agent, openai_body("x"), model=HAIKU),
        grpc.StatusCode.INVALID_ARGUMENT,
        "MODEL_MISMATCH",
    )


async def test_the_stream_flag_must_match_the_rpc(lab: Lab) -> None:
    agent = await lab.agent(funds=CREDIT)
    await refused(
        lab.chat(agent, openai_body("x", stream=True)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "STREAM_FLAG_MISMATCH",
    )
    call = lab.stream_call(openai_body("x"), await lab.token(agent.inference_key))
    await refused(_drain(call), grpc.StatusCode.INVALID_ARGUMENT, "STREAM_FLAG_MISMATCH")
    await _unchanged(lab, agent, CREDIT)


async def _drain(call: Any) -> list[Any]:
    return [message async for message in call]


async def test_capabilities_the_model_lacks_are_refused(lab: Lab) -> None:
    agent = await lab.agent(funds=CREDIT)
    image = {
        "role": "user",
        "content": [
            {"type": "text", "text": "what is this"},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        ],
    }
    error = await refused(
        lab.chat(agent, {"model": LLAMA, "messages": [image]}),
        grpc.StatusCode.INVALID_ARGUMENT,
        "CAPABILITY_NOT_SUPPORTED",
    )
    info = error_info(error)
    assert info is not None and info.metadata["capability"] == "vision"
    model = provider_pb2.Model(
        model_id=f"testlab/plain-{secrets.token_hex(4)}",
        display_name="No tools, no streaming",
        provider=provider_pb2.UPSTREAM_PROVIDER_OPENAI,
        upstream_model="gpt-4o-mini",
        price_per_million_input_tokens_micros=100_000,
        price_per_million_output_tokens_micros=100_000,
        context_length=1000,
        max_output_tokens=100,
        active=True,
    )
    await lab.provider_ctl.UpsertModel(
        provider_pb2.UpsertModelRequest(request_id=rid(), model=model),
        metadata=await lab.operator(),
    )
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    error = await refused(
        lab.chat(agent, openai_body("x", model=model.model_id, tools=tools)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "CAPABILITY_NOT_SUPPORTED",
    )
    assert (info := error_info(error)) is not None and info.metadata["capability"] == "tools"
    call = lab.stream_call(
        openai_body("x", model=model.model_id, stream=True), await lab.token(agent.inference_key)
    )
    error = await refused(
        _drain(call), grpc.StatusCode.INVALID_ARGUMENT, "CAPABILITY_NOT_SUPPORTED"
    )
    assert (info := error_info(error)) is not None and info.metadata["capability"] == "streaming"
    # The input alone is over the model's context (1,000 tokens).
    await refused(
        lab.chat(agent, openai_body("word " * 2000, model=model.model_id)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "CONTEXT_LENGTH_EXCEEDED",
    )
    await _unchanged(lab, agent, CREDIT)


async def test_a_model_outside_the_keys_allowed_models_is_refused(lab: Lab) -> None:
    agent = await lab.agent(funds=CREDIT, allowed_models=(HAIKU,))
    await refused(
        lab.chat(agent, openai_body("x", model=MINI)),
        grpc.StatusCode.PERMISSION_DENIED,
        "MODEL_NOT_ALLOWED",
    )
    allowed = await lab.chat(agent, openai_body("x", model=HAIKU))
    assert allowed.charged_micros > 0


# -- money --------------------------------------------------------------------------------------


async def test_insufficient_funds_refuses_before_upstream(
    lab: Lab, rows: ProviderRows, standin_upstream: StandinHandle
) -> None:
    agent = await lab.agent(funds=50)  # far below the worst case of a default request
    tag = marker()
    await refused(
        lab.chat(agent, openai_body(f"[standin:marker={tag}]")),
        grpc.StatusCode.FAILED_PRECONDITION,
        "INSUFFICIENT_FUNDS",
    )
    await _unchanged(lab, agent, 50)
    assert standin_upstream.recorded(tag) == []  # upstream was never called
    generation = _generation_of(rows, agent)
    assert (generation["status"], generation["error_reason"]) == ("failed", "INSUFFICIENT_FUNDS")
    assert generation["settlement_status"] == "not_required" and generation["hold_id"] is None


async def test_a_key_budget_that_cannot_cover_the_hold_is_refused(lab: Lab) -> None:
    agent = await lab.agent(funds=CREDIT, credit_limit_micros=10)
    await refused(
        lab.chat(agent, openai_body("x")),
        grpc.StatusCode.FAILED_PRECONDITION,
        "KEY_BUDGET_EXCEEDED",
    )
    await _unchanged(lab, agent, CREDIT)


async def test_an_agent_without_a_wallet_is_refused(
    fresh_databases: dict[str, ServiceDatabase],  # before the servers: torn down after them
    start_wallet_server: Callable[..., WalletServerHandle],
    start_provider_server: StartProvider,
    lab: Lab,
) -> None:
    # A wallet service of its own, where none of the session's agents has a wallet.
    empty_wallet = start_wallet_server(database=fresh_databases["wallet"])
    elsewhere = start_provider_server(wallet=empty_wallet)
    agent = await lab.agent(funds=CREDIT)
    async with lab_for(elsewhere, lab.server_auth, empty_wallet) as other:
        await refused(
            other.chat(agent, openai_body("x")),
            grpc.StatusCode.FAILED_PRECONDITION,
            "WALLET_NOT_FOUND",
        )
    await _unchanged(lab, agent, CREDIT)


async def test_wallet_down_means_upstream_is_never_called(
    start_provider_server: StartProvider,
    lab: Lab,
    rows: ProviderRows,
    standin_upstream: StandinHandle,
) -> None:
    walletless = start_provider_server(env={"WALLET_TARGET": "127.0.0.1:1"})
    agent = await lab.agent(funds=CREDIT)
    tag = marker()
    async with lab_for(walletless, lab.server_auth, lab.server_wallet) as other:
        await refused(
            other.chat(agent, openai_body(f"[standin:marker={tag}]")),
            grpc.StatusCode.UNAVAILABLE,
            "WALLET_UNAVAILABLE",
        )
    assert standin_upstream.recorded(tag) == []
    await _unchanged(lab, agent, CREDIT)
    generation = _generation_of(rows, agent)
    assert (generation["status"], generation["error_reason"]) == ("failed", "WALLET_UNAVAILABLE")
    # The hold's fate was unknown: it is released by whoever re-drives it (here: nothing held).
    await lab.settle_all()
    generation = _generation_of(rows, agent)
    assert generation["settlement_status"] == "settled" and generation["charged_micros"] == 0


async def test_a_replayed_request_id_is_neither_served_nor_charged_again(
    lab: Lab, standin_upstream: StandinHandle
) -> None:
    agent = await lab.agent(funds=CREDIT)
    tag = marker()
    request_id = rid()
    first = await lab.chat(
        agent, openai_body(f"once [standin:marker={tag}]"), request_id=request_id
    )
    after_first = await lab.available(agent)
    assert after_first == CREDIT - first.charged_micros
    for body in (
        openai_body(f"once [standin:marker={tag}]"),
        openai_body(f"something else [standin:marker={tag}]"),
    ):
        error = await refused(
            lab.chat(agent, body, request_id=request_id),
            grpc.StatusCode.ALREADY_EXISTS,
            "GENERATION_EXISTS",
        )
        info = error_info(error)
        assert info is not None and info.metadata["generation_id"] == first.generation_id
    call = lab.stream_call(
        openai_body("x", stream=True), await lab.token(agent.inference_key), request_id=request_id
    )
    await refused(_drain(call), grpc.StatusCode.ALREADY_EXISTS, "GENERATION_EXISTS")
    assert len(standin_upstream.recorded(tag)) == 1
    assert await lab.available(agent) == after_first


# -- keys ---------------------------------------------------------------------------------------


async def test_no_provider_key_at_all(start_provider_server: StartProvider, lab: Lab) -> None:
    keyless = start_provider_server(env={"OPENROUTER_API_KEY": ""})
    agent = await lab.agent(funds=CREDIT)
    async with lab_for(keyless, lab.server_auth, lab.server_wallet) as other:
        await refused(
            other.chat(agent, openai_body("x", model=LLAMA)),
            grpc.StatusCode.FAILED_PRECONDITION,
            "NO_PROVIDER_KEY",
        )
    await _unchanged(lab, agent, CREDIT)


async def test_a_byok_key_that_cannot_be_decrypted_is_an_error_never_the_platform_key(
    start_provider_server: StartProvider,
    lab: Lab,
    rows: ProviderRows,
    standin_upstream: StandinHandle,
) -> None:
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
    # Another process whose KEK_1 is not the one the key was sealed under.
    wrong_kek = base64.b64encode(b"a-different-key-encryption-key!!").decode()
    other_server = start_provider_server(env={"KEK_1": wrong_kek})
    tag = marker()
    async with lab_for(other_server, lab.server_auth, lab.server_wallet) as other:
        await refused(
            other.chat(agent, openai_body(f"[standin:marker={tag}]")),
            grpc.StatusCode.FAILED_PRECONDITION,
            "BYOK_DECRYPTION_FAILED",
        )
    assert standin_upstream.recorded(tag) == []  # neither the BYOK nor the platform key
    await _unchanged(lab, agent, CREDIT)
    generation = _generation_of(rows, agent)
    assert generation["error_reason"] == "BYOK_DECRYPTION_FAILED"
    assert generation["key_source"] == "byok_agent"


# -- upstream refusals --------------------------------------------------------------------------

UPSTREAM_CASES = [
    (400, grpc.StatusCode.INVALID_ARGUMENT, "UPSTREAM_BAD_REQUEST"),
    (404, grpc.StatusCode.INVALID_ARGUMENT, "UPSTREAM_BAD_REQUEST"),
    (422, grpc.StatusCode.INVALID_ARGUMENT, "UPSTREAM_BAD_REQUEST"),
    (401, grpc.StatusCode.FAILED_PRECONDITION, "UPSTREAM_AUTH_FAILED"),
    (403, grpc.StatusCode.FAILED_PRECONDITION, "UPSTREAM_AUTH_FAILED"),
    (402, grpc.StatusCode.FAILED_PRECONDITION, "UPSTREAM_PAYMENT_REQUIRED"),
    (429, grpc.StatusCode.RESOURCE_EXHAUSTED, "UPSTREAM_RATE_LIMITED"),
    (500, grpc.StatusCode.UNAVAILABLE, "UPSTREAM_UNAVAILABLE"),
    (503, grpc.StatusCode.UNAVAILABLE, "UPSTREAM_UNAVAILABLE"),
    (529, grpc.StatusCode.UNAVAILABLE, "UPSTREAM_UNAVAILABLE"),
    (504, grpc.StatusCode.DEADLINE_EXCEEDED, "UPSTREAM_TIMEOUT"),
]


@pytest.mark.parametrize(("status", "code", "reason"), UPSTREAM_CASES)
@pytest.mark.parametrize("model", [MINI, HAIKU, LLAMA])
async def test_upstream_refusals_keep_their_meaning_and_never_look_like_ours(
    lab: Lab, rows: ProviderRows, status: int, code: grpc.StatusCode, reason: str, model: str
) -> None:
    agent = await lab.agent(funds=CREDIT)
    error = await refused(
        lab.chat(agent, openai_body(f"[standin:error={status}]", model=model)), code, reason
    )
    info = error_info(error)
    assert info is not None
    assert info.metadata["upstream_status"] == str(status)
    assert info.metadata["upstream_message"] == f"stand-in error {status}"
    assert info.metadata["upstream_type"]
    # Never our own UNAUTHENTICATED (401) or INSUFFICIENT_FUNDS (402).
    assert error.code() is not grpc.StatusCode.UNAUTHENTICATED
    assert info.reason != "INSUFFICIENT_FUNDS"
    await _unchanged(lab, agent, CREDIT)
    generation = _generation_of(rows, agent)
    assert (generation["status"], generation["error_reason"]) == ("failed", reason)
    assert generation["upstream_status"] == status
    assert generation["settlement_status"] == "settled" and generation["charged_micros"] == 0


async def test_upstream_refusals_of_a_stream_arrive_before_started_as_statuses(lab: Lab) -> None:
    agent = await lab.agent(funds=CREDIT)
    for dialect, body in (
        (OPENAI, openai_body("[standin:error=401]", stream=True)),
        (ANTHROPIC, anthropic_body("[standin:error=401]", stream=True)),
    ):
        call = lab.stream_call(body, await lab.token(agent.inference_key), dialect=dialect)
        await refused(_drain(call), grpc.StatusCode.FAILED_PRECONDITION, "UPSTREAM_AUTH_FAILED")
    await _unchanged(lab, agent, CREDIT)


async def test_an_unreachable_upstream(start_provider_server: StartProvider, lab: Lab) -> None:
    nowhere = start_provider_server(env={"OPENAI_BASE_URL": "http://127.0.0.1:1/v1"})
    agent = await lab.agent(funds=CREDIT)
    async with lab_for(nowhere, lab.server_auth, lab.server_wallet) as other:
        error = await refused(
            other.chat(agent, openai_body("x")),
            grpc.StatusCode.UNAVAILABLE,
            "UPSTREAM_UNAVAILABLE",
        )
    info = error_info(error)
    assert info is not None and info.metadata["upstream_status"] == "0"
    await _unchanged(lab, agent, CREDIT)


async def test_an_upstream_that_does_not_answer_in_time(
    start_provider_server: StartProvider, lab: Lab
) -> None:
    impatient = start_provider_server(
        env={"UPSTREAM_RESPONSE_TIMEOUT_S": "0.5", "STREAM_IDLE_TIMEOUT_S": "0.5"}
    )
    agent = await lab.agent(funds=CREDIT)
    async with lab_for(impatient, lab.server_auth, lab.server_wallet) as other:
        await refused(
            other.chat(agent, openai_body("[standin:delay_ms=3000]")),
            grpc.StatusCode.DEADLINE_EXCEEDED,
            "UPSTREAM_TIMEOUT",
        )
        call = other.stream_call(
            anthropic_body("[standin:delay_ms=3000]", stream=True),
            await other.token(agent.inference_key),
            dialect=ANTHROPIC,
        )
        await refused(_drain(call), grpc.StatusCode.DEADLINE_EXCEEDED, "UPSTREAM_TIMEOUT")
    await _unchanged(lab, agent, CREDIT)

"""OpenAI-format requests reach Anthropic models and the reverse, tools and images included,
with stop reasons mapped both ways; what upstream receives is checked in the stand-in's log, and
what the client receives is parsed by the official ``openai`` and ``anthropic`` SDKs (their
response models, and their stream accumulators fed with provider's own SSE events)."""

from __future__ import annotations

import base64
import secrets
from typing import Any

import anthropic
import grpc
import httpx
import httpx2
import openai
import orjson
import pytest
from anthropic.types import Message
from openai.types.chat import ChatCompletion

from tests.conftest import StandinHandle
from tests.provider.helpers import (
    ANTHROPIC,
    CREDIT,
    HAIKU,
    LLAMA,
    MINI,
    OPENAI,
    Agent,
    Lab,
    anthropic_body,
    openai_body,
    refused,
    sse_payloads,
)

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 24).decode()
LOOKUP = {
    "type": "function",
    "function": {
        "name": "lookup",
        "description": "Look a word up.",
        "parameters": {
            "type": "object",
            "properties": {"word": {"type": "string"}, "limit": {"type": "integer"}},
            "required": ["word"],
        },
    },
}
LOOKUP_ANTHROPIC = {
    "name": "lookup",
    "description": "Look a word up.",
    "input_schema": LOOKUP["function"]["parameters"],  # type: ignore[index]
}


def _tag() -> str:
    return secrets.token_hex(8)


def _upstream(standin: StandinHandle, tag: str) -> dict[str, Any]:
    recorded = standin.recorded(tag)
    assert len(recorded) == 1, recorded
    body: dict[str, Any] = recorded[0]["body"]
    return body


def _openai_sdk_stream(chunks: list[bytes]) -> list[Any]:
    """The chunks as the official OpenAI SDK reads them from an HTTP response."""
    payload = b"".join(chunks)
    transport = httpx.MockTransport(
        lambda request: httpx.Response(
            200, content=payload, headers={"content-type": "text/event-stream"}
        )
    )
    client = openai.OpenAI(
        api_key="unused",
        base_url="http://sdk.test/v1",
        http_client=httpx.Client(transport=transport),
    )
    return list(
        client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}], stream=True
        )
    )


def _anthropic_sdk_message(chunks: list[bytes]) -> Message:
    """The final message the official Anthropic SDK accumulates from these events (this SDK
    release sends its requests through ``httpx2``)."""
    payload = b"".join(chunks)
    transport = httpx2.MockTransport(
        lambda request: httpx2.Response(
            200, content=payload, headers={"content-type": "text/event-stream"}
        )
    )
    client = anthropic.Anthropic(
        api_key="unused", base_url="http://sdk.test", http_client=httpx2.Client(transport=transport)
    )
    with client.messages.stream(
        model="m", max_tokens=10, messages=[{"role": "user", "content": "x"}]
    ) as stream:
        return stream.get_final_message()


# -- OpenAI format in, Anthropic model upstream -------------------------------------------------


async def test_an_openai_conversation_with_images_and_tool_results_reaches_anthropic_intact(
    lab: Lab, standin_upstream: StandinHandle
) -> None:
    agent = await lab.agent(funds=CREDIT)
    tag = _tag()
    body = {
        "model": HAIKU,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Use tools."}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": f"What are these? [standin:marker={tag}]"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
                ],
            },
            {
                "role": "assistant",
                "content": "Let me look.",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": '{"word": "cat"}'},
                    },
                    {
                        "id": "call.2",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": '{"word": "dog"}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "a small feline"},
            {
                "role": "tool",
                "tool_call_id": "call.2",
                "content": [{"type": "text", "text": "a canine"}],
            },
            {"role": "user", "content": "Thanks, now summarise."},
        ],
        "tools": [LOOKUP],
        "tool_choice": {"type": "function", "function": {"name": "lookup"}},
        "parallel_tool_calls": False,
        "stop": ["STOP"],
        "temperature": 1.7,
        "max_tokens": 200,
        "user": "end-user-7",
        # Never forwarded: they could change who serves or what it costs.
        "service_tier": "priority",
        "store": True,
        "modalities": ["text", "audio"],
        "models": ["openai/gpt-4o"],
        "provider": {"order": ["somewhere"]},
    }
    response = await lab.chat(agent, body)
    upstream = _upstream(standin_upstream, tag)
    assert upstream["model"] == "claude-3-5-haiku-20241022"
    assert upstream["system"] == [
        {"type": "text", "text": "Be brief."},
        {"type": "text", "text": "Use tools."},
    ]
    assert [turn["role"] for turn in upstream["messages"]] == ["user", "assistant", "user"]
    first, assistant, results = upstream["messages"]
    assert first["content"][1] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": PNG},
    }
    assert first["content"][2] == {
        "type": "image",
        "source": {"type": "url", "url": "https://example.com/cat.jpg"},
    }
    assert assistant["content"] == [
        {"type": "text", "text": "Let me look."},
        {"type": "tool_use", "id": "call_1", "name": "lookup", "input": {"word": "cat"}},
        {"type": "tool_use", "id": "call_2", "name": "lookup", "input": {"word": "dog"}},
    ]
    assert results["content"] == [
        {"type": "tool_result", "tool_use_id": "call_1", "content": "a small feline"},
        {"type": "tool_result", "tool_use_id": "call_2", "content": "a canine"},
        {"type": "text", "text": "Thanks, now summarise."},
    ]
    assert upstream["tools"] == [LOOKUP_ANTHROPIC]
    assert upstream["tool_choice"] == {
        "type": "tool",
        "name": "lookup",
        "disable_parallel_tool_use": True,
    }
    assert upstream["stop_sequences"] == ["STOP"]
    assert upstream["temperature"] == 1.0  # Anthropic's range is 0..1
    assert upstream["max_tokens"] == 200
    assert upstream["metadata"] == {"user_id": "end-user-7"}
    for dropped in ("service_tier", "store", "modalities", "models", "provider", "user", "stop"):
        assert dropped not in upstream
    completion = ChatCompletion.model_validate_json(response.body)
    assert completion.id == f"gen-{response.generation_id}"
    assert completion.model == HAIKU
    assert completion.usage is not None
    assert completion.usage.completion_tokens == response.usage.output_tokens


@pytest.mark.parametrize(
    ("directives", "finish"),
    [
        ("[standin:tokens=5]", "stop"),
        ("[standin:tokens=50]", "length"),
        ("[standin:hit_stop]", "stop"),
    ],
)
async def test_anthropic_stop_reasons_become_openai_finish_reasons(
    lab: Lab, directives: str, finish: str
) -> None:
    agent = await lab.agent(funds=CREDIT)
    response = await lab.chat(
        agent, openai_body(directives, model=HAIKU, max_tokens=20, stop=["END"])
    )
    completion = ChatCompletion.model_validate_json(response.body)
    assert completion.choices[0].finish_reason == finish


async def test_an_anthropic_tool_call_becomes_an_openai_tool_call(lab: Lab) -> None:
    agent = await lab.agent(funds=CREDIT)
    response = await lab.chat(
        agent, openai_body("[standin:tool]", model=HAIKU, tools=[LOOKUP], max_tokens=100)
    )
    completion = ChatCompletion.model_validate_json(response.body)
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Calling tool."
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.function.name == "lookup"
    assert orjson.loads(call.function.arguments) == {"limit": 42, "word": "standin"}


async def test_an_anthropic_stream_becomes_openai_chunks_the_sdk_accumulates(lab: Lab) -> None:
    agent = await lab.agent(funds=CREDIT)
    messages = await lab.stream(
        agent,
        openai_body(
            "[standin:tool]",
            model=HAIKU,
            tools=[LOOKUP],
            stream=True,
            stream_options={"include_usage": True},
        ),
    )
    chunks = _openai_sdk_stream(sse_payloads(messages))
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == "Calling tool."
    calls = [
        call
        for chunk in chunks
        if chunk.choices
        for call in chunk.choices[0].delta.tool_calls or []
    ]
    assert calls[0].index == 0 and calls[0].id and calls[0].function.name == "lookup"
    arguments = "".join(call.function.arguments or "" for call in calls)
    assert orjson.loads(arguments) == {"limit": 42, "word": "standin"}
    finishes = [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices]
    assert finishes[-1] == "tool_calls"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == messages[-1].finished.usage.output_tokens


# -- Anthropic format in, OpenAI-format model upstream ------------------------------------------


async def test_an_anthropic_conversation_with_images_and_tools_reaches_openai_intact(
    lab: Lab, standin_upstream: StandinHandle
) -> None:
    agent = await lab.agent(funds=CREDIT)
    tag = _tag()
    body = {
        "model": MINI,
        "max_tokens": 300,
        "system": [{"type": "text", "text": "Be brief."}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": f"Look [standin:marker={tag}]"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                    },
                    {
                        "type": "image",
                        "source": {"type": "url", "url": "https://example.com/d.png"},
                    },
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"word": "x"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": "nothing found",
                        "is_error": True,
                    },
                    {"type": "text", "text": "Try again."},
                ],
            },
        ],
        "tools": [LOOKUP_ANTHROPIC],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "stop_sequences": ["HALT"],
        "temperature": 0.3,
        "metadata": {"user_id": "end-user-9"},
        "top_k": 5,
    }
    response = await lab.chat(agent, body, dialect=ANTHROPIC)
    upstream = _upstream(standin_upstream, tag)
    assert upstream["model"] == "gpt-4o-mini"
    assert upstream["max_completion_tokens"] == 300
    assert upstream["messages"] == [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": f"Look [standin:marker={tag}]"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/d.png"}},
            ],
        },
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"word":"x"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_1", "content": "Error: nothing found"},
        {"role": "user", "content": "Try again."},
    ]
    assert upstream["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "description": "Look a word up.",
                "parameters": LOOKUP_ANTHROPIC["input_schema"],
            },
        }
    ]
    assert upstream["tool_choice"] == "required"
    assert upstream["parallel_tool_calls"] is False
    assert upstream["stop"] == ["HALT"]
    assert upstream["user"] == "end-user-9"
    assert "top_k" not in upstream  # OpenAI has none
    message = Message.model_validate_json(response.body)
    assert message.id == f"gen-{response.generation_id}" and message.model == MINI
    # tool_choice "required" made the stand-in call the tool.
    assert message.stop_reason == "tool_use"
    tool_use = [block for block in message.content if block.type == "tool_use"]
    assert tool_use and tool_use[0].input == {"limit": 42, "word": "standin"}


async def test_openrouter_gets_its_own_knobs_and_never_a_routing_override(
    lab: Lab, standin_upstream: StandinHandle
) -> None:
    agent = await lab.agent(funds=CREDIT)
    tag = _tag()
    await lab.chat(
        agent,
        anthropic_body(f"[standin:marker={tag}]", model=LLAMA, max_tokens=77, top_k=9),
        dialect=ANTHROPIC,
    )
    upstream = _upstream(standin_upstream, tag)
    assert upstream["model"] == "meta-llama/llama-3.3-70b-instruct"
    assert upstream["max_tokens"] == 77 and "max_completion_tokens" not in upstream
    assert upstream["top_k"] == 9
    assert upstream["usage"] == {"include": True}
    tag = _tag()
    await lab.chat(
        agent,
        openai_body(
            f"[standin:marker={tag}]",
            model=LLAMA,
            models=["anthropic/claude-opus-4"],
            provider={"order": ["Anthropic"]},
            route="fallback",
            transforms=["middle-out"],
            repetition_penalty=1.1,
        ),
    )
    upstream = _upstream(standin_upstream, tag)
    for dropped in ("models", "provider", "route", "transforms"):
        assert dropped not in upstream
    assert upstream["repetition_penalty"] == 1.1


@pytest.mark.parametrize(
    ("directives", "stop_reason"),
    [
        ("[standin:tokens=5]", "end_turn"),
        ("[standin:tokens=50]", "max_tokens"),
        ("[standin:tool]", "tool_use"),
    ],
)
async def test_openai_finish_reasons_become_anthropic_stop_reasons(
    lab: Lab, directives: str, stop_reason: str
) -> None:
    agent = await lab.agent(funds=CREDIT)
    response = await lab.chat(
        agent,
        anthropic_body(directives, model=MINI, max_tokens=20, tools=[LOOKUP_ANTHROPIC]),
        dialect=ANTHROPIC,
    )
    assert Message.model_validate_json(response.body).stop_reason == stop_reason


async def test_an_openai_stream_becomes_anthropic_events_the_sdk_accumulates(lab: Lab) -> None:
    agent = await lab.agent(funds=CREDIT)
    messages = await lab.stream(
        agent,
        anthropic_body(
            "[standin:tool]", model=MINI, tools=[LOOKUP_ANTHROPIC], max_tokens=100, stream=True
        ),
        dialect=ANTHROPIC,
    )
    final = _anthropic_sdk_message(sse_payloads(messages))
    assert final.id == f"gen-{messages[0].started.generation_id}"
    assert [block.type for block in final.content] == ["text", "tool_use"]
    assert final.content[0].text == "Calling tool."  # type: ignore[union-attr]
    assert final.content[1].input == {"limit": 42, "word": "standin"}  # type: ignore[union-attr]
    assert final.stop_reason == "tool_use"
    finished = messages[-1].finished
    assert final.usage.output_tokens == finished.usage.output_tokens
    assert final.usage.input_tokens == finished.usage.input_tokens


async def test_same_dialect_streams_pass_through_with_our_id(lab: Lab) -> None:
    agent = await lab.agent(funds=CREDIT)
    messages = await lab.stream(
        agent, anthropic_body("[standin:tokens=7]", stream=True), dialect=ANTHROPIC
    )
    final = _anthropic_sdk_message(sse_payloads(messages))
    assert final.id == f"gen-{messages[0].started.generation_id}" and final.model == HAIKU
    assert len(final.content[0].text.split()) == 7  # type: ignore[union-attr]
    chunks = _openai_sdk_stream(
        sse_payloads(await lab.stream(agent, openai_body("x", stream=True)))
    )
    assert {chunk.id for chunk in chunks} == {chunks[0].id} and chunks[0].id.startswith("gen-")
    assert {chunk.model for chunk in chunks} == {MINI}


async def test_same_dialect_answers_keep_everything_upstream_said_but_id_and_model(
    lab: Lab,
) -> None:
    agent = await lab.agent(funds=CREDIT)
    response = await lab.chat(agent, openai_body("x", model=LLAMA))
    body = orjson.loads(response.body)
    assert body["provider"] == "StandIn"  # an OpenRouter field, passed through
    assert body["usage"]["cost"] > 0
    assert body["model"] == LLAMA and body["id"] == f"gen-{response.generation_id}"


# -- what a dialect cannot express is refused, not dropped --------------------------------------


async def _refuses(lab: Lab, agent: Agent, body: dict[str, Any], dialect: int, field: str) -> None:
    from services.common.status import error_info

    error = await refused(
        lab.chat(agent, body, dialect=dialect), grpc.StatusCode.INVALID_ARGUMENT, "BODY_INVALID"
    )
    info = error_info(error)
    assert info is not None and info.metadata["field"] == field


async def test_content_the_target_cannot_express_is_refused(lab: Lab) -> None:
    agent = await lab.agent(funds=CREDIT)
    bmp = {
        "model": HAIKU,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": "data:image/bmp;base64,Qk0="}}
                ],
            }
        ],
    }
    await _refuses(lab, agent, bmp, OPENAI, "messages[0].content[0].image_url.url")
    bad_arguments = openai_body("x", model=HAIKU)
    bad_arguments["messages"] = [
        {"role": "user", "content": "go"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{oops"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c", "content": "r"},
    ]
    await _refuses(
        lab, agent, bad_arguments, OPENAI, "messages[1].tool_calls[0].function.arguments"
    )
    image_result = anthropic_body("x", model=MINI)
    image_result["messages"] = [
        {"role": "user", "content": "go"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "t",
                    "content": [
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                        }
                    ],
                }
            ],
        },
    ]
    await _refuses(lab, agent, image_result, ANTHROPIC, "messages[2].content[0].content[0].type")
    assert await lab.available(agent) == CREDIT

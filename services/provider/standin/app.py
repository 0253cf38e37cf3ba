"""The stand-in upstream: OpenAI, Anthropic and OpenRouter over real HTTP, offline.

Routes (base URLs for provider's settings in brackets):

* ``POST /openai/v1/chat/completions``        [``http://HOST:PORT/openai/v1``]
* ``POST /openrouter/api/v1/chat/completions`` [``http://HOST:PORT/openrouter/api/v1``]
* ``POST /anthropic/v1/messages``              [``http://HOST:PORT/anthropic/v1``]
* ``GET /healthz``; ``GET /_standin/requests`` (the last requests received, for tests: path,
  model, the SHA-256 of the API key, the parsed body and the switches); ``POST /_standin/reset``.

Requests are checked as strictly as the real APIs check them (roles, block and part types, tool
calls answered by tool results with matching ids, Anthropic's alternating turns and required
``max_tokens``/``anthropic-version``), so a translation mistake in provider is a 400 here rather
than a silent success. Answers, streamed or not, follow each API's wire format, including
usage (OpenAI's ``stream_options.include_usage`` chunk, Anthropic's ``message_start`` /
``message_delta`` usage, OpenRouter's usage with ``cost`` and its ``: OPENROUTER PROCESSING``
comments). See :mod:`services.provider.standin.scenario` for the switches.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import hashlib
import itertools
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from services.provider.standin.scenario import (
    Measured,
    Reply,
    Scenario,
    parse_scenario,
    plan_reply,
)

RECORD_LIMIT = 2000
ANTHROPIC_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
HANG_S = 3600.0
CUT_SETTLE_S = 0.2
"""Pause before a mid-stream cut, so the events sent before it are read by the client."""
_ids = itertools.count(1)


class Rejected(Exception):
    """The request breaks the API's rules: 400 with this message."""


@dataclass
class Recorded:
    path: str
    model: str
    key_sha256: str
    body: Any
    switches: dict[str, str]
    received_at: float

    def as_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "model": self.model,
            "key_sha256": self.key_sha256,
            "body": self.body,
            "switches": self.switches,
            "received_at": self.received_at,
        }


class Recorder:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.items: collections.deque[Recorded] = collections.deque(maxlen=RECORD_LIMIT)

    def add(self, item: Recorded) -> None:
        if self.enabled:
            self.items.append(item)

    def matching(self, marker: str | None) -> list[Recorded]:
        return [
            item
            for item in list(self.items)
            if marker is None or item.switches.get("marker") == marker
        ]


RECORDER_KEY = web.AppKey("recorder", Recorder)


def _error(status: int, dialect: str, kind: str, message: str) -> web.Response:
    if dialect == "anthropic":
        body: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
    elif dialect == "openrouter":
        body = {"error": {"code": status, "message": message, "metadata": {"type": kind}}}
    else:
        body = {"error": {"message": message, "type": kind, "param": None, "code": kind}}
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "payment_required",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "bad_gateway",
    503: "service_unavailable",
    529: "overloaded_error",
}


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# -- OpenAI-format requests ---------------------------------------------------------------------


def _openai_measure(body: Mapping[str, Any]) -> tuple[Measured, list[str]]:
    """Check an OpenAI chat-completions body and measure it; (measured, texts for switches)."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise Rejected("model is required")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise Rejected("messages must be a non-empty array")
    if "max_tokens" in body and "max_completion_tokens" in body:
        raise Rejected("max_tokens and max_completion_tokens cannot both be set")
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 1
        ):
            raise Rejected(f"{name} must be a positive integer")
    if body.get("stream_options") is not None and not body.get("stream"):
        raise Rejected("stream_options is only allowed when stream is true")
    if body.get("n") not in (None, 1):
        raise Rejected("the stand-in supports n = 1 only")
    texts: list[str] = []
    images = 0
    open_calls: set[str] = set()
    tool_results: list[str] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise Rejected(f"{where} must be an object")
        role = message.get("role")
        content = message.get("content")
        if role in ("system", "developer", "user", "tool", "assistant"):
            parts: list[Any]
            if content is None:
                if role != "assistant" or not message.get("tool_calls"):
                    raise Rejected(f"{where}.content is required")
                parts = []
            elif isinstance(content, str):
                parts = [{"type": "text", "text": content}]
            elif isinstance(content, list):
                parts = content
            else:
                raise Rejected(f"{where}.content must be a string or an array")
            for part_index, part in enumerate(parts):
                kind = part.get("type") if isinstance(part, dict) else None
                if kind == "text" and isinstance(part.get("text"), str):
                    texts.append(part["text"])
                elif kind == "image_url" and role == "user":
                    url = (part.get("image_url") or {}).get("url")
                    if not isinstance(url, str) or not (
                        url.startswith(("http://", "https://", "data:image/"))
                    ):
                        raise Rejected(f"{where}.content[{part_index}].image_url is invalid")
                    images += 1
                else:
                    raise Rejected(f"{where}.content[{part_index}] is not valid for role {role}")
        else:
            raise Rejected(f"{where}.role is invalid")
        if role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in open_calls:
                raise Rejected(f"{where}.tool_call_id does not answer a preceding tool call")
            open_calls.discard(call_id)
            tool_results.append(texts[-1] if texts else "")
        else:
            if open_calls:
                raise Rejected(f"{where}: tool calls must be answered by tool messages first")
            tool_results = []
        if role == "assistant":
            for call_index, call in enumerate(message.get("tool_calls") or []):
                function = call.get("function") if isinstance(call, dict) else None
                if (
                    not isinstance(call.get("id"), str)
                    or call.get("type") != "function"
                    or not isinstance(function, dict)
                    or not isinstance(function.get("name"), str)
                    or not isinstance(function.get("arguments"), str)
                ):
                    raise Rejected(f"{where}.tool_calls[{call_index}] is invalid")
                try:
                    orjson.loads(function["arguments"])
                except orjson.JSONDecodeError:
                    raise Rejected(
                        f"{where}.tool_calls[{call_index}] arguments are not JSON"
                    ) from None
                open_calls.add(call["id"])
                texts.append(function["arguments"])
    tools = body.get("tools") or []
    for index, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if (
            tool.get("type") != "function"
            or not isinstance(function, dict)
            or not function.get("name")
        ):
            raise Rejected(f"tools[{index}] is invalid")
    measured = Measured(
        texts=texts,
        message_count=len(messages),
        image_count=images,
        tool_definitions_bytes=len(orjson.dumps(tools)) if tools else 0,
        tool_results=tool_results,
    )
    return measured, texts


def _openai_tools(body: Mapping[str, Any]) -> tuple[list[tuple[str, Any]], str | None, bool]:
    tools = [
        (tool["function"]["name"], tool["function"].get("parameters"))
        for tool in body.get("tools") or []
    ]
    choice = body.get("tool_choice")
    forced = choice["function"]["name"] if isinstance(choice, dict) else None
    return tools, forced, choice == "required"


# -- Anthropic requests -------------------------------------------------------------------------


def _anthropic_measure(body: Mapping[str, Any]) -> tuple[Measured, list[str]]:
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise Rejected("model: field required")
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise Rejected("max_tokens: field required (a positive integer)")
    temperature = body.get("temperature")
    if temperature is not None and not 0 <= temperature <= 1:
        raise Rejected("temperature: must be between 0 and 1")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise Rejected("messages: at least one message is required")
    texts: list[str] = []
    system = body.get("system")
    if isinstance(system, str):
        texts.append(system)
    elif isinstance(system, list):
        for index, block in enumerate(system):
            if not isinstance(block, dict) or block.get("type") != "text":
                raise Rejected(f"system.{index}: only text blocks")
            texts.append(block["text"])
    elif system is not None:
        raise Rejected("system: must be a string or a list of text blocks")
    images = 0
    previous_role: str | None = None
    previous_tool_uses: set[str] = set()
    tool_results: list[str] = []
    for index, message in enumerate(messages):
        where = f"messages.{index}"
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ("user", "assistant"):
            raise Rejected(f"{where}.role: must be user or assistant")
        if role == previous_role:
            raise Rejected(f"{where}: roles must alternate between user and assistant")
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        if not isinstance(blocks, list) or not blocks:
            raise Rejected(f"{where}.content: must be a non-empty string or list")
        tool_uses: set[str] = set()
        tool_results = []
        answered: set[str] = set()
        for block_index, block in enumerate(blocks):
            at = f"{where}.content.{block_index}"
            kind = block.get("type") if isinstance(block, dict) else None
            if kind == "text":
                if not isinstance(block.get("text"), str) or not block["text"]:
                    raise Rejected(f"{at}: text content blocks must be non-empty")
                texts.append(block["text"])
            elif kind == "image" and role == "user":
                images += _anthropic_image(block, at)
            elif kind == "tool_use" and role == "assistant":
                if not isinstance(block.get("id"), str) or not isinstance(block.get("input"), dict):
                    raise Rejected(f"{at}: tool_use needs an id and an input object")
                tool_uses.add(block["id"])
                texts.append(orjson.dumps(block["input"]).decode())
            elif kind == "tool_result" and role == "user":
                use_id = block.get("tool_use_id")
                if use_id not in previous_tool_uses:
                    raise Rejected(
                        f"{at}: tool_use_id does not match a tool_use of the previous turn"
                    )
                answered.add(use_id)
                inner = block.get("content")
                inner_text = ""
                if isinstance(inner, str):
                    inner_text = inner
                elif isinstance(inner, list):
                    for item in inner:
                        if item.get("type") == "text":
                            inner_text += item["text"]
                        elif item.get("type") == "image":
                            images += _anthropic_image(item, at)
                        else:
                            raise Rejected(f"{at}: tool_result content must be text or image")
                texts.append(inner_text)
                tool_results.append(inner_text)
            elif kind in ("thinking", "redacted_thinking") and role == "assistant":
                continue
            else:
                raise Rejected(f"{at}: block type {kind!r} is not allowed in a {role} turn")
        if previous_tool_uses and answered != previous_tool_uses:
            raise Rejected(f"{where}: every tool_use of the previous turn needs a tool_result")
        previous_role = role
        previous_tool_uses = tool_uses
    tools = body.get("tools") or []
    for index, tool in enumerate(tools):
        if (
            not isinstance(tool, dict)
            or not tool.get("name")
            or not isinstance(tool.get("input_schema"), dict)
        ):
            raise Rejected(f"tools.{index}: name and input_schema are required")
    choice = body.get("tool_choice")
    if choice is not None and (
        not isinstance(choice, dict) or choice.get("type") not in ("auto", "any", "tool", "none")
    ):
        raise Rejected("tool_choice: invalid")
    measured = Measured(
        texts=texts,
        message_count=len(messages),
        image_count=images,
        tool_definitions_bytes=len(orjson.dumps(tools)) if tools else 0,
        tool_results=tool_results,
    )
    return measured, texts


def _anthropic_image(block: Mapping[str, Any], at: str) -> int:
    source = block.get("source")
    if not isinstance(source, dict):
        raise Rejected(f"{at}.source: required")
    if source.get("type") == "base64":
        if source.get("media_type") not in ANTHROPIC_IMAGE_TYPES:
            raise Rejected(f"{at}.source.media_type: unsupported")
        try:
            base64.b64decode(str(source.get("data")), validate=True)
        except (binascii.Error, ValueError):
            raise Rejected(f"{at}.source.data: not base64") from None
        return 1
    if source.get("type") == "url" and str(source.get("url", "")).startswith(
        ("http://", "https://")
    ):
        return 1
    raise Rejected(f"{at}.source: base64 or url")


def _anthropic_tools(body: Mapping[str, Any]) -> tuple[list[tuple[str, Any]], str | None, bool]:
    tools = [(tool["name"], tool.get("input_schema")) for tool in body.get("tools") or []]
    choice = body.get("tool_choice") or {}
    forced = choice.get("name") if choice.get("type") == "tool" else None
    return tools, forced, choice.get("type") == "any"


# -- the handler --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dialect:
    name: str
    """openai, openrouter or anthropic."""
    measure: Callable[[Mapping[str, Any]], tuple[Measured, list[str]]]
    tools: Callable[[Mapping[str, Any]], tuple[list[tuple[str, Any]], str | None, bool]]


OPENAI = Dialect("openai", _openai_measure, _openai_tools)
OPENROUTER = Dialect("openrouter", _openai_measure, _openai_tools)
ANTHROPIC = Dialect("anthropic", _anthropic_measure, _anthropic_tools)


def _api_key(request: web.Request, dialect: Dialect) -> str | None:
    # Anthropic takes x-api-key; its newer SDKs send the key as a Bearer token instead.
    if dialect is ANTHROPIC and request.headers.get("x-api-key"):
        return request.headers["x-api-key"]
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def _key_failure(key: str, dialect: Dialect, scenario: Scenario) -> web.Response | None:
    if "invalid" in key or "revoked" in key:
        message = "Incorrect API key provided."
        if scenario.flag("echo_key_in_error"):
            message = f"Incorrect API key provided: {key}."
        return _error(401, dialect.name, _ERROR_TYPES[401], message)
    if "nofunds" in key:
        return _error(
            402, dialect.name, "payment_required", "Insufficient credits on this account."
        )
    if "ratelimited" in key:
        return _error(429, dialect.name, _ERROR_TYPES[429], "Rate limit reached for requests.")
    return None


def handler(dialect: Dialect) -> Callable[[web.Request], Any]:
    async def handle(request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return _error(400, dialect.name, _ERROR_TYPES[400], "the body is not valid JSON")
        if not isinstance(body, dict):
            return _error(400, dialect.name, _ERROR_TYPES[400], "the body must be an object")
        key = _api_key(request, dialect)
        try:
            measured, texts = dialect.measure(body)
            rejection = None
        except Rejected as rejected:
            measured, texts, rejection = None, [], str(rejected)
        scenario = parse_scenario(texts, request.headers.get("X-Standin-Scenario"))
        request.app[RECORDER_KEY].add(
            Recorded(
                path=request.path,
                model=str(body.get("model")),
                key_sha256=_sha256(key) if key else "",
                body=body,
                switches=dict(scenario.switches),
                received_at=time.time(),
            )
        )
        if not key:
            return _error(401, dialect.name, _ERROR_TYPES[401], "missing API key")
        if dialect is ANTHROPIC and not request.headers.get("anthropic-version"):
            return _error(
                400, dialect.name, _ERROR_TYPES[400], "anthropic-version header is required"
            )
        failure = _key_failure(key, dialect, scenario)
        if failure is not None:
            return failure
        if rejection is not None or measured is None:
            return _error(400, dialect.name, _ERROR_TYPES[400], rejection or "invalid request")
        if scenario.flag("hang"):
            await asyncio.sleep(HANG_S)
        if scenario.delay_s:
            await asyncio.sleep(scenario.delay_s)
        status = scenario.number("error")
        if status:
            message = f"stand-in error {status}"
            if scenario.flag("echo_key_in_error"):
                message = f"stand-in error {status} for key {key}"
            return _error(status, dialect.name, _ERROR_TYPES.get(status, "api_error"), message)
        tools, forced, required = dialect.tools(body)
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
        stops = body.get("stop_sequences") if dialect is ANTHROPIC else body.get("stop")
        reply = plan_reply(
            measured=measured,
            scenario=scenario,
            max_tokens=max_tokens,
            tools=tools,
            forced_tool=forced,
            tool_required=required,
            stop_sequences=[stops] if isinstance(stops, str) else list(stops or []),
        )
        served = scenario.text("served_model") or str(body["model"])
        if body.get("stream"):
            return await _stream(request, dialect, body, reply, scenario, served)
        if scenario.number("disconnect_after") is not None:
            assert request.transport is not None
            request.transport.abort()
            return web.Response(status=500)
        return web.Response(
            body=orjson.dumps(_complete(dialect, reply, scenario, served)),
            content_type="application/json",
        )

    return handle


def _reported_output(reply: Reply, scenario: Scenario) -> int:
    return reply.output_tokens * (scenario.number("usage_multiplier", 1) or 1)


def _openai_usage(reply: Reply, scenario: Scenario, dialect: Dialect) -> dict[str, Any]:
    output = _reported_output(reply, scenario)
    usage: dict[str, Any] = {
        "prompt_tokens": reply.input_tokens,
        "completion_tokens": output,
        "total_tokens": reply.input_tokens + output,
        "prompt_tokens_details": {"cached_tokens": 0},
    }
    if dialect is OPENROUTER:
        usage["cost"] = round((reply.input_tokens + output) * 1e-7, 10)
    return usage


def _complete(dialect: Dialect, reply: Reply, scenario: Scenario, served: str) -> dict[str, Any]:
    number = next(_ids)
    if dialect is ANTHROPIC:
        content: list[dict[str, Any]] = []
        if reply.text:
            content.append({"type": "text", "text": reply.text})
        if reply.tool_name:
            content.append(
                {
                    "type": "tool_use",
                    "id": f"toolu_standin_{number}",
                    "name": reply.tool_name,
                    "input": orjson.loads(reply.tool_arguments),
                }
            )
        message: dict[str, Any] = {
            "id": f"msg_standin_{number}",
            "type": "message",
            "role": "assistant",
            "model": served,
            "content": content,
            "stop_reason": {
                "stop": "end_turn",
                "length": "max_tokens",
                "tool_calls": "tool_use",
                "stop_sequence": "stop_sequence",
            }[reply.finish],
            "stop_sequence": reply.stop_sequence,
        }
        if not scenario.flag("no_usage"):
            message["usage"] = {
                "input_tokens": reply.input_tokens,
                "output_tokens": _reported_output(reply, scenario),
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            }
        return message
    choice_message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if reply.tool_name:
        choice_message["tool_calls"] = [
            {
                "id": f"call_standin_{number}",
                "type": "function",
                "function": {"name": reply.tool_name, "arguments": reply.tool_arguments},
            }
        ]
    result: dict[str, Any] = {
        "id": f"chatcmpl-standin-{number}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": served,
        "choices": [
            {
                "index": 0,
                "message": choice_message,
                "finish_reason": "stop" if reply.finish == "stop_sequence" else reply.finish,
                "logprobs": None,
            }
        ],
    }
    if dialect is OPENROUTER:
        result["provider"] = "StandIn"
    if not scenario.flag("no_usage"):
        result["usage"] = _openai_usage(reply, scenario, dialect)
    return result


async def _stream(
    request: web.Request,
    dialect: Dialect,
    body: Mapping[str, Any],
    reply: Reply,
    scenario: Scenario,
    served: str,
) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    if dialect is ANTHROPIC:
        events = _anthropic_events(reply, scenario, served)
    else:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage")) or bool(
            (body.get("usage") or {}).get("include")
        )
        events = _openai_events(dialect, reply, scenario, served, include_usage=include_usage)
    cut_after = scenario.number("disconnect_after")
    error_after = scenario.number("error_event_after")
    produced = 0
    for frame, is_token in events:
        if is_token and cut_after is not None and produced >= cut_after:
            # What was written reaches the client first (a dying upstream does not take back
            # what it sent), then the connection ends without the chunked body's terminator.
            await asyncio.sleep(CUT_SETTLE_S)
            assert request.transport is not None
            request.transport.close()
            return response
        if is_token and error_after is not None and produced >= error_after:
            await response.write(_stream_error(dialect))
            await asyncio.sleep(CUT_SETTLE_S)
            assert request.transport is not None
            request.transport.close()
            return response
        await response.write(frame)
        if is_token:
            produced += 1
            if scenario.chunk_delay_s:
                await asyncio.sleep(scenario.chunk_delay_s)
    await response.write_eof()
    return response


def _stream_error(dialect: Dialect) -> bytes:
    if dialect is ANTHROPIC:
        data = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        return b"event: error\ndata: " + orjson.dumps(data) + b"\n\n"
    return (
        b"data: "
        + orjson.dumps({"error": {"message": "upstream overloaded", "type": "server_error"}})
        + b"\n\n"
    )


def _openai_events(
    dialect: Dialect, reply: Reply, scenario: Scenario, served: str, *, include_usage: bool
) -> list[tuple[bytes, bool]]:
    number = next(_ids)
    base = {
        "id": f"chatcmpl-standin-{number}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": served,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        payload = {
            **base,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        if include_usage:
            payload.setdefault("usage", None)
        return b"data: " + orjson.dumps(payload) + b"\n\n"

    frames: list[tuple[bytes, bool]] = []
    if dialect is OPENROUTER:
        frames.append((b": OPENROUTER PROCESSING\n\n", False))
    frames.append((chunk({"role": "assistant", "content": ""}), False))
    for index, token in enumerate(reply.text_tokens):
        text = token if index == len(reply.text_tokens) - 1 else f"{token} "
        frames.append((chunk({"content": text}), True))
    if reply.tool_name:
        call_id = f"call_standin_{number}"
        frames.append(
            (
                chunk(
                    {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": call_id,
                                "type": "function",
                                "function": {"name": reply.tool_name, "arguments": ""},
                            }
                        ]
                    }
                ),
                True,
            )
        )
        arguments = reply.tool_arguments
        third = max(1, len(arguments) // 3)
        for start in range(0, len(arguments), third):
            piece = arguments[start : start + third]
            frames.append(
                (chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}), True)
            )
    finish = "stop" if reply.finish == "stop_sequence" else reply.finish
    frames.append((chunk({}, finish), False))
    if include_usage and not scenario.flag("no_usage"):
        usage_payload = {**base, "choices": [], "usage": _openai_usage(reply, scenario, dialect)}
        frames.append((b"data: " + orjson.dumps(usage_payload) + b"\n\n", False))
    frames.append((b"data: [DONE]\n\n", False))
    return frames


def _anthropic_events(reply: Reply, scenario: Scenario, served: str) -> list[tuple[bytes, bool]]:
    number = next(_ids)

    def event(kind: str, data: dict[str, Any]) -> bytes:
        return (
            b"event: "
            + kind.encode()
            + b"\ndata: "
            + orjson.dumps({"type": kind, **data})
            + b"\n\n"
        )

    usage_start: dict[str, Any] = {
        "input_tokens": reply.input_tokens,
        "output_tokens": 1,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }
    message: dict[str, Any] = {
        "id": f"msg_standin_{number}",
        "type": "message",
        "role": "assistant",
        "model": served,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
    }
    if not scenario.flag("no_usage"):
        message["usage"] = usage_start
    frames: list[tuple[bytes, bool]] = [(event("message_start", {"message": message}), False)]
    frames.append((event("ping", {}), False))
    block = 0
    if reply.text_tokens:
        frames.append(
            (
                event(
                    "content_block_start",
                    {"index": block, "content_block": {"type": "text", "text": ""}},
                ),
                False,
            )
        )
        for index, token in enumerate(reply.text_tokens):
            text = token if index == len(reply.text_tokens) - 1 else f"{token} "
            frames.append(
                (
                    event(
                        "content_block_delta",
                        {"index": block, "delta": {"type": "text_delta", "text": text}},
                    ),
                    True,
                )
            )
        frames.append((event("content_block_stop", {"index": block}), False))
        block += 1
    if reply.tool_name:
        frames.append(
            (
                event(
                    "content_block_start",
                    {
                        "index": block,
                        "content_block": {
                            "type": "tool_use",
                            "id": f"toolu_standin_{number}",
                            "name": reply.tool_name,
                            "input": {},
                        },
                    },
                ),
                True,
            )
        )
        arguments = reply.tool_arguments
        third = max(1, len(arguments) // 3)
        for start in range(0, len(arguments), third):
            frames.append(
                (
                    event(
                        "content_block_delta",
                        {
                            "index": block,
                            "delta": {
                                "type": "input_json_delta",
                                "partial_json": arguments[start : start + third],
                            },
                        },
                    ),
                    True,
                )
            )
        frames.append((event("content_block_stop", {"index": block}), False))
    stop_reason = {
        "stop": "end_turn",
        "length": "max_tokens",
        "tool_calls": "tool_use",
        "stop_sequence": "stop_sequence",
    }[reply.finish]
    delta: dict[str, Any] = {
        "delta": {"stop_reason": stop_reason, "stop_sequence": reply.stop_sequence}
    }
    if not scenario.flag("no_usage"):
        delta["usage"] = {"output_tokens": _reported_output(reply, scenario)}
    else:
        delta["usage"] = {}
    frames.append((event("message_delta", delta), False))
    frames.append((event("message_stop", {}), False))
    return frames


# -- the application ----------------------------------------------------------------------------


async def _healthz(request: web.Request) -> web.Response:
    # The serving process, so a test can see that every worker answers.
    return web.Response(text="ok", headers={"X-Standin-Worker": str(os.getpid())})


async def _requests(request: web.Request) -> web.Response:
    marker = request.query.get("marker")
    items = [item.as_json() for item in request.app[RECORDER_KEY].matching(marker)]
    return web.Response(body=orjson.dumps(items), content_type="application/json")


async def _reset(request: web.Request) -> web.Response:
    request.app[RECORDER_KEY].items.clear()
    return web.Response(text="reset")


def create_app(*, record: bool = True) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[RECORDER_KEY] = Recorder(enabled=record)
    app.router.add_post("/openai/v1/chat/completions", handler(OPENAI))
    app.router.add_post("/openrouter/api/v1/chat/completions", handler(OPENROUTER))
    app.router.add_post("/anthropic/v1/messages", handler(ANTHROPIC))
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/_standin/requests", _requests)
    app.router.add_post("/_standin/reset", _reset)
    return app


def base_urls(origin: str) -> dict[str, str]:
    """Provider's ``*_BASE_URL`` settings for a stand-in at ``origin`` (``http://host:port``)."""
    return {
        "openai": f"{origin}/openai/v1",
        "anthropic": f"{origin}/anthropic/v1",
        "openrouter": f"{origin}/openrouter/api/v1",
    }

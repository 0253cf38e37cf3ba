"""Between the client's dialect and the upstream's: request bodies and complete responses.

Requests: a body for upstream is always built anew from an allowlist of fields, so nothing the
client adds reaches upstream unless it is known to be safe to bill (OpenRouter's ``models``,
``provider`` and ``route`` could make another model serve the request than the one billed;
OpenAI's ``service_tier``, ``store`` and audio ``modalities`` change price or retention). The
model name is the registry's upstream name and the output limit the clamped one.

Translation between dialects keeps meaning: system prompts, images (data URLs and base64 blocks
both ways), tools and tool choice, tool calls and tool results, stop sequences and stop reasons.
Content that the target dialect cannot express is refused (BODY_INVALID) rather than dropped.

Responses are normalised into a :class:`Completion` (text, tool calls, finish reason, usage)
and rendered in the client's dialect; when both dialects are the same, upstream's own body is
returned with only its id and model rewritten (nothing upstream said is lost).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from services.provider.domain.billing import Usage
from services.provider.domain.requests import ANTHROPIC_IMAGE_TYPES, ClientRequest, Dialect
from services.provider.domain.validation import Invalid

OPENAI_FORWARDED = (
    "temperature",
    "top_p",
    "stop",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "user",
    "reasoning_effort",
)
"""OpenAI request fields passed to OpenAI-format upstreams as they are."""
OPENROUTER_EXTRA_FORWARDED = ("top_k", "repetition_penalty", "min_p")
ANTHROPIC_FORWARDED = (
    "system",
    "temperature",
    "top_p",
    "top_k",
    "stop_sequences",
    "tools",
    "tool_choice",
    "metadata",
    "thinking",
)
"""Anthropic request fields passed to the Anthropic upstream as they are."""

_TOOL_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_DATA_URL = re.compile(r"^data:(image/[a-z0-9.+-]+);base64,(.*)$", re.DOTALL)


class Finish(StrEnum):
    """Why a completion ended, in neutral terms."""

    STOP = "stop"
    STOP_SEQUENCE = "stop_sequence"
    LENGTH = "length"
    TOOL_CALLS = "tool_calls"
    CONTENT_FILTER = "content_filter"


OPENAI_FINISH_IN: Mapping[str, Finish] = {
    "stop": Finish.STOP,
    "length": Finish.LENGTH,
    "tool_calls": Finish.TOOL_CALLS,
    "function_call": Finish.TOOL_CALLS,
    "content_filter": Finish.CONTENT_FILTER,
}
ANTHROPIC_FINISH_IN: Mapping[str, Finish] = {
    "end_turn": Finish.STOP,
    "pause_turn": Finish.STOP,
    "stop_sequence": Finish.STOP_SEQUENCE,
    "max_tokens": Finish.LENGTH,
    "model_context_window_exceeded": Finish.LENGTH,
    "tool_use": Finish.TOOL_CALLS,
    "refusal": Finish.CONTENT_FILTER,
}
OPENAI_FINISH_OUT: Mapping[Finish, str] = {
    Finish.STOP: "stop",
    Finish.STOP_SEQUENCE: "stop",
    Finish.LENGTH: "length",
    Finish.TOOL_CALLS: "tool_calls",
    Finish.CONTENT_FILTER: "content_filter",
}
ANTHROPIC_FINISH_OUT: Mapping[Finish, str] = {
    Finish.STOP: "end_turn",
    Finish.STOP_SEQUENCE: "stop_sequence",
    Finish.LENGTH: "max_tokens",
    Finish.TOOL_CALLS: "tool_use",
    Finish.CONTENT_FILTER: "refusal",
}


def upstream_dialect(provider: str) -> Dialect:
    """OpenAI and OpenRouter speak chat completions; Anthropic speaks messages."""
    return Dialect.ANTHROPIC if provider == "anthropic" else Dialect.OPENAI


# -- requests -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UpstreamTarget:
    provider: str
    """openai, anthropic or openrouter."""
    upstream_model: str
    max_output_tokens: int
    stream: bool


def upstream_body(request: ClientRequest, target: UpstreamTarget) -> dict[str, Any]:
    """The body to send upstream for ``request``."""
    dialect = upstream_dialect(target.provider)
    if request.dialect is Dialect.OPENAI and dialect is Dialect.OPENAI:
        body = _pick(request.body, OPENAI_FORWARDED)
        if target.provider == "openrouter":
            body.update(_pick(request.body, OPENROUTER_EXTRA_FORWARDED))
        body["messages"] = request.body["messages"]
        _openai_common(body, request, target)
        return body
    if request.dialect is Dialect.ANTHROPIC and dialect is Dialect.ANTHROPIC:
        body = _pick(request.body, ANTHROPIC_FORWARDED)
        body["messages"] = request.body["messages"]
        body["model"] = target.upstream_model
        body["max_tokens"] = target.max_output_tokens
        if target.stream:
            body["stream"] = True
        return body
    if request.dialect is Dialect.OPENAI:
        return _anthropic_from_openai(request.body, target)
    body = _openai_from_anthropic(request.body, target)
    _openai_common(body, request, target)
    return body


def _pick(source: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {name: source[name] for name in names if source.get(name) is not None}


def _openai_common(body: dict[str, Any], request: ClientRequest, target: UpstreamTarget) -> None:
    body["model"] = target.upstream_model
    if target.provider == "openrouter":
        body["max_tokens"] = target.max_output_tokens
        # Usage accounting in every answer, streamed or not (OpenRouter's switch).
        body["usage"] = {"include": True}
    elif (
        request.dialect is Dialect.OPENAI
        and "max_completion_tokens" not in request.body
        and (request.body.get("max_tokens") is not None)
    ):
        body["max_tokens"] = target.max_output_tokens
    else:
        body["max_completion_tokens"] = target.max_output_tokens
    if target.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}


def _safe_tool_id(raw: str) -> str:
    """Anthropic tool ids are ``[A-Za-z0-9_-]+``; the same mapping is applied to both ends."""
    cleaned = _TOOL_ID_UNSAFE.sub("_", raw)
    return cleaned or "tool"


def _text_of_parts(content: Any, field: str) -> str:
    """The text of string-or-parts content that may only hold text."""
    if isinstance(content, str):
        return content
    texts: list[str] = []
    for index, part in enumerate(content or []):
        if part.get("type") == "text":
            texts.append(part["text"])
        elif part.get("type") == "refusal":
            texts.append(part["refusal"])
        else:
            raise Invalid("BODY_INVALID", f"{field}[{index}].type", message="only text can go here")
    return "\n".join(texts)


def _anthropic_image_from_url(url: str, field: str) -> dict[str, Any]:
    match = _DATA_URL.match(url)
    if match is not None:
        media_type = match.group(1)
        if media_type not in ANTHROPIC_IMAGE_TYPES:
            raise Invalid("BODY_INVALID", field, message="unsupported image type for this model")
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": match.group(2)},
        }
    if url.startswith("data:"):
        raise Invalid("BODY_INVALID", field, message="image data URLs must be base64")
    return {"type": "image", "source": {"type": "url", "url": url}}


def _anthropic_from_openai(body: Mapping[str, Any], target: UpstreamTarget) -> dict[str, Any]:
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        # Anthropic wants alternating turns: consecutive same-role messages become one turn.
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})

    for index, message in enumerate(body["messages"]):
        field = f"messages[{index}]"
        role = message["role"]
        content = message.get("content")
        if role in ("system", "developer"):
            text = _text_of_parts(content, f"{field}.content")
            if text:
                system.append({"type": "text", "text": text})
        elif role == "user":
            blocks: list[dict[str, Any]] = []
            if isinstance(content, str):
                blocks.append({"type": "text", "text": content})
            else:
                for part_index, part in enumerate(content):
                    if part["type"] == "text":
                        blocks.append({"type": "text", "text": part["text"]})
                    else:
                        blocks.append(
                            _anthropic_image_from_url(
                                part["image_url"]["url"],
                                f"{field}.content[{part_index}].image_url.url",
                            )
                        )
            add("user", [block for block in blocks if block.get("type") != "text" or block["text"]])
        elif role == "assistant":
            blocks = []
            text = _text_of_parts(content, f"{field}.content") if content is not None else ""
            if text:
                blocks.append({"type": "text", "text": text})
            for call_index, call in enumerate(message.get("tool_calls") or []):
                arguments = call["function"]["arguments"] or "{}"
                try:
                    parsed = orjson.loads(arguments)
                except orjson.JSONDecodeError:
                    parsed = None
                if not isinstance(parsed, dict):
                    raise Invalid(
                        "BODY_INVALID",
                        f"{field}.tool_calls[{call_index}].function.arguments",
                        message="tool call arguments must be a JSON object",
                    )
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": _safe_tool_id(call["id"]),
                        "name": call["function"]["name"],
                        "input": parsed,
                    }
                )
            if blocks:
                add("assistant", blocks)
        else:  # tool
            add(
                "user",
                [
                    {
                        "type": "tool_result",
                        "tool_use_id": _safe_tool_id(message["tool_call_id"]),
                        "content": _text_of_parts(content, f"{field}.content"),
                    }
                ],
            )
    for turn in turns:
        if not turn["content"]:
            turn["content"] = [{"type": "text", "text": ""}]
    result: dict[str, Any] = {
        "model": target.upstream_model,
        "messages": turns,
        "max_tokens": target.max_output_tokens,
    }
    if system:
        result["system"] = system
    temperature = body.get("temperature")
    if temperature is not None:
        result["temperature"] = min(max(float(temperature), 0.0), 1.0)
    if body.get("top_p") is not None:
        result["top_p"] = body["top_p"]
    stop = body.get("stop")
    if stop is not None:
        result["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    tools = body.get("tools")
    if tools:
        result["tools"] = [
            {
                "name": tool["function"]["name"],
                "description": tool["function"].get("description") or "",
                "input_schema": tool["function"].get("parameters")
                or {"type": "object", "properties": {}},
            }
            for tool in tools
        ]
        choice = _anthropic_tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))
        if choice is not None:
            result["tool_choice"] = choice
    user = body.get("user")
    if isinstance(user, str) and user:
        result["metadata"] = {"user_id": user}
    if target.stream:
        result["stream"] = True
    return result


def _anthropic_tool_choice(choice: Any, parallel: Any) -> dict[str, Any] | None:
    result: dict[str, Any] | None
    if choice is None or choice == "auto":
        result = {"type": "auto"} if parallel is False else None
    elif choice == "none":
        return {"type": "none"}
    elif choice == "required":
        result = {"type": "any"}
    else:
        result = {"type": "tool", "name": choice["function"]["name"]}
    if result is not None and parallel is False:
        result["disable_parallel_tool_use"] = True
    return result


def _openai_from_anthropic(body: Mapping[str, Any], target: UpstreamTarget) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    system = body.get("system")
    if isinstance(system, str) and system:
        messages.append({"role": "system", "content": system})
    elif isinstance(system, list) and system:
        messages.append({"role": "system", "content": "\n".join(b["text"] for b in system)})
    for index, message in enumerate(body["messages"]):
        field = f"messages[{index}]"
        content = message["content"]
        if isinstance(content, str):
            messages.append({"role": message["role"], "content": content})
            continue
        if message["role"] == "assistant":
            texts = [block["text"] for block in content if block["type"] == "text"]
            calls = [
                {
                    "id": block["id"],
                    "type": "function",
                    "function": {
                        "name": block["name"],
                        "arguments": orjson.dumps(block["input"]).decode(),
                    },
                }
                for block in content
                if block["type"] == "tool_use"
            ]
            assistant: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
            if calls:
                assistant["tool_calls"] = calls
            if assistant["content"] is None and not calls:
                assistant["content"] = ""
            messages.append(assistant)
            continue
        # A user turn: tool results first (they must follow the assistant's tool calls), then
        # whatever else the turn says, as one user message.
        parts: list[dict[str, Any]] = []
        for block_index, block in enumerate(content):
            block_field = f"{field}.content[{block_index}]"
            if block["type"] == "tool_result":
                messages.append(
                    {
                        "role": "tool",
                        "tool_call_id": block["tool_use_id"],
                        "content": _tool_result_text(block, block_field),
                    }
                )
            elif block["type"] == "text":
                parts.append({"type": "text", "text": block["text"]})
            else:  # image
                parts.append({"type": "image_url", "image_url": {"url": _image_url(block)}})
        if parts:
            if all(part["type"] == "text" for part in parts):
                messages.append(
                    {"role": "user", "content": "\n".join(part["text"] for part in parts)}
                )
            else:
                messages.append({"role": "user", "content": parts})
    result: dict[str, Any] = {"messages": messages}
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            result[name] = body[name]
    if target.provider == "openrouter" and body.get("top_k") is not None:
        result["top_k"] = body["top_k"]
    if body.get("stop_sequences"):
        result["stop"] = list(body["stop_sequences"])
    tools = body.get("tools")
    if tools:
        result["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": tool["name"],
                    "description": tool.get("description") or "",
                    "parameters": tool["input_schema"],
                },
            }
            for tool in tools
        ]
        choice = body.get("tool_choice")
        if choice is not None:
            kind = choice["type"]
            if kind == "any":
                result["tool_choice"] = "required"
            elif kind == "tool":
                result["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
            else:
                result["tool_choice"] = kind
            if choice.get("disable_parallel_tool_use") is True:
                result["parallel_tool_calls"] = False
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        result["user"] = metadata["user_id"]
    return result


def _tool_result_text(block: Mapping[str, Any], field: str) -> str:
    inner = block.get("content")
    if inner is None:
        text = ""
    elif isinstance(inner, str):
        text = inner
    else:
        texts: list[str] = []
        for index, item in enumerate(inner):
            if item["type"] != "text":
                raise Invalid(
                    "BODY_INVALID",
                    f"{field}.content[{index}].type",
                    message="images inside tool results cannot reach an OpenAI-format model",
                )
            texts.append(item["text"])
        text = "\n".join(texts)
    if block.get("is_error"):
        return f"Error: {text}"
    return text


def _image_url(block: Mapping[str, Any]) -> str:
    source = block["source"]
    if source["type"] == "url":
        url: str = source["url"]
        return url
    return f"data:{source['media_type']};base64,{source['data']}"


# -- responses ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str
    """The arguments as a JSON text (OpenAI's form)."""


@dataclass(frozen=True)
class Completion:
    """A complete upstream answer in neutral terms."""

    text: str
    tool_calls: tuple[ToolCall, ...]
    finish: Finish
    stop_sequence: str | None
    usage: Usage | None
    served_model: str

    @property
    def output_bytes(self) -> int:
        return len(self.text.encode()) + sum(
            len(call.arguments.encode()) for call in self.tool_calls
        )


class UpstreamResponseInvalid(ValueError):
    """Upstream answered 2xx with a body that is not a response of its dialect."""


def _count(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def openai_usage(raw: Any) -> Usage | None:
    """Usage of an OpenAI-format ``usage`` object; None when absent or malformed."""
    if not isinstance(raw, dict):
        return None
    prompt = _count(raw.get("prompt_tokens"))
    completion = _count(raw.get("completion_tokens"))
    if prompt is None or completion is None:
        return None
    details = raw.get("prompt_tokens_details")
    cached = _count(details.get("cached_tokens")) if isinstance(details, dict) else None
    return Usage(
        input_tokens=prompt,
        output_tokens=completion,
        cached_input_tokens=min(cached or 0, prompt),
    )


def anthropic_input_tokens(raw: Any) -> tuple[int, int] | None:
    """(all input tokens, cache reads) of an Anthropic ``usage`` object; None when absent."""
    if not isinstance(raw, dict):
        return None
    base = _count(raw.get("input_tokens"))
    if base is None:
        return None
    created = _count(raw.get("cache_creation_input_tokens")) or 0
    read = _count(raw.get("cache_read_input_tokens")) or 0
    return base + created + read, read


def anthropic_usage(raw: Any) -> Usage | None:
    inputs = anthropic_input_tokens(raw)
    output = _count(raw.get("output_tokens")) if isinstance(raw, dict) else None
    if inputs is None or output is None:
        return None
    return Usage(input_tokens=inputs[0], output_tokens=output, cached_input_tokens=inputs[1])


def parse_completion(dialect: Dialect, raw: Any) -> Completion:
    """Normalise a complete upstream response body, or raise :class:`UpstreamResponseInvalid`."""
    if not isinstance(raw, dict):
        raise UpstreamResponseInvalid("not an object")
    if dialect is Dialect.OPENAI:
        choices = raw.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise UpstreamResponseInvalid("no choices")
        message = choices[0].get("message")
        if not isinstance(message, dict):
            raise UpstreamResponseInvalid("no message")
        content = message.get("content")
        text = content if isinstance(content, str) else ""
        refusal = message.get("refusal")
        if not text and isinstance(refusal, str):
            text = refusal
        calls: list[ToolCall] = []
        for call in message.get("tool_calls") or []:
            if not isinstance(call, dict) or not isinstance(call.get("function"), dict):
                raise UpstreamResponseInvalid("malformed tool call")
            function = call["function"]
            calls.append(
                ToolCall(
                    id=str(call.get("id") or ""),
                    name=str(function.get("name") or ""),
                    arguments=str(function.get("arguments") or ""),
                )
            )
        finish = OPENAI_FINISH_IN.get(str(choices[0].get("finish_reason")), Finish.STOP)
        return Completion(
            text=text,
            tool_calls=tuple(calls),
            finish=finish,
            stop_sequence=None,
            usage=openai_usage(raw.get("usage")),
            served_model=str(raw.get("model") or ""),
        )
    blocks = raw.get("content")
    if raw.get("type") != "message" or not isinstance(blocks, list):
        raise UpstreamResponseInvalid("not a message")
    texts: list[str] = []
    calls = []
    for block in blocks:
        if not isinstance(block, dict):
            raise UpstreamResponseInvalid("malformed block")
        if block.get("type") == "text":
            texts.append(str(block.get("text") or ""))
        elif block.get("type") == "tool_use":
            calls.append(
                ToolCall(
                    id=str(block.get("id") or ""),
                    name=str(block.get("name") or ""),
                    arguments=orjson.dumps(block.get("input") or {}).decode(),
                )
            )
    stop_sequence = raw.get("stop_sequence")
    return Completion(
        text="".join(texts),
        tool_calls=tuple(calls),
        finish=ANTHROPIC_FINISH_IN.get(str(raw.get("stop_reason")), Finish.STOP),
        stop_sequence=stop_sequence if isinstance(stop_sequence, str) else None,
        usage=anthropic_usage(raw.get("usage")),
        served_model=str(raw.get("model") or ""),
    )


def openai_usage_object(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_input_tokens},
    }


def anthropic_usage_object(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens - usage.cached_input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": usage.cached_input_tokens,
    }


def parse_tool_input(arguments: str) -> dict[str, Any]:
    """Tool-call arguments as an Anthropic ``input`` object (kept verbatim if not an object)."""
    try:
        parsed = orjson.loads(arguments) if arguments else {}
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict):
        return parsed
    return {"_unparsed_arguments": arguments}


@dataclass(frozen=True)
class ResponseIdentity:
    """What the client sees instead of upstream's identifiers."""

    response_id: str
    """``gen-<generation id>``."""
    model: str
    """The registry model id the client asked for."""
    created_s: int


def render_response(
    client: Dialect,
    upstream: Dialect,
    raw: dict[str, Any],
    completion: Completion,
    identity: ResponseIdentity,
    usage: Usage | None,
) -> dict[str, Any]:
    """The response body for the client; ``usage`` is what was billed (None: leave upstream's)."""
    if client is upstream:
        body = dict(raw)
        body["id"] = identity.response_id
        body["model"] = identity.model
        if usage is not None and completion.usage is None:
            body["usage"] = (
                openai_usage_object(usage)
                if client is Dialect.OPENAI
                else anthropic_usage_object(usage)
            )
        return body
    shown = usage or completion.usage or Usage(0, 0)
    if client is Dialect.OPENAI:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": completion.text if completion.text or not completion.tool_calls else None,
        }
        if completion.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call in completion.tool_calls
            ]
        return {
            "id": identity.response_id,
            "object": "chat.completion",
            "created": identity.created_s,
            "model": identity.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": OPENAI_FINISH_OUT[completion.finish],
                    "logprobs": None,
                }
            ],
            "usage": openai_usage_object(shown),
        }
    content: list[dict[str, Any]] = []
    if completion.text:
        content.append({"type": "text", "text": completion.text})
    for call in completion.tool_calls:
        content.append(
            {
                "type": "tool_use",
                "id": _safe_tool_id(call.id),
                "name": call.name,
                "input": parse_tool_input(call.arguments),
            }
        )
    return {
        "id": identity.response_id,
        "type": "message",
        "role": "assistant",
        "model": identity.model,
        "content": content,
        "stop_reason": ANTHROPIC_FINISH_OUT[completion.finish],
        "stop_sequence": completion.stop_sequence,
        "usage": anthropic_usage_object(shown),
    }

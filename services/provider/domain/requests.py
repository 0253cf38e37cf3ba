"""The client's request: parsed, checked, and measured for the hold.

A client speaks one of two dialects, OpenAI chat completions or Anthropic messages. The body is
parsed once here (size, JSON, depth, the dialect's required fields and the types of every field
that provider reads or translates) into a :class:`ClientRequest`. What provider does not read
it leaves to upstream to judge; fields outside an allowlist are never forwarded at all (see
:mod:`services.provider.domain.translate`).

The input estimate counts the UTF-8 bytes of the whole body as JSON (keys and punctuation
included, so nothing a model reads can be missed) with image payloads removed, divided by
``bytes_per_token`` (3 by default: an over-count for natural language and code), plus a fixed
number of tokens per image and per message. It is meant to be an upper bound: the hold must
cover the request.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from services.provider.domain.validation import Invalid

MAX_JSON_DEPTH = 64
MAX_MESSAGES = 10_000
MAX_PARTS_PER_MESSAGE = 1_000
MAX_TOOLS = 512
MAX_STOP_SEQUENCES = 16
TYPICAL_BYTES_PER_TOKEN = 4
"""Used only for the context-length check: refuse when even a typical count does not fit."""

OPENAI_ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
ANTHROPIC_ROLES = frozenset({"user", "assistant"})
ANTHROPIC_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


class Dialect(StrEnum):
    """The wire format a client spoke and is answered in (the values are stored)."""

    OPENAI = "openai_chat_completions"
    ANTHROPIC = "anthropic_messages"


@dataclass(frozen=True)
class ClientRequest:
    dialect: Dialect
    body: Mapping[str, Any]
    """The parsed body; read-only by convention (translation builds new objects)."""
    model: str
    stream: bool
    requested_max_tokens: int | None
    """The client's output limit, or None when it set none (OpenAI only)."""
    uses_tools: bool
    image_count: int
    message_count: int
    weight_bytes: int
    """Bytes counted for the input estimate (the body as JSON without image payloads)."""
    include_usage: bool
    """Whether an OpenAI client asked for the usage chunk at the end of a stream."""

    def input_estimate(
        self, *, bytes_per_token: int, image_tokens: int, message_overhead: int
    ) -> int:
        """An over-estimate of the input tokens (see the module docstring)."""
        assert bytes_per_token >= 1
        return (
            math.ceil(self.weight_bytes / bytes_per_token)
            + self.image_count * image_tokens
            + self.message_count * message_overhead
        )

    def typical_input_tokens(self) -> int:
        """A typical count of the text alone, for the context-length check."""
        return math.ceil(self.weight_bytes / TYPICAL_BYTES_PER_TOKEN)


def parse(dialect: Dialect, raw: bytes, *, max_body_bytes: int) -> ClientRequest:
    """Check and measure a client body, or raise :class:`Invalid` saying why not."""
    if len(raw) > max_body_bytes:
        raise Invalid("BODY_TOO_LARGE")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise Invalid("BODY_INVALID", message="the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise Invalid("BODY_INVALID", message="the body must be a JSON object")
    _check_depth(body)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise Invalid("BODY_INVALID", "model", message="model must be a non-empty string")
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise Invalid("BODY_INVALID", "stream", message="stream must be a boolean")
    measure = _Measure()
    if dialect is Dialect.OPENAI:
        requested, uses_tools, include_usage = _check_openai(body, measure)
    else:
        requested, uses_tools = _check_anthropic(body, measure)
        include_usage = False
    stripped = measure.strip(body)
    return ClientRequest(
        dialect=dialect,
        body=body,
        model=model,
        stream=stream,
        requested_max_tokens=requested,
        uses_tools=uses_tools,
        image_count=measure.images,
        message_count=len(body["messages"]),
        weight_bytes=len(orjson.dumps(stripped)),
        include_usage=include_usage,
    )


# -- shared checks ------------------------------------------------------------------------------


def _check_depth(value: Any) -> None:
    """Refuse nesting deeper than MAX_JSON_DEPTH (iteratively: no recursion limit to hit)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            raise Invalid("BODY_INVALID", message=f"the body nests deeper than {MAX_JSON_DEPTH}")
        if isinstance(item, dict):
            pending.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _string(value: Any, field: str, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise Invalid("BODY_INVALID", field, message=f"{field} must be a string")
    return value


def _list(value: Any, field: str, *, maximum: int, allow_empty: bool = False) -> list[Any]:
    if not isinstance(value, list) or (not value and not allow_empty):
        raise Invalid("BODY_INVALID", field, message=f"{field} must be a non-empty list")
    if len(value) > maximum:
        raise Invalid("BODY_INVALID", field, message=f"{field} has more than {maximum} items")
    return value


def _object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid("BODY_INVALID", field, message=f"{field} must be an object")
    return value


def _max_tokens(value: Any, field: str) -> int:
    if not _is_int(value) or value <= 0:
        raise Invalid("MAX_TOKENS_INVALID", field)
    result: int = value
    return result


def _stops(value: Any, field: str) -> None:
    if value is None or isinstance(value, str):
        return
    items = _list(value, field, maximum=MAX_STOP_SEQUENCES, allow_empty=True)
    for index, item in enumerate(items):
        _string(item, f"{field}[{index}]")


class _Measure:
    """Counts images and remembers where their payloads are, to leave them out of the weight."""

    def __init__(self) -> None:
        self.images = 0
        self._payloads: list[tuple[dict[str, Any], str]] = []

    def image(self, holder: dict[str, Any], key: str) -> None:
        self.images += 1
        self._payloads.append((holder, key))

    def strip(self, body: dict[str, Any]) -> Any:
        """The body without image payloads (a shallow rebuild of only the touched objects)."""
        if not self._payloads:
            return body
        ids = {id(holder): key for holder, key in self._payloads}
        return _without(body, ids)


def _without(value: Any, payloads: Mapping[int, str]) -> Any:
    if isinstance(value, dict):
        skipped = payloads.get(id(value))
        return {key: _without(item, payloads) for key, item in value.items() if key != skipped}
    if isinstance(value, list):
        return [_without(item, payloads) for item in value]
    return value


# -- OpenAI chat completions --------------------------------------------------------------------


def _check_openai(body: dict[str, Any], measure: _Measure) -> tuple[int | None, bool, bool]:
    messages = _list(body.get("messages"), "messages", maximum=MAX_MESSAGES)
    for index, message in enumerate(messages):
        _check_openai_message(message, f"messages[{index}]", measure)
    requested: int | None = None
    if body.get("max_completion_tokens") is not None:
        requested = _max_tokens(body["max_completion_tokens"], "max_completion_tokens")
    elif body.get("max_tokens") is not None:
        requested = _max_tokens(body["max_tokens"], "max_tokens")
    n = body.get("n")
    if n is not None and (not _is_int(n) or n != 1):
        raise Invalid("BODY_INVALID", "n", message="n must be 1")
    _stops(body.get("stop"), "stop")
    tools = body.get("tools")
    uses_tools = False
    if tools is not None:
        for index, tool in enumerate(_list(tools, "tools", maximum=MAX_TOOLS, allow_empty=True)):
            field = f"tools[{index}]"
            tool = _object(tool, field)
            if tool.get("type") != "function":
                raise Invalid("BODY_INVALID", f"{field}.type", message="only function tools")
            function = _object(tool.get("function"), f"{field}.function")
            _string(function.get("name"), f"{field}.function.name")
            if function.get("parameters") is not None:
                _object(function["parameters"], f"{field}.function.parameters")
            _string(function.get("description"), f"{field}.function.description", required=False)
        uses_tools = bool(tools)
    choice = body.get("tool_choice")
    if choice is not None and not (
        choice in ("none", "auto", "required")
        or (
            isinstance(choice, dict)
            and choice.get("type") == "function"
            and isinstance(choice.get("function"), dict)
            and isinstance(choice["function"].get("name"), str)
        )
    ):
        raise Invalid("BODY_INVALID", "tool_choice", message="tool_choice is not valid")
    if any(isinstance(m, dict) and m.get("tool_calls") for m in messages):
        uses_tools = True
    include_usage = False
    options = body.get("stream_options")
    if options is not None:
        options = _object(options, "stream_options")
        flag = options.get("include_usage", False)
        if not isinstance(flag, bool):
            raise Invalid("BODY_INVALID", "stream_options.include_usage")
        include_usage = flag
    for name in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
        value = body.get(name)
        if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
            raise Invalid("BODY_INVALID", name, message=f"{name} must be a number")
    return requested, uses_tools, include_usage


def _check_openai_message(message: Any, field: str, measure: _Measure) -> None:
    message = _object(message, field)
    role = message.get("role")
    if role not in OPENAI_ROLES:
        raise Invalid("BODY_INVALID", f"{field}.role", message="unsupported message role")
    content = message.get("content")
    if role == "assistant":
        if content is not None:
            _openai_content(content, f"{field}.content", measure, allowed=("text", "refusal"))
        calls = message.get("tool_calls")
        if calls is not None:
            for index, call in enumerate(_list(calls, f"{field}.tool_calls", maximum=MAX_TOOLS)):
                call_field = f"{field}.tool_calls[{index}]"
                call = _object(call, call_field)
                _string(call.get("id"), f"{call_field}.id")
                function = _object(call.get("function"), f"{call_field}.function")
                _string(function.get("name"), f"{call_field}.function.name")
                _string(function.get("arguments"), f"{call_field}.function.arguments")
        if content is None and not calls:
            raise Invalid("BODY_INVALID", f"{field}.content", message="assistant message empty")
        return
    if content is None:
        raise Invalid("BODY_INVALID", f"{field}.content", message="content is required")
    if role == "tool":
        _string(message.get("tool_call_id"), f"{field}.tool_call_id")
        _openai_content(content, f"{field}.content", measure, allowed=("text",))
    elif role == "user":
        _openai_content(content, f"{field}.content", measure, allowed=("text", "image_url"))
    else:
        _openai_content(content, f"{field}.content", measure, allowed=("text",))


def _openai_content(
    content: Any, field: str, measure: _Measure, *, allowed: tuple[str, ...]
) -> None:
    if isinstance(content, str):
        return
    parts = _list(content, field, maximum=MAX_PARTS_PER_MESSAGE)
    for index, part in enumerate(parts):
        part_field = f"{field}[{index}]"
        part = _object(part, part_field)
        kind = part.get("type")
        if kind not in allowed:
            raise Invalid(
                "BODY_INVALID", f"{part_field}.type", message="unsupported content part type"
            )
        if kind == "text":
            _string(part.get("text"), f"{part_field}.text")
        elif kind == "refusal":
            _string(part.get("refusal"), f"{part_field}.refusal")
        else:
            image = _object(part.get("image_url"), f"{part_field}.image_url")
            url = _string(image.get("url"), f"{part_field}.image_url.url")
            assert url is not None
            if not (url.startswith(("https://", "http://")) or url.startswith("data:image/")):
                raise Invalid(
                    "BODY_INVALID", f"{part_field}.image_url.url", message="unsupported image url"
                )
            measure.image(image, "url")


# -- Anthropic messages -------------------------------------------------------------------------


def _check_anthropic(body: dict[str, Any], measure: _Measure) -> tuple[int, bool]:
    if "max_tokens" not in body:
        raise Invalid("BODY_INVALID", "max_tokens", message="max_tokens is required")
    requested = _max_tokens(body["max_tokens"], "max_tokens")
    messages = _list(body.get("messages"), "messages", maximum=MAX_MESSAGES)
    uses_tools = False
    for index, message in enumerate(messages):
        field = f"messages[{index}]"
        message = _object(message, field)
        role = message.get("role")
        if role not in ANTHROPIC_ROLES:
            raise Invalid("BODY_INVALID", f"{field}.role", message="unsupported message role")
        content = message.get("content")
        if isinstance(content, str):
            continue
        blocks = _list(content, f"{field}.content", maximum=MAX_PARTS_PER_MESSAGE)
        for block_index, block in enumerate(blocks):
            kind = _anthropic_block(block, f"{field}.content[{block_index}]", role, measure)
            uses_tools = uses_tools or kind in ("tool_use", "tool_result")
    system = body.get("system")
    if system is not None and not isinstance(system, str):
        for index, block in enumerate(_list(system, "system", maximum=MAX_PARTS_PER_MESSAGE)):
            block = _object(block, f"system[{index}]")
            if block.get("type") != "text":
                raise Invalid("BODY_INVALID", f"system[{index}].type", message="text only")
            _string(block.get("text"), f"system[{index}].text")
    tools = body.get("tools")
    if tools is not None:
        for index, tool in enumerate(_list(tools, "tools", maximum=MAX_TOOLS, allow_empty=True)):
            field = f"tools[{index}]"
            tool = _object(tool, field)
            if tool.get("type") not in (None, "custom"):
                raise Invalid(
                    "BODY_INVALID", f"{field}.type", message="server tools are not supported"
                )
            _string(tool.get("name"), f"{field}.name")
            _object(tool.get("input_schema"), f"{field}.input_schema")
            _string(tool.get("description"), f"{field}.description", required=False)
        uses_tools = uses_tools or bool(tools)
    choice = body.get("tool_choice")
    if choice is not None:
        choice = _object(choice, "tool_choice")
        if choice.get("type") not in ("auto", "any", "tool", "none"):
            raise Invalid("BODY_INVALID", "tool_choice.type", message="tool_choice is not valid")
        if choice["type"] == "tool":
            _string(choice.get("name"), "tool_choice.name")
    stops = body.get("stop_sequences")
    if stops is not None:
        for index, item in enumerate(
            _list(stops, "stop_sequences", maximum=MAX_STOP_SEQUENCES, allow_empty=True)
        ):
            _string(item, f"stop_sequences[{index}]")
    for name in ("temperature", "top_p"):
        value = body.get(name)
        if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
            raise Invalid("BODY_INVALID", name, message=f"{name} must be a number")
    top_k = body.get("top_k")
    if top_k is not None and not _is_int(top_k):
        raise Invalid("BODY_INVALID", "top_k", message="top_k must be an integer")
    return requested, uses_tools


def _anthropic_block(block: Any, field: str, role: str, measure: _Measure) -> str:
    block = _object(block, field)
    kind = block.get("type")
    if kind == "text":
        _string(block.get("text"), f"{field}.text")
    elif kind == "image":
        if role != "user":
            raise Invalid("BODY_INVALID", f"{field}.type", message="images only in user turns")
        _anthropic_image(block, field, measure)
    elif kind == "tool_use":
        if role != "assistant":
            raise Invalid("BODY_INVALID", f"{field}.type", message="tool_use only from assistant")
        _string(block.get("id"), f"{field}.id")
        _string(block.get("name"), f"{field}.name")
        _object(block.get("input"), f"{field}.input")
    elif kind == "tool_result":
        if role != "user":
            raise Invalid("BODY_INVALID", f"{field}.type", message="tool_result only from user")
        _string(block.get("tool_use_id"), f"{field}.tool_use_id")
        inner = block.get("content")
        if inner is not None and not isinstance(inner, str):
            items = _list(
                inner, f"{field}.content", maximum=MAX_PARTS_PER_MESSAGE, allow_empty=True
            )
            for index, item in enumerate(items):
                item_field = f"{field}.content[{index}]"
                item = _object(item, item_field)
                if item.get("type") == "text":
                    _string(item.get("text"), f"{item_field}.text")
                elif item.get("type") == "image":
                    _anthropic_image(item, item_field, measure)
                else:
                    raise Invalid("BODY_INVALID", f"{item_field}.type", message="text or image")
        is_error = block.get("is_error")
        if is_error is not None and not isinstance(is_error, bool):
            raise Invalid("BODY_INVALID", f"{field}.is_error", message="is_error must be boolean")
    elif kind == "thinking":
        if role != "assistant":
            raise Invalid("BODY_INVALID", f"{field}.type", message="thinking only from assistant")
        _string(block.get("thinking"), f"{field}.thinking")
    elif kind == "redacted_thinking":
        if role != "assistant":
            raise Invalid("BODY_INVALID", f"{field}.type", message="thinking only from assistant")
        _string(block.get("data"), f"{field}.data")
    else:
        raise Invalid("BODY_INVALID", f"{field}.type", message="unsupported content block type")
    assert isinstance(kind, str)
    return kind


def _anthropic_image(block: dict[str, Any], field: str, measure: _Measure) -> None:
    source = _object(block.get("source"), f"{field}.source")
    kind = source.get("type")
    if kind == "base64":
        if source.get("media_type") not in ANTHROPIC_IMAGE_TYPES:
            raise Invalid(
                "BODY_INVALID", f"{field}.source.media_type", message="unsupported image type"
            )
        _string(source.get("data"), f"{field}.source.data")
        measure.image(source, "data")
    elif kind == "url":
        url = _string(source.get("url"), f"{field}.source.url")
        assert url is not None
        if not url.startswith(("https://", "http://")):
            raise Invalid("BODY_INVALID", f"{field}.source.url", message="unsupported image url")
        measure.image(source, "url")
    else:
        raise Invalid("BODY_INVALID", f"{field}.source.type", message="base64 or url images")

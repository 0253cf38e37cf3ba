"""Streams: upstream events in, the client's SSE events out, and an account of what was produced.

Each upstream SSE event is decoded (:class:`OpenAIDecoder`, :class:`AnthropicDecoder`) into
neutral :data:`Event` values; a :class:`StreamAccount` keeps what billing needs (reported usage,
finish reason, bytes and events produced, whether upstream ended the stream properly, an error);
a renderer writes the client's events. Cross-dialect renderers build the client's events from
the neutral ones; same-dialect renderers pass upstream's own events through with the id and model
rewritten (and, for OpenAI, the usage chunk dropped when the client did not ask for it).

Upstream ``error`` events are errors (the original ignored Anthropic's and reported a clean
end); a stream that stops without its terminator ([DONE] / message_stop) is incomplete. Tool-call
indexes on the OpenAI side count tool calls, not content blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from services.provider.domain.billing import Usage
from services.provider.domain.requests import Dialect
from services.provider.domain.sse import DONE, SseEvent, encode_data, encode_event
from services.provider.domain.translate import (
    ANTHROPIC_FINISH_IN,
    ANTHROPIC_FINISH_OUT,
    OPENAI_FINISH_IN,
    OPENAI_FINISH_OUT,
    Finish,
    ResponseIdentity,
    anthropic_input_tokens,
    anthropic_usage_object,
    openai_usage,
    openai_usage_object,
)


@dataclass(frozen=True)
class Started:
    served_model: str
    input_tokens: int | None
    """Input tokens when upstream says them at the start (Anthropic), else None."""
    cached_input_tokens: int = 0


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ReasoningDelta:
    """Thinking/reasoning output: billed as output, not shown across dialects."""

    size_bytes: int


@dataclass(frozen=True)
class ToolCallStarted:
    index: int
    """The tool call's position among tool calls (0, 1, ...)."""
    id: str
    name: str


@dataclass(frozen=True)
class ToolArguments:
    index: int
    fragment: str


@dataclass(frozen=True)
class Finished:
    finish: Finish
    stop_sequence: str | None = None


@dataclass(frozen=True)
class UsageReported:
    usage: Usage


@dataclass(frozen=True)
class UpstreamErrorEvent:
    type: str
    message: str


@dataclass(frozen=True)
class Ended:
    """Upstream closed the stream properly ([DONE] or message_stop)."""


Event = (
    Started
    | TextDelta
    | ReasoningDelta
    | ToolCallStarted
    | ToolArguments
    | Finished
    | UsageReported
    | UpstreamErrorEvent
    | Ended
)


class StreamDecodeError(ValueError):
    """An upstream event that is not valid in its dialect."""


def _json(event: SseEvent) -> dict[str, Any]:
    try:
        value = orjson.loads(event.data)
    except orjson.JSONDecodeError:
        raise StreamDecodeError("event data is not JSON") from None
    if not isinstance(value, dict):
        raise StreamDecodeError("event data is not an object")
    return value


class OpenAIDecoder:
    """OpenAI / OpenRouter chat-completion chunks."""

    def __init__(self) -> None:
        self._started = False
        self._tool_ids: dict[int, str] = {}

    def decode(self, event: SseEvent) -> tuple[dict[str, Any] | None, list[Event]]:
        if event.data.strip() == "[DONE]":
            return None, [Ended()]
        chunk = _json(event)
        events: list[Event] = []
        error = chunk.get("error")
        if error is not None:
            if isinstance(error, dict):
                events.append(
                    UpstreamErrorEvent(
                        type=str(error.get("type") or error.get("code") or "error"),
                        message=str(error.get("message") or ""),
                    )
                )
            else:
                events.append(UpstreamErrorEvent(type="error", message=str(error)))
            return chunk, events
        if not self._started:
            self._started = True
            events.append(Started(served_model=str(chunk.get("model") or ""), input_tokens=None))
        choices = chunk.get("choices")
        if isinstance(choices, list):
            for choice in choices:
                if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                    continue
                delta = choice.get("delta")
                if isinstance(delta, dict):
                    events.extend(self._delta(delta))
                reason = choice.get("finish_reason")
                if isinstance(reason, str):
                    events.append(Finished(OPENAI_FINISH_IN.get(reason, Finish.STOP)))
        usage = openai_usage(chunk.get("usage"))
        if usage is not None:
            events.append(UsageReported(usage))
        return chunk, events

    def _delta(self, delta: dict[str, Any]) -> list[Event]:
        events: list[Event] = []
        for key in ("reasoning", "reasoning_content"):
            value = delta.get(key)
            if isinstance(value, str) and value:
                events.append(ReasoningDelta(len(value.encode())))
        content = delta.get("content")
        if isinstance(content, str) and content:
            events.append(TextDelta(content))
        refusal = delta.get("refusal")
        if isinstance(refusal, str) and refusal:
            events.append(TextDelta(refusal))
        for call in delta.get("tool_calls") or []:
            if not isinstance(call, dict):
                raise StreamDecodeError("malformed tool call delta")
            index = call.get("index", 0)
            if not isinstance(index, int) or isinstance(index, bool) or index < 0:
                raise StreamDecodeError("malformed tool call index")
            function = call.get("function") if isinstance(call.get("function"), dict) else {}
            assert isinstance(function, dict)
            call_id = call.get("id")
            if isinstance(call_id, str) and call_id and index not in self._tool_ids:
                self._tool_ids[index] = call_id
                events.append(
                    ToolCallStarted(index=index, id=call_id, name=str(function.get("name") or ""))
                )
            arguments = function.get("arguments")
            if isinstance(arguments, str) and arguments:
                if index not in self._tool_ids:
                    raise StreamDecodeError("tool call arguments before the call")
                events.append(ToolArguments(index=index, fragment=arguments))
        return events


class AnthropicDecoder:
    """Anthropic message events."""

    def __init__(self) -> None:
        self._input: tuple[int, int] | None = None
        self._block_kinds: dict[int, str] = {}
        self._tool_of_block: dict[int, int] = {}

    def decode(self, event: SseEvent) -> tuple[dict[str, Any] | None, list[Event]]:
        data = _json(event)
        kind = event.event or str(data.get("type") or "")
        if kind == "message_start":
            message = data.get("message") if isinstance(data.get("message"), dict) else {}
            assert isinstance(message, dict)
            self._input = anthropic_input_tokens(message.get("usage"))
            return data, [
                Started(
                    served_model=str(message.get("model") or ""),
                    input_tokens=self._input[0] if self._input else None,
                    cached_input_tokens=self._input[1] if self._input else 0,
                )
            ]
        if kind == "content_block_start":
            return data, self._block_start(data)
        if kind == "content_block_delta":
            return data, self._block_delta(data)
        if kind == "message_delta":
            events: list[Event] = []
            delta = data.get("delta") if isinstance(data.get("delta"), dict) else {}
            assert isinstance(delta, dict)
            reason = delta.get("stop_reason")
            if isinstance(reason, str):
                stop_sequence = delta.get("stop_sequence")
                events.append(
                    Finished(
                        ANTHROPIC_FINISH_IN.get(reason, Finish.STOP),
                        stop_sequence if isinstance(stop_sequence, str) else None,
                    )
                )
            usage = data.get("usage")
            output = usage.get("output_tokens") if isinstance(usage, dict) else None
            if isinstance(output, int) and not isinstance(output, bool) and output >= 0:
                inputs = anthropic_input_tokens(usage) or self._input
                if inputs is not None:
                    events.append(
                        UsageReported(Usage(inputs[0], output, min(inputs[1], inputs[0])))
                    )
            return data, events
        if kind == "message_stop":
            return data, [Ended()]
        if kind == "error":
            error = data.get("error") if isinstance(data.get("error"), dict) else {}
            assert isinstance(error, dict)
            return data, [
                UpstreamErrorEvent(
                    type=str(error.get("type") or "error"), message=str(error.get("message") or "")
                )
            ]
        # ping, content_block_stop and event types added later carry nothing billing needs.
        return data, []

    def _block_start(self, data: dict[str, Any]) -> list[Event]:
        index = data.get("index")
        block = data.get("content_block")
        if not isinstance(index, int) or not isinstance(block, dict):
            raise StreamDecodeError("malformed content_block_start")
        kind = str(block.get("type") or "")
        self._block_kinds[index] = kind
        if kind == "tool_use":
            ordinal = len(self._tool_of_block)
            self._tool_of_block[index] = ordinal
            return [
                ToolCallStarted(
                    index=ordinal, id=str(block.get("id") or ""), name=str(block.get("name") or "")
                )
            ]
        if kind == "text" and block.get("text"):
            return [TextDelta(str(block["text"]))]
        return []

    def _block_delta(self, data: dict[str, Any]) -> list[Event]:
        index = data.get("index")
        delta = data.get("delta")
        if not isinstance(index, int) or not isinstance(delta, dict):
            raise StreamDecodeError("malformed content_block_delta")
        kind = delta.get("type")
        if kind == "text_delta":
            text = str(delta.get("text") or "")
            return [TextDelta(text)] if text else []
        if kind == "input_json_delta":
            if index not in self._tool_of_block:
                raise StreamDecodeError("input_json_delta outside a tool_use block")
            fragment = str(delta.get("partial_json") or "")
            return [ToolArguments(self._tool_of_block[index], fragment)] if fragment else []
        if kind == "thinking_delta":
            return [ReasoningDelta(len(str(delta.get("thinking") or "").encode()))]
        return []


def decoder_for(dialect: Dialect) -> OpenAIDecoder | AnthropicDecoder:
    return OpenAIDecoder() if dialect is Dialect.OPENAI else AnthropicDecoder()


@dataclass
class StreamAccount:
    """What a stream produced, for billing and the generation log."""

    served_model: str = ""
    started_input_tokens: int | None = None
    usage: Usage | None = None
    finish: Finish | None = None
    stop_sequence: str | None = None
    output_bytes: int = 0
    output_events: int = 0
    ended: bool = False
    error: UpstreamErrorEvent | None = None
    tool_calls: int = 0

    def observe(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, Started):
                self.served_model = event.served_model
                self.started_input_tokens = event.input_tokens
            elif isinstance(event, TextDelta):
                self.output_bytes += len(event.text.encode())
                self.output_events += 1
            elif isinstance(event, ReasoningDelta):
                self.output_bytes += event.size_bytes
                self.output_events += 1
            elif isinstance(event, ToolCallStarted):
                self.tool_calls += 1
                self.output_bytes += len(event.name.encode())
                self.output_events += 1
            elif isinstance(event, ToolArguments):
                self.output_bytes += len(event.fragment.encode())
                self.output_events += 1
            elif isinstance(event, Finished):
                self.finish = event.finish
                self.stop_sequence = event.stop_sequence
            elif isinstance(event, UsageReported):
                self.usage = event.usage
            elif isinstance(event, UpstreamErrorEvent):
                self.error = event
            else:
                self.ended = True

    @property
    def produced_output(self) -> bool:
        return self.output_events > 0


# -- renderers ----------------------------------------------------------------------------------


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value)


@dataclass
class OpenAIRenderer:
    """Chat-completion chunks for an OpenAI client."""

    identity: ResponseIdentity
    include_usage: bool
    passthrough: bool
    """Upstream speaks OpenAI too: forward its chunks, rewriting id and model."""
    _role_sent: bool = False
    _usage: Usage | None = None
    _finished: bool = field(default=False)

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        return encode_data(
            _dumps(
                {
                    "id": self.identity.response_id,
                    "object": "chat.completion.chunk",
                    "created": self.identity.created_s,
                    "model": self.identity.model,
                    "choices": [
                        {
                            "index": 0,
                            "delta": delta,
                            "finish_reason": finish_reason,
                            "logprobs": None,
                        }
                    ],
                }
            )
        )

    def render(self, raw: dict[str, Any] | None, events: list[Event]) -> list[bytes]:
        if self.passthrough:
            return self._passthrough(raw, events)
        out: list[bytes] = []
        for event in events:
            if isinstance(event, Started):
                out.append(self._start())
            elif isinstance(event, TextDelta):
                if not self._role_sent:
                    out.append(self._start())
                out.append(self._chunk({"content": event.text}))
            elif isinstance(event, ToolCallStarted):
                if not self._role_sent:
                    out.append(self._start())
                out.append(
                    self._chunk(
                        {
                            "tool_calls": [
                                {
                                    "index": event.index,
                                    "id": event.id,
                                    "type": "function",
                                    "function": {"name": event.name, "arguments": ""},
                                }
                            ]
                        }
                    )
                )
            elif isinstance(event, ToolArguments):
                out.append(
                    self._chunk(
                        {
                            "tool_calls": [
                                {"index": event.index, "function": {"arguments": event.fragment}}
                            ]
                        }
                    )
                )
            elif isinstance(event, Finished):
                self._finished = True
                out.append(self._chunk({}, OPENAI_FINISH_OUT[event.finish]))
            elif isinstance(event, UsageReported):
                self._usage = event.usage
            elif isinstance(event, Ended):
                out.extend(self.close(self._usage))
        return out

    def _start(self) -> bytes:
        self._role_sent = True
        return self._chunk({"role": "assistant", "content": ""})

    def _passthrough(self, raw: dict[str, Any] | None, events: list[Event]) -> list[bytes]:
        if any(isinstance(event, Ended) for event in events):
            return [DONE]
        if raw is None or any(isinstance(event, UpstreamErrorEvent) for event in events):
            return []
        if any(isinstance(event, Finished) for event in events):
            self._finished = True
        chunk = dict(raw)
        chunk["id"] = self.identity.response_id
        chunk["model"] = self.identity.model
        if not self.include_usage:
            if "usage" in chunk and not chunk.get("choices"):
                return []
            chunk.pop("usage", None)
        return [encode_data(_dumps(chunk))]

    def close(self, usage: Usage | None) -> list[bytes]:
        """The end of a complete stream: the usage chunk if asked for, then [DONE]."""
        out: list[bytes] = []
        if self.include_usage and usage is not None:
            out.append(
                encode_data(
                    _dumps(
                        {
                            "id": self.identity.response_id,
                            "object": "chat.completion.chunk",
                            "created": self.identity.created_s,
                            "model": self.identity.model,
                            "choices": [],
                            "usage": openai_usage_object(usage),
                        }
                    )
                )
            )
        out.append(DONE)
        return out

    def error(self, *, type: str, message: str) -> list[bytes]:
        """The error event for a stream that failed after it started, then [DONE]."""
        return [
            encode_data(_dumps({"error": {"message": message, "type": type, "code": type}})),
            DONE,
        ]


@dataclass
class AnthropicRenderer:
    """Message events for an Anthropic client."""

    identity: ResponseIdentity
    passthrough: bool
    """Upstream speaks Anthropic too: forward its events, rewriting id and model."""
    _started: bool = False
    _open_block: int | None = None
    _next_block: int = 0
    _tool_blocks: dict[int, int] = field(default_factory=dict)
    _finish: Finish | None = None
    _stop_sequence: str | None = None
    _usage: Usage | None = None
    _input_tokens: int = 0

    def render(self, raw: dict[str, Any] | None, events: list[Event]) -> list[bytes]:
        if self.passthrough:
            return self._passthrough(raw, events)
        out: list[bytes] = []
        for event in events:
            if isinstance(event, Started):
                out.extend(self._start(event.input_tokens or 0))
            elif isinstance(event, TextDelta):
                out.extend(self._start(0))
                if self._open_block is None or self._open_block in self._tool_blocks.values():
                    out.extend(self._open({"type": "text", "text": ""}))
                out.append(
                    encode_event(
                        "content_block_delta",
                        _dumps(
                            {
                                "type": "content_block_delta",
                                "index": self._open_block,
                                "delta": {"type": "text_delta", "text": event.text},
                            }
                        ),
                    )
                )
            elif isinstance(event, ToolCallStarted):
                out.extend(self._start(0))
                out.extend(
                    self._open(
                        {"type": "tool_use", "id": event.id, "name": event.name, "input": {}}
                    )
                )
                assert self._open_block is not None
                self._tool_blocks[event.index] = self._open_block
            elif isinstance(event, ToolArguments):
                block = self._tool_blocks.get(event.index)
                if block is None:
                    continue
                out.append(
                    encode_event(
                        "content_block_delta",
                        _dumps(
                            {
                                "type": "content_block_delta",
                                "index": block,
                                "delta": {
                                    "type": "input_json_delta",
                                    "partial_json": event.fragment,
                                },
                            }
                        ),
                    )
                )
            elif isinstance(event, Finished):
                self._finish = event.finish
                self._stop_sequence = event.stop_sequence
            elif isinstance(event, UsageReported):
                self._usage = event.usage
            elif isinstance(event, Ended):
                out.extend(self.close(self._usage))
        return out

    def _start(self, input_tokens: int) -> list[bytes]:
        if self._started:
            return []
        self._started = True
        self._input_tokens = input_tokens
        message: dict[str, Any] = {
            "id": self.identity.response_id,
            "type": "message",
            "role": "assistant",
            "model": self.identity.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": 0},
        }
        return [
            encode_event("message_start", _dumps({"type": "message_start", "message": message}))
        ]

    def _open(self, block: dict[str, Any]) -> list[bytes]:
        out = self._close_block()
        self._open_block = self._next_block
        self._next_block += 1
        out.append(
            encode_event(
                "content_block_start",
                _dumps(
                    {
                        "type": "content_block_start",
                        "index": self._open_block,
                        "content_block": block,
                    }
                ),
            )
        )
        return out

    def _close_block(self) -> list[bytes]:
        if self._open_block is None:
            return []
        index = self._open_block
        self._open_block = None
        return [
            encode_event(
                "content_block_stop", _dumps({"type": "content_block_stop", "index": index})
            )
        ]

    def _passthrough(self, raw: dict[str, Any] | None, events: list[Event]) -> list[bytes]:
        if raw is None or any(isinstance(event, UpstreamErrorEvent) for event in events):
            return []
        kind = str(raw.get("type") or "")
        if kind == "message_start" and isinstance(raw.get("message"), dict):
            message = dict(raw["message"])
            message["id"] = self.identity.response_id
            message["model"] = self.identity.model
            raw = {**raw, "message": message}
            self._started = True
        return [encode_event(kind, _dumps(raw))] if kind else []

    def close(self, usage: Usage | None) -> list[bytes]:
        """The end of a complete stream: close the open block, message_delta, message_stop."""
        if self.passthrough:
            return []
        out = self._start(0)
        out.extend(self._close_block())
        finish = self._finish or Finish.STOP
        delta_usage: dict[str, Any] = {"output_tokens": usage.output_tokens if usage else 0}
        if usage is not None:
            shown = anthropic_usage_object(usage)
            delta_usage.update(
                {
                    "input_tokens": shown["input_tokens"],
                    "cache_read_input_tokens": shown["cache_read_input_tokens"],
                    "cache_creation_input_tokens": 0,
                }
            )
        out.append(
            encode_event(
                "message_delta",
                _dumps(
                    {
                        "type": "message_delta",
                        "delta": {
                            "stop_reason": ANTHROPIC_FINISH_OUT[finish],
                            "stop_sequence": self._stop_sequence,
                        },
                        "usage": delta_usage,
                    }
                ),
            )
        )
        out.append(encode_event("message_stop", _dumps({"type": "message_stop"})))
        return out

    def error(self, *, type: str, message: str) -> list[bytes]:
        """Anthropic's error event, for a stream that failed after it started."""
        return [
            encode_event(
                "error",
                _dumps({"type": "error", "error": {"type": type, "message": message}}),
            )
        ]


Renderer = OpenAIRenderer | AnthropicRenderer


def renderer_for(
    client: Dialect, upstream: Dialect, identity: ResponseIdentity, *, include_usage: bool
) -> Renderer:
    if client is Dialect.OPENAI:
        return OpenAIRenderer(
            identity=identity, include_usage=include_usage, passthrough=upstream is Dialect.OPENAI
        )
    return AnthropicRenderer(identity=identity, passthrough=upstream is Dialect.ANTHROPIC)

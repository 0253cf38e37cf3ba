"""What the stand-in answers: switches, deterministic output, and the token counts it reports.

Switches come from directives written anywhere in the request's text (system prompt, messages,
tool results) as ``[standin:name]`` or ``[standin:name=value]``, or from the request header
``X-Standin-Scenario: name=value;name`` (for benchmarks that call the stand-in directly):

==========================  =================================================================
``error=<status>``          answer that HTTP status with the provider's error body
``delay_ms=<n>``            wait before answering (before the headers, for streams)
``chunk_delay_ms=<n>``      wait between stream events
``tokens=<n>``              produce n output tokens (default 12, never more than max_tokens)
``disconnect_after=<n>``    cut the connection after n output tokens (no terminator)
``error_event_after=<n>``   send the dialect's mid-stream error event after n tokens
``no_usage``                report no usage at all
``usage_multiplier=<k>``    report k times the real output tokens (a misreporting upstream)
``tool``                    call a tool (the first one, or the one tool_choice names)
``hit_stop``                end on the request's first stop sequence
``served_model=<name>``     report another served model
``echo_key_in_error``       put the whole API key into an error message (as LiteLLM once did)
``hang``                    never answer
``marker=<text>``           nothing; lets a test find its own requests in the log
==========================  =================================================================

The API key selects failures too: a key containing ``invalid`` is refused with 401, ``nofunds``
with 402, ``ratelimited`` with 429 (so a bad BYOK key and a good platform key can be told apart).

Output is deterministic: the words come from a fixed vocabulary, chosen by hashing the request's
text, one word per token. Input tokens are counted as ceil(text bytes / 4) + 3 per message + 85
per image (+ the tool definitions' JSON / 4): a plausible tokenizer that provider's over-estimate
always covers.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

_DIRECTIVE = re.compile(r"\[standin:([a-z_]+)(?:=([^\]\s]*))?\]")
DEFAULT_OUTPUT_TOKENS = 12
MAX_DELAY_MS = 600_000
VOCABULARY = (
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
    "juliett", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo",
    "sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu",
)  # fmt: skip


@dataclass
class Scenario:
    switches: dict[str, str] = field(default_factory=dict)

    def flag(self, name: str) -> bool:
        return name in self.switches

    def number(self, name: str, default: int | None = None) -> int | None:
        raw = self.switches.get(name)
        if raw is None:
            return default
        try:
            return max(0, int(raw))
        except ValueError:
            return default

    def text(self, name: str) -> str | None:
        return self.switches.get(name)

    @property
    def delay_s(self) -> float:
        return min(self.number("delay_ms", 0) or 0, MAX_DELAY_MS) / 1000

    @property
    def chunk_delay_s(self) -> float:
        return min(self.number("chunk_delay_ms", 0) or 0, MAX_DELAY_MS) / 1000


def parse_scenario(texts: Iterable[str], header: str | None) -> Scenario:
    switches: dict[str, str] = {}
    for text in texts:
        for name, value in _DIRECTIVE.findall(text):
            switches[name] = value
    if header:
        for item in header.split(";"):
            name, _, value = item.strip().partition("=")
            if name:
                switches[name] = value
    return Scenario(switches)


@dataclass(frozen=True)
class Measured:
    """What the stand-in read from a request (in either dialect)."""

    texts: list[str]
    """Every piece of text the model would read, in order."""
    message_count: int
    image_count: int
    tool_definitions_bytes: int
    tool_results: list[str]
    """The texts of tool results in the last user turn (a follow-up after a tool call)."""

    @property
    def input_tokens(self) -> int:
        text_bytes = sum(len(text.encode()) for text in self.texts)
        return (
            math.ceil(text_bytes / 4)
            + 3 * self.message_count
            + 85 * self.image_count
            + math.ceil(self.tool_definitions_bytes / 4)
        )


def words(seed_texts: Iterable[str], count: int) -> list[str]:
    """``count`` deterministic words for this request."""
    digest = hashlib.sha256("\x1f".join(seed_texts).encode()).digest()
    chosen: list[str] = []
    while len(chosen) < count:
        for byte in digest:
            chosen.append(VOCABULARY[byte % len(VOCABULARY)])
            if len(chosen) == count:
                break
        digest = hashlib.sha256(digest).digest()
    return chosen


def tool_arguments(schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """Arguments that fit a JSON schema's properties, one deterministic value per type."""
    properties = schema.get("properties") if isinstance(schema, Mapping) else None
    if not isinstance(properties, Mapping) or not properties:
        return {"input": "standin"}
    values: dict[str, Any] = {}
    for name in sorted(properties):
        kind = properties[name].get("type") if isinstance(properties[name], Mapping) else None
        if kind == "integer" or kind == "number":
            values[name] = 42
        elif kind == "boolean":
            values[name] = True
        elif kind == "array":
            values[name] = []
        elif kind == "object":
            values[name] = {}
        else:
            values[name] = "standin"
    return values


@dataclass(frozen=True)
class Reply:
    """The answer to give, in neutral terms."""

    text_tokens: list[str]
    tool_name: str | None
    tool_arguments: str
    finish: str
    """stop, length, tool_calls or stop_sequence."""
    stop_sequence: str | None
    input_tokens: int
    output_tokens: int

    @property
    def text(self) -> str:
        return " ".join(self.text_tokens)


def plan_reply(
    *,
    measured: Measured,
    scenario: Scenario,
    max_tokens: int | None,
    tools: list[tuple[str, Mapping[str, Any] | None]],
    forced_tool: str | None,
    tool_required: bool,
    stop_sequences: list[str],
) -> Reply:
    limit = max_tokens if max_tokens is not None else 4096
    wanted = scenario.number("tokens", DEFAULT_OUTPUT_TOKENS) or 0
    if (
        tools
        and (scenario.flag("tool") or forced_tool or tool_required)
        and not measured.tool_results
    ):
        name = forced_tool or tools[0][0]
        schema = next((item[1] for item in tools if item[0] == name), None)
        arguments = orjson.dumps(tool_arguments(schema)).decode()
        lead = ["Calling", "tool."]
        output = len(lead) + max(1, math.ceil(len(arguments) / 4))
        return Reply(
            text_tokens=lead,
            tool_name=name,
            tool_arguments=arguments,
            finish="tool_calls",
            stop_sequence=None,
            input_tokens=measured.input_tokens,
            output_tokens=min(output, limit),
        )
    if measured.tool_results:
        echoed = " ".join(measured.tool_results).split()[:5]
        tokens = ["Tool", "said:", *echoed][: max(1, min(wanted or 3, limit))]
    else:
        tokens = words(measured.texts, min(wanted, limit))
    finish = "length" if wanted > limit else "stop"
    stop_sequence = None
    if scenario.flag("hit_stop") and stop_sequences:
        finish, stop_sequence = "stop_sequence", stop_sequences[0]
    return Reply(
        text_tokens=tokens,
        tool_name=None,
        tool_arguments="",
        finish=finish,
        stop_sequence=stop_sequence,
        input_tokens=measured.input_tokens,
        output_tokens=len(tokens),
    )

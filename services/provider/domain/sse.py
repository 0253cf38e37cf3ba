"""Server-sent events: an incremental parser for upstream streams and the encoders for ours.

The parser follows the WHATWG event-stream rules: lines end with CRLF, LF or CR (a CR at the end
of one network read waits for the next read, in case an LF follows); ``:`` starts a comment
(OpenRouter sends ``: OPENROUTER PROCESSING`` keep-alives); ``event`` and ``data`` fields
accumulate until a blank line dispatches the event; a single space after the colon is dropped.
Field state lives in the parser, not in one read, so an event split across reads is reassembled
(the original dropped such events and lost usage). An event larger than ``max_event_bytes`` is
an error rather than unbounded memory.
"""

from __future__ import annotations

from dataclasses import dataclass


class SseTooLarge(ValueError):
    """One event (or one line) exceeded the parser's bound."""


@dataclass(frozen=True)
class SseEvent:
    event: str
    """The ``event:`` field, empty when none was sent."""
    data: str


class SseParser:
    def __init__(self, *, max_event_bytes: int) -> None:
        assert max_event_bytes > 0
        self._max = max_event_bytes
        self._buffer = bytearray()
        self._event = ""
        self._data: list[str] = []
        self._data_bytes = 0
        self._pending_cr = False

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """The events completed by ``chunk``."""
        events: list[SseEvent] = []
        if not chunk:
            return events
        if self._pending_cr:
            self._pending_cr = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        self._buffer.extend(chunk)
        start = 0
        buffer = self._buffer
        length = len(buffer)
        while start < length:
            newline = buffer.find(b"\n", start)
            carriage = buffer.find(b"\r", start)
            if newline == -1 and carriage == -1:
                break
            if carriage != -1 and (newline == -1 or carriage < newline):
                end = carriage
                if carriage + 1 < length:
                    skip = 2 if buffer[carriage + 1] == 0x0A else 1
                else:
                    # A CR at the very end: the LF of a CRLF may arrive with the next read.
                    self._pending_cr = True
                    skip = 1
            else:
                end = newline
                skip = 1
            line = bytes(buffer[start:end])
            start = end + skip
            event = self._line(line)
            if event is not None:
                events.append(event)
        del buffer[:start]
        if len(buffer) > self._max:
            raise SseTooLarge("an event-stream line exceeds the limit")
        return events

    def _line(self, raw: bytes) -> SseEvent | None:
        if not raw:
            return self._dispatch()
        if raw[:1] == b":":
            return None
        line = raw.decode("utf-8", errors="replace")
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data_bytes += len(value) + 1
            if self._data_bytes > self._max:
                raise SseTooLarge("an event exceeds the limit")
            self._data.append(value)
        return None

    def _dispatch(self) -> SseEvent | None:
        if not self._data:
            self._event = ""
            return None
        event = SseEvent(event=self._event, data="\n".join(self._data))
        self._event = ""
        self._data = []
        self._data_bytes = 0
        return event


def encode_data(data: bytes) -> bytes:
    """``data: <json>`` followed by the blank line (OpenAI's framing)."""
    return b"data: " + data + b"\n\n"


def encode_event(event: str, data: bytes) -> bytes:
    """``event: <type>`` and ``data: <json>`` followed by the blank line (Anthropic's framing)."""
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"


DONE = b"data: [DONE]\n\n"

"""W3C trace context (``traceparent``) across every hop: HTTP edge → gRPC → gRPC.

One trace id follows a request from the gateway through every service it reaches, next to the
request id (:mod:`services.common.logging`): the request id is ours and human-chosen, the trace id
is the W3C one that a caller's own tracing (or a proxy in front of us) already speaks.

* The gateway accepts an incoming ``traceparent`` only when it is exactly version ``00`` in its
  canonical form (:func:`parse_traceparent`); anything else is discarded and a new trace is
  minted, so a malformed or hostile header can never reach a log line or a backend.
* Each hop is a span: the server binds a :class:`Trace` with the caller's trace id and a span id of
  its own (:meth:`Trace.child_of`), and every outgoing call carries a fresh child span id
  (:meth:`Trace.child`), so trace ids match across services while span ids stay unique.
* ``tracestate`` is not propagated: we record nothing vendor-specific, and forwarding an opaque
  caller-controlled header to every backend would only widen what they must parse.

We do not export spans anywhere; the trace id exists to join log lines (and a caller's own traces)
across processes. The sampled flag is carried through unchanged; a minted trace is sampled.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
from typing import Final, NamedTuple

TRACEPARENT_KEY: Final = "traceparent"
"""The HTTP header and gRPC metadata key (lower case, as gRPC requires)."""

_VERSION: Final = "00"
_SAMPLED: Final = "01"
_INVALID_TRACE_ID: Final = "0" * 32
_INVALID_SPAN_ID: Final = "0" * 16
# Version 00 only, lower-case hex only, exactly 55 characters: the canonical form.
_TRACEPARENT: Final = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


class Trace(NamedTuple):
    """This hop's place in a trace: the trace id, this hop's span id, and the trace flags.

    A tuple rather than a frozen dataclass: one is made for every RPC, and a tuple is built
    several times faster."""

    trace_id: str
    span_id: str
    flags: str = _SAMPLED

    @classmethod
    def mint(cls) -> Trace:
        """A new trace with a root span."""
        return cls(os.urandom(16).hex(), _new_span_id())

    def child(self) -> Trace:
        """The same trace with a new span id (an outgoing call's span)."""
        return Trace(self.trace_id, _new_span_id(), self.flags)

    @classmethod
    def child_of(cls, traceparent: str | None) -> Trace:
        """This hop's span under the caller's ``traceparent``, or a new trace when it is absent or
        not canonical."""
        match = _match(traceparent)
        if match is None:
            return cls.mint()
        return cls(match[1], _new_span_id(), match[3])

    @property
    def traceparent(self) -> str:
        return f"{_VERSION}-{self.trace_id}-{self.span_id}-{self.flags}"


def _new_span_id() -> str:
    span_id = os.urandom(8).hex()
    # One chance in 2**64; the spec forbids the all-zero id.
    return span_id if span_id != _INVALID_SPAN_ID else "0000000000000001"


def _match(value: str | None) -> re.Match[str] | None:
    if value is None or len(value) != 55:
        return None
    match = _TRACEPARENT.fullmatch(value)
    if match is None or match[1] == _INVALID_TRACE_ID or match[2] == _INVALID_SPAN_ID:
        return None
    return match


def parse_traceparent(value: str | None) -> Trace | None:
    """The trace a ``traceparent`` value names, or None unless it is canonical version 00 with a
    non-zero trace id and parent id."""
    match = _match(value)
    return Trace(match[1], match[2], match[3]) if match is not None else None


_trace: contextvars.ContextVar[Trace | None] = contextvars.ContextVar("trace", default=None)


def current_trace() -> Trace | None:
    return _trace.get()


def current_trace_id() -> str:
    trace = _trace.get()
    return trace.trace_id if trace is not None else ""


def bind_trace(trace: Trace) -> contextvars.Token[Trace | None]:
    return _trace.set(trace)


def reset_trace(token: contextvars.Token[Trace | None]) -> None:
    # A streaming handler's generator finalised by the event loop (the client went away)
    # runs its ``finally`` in a fresh task's context, where there is nothing to undo.
    with contextlib.suppress(ValueError):
        _trace.reset(token)


def outgoing_traceparent() -> str:
    """The ``traceparent`` of a call made now: a child of the bound trace, or a new trace when
    nothing is bound (background work such as the settlement re-driver or payout dispatcher)."""
    trace = _trace.get()
    return (trace.child() if trace is not None else Trace.mint()).traceparent

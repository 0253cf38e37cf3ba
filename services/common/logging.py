"""JSON structured logging with the request id of the RPC or HTTP request being served.

One line of JSON per record on stderr: ``ts``, ``level``, ``service``, ``logger``, ``msg``,
``request_id``, ``trace_id`` and any ``extra`` fields. The request id lives in a context variable
that the server interceptor (gRPC) or middleware (HTTP) sets and the client interceptor forwards in
the ``x-request-id`` metadata key, so one id follows a request through every hop; the W3C trace id
(:mod:`services.common.tracing`) travels the same way in ``traceparent``.

Credentials must never be logged; as a second line of defence every message and string field is
scrubbed of anything shaped like a TokenMart credential or a provider secret before it is written.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import secrets
import sys
import time
from typing import Any

import orjson

from services.common.tracing import current_trace_id

REQUEST_ID_METADATA_KEY = "x-request-id"
REQUEST_ID_MAX_LENGTH = 128
_REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")

# Shapes of secrets: our credential families (SPEC §1), common provider keys, bearer headers
# and PEM private keys. Replaced wholesale; even a prefix of a secret is not kept.
_SECRET_PATTERNS = re.compile(
    r"(?:\b(?:tokenmart|thm|th|tms|tmr|tmid|tmc)_[A-Za-z0-9]{8,}\b"
    r"|\bsk-[A-Za-z0-9_-]{8,}"
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/=-]{8,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----)"
)
REDACTED = "[redacted]"

_DROPPED_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    # uvicorn adds a copy of each message with terminal colour codes.
    | {"message", "asctime", "color_message"}
)


def new_request_id() -> str:
    return secrets.token_hex(12)


def accept_request_id(candidate: str | None) -> str:
    """Keep a caller's request id if it is well-formed, else mint a fresh one."""
    if candidate and _REQUEST_ID_PATTERN.match(candidate):
        return candidate
    return new_request_id()


def current_request_id() -> str:
    return _request_id.get()


def bind_request_id(request_id: str) -> contextvars.Token[str]:
    return _request_id.set(request_id)


def reset_request_id(token: contextvars.Token[str]) -> None:
    # Finalised in another task's context (see tracing.reset_trace): nothing to undo there.
    with contextlib.suppress(ValueError):
        _request_id.reset(token)


def redact(text: str) -> str:
    return _SECRET_PATTERNS.sub(REDACTED, text)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _scrub(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(item) for item in value]
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return redact(str(value))


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        request_id = current_request_id()
        if request_id:
            entry["request_id"] = request_id
        trace_id = current_trace_id()
        if trace_id:
            entry["trace_id"] = trace_id
        for key, value in record.__dict__.items():
            if key not in _DROPPED_ATTRIBUTES and not key.startswith("_"):
                entry[key] = _scrub(value)
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return orjson.dumps(entry, default=str).decode()


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send every logger's records, as JSON, to stderr. Idempotent."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries that log request lines themselves would duplicate ours.
    logging.getLogger("uvicorn.access").disabled = True

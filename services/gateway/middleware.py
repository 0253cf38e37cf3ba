"""The gateway's pure ASGI middleware, outermost first.

1. :class:`RequestContextMiddleware`: binds the request id (the caller's if well-formed, else a
   fresh one) and the W3C trace context (a span under the caller's ``traceparent`` when it is
   canonical, else a new trace) for logging and for the gRPC metadata of every backend call,
   works out the client address, stamps ``X-Request-Id``, ``traceparent`` and the security
   headers on every response, answers anything unexpected with 500 INTERNAL (logged with the
   request id, no detail shown), writes one access-log line per request and records it in the
   gateway's metrics by route template, never by raw path.
2. CORS (Starlette's), only when origins are configured.
3. :class:`BodyLimitMiddleware`: 413 BODY_TOO_LARGE when ``Content-Length`` is over the limit,
   before the application runs, and when a body without one (chunked) grows over it while read.
4. :class:`JsonBodyMiddleware`: for bodies sent to ``/api/...``, 415 unless JSON, 400
   INVALID_JSON / JSON_TOO_DEEP unless parseable within the depth limit. Every JSON route gets
   these checks whether or not it remembers to ask, and FastAPI's own parser only ever sees
   bodies already known to be shallow.

5. :class:`CredentialInUrlMiddleware`: 400 CREDENTIAL_IN_URL when the query string carries
   anything shaped like a TokenMart credential: URLs end up in proxy logs, browser history and
   Referer headers, so credentials travel only in headers and bodies (THREATS I8).

These are plain ASGI callables rather than ``BaseHTTPMiddleware``: they never buffer a response,
and the size limit applies while the body streams in rather than after it has been read.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any, Final
from urllib.parse import unquote_to_bytes

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.logging import (
    REQUEST_ID_METADATA_KEY,
    accept_request_id,
    bind_request_id,
    current_request_id,
    reset_request_id,
)
from services.common.tracing import TRACEPARENT_KEY, Trace, bind_trace, reset_trace
from services.gateway.clientip import client_ip
from services.gateway.errors import (
    BodyTooLarge,
    GatewayError,
    Internal,
    UnsupportedMediaType,
)
from services.gateway.jsonbody import is_json_media_type, parse_json
from services.gateway.metrics import UNMATCHED_ROUTE, GatewayMetrics
from services.gateway.rendering import ErrorRenderers
from services.gateway.settings import IpNetwork

access_logger = logging.getLogger("tokenmart.http")
logger = logging.getLogger("tokenmart.gateway")

# One name for the request id from the HTTP header through every gRPC hop's metadata.
REQUEST_ID_HEADER: Final = REQUEST_ID_METADATA_KEY
# The W3C header; the same name is the gRPC metadata key.
TRACEPARENT_HEADER: Final = TRACEPARENT_KEY
_ERROR_REASON_STATE: Final = "error_reason"
_PARAMETER: Final = re.compile(r"\{[^/{}]+\}")
API_PREFIX: Final = "/api"
# Responses that may carry credentials or live state must never sit in a cache.
NO_STORE_PREFIXES: Final = (API_PREFIX, "/healthz")
SECURITY_HEADERS: Final = (
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
)
_LOGGED_PATH_MAX_LENGTH = 512


def is_under(path: str, prefix: str) -> bool:
    """Whether ``path`` is ``prefix`` or below it, by whole segments."""
    return path == prefix or path.startswith(prefix + "/")


def note_error(scope: Scope, error: GatewayError) -> None:
    """Remember the reason of the error answered for this request, for the metrics."""
    scope.setdefault("state", {})[_ERROR_REASON_STATE] = error.reason


async def send_error(
    renderers: ErrorRenderers, error: GatewayError, scope: Scope, receive: Receive, send: Send
) -> None:
    """Answer ``error`` in the envelope of the route family ``scope`` addresses."""
    note_error(scope, error)
    response = renderers.for_path(scope["path"]).render(error, request_id=current_request_id())
    await response(scope, receive, send)


class RouteTemplates:
    """The route template of a request the router never saw.

    A routed request names its route in ``scope["route"]``. Requests refused before routing (body
    too large, wrong media type, credential in the URL) are matched here against the templates
    of the OpenAPI document (FastAPI's public view of every route), built once on first use, so
    they are counted under their route too and their raw path never becomes a label.
    """

    def __init__(self, openapi: Callable[[], Mapping[str, Any]]) -> None:
        self._openapi = openapi
        self._compiled: list[tuple[re.Pattern[str], str]] | None = None

    def _templates(self) -> list[tuple[re.Pattern[str], str]]:
        if self._compiled is None:
            paths = self._openapi().get("paths", {})
            self._compiled = [(_template_pattern(template), template) for template in paths]
        return self._compiled

    def match(self, path: str) -> str:
        for pattern, template in self._templates():
            if pattern.fullmatch(path):
                return template
        return UNMATCHED_ROUTE


def _template_pattern(template: str) -> re.Pattern[str]:
    """``/a/{id}/b`` → a pattern matching ``/a/<one segment>/b``."""
    return re.compile("[^/]+".join(re.escape(part) for part in _PARAMETER.split(template)))


def route_template(scope: Scope, templates: RouteTemplates | None) -> str:
    """The template of the route that served (or would have served) this request, or
    ``unmatched``."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if isinstance(template, str):
        return template
    if templates is not None:
        return templates.match(scope["path"])
    return UNMATCHED_ROUTE


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        renderers: ErrorRenderers,
        trusted_proxies: tuple[IpNetwork, ...],
        metrics: GatewayMetrics | None = None,
        templates: RouteTemplates | None = None,
    ) -> None:
        """``templates`` name the route of requests refused before routing."""
        self.app = app
        self.renderers = renderers
        self.trusted_proxies = trusted_proxies
        self.metrics = metrics
        self.templates = templates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        request_id = accept_request_id(headers.get(REQUEST_ID_HEADER))
        # Exactly one traceparent, canonical, or a new trace: two headers are ambiguous.
        traceparents = headers.getlist(TRACEPARENT_HEADER)
        trace = Trace.child_of(traceparents[0] if len(traceparents) == 1 else None)
        peer = scope.get("client")
        address = client_ip(
            peer=peer[0] if peer else None,
            forwarded_for=headers.getlist("x-forwarded-for"),
            trusted_proxies=self.trusted_proxies,
        )
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["client_ip"] = address
        path: str = scope["path"]
        no_store = any(is_under(path, prefix) for prefix in NO_STORE_PREFIXES)
        status: int | None = None

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                response_headers = MutableHeaders(scope=message)
                response_headers[REQUEST_ID_HEADER] = request_id
                response_headers[TRACEPARENT_HEADER] = trace.traceparent
                for name, value in SECURITY_HEADERS:
                    response_headers[name] = value
                if no_store:
                    response_headers["cache-control"] = "no-store"
            await send(message)

        token = bind_request_id(request_id)
        trace_token = bind_trace(trace)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:  # the last line of defence: log it, show nothing
            logger.error("unhandled error", exc_info=True)
            if status is None:
                await send_error(self.renderers, Internal(), scope, receive, send_with_headers)
            # Otherwise the response is already under way; the server closes the connection.
        finally:
            elapsed_s = time.perf_counter() - started
            route = route_template(scope, self.templates)
            access_logger.info(
                "http",
                extra={
                    "method": scope["method"],
                    "path": path[:_LOGGED_PATH_MAX_LENGTH],
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed_s * 1000, 3),
                    "client_ip": address,
                },
            )
            if self.metrics is not None:
                self.metrics.request(
                    route=route,
                    method=scope["method"],
                    status=status,
                    elapsed_s=elapsed_s,
                    reason=state.get(_ERROR_REASON_STATE),
                )
            reset_trace(trace_token)
            reset_request_id(token)


class _BodyLimitExceeded(Exception):
    """Raised into the application when the body it is reading grows over the limit."""


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, renderers: ErrorRenderers) -> None:
        assert max_body_bytes >= 0, max_body_bytes
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.renderers = renderers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(Headers(scope=scope))
        if declared is not None and declared > self.max_body_bytes:
            await send_error(self.renderers, BodyTooLarge(), scope, receive, send)
            return

        received = 0
        exceeded = False
        response_started = False

        async def receive_within_limit() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise _BodyLimitExceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    exceeded = True
                    raise _BodyLimitExceeded
            return message

        async def send_unless_exceeded(message: Message) -> None:
            nonlocal response_started
            if exceeded:
                # Whatever the application makes of a cut-off body (FastAPI: a 400), the
                # caller is owed the 413 sent below instead.
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, receive_within_limit, send_unless_exceeded)
        except Exception:
            if not exceeded:
                raise
            # Once over the limit, any exception is the application's reaction to the cut-off.
        if exceeded and not response_started:
            await send_error(self.renderers, BodyTooLarge(), scope, receive, send)


def _content_length(headers: Headers) -> int | None:
    """The declared body size, or None when absent or unparseable (then the count decides)."""
    value = headers.get("content-length")
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


_CREDENTIAL_IN_QUERY: Final = re.compile(
    rb"(?:^|[^A-Za-z0-9])(?:tokenmart|thm|th|tms|tmr|tmid|tmc)_[A-Za-z0-9]{16,}"
)


class CredentialInUrl(GatewayError):
    status = HTTPStatus.BAD_REQUEST
    reason = "CREDENTIAL_IN_URL"
    default_message = (
        "credentials must never be sent in a URL; use the Authorization header or the body"
    )


class CredentialInUrlMiddleware:
    def __init__(self, app: ASGIApp, *, renderers: ErrorRenderers) -> None:
        self.app = app
        self.renderers = renderers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query = unquote_to_bytes(scope.get("query_string", b""))
            if _CREDENTIAL_IN_QUERY.search(query) or _CREDENTIAL_IN_QUERY.search(
                scope["path"].encode("utf-8", "surrogateescape")
            ):
                await send_error(self.renderers, CredentialInUrl(), scope, receive, send)
                return
        await self.app(scope, receive, send)


class JsonBodyMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_json_depth: int,
        renderers: ErrorRenderers,
        prefix: str = API_PREFIX,
    ) -> None:
        self.app = app
        self.max_json_depth = max_json_depth
        self.renderers = renderers
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_under(scope["path"], self.prefix):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if not _has_body(headers):
            await self.app(scope, receive, send)
            return
        if not is_json_media_type(headers.get("content-type")):
            await send_error(self.renderers, UnsupportedMediaType(), scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            return  # the client went away; there is no one to answer
        if body:
            try:
                parse_json(body, max_depth=self.max_json_depth)
            except GatewayError as error:
                await send_error(self.renderers, error, scope, receive, send)
                return
        await self.app(scope, _replay(body, receive), send)


def _has_body(headers: Headers) -> bool:
    if "transfer-encoding" in headers:
        return True
    return _content_length(headers) not in (None, 0)


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body (already bounded by :class:`BodyLimitMiddleware`), or None on disconnect."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the application the body already read, then defers to the server."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay

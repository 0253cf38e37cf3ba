"""The gateway's error tree and the one gRPC → HTTP status table.

::

    GatewayError                      (HTTP status, reason, message)
    ├── InvalidArgument               400 INVALID_ARGUMENT
    │   ├── InvalidJson               400 INVALID_JSON
    │   └── JsonTooDeep               400 JSON_TOO_DEEP
    ├── NotFound                      404 NOT_FOUND
    ├── MethodNotAllowed              405 METHOD_NOT_ALLOWED
    ├── BodyTooLarge                  413 BODY_TOO_LARGE
    ├── UnsupportedMediaType          415 UNSUPPORTED_MEDIA_TYPE
    ├── BackendError                  status and reason from a backend's gRPC status
    ├── HttpError                     any other status Starlette raised; reason = its name
    └── Internal                      500 INTERNAL

A :class:`GatewayError` says *what* went wrong; how it looks on the wire (platform, OpenAI or
Anthropic envelope) is the business of :mod:`services.gateway.rendering`.

A backend's gRPC status becomes HTTP in exactly one place, :func:`describe_rpc_error`, through
:data:`GRPC_TO_HTTP` and the per-reason overrides in :data:`REASON_TO_HTTP`. A backend's message
is passed on only when the backend attached ``google.rpc.ErrorInfo`` (our server interceptor does,
and guarantees the message is fit for callers); anything gRPC itself produced (connection errors
naming internal addresses, deadline texts) is replaced by a fixed message. Every 500 says only
"internal error".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from http import HTTPStatus
from types import MappingProxyType
from typing import ClassVar, Final, NamedTuple

import grpc

from services.common.logging import redact
from services.common.status import error_info

logger = logging.getLogger("tokenmart.gateway.errors")

INTERNAL_MESSAGE: Final = "internal error"
MESSAGE_MAX_LENGTH: Final = 500
_REASON_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")


class GatewayError(Exception):
    """An error the gateway answers with; ``message`` is shown to the caller."""

    # Plain class attributes, not ClassVar: errors built from a backend's status set their own.
    status: int = HTTPStatus.INTERNAL_SERVER_ERROR
    reason: str = "INTERNAL"
    default_message: ClassVar[str] = INTERNAL_MESSAGE

    def __init__(
        self, message: str | None = None, *, headers: Mapping[str, str] | None = None
    ) -> None:
        self.message = message or self.default_message
        self.headers: dict[str, str] = dict(headers or {})
        super().__init__(self.message)


class InvalidArgument(GatewayError):
    status = HTTPStatus.BAD_REQUEST
    reason = "INVALID_ARGUMENT"
    default_message = "invalid request"


class InvalidJson(InvalidArgument):
    reason = "INVALID_JSON"
    default_message = "the request body is not valid JSON"


class JsonTooDeep(InvalidArgument):
    reason = "JSON_TOO_DEEP"
    default_message = "the request body is nested too deeply"


class NotFound(GatewayError):
    status = HTTPStatus.NOT_FOUND
    reason = "NOT_FOUND"
    default_message = "not found"


class MethodNotAllowed(GatewayError):
    status = HTTPStatus.METHOD_NOT_ALLOWED
    reason = "METHOD_NOT_ALLOWED"
    default_message = "method not allowed"


class BodyTooLarge(GatewayError):
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    reason = "BODY_TOO_LARGE"
    default_message = "the request body is too large"


class UnsupportedMediaType(GatewayError):
    status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    reason = "UNSUPPORTED_MEDIA_TYPE"
    default_message = "the request body must be application/json"


class Internal(GatewayError):
    """Anything unexpected; the cause is logged with the request id, never shown."""


class BackendError(GatewayError):
    """A backend's gRPC status, already mapped to HTTP by :func:`describe_rpc_error`."""

    def __init__(
        self,
        *,
        status: int,
        reason: str,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, headers=headers)
        self.status = status
        self.reason = reason

    @classmethod
    def from_rpc_error(cls, error: grpc.aio.AioRpcError) -> BackendError:
        failure = describe_rpc_error(error)
        # RFC 9110 requires a challenge on every 401.
        headers = (
            {"WWW-Authenticate": "Bearer"} if failure.status == HTTPStatus.UNAUTHORIZED else {}
        )
        return cls(
            status=failure.status,
            reason=failure.reason,
            message=failure.message,
            headers=headers,
        )


class HttpError(GatewayError):
    """A status Starlette or FastAPI raised that the tree has no class for."""

    def __init__(self, *, status: int, headers: Mapping[str, str] | None = None) -> None:
        try:
            known: HTTPStatus | None = HTTPStatus(status)
        except ValueError:
            known = None
        super().__init__(known.phrase.lower() if known else "error", headers=headers)
        self.status = status
        self.reason = known.name if known else "HTTP_ERROR"


_ERROR_BY_HTTP_STATUS: Final[Mapping[int, type[GatewayError]]] = MappingProxyType(
    {
        HTTPStatus.BAD_REQUEST: InvalidArgument,
        HTTPStatus.NOT_FOUND: NotFound,
        HTTPStatus.METHOD_NOT_ALLOWED: MethodNotAllowed,
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE: BodyTooLarge,
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE: UnsupportedMediaType,
    }
)


def error_for_http_status(status: int, *, headers: Mapping[str, str] | None = None) -> GatewayError:
    """The gateway error for a bare HTTP status (e.g. Starlette's routing 404 or 405)."""
    if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        return Internal()
    error_class = _ERROR_BY_HTTP_STATUS.get(status)
    if error_class is not None:
        return error_class(headers=headers)
    return HttpError(status=status, headers=headers)


GRPC_TO_HTTP: Final[Mapping[grpc.StatusCode, int]] = MappingProxyType(
    {
        grpc.StatusCode.INVALID_ARGUMENT: HTTPStatus.BAD_REQUEST,
        grpc.StatusCode.UNAUTHENTICATED: HTTPStatus.UNAUTHORIZED,
        grpc.StatusCode.PERMISSION_DENIED: HTTPStatus.FORBIDDEN,
        grpc.StatusCode.NOT_FOUND: HTTPStatus.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS: HTTPStatus.CONFLICT,
        grpc.StatusCode.ABORTED: HTTPStatus.CONFLICT,
        grpc.StatusCode.FAILED_PRECONDITION: HTTPStatus.CONFLICT,
        grpc.StatusCode.RESOURCE_EXHAUSTED: HTTPStatus.TOO_MANY_REQUESTS,
        grpc.StatusCode.UNAVAILABLE: HTTPStatus.SERVICE_UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED: HTTPStatus.GATEWAY_TIMEOUT,
        grpc.StatusCode.UNIMPLEMENTED: HTTPStatus.NOT_IMPLEMENTED,
    }
)
"""gRPC code → HTTP status. Every code not listed (INTERNAL, UNKNOWN, DATA_LOSS, ...) is 500."""

REASON_TO_HTTP: Final[Mapping[str, int]] = MappingProxyType(
    {
        # Payment Required says "top up" to HTTP clients better than a generic 409 would.
        "INSUFFICIENT_FUNDS": HTTPStatus.PAYMENT_REQUIRED,
        # The backend refused the gateway itself: a deployment fault the caller cannot fix,
        # so it must not look like the caller's own missing permission.
        "PEER_NOT_ALLOWED": HTTPStatus.INTERNAL_SERVER_ERROR,
        # Inference (provider). A key's budget is money too.
        "KEY_BUDGET_EXCEEDED": HTTPStatus.PAYMENT_REQUIRED,
        # Upstream refusing *our* provider key or account is a bad gateway for the caller,
        # never their own 401/402.
        "UPSTREAM_AUTH_FAILED": HTTPStatus.BAD_GATEWAY,
        "UPSTREAM_PAYMENT_REQUIRED": HTTPStatus.BAD_GATEWAY,
        "UPSTREAM_UNAVAILABLE": HTTPStatus.BAD_GATEWAY,
        "UPSTREAM_RATE_LIMITED": HTTPStatus.TOO_MANY_REQUESTS,
        "UPSTREAM_TIMEOUT": HTTPStatus.GATEWAY_TIMEOUT,
        "UPSTREAM_BAD_REQUEST": HTTPStatus.BAD_REQUEST,
        "MODEL_NOT_FOUND": HTTPStatus.NOT_FOUND,
        "MODEL_NOT_ALLOWED": HTTPStatus.FORBIDDEN,
        # The caller's provider-key configuration cannot serve the request.
        "NO_PROVIDER_KEY": HTTPStatus.FAILED_DEPENDENCY,
        "BYOK_DECRYPTION_FAILED": HTTPStatus.FAILED_DEPENDENCY,
        "GENERATION_EXISTS": HTTPStatus.CONFLICT,
        "WALLET_UNAVAILABLE": HTTPStatus.SERVICE_UNAVAILABLE,
    }
)
"""ErrorInfo reason → HTTP status, overriding :data:`GRPC_TO_HTTP` for errors the table maps."""

# Said instead of whatever gRPC itself wrote when no TokenMart server vouched for a message.
_FIXED_MESSAGES: Final[Mapping[grpc.StatusCode, str]] = MappingProxyType(
    {
        grpc.StatusCode.INVALID_ARGUMENT: "invalid argument",
        grpc.StatusCode.UNAUTHENTICATED: "authentication required",
        grpc.StatusCode.PERMISSION_DENIED: "permission denied",
        grpc.StatusCode.NOT_FOUND: "not found",
        grpc.StatusCode.ALREADY_EXISTS: "already exists",
        grpc.StatusCode.ABORTED: "aborted by a concurrent change; retry",
        grpc.StatusCode.FAILED_PRECONDITION: "failed precondition",
        grpc.StatusCode.RESOURCE_EXHAUSTED: "resource exhausted; retry later",
        grpc.StatusCode.UNAVAILABLE: "a backend service is unavailable; retry later",
        grpc.StatusCode.DEADLINE_EXCEEDED: "a backend service did not answer in time",
        grpc.StatusCode.UNIMPLEMENTED: "not implemented",
    }
)


class RpcFailure(NamedTuple):
    """What a caller may learn about a failed backend call."""

    status: int
    reason: str
    message: str


def describe_rpc_error(error: grpc.aio.AioRpcError) -> RpcFailure:
    """Map a failed backend call to ``(HTTP status, reason, message)`` for the caller."""
    code = error.code()
    status = GRPC_TO_HTTP.get(code, HTTPStatus.INTERNAL_SERVER_ERROR)
    info = error_info(error)
    reason = _code_name(code)
    message = _FIXED_MESSAGES.get(code, INTERNAL_MESSAGE)
    if info is not None and _REASON_PATTERN.match(info.reason):
        reason = info.reason
        message = _caller_message(error.details(), default=message)
        if code in GRPC_TO_HTTP:
            status = REASON_TO_HTTP.get(reason, status)
    if status >= HTTPStatus.INTERNAL_SERVER_ERROR and status not in (
        HTTPStatus.NOT_IMPLEMENTED,
        HTTPStatus.BAD_GATEWAY,
        HTTPStatus.SERVICE_UNAVAILABLE,
        HTTPStatus.GATEWAY_TIMEOUT,
    ):
        logger.error(
            "backend call failed",
            extra={
                "grpc_code": _code_name(code),
                "reason": reason,
                "details": redact(error.details() or "")[:MESSAGE_MAX_LENGTH],
            },
        )
        return RpcFailure(HTTPStatus.INTERNAL_SERVER_ERROR, "INTERNAL", INTERNAL_MESSAGE)
    return RpcFailure(status, reason, message)


def _caller_message(details: str | None, *, default: str) -> str:
    if not details:
        return default
    # The server promised a caller-safe message; scrub and bound it anyway.
    return redact(details)[:MESSAGE_MAX_LENGTH]


def _code_name(code: object) -> str:
    return code.name if isinstance(code, grpc.StatusCode) else "UNKNOWN"

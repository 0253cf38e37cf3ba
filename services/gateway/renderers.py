"""The OpenAI and Anthropic error envelopes, for the API-compatible inference routes.

OpenAI::

    {"error": {"message": "...", "type": "invalid_request_error", "code": "model_not_found",
               "param": null}}

Anthropic::

    {"type": "error", "error": {"type": "not_found_error", "message": "..."}}

The official SDKs pick their exception class from the HTTP status; the ``type`` follows each
API's own vocabulary for that status, and OpenAI's ``code`` carries our reason in lower case so
programs can still branch on it. Both are registered by path prefix in :data:`INFERENCE_RENDERERS`
(see :class:`services.gateway.rendering.ErrorRenderers`), so every error on those paths, from a
middleware, the authenticator, validation or a backend, takes the route's envelope.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from types import MappingProxyType
from typing import Any, Final

import orjson
from starlette.responses import Response

from services.gateway.errors import GatewayError
from services.gateway.rendering import ERROR_RENDERERS, ErrorRenderer, ErrorRenderers

OPENAI_PREFIXES: Final = ("/api/v1/tokenhall/chat",)
ANTHROPIC_PREFIXES: Final = ("/api/v1/tokenhall/messages", "/api/v1/tokenhall/anthropic")

OPENAI_TYPES: Final[Mapping[int, str]] = MappingProxyType(
    {
        HTTPStatus.UNAUTHORIZED: "authentication_error",
        HTTPStatus.PAYMENT_REQUIRED: "insufficient_quota",
        HTTPStatus.FORBIDDEN: "permission_error",
        HTTPStatus.NOT_FOUND: "not_found_error",
        HTTPStatus.TOO_MANY_REQUESTS: "rate_limit_error",
    }
)
ANTHROPIC_TYPES: Final[Mapping[int, str]] = MappingProxyType(
    {
        HTTPStatus.UNAUTHORIZED: "authentication_error",
        HTTPStatus.PAYMENT_REQUIRED: "billing_error",
        HTTPStatus.FORBIDDEN: "permission_error",
        HTTPStatus.NOT_FOUND: "not_found_error",
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "request_too_large",
        HTTPStatus.TOO_MANY_REQUESTS: "rate_limit_error",
        HTTPStatus.SERVICE_UNAVAILABLE: "overloaded_error",
        HTTPStatus.GATEWAY_TIMEOUT: "timeout_error",
    }
)


def _error_type(status: int, table: Mapping[int, str]) -> str:
    named = table.get(status)
    if named is not None:
        return named
    return "api_error" if status >= HTTPStatus.INTERNAL_SERVER_ERROR else "invalid_request_error"


def _response(body: dict[str, Any], error: GatewayError) -> Response:
    return Response(
        orjson.dumps(body),
        status_code=int(error.status),
        headers=error.headers,
        media_type="application/json",
    )


def openai_error_body(error: GatewayError) -> dict[str, Any]:
    return {
        "error": {
            "message": error.message,
            "type": _error_type(int(error.status), OPENAI_TYPES),
            "code": error.reason.lower(),
            "param": None,
        }
    }


def anthropic_error_body(error: GatewayError) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {
            "type": _error_type(int(error.status), ANTHROPIC_TYPES),
            "message": error.message,
        },
    }


class OpenAIErrorRenderer:
    def render(self, error: GatewayError, *, request_id: str) -> Response:
        return _response(openai_error_body(error), error)


class AnthropicErrorRenderer:
    def render(self, error: GatewayError, *, request_id: str) -> Response:
        response = _response(anthropic_error_body(error), error)
        if request_id:
            # Anthropic's SDK reports this header as the error's request id.
            response.headers["request-id"] = request_id
        return response


def with_inference_renderers(base: ErrorRenderers = ERROR_RENDERERS) -> ErrorRenderers:
    """``base`` plus the OpenAI and Anthropic envelopes on their route prefixes."""
    by_prefix: dict[str, ErrorRenderer] = dict(base.by_prefix)
    openai, anthropic = OpenAIErrorRenderer(), AnthropicErrorRenderer()
    by_prefix.update({prefix: openai for prefix in OPENAI_PREFIXES})
    by_prefix.update({prefix: anthropic for prefix in ANTHROPIC_PREFIXES})
    return ErrorRenderers(default=base.default, by_prefix=by_prefix)


INFERENCE_RENDERERS: Final = with_inference_renderers()
"""The gateway's renderers: platform by default, OpenAI and Anthropic on their prefixes."""

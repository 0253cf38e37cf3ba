"""How an error looks on the wire, chosen per route prefix.

Platform routes answer every error in one envelope::

    {"error": {"code": 404, "message": "not found", "reason": "NOT_FOUND"}}

with ``code`` the HTTP status and ``reason`` a stable UPPER_SNAKE word callers may branch on.
Routes that imitate another API (the OpenAI- and Anthropic-compatible inference routes) must
answer in that API's own envelope so its official SDK raises its usual exceptions; each of those
is an :class:`ErrorRenderer` registered for its path prefix in :class:`ErrorRenderers`. Every
error the gateway produces, from a middleware, an exception handler or a route, goes through
:meth:`ErrorRenderers.for_path`, so a route family never shows another family's envelope.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import orjson
from pydantic import BaseModel, Field
from starlette.responses import Response

from services.gateway.errors import GatewayError


class ErrorRenderer(Protocol):
    def render(self, error: GatewayError, *, request_id: str) -> Response:
        """The complete response for ``error``, status and headers included."""
        ...


class PlatformErrorBody(BaseModel):
    code: int = Field(description="The HTTP status code, repeated.", examples=[404])
    message: str = Field(description="What went wrong, for people; never a secret.")
    reason: str = Field(
        description="What went wrong, for programs: a stable UPPER_SNAKE word.",
        examples=["NOT_FOUND"],
    )


class PlatformErrorEnvelope(BaseModel):
    """The body of every error answered on a platform route."""

    error: PlatformErrorBody


class PlatformErrorRenderer:
    def render(self, error: GatewayError, *, request_id: str) -> Response:
        # The request id travels in the X-Request-Id header of every response; the platform
        # envelope keeps to its three documented fields.
        status = int(error.status)
        body = {"error": {"code": status, "message": error.message, "reason": error.reason}}
        return Response(
            orjson.dumps(body),
            status_code=status,
            headers=error.headers,
            media_type="application/json",
        )


@dataclass(frozen=True)
class ErrorRenderers:
    """Path prefix → renderer; the longest matching prefix wins, else ``default``.

    A prefix matches whole path segments: ``/api/v1/tokenhall/messages`` matches that path and
    everything below it, never ``/api/v1/tokenhall/messages-archive``.
    """

    default: ErrorRenderer
    by_prefix: Mapping[str, ErrorRenderer] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for prefix in self.by_prefix:
            assert prefix.startswith("/"), prefix
            assert not prefix.endswith("/"), prefix

    def for_path(self, path: str) -> ErrorRenderer:
        best_prefix = ""
        chosen = self.default
        for prefix, renderer in self.by_prefix.items():
            matches = path == prefix or path.startswith(prefix + "/")
            if matches and len(prefix) > len(best_prefix):
                best_prefix, chosen = prefix, renderer
        return chosen


ERROR_RENDERERS = ErrorRenderers(default=PlatformErrorRenderer())
"""The gateway's renderers: the platform envelope everywhere until API-compatible routes exist."""

"""The gateway's ASGI application: :func:`create_app`.

Everything a request meets before and after its route lives here or in
:mod:`services.gateway.middleware`: request ids and trace context, limits, security headers, CORS,
the access log and metrics (:mod:`services.gateway.metrics`), and the exception handlers that
turn every failure into the envelope of its route family (:mod:`services.gateway.rendering`).
Routes raise :class:`~services.gateway.errors.GatewayError` subclasses, or let a backend's
:class:`grpc.aio.AioRpcError` propagate: both are answered here, the latter through the one
gRPC → HTTP table.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from http import HTTPStatus
from typing import Any, Final, Literal

import grpc
import orjson
from fastapi import APIRouter, FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from tokenmart.auth.v1 import auth_pb2_grpc
from tokenmart.provider.v1 import provider_pb2_grpc
from tokenmart.review.v1 import review_pb2_grpc
from tokenmart.wallet.v1 import wallet_pb2_grpc

from services.common.logging import current_request_id
from services.common.metrics import MetricsServer
from services.gateway.authn import Authenticator
from services.gateway.backends import SERVING, Backends
from services.gateway.errors import (
    BackendError,
    GatewayError,
    InvalidArgument,
    InvalidJson,
    error_for_http_status,
)
from services.gateway.metrics import GatewayMetrics
from services.gateway.middleware import (
    TRACEPARENT_HEADER,
    BodyLimitMiddleware,
    CredentialInUrlMiddleware,
    JsonBodyMiddleware,
    RequestContextMiddleware,
    RouteTemplates,
    note_error,
)
from services.gateway.ratelimit import RateLimiter, RateLimitRules, Rule
from services.gateway.ratelimit_guard import EdgeLimits
from services.gateway.renderers import with_inference_renderers
from services.gateway.rendering import ERROR_RENDERERS, ErrorRenderers, PlatformErrorEnvelope
from services.gateway.routes import accounts, agents, inference, keys, review, wallet
from services.gateway.routes.common import Edge
from services.gateway.settings import GatewaySettings

logger = logging.getLogger("tokenmart.gateway")

TITLE: Final = "TokenMart Core"
VERSION: Final = "1.0.0"
DESCRIPTION: Final = """\
The HTTP edge of TokenMart Core: a market where AI agents hold, spend, earn and move credits.

**Errors.** Every error on a platform route is
`{"error": {"code": <HTTP status>, "message": "...", "reason": "UPPER_SNAKE"}}`. Branch on
`reason`, not on `message`. Malformed or invalid requests are 400 (`INVALID_ARGUMENT`,
`INVALID_JSON`, `JSON_TOO_DEEP`), never 422.

**Request ids.** Send `X-Request-Id` (1-128 of `A-Z a-z 0-9 . _ : -`) to choose the id that
follows your request through every service's logs; otherwise one is minted. Every response,
errors included, carries it back in `X-Request-Id`.

**Trace context.** Send a W3C `traceparent` (version `00`, lower-case hex) to make the request
part of your trace; anything else is ignored and a new trace is started. Every response carries
the gateway's `traceparent` (same trace id, the gateway's span), and the trace id appears in every
service's log lines for the request.

**Limits.** Request bodies are JSON (`application/json`), at most `MAX_BODY_BYTES` (413
`BODY_TOO_LARGE`) and nested at most `MAX_JSON_DEPTH` deep.
"""

CORS_METHODS: Final = ("GET", "POST", "PUT", "PATCH", "DELETE")
CORS_HEADERS: Final = ("Authorization", "Content-Type", "X-Request-Id", TRACEPARENT_HEADER)
CORS_EXPOSED_HEADERS: Final = (
    "X-Request-Id",
    TRACEPARENT_HEADER,
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-Generation-Id",
)
"""What a browser client may read from an answer besides the CORS-safelisted headers: the
request id and trace to quote in a support request, when to retry, and the generation id."""
CORS_MAX_AGE_S: Final = 600
_VALIDATION_ERRORS_REPORTED = 10
_SAFE_LOCATION = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_SAFE_KIND = re.compile(r"^[a-z_]{1,64}$")

HealthState = Literal["SERVING", "NOT_SERVING", "UNREACHABLE"]


class LivenessReport(BaseModel):
    status: Literal["ok"] = Field(description="Always `ok`: the process answers HTTP.")


class HealthReport(BaseModel):
    status: Literal["ok", "degraded"] = Field(
        description="`ok` when every backend is SERVING, else `degraded`."
    )
    backends: dict[str, HealthState] = Field(
        description="Each backend service (auth, wallet, provider, review) and its health.",
        examples=[{"auth": "SERVING", "wallet": "SERVING", "provider": "UNREACHABLE"}],
    )


def create_app(
    settings: GatewaySettings,
    backends: Backends,
    *,
    limiter: RateLimiter | None = None,
    authenticator_class: type[Authenticator] = Authenticator,
    metrics: GatewayMetrics | None = None,
) -> FastAPI:
    """The gateway application; ``backends`` and the limiter close when it shuts down.

    Without ``limiter``, one is built on ``settings.redis_url`` (in-process only when unset).
    ``authenticator_class`` exists for the authentication benchmark, which measures the same
    routes with the per-request call to auth taken out. ``metrics`` records requests, rate
    limits and the auth cache (a registry of the application's own when not given); it is
    ``app.state.metrics``, served on ``settings.metrics_listen`` while the lifespan runs.
    """
    metrics = metrics if metrics is not None else GatewayMetrics()
    renderers = with_inference_renderers(ERROR_RENDERERS)
    limiter = limiter or RateLimiter.from_url(
        settings.redis_url, identity_key=settings.rate_limit_key
    )
    metrics.watch(limiter)
    limits = EdgeLimits(
        limiter,
        dataclasses.replace(
            RateLimitRules(), ip_flood=Rule("ip_flood", settings.ip_flood_per_minute, 60.0)
        ),
        on_decision=metrics.rate_limit_decision,
    )
    auth = auth_pb2_grpc.AuthServiceStub(backends.channel("auth"))
    edge = Edge(
        auth=auth,
        wallet=wallet_pb2_grpc.WalletServiceStub(backends.channel("wallet")),
        review=review_pb2_grpc.ReviewServiceStub(backends.channel("review")),
        authenticator=authenticator_class(
            auth,
            limits,
            cache_max_s=settings.auth_cache_ms / 1000,
            on_lookup=metrics.auth_cache_lookup,
        ),
        limits=limits,
        provider=provider_pb2_grpc.ProviderServiceStub(backends.channel("provider")),
    )
    app = FastAPI(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        lifespan=_lifespan(backends, limiter, metrics, settings.metrics_listen),
        # Every operation documents its errors as the envelope; with a "default" response
        # declared, FastAPI also stops documenting the 422 we never send.
        responses={
            "default": {
                "model": PlatformErrorEnvelope,
                "description": "An error, in the platform error envelope.",
            }
        },
    )
    app.state.settings = settings
    app.state.backends = backends
    app.state.metrics = metrics
    _install_exception_handlers(app, renderers)
    # Each add_middleware wraps everything added before it, so this reads innermost first.
    app.add_middleware(
        JsonBodyMiddleware, max_json_depth=settings.max_json_depth, renderers=renderers
    )
    app.add_middleware(CredentialInUrlMiddleware, renderers=renderers)
    app.add_middleware(
        BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes, renderers=renderers
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=CORS_METHODS,
            allow_headers=CORS_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
            # Credentials travel in the Authorization header, never in cookies.
            allow_credentials=False,
            max_age=CORS_MAX_AGE_S,
        )
    app.add_middleware(
        RequestContextMiddleware,
        renderers=renderers,
        trusted_proxies=settings.trusted_proxies,
        metrics=metrics,
        templates=RouteTemplates(app.openapi),
    )
    app.include_router(_operations_router(backends))
    for routes in (accounts, agents, keys, wallet, review, inference):
        app.include_router(routes.router(edge))
    return app


def _lifespan(
    backends: Backends, limiter: RateLimiter, metrics: GatewayMetrics, metrics_listen: str | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Serve ``/metrics`` (when ``metrics_listen`` is set) while the application runs, on its
    loop; at shutdown close the backends, the limiter and then the metrics listener."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        listener = MetricsServer(metrics.service, metrics_listen) if metrics_listen else None
        if listener is not None:
            await listener.start()
        try:
            yield
        finally:
            try:
                await backends.close()
                await limiter.aclose()
            finally:
                if listener is not None:
                    await listener.stop()

    return lifespan


def _operations_router(backends: Backends) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get(
        "/healthz",
        summary="Health of the gateway and each backend service",
        response_model=HealthReport,
        responses={
            int(HTTPStatus.SERVICE_UNAVAILABLE): {
                "model": HealthReport,
                "description": "At least one backend is not SERVING (same body).",
            }
        },
    )
    async def healthz() -> Response:
        health = await backends.health()
        healthy = all(state == SERVING for state in health.values())
        report = {"status": "ok" if healthy else "degraded", "backends": health}
        return Response(
            orjson.dumps(report),
            status_code=HTTPStatus.OK if healthy else HTTPStatus.SERVICE_UNAVAILABLE,
            media_type="application/json",
        )

    @router.get(
        "/livez",
        summary="Liveness: the gateway's event loop answers (no backend is asked)",
        response_model=LivenessReport,
    )
    async def livez() -> Response:
        # A backend outage must take gateways out of rotation (/healthz), not restart them.
        return Response(orjson.dumps({"status": "ok"}), media_type="application/json")

    return router


def _install_exception_handlers(app: FastAPI, renderers: ErrorRenderers) -> None:
    def render(request: Request, error: GatewayError) -> Response:
        note_error(request.scope, error)
        renderer = renderers.for_path(request.url.path)
        return renderer.render(error, request_id=current_request_id())

    async def gateway_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, GatewayError)
        return render(request, exc)

    async def http_error(request: Request, exc: Exception) -> Response:
        # Starlette's own 404 (no route) and 405 (route, other method; with its Allow header).
        assert isinstance(exc, StarletteHTTPException)
        return render(request, error_for_http_status(exc.status_code, headers=exc.headers))

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return render(request, _invalid_request(exc.errors()))

    async def backend_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, grpc.aio.AioRpcError)
        return render(request, BackendError.from_rpc_error(exc))

    app.add_exception_handler(GatewayError, gateway_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(grpc.aio.AioRpcError, backend_error)


def _invalid_request(errors: Sequence[Any]) -> GatewayError:
    """Where the request is wrong and what kind of wrong, never the submitted values.

    Pydantic's ``msg`` and ``input`` can quote what was sent (a password, a key), so only the
    location (``body.amount_micros``) and the error type (``int_parsing``) are reported.
    """
    if any(isinstance(item, dict) and item.get("type") == "json_invalid" for item in errors):
        return InvalidJson()
    problems = [_describe(item) for item in errors[:_VALIDATION_ERRORS_REPORTED]]
    unreported = len(errors) - len(problems)
    if unreported > 0:
        problems.append(f"and {unreported} more")
    return InvalidArgument("invalid request: " + "; ".join(problems))


def _describe(item: Any) -> str:
    if not isinstance(item, dict):
        return "invalid"
    location = ".".join(_location_part(part) for part in item.get("loc", ())) or "request"
    kind = item.get("type")
    return f"{location} ({kind if isinstance(kind, str) and _SAFE_KIND.match(kind) else 'invalid'})"


def _location_part(part: object) -> str:
    # Locations may hold keys the caller chose (extra fields, dict keys); keep only names.
    if isinstance(part, int):
        return str(part)
    if isinstance(part, str) and _SAFE_LOCATION.match(part):
        return part
    return "<key>"

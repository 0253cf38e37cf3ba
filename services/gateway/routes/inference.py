"""TokenHall inference: OpenAI- and Anthropic-compatible completions, models, generations, BYOK.

* ``POST /api/v1/tokenhall/chat/completions`` speaks OpenAI's chat completions;
  ``POST /api/v1/tokenhall/messages`` and ``/api/v1/tokenhall/anthropic/v1/messages`` speak
  Anthropic's messages (``base_url=".../api/v1/tokenhall/anthropic"`` for the ``anthropic`` SDK).
  Only ``th_`` inference keys may call them (``Authorization: Bearer`` or ``x-api-key``); the
  access token, with audiences provider and wallet, goes to provider, which holds, calls upstream
  and settles. The raw body is passed through; the answer is provider's body, verbatim. Errors take
  the route's own envelope (:mod:`services.gateway.renderers`).
* Streams: every failure before provider's ``started`` message is a gRPC status and becomes a
  proper HTTP error; after it the answer is 200 ``text/event-stream`` with provider's SSE events
  written as they come (a mid-stream failure is the dialect's own error event). A client that goes
  away cancels the call, and provider bills what was produced.
* The generation id comes back in ``X-Generation-Id`` (and as the body's ``id``, ``gen-<uuid>``);
  ``GET /api/v1/tokenhall/generation/{id}`` shows its record.
* ``GET /api/v1/tokenhall/models`` lists the registry in OpenAI's list format.
* ``/api/v1/tokenhall/provider-keys``: BYOK keys for a ``thm_`` key or an account session; the
  secret is accepted once and never shown again (last 4 characters only).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Annotated, Any, Final, Literal

import grpc
import orjson
from fastapi import APIRouter, Path, Query
from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from tokenmart.auth.v1 import auth_pb2
from tokenmart.provider.v1 import provider_pb2, provider_pb2_grpc

from services.gateway.authn import AGENT_KEY, INFERENCE_KEY, MANAGEMENT_KEY, SESSION, Caller
from services.gateway.errors import Internal, InvalidArgument
from services.gateway.routes.accounts import UUID_PATTERN
from services.gateway.routes.common import Body, Edge, json_response
from services.gateway.views import enum_name, request_id_for, timestamp

logger = logging.getLogger("tokenmart.gateway.inference")

INFERENCE_AUDIENCES: Final = (auth_pb2.AUDIENCE_PROVIDER, auth_pb2.AUDIENCE_WALLET)
PROVIDER: Final = (auth_pb2.AUDIENCE_PROVIDER,)
INFERENCE_CALLERS: Final = (INFERENCE_KEY,)
READERS: Final = (AGENT_KEY, INFERENCE_KEY, MANAGEMENT_KEY, SESSION)
KEY_MANAGERS: Final = (MANAGEMENT_KEY, SESSION)
OPENAI: Final = provider_pb2.API_DIALECT_OPENAI_CHAT_COMPLETIONS
ANTHROPIC: Final = provider_pb2.API_DIALECT_ANTHROPIC_MESSAGES
GENERATION_HEADER: Final = "X-Generation-Id"
GENERATION_ID_PATTERN: Final = (
    r"^(gen-)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)
# Provider bounds the upstream answer (300 s) and a stream's life (900 s); these deadlines only
# stop a call provider itself failed to end.
COMPLETION_TIMEOUT_S: Final = 330.0
STREAM_TIMEOUT_S: Final = 960.0
MODEL_PAGES_MAX: Final = 50
MODEL_NAME_MAX_LENGTH: Final = 256

PROVIDERS: Final = {
    "openai": provider_pb2.UPSTREAM_PROVIDER_OPENAI,
    "anthropic": provider_pb2.UPSTREAM_PROVIDER_ANTHROPIC,
    "openrouter": provider_pb2.UPSTREAM_PROVIDER_OPENROUTER,
}
KEY_SCOPES: Final = {
    "agent": provider_pb2.PROVIDER_KEY_SCOPE_AGENT,
    "account": provider_pb2.PROVIDER_KEY_SCOPE_ACCOUNT,
}


class BodyNotObject(InvalidArgument):
    reason = "BODY_INVALID"
    default_message = "the request body must be a JSON object"


class ModelRequired(InvalidArgument):
    reason = "MODEL_REQUIRED"
    default_message = "the request body needs a 'model' string"


class StreamFlagInvalid(InvalidArgument):
    reason = "BODY_INVALID"
    default_message = "'stream' must be a boolean"


class CreateProviderKeyBody(Body):
    provider: Literal["openai", "anthropic", "openrouter"]
    secret: str = Field(min_length=1, max_length=512)
    scope: Literal["agent", "account"] = "agent"
    always_use: bool = False
    label: str | None = Field(default=None, max_length=100)
    replace_existing: bool = False


def _principal_scope(caller: Caller) -> str:
    principal = caller.principal
    return principal.key_id or f"{principal.account_id}/{principal.agent_id}"


def _inference_input(raw: bytes) -> tuple[str, bool]:
    """The body's ``model`` and whether it asks for a stream; the rest is provider's to judge."""
    try:
        parsed = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        parsed = None  # the JSON middleware has already refused malformed bodies
    if not isinstance(parsed, dict):
        raise BodyNotObject()
    model = parsed.get("model")
    if not isinstance(model, str) or not 0 < len(model) <= MODEL_NAME_MAX_LENGTH:
        raise ModelRequired()
    stream = parsed.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise StreamFlagInvalid()
    return model, stream


def model_view(model: provider_pb2.Model) -> dict[str, Any]:
    return {
        "id": model.model_id,
        "object": "model",
        "created": model.created_at.seconds,
        "owned_by": enum_name(model.provider, "UPSTREAM_PROVIDER_", provider_pb2.UpstreamProvider),
        "name": model.display_name,
        "description": model.description or None,
        "context_length": model.context_length,
        "max_output_tokens": model.max_output_tokens,
        "pricing": {
            "input_per_million_tokens_micros": model.price_per_million_input_tokens_micros,
            "output_per_million_tokens_micros": model.price_per_million_output_tokens_micros,
        },
        "capabilities": {
            "streaming": model.supports_streaming,
            "tools": model.supports_tools,
            "vision": model.supports_vision,
        },
    }


def _duration_ms(message: Any, present: bool) -> int | None:
    if not present:
        return None
    return int(message.ToMilliseconds())


def generation_view(generation: provider_pb2.Generation) -> dict[str, Any]:
    usage = generation.usage
    return {
        "id": f"gen-{generation.generation_id}",
        "generation_id": generation.generation_id,
        "agent_id": generation.agent_id or None,
        "key_id": generation.key_id or None,
        "dialect": enum_name(generation.dialect, "API_DIALECT_", provider_pb2.ApiDialect),
        "streamed": generation.streamed,
        "model": generation.model_requested,
        "model_served": generation.model_served or None,
        "provider": enum_name(
            generation.provider, "UPSTREAM_PROVIDER_", provider_pb2.UpstreamProvider
        ),
        "key_source": enum_name(generation.key_source, "KEY_SOURCE_", provider_pb2.KeySource),
        "status": enum_name(generation.status, "GENERATION_STATUS_", provider_pb2.GenerationStatus),
        "error_reason": generation.error_reason or None,
        "upstream_status": generation.upstream_status or None,
        "upstream_attempts": generation.upstream_attempts,
        "usage": {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cached_input_tokens": usage.cached_input_tokens,
            "total_tokens": usage.total_tokens,
        },
        "usage_source": enum_name(
            generation.usage_source, "USAGE_SOURCE_", provider_pb2.UsageSource
        ),
        "held_micros": generation.held_micros,
        "price_micros": generation.price_micros,
        "charged_micros": generation.charged_micros,
        "shortfall_micros": generation.shortfall_micros,
        "settlement_status": enum_name(
            generation.settlement_status, "SETTLEMENT_STATUS_", provider_pb2.SettlementStatus
        ),
        "latency_ms": _duration_ms(generation.latency, generation.HasField("latency")),
        "time_to_first_token_ms": _duration_ms(
            generation.time_to_first_token, generation.HasField("time_to_first_token")
        ),
        "created_at": timestamp(generation.created_at),
        "finished_at": timestamp(generation.finished_at),
        "settled_at": timestamp(generation.settled_at),
    }


def provider_key_view(key: provider_pb2.ProviderKey) -> dict[str, Any]:
    # Explicit fields only: the secret never reaches this view, its last 4 characters do.
    return {
        "id": key.provider_key_id,
        "provider": enum_name(key.provider, "UPSTREAM_PROVIDER_", provider_pb2.UpstreamProvider),
        "scope": enum_name(key.scope, "PROVIDER_KEY_SCOPE_", provider_pb2.ProviderKeyScope),
        "agent_id": key.agent_id or None,
        "account_id": key.account_id or None,
        "label": key.label or None,
        "last4": key.last4,
        "always_use": key.always_use,
        "created_at": timestamp(key.created_at),
        "last_used_at": timestamp(key.last_used_at),
    }


def router(edge: Edge) -> APIRouter:
    api = APIRouter(prefix="/api/v1/tokenhall", tags=["inference"])
    assert edge.provider is not None, "the inference routes need the provider backend"
    provider: provider_pb2_grpc.ProviderServiceStub = edge.provider

    async def complete(request: Request, dialect: provider_pb2.ApiDialect) -> Response:
        caller = await edge.authenticator.authenticate(
            request, families=INFERENCE_CALLERS, audiences=INFERENCE_AUDIENCES
        )
        raw = await request.body()
        model, stream = _inference_input(raw)
        request_id = request_id_for(request, scope=_principal_scope(caller))
        if stream:
            return await _stream(provider, caller, dialect, raw, model, request_id)
        response = await provider.ChatCompletion(
            provider_pb2.ChatCompletionRequest(
                request_id=request_id, dialect=dialect, body=raw, model=model
            ),
            metadata=caller.metadata,
            timeout=COMPLETION_TIMEOUT_S,
        )
        return Response(
            response.body,
            media_type="application/json",
            headers={GENERATION_HEADER: f"gen-{response.generation_id}"},
        )

    @api.post("/chat/completions", summary="OpenAI-compatible chat completion (stream or not)")
    async def chat_completions(request: Request) -> Response:
        return await complete(request, OPENAI)

    @api.post("/messages", summary="Anthropic-compatible messages (stream or not)")
    async def messages(request: Request) -> Response:
        return await complete(request, ANTHROPIC)

    @api.post(
        "/anthropic/v1/messages",
        summary="Anthropic-compatible messages, for base_url .../tokenhall/anthropic",
    )
    async def anthropic_messages(request: Request) -> Response:
        return await complete(request, ANTHROPIC)

    @api.get("/models", summary="The model registry, in OpenAI's list format")
    async def models(request: Request) -> Response:
        caller = await edge.authenticator.authenticate(
            request, families=READERS, audiences=PROVIDER
        )
        listed: list[dict[str, Any]] = []
        page_token = ""
        for _ in range(MODEL_PAGES_MAX):
            response = await provider.ListModels(
                provider_pb2.ListModelsRequest(page_size=200, page_token=page_token),
                metadata=caller.metadata,
            )
            listed.extend(model_view(model) for model in response.models)
            page_token = response.next_page_token
            if not page_token:
                break
        return json_response({"object": "list", "data": listed})

    @api.get("/generation/{generation_id}", summary="One generation's record (no prompt or text)")
    async def generation(
        request: Request,
        generation_id: Annotated[str, Path(pattern=GENERATION_ID_PATTERN)],
    ) -> Response:
        caller = await edge.authenticator.authenticate(
            request, families=READERS, audiences=PROVIDER
        )
        response = await provider.GetGeneration(
            provider_pb2.GetGenerationRequest(generation_id=generation_id),
            metadata=caller.metadata,
        )
        return json_response({"data": generation_view(response.generation)})

    async def key_manager(request: Request) -> Caller:
        return await edge.authenticator.authenticate(
            request, families=KEY_MANAGERS, audiences=PROVIDER
        )

    @api.get("/provider-keys", summary="The BYOK provider keys the caller manages (last 4 only)")
    async def list_provider_keys(
        request: Request,
        scope: Literal["agent", "account"] | None = None,
        page_size: Annotated[int, Query(ge=0, le=200)] = 50,
        page_token: Annotated[str, Query(max_length=512)] = "",
    ) -> Response:
        caller = await key_manager(request)
        response = await provider.ListProviderKeys(
            provider_pb2.ListProviderKeysRequest(
                page_size=page_size,
                page_token=page_token,
                scope=KEY_SCOPES[scope] if scope else provider_pb2.PROVIDER_KEY_SCOPE_UNSPECIFIED,
            ),
            metadata=caller.metadata,
        )
        return json_response(
            {
                "provider_keys": [provider_key_view(key) for key in response.provider_keys],
                "next_page_token": response.next_page_token or None,
            }
        )

    @api.post(
        "/provider-keys",
        status_code=HTTPStatus.CREATED,
        summary="Store a BYOK provider key (encrypted; only its last 4 characters are shown)",
    )
    async def create_provider_key(body: CreateProviderKeyBody, request: Request) -> Response:
        caller = await key_manager(request)
        response = await provider.CreateProviderKey(
            provider_pb2.CreateProviderKeyRequest(
                request_id=request_id_for(request, scope=_principal_scope(caller)),
                provider=PROVIDERS[body.provider],
                secret=body.secret,
                scope=KEY_SCOPES[body.scope],
                always_use=body.always_use,
                label=body.label or "",
                replace_existing=body.replace_existing,
            ),
            metadata=caller.metadata,
        )
        return json_response(
            {
                "provider_key": provider_key_view(response.provider_key),
                "replaced_provider_key_id": response.replaced_provider_key_id or None,
            },
            HTTPStatus.CREATED,
        )

    @api.delete("/provider-keys/{provider_key_id}", summary="Delete a BYOK provider key")
    async def delete_provider_key(
        request: Request, provider_key_id: Annotated[str, Path(pattern=UUID_PATTERN)]
    ) -> Response:
        caller = await key_manager(request)
        response = await provider.DeleteProviderKey(
            provider_pb2.DeleteProviderKeyRequest(
                request_id=request_id_for(request, scope=_principal_scope(caller)),
                provider_key_id=provider_key_id,
            ),
            metadata=caller.metadata,
        )
        return json_response(
            {
                "id": response.provider_key_id,
                "deleted": True,
                "deleted_at": timestamp(response.deleted_at),
            }
        )

    return api


async def _stream(
    provider: provider_pb2_grpc.ProviderServiceStub,
    caller: Caller,
    dialect: provider_pb2.ApiDialect,
    raw: bytes,
    model: str,
    request_id: str,
) -> Response:
    call = provider.StreamChatCompletion(
        provider_pb2.StreamChatCompletionRequest(
            request_id=request_id, dialect=dialect, body=raw, model=model
        ),
        metadata=caller.metadata,
        timeout=STREAM_TIMEOUT_S,
    )
    try:
        # Every failure up to `started` is a status: raised here, answered as a proper error.
        first = await call.read()
    except BaseException:
        call.cancel()
        raise
    if first is grpc.aio.EOF or first.WhichOneof("event") != "started":
        call.cancel()
        logger.error("provider stream did not begin with started")
        raise Internal()
    generation_id = first.started.generation_id
    return StreamingResponse(
        _events(call, generation_id),
        media_type="text/event-stream",
        headers={GENERATION_HEADER: f"gen-{generation_id}", "X-Accel-Buffering": "no"},
    )


async def _events(call: Any, generation_id: str) -> AsyncIterator[bytes]:
    """Provider's SSE events as they come; the call is cancelled however this ends.

    When the client goes away, Starlette cancels this generator: the ``finally`` cancels the
    gRPC call, and provider bills what was produced.
    """
    try:
        while True:
            message = await call.read()
            if message is grpc.aio.EOF:
                return
            kind = message.WhichOneof("event")
            if kind == "chunk":
                yield message.chunk.data
            elif kind == "finished":
                finished = message.finished
                logger.info(
                    "stream finished",
                    extra={
                        "generation_id": generation_id,
                        "status": enum_name(
                            finished.status, "GENERATION_STATUS_", provider_pb2.GenerationStatus
                        ),
                        "charged_micros": finished.charged_micros,
                    },
                )
    except grpc.aio.AioRpcError as error:
        # After the 200 there is no status left to choose; the stream just ends.
        logger.warning(
            "provider stream failed after start",
            extra={"generation_id": generation_id, "grpc_code": error.code().name},
        )
    finally:
        call.cancel()

"""The ProviderService servicer: protobuf in, operations, protobuf out; nothing else.

Every handler verifies the access token first (``operations/access.py``), then has one of four
shapes:

* **read**: one transaction running the operation;
* **mutation**: the operation inside :func:`services.common.idempotency.run_once`, in the
  transaction of its effects, keyed by the caller's principal (CreateProviderKey's digest covers
  an HMAC of the secret, never the secret itself);
* **inference**: ChatCompletion and StreamChatCompletion, whose replays are refused by the
  generation record itself (GENERATION_EXISTS), since completions are never stored;
* **re-drive**: SettlePending, whose wallet calls happen in their own transactions while
  run_once holds the request's replay slot.

The peer allowlist (``access.py``) has already been enforced by the server interceptor, which
also maps every :class:`~services.common.errors.TokenMartError` to its gRPC status.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncConnection
from tokenmart.provider.v1 import provider_pb2, provider_pb2_grpc

from services.common.idempotency import run_once, validate_request_id
from services.provider import wire
from services.provider.domain.validation import Invalid, canonical_uuid
from services.provider.operations import (
    generations,
    inference,
    provider_keys,
    registry,
)
from services.provider.operations.access import Caller, verify
from services.provider.operations.runtime import Runtime
from services.provider.store.models import SCHEMA

R = TypeVar("R")
M = TypeVar("M", bound=Message)


class ProviderApi(provider_pb2_grpc.ProviderServiceServicer):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    # -- plumbing --------------------------------------------------------------------------------

    async def _read(
        self,
        context: grpc.aio.ServicerContext,
        body: Callable[[AsyncConnection, Caller], Awaitable[R]],
    ) -> R:
        caller = await verify(self.runtime, context)
        return await self.runtime.database.run(lambda tx: body(tx, caller))

    async def _mutate(
        self,
        context: grpc.aio.ServicerContext,
        *,
        method: str,
        request: Any,
        response_type: type[M],
        body: Callable[[AsyncConnection, Caller], Awaitable[M]],
        digest_request: Message | None = None,
        caller: Caller | None = None,
    ) -> M:
        verified = caller or await verify(self.runtime, context)
        validate_request_id(request.request_id)

        async def run(tx: AsyncConnection) -> M:
            return await run_once(
                tx,
                schema=SCHEMA,
                caller=verified.idempotency_key,
                method=method,
                request_id=request.request_id,
                request=digest_request or request,
                response_type=response_type,
                mutate=lambda: body(tx, verified),
            )

        return await self.runtime.database.run(run)

    # -- the model registry ----------------------------------------------------------------------

    async def ListModels(
        self, request: provider_pb2.ListModelsRequest, context: grpc.aio.ServicerContext
    ) -> provider_pb2.ListModelsResponse:
        provider = wire.optional_from_wire(request.provider, wire.PROVIDERS, field="provider")

        async def body(tx: AsyncConnection, caller: Caller) -> provider_pb2.ListModelsResponse:
            try:
                page = await registry.list_models(
                    tx,
                    self.runtime,
                    caller,
                    requested_page_size=request.page_size,
                    page_token=request.page_token,
                    include_inactive=request.include_inactive,
                    provider=provider,
                )
            except Invalid as error:
                raise wire.invalid(error) from None
            return provider_pb2.ListModelsResponse(
                models=[wire.model(item) for item in page.models],
                next_page_token=page.next_page_token,
            )

        return await self._read(context, body)

    async def GetModel(
        self, request: provider_pb2.GetModelRequest, context: grpc.aio.ServicerContext
    ) -> provider_pb2.GetModelResponse:
        async def body(tx: AsyncConnection, caller: Caller) -> provider_pb2.GetModelResponse:
            found = await registry.get_model(tx, caller, model_id=request.model_id)
            return provider_pb2.GetModelResponse(model=wire.model(found))

        return await self._read(context, body)

    async def UpsertModel(
        self, request: provider_pb2.UpsertModelRequest, context: grpc.aio.ServicerContext
    ) -> provider_pb2.UpsertModelResponse:
        caller = await verify(self.runtime, context)
        caller.require("admin", "operator")
        spec = wire.model_spec(request.model)
        expected = request.expected_revision if request.HasField("expected_revision") else None

        async def body(tx: AsyncConnection, verified: Caller) -> provider_pb2.UpsertModelResponse:
            stored, created = await registry.upsert_model(
                tx, self.runtime, verified, spec=spec, expected_revision=expected
            )
            return provider_pb2.UpsertModelResponse(model=wire.model(stored), created=created)

        return await self._mutate(
            context,
            caller=caller,
            method="UpsertModel",
            request=request,
            response_type=provider_pb2.UpsertModelResponse,
            body=body,
        )

    async def SetModelActive(
        self, request: provider_pb2.SetModelActiveRequest, context: grpc.aio.ServicerContext
    ) -> provider_pb2.SetModelActiveResponse:
        async def body(tx: AsyncConnection, caller: Caller) -> provider_pb2.SetModelActiveResponse:
            stored = await registry.set_active(
                tx, self.runtime, caller, model_id=request.model_id, active=request.active
            )
            return provider_pb2.SetModelActiveResponse(model=wire.model(stored))

        return await self._mutate(
            context,
            method="SetModelActive",
            request=request,
            response_type=provider_pb2.SetModelActiveResponse,
            body=body,
        )

    # -- inference -------------------------------------------------------------------------------

    async def ChatCompletion(
        self, request: provider_pb2.ChatCompletionRequest, context: grpc.aio.ServicerContext
    ) -> provider_pb2.ChatCompletionResponse:
        caller = await verify(self.runtime, context)
        dialect = wire.from_wire(request.dialect, wire.DIALECTS, field="dialect")
        result = await inference.complete(
            self.runtime,
            caller,
            dialect=dialect,
            body=request.body,
            model_field=request.model,
            request_id=request.request_id,
        )
        generation = result.generation
        return provider_pb2.ChatCompletionResponse(
            generation_id=str(generation.id),
            body=result.body,
            usage=wire.usage(generation.usage),
            charged_micros=generation.charged_micros,
            model_served=generation.model_served,
            key_source=wire.KEY_SOURCES[generation.key_source],  # type: ignore[arg-type]
            settlement_status=wire.SETTLEMENT_STATUSES[generation.settlement_status],  # type: ignore[arg-type]
        )

    async def StreamChatCompletion(
        self, request: provider_pb2.StreamChatCompletionRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[provider_pb2.StreamChatCompletionResponse]:
        caller = await verify(self.runtime, context)
        dialect = wire.from_wire(request.dialect, wire.DIALECTS, field="dialect")
        async for message in inference.stream(
            self.runtime,
            caller,
            dialect=dialect,
            body=request.body,
            model_field=request.model,
            request_id=request.request_id,
        ):
            yield _stream_message(message, model=request.model)

    # -- the generation log ----------------------------------------------------------------------

    async def GetGeneration(
        self, request: provider_pb2.GetGenerationRequest, context: grpc.aio.ServicerContext
    ) -> provider_pb2.GetGenerationResponse:
        async def body(tx: AsyncConnection, caller: Caller) -> provider_pb2.GetGenerationResponse:
            found = await generations.get_generation(tx, caller, raw_id=request.generation_id)
            return provider_pb2.GetGenerationResponse(generation=wire.generation(found))

        return await self._read(context, body)

    async def GetKeyUsage(
        self, request: provider_pb2.GetKeyUsageRequest, context: grpc.aio.ServicerContext
    ) -> provider_pb2.GetKeyUsageResponse:
        async def body(tx: AsyncConnection, caller: Caller) -> provider_pb2.GetKeyUsageResponse:
            totals = await generations.key_usage(
                tx,
                self.runtime,
                caller,
                key_id=request.key_id,
                since=wire.optional_time(request, "since"),
            )
            response = provider_pb2.GetKeyUsageResponse(
                key_id=request.key_id,
                requests=totals.requests,
                succeeded=totals.succeeded,
                failed=totals.failed,
                input_tokens=totals.input_tokens,
                output_tokens=totals.output_tokens,
                charged_micros=totals.charged_micros,
            )
            if totals.last_generation_at is not None:
                response.last_generation_at.CopyFrom(wire.timestamp(totals.last_generation_at))
            return response

        return await self._read(context, body)

    # -- BYOK provider keys ----------------------------------------------------------------------

    async def CreateProviderKey(
        self, request: provider_pb2.CreateProviderKeyRequest, context: grpc.aio.ServicerContext
    ) -> provider_pb2.CreateProviderKeyResponse:
        provider = wire.from_wire(request.provider, wire.PROVIDERS, field="provider")
        scope = wire.from_wire(request.scope, wire.SCOPES, field="scope")
        # The replay log keeps a digest of the request; the secret enters it only as an HMAC
        # under a key provider alone holds, so the log holds nothing to test guesses against.
        digest_request = provider_pb2.CreateProviderKeyRequest()
        digest_request.CopyFrom(request)
        digest_request.secret = hmac.new(
            self.runtime.digest_key, request.secret.encode(), hashlib.sha256
        ).hexdigest()

        async def body(
            tx: AsyncConnection, caller: Caller
        ) -> provider_pb2.CreateProviderKeyResponse:
            try:
                created = await provider_keys.create_key(
                    tx,
                    self.runtime,
                    caller,
                    provider=provider,
                    secret=request.secret,
                    scope=scope,
                    always_use=request.always_use,
                    label=request.label,
                    replace_existing=request.replace_existing,
                )
            except Invalid as error:
                raise wire.invalid(error) from None
            return provider_pb2.CreateProviderKeyResponse(
                provider_key=wire.provider_key(created.key),
                replaced_provider_key_id=str(created.replaced_key_id or ""),
            )

        return await self._mutate(
            context,
            method="CreateProviderKey",
            request=request,
            response_type=provider_pb2.CreateProviderKeyResponse,
            body=body,
            digest_request=digest_request,
        )

    async def ListProviderKeys(
        self, request: provider_pb2.ListProviderKeysRequest, context: grpc.aio.ServicerContext
    ) -> provider_pb2.ListProviderKeysResponse:
        scope = wire.optional_from_wire(request.scope, wire.SCOPES, field="scope")

        async def body(
            tx: AsyncConnection, caller: Caller
        ) -> provider_pb2.ListProviderKeysResponse:
            try:
                page = await provider_keys.list_keys(
                    tx,
                    self.runtime,
                    caller,
                    requested_page_size=request.page_size,
                    page_token=request.page_token,
                    scope=scope,
                )
            except Invalid as error:
                raise wire.invalid(error) from None
            return provider_pb2.ListProviderKeysResponse(
                provider_keys=[wire.provider_key(item) for item in page.keys],
                next_page_token=page.next_page_token,
            )

        return await self._read(context, body)

    async def DeleteProviderKey(
        self, request: provider_pb2.DeleteProviderKeyRequest, context: grpc.aio.ServicerContext
    ) -> provider_pb2.DeleteProviderKeyResponse:
        try:
            key_id = canonical_uuid(
                request.provider_key_id, reason="FIELD_INVALID", field="provider_key_id"
            )
        except Invalid as error:
            raise wire.invalid(error) from None

        async def body(
            tx: AsyncConnection, caller: Caller
        ) -> provider_pb2.DeleteProviderKeyResponse:
            deleted = await provider_keys.delete_key(
                tx, self.runtime, caller, provider_key_id=key_id
            )
            assert deleted.deleted_at is not None
            return provider_pb2.DeleteProviderKeyResponse(
                provider_key_id=str(deleted.id), deleted_at=wire.timestamp(deleted.deleted_at)
            )

        return await self._mutate(
            context,
            method="DeleteProviderKey",
            request=request,
            response_type=provider_pb2.DeleteProviderKeyResponse,
            body=body,
        )

    # -- operator levers -------------------------------------------------------------------------

    async def RotateKek(
        self, request: provider_pb2.RotateKekRequest, context: grpc.aio.ServicerContext
    ) -> provider_pb2.RotateKekResponse:
        async def body(tx: AsyncConnection, caller: Caller) -> provider_pb2.RotateKekResponse:
            rotation = await provider_keys.rotate_kek(
                tx,
                self.runtime,
                caller,
                target_version=request.target_kek_version,
                max_keys=request.max_keys,
            )
            return provider_pb2.RotateKekResponse(
                target_kek_version=rotation.target_version,
                rewrapped=rotation.rewrapped,
                already_current=rotation.already_current,
                failed=len(rotation.failed_ids),
                failed_provider_key_ids=[
                    str(item) for item in rotation.failed_ids[: provider_keys.FAILED_IDS_SHOWN]
                ],
                remaining=rotation.remaining,
                keys_by_version=[
                    provider_pb2.KekVersionCount(kek_version=version, key_count=count)
                    for version, count in sorted(rotation.keys_by_version.items())
                ],
            )

        return await self._mutate(
            context,
            method="RotateKek",
            request=request,
            response_type=provider_pb2.RotateKekResponse,
            body=body,
        )

    async def ListUnsettled(
        self, request: provider_pb2.ListUnsettledRequest, context: grpc.aio.ServicerContext
    ) -> provider_pb2.ListUnsettledResponse:
        older_than = wire.optional_duration(request, "older_than")

        async def body(tx: AsyncConnection, caller: Caller) -> provider_pb2.ListUnsettledResponse:
            page = await generations.list_unsettled(
                tx,
                self.runtime,
                caller,
                requested_page_size=request.page_size,
                page_token=request.page_token,
                older_than=older_than,
            )
            return provider_pb2.ListUnsettledResponse(
                generations=[wire.generation(item) for item in page.generations],
                next_page_token=page.next_page_token,
                total_unsettled=page.total,
            )

        return await self._read(context, body)

    async def SettlePending(
        self, request: provider_pb2.SettlePendingRequest, context: grpc.aio.ServicerContext
    ) -> provider_pb2.SettlePendingResponse:
        caller = await verify(self.runtime, context)
        caller.require("operator")

        async def body(tx: AsyncConnection, verified: Caller) -> provider_pb2.SettlePendingResponse:
            outcomes, remaining = await generations.settle_pending(
                self.runtime,
                verified,
                generation_ids=list(request.generation_ids),
                limit=request.limit,
            )
            return provider_pb2.SettlePendingResponse(
                outcomes=[_outcome(item) for item in outcomes],
                remaining_unsettled=remaining,
            )

        return await self._mutate(
            context,
            caller=caller,
            method="SettlePending",
            request=request,
            response_type=provider_pb2.SettlePendingResponse,
            body=body,
        )


def _outcome(item: generations.Outcome) -> provider_pb2.SettlementOutcome:
    generation = item.generation
    if generation is None:
        return provider_pb2.SettlementOutcome(
            generation_id=str(item.generation_id),
            settlement_status=provider_pb2.SETTLEMENT_STATUS_PENDING,
            error_reason=item.error_reason,
        )
    return provider_pb2.SettlementOutcome(
        generation_id=str(generation.id),
        settlement_status=wire.SETTLEMENT_STATUSES[generation.settlement_status],  # type: ignore[arg-type]
        charged_micros=generation.charged_micros,
        shortfall_micros=generation.shortfall_micros,
        error_reason=item.error_reason,
    )


def _stream_message(
    message: inference.StreamMessage, *, model: str
) -> provider_pb2.StreamChatCompletionResponse:
    if isinstance(message, inference.StreamChunk):
        return provider_pb2.StreamChatCompletionResponse(
            chunk=provider_pb2.StreamChunk(data=message.data)
        )
    generation = message.generation
    if isinstance(message, inference.StreamStarted):
        return provider_pb2.StreamChatCompletionResponse(
            started=provider_pb2.StreamStarted(
                generation_id=str(generation.id),
                model=model,
                key_source=wire.KEY_SOURCES[generation.key_source],  # type: ignore[arg-type]
                created_at=wire.timestamp(generation.created_at),
            )
        )
    return provider_pb2.StreamChatCompletionResponse(
        finished=provider_pb2.StreamFinished(
            status=wire.GENERATION_STATUSES[generation.status],  # type: ignore[arg-type]
            usage=wire.usage(generation.usage),
            usage_source=(
                wire.USAGE_SOURCES[generation.usage_source]  # type: ignore[arg-type]
                if generation.usage_source
                else provider_pb2.USAGE_SOURCE_UNSPECIFIED
            ),
            charged_micros=generation.charged_micros,
            model_served=generation.model_served,
            settlement_status=wire.SETTLEMENT_STATUSES[generation.settlement_status],  # type: ignore[arg-type]
            error_reason=generation.error_reason or "",
        )
    )

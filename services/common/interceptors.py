"""The server and client interceptors every service installs.

Server (:class:`ServerInterceptor`), in this order for every RPC:

1. take the caller's ``x-request-id`` (or mint one) and bind it for logging;
2. check the calling peer service (mTLS certificate name) against the method's allowlist,
   refusing with PERMISSION_DENIED / ``PEER_NOT_ALLOWED`` before any handler code runs;
3. run the handler, turning a :class:`TokenMartError` into its status with
   ``google.rpc.ErrorInfo`` and anything unexpected into INTERNAL with no detail;
4. write one access-log line with method, peer, status code and duration.

Client (:class:`ClientInterceptor`): forwards the request id and puts a deadline on every call
that has none.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from services.common.errors import PeerNotAllowed, TokenMartError
from services.common.identity import PeerAllowlist, peer_service
from services.common.logging import (
    REQUEST_ID_METADATA_KEY,
    accept_request_id,
    bind_request_id,
    current_request_id,
    new_request_id,
    reset_request_id,
)
from services.common.status import error_domain, error_trailers

logger = logging.getLogger("tokenmart.rpc")

Behavior = Callable[..., Any]


def _metadata_value(metadata: Any, key: str) -> str | None:
    for item_key, value in metadata or ():
        if item_key == key:
            return value if isinstance(value, str) else None
    return None


class ServerInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, *, service: str, allowlist: PeerAllowlist) -> None:
        self.service = service
        self.allowlist = allowlist
        self.domain = error_domain(service)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method: str = handler_call_details.method
        request_id = accept_request_id(
            _metadata_value(handler_call_details.invocation_metadata, REQUEST_ID_METADATA_KEY)
        )
        handler = await continuation(handler_call_details)
        if handler is None or not self.allowlist.callers_of(method):
            # Unknown and unlisted methods look alike to every caller: refused, unless an
            # allowed peer calls a listed method that this server does not implement yet.
            return grpc.unary_unary_rpc_method_handler(
                self._missing(
                    method=method, request_id=request_id, always_refuse=handler is not None
                )
            )
        return _rewrap(
            handler,
            lambda behavior, streaming: self._guard(
                behavior, method=method, request_id=request_id, streaming=streaming
            ),
        )

    def _missing(self, *, method: str, request_id: str, always_refuse: bool) -> Behavior:
        async def refuse(request: Any, context: grpc.aio.ServicerContext) -> Any:
            token = bind_request_id(request_id)
            started = time.perf_counter()
            peer = peer_service(context)
            try:
                if always_refuse or not self.allowlist.allows(method, peer):
                    error: TokenMartError = PeerNotAllowed()
                    await self._abort(context, error)
                await context.abort(grpc.StatusCode.UNIMPLEMENTED, "method not implemented")
            finally:
                self._log(method=method, peer=peer, context=context, started=started)
                reset_request_id(token)

        return refuse

    def _guard(
        self, behavior: Behavior, *, method: str, request_id: str, streaming: bool
    ) -> Behavior:
        if streaming:

            async def guarded_stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
                token = bind_request_id(request_id)
                started = time.perf_counter()
                peer = peer_service(context)
                try:
                    await self._authorize(context, method=method, peer=peer)
                    result = behavior(request, context)
                    if inspect.isasyncgen(result):
                        async for item in result:
                            yield item
                    else:
                        await result
                except Exception as error:  # noqa: BLE001 - mapped in one place
                    await self._handle(context, error, method=method)
                finally:
                    self._log(method=method, peer=peer, context=context, started=started)
                    reset_request_id(token)

            return guarded_stream

        async def guarded(request: Any, context: grpc.aio.ServicerContext) -> Any:
            token = bind_request_id(request_id)
            started = time.perf_counter()
            peer = peer_service(context)
            try:
                await self._authorize(context, method=method, peer=peer)
                return await behavior(request, context)
            except Exception as error:  # noqa: BLE001 - mapped in one place
                await self._handle(context, error, method=method)
            finally:
                self._log(method=method, peer=peer, context=context, started=started)
                reset_request_id(token)

        return guarded

    async def _authorize(
        self, context: grpc.aio.ServicerContext, *, method: str, peer: str | None
    ) -> None:
        if not self.allowlist.allows(method, peer):
            raise PeerNotAllowed()

    async def _handle(
        self, context: grpc.aio.ServicerContext, error: Exception, *, method: str
    ) -> None:
        if isinstance(error, grpc.aio.AbortError):
            raise error
        if isinstance(error, TokenMartError):
            await self._abort(context, error)
        logger.error("unexpected error in %s", method, exc_info=error)
        await context.abort(grpc.StatusCode.INTERNAL, "internal error")

    async def _abort(self, context: grpc.aio.ServicerContext, error: TokenMartError) -> None:
        await context.abort(
            error.code,
            error.message,
            trailing_metadata=error_trailers(
                code=error.code,
                message=error.message,
                reason=error.reason,
                domain=self.domain,
                metadata=error.metadata,
            ),
        )

    def _log(
        self,
        *,
        method: str,
        peer: str | None,
        context: grpc.aio.ServicerContext,
        started: float,
    ) -> None:
        code = context.code()
        code_name = code.name if isinstance(code, grpc.StatusCode) else "OK"
        logger.info(
            "rpc",
            extra={
                "method": method,
                "peer": peer or "unauthenticated",
                "code": code_name,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            },
        )


def _rewrap(
    handler: grpc.RpcMethodHandler, guard: Callable[[Behavior, bool], Behavior]
) -> grpc.RpcMethodHandler:
    """The same handler with its behaviour wrapped by ``guard``."""
    serializers = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(guard(handler.unary_unary, False), **serializers)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(
            guard(handler.unary_stream, True), **serializers
        )
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(
            guard(handler.stream_unary, False), **serializers
        )
    assert handler.stream_stream, "a handler has exactly one behaviour"
    return grpc.stream_stream_rpc_method_handler(guard(handler.stream_stream, True), **serializers)


def _with_request_id(details: grpc.aio.ClientCallDetails, default_timeout_s: float) -> Any:
    metadata = grpc.aio.Metadata()
    for key, value in details.metadata or ():
        if key != REQUEST_ID_METADATA_KEY:
            metadata.add(key, value)
    metadata.add(REQUEST_ID_METADATA_KEY, current_request_id() or new_request_id())
    return grpc.aio.ClientCallDetails(
        method=details.method,
        timeout=details.timeout if details.timeout is not None else default_timeout_s,
        metadata=metadata,
        credentials=details.credentials,
        wait_for_ready=details.wait_for_ready,
    )


class _UnaryUnary(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    def __init__(self, default_timeout_s: float) -> None:
        self.default_timeout_s = default_timeout_s

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(_with_request_id(details, self.default_timeout_s), request)


class _UnaryStream(grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
    def __init__(self, default_timeout_s: float) -> None:
        self.default_timeout_s = default_timeout_s

    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(_with_request_id(details, self.default_timeout_s), request)


def client_interceptors(default_timeout_s: float) -> list[grpc.aio.ClientInterceptor]:
    return [_UnaryUnary(default_timeout_s), _UnaryStream(default_timeout_s)]

"""The server and client interceptors every service installs.

Server (:class:`ServerInterceptor`), in this order for every RPC:

1. take the caller's ``x-request-id`` (or mint one) and W3C ``traceparent`` (a span of this hop
   under it, or a new trace), and bind both for logging and for the calls this RPC makes;
2. check the calling peer service (mTLS certificate name) against the method's allowlist,
   refusing with PERMISSION_DENIED / ``PEER_NOT_ALLOWED`` before any handler code runs;
3. run the handler, turning a :class:`TokenMartError` into its status with
   ``google.rpc.ErrorInfo`` and anything unexpected into INTERNAL with no detail;
4. write one access-log line with method, peer, status code and duration, and record the RPC in
   :class:`~services.common.metrics.GrpcServerMetrics` (count by code, errors by reason, latency).

Client (the interceptors of :func:`client_interceptors`): forwards the request id and a child span
of the bound trace, puts a deadline on every call that has none, and records each call's status
and latency in :class:`~services.common.metrics.GrpcClientMetrics`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
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
from services.common.metrics import UNKNOWN_METHOD, GrpcClientMetrics, GrpcServerMetrics
from services.common.status import error_domain, error_trailers
from services.common.tracing import (
    TRACEPARENT_KEY,
    Trace,
    bind_trace,
    outgoing_traceparent,
    reset_trace,
)

logger = logging.getLogger("tokenmart.rpc")

Behavior = Callable[..., Any]


def _call_headers(metadata: Any) -> tuple[str | None, str | None]:
    """The caller's request id and traceparent from the invocation metadata (one pass)."""
    request_id: str | None = None
    traceparent: str | None = None
    for key, value in metadata or ():
        if key == REQUEST_ID_METADATA_KEY and request_id is None and isinstance(value, str):
            request_id = value
        elif key == TRACEPARENT_KEY and traceparent is None and isinstance(value, str):
            traceparent = value
    return request_id, traceparent


def _reason_of(error: BaseException) -> str | None:
    """The ErrorInfo reason an exception becomes, when it carries one."""
    return error.reason if isinstance(error, TokenMartError) else None


class ServerInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(
        self,
        *,
        service: str,
        allowlist: PeerAllowlist,
        metrics: GrpcServerMetrics | None = None,
    ) -> None:
        self.service = service
        self.allowlist = allowlist
        self.domain = error_domain(service)
        self.metrics = metrics

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method: str = handler_call_details.method
        raw_request_id, traceparent = _call_headers(handler_call_details.invocation_metadata)
        request_id = accept_request_id(raw_request_id)
        trace = Trace.child_of(traceparent)
        handler = await continuation(handler_call_details)
        if handler is None or not self.allowlist.callers_of(method):
            # Unknown and unlisted methods look alike to every caller: refused, unless an
            # allowed peer calls a listed method that this server does not implement yet.
            return grpc.unary_unary_rpc_method_handler(
                self._missing(
                    method=method,
                    # A method nobody serves is named by the caller: never a label.
                    label=method if handler is not None else UNKNOWN_METHOD,
                    request_id=request_id,
                    trace=trace,
                    always_refuse=handler is not None,
                )
            )
        return _rewrap(
            handler,
            lambda behavior, streaming: self._guard(
                behavior, method=method, request_id=request_id, trace=trace, streaming=streaming
            ),
        )

    def _missing(
        self, *, method: str, label: str, request_id: str, trace: Trace, always_refuse: bool
    ) -> Behavior:
        async def refuse(request: Any, context: grpc.aio.ServicerContext) -> Any:
            token = bind_request_id(request_id)
            trace_token = bind_trace(trace)
            started = time.perf_counter()
            peer = peer_service(context)
            reason: str | None = None
            try:
                if always_refuse or not self.allowlist.allows(method, peer):
                    error: TokenMartError = PeerNotAllowed()
                    reason = error.reason
                    await self._abort(context, error)
                await context.abort(grpc.StatusCode.UNIMPLEMENTED, "method not implemented")
            finally:
                self._finish(
                    method=method,
                    label=label,
                    peer=peer,
                    context=context,
                    started=started,
                    reason=reason,
                    cancelled=False,
                )
                reset_trace(trace_token)
                reset_request_id(token)

        return refuse

    def _guard(
        self, behavior: Behavior, *, method: str, request_id: str, trace: Trace, streaming: bool
    ) -> Behavior:
        if streaming:

            async def guarded_stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
                token = bind_request_id(request_id)
                trace_token = bind_trace(trace)
                started = time.perf_counter()
                peer = peer_service(context)
                reason: str | None = None
                cancelled = False
                try:
                    await self._authorize(context, method=method, peer=peer)
                    result = behavior(request, context)
                    if inspect.isasyncgen(result):
                        async for item in result:
                            yield item
                    else:
                        await result
                except asyncio.CancelledError:
                    cancelled = True
                    raise
                except Exception as error:  # noqa: BLE001 - mapped in one place
                    reason = _reason_of(error)
                    await self._handle(context, error, method=method)
                finally:
                    self._finish(
                        method=method,
                        label=method,
                        peer=peer,
                        context=context,
                        started=started,
                        reason=reason,
                        cancelled=cancelled,
                    )
                    reset_trace(trace_token)
                    reset_request_id(token)

            return guarded_stream

        async def guarded(request: Any, context: grpc.aio.ServicerContext) -> Any:
            token = bind_request_id(request_id)
            trace_token = bind_trace(trace)
            started = time.perf_counter()
            peer = peer_service(context)
            reason: str | None = None
            cancelled = False
            try:
                await self._authorize(context, method=method, peer=peer)
                return await behavior(request, context)
            except asyncio.CancelledError:
                cancelled = True
                raise
            except Exception as error:  # noqa: BLE001 - mapped in one place
                reason = _reason_of(error)
                await self._handle(context, error, method=method)
            finally:
                self._finish(
                    method=method,
                    label=method,
                    peer=peer,
                    context=context,
                    started=started,
                    reason=reason,
                    cancelled=cancelled,
                )
                reset_trace(trace_token)
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

    def _finish(
        self,
        *,
        method: str,
        label: str,
        peer: str | None,
        context: grpc.aio.ServicerContext,
        started: float,
        reason: str | None,
        cancelled: bool,
    ) -> None:
        """The access-log line and the metrics of one finished RPC."""
        elapsed_s = time.perf_counter() - started
        code = context.code()
        if isinstance(code, grpc.StatusCode):
            code_name = code.name
        else:
            # The caller went away (or the deadline passed) before any status was set.
            code_name = "CANCELLED" if cancelled else "OK"
        logger.info(
            "rpc",
            extra={
                "method": method,
                "peer": peer or "unauthenticated",
                "code": code_name,
                "duration_ms": round(elapsed_s * 1000, 3),
            },
        )
        if self.metrics is not None:
            self.metrics.observe(method=label, code=code_name, reason=reason, elapsed_s=elapsed_s)


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


_FORWARDED_KEYS = frozenset({REQUEST_ID_METADATA_KEY, TRACEPARENT_KEY})


def _outgoing(details: grpc.aio.ClientCallDetails, default_timeout_s: float) -> Any:
    """The call with this context's request id, a child span of its trace, and a deadline."""
    metadata = grpc.aio.Metadata()
    for key, value in details.metadata or ():
        if key not in _FORWARDED_KEYS:
            metadata.add(key, value)
    metadata.add(REQUEST_ID_METADATA_KEY, current_request_id() or new_request_id())
    metadata.add(TRACEPARENT_KEY, outgoing_traceparent())
    return grpc.aio.ClientCallDetails(
        method=details.method,
        timeout=details.timeout if details.timeout is not None else default_timeout_s,
        metadata=metadata,
        credentials=details.credentials,
        wait_for_ready=details.wait_for_ready,
    )


def _method_name(method: bytes | str) -> str:
    return method.decode() if isinstance(method, bytes) else method


class _UnaryUnary(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    def __init__(self, default_timeout_s: float, metrics: GrpcClientMetrics | None) -> None:
        self.default_timeout_s = default_timeout_s
        self.metrics = metrics

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        outgoing = _outgoing(details, self.default_timeout_s)
        if self.metrics is None:
            return await continuation(outgoing, request)
        started = time.perf_counter()
        call = await continuation(outgoing, request)
        code = "UNKNOWN"
        try:
            # Waiting here (the caller's own await then finds the call done) is what lets the
            # status be recorded; the call itself is handed back unchanged, errors included.
            await call
            code = "OK"
        except grpc.aio.AioRpcError as error:
            code = error.code().name
        except asyncio.CancelledError:
            code = "CANCELLED"
            raise
        finally:
            self.metrics.observe(
                method=_method_name(outgoing.method),
                code=code,
                elapsed_s=time.perf_counter() - started,
            )
        return call


class _UnaryStream(grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
    def __init__(self, default_timeout_s: float, metrics: GrpcClientMetrics | None) -> None:
        self.default_timeout_s = default_timeout_s
        self.metrics = metrics
        # Status look-ups in flight (a done call answers at once; the set keeps them referenced).
        self._pending: set[asyncio.Task[None]] = set()

    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        outgoing = _outgoing(details, self.default_timeout_s)
        started = time.perf_counter()
        call = await continuation(outgoing, request)
        if self.metrics is not None:
            # A stream's caller reads it message by message: its status is known only when the
            # call is done, so it is recorded then.
            call.add_done_callback(partial(self._done, _method_name(outgoing.method), started))
        return call

    def _done(self, method: str, started: float, call: grpc.aio.Call) -> None:
        assert self.metrics is not None
        elapsed_s = time.perf_counter() - started
        if call.cancelled():
            self.metrics.observe(method=method, code="CANCELLED", elapsed_s=elapsed_s)
            return
        # The status of a done call is read with an await that returns at once.
        task = asyncio.ensure_future(self._observe(call, method=method, elapsed_s=elapsed_s))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _observe(self, call: grpc.aio.Call, *, method: str, elapsed_s: float) -> None:
        assert self.metrics is not None
        code = (await call.code()).name
        self.metrics.observe(method=method, code=code, elapsed_s=elapsed_s)


def client_interceptors(
    default_timeout_s: float, metrics: GrpcClientMetrics | None = None
) -> list[grpc.aio.ClientInterceptor]:
    """The interceptors of a channel: ids, trace context and deadline on every call, and the
    call's status and latency in ``metrics`` when given."""
    return [_UnaryUnary(default_timeout_s, metrics), _UnaryStream(default_timeout_s, metrics)]

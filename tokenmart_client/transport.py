"""Channels and the call loop: mTLS, deadlines, retries, tokens, and error mapping.

One :class:`Transport` holds one channel per service (opened on first use, inside the running
event loop, as ``grpc.aio`` requires) and runs every call:

1. the request gets its ``request_id`` if it has that field and the caller left it empty, once,
   so every attempt sends the very same bytes (the server's replay check compares them);
2. the call's deadline is fixed up front (the call's ``timeout_s``, else the method's, else the
   client's default); every attempt, token fetches included, fits inside it;
3. each attempt carries ``x-request-id`` (one correlation id per logical call), ``traceparent``
   (one trace per logical call, a new span per attempt) and, unless the method takes no token,
   ``authorization: Bearer <token>``;
4. a failure becomes a :class:`TokenMartError`; a rejected token is replaced once; a retryable
   failure (see :mod:`tokenmart_client.policy`) is retried after the backoff while attempts and
   deadline allow;
5. the finished call is reported to the ``on_call`` observer as a :class:`CallRecord`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import secrets
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import grpc
from google.protobuf.message import Message

from tokenmart_client.config import AttemptRecord, CallRecord, ClientConfig, TlsFiles
from tokenmart_client.errors import CLIENT_DOMAIN, ClientConfigError, TokenMartError
from tokenmart_client.policy import (
    REQUEST_ID_FIELD,
    TOKEN_REJECTED_REASONS,
    MethodSpec,
    RetryClass,
    RetryPolicy,
    is_retryable,
)
from tokenmart_client.tokens import TokenSource

logger = logging.getLogger("tokenmart_client")

AUTHORIZATION_KEY = "authorization"
REQUEST_ID_KEY = "x-request-id"
TRACEPARENT_KEY = "traceparent"

CallObserver = Callable[[CallRecord], None]


def new_request_id() -> str:
    """A request_id as the services require: a canonical lowercase UUID (v4)."""
    return str(uuid.uuid4())


def _new_span_id() -> str:
    span = os.urandom(8).hex()
    return span if span != "0" * 16 else _new_span_id()


def _new_trace_id() -> str:
    trace = os.urandom(16).hex()
    return trace if trace != "0" * 32 else _new_trace_id()


class Transport:
    """The channels of one client identity and the loop every call runs through."""

    def __init__(
        self,
        *,
        targets: Mapping[str, str],
        tls: TlsFiles,
        config: ClientConfig,
        on_call: CallObserver | None = None,
        uniform: Callable[[float, float], float] | None = None,
    ) -> None:
        self._targets = dict(targets)
        self._ca, self._cert, self._key = tls.read()
        self.config = config
        self._on_call = on_call
        self._uniform = uniform or random.SystemRandom().uniform
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._callables: dict[str, Any] = {}
        self._closed = False

    # -- channels ------------------------------------------------------------------------------

    def channel(self, service: str) -> grpc.aio.Channel:
        """The channel to ``service``, opened on first use."""
        if self._closed:
            raise ClientConfigError("CLIENT_CLOSED", "the client was closed")
        channel = self._channels.get(service)
        if channel is None:
            target = self._targets.get(service)
            if not target:
                raise ClientConfigError(
                    "TARGET_NOT_CONFIGURED", f"no target is configured for service {service!r}"
                )
            channel = self._open(service, target)
            self._channels[service] = channel
        return channel

    def _open(self, service: str, target: str) -> grpc.aio.Channel:
        config = self.config
        credentials = grpc.ssl_channel_credentials(
            root_certificates=self._ca, private_key=self._key, certificate_chain=self._cert
        )
        options: list[tuple[str, Any]] = [
            # Accept only a certificate issued to the service we mean to reach, whatever the
            # address: another service's certificate from the same CA cannot stand in for it.
            ("grpc.ssl_target_name_override", service),
            ("grpc.default_authority", service),
            ("grpc.keepalive_time_ms", int(config.keepalive_time_s * 1000)),
            ("grpc.keepalive_timeout_ms", int(config.keepalive_timeout_s * 1000)),
            ("grpc.max_send_message_length", config.max_message_bytes),
            ("grpc.max_receive_message_length", config.max_message_bytes),
            ("grpc.initial_reconnect_backoff_ms", int(config.reconnect_backoff_initial_s * 1000)),
            ("grpc.min_reconnect_backoff_ms", int(config.reconnect_backoff_initial_s * 1000)),
            ("grpc.max_reconnect_backoff_ms", int(config.reconnect_backoff_max_s * 1000)),
        ]
        return grpc.aio.secure_channel(target, credentials, options=options)

    async def close(self) -> None:
        self._closed = True
        channels, self._channels = list(self._channels.values()), {}
        self._callables.clear()
        for channel in channels:
            await channel.close()

    def _callable(self, spec: MethodSpec) -> Any:
        found = self._callables.get(spec.path)
        if found is None:
            channel = self.channel(spec.service)
            factory = channel.unary_stream if spec.server_streaming else channel.unary_unary
            found = factory(
                spec.path,
                request_serializer=spec.request_type.SerializeToString,
                response_deserializer=spec.response_type.FromString,
            )
            self._callables[spec.path] = found
        return found

    # -- calls ---------------------------------------------------------------------------------

    @staticmethod
    def prepare(spec: MethodSpec, request: Message) -> tuple[Message, str | None]:
        """The request to send on every attempt, with its request_id filled in once."""
        if not isinstance(request, spec.request_type):
            raise TypeError(f"{spec.key} takes {spec.request_type.__name__}")
        if not spec.has_request_id:
            return request, None
        request_id = getattr(request, REQUEST_ID_FIELD)
        if request_id:
            return request, str(request_id)
        filled = spec.request_type()
        filled.CopyFrom(request)
        request_id = new_request_id()
        setattr(filled, REQUEST_ID_FIELD, request_id)
        return filled, request_id

    async def unary(
        self,
        spec: MethodSpec,
        request: Message,
        *,
        tokens: TokenSource | None,
        retry: RetryPolicy,
        timeout_s: float | None,
    ) -> Message:
        """Run one unary call to completion (see the module docstring)."""
        assert not spec.server_streaming
        request, idempotency_key = self.prepare(spec, request)
        loop = asyncio.get_running_loop()
        started = loop.time()
        call = _Call(
            spec=spec,
            idempotency_key=idempotency_key,
            deadline=started
            + (timeout_s if timeout_s is not None else self.config.timeout_for(spec.key)),
        )
        try:
            return await self._attempts(call, request, tokens=tokens, retry=retry)
        finally:
            self._report(call, duration_s=loop.time() - started)

    async def _attempts(
        self,
        call: _Call,
        request: Message,
        *,
        tokens: TokenSource | None,
        retry: RetryPolicy,
    ) -> Message:
        spec = call.spec
        loop = asyncio.get_running_loop()
        send = self._callable(spec)
        token_replaced = False
        retries = 0
        while True:
            remaining = call.deadline - loop.time()
            if remaining <= 0:
                raise call.deadline_error()
            metadata = call.metadata()
            token = None
            if spec.needs_token and tokens is not None:
                token = await tokens.token(timeout_s=remaining)
                metadata.append((AUTHORIZATION_KEY, f"Bearer {token}"))
                remaining = call.deadline - loop.time()
                if remaining <= 0:
                    raise call.deadline_error()
            attempt_timeout = remaining
            if retry.attempt_timeout_s is not None and spec.retry_class is RetryClass.READ:
                # Only a read may be cut short and sent again; a mutation gets the whole
                # deadline, since a resend after DEADLINE_EXCEEDED is not automatic for it.
                attempt_timeout = min(remaining, retry.attempt_timeout_s)
            try:
                response: Message = await send(request, timeout=attempt_timeout, metadata=metadata)
            except grpc.aio.AioRpcError as rpc_error:
                error = call.failed(rpc_error)
                if (
                    token is not None
                    and tokens is not None
                    and tokens.refreshable
                    and not token_replaced
                    and error.code is grpc.StatusCode.UNAUTHENTICATED
                    and error.reason in TOKEN_REJECTED_REASONS
                ):
                    # The service refused before acting: nothing happened, so sending again with
                    # a new token is safe for every method.
                    token_replaced = True
                    tokens.invalidate(token)
                    continue
                timed_out_early = (
                    error.code is grpc.StatusCode.DEADLINE_EXCEEDED and attempt_timeout < remaining
                )
                retries += 1
                if retries >= retry.max_attempts or not is_retryable(
                    spec, error, attempt_timed_out=timed_out_early
                ):
                    raise error from None
                delay = retry.backoff_s(retries, self._uniform)
                if loop.time() + delay >= call.deadline:
                    raise error from None
                logger.debug(
                    "retrying %s after %s (attempt %d, waiting %.3f s)",
                    spec.path,
                    error.code.name,
                    len(call.attempts),
                    delay,
                    extra={"correlation_id": call.correlation_id},
                )
                await asyncio.sleep(delay)
                continue
            call.attempts.append(AttemptRecord(grpc.StatusCode.OK, None))
            return response

    def _report(self, call: _Call, *, duration_s: float) -> None:
        if self._on_call is not None:
            self._on_call(
                CallRecord(
                    method=call.spec.path,
                    correlation_id=call.correlation_id,
                    trace_id=call.trace_id,
                    idempotency_key=call.idempotency_key,
                    attempts=tuple(call.attempts),
                    duration_s=duration_s,
                )
            )

    async def stream(
        self,
        spec: MethodSpec,
        request: Message,
        *,
        tokens: TokenSource | None,
        timeout_s: float | None,
    ) -> AsyncIterator[Message]:
        """Run one server-streaming call; never retried once sent, except that a token refused
        before the first message is replaced once (nothing was streamed or billed)."""
        assert spec.server_streaming
        request, idempotency_key = self.prepare(spec, request)
        loop = asyncio.get_running_loop()
        started = loop.time()
        call = _Call(
            spec=spec,
            idempotency_key=idempotency_key,
            deadline=started
            + (timeout_s if timeout_s is not None else self.config.timeout_for(spec.key)),
        )
        open_stream = self._callable(spec)
        token_replaced = False
        try:
            while True:
                remaining = call.deadline - loop.time()
                if remaining <= 0:
                    raise call.deadline_error()
                metadata = call.metadata()
                token = None
                if spec.needs_token and tokens is not None:
                    token = await tokens.token(timeout_s=remaining)
                    metadata.append((AUTHORIZATION_KEY, f"Bearer {token}"))
                remaining = max(call.deadline - loop.time(), 0.0)
                responses = open_stream(request, timeout=remaining, metadata=metadata)
                received = 0
                try:
                    async for message in responses:
                        received += 1
                        yield message
                except grpc.aio.AioRpcError as rpc_error:
                    error = call.failed(rpc_error)
                    if (
                        received == 0
                        and token is not None
                        and tokens is not None
                        and tokens.refreshable
                        and not token_replaced
                        and error.code is grpc.StatusCode.UNAUTHENTICATED
                        and error.reason in TOKEN_REJECTED_REASONS
                    ):
                        token_replaced = True
                        tokens.invalidate(token)
                        continue
                    raise error from None
                finally:
                    responses.cancel()
                call.attempts.append(AttemptRecord(grpc.StatusCode.OK, None))
                return
        finally:
            self._report(call, duration_s=loop.time() - started)


class _Call:
    """One logical call's identity and history across its attempts."""

    def __init__(self, *, spec: MethodSpec, idempotency_key: str | None, deadline: float) -> None:
        self.spec = spec
        self.idempotency_key = idempotency_key
        self.deadline = deadline
        self.correlation_id = secrets.token_hex(12)
        self.trace_id = _new_trace_id()
        self.attempts: list[AttemptRecord] = []

    def metadata(self) -> list[tuple[str, str]]:
        """One attempt's metadata: the call's correlation id, and a new span of its trace."""
        return [
            (REQUEST_ID_KEY, self.correlation_id),
            (TRACEPARENT_KEY, f"00-{self.trace_id}-{_new_span_id()}-01"),
        ]

    def failed(self, rpc_error: grpc.aio.AioRpcError) -> TokenMartError:
        """Record a failed attempt and return its error."""
        error = TokenMartError.from_rpc_error(
            rpc_error,
            method=self.spec.path,
            attempts=len(self.attempts) + 1,
            correlation_id=self.correlation_id,
            idempotency_key=self.idempotency_key,
        )
        self.attempts.append(AttemptRecord(error.code, error.reason))
        return error

    def deadline_error(self) -> TokenMartError:
        """The call's deadline passed between attempts (or while fetching a token)."""
        return TokenMartError(
            code=grpc.StatusCode.DEADLINE_EXCEEDED,
            message="the call's deadline passed before it could be sent again",
            reason="DEADLINE_EXCEEDED_BEFORE_SEND",
            domain=CLIENT_DOMAIN,
            method=self.spec.path,
            attempts=len(self.attempts),
            correlation_id=self.correlation_id,
            idempotency_key=self.idempotency_key,
        )

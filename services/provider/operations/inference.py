"""Inference: from the client's body to the response, with hold -> call -> capture -> release.

For every request, in this order:

1. **Plan** (nothing written yet): parse and check the body; the model must be in the active
   registry and allowed for the key; the output limit is the client's, clamped to the model's;
   the input is over-estimated (``domain/requests.py``); the key chain is agent BYOK -> account
   BYOK -> platform (``domain/provider_keys.py``).
2. **Record** the generation (before anything is held, so no hold can exist that nobody
   settles). The (caller, request_id) pair is unique: a replayed request id is GENERATION_EXISTS
   and is neither called nor charged again.
3. For each key of the chain: decrypt it (a failure is an error, never a switch to another
   key); **hold** the worst case through wallet with the user's token (a refusal means nothing was
   held and upstream is not called); **call** upstream. If upstream refuses a BYOK key that is not
   ``always_use`` before producing anything, the hold is released and the next key is tried.
4. **Record the outcome** (status, usage, price, charge) durably, then **capture** the charge
   (PostHold) or **release** the hold (VoidHold) with ids derived from the generation id
   (``operations/settlement.py``). A crash anywhere is settled by the re-driver, exactly once.

The work of a request runs in a background task of the runtime, not in the RPC's task: a client
that goes away cancels only its wait. A cancelled non-streaming request is still completed and
billed by reported usage (upstream produced it); a cancelled stream stops reading upstream (which
stops the generation) and bills the output produced so far.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.errors import TokenMartError
from services.common.idempotency import validate_request_id
from services.common.tokens import AccessTokenExpired, AccessTokenInvalid
from services.provider import errors
from services.provider.clients.wallet import HoldOutcomeUnknown, SettlementUnavailable
from services.provider.domain import requests as request_rules
from services.provider.domain.billing import (
    Estimate,
    Prices,
    Usage,
    UsageSource,
    charge_micros,
    counted_usage,
    hold_micros,
    price_micros,
)
from services.provider.domain.envelope import DecryptionFailed
from services.provider.domain.generations import (
    Generation,
    GenerationStatus,
    SettlementStatus,
    derived_id,
    hold_id,
    void_transfer_id,
)
from services.provider.domain.provider_keys import KeyChoice, ProviderKey, key_chain
from services.provider.domain.registry import Model
from services.provider.domain.requests import ClientRequest, Dialect
from services.provider.domain.sse import SseParser, SseTooLarge
from services.provider.domain.streaming import (
    StreamAccount,
    StreamDecodeError,
    decoder_for,
    renderer_for,
)
from services.provider.domain.translate import (
    ResponseIdentity,
    UpstreamResponseInvalid,
    UpstreamTarget,
    parse_completion,
    render_response,
    upstream_body,
    upstream_dialect,
)
from services.provider.domain.validation import Invalid
from services.provider.operations.access import Caller, require_inference
from services.provider.operations.runtime import Runtime
from services.provider.operations.settlement import settle
from services.provider.store import generations as generation_store
from services.provider.store import provider_keys as key_store
from services.provider.store import registry as registry_store
from services.provider.upstream.adapters import PreparedCall, UpstreamStreamBroken, sanitise

logger = logging.getLogger("tokenmart.provider.inference")

R = TypeVar("R")
KEY_LAST_USED_RESOLUTION_S = 60
STREAM_QUEUE_SIZE = 64
CANCELLED = "CANCELLED"
INTERNAL = "INTERNAL"
_ANTHROPIC_ERROR_TYPES = frozenset(
    {
        "invalid_request_error",
        "authentication_error",
        "permission_error",
        "not_found_error",
        "rate_limit_error",
        "api_error",
        "overloaded_error",
    }
)
_STREAM_ERROR_REASONS = {
    "rate_limit_error": "UPSTREAM_RATE_LIMITED",
    "rate_limit_exceeded": "UPSTREAM_RATE_LIMITED",
    "authentication_error": "UPSTREAM_AUTH_FAILED",
    "invalid_request_error": "UPSTREAM_BAD_REQUEST",
}


# -- 1 and 2. plan and record -------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    request: ClientRequest
    model: Model
    prices: Prices
    estimate: Estimate
    chain: tuple[KeyChoice, ...]
    upstream_body: dict[str, Any]
    """What upstream receives (built, and so checked, before anything is recorded or held)."""


def _parse(
    runtime: Runtime,
    caller: Caller,
    *,
    dialect: Dialect,
    body: bytes,
    model_field: str,
    streaming: bool,
) -> ClientRequest:
    """The checks that need nothing but the request itself."""
    require_inference(caller)
    try:
        request = request_rules.parse(dialect, body, max_body_bytes=runtime.settings.max_body_bytes)
    except Invalid as invalid:
        raise errors.from_invalid(invalid.reason, invalid.message, invalid.metadata) from None
    if model_field != request.model:
        raise errors.ModelMismatch()
    if request.stream != streaming:
        raise errors.StreamFlagMismatch()
    return request


def _plan(
    runtime: Runtime,
    caller: Caller,
    request: ClientRequest,
    model: Model,
    keys: tuple[ProviderKey | None, ProviderKey | None],
    *,
    streaming: bool,
) -> Plan:
    """What the request will cost at worst, which keys may serve it, what upstream receives."""
    spec = model.spec
    limits = caller.principal.key_limits
    if limits is not None and limits.allowed_models and spec.model_id not in limits.allowed_models:
        raise errors.ModelNotAllowed()
    if streaming and not spec.supports_streaming:
        raise errors.CapabilityNotSupported("streaming")
    if request.uses_tools and not spec.supports_tools:
        raise errors.CapabilityNotSupported("tools")
    if request.image_count and not spec.supports_vision:
        raise errors.CapabilityNotSupported("vision")
    if request.typical_input_tokens() > spec.context_length:
        raise errors.ContextLengthExceeded()
    billing = runtime.settings.billing
    estimate = Estimate(
        # Upstream refuses more input than the context holds, so the hold need not cover more.
        input_tokens=min(
            request.input_estimate(
                bytes_per_token=billing.bytes_per_token_estimate,
                image_tokens=billing.image_token_estimate,
                message_overhead=billing.message_token_overhead,
            ),
            spec.context_length,
        ),
        max_output_tokens=min(
            request.requested_max_tokens or spec.max_output_tokens, spec.max_output_tokens
        ),
    )
    try:
        body_for_upstream = upstream_body(
            request,
            UpstreamTarget(
                provider=spec.provider.value,
                upstream_model=spec.upstream_model,
                max_output_tokens=estimate.max_output_tokens,
                stream=streaming,
            ),
        )
    except Invalid as invalid:
        raise errors.from_invalid(invalid.reason, invalid.message, invalid.metadata) from None
    chain = key_chain(
        agent_key=keys[0],
        account_key=keys[1],
        platform_key_configured=runtime.upstreams.platform_key(spec.provider) is not None,
    )
    if not chain:
        raise errors.NoProviderKey()
    return Plan(
        request=request,
        model=model,
        prices=Prices(input_micros=spec.input_price_micros, output_micros=spec.output_price_micros),
        estimate=estimate,
        chain=chain,
        upstream_body=body_for_upstream,
    )


def _hold_for(runtime: Runtime, planned: Plan, choice: KeyChoice) -> int:
    return hold_micros(
        planned.estimate,
        planned.prices,
        key_source=choice.source,
        fee_bps=runtime.settings.billing.byok_fee_bps,
    )


def _new_generation(
    runtime: Runtime, caller: Caller, planned: Plan, *, request_id: str, streamed: bool
) -> generation_store.NewGeneration:
    generation_id = uuid.uuid4()
    choice = planned.chain[0]
    held = _hold_for(runtime, planned, choice)
    agent_id = caller.agent_uuid
    key_id = caller.principal.key_id
    assert agent_id is not None and key_id is not None
    owner = caller.principal.agent_owner_account_id
    return generation_store.NewGeneration(
        id=generation_id,
        request_id=request_id,
        caller=caller.idempotency_key,
        agent_id=agent_id,
        key_id=uuid.UUID(key_id),
        owner_account_id=uuid.UUID(owner) if owner else None,
        dialect=planned.request.dialect,
        streamed=streamed,
        model_requested=planned.model.model_id,
        provider=planned.model.spec.provider,
        upstream_model=planned.model.spec.upstream_model,
        key_source=choice.source,
        provider_key_id=choice.provider_key.id if choice.provider_key else None,
        prices=planned.prices,
        fee_bps=runtime.settings.billing.byok_fee_bps,
        estimate_input_tokens=planned.estimate.input_tokens,
        max_output_tokens=planned.estimate.max_output_tokens,
        hold_id=hold_id(generation_id, 1) if held else None,
        held_micros=held,
        instance_id=runtime.instance_id,
        created_at=runtime.now(),
    )


async def start(
    runtime: Runtime,
    caller: Caller,
    *,
    dialect: Dialect,
    body: bytes,
    model_field: str,
    request_id: str,
    streaming: bool,
) -> tuple[Plan, Generation]:
    """Plan the request and record its generation, in one transaction (steps 1 and 2): a
    request refused by any rule writes nothing."""
    request = _parse(
        runtime, caller, dialect=dialect, body=body, model_field=model_field, streaming=streaming
    )
    agent_id = caller.agent_uuid
    assert agent_id is not None
    owner = caller.principal.agent_owner_account_id

    async def run(tx: AsyncConnection) -> tuple[Plan, Generation]:
        model = await registry_store.model_by_id(tx, request.model)
        if model is None or not model.spec.active:
            raise errors.ModelNotFound()
        keys = await key_store.keys_for_request(
            tx,
            agent_id=agent_id,
            account_id=uuid.UUID(owner) if owner else None,
            provider=model.spec.provider,
        )
        planned = _plan(runtime, caller, request, model, keys, streaming=streaming)
        new = _new_generation(runtime, caller, planned, request_id=request_id, streamed=streaming)
        generation = await generation_store.insert_generation(tx, new)
        if generation is None:
            existing = await generation_store.generation_id_for(
                tx, caller=new.caller, request_id=request_id
            )
            raise errors.GenerationExists(str(existing))
        first = planned.chain[0].provider_key
        if first is not None:
            await key_store.touch_last_used(
                tx, first, now=new.created_at, resolution_s=KEY_LAST_USED_RESOLUTION_S
            )
        return planned, generation

    return await runtime.database.run(run)


# -- 3. hold and call, key by key ---------------------------------------------------------------


class _Attempt(Generic[R]):
    """The keys of the chain tried in order, each under its own hold."""

    def __init__(self, runtime: Runtime, caller: Caller, planned: Plan, generation: Generation):
        self.runtime = runtime
        self.caller = caller
        self.planned = planned
        self.generation = generation
        self.upstream_called = False
        """True once a request may have reached upstream (the hold then covers it)."""

    async def run(self, call: Callable[[PreparedCall], Awaitable[R]]) -> tuple[R, KeyChoice]:
        previous_error: errors.UpstreamError | None = None
        for index, choice in enumerate(self.planned.chain):
            attempt = index + 1
            if attempt > 1:
                await self._switch(attempt, choice)
            api_key = self._api_key(choice)
            if api_key is None:
                await self._fail_unheld(errors.ByokDecryptionFailed.reason)
                raise errors.ByokDecryptionFailed()
            try:
                await self._hold(attempt)
            except (
                errors.InsufficientFunds,
                errors.KeyBudgetExceeded,
                errors.WalletNotFound,
                AccessTokenExpired,
                AccessTokenInvalid,
            ) as refused:
                if previous_error is not None:
                    # The fallback key could not be paid for: the key the client chose failed.
                    await self._fail_unheld(previous_error.reason, previous_error.failure.status)
                    raise previous_error from None
                await self._fail_unheld(refused.reason)
                raise
            except HoldOutcomeUnknown:
                await finish(
                    self.runtime, self.generation, _failed(errors.WalletUnavailable.reason)
                )
                raise errors.WalletUnavailable() from None
            prepared = self.runtime.upstreams.prepare(
                self.planned.model.spec.provider, api_key=api_key, body=self.planned.upstream_body
            )
            self.upstream_called = True
            try:
                return await call(prepared), choice
            except errors.UpstreamError as error:
                last = index + 1 == len(self.planned.chain)
                if last or not (choice.may_fall_back and error.fallback_allowed):
                    await finish(
                        self.runtime,
                        self.generation,
                        _failed(error.reason, upstream_status=error.failure.status),
                    )
                    raise
                if not await self._release():
                    await finish(
                        self.runtime,
                        self.generation,
                        _failed(error.reason, upstream_status=error.failure.status),
                    )
                    raise
                self.upstream_called = False
                previous_error = error
                logger.info(
                    "falling back to the next provider key",
                    extra={"generation_id": str(self.generation.id), "reason": error.reason},
                )
        raise AssertionError("the chain is never empty")

    def _api_key(self, choice: KeyChoice) -> str | None:
        if choice.provider_key is None:
            key = self.runtime.upstreams.platform_key(self.planned.model.spec.provider)
            assert key is not None, "the chain offers the platform key only when configured"
            return key
        sealed = choice.provider_key.sealed
        assert sealed is not None
        try:
            return self.runtime.envelope.open(sealed, choice.provider_key.binding)
        except DecryptionFailed:
            logger.error(
                "a BYOK key cannot be decrypted",
                extra={"provider_key_id": str(choice.provider_key.id)},
            )
            return None

    async def _hold(self, attempt: int) -> None:
        generation = self.generation
        if generation.hold_id is None:
            return
        billing = self.runtime.settings.billing
        await self.runtime.wallet.create_hold(
            user_metadata=self.caller.principal.authorization_metadata(),
            hold_id=generation.hold_id,
            request_id=derived_id(generation.id, f"hold-request|{attempt}"),
            amount_micros=generation.held_micros,
            timeout_s=billing.hold_timeout_s,
            platform_fee=generation.key_source.is_byok,
            reference=generation.id,
        )

    async def _fail_unheld(self, reason: str, upstream_status: int = 0) -> None:
        """The request ends with nothing held: this key's hold was never placed (the key could
        not be decrypted, or wallet refused the hold) and any earlier key's was released."""
        now = self.runtime.now()
        generation_id = self.generation.id
        self.generation = await self.runtime.database.run_statement(
            lambda tx: generation_store.drop_hold(
                tx, generation_id, error_reason=reason, upstream_status=upstream_status, now=now
            )
        )

    async def _release(self) -> bool:
        """Release this key's hold before trying the next; False if wallet cannot now."""
        generation = self.generation
        if generation.hold_id is None:
            return True
        try:
            await self.runtime.wallet.void_hold(
                hold_id=generation.hold_id,
                void_transfer_id=void_transfer_id(generation.hold_id, generation.id),
                request_id=derived_id(generation.id, f"void-request|{generation.hold_id}"),
            )
        except SettlementUnavailable:
            return False
        return True

    async def _switch(self, attempt: int, choice: KeyChoice) -> None:
        held = _hold_for(self.runtime, self.planned, choice)
        generation_id = self.generation.id
        self.generation = await self.runtime.database.run(
            lambda tx: generation_store.next_attempt(
                tx,
                generation_id,
                attempt=attempt,
                key_source=choice.source,
                provider_key_id=choice.provider_key.id if choice.provider_key else None,
                hold_id=hold_id(generation_id, attempt) if held else None,
                held_micros=held,
            )
        )


def _failed(reason: str, *, upstream_status: int = 0) -> _Ending:
    return _Ending(
        status=GenerationStatus.FAILED, error_reason=reason, upstream_status=upstream_status
    )


# -- 4. outcome and settlement ------------------------------------------------------------------


@dataclass(frozen=True)
class _Ending:
    status: GenerationStatus
    error_reason: str | None
    upstream_status: int = 0
    usage: Usage | None = None
    usage_source: UsageSource | None = None
    model_served: str = ""
    first_token_at: datetime.datetime | None = None


async def finish(runtime: Runtime, generation: Generation, ending: _Ending) -> Generation:
    """Record how the request ended, then settle it (capture or release) right away."""
    now = runtime.now()
    usage = ending.usage
    price = price_micros(usage, generation.prices) if usage is not None else 0
    if ending.usage_source is UsageSource.HOLD_CAPTURED:
        charge = generation.held_micros
    else:
        charge = charge_micros(price, key_source=generation.key_source, fee_bps=generation.fee_bps)
    if generation.held_micros == 0:
        charge = 0  # BYOK at a zero fee: nothing was held and nothing is billed
    outcome = generation_store.Outcome(
        status=ending.status,
        error_reason=ending.error_reason,
        upstream_status=ending.upstream_status,
        usage=usage,
        usage_source=ending.usage_source,
        price_micros=price,
        charge_micros=charge,
        model_served=ending.model_served,
        first_token_at=ending.first_token_at,
        finished_at=now,
    )
    settle_after = now + datetime.timedelta(seconds=runtime.settings.settlement.grace_s)
    recorded = await runtime.database.run_statement(
        lambda tx: generation_store.record_outcome(
            tx, generation.id, outcome, settle_after=settle_after
        )
    )
    if recorded.finished_at != now:
        logger.error(
            "another process settled this generation as orphaned while it was being served",
            extra={"generation_id": str(generation.id)},
        )
    if recorded.settlement_status is SettlementStatus.PENDING:
        recorded = await settle(runtime, recorded)
    return recorded


async def _settle_after_bug(
    runtime: Runtime, generation: Generation, upstream_called: bool
) -> None:
    """An unexpected error left a generation unfinished: end it conservatively."""
    current = await runtime.database.run(
        lambda tx: generation_store.generation_by_id(tx, generation.id)
    )
    if current is None or current.finished:
        return
    if upstream_called and current.hold_id is not None:
        ending = _Ending(
            status=GenerationStatus.INCOMPLETE,
            error_reason=INTERNAL,
            usage=Usage(current.estimate_input_tokens, current.max_output_tokens),
            usage_source=UsageSource.HOLD_CAPTURED,
        )
    else:
        ending = _failed(INTERNAL)
    await finish(runtime, current, ending)


def _identity(planned: Plan, generation: Generation) -> ResponseIdentity:
    return ResponseIdentity(
        response_id=f"gen-{generation.id}",
        model=planned.model.model_id,
        created_s=int(generation.created_at.timestamp()),
    )


# -- non-streaming ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompletionResult:
    generation: Generation
    body: bytes


async def complete(
    runtime: Runtime,
    caller: Caller,
    *,
    dialect: Dialect,
    body: bytes,
    model_field: str,
    request_id: str,
) -> CompletionResult:
    validate_request_id(request_id)
    cancelled = asyncio.Event()
    task = runtime.tasks.spawn(
        _complete(runtime, caller, dialect, body, model_field, request_id, cancelled)
    )
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        # The client went away; the request still completes and is billed by reported usage.
        cancelled.set()
        raise


async def _complete(
    runtime: Runtime,
    caller: Caller,
    dialect: Dialect,
    body: bytes,
    model_field: str,
    request_id: str,
    cancelled: asyncio.Event,
) -> CompletionResult:
    planned, generation = await start(
        runtime,
        caller,
        dialect=dialect,
        body=body,
        model_field=model_field,
        request_id=request_id,
        streaming=False,
    )
    attempt: _Attempt[tuple[int, Any]] = _Attempt(runtime, caller, planned, generation)
    try:
        (status, raw), _choice = await attempt.run(runtime.upstreams.complete)
        answered_at = runtime.now()
        generation = attempt.generation
        upstream = upstream_dialect(generation.provider.value)
        try:
            completion = parse_completion(upstream, raw)
        except UpstreamResponseInvalid:
            await finish(
                runtime, generation, _failed("UPSTREAM_UNAVAILABLE", upstream_status=status)
            )
            raise errors.UpstreamUnavailable(
                errors.UpstreamFailure(status, "invalid_response", "")
            ) from None
        if completion.usage is not None:
            usage, source = completion.usage, UsageSource.UPSTREAM_REPORTED
        else:
            usage = Usage(planned.estimate.input_tokens, planned.estimate.max_output_tokens)
            source = UsageSource.HOLD_CAPTURED
        generation = await finish(
            runtime,
            generation,
            _Ending(
                status=GenerationStatus.CANCELLED
                if cancelled.is_set()
                else GenerationStatus.SUCCEEDED,
                error_reason=CANCELLED if cancelled.is_set() else None,
                upstream_status=status,
                usage=usage,
                usage_source=source,
                model_served=completion.served_model,
                first_token_at=answered_at,
            ),
        )
        rendered = render_response(
            planned.request.dialect,
            upstream,
            raw,
            completion,
            _identity(planned, generation),
            usage if source is UsageSource.HOLD_CAPTURED else None,
        )
        return CompletionResult(generation=generation, body=orjson.dumps(rendered))
    except TokenMartError:
        raise
    except BaseException:
        logger.exception(
            "inference failed unexpectedly", extra={"generation_id": str(generation.id)}
        )
        await _settle_after_bug(runtime, attempt.generation, attempt.upstream_called)
        raise


# -- streaming ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamStarted:
    generation: Generation


@dataclass(frozen=True)
class StreamChunk:
    data: bytes


@dataclass(frozen=True)
class StreamFinished:
    generation: Generation


StreamMessage = StreamStarted | StreamChunk | StreamFinished


class _ConsumerGone(Exception):
    """The RPC's reader went away (client disconnect) or stopped reading for too long."""


_END = object()


class _Pump:
    """Reads upstream in a background task and hands messages to the RPC through a queue.

    The queue is bounded (a slow client slows the upstream read); a reader that is gone, or
    that takes nothing for the stream idle timeout, ends the stream as CANCELLED.
    """

    def __init__(
        self,
        runtime: Runtime,
        caller: Caller,
        *,
        dialect: Dialect,
        body: bytes,
        model_field: str,
        request_id: str,
    ) -> None:
        self.runtime = runtime
        self.caller = caller
        self.dialect = dialect
        self.body = body
        self.model_field = model_field
        self.request_id = request_id
        self.queue: asyncio.Queue[object] = asyncio.Queue(maxsize=STREAM_QUEUE_SIZE)
        self.consumer_gone = asyncio.Event()

    async def put(self, item: object) -> None:
        if self.consumer_gone.is_set():
            raise _ConsumerGone()
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(item)  # the usual case: the reader keeps up
            return
        put = asyncio.ensure_future(self.queue.put(item))
        gone = asyncio.ensure_future(self.consumer_gone.wait())
        try:
            done, _ = await asyncio.wait(
                {put, gone},
                timeout=self.runtime.settings.http.stream_idle_timeout_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            gone.cancel()
        if put not in done:
            put.cancel()
            raise _ConsumerGone()

    def close(self) -> None:
        """Tell the reader the stream is over (never blocks; a gone reader needs no word)."""
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(_END)

    async def run(self) -> None:
        try:
            await self._run()
        except _ConsumerGone:
            pass
        except BaseException as error:  # before `started`: the RPC answers with this error
            if not self.consumer_gone.is_set():
                with contextlib.suppress(asyncio.QueueFull):
                    self.queue.put_nowait(error)
            if not isinstance(error, Exception):
                raise
        finally:
            self.close()

    async def _run(self) -> None:
        runtime = self.runtime
        planned, generation = await start(
            runtime,
            self.caller,
            dialect=self.dialect,
            body=self.body,
            model_field=self.model_field,
            request_id=self.request_id,
            streaming=True,
        )
        attempt: _Attempt[tuple[contextlib.AsyncExitStack, Any]] = _Attempt(
            runtime, self.caller, planned, generation
        )

        async def open_stream(call: PreparedCall) -> tuple[contextlib.AsyncExitStack, Any]:
            stack = contextlib.AsyncExitStack()
            try:
                stream = await stack.enter_async_context(runtime.upstreams.stream(call))
            except BaseException:
                await stack.aclose()
                raise
            return stack, stream

        try:
            (stack, stream), _choice = await attempt.run(open_stream)
        except _ConsumerGone:
            raise
        except TokenMartError:
            raise
        except BaseException:
            logger.exception(
                "stream failed unexpectedly", extra={"generation_id": str(generation.id)}
            )
            await _settle_after_bug(runtime, attempt.generation, attempt.upstream_called)
            raise
        async with stack:
            await self._pump(planned, attempt, stream)

    async def _pump(self, planned: Plan, attempt: _Attempt[Any], stream: Any) -> None:
        runtime = self.runtime
        generation = attempt.generation
        identity = _identity(planned, generation)
        upstream = upstream_dialect(generation.provider.value)
        client = planned.request.dialect
        renderer = renderer_for(
            client, upstream, identity, include_usage=planned.request.include_usage
        )
        parser = SseParser(max_event_bytes=runtime.settings.http.max_response_bytes)
        decoder = decoder_for(upstream)
        account = StreamAccount()
        first_token_at: datetime.datetime | None = None
        broken: str | None = None
        cancelled = False
        try:
            await self.put(StreamStarted(generation))
            async for chunk in stream.chunks():
                for event in parser.feed(chunk):
                    raw, events = decoder.decode(event)
                    account.observe(events)
                    if account.error is not None:
                        break
                    if first_token_at is None and account.produced_output:
                        first_token_at = runtime.now()
                    for piece in renderer.render(raw, events):
                        await self.put(StreamChunk(piece))
                    if account.ended:
                        break
                if account.ended or account.error is not None:
                    break
        except _ConsumerGone:
            cancelled = True
        except UpstreamStreamBroken as stopped:
            broken = stopped.reason
        except (StreamDecodeError, SseTooLarge):
            broken = errors.UpstreamUnavailable.reason
        except BaseException:
            logger.exception(
                "stream failed unexpectedly", extra={"generation_id": str(generation.id)}
            )
            broken = INTERNAL
        ending = self._ending(planned, account, first_token_at, broken=broken, cancelled=cancelled)
        if ending.status is GenerationStatus.INCOMPLETE and not cancelled:
            kind, message = self._error_for_client(client, account, ending, stream.secret)
            with contextlib.suppress(_ConsumerGone):
                for piece in renderer.error(type=kind, message=message):
                    await self.put(StreamChunk(piece))
        finished = await finish(runtime, generation, ending)
        if not cancelled:
            with contextlib.suppress(_ConsumerGone):
                await self.put(StreamFinished(finished))

    def _ending(
        self,
        planned: Plan,
        account: StreamAccount,
        first_token_at: datetime.datetime | None,
        *,
        broken: str | None,
        cancelled: bool,
    ) -> _Ending:
        if account.ended and not cancelled:
            if account.usage is not None:
                usage, source = account.usage, UsageSource.UPSTREAM_REPORTED
            else:
                usage = Usage(planned.estimate.input_tokens, planned.estimate.max_output_tokens)
                source = UsageSource.HOLD_CAPTURED
            return _Ending(
                status=GenerationStatus.SUCCEEDED,
                error_reason=None,
                upstream_status=200,
                usage=usage,
                usage_source=source,
                model_served=account.served_model,
                first_token_at=first_token_at,
            )
        if account.usage is not None:
            usage, source = account.usage, UsageSource.UPSTREAM_REPORTED
        else:
            usage = counted_usage(
                reported_input_tokens=account.started_input_tokens,
                estimate=planned.estimate,
                output_bytes=account.output_bytes,
                output_events=account.output_events,
                bytes_per_token=self.runtime.settings.billing.bytes_per_token_estimate,
            )
            source = UsageSource.COUNTED
        if cancelled:
            status, reason = GenerationStatus.CANCELLED, CANCELLED
        else:
            status = GenerationStatus.INCOMPLETE
            if account.error is not None:
                reason = _STREAM_ERROR_REASONS.get(account.error.type, "UPSTREAM_UNAVAILABLE")
            else:
                reason = broken or errors.UpstreamUnavailable.reason
        return _Ending(
            status=status,
            error_reason=reason,
            upstream_status=200,
            usage=usage,
            usage_source=source,
            model_served=account.served_model,
            first_token_at=first_token_at,
        )

    @staticmethod
    def _error_for_client(
        client: Dialect, account: StreamAccount, ending: _Ending, secret: str
    ) -> tuple[str, str]:
        upstream_message = sanitise(account.error.message, secret=secret) if account.error else ""
        message = upstream_message or "the upstream provider stopped before the end of the answer"
        if client is Dialect.ANTHROPIC:
            kind = account.error.type if account.error else "api_error"
            return (kind if kind in _ANTHROPIC_ERROR_TYPES else "api_error"), message
        assert ending.error_reason is not None
        return ending.error_reason.lower(), message


async def stream(
    runtime: Runtime,
    caller: Caller,
    *,
    dialect: Dialect,
    body: bytes,
    model_field: str,
    request_id: str,
) -> AsyncIterator[StreamMessage]:
    """Started, then chunks, then finished; any error before `started` is raised instead."""
    validate_request_id(request_id)
    pump = _Pump(
        runtime, caller, dialect=dialect, body=body, model_field=model_field, request_id=request_id
    )
    runtime.tasks.spawn(pump.run())
    try:
        while True:
            item = await pump.queue.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, StreamStarted | StreamChunk | StreamFinished)
            yield item
    finally:
        pump.consumer_gone.set()

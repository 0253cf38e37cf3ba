"""Calling an upstream: the request for each provider, and what its refusals mean.

=============  ==========================  ====================================================
provider       endpoint                    headers
=============  ==========================  ====================================================
openai         ``{base}/chat/completions``  ``Authorization: Bearer <key>``
openrouter     ``{base}/chat/completions``  Bearer, ``HTTP-Referer``, ``X-Title``
anthropic      ``{base}/messages``          ``x-api-key``, ``anthropic-version``
=============  ==========================  ====================================================

A refusal keeps its meaning but never looks like TokenMart's own: 401/403 become
UPSTREAM_AUTH_FAILED, 402 UPSTREAM_PAYMENT_REQUIRED, 429 UPSTREAM_RATE_LIMITED, other 4xx
UPSTREAM_BAD_REQUEST, 5xx (and Anthropic's 529) UPSTREAM_UNAVAILABLE, no answer in time
UPSTREAM_TIMEOUT (:func:`services.provider.errors.upstream_error_for`). The upstream's message is
passed on only after :func:`sanitise` removed the key that was sent (LiteLLM once echoed keys in
errors) and anything shaped like a credential, and cut it to 500 characters.

Every call is recorded in :class:`~services.provider.metrics.UpstreamMetrics` when given: how it
opened (ok or its UPSTREAM_* reason), how long that took, and streams that break midway.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import aiohttp
import orjson

from services.common.logging import redact
from services.provider.domain.registry import UpstreamProvider
from services.provider.errors import (
    UpstreamError,
    UpstreamFailure,
    UpstreamTimeout,
    UpstreamUnavailable,
    upstream_error_for,
)
from services.provider.metrics import UpstreamMetrics
from services.provider.settings import HttpSettings, ProviderSettings, Upstream

MESSAGE_MAX_CHARS = 500
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_TYPE = re.compile(r"[^A-Za-z0-9_.:-]+")


def sanitise(message: str, *, secret: str | None) -> str:
    """An upstream message fit for callers and logs: no key, no credential shapes, bounded."""
    if secret:
        message = message.replace(secret, "[redacted]")
        # A key echoed with a mangled middle still ends in its tail; drop long tails too.
        if len(secret) >= 16:
            message = message.replace(secret[-12:], "[redacted]")
    message = redact(message)
    message = _CONTROL.sub(" ", message).strip()
    return message[:MESSAGE_MAX_CHARS]


def _type_of(value: Any) -> str:
    return _TYPE.sub("_", str(value))[:64] if value is not None else ""


def failure_from_body(status: int, body: bytes, *, secret: str | None) -> UpstreamFailure:
    """What an upstream error body says, in any of the three providers' shapes."""
    kind = ""
    message = ""
    try:
        parsed = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict):
        error = parsed.get("error")
        if isinstance(error, dict):
            kind = _type_of(error.get("type") or error.get("code"))
            message = str(error.get("message") or "")
        elif isinstance(error, str):
            message = error
        elif isinstance(parsed.get("message"), str):
            message = parsed["message"]
    elif body:
        message = body[:2000].decode("utf-8", errors="replace")
    return UpstreamFailure(
        status=status,
        type=kind or f"http_{status}",
        message=sanitise(message, secret=secret),
    )


@dataclass(frozen=True)
class PreparedCall:
    """One upstream request, ready to send."""

    provider: UpstreamProvider
    url: str
    headers: dict[str, str]
    body: bytes
    secret: str
    """The provider key in the headers, kept only to scrub it from what upstream says back."""

    def __repr__(self) -> str:
        return f"PreparedCall(provider={self.provider.value}, url={self.url})"


class UpstreamStreamBroken(Exception):
    """The stream stopped before its end: a disconnect, a timeout, or an oversized event."""

    def __init__(self, reason: str, failure: UpstreamFailure) -> None:
        super().__init__(reason)
        self.reason = reason
        self.failure = failure


class Upstreams:
    """Builds and sends upstream calls over the shared session."""

    def __init__(
        self,
        settings: ProviderSettings,
        session: aiohttp.ClientSession,
        *,
        metrics: UpstreamMetrics | None = None,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._http: HttpSettings = settings.http
        self._session = session
        self._upstreams: dict[UpstreamProvider, Upstream] = {
            UpstreamProvider.OPENAI: settings.openai,
            UpstreamProvider.ANTHROPIC: settings.anthropic,
            UpstreamProvider.OPENROUTER: settings.openrouter,
        }

    async def close(self) -> None:
        await self._session.close()

    def platform_key(self, provider: UpstreamProvider) -> str | None:
        key = self._upstreams[provider].platform_key
        return key.reveal() if key is not None else None

    def prepare(
        self, provider: UpstreamProvider, *, api_key: str, body: dict[str, Any]
    ) -> PreparedCall:
        base = self._upstreams[provider].base_url
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if provider is UpstreamProvider.ANTHROPIC:
            url = f"{base}/messages"
            headers["x-api-key"] = api_key
            headers["anthropic-version"] = self._settings.anthropic_version
        else:
            url = f"{base}/chat/completions"
            headers["Authorization"] = f"Bearer {api_key}"
            if provider is UpstreamProvider.OPENROUTER:
                headers["HTTP-Referer"] = self._settings.openrouter_referer
                headers["X-Title"] = self._settings.openrouter_title
        if body.get("stream"):
            headers["Accept"] = "text/event-stream"
        return PreparedCall(
            provider=provider, url=url, headers=headers, body=orjson.dumps(body), secret=api_key
        )

    def _opened(
        self, call: PreparedCall, *, stream: bool, reason: str | None, started: float
    ) -> None:
        if self._metrics is not None:
            self._metrics.opened(
                call.provider.value,
                stream=stream,
                reason=reason,
                elapsed_s=time.perf_counter() - started,
            )

    async def complete(self, call: PreparedCall) -> tuple[int, Any]:
        """Send a non-streaming call: (HTTP status, parsed JSON) on 2xx, else an UpstreamError."""
        started = time.perf_counter()
        try:
            answer = await self._complete(call)
        except UpstreamError as error:
            self._opened(call, stream=False, reason=error.reason, started=started)
            raise
        except asyncio.CancelledError:
            self._opened(call, stream=False, reason="CANCELLED", started=started)
            raise
        self._opened(call, stream=False, reason=None, started=started)
        return answer

    async def _complete(self, call: PreparedCall) -> tuple[int, Any]:
        try:
            async with self._session.post(
                call.url, data=call.body, headers=call.headers, allow_redirects=False
            ) as response:
                body = await self._read_limited(response)
                if response.status >= 300:
                    raise upstream_error_for(
                        failure_from_body(response.status, body, secret=call.secret)
                    )
                try:
                    return response.status, orjson.loads(body)
                except orjson.JSONDecodeError:
                    raise UpstreamUnavailable(
                        UpstreamFailure(response.status, "invalid_response", "")
                    ) from None
        except UpstreamError:
            raise
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise UpstreamTimeout(UpstreamFailure(0, "timeout", "")) from None
        except aiohttp.ClientError as error:
            raise UpstreamUnavailable(
                UpstreamFailure(0, _type_of(type(error).__name__), "")
            ) from None

    async def _read_limited(self, response: aiohttp.ClientResponse) -> bytes:
        limit = self._http.max_response_bytes
        if response.content_length is not None and response.content_length > limit:
            raise UpstreamUnavailable(UpstreamFailure(response.status, "response_too_large", ""))
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(65_536):
            size += len(chunk)
            if size > limit:
                raise UpstreamUnavailable(
                    UpstreamFailure(response.status, "response_too_large", "")
                )
            chunks.append(chunk)
        return b"".join(chunks)

    @asynccontextmanager
    async def stream(self, call: PreparedCall) -> AsyncIterator[UpstreamStream]:
        """Open a streaming call; raises an UpstreamError unless upstream answered 200."""
        started = time.perf_counter()
        try:
            response = await self._open_stream(call)
        except UpstreamError as error:
            self._opened(call, stream=True, reason=error.reason, started=started)
            raise
        except asyncio.CancelledError:
            self._opened(call, stream=True, reason="CANCELLED", started=started)
            raise
        self._opened(call, stream=True, reason=None, started=started)
        on_break = (
            partial(self._metrics.stream_broken, call.provider.value)
            if self._metrics is not None
            else None
        )
        try:
            yield UpstreamStream(response, call.secret, on_break=on_break)
        finally:
            # Closing (not releasing) drops the connection: an abandoned stream must stop
            # upstream from generating more tokens on our account.
            response.close()

    async def _open_stream(self, call: PreparedCall) -> aiohttp.ClientResponse:
        """The 200 response of a streaming call, headers read; else an UpstreamError."""
        timeout = aiohttp.ClientTimeout(
            total=self._http.stream_max_duration_s,
            connect=self._http.connect_timeout_s,
            sock_connect=self._http.connect_timeout_s,
            sock_read=self._http.stream_idle_timeout_s,
        )
        try:
            response = await self._session.post(
                call.url,
                data=call.body,
                headers=call.headers,
                allow_redirects=False,
                timeout=timeout,
            )
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise UpstreamTimeout(UpstreamFailure(0, "timeout", "")) from None
        except aiohttp.ClientError as error:
            raise UpstreamUnavailable(
                UpstreamFailure(0, _type_of(type(error).__name__), "")
            ) from None
        if response.status == 200:
            return response
        try:
            try:
                body = await self._read_limited(response)
            except (TimeoutError, aiohttp.ClientError):
                body = b""
            raise upstream_error_for(failure_from_body(response.status, body, secret=call.secret))
        finally:
            response.close()


class UpstreamStream:
    """The body of a 200 streaming response, read chunk by chunk."""

    def __init__(
        self,
        response: aiohttp.ClientResponse,
        secret: str,
        *,
        on_break: Callable[[str], None] | None = None,
    ) -> None:
        self._response = response
        self._secret = secret
        self._on_break = on_break

    @property
    def secret(self) -> str:
        return self._secret

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise self._broken(
                "UPSTREAM_TIMEOUT", UpstreamFailure(200, "stream_idle_timeout", "")
            ) from None
        except (aiohttp.ClientError, asyncio.IncompleteReadError) as error:
            raise self._broken(
                "UPSTREAM_UNAVAILABLE", UpstreamFailure(200, _type_of(type(error).__name__), "")
            ) from None

    def _broken(self, reason: str, failure: UpstreamFailure) -> UpstreamStreamBroken:
        if self._on_break is not None:
            self._on_break(reason)
        return UpstreamStreamBroken(reason, failure)

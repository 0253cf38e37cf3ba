"""The soak's HTTP client of the gateway: every answer is counted, every 5xx body inspected, and
operations with effects are retried with the same ``Idempotency-Key`` until an answer is definite.

A transport error or a 5xx says nothing about whether the effect happened (the process may have
died after committing), so the only safe retry is the same request with the same key: the
gateway derives the backend request and transfer ids from it, and the backend replays the first
answer. 429 is retried after its ``Retry-After``. Any other 4xx is definite: nothing happened.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from typing import Any

import httpx

from bench.soak.records import Answer, Records, State

RETRY_WINDOW_S = 60.0
"""How long one operation keeps retrying before it is left AMBIGUOUS (bounded, like all else)."""
RETRY_ATTEMPTS_MAX = 80
BACKOFF_BASE_S = 0.1
BACKOFF_MAX_S = 2.0
RETRY_AFTER_MAX_S = 5.0
REQUEST_TIMEOUT_S = 30.0
CONFLICT_REASONS = ("REQUEST_ID_CONFLICT", "EXISTS_WITH_DIFFERENT", "EXISTS_FOR_OTHER_INITIATOR")
RETRYABLE_REASONS = frozenset({"ABORTED", "CONCURRENT_UPDATE"})
"""409s that say "a concurrent change won; retry with the same ids": not a definite answer."""
ABANDON_READ_S = 0.001
"""Read timeout of a deliberately abandoned first attempt: the request is sent whole, its answer
never read, as when a client's connection dies just after sending."""
ABANDONED = "abandoned (answer never read)"


def reason_of(response: httpx.Response) -> str | None:
    """The stable reason of an error envelope (platform: ``reason``; OpenAI/Anthropic: code or
    type)."""
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    for field in ("reason", "code", "type"):
        value = error.get(field)
        if isinstance(value, str) and value:
            return value
    return None


def label_of(response: httpx.Response) -> str:
    if response.is_success:
        return str(response.status_code)
    reason = reason_of(response)
    return f"{response.status_code} {reason}" if reason else str(response.status_code)


def transport_label(error: BaseException) -> str:
    return f"transport {type(error).__name__}"


class Gateway:
    """One pooled client for the whole soak (httpx reconnects after the gateway restarts)."""

    def __init__(self, base_url: str, records: Records, rng: random.Random) -> None:
        self.records = records
        self.rng = rng
        self.lost_answer_share = 0.0
        """Share of operations whose first attempt is abandoned unread (set during the load)."""
        self.http = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(REQUEST_TIMEOUT_S, connect=5.0),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )

    async def close(self) -> None:
        await self.http.aclose()

    def client_ip(self) -> str:
        """A documentation-range address (RFC 5737) for uncredentialed routes: users arrive
        through the trusted proxy from many addresses, so the per-IP limits of registration and
        login are not what the soak measures."""
        return f"198.51.100.{self.rng.randrange(1, 255)}"

    def seen(self, kind: str, response: httpx.Response) -> None:
        self.records.answer(kind, label_of(response), success=response.is_success)
        if response.status_code >= 500:
            self.records.check_body(kind, response.status_code, response.text)

    async def once(
        self,
        kind: str,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        abandon: bool = False,
    ) -> httpx.Response | None:
        """One attempt; None on a transport error (counted)."""
        timeout = (
            httpx.Timeout(REQUEST_TIMEOUT_S, read=ABANDON_READ_S)
            if abandon
            else httpx.USE_CLIENT_DEFAULT
        )
        try:
            response = await self.http.request(
                method, path, headers=headers, json=json, timeout=timeout
            )
        except httpx.ReadTimeout as error:
            self.records.answer(kind, ABANDONED if abandon else transport_label(error))
            return None
        except httpx.HTTPError as error:
            self.records.answer(kind, transport_label(error))
            return None
        self.seen(kind, response)
        return response

    async def idempotent(
        self,
        kind: str,
        method: str,
        path: str,
        *,
        key: str,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        window_s: float = RETRY_WINDOW_S,
    ) -> Answer:
        """Send until definite, always with the same ``Idempotency-Key`` and body.

        During the load a share of operations have their first attempt abandoned: sent whole,
        the answer never read. The effect usually happens, so the retry must be answered as a
        replay of it, never applied a second time (THREATS D9).
        """
        sent = {**(headers or {}), "Idempotency-Key": key}
        abandon = self.lost_answer_share > 0 and self.rng.random() < self.lost_answer_share
        deadline = time.monotonic() + window_s
        attempts = 0
        conflicts = 0
        last: httpx.Response | None = None
        while attempts < RETRY_ATTEMPTS_MAX:
            attempts += 1
            response = await self.once(
                kind, method, path, headers=sent, json=json, abandon=abandon and attempts == 1
            )
            last = response
            reason = None if response is None else reason_of(response)
            if (
                response is not None
                and response.status_code != 429
                and response.status_code < 500
                and not (response.status_code == 409 and reason in RETRYABLE_REASONS)
            ):
                if response.is_success:
                    body = response.json()
                    state = State.DONE
                else:
                    body = None
                    state = State.REFUSED
                    if (
                        response.status_code == 409
                        and reason
                        and reason.startswith(CONFLICT_REASONS)
                    ):
                        conflicts += 1
                replayed = response.status_code == 200 and bool(
                    isinstance(body, dict) and body.get("replayed")
                )
                answer = Answer(
                    state=state,
                    status=response.status_code,
                    reason=reason,
                    body=body,
                    attempts=attempts,
                    replayed=replayed,
                    abandoned=abandon,
                    conflicts=conflicts,
                )
                self.records.operation(kind, state)
                return answer
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(self._pause(attempts, response))
        self.records.operation(kind, State.AMBIGUOUS)
        return Answer(
            state=State.AMBIGUOUS,
            status=None if last is None else last.status_code,
            reason=None if last is None else reason_of(last),
            body=None,
            attempts=attempts,
            abandoned=abandon,
            conflicts=conflicts,
        )

    async def read(
        self,
        kind: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        window_s: float = RETRY_WINDOW_S,
    ) -> httpx.Response | None:
        """A GET for the verification: retried (bounded) on a transport error, 429 (after its
        ``Retry-After``: verification reads share the keys' rate limits with the load) and 5xx,
        so a check fails on what the system says, never on a throttled read."""
        deadline = time.monotonic() + window_s
        response: httpx.Response | None = None
        for attempts in range(1, RETRY_ATTEMPTS_MAX + 1):
            response = await self.once(kind, "GET", path, headers=headers)
            if response is not None and response.status_code != 429 and response.status_code < 500:
                return response
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(self._pause(attempts, response))
        return response

    def _pause(self, attempts: int, response: httpx.Response | None) -> float:
        if response is not None and response.status_code == 429:
            try:
                return min(float(response.headers.get("retry-after", "1")), RETRY_AFTER_MAX_S)
            except ValueError:
                return 1.0
        backoff: float = min(BACKOFF_BASE_S * 2.0 ** (attempts - 1), BACKOFF_MAX_S)
        return backoff * (0.5 + self.rng.random() / 2)

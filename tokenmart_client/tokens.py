"""Access tokens: where the client gets the ``authorization`` bearer for each call.

The domain services authorise every call from an access token that auth signs (Ed25519 JWT,
``exp`` at most five minutes after ``iat``), sent in the gRPC metadata key ``authorization`` as
``Bearer <token>``. A :class:`TokenSource` supplies it:

* :class:`CredentialTokens` trades a raw credential (a ``tms_`` session token or a ``tokenmart_``
  / ``th_`` / ``thm_`` key) for an end-user token with ``AuthService.Authenticate``. Auth lets
  only the ``gateway`` certificate call it: this is how code that serves end users acts for them.
* :class:`ServiceTokens` gets a service token (subject ``service:<your certificate's name>``)
  with ``AuthService.IssueServiceToken``, for work without an end user (``provider``,
  ``review`` and ``ctl`` certificates).
* :class:`StaticToken` forwards a token you already hold, unchanged (e.g. the end-user token of
  the request you are serving); it cannot be refreshed.

Caching. A fetched token is reused until ``refresh_before_s`` before it expires (capped at a
quarter of its lifetime, so a 10-second token is renewed 2.5 seconds early). Its lifetime is
taken from the token's own ``iat``/``exp`` and laid on the local clock from the moment the fetch
started, so a skewed local clock cannot make the client keep a token auth considers expired. The
claims are read for scheduling only; the client never trusts them for anything else (the services
verify the signature). Concurrent callers share one fetch. When a service nevertheless answers
ACCESS_TOKEN_EXPIRED or ACCESS_TOKEN_INVALID (a clock jump, a compromised signing key retired),
the client drops that token and sends the call once more with a fresh one.

Secrets. The credential and the tokens are held in private attributes, appear in no ``repr`` and
are never logged or put into an error.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from tokenmart.auth.v1 import auth_pb2

MAX_TOKEN_LIFETIME_S = 300.0
"""Auth never issues a token that lives longer (auth.proto); a longer claim is not believed."""


class TokenSource(Protocol):
    """Supplies the access token attached to every call that needs one."""

    @property
    def refreshable(self) -> bool:
        """Whether :meth:`invalidate` followed by :meth:`token` can yield a different token."""
        ...

    async def token(self, *, timeout_s: float | None = None) -> str:
        """A token to send now (fetching one if the cached one is missing or due)."""
        ...

    def invalidate(self, token: str) -> None:
        """A service rejected ``token``: do not hand it out again."""
        ...


class StaticToken:
    """Forwards one token you already hold (never refreshed)."""

    def __init__(self, token: str) -> None:
        if not token or any(ch.isspace() for ch in token):
            raise ValueError("an access token is a non-empty string without whitespace")
        self._token = token

    def __repr__(self) -> str:
        return "StaticToken(<hidden>)"

    @property
    def refreshable(self) -> bool:
        return False

    async def token(self, *, timeout_s: float | None = None) -> str:
        return self._token

    def invalidate(self, token: str) -> None:
        """Nothing to do: the token cannot be replaced, so the caller sees the rejection."""


@dataclass(frozen=True)
class _Cached:
    token: str
    refresh_at: float
    """Local clock time from which the token is due for renewal."""
    expires_at: float
    """Local clock time at which the token expires."""


Fetched = tuple[str, float]
"""(token, lifetime in seconds as issued)."""


class CachingTokenSource:
    """Caches a fetched token and renews it shortly before it expires (shared single fetch)."""

    def __init__(
        self,
        fetch: Callable[[float | None], Awaitable[Fetched]],
        *,
        clock: Callable[[], float] = time.time,
        refresh_before_s: float = 30.0,
    ) -> None:
        if not refresh_before_s >= 0:
            raise ValueError("refresh_before_s must not be negative")
        self._fetch = fetch
        self._clock = clock
        self._refresh_before_s = refresh_before_s
        self._cached: _Cached | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0
        """How many tokens this source has obtained (for observability and tests)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(fetches={self.fetches})"

    @property
    def refreshable(self) -> bool:
        return True

    def _fresh(self) -> _Cached | None:
        cached = self._cached
        if cached is not None and self._clock() < cached.refresh_at:
            return cached
        return None

    async def token(self, *, timeout_s: float | None = None) -> str:
        cached = self._fresh()
        if cached is not None:
            return cached.token
        async with self._lock:
            # Whoever waited on the lock finds the token the first waiter fetched.
            cached = self._fresh()
            if cached is not None:
                return cached.token
            started = self._clock()
            token, lifetime_s = await self._fetch(timeout_s)
            self.fetches += 1
            margin = min(self._refresh_before_s, lifetime_s / 4)
            self._cached = _Cached(
                token=token,
                refresh_at=started + lifetime_s - margin,
                expires_at=started + lifetime_s,
            )
            return token

    def invalidate(self, token: str) -> None:
        if self._cached is not None and self._cached.token == token:
            self._cached = None


def token_lifetime_s(token: str, *, fallback_expires_at: float, now: float) -> float:
    """How long ``token`` lives as issued (``exp - iat``), bounded by auth's maximum.

    Falls back to ``fallback_expires_at - now`` (the expiry auth reported, on our clock) when the
    claims cannot be read.
    """
    claims = _unverified_claims(token)
    issued_at, expires_at = _number(claims.get("iat")), _number(claims.get("exp"))
    if issued_at is not None and expires_at is not None and expires_at > issued_at:
        lifetime = expires_at - issued_at
    else:
        lifetime = fallback_expires_at - now
    return max(0.0, min(lifetime, MAX_TOKEN_LIFETIME_S))


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _unverified_claims(token: str) -> dict[str, object]:
    """The JWT payload, for scheduling renewal only (never for any trust decision)."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    payload = parts[1]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError):
        return {}
    return decoded if isinstance(decoded, dict) else {}


AuthenticateCall = Callable[..., Awaitable[auth_pb2.AuthenticateResponse]]
IssueServiceTokenCall = Callable[..., Awaitable[auth_pb2.IssueServiceTokenResponse]]


class CredentialTokens(CachingTokenSource):
    """End-user tokens for one credential, from ``AuthService.Authenticate``."""

    def __init__(
        self,
        authenticate: AuthenticateCall,
        credential: str,
        *,
        agent_id: str = "",
        audiences: Sequence[auth_pb2.Audience] = (),
        accepted_families: Sequence[auth_pb2.CredentialFamily] = (),
        clock: Callable[[], float] = time.time,
        refresh_before_s: float = 30.0,
    ) -> None:
        if not credential or any(ch.isspace() for ch in credential):
            raise ValueError("a credential is a non-empty string without whitespace")
        self.__credential = credential
        self.__authenticate = authenticate
        self.agent_id = agent_id
        self.audiences = tuple(audiences)
        self.accepted_families = tuple(accepted_families)
        super().__init__(self._obtain, clock=clock, refresh_before_s=refresh_before_s)

    async def _obtain(self, timeout_s: float | None) -> Fetched:
        response = await self.__authenticate(
            credential=self.__credential,
            agent_id=self.agent_id,
            audiences=self.audiences,
            accepted_families=self.accepted_families,
            timeout_s=timeout_s,
        )
        lifetime = token_lifetime_s(
            response.access_token,
            fallback_expires_at=response.access_token_expires_at.ToMicroseconds() / 1e6,
            now=time.time(),
        )
        return response.access_token, lifetime


class ServiceTokens(CachingTokenSource):
    """Service tokens for the client certificate's own identity, from ``IssueServiceToken``."""

    def __init__(
        self,
        issue: IssueServiceTokenCall,
        *,
        audiences: Sequence[auth_pb2.Audience],
        clock: Callable[[], float] = time.time,
        refresh_before_s: float = 30.0,
    ) -> None:
        if not audiences:
            raise ValueError("a service token needs at least one audience")
        self.__issue = issue
        self.audiences = tuple(audiences)
        super().__init__(self._obtain, clock=clock, refresh_before_s=refresh_before_s)

    async def _obtain(self, timeout_s: float | None) -> Fetched:
        response = await self.__issue(audiences=self.audiences, timeout_s=timeout_s)
        lifetime = token_lifetime_s(
            response.access_token,
            fallback_expires_at=response.expires_at.ToMicroseconds() / 1e6,
            now=time.time(),
        )
        return response.access_token, lifetime

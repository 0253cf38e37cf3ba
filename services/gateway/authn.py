"""Authentication at the edge: every protected route asks auth who the caller is.

The bearer credential comes from ``Authorization: Bearer <credential>`` or, for Anthropic-style
clients, ``x-api-key: <credential>``; ``X-Agent-Id`` lets a session act as an agent it owns.
:class:`Authenticator` sends them to ``AuthService.Authenticate`` together with the families the
route accepts and the services the request will reach, and gets back the principal and a
short-lived signed access token, which the route forwards to every backend call in the
``authorization`` metadata. The gateway itself never decides who someone is.

Answers may be reused for at most ``cache_for`` as auth says, and never longer than one second
(less if the gateway's ``AUTH_CACHE_MS`` says so), so a revocation or suspension takes effect
within one second. The cache key is a digest of the credential (the raw credential is never kept
as a key) plus everything else the answer depends on. Concurrent requests that miss the cache
with the same key share one call to auth instead of each making their own.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Final, TypeAlias

import grpc
from starlette.requests import Request
from tokenmart.auth.v1 import auth_pb2, auth_pb2_grpc

from services.gateway.errors import GatewayError
from services.gateway.ratelimit_guard import EdgeLimits

CACHE_TTL_MAX_S: Final = 1.0
CACHE_ENTRIES_MAX: Final = 10_000
CREDENTIAL_MAX_LENGTH: Final = 256
AGENT_ID_HEADER: Final = "x-agent-id"
Family: TypeAlias = auth_pb2.CredentialFamily
Audience: TypeAlias = auth_pb2.Audience

SESSION: Final = auth_pb2.CREDENTIAL_FAMILY_SESSION
AGENT_KEY: Final = auth_pb2.CREDENTIAL_FAMILY_AGENT_KEY
INFERENCE_KEY: Final = auth_pb2.CREDENTIAL_FAMILY_INFERENCE_KEY
MANAGEMENT_KEY: Final = auth_pb2.CREDENTIAL_FAMILY_MANAGEMENT_KEY


class CredentialMissing(GatewayError):
    status = HTTPStatus.UNAUTHORIZED
    reason = "CREDENTIAL_MISSING"
    default_message = "a credential is required: Authorization: Bearer <key or session token>"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class CredentialMalformed(CredentialMissing):
    reason = "CREDENTIAL_MALFORMED"
    default_message = "the credential is malformed"


class AgentRequired(GatewayError):
    status = HTTPStatus.NOT_FOUND
    reason = "AGENT_NOT_FOUND"
    default_message = "no agent acts for this request; send an agent key or X-Agent-Id"


@dataclass(frozen=True)
class Caller:
    """Who a request speaks for, and the token that proves it to the backends."""

    principal: auth_pb2.Principal
    access_token: str

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.access_token}"),)

    @property
    def family(self) -> Family:
        return self.principal.credential_family

    @property
    def agent_id(self) -> str:
        return self.principal.agent_id

    def require_agent(self) -> str:
        if not self.principal.agent_id:
            raise AgentRequired()
        return self.principal.agent_id


def bearer_credential(request: Request) -> str:
    """The raw credential of the request, or :class:`CredentialMissing`."""
    authorization = request.headers.get("authorization")
    if authorization is not None:
        scheme, _, credential = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise CredentialMalformed("the Authorization header must be 'Bearer <credential>'")
        credential = credential.strip()
    else:
        credential = (request.headers.get("x-api-key") or "").strip()
        if not credential:
            raise CredentialMissing()
    if len(credential) > CREDENTIAL_MAX_LENGTH or not credential.isascii():
        raise CredentialMalformed()
    return credential


def client_ip_of(request: Request) -> str:
    """The client address for auth's records, or empty when unknown (never a made-up value)."""
    address = getattr(request.state, "client_ip", "")
    return address if address and address != "unknown" else ""


class Authenticator:
    def __init__(
        self,
        stub: auth_pb2_grpc.AuthServiceStub,
        limits: EdgeLimits,
        *,
        cache_max_s: float = CACHE_TTL_MAX_S,
        on_lookup: Callable[[str], None] | None = None,
    ) -> None:
        """``on_lookup`` is told how each credential check was answered: ``hit``, ``shared`` or
        ``miss`` (the gateway's metrics)."""
        assert 0 <= cache_max_s <= CACHE_TTL_MAX_S, cache_max_s
        self._stub = stub
        self._limits = limits
        self._cache_max_s = cache_max_s
        self._on_lookup = on_lookup
        self._cache: OrderedDict[bytes, tuple[float, Caller]] = OrderedDict()
        self._inflight: dict[bytes, asyncio.Task[Caller]] = {}

    async def authenticate(
        self,
        request: Request,
        *,
        families: Iterable[Family],
        audiences: Iterable[Audience],
    ) -> Caller:
        await self._limits.flood(request)
        try:
            credential = bearer_credential(request)
        except CredentialMalformed:
            await self._limits.reserve_credential_attempt(request)
            raise
        caller = await self._caller(request, credential, families=families, audiences=audiences)
        limits = caller.principal.key_limits
        if caller.principal.key_id and limits.rate_limit_rpm > 0:
            await self._limits.key(caller.principal.key_id, limits.rate_limit_rpm)
        return caller

    async def _caller(
        self,
        request: Request,
        credential: str,
        *,
        families: Iterable[Family],
        audiences: Iterable[Audience],
    ) -> Caller:
        agent_id = (request.headers.get(AGENT_ID_HEADER) or "").strip()
        accepted = sorted(set(families))
        wanted = sorted(set(audiences))
        key = hashlib.sha256(
            "\x00".join(
                [credential, agent_id, ",".join(map(str, accepted)), ",".join(map(str, wanted))]
            ).encode()
        ).digest()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > time.monotonic():
            self._looked_up("hit")
            return cached[1]
        shared = self._inflight.get(key)
        self._looked_up("miss" if shared is None else "shared")
        if shared is None:
            shared = asyncio.ensure_future(
                self._ask_auth(
                    request, key, credential, agent_id=agent_id, accepted=accepted, wanted=wanted
                )
            )
            self._inflight[key] = shared
            shared.add_done_callback(lambda done: self._settled(key, done))
        # Shielded: one request going away must not cancel the answer the others wait for.
        return await asyncio.shield(shared)

    async def _ask_auth(
        self,
        request: Request,
        key: bytes,
        credential: str,
        *,
        agent_id: str,
        accepted: list[Family],
        wanted: list[Audience],
    ) -> Caller:
        # Reserved before auth is asked, so a burst of guesses cannot all get through at once;
        # given back when the credential is good, so only failures count.
        await self._limits.reserve_credential_attempt(request)
        try:
            response = await self._stub.Authenticate(
                auth_pb2.AuthenticateRequest(
                    credential=credential,
                    agent_id=agent_id,
                    client_ip=client_ip_of(request),
                    user_agent=(request.headers.get("user-agent") or "")[:512],
                    audiences=wanted,
                    accepted_families=accepted,
                )
            )
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.UNAUTHENTICATED:
                await self._limits.credential_accepted(request)
            raise
        await self._limits.credential_accepted(request)
        caller = Caller(principal=response.principal, access_token=response.access_token)
        ttl_s = min(response.cache_for.ToTimedelta().total_seconds(), self._cache_max_s)
        if ttl_s > 0:
            self._remember(key, time.monotonic() + ttl_s, caller)
        return caller

    def _looked_up(self, result: str) -> None:
        if self._on_lookup is not None:
            self._on_lookup(result)

    def _settled(self, key: bytes, done: asyncio.Task[Caller]) -> None:
        self._inflight.pop(key, None)
        if not done.cancelled():
            done.exception()  # retrieved here too, in case every waiter went away

    def _remember(self, key: bytes, expires: float, caller: Caller) -> None:
        self._cache[key] = (expires, caller)
        self._cache.move_to_end(key)
        while len(self._cache) > CACHE_ENTRIES_MAX:
            self._cache.popitem(last=False)

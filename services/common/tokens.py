"""Access-token verification: how wallet, provider, review (and auth itself) trust a request.

Auth signs a short-lived JWT for every authenticated request (SPEC §1, the "Principal
authorization" paragraph of ``auth.proto``); each service checks it locally with auth's public
keys, fetched by RPC (``AuthService.GetPublicKeys``), cached and followed across rotations by
key id. Nothing here trusts the token before its signature is checked, and nothing in the token
chooses how it is checked.

Design
------
* :class:`PublicKeySource` is where keys come from; :class:`AuthPublicKeys` is the gRPC one. The
  verifier never opens channels: the caller passes one from ``services.common.client.open_channel``.
* :class:`AccessTokenVerifier` keeps ``kid → (Ed25519 key, not_before, not_after)``. The cache is
  refreshed when it is older than ``refresh_interval_s`` and, early, when a token names an unknown
  kid. Every refresh, whatever triggered it, is rate-limited to one per ``min_refresh_interval_s``
  (auth's contract: at most once every 10 s) and concurrent verifications share the one fetch in
  flight, so a flood of tokens with random kids costs auth at most one call per interval. A failed
  refresh keeps the last good keys, for at most ``max_stale_s``; with no usable keys at all the
  answer is UNAVAILABLE (``PUBLIC_KEYS_UNAVAILABLE``), never "valid".
* :meth:`AccessTokenVerifier.verify`, in this order:

  1. shape: at most 8 KiB, three base64url segments in canonical form (no padding, no stray
     characters, no unused bits set), so a token that differs in any character is a different
     token; the signature segment is 64 bytes;
  2. JOSE header, *before any key is touched*: ``alg`` exactly ``"EdDSA"`` (so ``none``, HS256
     "signed" with the public key bytes, RS256, ES256 … all fail here), ``typ`` ``at+jwt``, a
     ``kid``, and none of ``crit``/``b64``/``jku``/``jwk``/``x5u``/``x5c``/``x5t`` (we never take a
     key or a processing rule from the token);
  3. the key: ``kid`` names a cached key whose validity window contains now;
  4. the signature, by PyJWT with ``algorithms=["EdDSA"]`` and that Ed25519 key only;
  5. the claims, against the injected clock with ``leeway_s``: ``iss``; ``aud`` contains ours;
     ``iat``, ``nbf``, ``exp`` numeric with ``iat < exp``, ``exp - iat <= 300 s``, ``iat`` not in
     the future and not before the key's ``not_before``; ``nbf`` reached; ``exp`` not passed
     (``ACCESS_TOKEN_EXPIRED``); ``jti`` a UUID; ``sub`` ``agent:<uuid>`` / ``account:<uuid>`` /
     ``service:<name>``, agreeing with ``tm_fam`` and the ``tm_*`` claims; and the scopes must be
     ones the credential family may carry (an agent key never carries ``account``/``admin``;
     ``admin`` needs role admin; ``operator`` only for ctl), so even a mis-minted token cannot
     grant more than the contract allows.

Errors (all :mod:`services.common.errors` subclasses, so the server interceptor maps them):
``AccessTokenMissing`` / ``AccessTokenInvalid`` / ``AccessTokenExpired`` (UNAUTHENTICATED),
``ScopeMissing`` (PERMISSION_DENIED, metadata ``scope``), ``PublicKeysUnavailable``
(UNAVAILABLE). Callers see one generic message per reason; ``detail`` on the invalid/expired
errors says which check failed, for logs and tests only. The token itself is never logged or
echoed.

Server side, :func:`principal_from_context` reads ``authorization: Bearer <jwt>`` from the call's
metadata and verifies it (and a scope). Client side, :func:`authorization_metadata` builds that
metadata, and :meth:`VerifiedPrincipal.authorization_metadata` forwards the same token unchanged
when a service calls another on the user's behalf.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime
import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, Protocol, TypeGuard, TypeVar

import grpc
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from jwt.types import Options as JwtOptions
from tokenmart.auth.v1 import auth_pb2, auth_pb2_grpc

from services.common.errors import PermissionDenied, Unauthenticated, Unavailable
from services.common.identity import PEER_NAMES

logger = logging.getLogger("tokenmart.tokens")

_E = TypeVar("_E", bound=StrEnum)

ISSUER: Final = "tokenmart-auth"
ALGORITHM: Final = "EdDSA"
TOKEN_TYPES: Final = frozenset({"at+jwt", "application/at+jwt"})
"""RFC 9068 ``typ``; media types compare case-insensitively and may omit ``application/``."""
MAX_LIFETIME_S: Final = 300
DEFAULT_LEEWAY_S: Final = 5.0
MAX_TOKEN_LENGTH: Final = 8192
ED25519_PUBLIC_KEY_BYTES: Final = 32
ED25519_SIGNATURE_BYTES: Final = 64
AUTHORIZATION_METADATA_KEY: Final = "authorization"

AUDIENCES: Final = frozenset(
    {"tokenmart.auth", "tokenmart.wallet", "tokenmart.provider", "tokenmart.review"}
)
"""The services a token may be addressed to (``Audience`` in auth.proto)."""

# Header parameters that would let the token choose its own key or processing rules.
_FORBIDDEN_HEADER_PARAMETERS: Final = frozenset(
    {"crit", "b64", "jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256"}
)
_KID_PATTERN: Final = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_TOKEN_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_UUID: Final = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_UUID_PATTERN: Final = re.compile(_UUID)
_SUBJECT_PATTERN: Final = re.compile(rf"(agent|account):({_UUID})|(service):([a-z]{{1,32}})")
_MODEL_ID_MAX_LENGTH: Final = 256
_MODELS_MAX: Final = 1000
_NUMERIC_DATE_MAX: Final = 2**53
_RPM_MAX: Final = 10_000_000

# Signature only: every claim is checked below against the injected clock, not PyJWT's.
_SIGNATURE_ONLY: Final[JwtOptions] = {
    "verify_signature": True,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
    "verify_sub": False,
    "verify_jti": False,
    "require": [],
}


class Scope(StrEnum):
    """One permission a token carries; the values are the JWT strings of auth.proto's Scope."""

    AGENT_READ = "agent:read"
    AGENT_WRITE = "agent:write"
    INFERENCE = "inference"
    KEYS_MANAGE = "keys:manage"
    ACCOUNT = "account"
    ADMIN = "admin"
    SUPER_ADMIN = "super_admin"
    SERVICE = "service"
    OPERATOR = "operator"


SCOPES: Final = frozenset(scope.value for scope in Scope)


class CredentialFamily(StrEnum):
    """What the request authenticated with (JWT ``tm_fam``)."""

    AGENT_KEY = "agent_key"
    INFERENCE_KEY = "inference_key"
    MANAGEMENT_KEY = "management_key"
    SESSION = "session"
    SERVICE = "service"


AGENT_FAMILIES: Final = frozenset(
    {
        CredentialFamily.AGENT_KEY,
        CredentialFamily.INFERENCE_KEY,
        CredentialFamily.MANAGEMENT_KEY,
    }
)


class AccountRole(StrEnum):
    """An account's authority level (JWT ``tm_role``)."""

    USER = "user"
    ADMIN = "admin"
    SUPER_ADMIN = "super_admin"


class AgentLifecycle(StrEnum):
    """Whether the acting agent has an owner (JWT ``tm_lcs``)."""

    REGISTERED_UNCLAIMED = "registered_unclaimed"
    CLAIMED = "claimed"


class AgentStatus(StrEnum):
    """Whether the acting agent may act (JWT ``tm_sts``); tokens only ever say active."""

    ACTIVE = "active"
    SUSPENDED = "suspended"


# ---------------------------------------------------------------------------------------------
# Errors


class AccessTokenMissing(Unauthenticated):
    reason = "ACCESS_TOKEN_MISSING"
    default_message = "an access token is required"


class AccessTokenInvalid(Unauthenticated):
    reason = "ACCESS_TOKEN_INVALID"
    default_message = "the access token is invalid"

    def __init__(self, detail: str = "invalid") -> None:
        super().__init__()
        self.detail = detail
        """Which check failed, for logs and tests; never shown to the caller."""


class AccessTokenExpired(Unauthenticated):
    reason = "ACCESS_TOKEN_EXPIRED"
    default_message = "the access token has expired"

    def __init__(self, detail: str = "expired") -> None:
        super().__init__()
        self.detail = detail


class ScopeMissing(PermissionDenied):
    reason = "SCOPE_MISSING"
    default_message = "the access token lacks the required scope"

    def __init__(self, scope: str) -> None:
        super().__init__(f"the access token lacks the scope {scope}", metadata={"scope": scope})
        self.scope = scope


class PublicKeysUnavailable(Unavailable):
    reason = "PUBLIC_KEYS_UNAVAILABLE"
    default_message = "access tokens cannot be verified right now; retry later"


# ---------------------------------------------------------------------------------------------
# Where keys come from


@dataclass(frozen=True)
class PublishedKey:
    """One verification key as auth publishes it."""

    key_id: str
    public_key: bytes
    """The raw 32-byte Ed25519 public key."""
    not_before: datetime.datetime
    """Tokens signed with this key are valid no earlier than this (timezone-aware)."""
    not_after: datetime.datetime | None = None
    """After this, tokens signed with this key are rejected; None while active or next."""


class PublicKeySource(Protocol):
    """Where the verifier gets auth's current verification keys."""

    async def fetch(self) -> list[PublishedKey]: ...


class AuthPublicKeys:
    """:class:`PublicKeySource` over ``AuthService.GetPublicKeys`` on a channel to auth."""

    def __init__(self, channel: grpc.aio.Channel, *, timeout_s: float = 2.0) -> None:
        self._stub = auth_pb2_grpc.AuthServiceStub(channel)
        self._timeout_s = timeout_s

    async def fetch(self) -> list[PublishedKey]:
        response = await self._stub.GetPublicKeys(
            auth_pb2.GetPublicKeysRequest(), timeout=self._timeout_s
        )
        if response.issuer and response.issuer != ISSUER:
            raise ValueError("GetPublicKeys answered for an unexpected issuer")
        keys: list[PublishedKey] = []
        for key in response.keys:
            if key.algorithm != auth_pb2.SIGNING_ALGORITHM_ED25519:
                logger.warning("skipping a published key with an unknown algorithm")
                continue
            keys.append(
                PublishedKey(
                    key_id=key.key_id,
                    public_key=bytes(key.public_key),
                    not_before=key.not_before.ToDatetime(tzinfo=datetime.UTC),
                    not_after=(
                        key.not_after.ToDatetime(tzinfo=datetime.UTC)
                        if key.HasField("not_after")
                        else None
                    ),
                )
            )
        return keys


# ---------------------------------------------------------------------------------------------
# What a verified token says


@dataclass(frozen=True)
class KeyLimits:
    """The limits of the API key behind a key credential (JWT ``tm_cl``/``tm_rpm``/…)."""

    rate_limit_rpm: int
    credit_limit_micros: int | None = None
    allowed_models: tuple[str, ...] = ()
    """Empty means every active model."""
    expires_at: datetime.datetime | None = None
    is_management: bool = False


@dataclass(frozen=True)
class VerifiedPrincipal:
    """Who a verified access token speaks for: auth.proto's ``Principal``, from the claims."""

    credential_family: CredentialFamily
    subject: str
    scopes: frozenset[str]
    jti: str
    issued_at: datetime.datetime
    expires_at: datetime.datetime
    account_id: str | None = None
    """Only for sessions: an agent credential never carries account authority."""
    agent_id: str | None = None
    """The acting agent: the key's agent, or the owned agent a session named."""
    key_id: str | None = None
    session_id: str | None = None
    role: AccountRole | None = None
    agent_lifecycle: AgentLifecycle | None = None
    agent_status: AgentStatus | None = None
    agent_owner_account_id: str | None = None
    """For display and conflict checks only; never authority to act as that account."""
    key_limits: KeyLimits | None = None
    service_name: str | None = None
    token: str = field(default="", repr=False, compare=False)
    """The verified token itself, to forward unchanged to other services; never log it."""

    @property
    def is_agent(self) -> bool:
        """The credential is one of an agent's keys (acts as the agent, never as an account)."""
        return self.credential_family in AGENT_FAMILIES

    @property
    def is_account(self) -> bool:
        """The credential is an account session."""
        return self.credential_family is CredentialFamily.SESSION

    @property
    def is_service(self) -> bool:
        """The credential is a peer service's own token."""
        return self.credential_family is CredentialFamily.SERVICE

    def has_scope(self, scope: str) -> bool:
        assert scope in SCOPES, f"unknown scope {scope!r}"
        return scope in self.scopes

    def require_scope(self, scope: str) -> None:
        """Raise :class:`ScopeMissing` (PERMISSION_DENIED, metadata ``scope``) without it."""
        if not self.has_scope(scope):
            raise ScopeMissing(scope)

    def authorization_metadata(self) -> tuple[tuple[str, str], ...]:
        """Metadata that forwards this same token to another service."""
        return authorization_metadata(self.token)


# ---------------------------------------------------------------------------------------------
# The verifier


@dataclass(frozen=True)
class _CachedKey:
    key_id: str
    public_key: Ed25519PublicKey
    not_before_s: float
    not_after_s: float | None


VERIFIED_CACHE_MAX = 4096
"""How many tokens whose signatures were checked are remembered (the oldest is dropped first)."""


@dataclass(frozen=True)
class _Verified:
    """A token whose signature one key verified, and the claims it carried."""

    key: _CachedKey
    claims: Mapping[str, Any]


class AccessTokenVerifier:
    """Verifies auth's access tokens for one audience; safe to share within one event loop.

    A caller presents the same token on many calls (it lives for minutes), so the result of the
    expensive part, parsing and checking the Ed25519 signature, is remembered per token string
    for as long as the key that verified it is the one published under its ``kid``. Every
    time-dependent check (expiry, not-before, key validity) and every claim check runs again on
    each call, so a cached token is refused at exactly the moment an uncached one would be; a
    key withdrawn or replaced by auth stops matching at the next key refresh.
    """

    def __init__(
        self,
        source: PublicKeySource,
        *,
        audience: str,
        issuer: str = ISSUER,
        clock: Callable[[], float] = time.time,
        leeway_s: float = DEFAULT_LEEWAY_S,
        max_lifetime_s: int = MAX_LIFETIME_S,
        refresh_interval_s: float = 60.0,
        min_refresh_interval_s: float = 10.0,
        fetch_timeout_s: float = 3.0,
        max_stale_s: float = 3600.0,
    ) -> None:
        assert audience in AUDIENCES, f"unknown audience {audience!r}"
        assert 0 <= leeway_s <= 60, "leeway is meant to absorb clock skew, not to extend tokens"
        assert 0 < max_lifetime_s <= MAX_LIFETIME_S
        assert 0 <= min_refresh_interval_s <= refresh_interval_s <= max_stale_s
        assert fetch_timeout_s > 0
        self._source = source
        self._audience = audience
        self._issuer = issuer
        self._clock = clock
        self._leeway_s = leeway_s
        self._max_lifetime_s = max_lifetime_s
        self._refresh_interval_s = refresh_interval_s
        self._min_refresh_interval_s = min_refresh_interval_s
        self._fetch_timeout_s = fetch_timeout_s
        self._max_stale_s = max_stale_s
        self._keys: dict[str, _CachedKey] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._last_attempt_failed = False
        self._in_flight: asyncio.Task[None] | None = None
        self._verified: dict[str, _Verified] = {}

    @property
    def audience(self) -> str:
        return self._audience

    async def refresh(self) -> None:
        """Fetch the keys now (e.g. at start-up), sharing a fetch already in flight."""
        await self._refresh(force=True)

    async def verify(self, token: str) -> VerifiedPrincipal:
        """The principal of a valid token, or an ``Unauthenticated`` subclass saying why not."""
        if not token:
            raise AccessTokenMissing()
        remembered = self._verified.get(token)
        if remembered is not None:
            key = await self._key_for(remembered.key.key_id)
            if key is remembered.key:
                now = self._check_key_time(key)
                return self._principal(remembered.claims, token=token, key=key, now=now)
            del self._verified[token]  # auth republished its keys: verify against them again
        header = _parse_header(token)
        key = await self._key_for(_checked_kid(header))
        now = self._check_key_time(key)
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key.public_key, algorithms=[ALGORITHM], options=_SIGNATURE_ONLY
            )
        except jwt.InvalidTokenError:
            raise AccessTokenInvalid("signature") from None
        principal = self._principal(claims, token=token, key=key, now=now)
        if len(self._verified) >= VERIFIED_CACHE_MAX:
            del self._verified[next(iter(self._verified))]
        self._verified[token] = _Verified(key=key, claims=claims)
        return principal

    def _check_key_time(self, key: _CachedKey) -> float:
        """The current time, once the key is checked to be valid at it."""
        now = self._clock()
        if now + self._leeway_s < key.not_before_s:
            raise AccessTokenInvalid("signing key not yet valid")
        if key.not_after_s is not None and now >= key.not_after_s:
            raise AccessTokenInvalid("signing key retired")
        return now

    # -- keys ----------------------------------------------------------------------------------

    async def _key_for(self, kid: str) -> _CachedKey:
        now = self._clock()
        if self._fetched_at is None or now - self._fetched_at >= self._refresh_interval_s:
            await self._refresh(force=False)
        now = self._clock()
        if self._fetched_at is None or now - self._fetched_at > self._max_stale_s:
            raise PublicKeysUnavailable()
        key = self._keys.get(kid)
        if key is None:
            # Maybe auth rotated: refresh early, but never more than once per interval.
            await self._refresh(force=False)
            key = self._keys.get(kid)
        if key is None:
            if self._last_attempt_failed:
                raise PublicKeysUnavailable()
            raise AccessTokenInvalid("unknown kid")
        return key

    async def _refresh(self, *, force: bool) -> None:
        if self._in_flight is None:
            now = self._clock()
            recently = (
                self._attempted_at is not None
                and now - self._attempted_at < self._min_refresh_interval_s
            )
            if recently and not force:
                return
            self._attempted_at = now
            self._in_flight = asyncio.create_task(self._fetch())
        # Shielded: a cancelled verification must not cancel the fetch others are waiting for.
        await asyncio.shield(self._in_flight)

    async def _fetch(self) -> None:
        try:
            async with asyncio.timeout(self._fetch_timeout_s):
                published = await self._source.fetch()
            keys = _cache_entries(published)
        except Exception as error:  # noqa: BLE001 - any failure keeps the last good keys
            self._last_attempt_failed = True
            logger.warning(
                "fetching the access-token public keys failed; keeping the cached keys",
                extra={"error": type(error).__name__, "cached_keys": len(self._keys)},
            )
        else:
            self._keys = keys
            self._fetched_at = self._clock()
            self._last_attempt_failed = False
        finally:
            self._in_flight = None

    # -- claims --------------------------------------------------------------------------------

    def _principal(
        self, claims: Mapping[str, Any], *, token: str, key: _CachedKey, now: float
    ) -> VerifiedPrincipal:
        if claims.get("iss") != self._issuer:
            raise AccessTokenInvalid("iss")
        if self._audience not in _audiences(claims.get("aud")):
            raise AccessTokenInvalid("aud")
        issued_at = _numeric_date(claims, "iat")
        not_before = _numeric_date(claims, "nbf")
        expires_at = _numeric_date(claims, "exp")
        if expires_at <= issued_at or not_before >= expires_at:
            raise AccessTokenInvalid("exp not after iat and nbf")
        if expires_at - issued_at > self._max_lifetime_s:
            raise AccessTokenInvalid("lifetime too long")
        if issued_at > now + self._leeway_s:
            raise AccessTokenInvalid("iat in the future")
        if issued_at + self._leeway_s < key.not_before_s:
            raise AccessTokenInvalid("iat before the signing key was valid")
        if not_before > now + self._leeway_s:
            raise AccessTokenInvalid("nbf not reached")
        if now >= expires_at + self._leeway_s:
            raise AccessTokenExpired("exp passed")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not _UUID_PATTERN.fullmatch(jti):
            raise AccessTokenInvalid("jti")
        facts = _Facts(claims, now=now, leeway_s=self._leeway_s)
        return VerifiedPrincipal(
            jti=jti,
            issued_at=_datetime(issued_at),
            expires_at=_datetime(expires_at),
            token=token,
            **facts.principal_fields(),
        )


class _Facts:
    """The subject, ``tm_*`` and ``scope`` claims, checked against each other."""

    def __init__(self, claims: Mapping[str, Any], *, now: float, leeway_s: float) -> None:
        self.claims = claims
        self.now = now
        self.leeway_s = leeway_s

    def principal_fields(self) -> dict[str, Any]:
        subject = self.claims.get("sub")
        match = _SUBJECT_PATTERN.fullmatch(subject) if isinstance(subject, str) else None
        if match is None:
            raise AccessTokenInvalid("sub")
        family = self._enum("tm_fam", CredentialFamily, required=True)
        assert family is not None
        if family is CredentialFamily.SERVICE:
            fields = self._service(service_name=match.group(4), subject_kind=match.group(3))
        elif family is CredentialFamily.SESSION:
            fields = self._session(account_id=match.group(2), subject_kind=match.group(1))
        else:
            fields = self._agent_key(family, agent_id=match.group(2), subject_kind=match.group(1))
        fields["scopes"] = self._scopes(family, fields)
        return {"credential_family": family, "subject": subject, **fields}

    def _service(self, *, service_name: str | None, subject_kind: str | None) -> dict[str, Any]:
        if subject_kind != "service" or service_name not in PEER_NAMES:
            raise AccessTokenInvalid("sub does not name a service")
        if self.claims.get("tm_svc") != service_name:
            raise AccessTokenInvalid("tm_svc")
        self._absent(
            "tm_acc", "tm_agt", "tm_key", "tm_sid", "tm_role", "tm_lcs", "tm_sts", "tm_own"
        )
        self._absent("tm_rpm", "tm_cl", "tm_mdl", "tm_kexp")
        return {"service_name": service_name}

    def _session(self, *, account_id: str | None, subject_kind: str | None) -> dict[str, Any]:
        if subject_kind != "account" or self.claims.get("tm_acc") != account_id:
            raise AccessTokenInvalid("sub/tm_acc")
        self._absent("tm_key", "tm_svc", "tm_rpm", "tm_cl", "tm_mdl", "tm_kexp")
        fields: dict[str, Any] = {
            "account_id": account_id,
            "session_id": self._uuid("tm_sid", required=True),
            "role": self._enum("tm_role", AccountRole, required=True),
        }
        agent_id = self._uuid("tm_agt", required=False)
        if agent_id is None:
            self._absent("tm_lcs", "tm_sts", "tm_own")
            return fields
        # A session acts as an agent only when it owns it (auth checked X-Agent-Id).
        agent = self._acting_agent(agent_id)
        if (
            self._uuid("tm_own", required=True) != account_id
            or agent["agent_lifecycle"] is not AgentLifecycle.CLAIMED
        ):
            raise AccessTokenInvalid("tm_own/tm_lcs")
        return {**fields, **agent, "agent_owner_account_id": account_id}

    def _agent_key(
        self, family: CredentialFamily, *, agent_id: str | None, subject_kind: str | None
    ) -> dict[str, Any]:
        if subject_kind != "agent" or self.claims.get("tm_agt") != agent_id:
            raise AccessTokenInvalid("sub/tm_agt")
        assert agent_id is not None
        # The point of SPEC §1: an agent credential never carries account authority.
        self._absent("tm_acc", "tm_sid", "tm_role", "tm_svc")
        agent = self._acting_agent(agent_id)
        owner = self._uuid("tm_own", required=False)
        if (owner is not None) != (agent["agent_lifecycle"] is AgentLifecycle.CLAIMED):
            raise AccessTokenInvalid("tm_own/tm_lcs")
        return {
            "key_id": self._uuid("tm_key", required=True),
            "agent_owner_account_id": owner,
            "key_limits": self._key_limits(family),
            **agent,
        }

    def _acting_agent(self, agent_id: str) -> dict[str, Any]:
        lifecycle = self._enum("tm_lcs", AgentLifecycle, required=True)
        status = self._enum("tm_sts", AgentStatus, required=True)
        if status is not AgentStatus.ACTIVE:
            raise AccessTokenInvalid("tm_sts")
        return {"agent_id": agent_id, "agent_lifecycle": lifecycle, "agent_status": status}

    def _key_limits(self, family: CredentialFamily) -> KeyLimits:
        rpm = self.claims.get("tm_rpm")
        if not _is_int(rpm) or not 1 <= rpm <= _RPM_MAX:
            raise AccessTokenInvalid("tm_rpm")
        credit_limit = self.claims.get("tm_cl")
        if credit_limit is not None and (not _is_int(credit_limit) or credit_limit < 0):
            raise AccessTokenInvalid("tm_cl")
        models = self.claims.get("tm_mdl", [])
        if (
            not isinstance(models, list)
            or len(models) > _MODELS_MAX
            or not all(isinstance(m, str) and 0 < len(m) <= _MODEL_ID_MAX_LENGTH for m in models)
        ):
            raise AccessTokenInvalid("tm_mdl")
        key_expires_at: datetime.datetime | None = None
        if "tm_kexp" in self.claims:
            expiry = _numeric_date(self.claims, "tm_kexp")
            if self.now >= expiry + self.leeway_s:
                raise AccessTokenExpired("key expired")
            key_expires_at = _datetime(expiry)
        return KeyLimits(
            rate_limit_rpm=rpm,
            credit_limit_micros=credit_limit,
            allowed_models=tuple(models),
            expires_at=key_expires_at,
            is_management=family is CredentialFamily.MANAGEMENT_KEY,
        )

    def _scopes(self, family: CredentialFamily, fields: Mapping[str, Any]) -> frozenset[str]:
        raw = self.claims.get("scope", "")
        if not isinstance(raw, str) or len(raw) > 512:
            raise AccessTokenInvalid("scope")
        scopes = frozenset(raw.split(" ")) if raw else frozenset()
        allowed = _allowed_scopes(
            family,
            role=fields.get("role"),
            acting_agent=fields.get("agent_id") is not None,
            service_name=fields.get("service_name"),
        )
        if not scopes <= allowed:
            raise AccessTokenInvalid("scope not allowed for the credential")
        return scopes

    def _absent(self, *names: str) -> None:
        for name in names:
            if name in self.claims:
                raise AccessTokenInvalid(f"{name} not allowed for this credential")

    def _uuid(self, name: str, *, required: bool) -> str | None:
        value = self.claims.get(name)
        if value is None and not required and name not in self.claims:
            return None
        if not isinstance(value, str) or not _UUID_PATTERN.fullmatch(value):
            raise AccessTokenInvalid(name)
        return value

    def _enum(self, name: str, kind: type[_E], *, required: bool) -> _E | None:
        value = self.claims.get(name)
        if value is None and not required and name not in self.claims:
            return None
        if not isinstance(value, str) or value not in kind._value2member_map_:
            raise AccessTokenInvalid(name)
        return kind(value)


def _allowed_scopes(
    family: CredentialFamily,
    *,
    role: AccountRole | None,
    acting_agent: bool,
    service_name: str | None,
) -> frozenset[str]:
    """The most a family may carry (auth.proto, "Scopes by credential family")."""
    if family is CredentialFamily.AGENT_KEY:
        return frozenset({Scope.AGENT_READ, Scope.AGENT_WRITE})
    if family is CredentialFamily.INFERENCE_KEY:
        return frozenset({Scope.AGENT_READ, Scope.INFERENCE})
    if family is CredentialFamily.MANAGEMENT_KEY:
        return frozenset({Scope.AGENT_READ, Scope.KEYS_MANAGE})
    if family is CredentialFamily.SERVICE:
        return frozenset({Scope.SERVICE, *([Scope.OPERATOR] if service_name == "ctl" else [])})
    allowed: set[str] = {Scope.ACCOUNT}
    if role in (AccountRole.ADMIN, AccountRole.SUPER_ADMIN):
        allowed.add(Scope.ADMIN)
    if role is AccountRole.SUPER_ADMIN:
        allowed.add(Scope.SUPER_ADMIN)
    if acting_agent:
        allowed |= {Scope.AGENT_READ, Scope.AGENT_WRITE, Scope.KEYS_MANAGE}
    return frozenset(allowed)


# ---------------------------------------------------------------------------------------------
# Token shape


def _parse_header(token: str) -> dict[str, Any]:
    """The JOSE header of a well-shaped token, with ``alg``/``typ``/forbidden fields checked."""
    if len(token) > MAX_TOKEN_LENGTH or not _TOKEN_PATTERN.fullmatch(token):
        raise AccessTokenInvalid("malformed")
    header_segment, payload_segment, signature_segment = token.split(".")
    header_bytes = _canonical_b64decode(header_segment)
    _canonical_b64decode(payload_segment)
    if len(_canonical_b64decode(signature_segment)) != ED25519_SIGNATURE_BYTES:
        raise AccessTokenInvalid("signature length")
    try:
        header = json.loads(
            header_bytes, object_pairs_hook=_no_duplicates, parse_constant=_no_constants
        )
    except (ValueError, UnicodeDecodeError):
        raise AccessTokenInvalid("header not JSON") from None
    if not isinstance(header, dict):
        raise AccessTokenInvalid("header not an object")
    # Checked before any key is looked up: the token never chooses how it is verified.
    if header.get("alg") != ALGORITHM:
        raise AccessTokenInvalid("alg")
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in TOKEN_TYPES:
        raise AccessTokenInvalid("typ")
    if _FORBIDDEN_HEADER_PARAMETERS & header.keys():
        raise AccessTokenInvalid("forbidden header parameter")
    return header


def _checked_kid(header: Mapping[str, Any]) -> str:
    kid = header.get("kid")
    if not isinstance(kid, str) or not _KID_PATTERN.fullmatch(kid):
        raise AccessTokenInvalid("kid")
    return kid


def _canonical_b64decode(segment: str) -> bytes:
    """base64url without padding, rejecting any second spelling of the same bytes."""
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise AccessTokenInvalid("base64") from None
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != segment:
        raise AccessTokenInvalid("non-canonical base64")
    return raw


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member")
    return result


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _numeric_date(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or not 0 <= value < _NUMERIC_DATE_MAX
    ):
        raise AccessTokenInvalid(name)
    return float(value)


def _audiences(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise AccessTokenInvalid("aud")


def _datetime(seconds: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)


def _cache_entries(published: Iterable[PublishedKey]) -> dict[str, _CachedKey]:
    entries: dict[str, _CachedKey] = {}
    conflicting: set[str] = set()
    for item in published:
        if (
            not _KID_PATTERN.fullmatch(item.key_id)
            or len(item.public_key) != ED25519_PUBLIC_KEY_BYTES
        ):
            logger.warning("skipping a malformed published key")
            continue
        entry = _CachedKey(
            key_id=item.key_id,
            public_key=Ed25519PublicKey.from_public_bytes(item.public_key),
            not_before_s=item.not_before.timestamp(),
            not_after_s=item.not_after.timestamp() if item.not_after is not None else None,
        )
        if item.key_id in entries:
            # Two keys under one kid: trust neither rather than guess.
            conflicting.add(item.key_id)
        entries[item.key_id] = entry
    for kid in conflicting:
        logger.warning("dropping a key id published twice", extra={"kid": kid})
        del entries[kid]
    return entries


# ---------------------------------------------------------------------------------------------
# gRPC metadata


def authorization_metadata(token: str) -> tuple[tuple[str, str], ...]:
    """Client side: the metadata that carries ``token`` to a TokenMart service."""
    if not token or not _TOKEN_PATTERN.fullmatch(token):
        raise ValueError("not an access token")
    return ((AUTHORIZATION_METADATA_KEY, f"Bearer {token}"),)


def bearer_token(value: str) -> str:
    """The token in an ``authorization`` value ``Bearer <token>`` (scheme case-insensitive)."""
    scheme, _, token = value.strip().partition(" ")
    if not scheme:
        raise AccessTokenMissing()
    if scheme.lower() != "bearer":
        raise AccessTokenInvalid("authorization scheme")
    token = token.strip()
    if not token:
        raise AccessTokenMissing()
    return token


async def principal_from_context(
    context: grpc.aio.ServicerContext,
    verifier: AccessTokenVerifier,
    *,
    scope: str | None,
) -> VerifiedPrincipal:
    """Server side: verify the call's ``authorization`` metadata and, if given, one scope."""
    values = [
        value
        for key, value in context.invocation_metadata() or ()
        if key.lower() == AUTHORIZATION_METADATA_KEY
    ]
    if not values:
        raise AccessTokenMissing()
    if len(values) > 1 or not isinstance(values[0], str):
        raise AccessTokenInvalid("ambiguous authorization metadata")
    principal = await verifier.verify(bearer_token(values[0]))
    if scope is not None:
        principal.require_scope(scope)
    return principal

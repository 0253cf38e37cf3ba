"""Access tokens: the claims auth signs, and auth's own check of the tokens it receives.

Header: ``alg`` EdDSA (Ed25519, the only algorithm), ``typ`` ``at+jwt``, ``kid`` of the signing
key. Claims (auth.proto, "Principal authorization"): ``iss``, ``aud``, ``iat``, ``nbf``, ``exp``
(at most 300 s after ``iat``), ``jti``, ``sub``, ``scope`` and the ``tm_*`` facts of the
:class:`~services.auth.domain.principal.Principal`; a claim whose value is empty is omitted.

Other services verify with ``services.common.tokens``. Auth verifies the tokens presented to its
own RPCs here, with its own keys: the algorithm is pinned before any key is touched, the key is
chosen only by ``kid`` among auth's keys, and every time is checked against the injected clock.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.auth.domain.principal import (
    AccountRole,
    AgentLifecycle,
    AgentStatus,
    Audience,
    CredentialFamily,
    KeyLimits,
    Principal,
    Scope,
    scopes_for,
)

ISSUER: Final = "tokenmart-auth"
ALGORITHM: Final = "EdDSA"
TOKEN_TYPE: Final = "at+jwt"  # noqa: S105 - a JOSE media type, not a secret
MAX_LIFETIME_S: Final = 300
MAX_TOKEN_LENGTH: Final = 8192
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_SUBJECT = re.compile(rf"^(?:(agent|account):({_UUID})|service:([a-z]{{1,32}}))$")
_UUID_PATTERN = re.compile(rf"^{_UUID}$")
_SIGNATURE_ONLY: Final[Any] = {
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
_E = TypeVar("_E", CredentialFamily, AccountRole, AgentLifecycle, AgentStatus)
_FORBIDDEN_HEADERS = frozenset({"crit", "b64", "jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256"})


@dataclass(frozen=True)
class SigningMaterial:
    """The key auth signs with (decrypted in memory only)."""

    key_id: str
    private_key: Ed25519PrivateKey

    def __repr__(self) -> str:
        return f"SigningMaterial(key_id={self.key_id!r}, private_key=<redacted>)"


@dataclass(frozen=True)
class VerificationKey:
    key_id: str
    public_key: Ed25519PublicKey
    not_before_s: float
    not_after_s: float | None


@dataclass(frozen=True)
class IssuedToken:
    token: str
    jti: str
    issued_at_s: int
    expires_at_s: int


@dataclass(frozen=True)
class VerifiedToken:
    principal: Principal
    jti: str
    issued_at_s: int
    expires_at_s: int


class TokenRejected(Exception):
    """The token is not acceptable; ``detail`` is for logs and tests only."""

    def __init__(self, detail: str, *, expired: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.expired = expired


class UnknownKeyId(TokenRejected):
    """The kid names no key we hold; the keyring may be stale (a rotation by another replica)."""


def _omit_empty(claims: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in claims.items() if value not in (None, "", [], ())}


def build_claims(
    principal: Principal,
    *,
    audiences: Iterable[Audience],
    issued_at_s: int,
    ttl_s: int,
    jti: str,
) -> dict[str, Any]:
    """The claims of a token for ``principal``; its lifetime is at most five minutes."""
    assert 0 < ttl_s <= MAX_LIFETIME_S
    audience_list = sorted({audience.value for audience in audiences})
    assert audience_list, "a token is for at least one service"
    limits = principal.key_limits
    return _omit_empty(
        {
            "iss": ISSUER,
            "aud": audience_list,
            "iat": issued_at_s,
            "nbf": issued_at_s,
            "exp": issued_at_s + ttl_s,
            "jti": jti,
            "sub": principal.subject,
            "scope": " ".join(sorted(scope.value for scope in principal.scopes)),
            "tm_fam": principal.family.value,
            "tm_acc": _text(principal.account_id),
            "tm_agt": _text(principal.agent_id),
            "tm_key": _text(principal.key_id),
            "tm_sid": _text(principal.session_id),
            "tm_role": principal.role.value if principal.role else None,
            "tm_lcs": principal.agent_lifecycle.value if principal.agent_lifecycle else None,
            "tm_sts": principal.agent_status.value if principal.agent_status else None,
            "tm_own": _text(principal.agent_owner_account_id),
            "tm_svc": principal.service_name,
            "tm_cl": limits.credit_limit_micros if limits else None,
            "tm_rpm": limits.rate_limit_rpm if limits else None,
            "tm_mdl": list(limits.allowed_models) if limits else None,
            "tm_kexp": limits.expires_at_s if limits else None,
        }
    )


def _text(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


def sign(claims: Mapping[str, Any], material: SigningMaterial) -> str:
    return jwt.encode(
        dict(claims),
        material.private_key,
        algorithm=ALGORITHM,
        headers={"kid": material.key_id, "typ": TOKEN_TYPE},
    )


def header_key_id(token: str) -> str:
    """The kid of a token whose header is acceptable, checked before any key is used."""
    if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
        raise TokenRejected("malformed")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise TokenRejected("header") from None
    if header.get("alg") != ALGORITHM:
        raise TokenRejected("alg")
    if header.get("typ") not in (TOKEN_TYPE, f"application/{TOKEN_TYPE}"):
        raise TokenRejected("typ")
    if _FORBIDDEN_HEADERS & header.keys():
        raise TokenRejected("header parameters")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenRejected("kid")
    return kid


def verify(
    token: str,
    *,
    keys: Mapping[str, VerificationKey],
    audience: Audience,
    now_s: float,
    leeway_s: float,
) -> VerifiedToken:
    """Check header, key, signature and claims; raise :class:`TokenRejected` if any fails."""
    kid = header_key_id(token)
    key = keys.get(kid)
    if key is None:
        raise UnknownKeyId("unknown kid")
    if now_s + leeway_s < key.not_before_s:
        raise TokenRejected("signing key not yet valid")
    if key.not_after_s is not None and now_s >= key.not_after_s:
        raise TokenRejected("signing key retired")
    try:
        claims: dict[str, Any] = jwt.decode(
            token, key.public_key, algorithms=[ALGORITHM], options=_SIGNATURE_ONLY
        )
    except jwt.InvalidTokenError:
        raise TokenRejected("signature") from None
    if claims.get("iss") != ISSUER:
        raise TokenRejected("iss")
    audiences = claims.get("aud")
    if isinstance(audiences, str):
        audiences = [audiences]
    if not isinstance(audiences, list) or audience.value not in audiences:
        raise TokenRejected("aud")
    issued_at, not_before, expires_at = (_int_claim(claims, name) for name in ("iat", "nbf", "exp"))
    if not issued_at <= not_before < expires_at or expires_at - issued_at > MAX_LIFETIME_S:
        raise TokenRejected("lifetime")
    if issued_at > now_s + leeway_s or issued_at + leeway_s < key.not_before_s:
        raise TokenRejected("iat")
    if not_before > now_s + leeway_s:
        raise TokenRejected("nbf")
    if now_s >= expires_at + leeway_s:
        raise TokenRejected("exp", expired=True)
    jti = claims.get("jti")
    if not isinstance(jti, str) or not _UUID_PATTERN.match(jti):
        raise TokenRejected("jti")
    principal = principal_from_claims(claims)
    limits = principal.key_limits
    if limits is not None and limits.expires_at_s is not None and now_s >= limits.expires_at_s:
        raise TokenRejected("key expired", expired=True)
    return VerifiedToken(
        principal=principal, jti=jti, issued_at_s=issued_at, expires_at_s=expires_at
    )


def _int_claim(claims: Mapping[str, Any], name: str) -> int:
    value = claims.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**53:
        raise TokenRejected(name)
    return value


def _uuid_claim(claims: Mapping[str, Any], name: str) -> uuid.UUID | None:
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not _UUID_PATTERN.match(value):
        raise TokenRejected(name)
    return uuid.UUID(value)


def _enum_claim(claims: Mapping[str, Any], name: str, kind: type[_E]) -> _E | None:
    value = claims.get(name)
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        raise TokenRejected(name) from None


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """The principal a signed token speaks for, with its facts checked against each other."""
    subject = claims.get("sub")
    match = _SUBJECT.match(subject) if isinstance(subject, str) else None
    family = _enum_claim(claims, "tm_fam", CredentialFamily)
    if match is None or family is None:
        raise TokenRejected("sub/tm_fam")
    kind, subject_id, service = match.group(1), match.group(2), match.group(3)
    raw_scope = claims.get("scope", "")
    if not isinstance(raw_scope, str):
        raise TokenRejected("scope")
    try:
        scopes = frozenset(Scope(item) for item in raw_scope.split(" ") if item)
    except ValueError:
        raise TokenRejected("scope") from None
    agent_id = _uuid_claim(claims, "tm_agt")
    lifecycle = _enum_claim(claims, "tm_lcs", AgentLifecycle)
    status = _enum_claim(claims, "tm_sts", AgentStatus)
    role = _enum_claim(claims, "tm_role", AccountRole)
    if (agent_id is None) != (lifecycle is None) or (agent_id is None) != (status is None):
        raise TokenRejected("agent facts")
    if status is AgentStatus.SUSPENDED:
        raise TokenRejected("tm_sts")
    if family is CredentialFamily.SERVICE:
        if service is None or claims.get("tm_svc") != service or agent_id or role:
            raise TokenRejected("service subject")
        allowed = scopes_for(family, service_name=service)
        principal = Principal(family=family, scopes=scopes, service_name=service)
    elif family is CredentialFamily.SESSION:
        account_id = _uuid_claim(claims, "tm_acc")
        if kind != "account" or str(account_id) != subject_id or role is None:
            raise TokenRejected("session subject")
        owner = _uuid_claim(claims, "tm_own")
        if agent_id is not None and owner != account_id:
            raise TokenRejected("tm_own")
        session_id = _uuid_claim(claims, "tm_sid")
        if session_id is None or "tm_key" in claims:
            raise TokenRejected("tm_sid")
        allowed = scopes_for(family, role=role, acting_agent=agent_id is not None)
        principal = Principal(
            family=family,
            scopes=scopes,
            account_id=account_id,
            session_id=session_id,
            role=role,
            agent_id=agent_id,
            agent_lifecycle=lifecycle,
            agent_status=status,
            agent_owner_account_id=owner,
        )
    else:
        if kind != "agent" or str(agent_id) != subject_id:
            raise TokenRejected("agent subject")
        if {"tm_acc", "tm_sid", "tm_role", "tm_svc"} & claims.keys():
            raise TokenRejected("account claims on an agent credential")
        key_id = _uuid_claim(claims, "tm_key")
        if key_id is None:
            raise TokenRejected("tm_key")
        allowed = scopes_for(family)
        principal = Principal(
            family=family,
            scopes=scopes,
            agent_id=agent_id,
            key_id=key_id,
            agent_lifecycle=lifecycle,
            agent_status=status,
            agent_owner_account_id=_uuid_claim(claims, "tm_own"),
            key_limits=_key_limits(claims, family),
        )
    if not scopes <= allowed:
        raise TokenRejected("scope not allowed for the credential")
    return principal


def _key_limits(claims: Mapping[str, Any], family: CredentialFamily) -> KeyLimits:
    rpm = claims.get("tm_rpm")
    credit = claims.get("tm_cl")
    models = claims.get("tm_mdl", [])
    expiry = claims.get("tm_kexp")
    if not isinstance(rpm, int) or isinstance(rpm, bool) or rpm < 1:
        raise TokenRejected("tm_rpm")
    if credit is not None and (not isinstance(credit, int) or isinstance(credit, bool)):
        raise TokenRejected("tm_cl")
    if not isinstance(models, list) or not all(isinstance(model, str) for model in models):
        raise TokenRejected("tm_mdl")
    if expiry is not None:
        expiry = _int_claim(claims, "tm_kexp")
    return KeyLimits(
        rate_limit_rpm=rpm,
        credit_limit_micros=credit,
        allowed_models=tuple(models),
        expires_at_s=expiry,
        is_management=family is CredentialFamily.MANAGEMENT_KEY,
    )

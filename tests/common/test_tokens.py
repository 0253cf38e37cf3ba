"""Access-token verification (services.common.tokens): THREATS I9 and the auth.proto contract.

Keys are real Ed25519 keys generated here, tokens are signed here with PyJWT, and keys reach the
verifier through a test :class:`PublicKeySource` (and, once, through a real AuthService stub over
mTLS). ``principal_from_context`` is exercised through a real ``GrpcServer``.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf import duration_pb2, timestamp_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenmart.auth.v1 import auth_pb2, auth_pb2_grpc

from ops.pki import IssuedFiles
from services.common.client import open_channel
from services.common.identity import PeerAllowlist
from services.common.server import GrpcServer
from services.common.settings import PeerTarget
from services.common.status import error_info
from services.common.tokens import (
    AccessTokenExpired,
    AccessTokenInvalid,
    AccessTokenMissing,
    AccessTokenVerifier,
    AccountRole,
    AgentLifecycle,
    AgentStatus,
    AuthPublicKeys,
    CredentialFamily,
    PublicKeysUnavailable,
    PublishedKey,
    Scope,
    ScopeMissing,
    VerifiedPrincipal,
    authorization_metadata,
    bearer_token,
    principal_from_context,
)
from tests.grpc_helpers import mtls_channel, raw_call, server_settings, tls_of

NOW = 1_750_000_000.0
AUDIENCE = "tokenmart.wallet"
AGENT = str(uuid.uuid4())
OWNER = str(uuid.uuid4())
KEY = str(uuid.uuid4())
SESSION = str(uuid.uuid4())
DROP = object()


def _utc(seconds: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)


@dataclass
class SigningKey:
    kid: str
    private: Ed25519PrivateKey

    @classmethod
    def generate(cls, kid: str) -> SigningKey:
        return cls(kid, Ed25519PrivateKey.generate())

    @property
    def raw_public(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    def published(
        self, *, not_before: float = NOW - 86_400, not_after: float | None = None
    ) -> PublishedKey:
        return PublishedKey(
            key_id=self.kid,
            public_key=self.raw_public,
            not_before=_utc(not_before),
            not_after=_utc(not_after) if not_after is not None else None,
        )


SIGNER = SigningKey.generate("k-2025-06-01")
ROTATED = SigningKey.generate("k-2025-07-01")


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class StaticKeys:
    """A PublicKeySource that counts fetches and can be held, failed or changed."""

    def __init__(self, keys: list[PublishedKey]) -> None:
        self.keys = list(keys)
        self.fetches = 0
        self.gate: asyncio.Event | None = None
        self.fail = False

    async def fetch(self) -> list[PublishedKey]:
        self.fetches += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise ConnectionError("auth is unreachable")
        return list(self.keys)


def agent_claims(**overrides: object) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": "tokenmart-auth",
        "aud": [AUDIENCE, "tokenmart.provider"],
        "sub": f"agent:{AGENT}",
        "iat": int(NOW) - 10,
        "nbf": int(NOW) - 10,
        "exp": int(NOW) + 290,
        "jti": str(uuid.uuid4()),
        "scope": "agent:read inference",
        "tm_fam": "inference_key",
        "tm_agt": AGENT,
        "tm_key": KEY,
        "tm_lcs": "claimed",
        "tm_sts": "active",
        "tm_own": OWNER,
        "tm_rpm": 60,
        "tm_cl": 5_000_000,
        "tm_mdl": ["gpt-4o-mini"],
    }
    return _apply(claims, overrides)


def session_claims(**overrides: object) -> dict[str, Any]:
    claims = agent_claims()
    for name in ("tm_agt", "tm_key", "tm_lcs", "tm_sts", "tm_own", "tm_rpm", "tm_cl", "tm_mdl"):
        del claims[name]
    claims.update(
        sub=f"account:{OWNER}",
        scope="account admin",
        tm_fam="session",
        tm_acc=OWNER,
        tm_sid=SESSION,
        tm_role="admin",
    )
    return _apply(claims, overrides)


def service_claims(**overrides: object) -> dict[str, Any]:
    claims = session_claims()
    for name in ("tm_acc", "tm_sid", "tm_role"):
        del claims[name]
    claims.update(sub="service:review", scope="service", tm_fam="service", tm_svc="review")
    return _apply(claims, overrides)


def _apply(claims: dict[str, Any], overrides: dict[str, object]) -> dict[str, Any]:
    for name, value in overrides.items():
        if value is DROP:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def sign(
    claims: dict[str, Any], key: SigningKey = SIGNER, *, headers: dict[str, Any] | None = None
) -> str:
    return jwt.encode(
        claims,
        key.private,
        algorithm="EdDSA",
        headers={"kid": key.kid, "typ": "at+jwt"} | (headers or {}),
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_token(header: dict[str, Any], claims: dict[str, Any], signature: bytes) -> str:
    return ".".join(
        (b64(json.dumps(header).encode()), b64(json.dumps(claims).encode()), b64(signature))
    )


HEADER = {"alg": "EdDSA", "typ": "at+jwt", "kid": SIGNER.kid}


def sign_raw(header: dict[str, Any], claims: dict[str, Any], key: SigningKey = SIGNER) -> str:
    """Sign any header at all (PyJWT refuses to write some of the bad ones we need)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(key.private.sign(signing_input.encode()))}"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def source() -> StaticKeys:
    return StaticKeys([SIGNER.published()])


@pytest.fixture
def make_verifier(clock: Clock, source: StaticKeys) -> Callable[..., AccessTokenVerifier]:
    def make(**options: Any) -> AccessTokenVerifier:
        return AccessTokenVerifier(
            options.pop("source", source), audience=AUDIENCE, clock=clock, **options
        )

    return make


@pytest.fixture
def verifier(make_verifier: Callable[..., AccessTokenVerifier]) -> AccessTokenVerifier:
    return make_verifier()


async def rejected(
    verifier: AccessTokenVerifier, token: str, error: type[Exception] = AccessTokenInvalid
) -> Any:
    with pytest.raises(error) as raised:
        await verifier.verify(token)
    return raised.value


# ---------------------------------------------------------------------------------------------
# Valid tokens


async def test_an_inference_key_token_verifies_into_its_principal(
    verifier: AccessTokenVerifier,
) -> None:
    claims = agent_claims()
    token = sign(claims)
    principal = await verifier.verify(token)
    assert principal.credential_family is CredentialFamily.INFERENCE_KEY
    assert principal.subject == f"agent:{AGENT}"
    assert principal.agent_id == AGENT
    assert principal.key_id == KEY
    assert principal.account_id is None
    assert principal.session_id is None
    assert principal.role is None
    assert principal.agent_lifecycle is AgentLifecycle.CLAIMED
    assert principal.agent_status is AgentStatus.ACTIVE
    assert principal.agent_owner_account_id == OWNER
    assert principal.scopes == frozenset({"agent:read", "inference"})
    assert principal.key_limits is not None
    assert principal.key_limits.rate_limit_rpm == 60
    assert principal.key_limits.credit_limit_micros == 5_000_000
    assert principal.key_limits.allowed_models == ("gpt-4o-mini",)
    assert principal.key_limits.is_management is False
    assert principal.jti == claims["jti"]
    assert principal.expires_at == _utc(claims["exp"])
    assert principal.issued_at == _utc(claims["iat"])
    assert principal.is_agent and not principal.is_account and not principal.is_service
    assert principal.token == token
    assert token not in repr(principal)
    assert principal.authorization_metadata() == (("authorization", f"Bearer {token}"),)


async def test_a_management_key_token_carries_management_limits(
    verifier: AccessTokenVerifier,
) -> None:
    token = sign(
        agent_claims(tm_fam="management_key", scope="agent:read keys:manage", tm_kexp=NOW + 3600)
    )
    principal = await verifier.verify(token)
    assert principal.key_limits is not None
    assert principal.key_limits.is_management is True
    assert principal.key_limits.expires_at == _utc(NOW + 3600)


async def test_an_unclaimed_agent_key_token_has_no_owner(verifier: AccessTokenVerifier) -> None:
    token = sign(
        agent_claims(
            tm_fam="agent_key",
            scope="agent:read agent:write",
            tm_lcs="registered_unclaimed",
            tm_own=DROP,
            tm_cl=DROP,
            tm_mdl=DROP,
        )
    )
    principal = await verifier.verify(token)
    assert principal.agent_lifecycle is AgentLifecycle.REGISTERED_UNCLAIMED
    assert principal.agent_owner_account_id is None
    assert principal.key_limits is not None and principal.key_limits.allowed_models == ()


async def test_a_session_token_verifies_into_an_account_principal(
    verifier: AccessTokenVerifier,
) -> None:
    principal = await verifier.verify(sign(session_claims()))
    assert principal.credential_family is CredentialFamily.SESSION
    assert principal.account_id == OWNER
    assert principal.session_id == SESSION
    assert principal.role is AccountRole.ADMIN
    assert principal.agent_id is None and principal.key_limits is None
    assert principal.scopes == frozenset({"account", "admin"})
    assert principal.is_account and not principal.is_agent and not principal.is_service


async def test_a_session_acting_as_an_owned_agent(verifier: AccessTokenVerifier) -> None:
    token = sign(
        session_claims(
            scope="account agent:read agent:write keys:manage",
            tm_role="user",
            tm_agt=AGENT,
            tm_lcs="claimed",
            tm_sts="active",
            tm_own=OWNER,
        )
    )
    principal = await verifier.verify(token)
    assert principal.account_id == OWNER and principal.agent_id == AGENT
    assert principal.agent_owner_account_id == OWNER


async def test_a_service_token_verifies_into_a_service_principal(
    verifier: AccessTokenVerifier,
) -> None:
    principal = await verifier.verify(sign(service_claims()))
    assert principal.is_service and principal.service_name == "review"
    assert principal.scopes == frozenset({"service"})
    ctl = await verifier.verify(
        sign(service_claims(sub="service:ctl", tm_svc="ctl", scope="service operator"))
    )
    assert ctl.scopes == frozenset({"service", "operator"})


async def test_a_single_string_audience_and_the_application_typ_are_accepted(
    verifier: AccessTokenVerifier,
) -> None:
    token = sign(agent_claims(aud=AUDIENCE), headers={"typ": "application/AT+JWT"})
    assert (await verifier.verify(token)).subject == f"agent:{AGENT}"


async def test_require_scope_raises_scope_missing_with_the_scope(
    verifier: AccessTokenVerifier,
) -> None:
    principal = await verifier.verify(sign(agent_claims()))
    principal.require_scope(Scope.INFERENCE)
    with pytest.raises(ScopeMissing) as missing:
        principal.require_scope(Scope.AGENT_WRITE)
    assert missing.value.reason == "SCOPE_MISSING"
    assert missing.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert missing.value.metadata == {"scope": "agent:write"}


# ---------------------------------------------------------------------------------------------
# Claims: missing or wrong


@pytest.mark.parametrize(
    "claim",
    [
        "iss",
        "aud",
        "exp",
        "nbf",
        "iat",
        "jti",
        "sub",
        "tm_fam",
        "tm_agt",
        "tm_key",
        "tm_lcs",
        "tm_sts",
        "tm_rpm",
        "tm_own",  # claimed agent without an owner
    ],
)
async def test_an_agent_token_missing_a_claim_is_invalid(
    verifier: AccessTokenVerifier, claim: str
) -> None:
    error = await rejected(verifier, sign(agent_claims(**{claim: DROP})))
    assert error.reason == "ACCESS_TOKEN_INVALID"


@pytest.mark.parametrize("claim", ["tm_acc", "tm_sid", "tm_role", "sub"])
async def test_a_session_token_missing_a_claim_is_invalid(
    verifier: AccessTokenVerifier, claim: str
) -> None:
    await rejected(verifier, sign(session_claims(**{claim: DROP})))


async def test_a_service_token_without_tm_svc_is_invalid(verifier: AccessTokenVerifier) -> None:
    await rejected(verifier, sign(service_claims(tm_svc=DROP)))


NOT_A_UUID = "not-a-uuid"

WRONG_AGENT_CLAIMS: list[tuple[str, object, str]] = [
    ("iss", "tokenmart-evil", "iss"),
    ("iss", None, "iss"),
    ("aud", "tokenmart.review", "aud"),
    ("aud", ["tokenmart.review", "tokenmart.provider"], "aud"),
    ("aud", [], "aud"),
    ("aud", 7, "aud"),
    ("aud", [AUDIENCE, 7], "aud"),
    ("iat", "1750000000", "iat"),
    ("iat", True, "iat"),
    ("iat", -1, "iat"),
    ("exp", None, "exp"),
    ("exp", float("nan"), "exp"),
    ("exp", float("inf"), "exp"),
    ("nbf", [1], "nbf"),
    ("jti", NOT_A_UUID, "jti"),
    ("jti", str(uuid.uuid4()).upper(), "jti"),
    ("jti", 12345, "jti"),
    ("sub", f"agent:{AGENT.upper()}", "sub"),
    ("sub", "root", "sub"),
    ("sub", f"agent:{uuid.uuid4()}", "sub/tm_agt"),
    ("sub", f"account:{AGENT}", "sub/tm_agt"),
    ("sub", f"agent:{AGENT}\n", "sub"),
    ("tm_fam", "superuser", "tm_fam"),
    ("tm_fam", "session", "sub/tm_acc"),
    ("tm_fam", "service", "sub does not name a service"),
    ("tm_agt", NOT_A_UUID, "sub/tm_agt"),
    ("tm_key", NOT_A_UUID, "tm_key"),
    ("tm_lcs", "owned", "tm_lcs"),
    ("tm_lcs", "registered_unclaimed", "tm_own/tm_lcs"),
    ("tm_sts", "suspended", "tm_sts"),
    ("tm_own", NOT_A_UUID, "tm_own"),
    ("tm_rpm", 0, "tm_rpm"),
    ("tm_rpm", "60", "tm_rpm"),
    ("tm_rpm", 60.5, "tm_rpm"),
    ("tm_cl", -1, "tm_cl"),
    ("tm_cl", 1.5, "tm_cl"),
    ("tm_mdl", "gpt-4o", "tm_mdl"),
    ("tm_mdl", [""], "tm_mdl"),
    # I5: an agent credential never carries account authority, whoever owns the agent.
    ("tm_acc", OWNER, "tm_acc not allowed"),
    ("tm_role", "admin", "tm_role not allowed"),
    ("tm_sid", SESSION, "tm_sid not allowed"),
    ("tm_svc", "wallet", "tm_svc not allowed"),
    ("scope", "agent:read inference admin", "scope not allowed"),
    ("scope", "agent:read account", "scope not allowed"),
    ("scope", "agent:read keys:manage", "scope not allowed"),
    ("scope", "agent:read  inference", "scope not allowed"),
    ("scope", "agent:read inference omnipotence", "scope not allowed"),
    ("scope", ["agent:read"], "scope"),
]


@pytest.mark.parametrize(("claim", "value", "detail"), WRONG_AGENT_CLAIMS)
async def test_an_agent_token_with_a_wrong_claim_is_invalid(
    verifier: AccessTokenVerifier, claim: str, value: object, detail: str
) -> None:
    # Signed raw: PyJWT refuses to write some of these claims (a non-string iss).
    error = await rejected(verifier, sign_raw(HEADER, agent_claims(**{claim: value})))
    assert error.detail.startswith(detail)


WRONG_SESSION_CLAIMS: list[tuple[dict[str, object], str]] = [
    ({"tm_acc": str(uuid.uuid4())}, "sub/tm_acc"),
    ({"tm_role": "root"}, "tm_role"),
    ({"tm_role": "user"}, "scope not allowed"),  # admin scope without the admin role
    ({"scope": "account super_admin"}, "scope not allowed"),
    ({"scope": "account agent:write"}, "scope not allowed"),  # no acting agent
    ({"scope": "account service"}, "scope not allowed"),
    ({"tm_key": KEY}, "tm_key not allowed"),
    ({"tm_rpm": 60}, "tm_rpm not allowed"),
    ({"tm_own": OWNER}, "tm_own not allowed"),  # owner without an acting agent
    # Acting as an agent the account does not own.
    (
        {"tm_agt": AGENT, "tm_lcs": "claimed", "tm_sts": "active", "tm_own": str(uuid.uuid4())},
        "tm_own/tm_lcs",
    ),
    ({"tm_agt": AGENT, "tm_lcs": "claimed", "tm_sts": "active"}, "tm_own"),
]


@pytest.mark.parametrize(("overrides", "detail"), WRONG_SESSION_CLAIMS)
async def test_a_session_token_with_a_wrong_claim_is_invalid(
    verifier: AccessTokenVerifier, overrides: dict[str, object], detail: str
) -> None:
    error = await rejected(verifier, sign(session_claims(**overrides)))
    assert error.detail.startswith(detail)


WRONG_SERVICE_CLAIMS: list[tuple[dict[str, object], str]] = [
    ({"sub": "service:mallory", "tm_svc": "mallory"}, "sub does not name a service"),
    ({"tm_svc": "wallet"}, "tm_svc"),
    ({"scope": "service operator"}, "scope not allowed"),  # operator is ctl's alone
    ({"scope": "service admin"}, "scope not allowed"),
    ({"tm_acc": OWNER}, "tm_acc not allowed"),
    ({"tm_agt": AGENT}, "tm_agt not allowed"),
]


@pytest.mark.parametrize(("overrides", "detail"), WRONG_SERVICE_CLAIMS)
async def test_a_service_token_with_a_wrong_claim_is_invalid(
    verifier: AccessTokenVerifier, overrides: dict[str, object], detail: str
) -> None:
    error = await rejected(verifier, sign(service_claims(**overrides)))
    assert error.detail.startswith(detail)


# ---------------------------------------------------------------------------------------------
# Time


async def test_an_expired_token_is_expired_after_the_leeway(
    verifier: AccessTokenVerifier, clock: Clock
) -> None:
    token = sign(agent_claims(iat=int(NOW) - 100, nbf=int(NOW) - 100, exp=int(NOW)))
    clock.now = NOW + 4.9  # within the 5 s leeway
    await verifier.verify(token)
    clock.now = NOW + 5
    error = await rejected(verifier, token, AccessTokenExpired)
    assert error.reason == "ACCESS_TOKEN_EXPIRED"
    assert error.code == grpc.StatusCode.UNAUTHENTICATED


async def test_a_token_before_its_nbf_is_not_yet_valid(
    verifier: AccessTokenVerifier, clock: Clock
) -> None:
    token = sign(agent_claims(iat=int(NOW), nbf=int(NOW) + 60, exp=int(NOW) + 120))
    error = await rejected(verifier, token)
    assert error.detail == "nbf not reached"
    clock.now = NOW + 60
    await verifier.verify(token)


async def test_a_token_issued_in_the_future_is_invalid(verifier: AccessTokenVerifier) -> None:
    token = sign(agent_claims(iat=int(NOW) + 30, nbf=int(NOW), exp=int(NOW) + 200))
    assert (await rejected(verifier, token)).detail == "iat in the future"


async def test_lifetime_is_at_most_300_seconds(verifier: AccessTokenVerifier) -> None:
    await verifier.verify(sign(agent_claims(iat=int(NOW) - 10, exp=int(NOW) + 290)))
    too_long = sign(agent_claims(iat=int(NOW) - 10, exp=int(NOW) + 291))
    assert (await rejected(verifier, too_long)).detail == "lifetime too long"
    day_long = sign(agent_claims(iat=int(NOW), exp=int(NOW) + 86_400))
    assert (await rejected(verifier, day_long)).detail == "lifetime too long"


async def test_exp_must_follow_iat_and_nbf(verifier: AccessTokenVerifier) -> None:
    backwards = sign(agent_claims(iat=int(NOW), nbf=int(NOW), exp=int(NOW) - 1))
    assert (await rejected(verifier, backwards)).detail == "exp not after iat and nbf"


async def test_an_expired_key_expires_the_token(verifier: AccessTokenVerifier) -> None:
    token = sign(agent_claims(tm_kexp=int(NOW) - 60))
    assert (await rejected(verifier, token, AccessTokenExpired)).detail == "key expired"


# ---------------------------------------------------------------------------------------------
# Algorithm and header: checked before any key is touched


@pytest.fixture
def cold(make_verifier: Callable[..., AccessTokenVerifier]) -> AccessTokenVerifier:
    return make_verifier()


async def _rejected_cold(
    cold: AccessTokenVerifier, source: StaticKeys, token: str, detail: str
) -> None:
    assert source.fetches == 0
    error = await rejected(cold, token)
    assert error.detail == detail
    assert source.fetches == 0, "the header must be refused before any key is looked up"


async def test_alg_none_is_refused_before_keys(
    cold: AccessTokenVerifier, source: StaticKeys
) -> None:
    header = {"alg": "none", "typ": "at+jwt", "kid": SIGNER.kid}
    await _rejected_cold(cold, source, raw_token(header, agent_claims(), bytes(64)), "alg")
    unsigned = jwt.encode(agent_claims(), None, algorithm="none", headers={"kid": SIGNER.kid})
    await _rejected_cold(cold, source, unsigned, "malformed")
    await _rejected_cold(cold, source, unsigned + b64(bytes(64)), "alg")


@pytest.mark.parametrize("algorithm", ["HS256", "HS384", "HS512"])
@pytest.mark.parametrize("secret_form", ["raw", "pem", "b64"])
async def test_hmac_signed_with_the_public_key_is_refused(
    cold: AccessTokenVerifier, source: StaticKeys, algorithm: str, secret_form: str
) -> None:
    """The classic confusion attack: the public key (which is public) used as an HMAC secret."""
    public = SIGNER.private.public_key()
    secret = {
        "raw": SIGNER.raw_public,
        "pem": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "b64": b64(SIGNER.raw_public).encode(),
    }[secret_form]
    header = {"alg": algorithm, "typ": "at+jwt", "kid": SIGNER.kid}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(agent_claims()).encode())}"
    digest = {"HS256": hashes.SHA256(), "HS384": hashes.SHA384(), "HS512": hashes.SHA512()}
    mac = hmac.HMAC(secret, digest[algorithm])
    mac.update(signing_input.encode())
    token = f"{signing_input}.{b64(mac.finalize())}"
    # HS512 is 64 bytes like an Ed25519 signature, so it gets as far as the alg check.
    await _rejected_cold(cold, source, token, "alg" if algorithm == "HS512" else "signature length")
    # Even with a warm cache (the key in hand), it never verifies.
    await cold.refresh()
    await rejected(cold, token)


async def test_rs256_and_es256_are_refused(cold: AccessTokenVerifier, source: StaticKeys) -> None:
    headers = {"kid": SIGNER.kid, "typ": "at+jwt"}
    rs256 = jwt.encode(
        agent_claims(),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        algorithm="RS256",
        headers=headers,
    )
    await _rejected_cold(cold, source, rs256, "signature length")
    es256 = jwt.encode(
        agent_claims(), ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers=headers
    )
    await _rejected_cold(cold, source, es256, "alg")


@pytest.mark.parametrize("alg", ["Ed25519", "eddsa", "EDDSA", "EdDSA ", None, ["EdDSA"]])
async def test_only_the_exact_alg_EdDSA_is_accepted(
    cold: AccessTokenVerifier, source: StaticKeys, alg: object
) -> None:
    token = sign_raw({"alg": alg, "typ": "at+jwt", "kid": SIGNER.kid}, agent_claims())
    await _rejected_cold(cold, source, token, "alg")


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({"typ": DROP}, "typ"),
        ({"typ": None}, "typ"),
        ({"typ": "JWT"}, "typ"),
        ({"typ": "id+jwt"}, "typ"),
        ({"jwk": {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}}, "forbidden header parameter"),
        ({"jku": "https://evil.example/keys"}, "forbidden header parameter"),
        ({"x5u": "https://evil.example/cert"}, "forbidden header parameter"),
        ({"crit": ["exp"]}, "forbidden header parameter"),
        ({"kid": DROP}, "kid"),
        ({"kid": None}, "kid"),
        ({"kid": "k\n"}, "kid"),
        ({"kid": ""}, "kid"),
        ({"kid": "../../etc/passwd"}, "kid"),
        ({"kid": 7}, "kid"),
    ],
)
async def test_header_rules(
    cold: AccessTokenVerifier, source: StaticKeys, headers: dict[str, Any], detail: str
) -> None:
    header = _apply({"alg": "EdDSA", "typ": "at+jwt", "kid": SIGNER.kid}, headers)
    await _rejected_cold(cold, source, sign_raw(header, agent_claims()), detail)


async def test_the_raw_signer_makes_valid_tokens(verifier: AccessTokenVerifier) -> None:
    """The header tests above differ from a valid token only in the header."""
    header = {"alg": "EdDSA", "typ": "at+jwt", "kid": SIGNER.kid}
    assert (await verifier.verify(sign_raw(header, agent_claims()))).agent_id == AGENT


# ---------------------------------------------------------------------------------------------
# Keys: rotation, refresh, retirement


async def test_an_unknown_kid_refreshes_once_and_then_verifies_after_rotation(
    verifier: AccessTokenVerifier, source: StaticKeys, clock: Clock
) -> None:
    await verifier.verify(sign(agent_claims()))
    assert source.fetches == 1
    source.keys.append(ROTATED.published(not_before=NOW - 60))  # auth rotated
    clock.now += 11
    await verifier.verify(sign(agent_claims(), ROTATED))
    assert source.fetches == 2
    await verifier.verify(sign(agent_claims(), ROTATED))
    await verifier.verify(sign(agent_claims()))  # the old key still verifies until retired
    assert source.fetches == 2


async def test_unknown_kid_refreshes_are_rate_limited(
    verifier: AccessTokenVerifier, source: StaticKeys, clock: Clock
) -> None:
    await verifier.verify(sign(agent_claims()))
    stranger = SigningKey.generate("k-unknown")
    for _ in range(20):
        assert (await rejected(verifier, sign(agent_claims(), stranger))).detail == "unknown kid"
    assert source.fetches == 1, "within 10 s of the last fetch, unknown kids cost nothing"
    clock.now += 10
    for _ in range(20):
        await rejected(verifier, sign(agent_claims(), stranger))
    assert source.fetches == 2, "one refresh per interval, however many unknown kids"


async def test_concurrent_verifications_share_one_fetch(
    verifier: AccessTokenVerifier, source: StaticKeys, clock: Clock
) -> None:
    await verifier.verify(sign(agent_claims()))
    source.keys.append(ROTATED.published(not_before=NOW - 60))
    clock.now += 30
    source.gate = asyncio.Event()
    tokens = [sign(agent_claims(), ROTATED) for _ in range(50)]
    tasks = [asyncio.create_task(verifier.verify(token)) for token in tokens]
    await asyncio.sleep(0.01)
    assert source.fetches == 2 and not any(task.done() for task in tasks)
    source.gate.set()
    principals = await asyncio.gather(*tasks)
    assert len({principal.jti for principal in principals}) == 50
    assert source.fetches == 2


async def test_a_cold_verifier_fetches_once_for_concurrent_first_requests(
    verifier: AccessTokenVerifier, source: StaticKeys
) -> None:
    source.gate = asyncio.Event()
    tasks = [asyncio.create_task(verifier.verify(sign(agent_claims()))) for _ in range(20)]
    await asyncio.sleep(0.01)
    source.gate.set()
    await asyncio.gather(*tasks)
    assert source.fetches == 1


async def test_a_cancelled_verification_does_not_cancel_the_shared_fetch(
    verifier: AccessTokenVerifier, source: StaticKeys
) -> None:
    source.gate = asyncio.Event()
    first = asyncio.create_task(verifier.verify(sign(agent_claims())))
    second = asyncio.create_task(verifier.verify(sign(agent_claims())))
    await asyncio.sleep(0.01)
    first.cancel()
    source.gate.set()
    assert (await second).agent_id == AGENT
    assert source.fetches == 1


async def test_a_retired_key_past_not_after_is_refused(
    make_verifier: Callable[..., AccessTokenVerifier], clock: Clock
) -> None:
    source = StaticKeys([SIGNER.published(not_after=NOW + 60), ROTATED.published()])
    verifier = make_verifier(source=source)
    token = sign(agent_claims())
    await verifier.verify(token)
    clock.now = NOW + 60
    assert (await rejected(verifier, token)).detail == "signing key retired"
    await verifier.verify(sign(agent_claims(iat=int(NOW), nbf=int(NOW)), ROTATED))


async def test_a_key_before_its_not_before_verifies_nothing(
    make_verifier: Callable[..., AccessTokenVerifier], clock: Clock
) -> None:
    """A NEXT key is cached but verifies nothing until it activates."""
    source = StaticKeys([SIGNER.published(), ROTATED.published(not_before=NOW + 100)])
    verifier = make_verifier(source=source)
    early = sign(agent_claims(), ROTATED)
    assert (await rejected(verifier, early)).detail == "signing key not yet valid"
    clock.now = NOW + 100
    # Signed before the key's not_before: refused even once the key is valid.
    assert (await rejected(verifier, early)).detail == "iat before the signing key was valid"
    fresh = sign(agent_claims(iat=int(NOW) + 100, nbf=int(NOW) + 100, exp=int(NOW) + 300), ROTATED)
    await verifier.verify(fresh)
    assert source.fetches == 2  # one at start, one when the 60 s cache lifetime passed


async def test_periodic_refresh_drops_a_withdrawn_key(
    make_verifier: Callable[..., AccessTokenVerifier], source: StaticKeys, clock: Clock
) -> None:
    verifier = make_verifier(refresh_interval_s=60)
    token = sign(agent_claims(exp=int(NOW) + 200))
    await verifier.verify(token)
    source.keys = [ROTATED.published()]  # compromised: auth withdrew SIGNER at once
    clock.now += 59
    await verifier.verify(token)
    assert source.fetches == 1
    clock.now += 1
    assert (await rejected(verifier, token)).detail == "unknown kid"
    assert source.fetches == 2


async def test_failed_refreshes_keep_the_cached_keys_until_max_stale(
    make_verifier: Callable[..., AccessTokenVerifier], source: StaticKeys, clock: Clock
) -> None:
    verifier = make_verifier(refresh_interval_s=60, max_stale_s=600)
    await verifier.verify(sign(agent_claims()))
    source.fail = True
    clock.now += 120
    await verifier.verify(
        sign(agent_claims(iat=int(clock.now), nbf=int(clock.now), exp=int(clock.now) + 60))
    )
    assert source.fetches == 2
    # An unknown kid while auth is unreachable is "try again", not "your token is bad".
    await rejected(verifier, sign(agent_claims(), ROTATED), PublicKeysUnavailable)
    clock.now = NOW + 601
    late = sign(agent_claims(iat=int(clock.now), nbf=int(clock.now), exp=int(clock.now) + 60))
    error = await rejected(verifier, late, PublicKeysUnavailable)
    assert error.code == grpc.StatusCode.UNAVAILABLE
    source.fail = False
    clock.now += 10
    await verifier.verify(late)


async def test_no_keys_at_all_is_unavailable_not_valid(
    verifier: AccessTokenVerifier, source: StaticKeys
) -> None:
    source.fail = True
    await rejected(verifier, sign(agent_claims()), PublicKeysUnavailable)


async def test_a_hanging_key_source_times_out(
    make_verifier: Callable[..., AccessTokenVerifier], source: StaticKeys
) -> None:
    source.gate = asyncio.Event()  # never set
    verifier = make_verifier(fetch_timeout_s=0.05)
    await rejected(verifier, sign(agent_claims()), PublicKeysUnavailable)


async def test_malformed_and_ambiguous_published_keys_are_ignored(
    make_verifier: Callable[..., AccessTokenVerifier],
) -> None:
    twin = SigningKey.generate(SIGNER.kid)
    source = StaticKeys(
        [
            SIGNER.published(),
            twin.published(),  # two keys under one kid: neither is trusted
            PublishedKey("short", b"\x01" * 31, _utc(0)),
            ROTATED.published(),
        ]
    )
    verifier = make_verifier(source=source)
    assert (await rejected(verifier, sign(agent_claims()))).detail == "unknown kid"
    await verifier.verify(sign(agent_claims(), ROTATED))


# ---------------------------------------------------------------------------------------------
# Tampering and garbage


async def test_a_tampered_payload_is_refused(verifier: AccessTokenVerifier) -> None:
    token = sign(agent_claims())
    header, _, signature = token.split(".")
    forged_claims = agent_claims(scope="agent:read inference", tm_rpm=1_000_000)
    forged = f"{header}.{b64(json.dumps(forged_claims).encode())}.{signature}"
    assert (await rejected(verifier, forged)).detail == "signature"


async def test_a_tampered_signature_is_refused(verifier: AccessTokenVerifier) -> None:
    token = sign(agent_claims())
    header, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[10] ^= 0x01
    assert (await rejected(verifier, f"{header}.{payload}.{b64(bytes(raw))}")).detail == "signature"


async def test_a_signature_by_another_key_under_our_kid_is_refused(
    verifier: AccessTokenVerifier,
) -> None:
    impostor = SigningKey(SIGNER.kid, Ed25519PrivateKey.generate())
    assert (await rejected(verifier, sign(agent_claims(), impostor))).detail == "signature"


async def test_a_second_spelling_of_the_same_signature_is_refused(
    verifier: AccessTokenVerifier,
) -> None:
    """base64url's unused low bits: without the canonical check this token would verify."""
    token = sign(agent_claims())
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(token[-1])
    variant = (
        token[:-1] + alphabet[last ^ 0b0001]
    )  # 64 bytes → 86 chars, the last holds 4 spare bits
    assert base64.urlsafe_b64decode(variant.split(".")[2] + "==") == base64.urlsafe_b64decode(
        token.split(".")[2] + "=="
    )
    assert (await rejected(verifier, variant)).detail == "non-canonical base64"


GARBAGE = [
    "abc",
    "a.b.c",
    "a.b",
    "...",
    "Bearer x.y.z",
    "eyJhbGciOiJFZERTQSJ9",
    "eyJhbGciOiJFZERTQSJ9..",
    "eyJhbGciOiJFZERTQSJ9.e30.",
    "x" * 10_000,
    "\x00\x01\x02",
    "é.é.é",
    "null",
    "[].[].[]",
    b64(b"[]") + "." + b64(b"{}") + "." + b64(bytes(64)),
    b64(b'{"alg":"EdDSA","alg":"none","typ":"at+jwt","kid":"k"}') + ".e30." + b64(bytes(64)),
    b64(b'{"alg":"EdDSA","typ":"at+jwt","kid":"k","x":NaN}') + ".e30." + b64(bytes(64)),
]


@pytest.mark.parametrize("garbage", GARBAGE)
async def test_garbage_is_invalid(verifier: AccessTokenVerifier, garbage: str) -> None:
    await rejected(verifier, garbage)


async def test_padding_and_whitespace_are_refused(verifier: AccessTokenVerifier) -> None:
    token = sign(agent_claims())
    for variant in (token + "=", f" {token}", f"{token}\n", token.replace(".", ". ", 1)):
        await rejected(verifier, variant)
    await verifier.verify(token)


async def test_an_empty_token_is_missing(verifier: AccessTokenVerifier) -> None:
    error = await rejected(verifier, "", AccessTokenMissing)
    assert error.reason == "ACCESS_TOKEN_MISSING"


# ---------------------------------------------------------------------------------------------
# Properties

PROPERTY_SOURCE = StaticKeys([SIGNER.published()])
PROPERTY_VERIFIER = AccessTokenVerifier(PROPERTY_SOURCE, audience=AUDIENCE, clock=Clock())
PROPERTY_TOKEN = sign(agent_claims())
_TOKEN_CHARS = st.sampled_from(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \n\x00é"
)


@st.composite
def mutations(draw: st.DrawFn) -> str:
    token = PROPERTY_TOKEN
    kind = draw(st.sampled_from(["replace", "insert", "delete", "truncate", "swap", "segment"]))
    position = draw(st.integers(0, len(token) - 1))
    char = draw(st.one_of(_TOKEN_CHARS, st.characters()))
    if kind == "replace":
        return token[:position] + char + token[position + 1 :]
    if kind == "insert":
        return token[:position] + char + token[position:]
    if kind == "delete":
        return token[:position] + token[position + 1 :]
    if kind == "truncate":
        return token[:position]
    if kind == "swap":
        other = draw(st.integers(0, len(token) - 1))
        chars = list(token)
        chars[position], chars[other] = chars[other], chars[position]
        return "".join(chars)
    header, payload, signature = token.split(".")
    other_token = sign(agent_claims(scope="agent:read"))
    segment = draw(st.integers(0, 2))
    parts = [header, payload, signature]
    parts[segment] = other_token.split(".")[segment]
    return ".".join(parts)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated=mutations())
async def test_a_mutated_token_never_verifies_unless_unchanged(mutated: str) -> None:
    if mutated == PROPERTY_TOKEN:
        await PROPERTY_VERIFIER.verify(mutated)
        return
    with pytest.raises((AccessTokenInvalid, AccessTokenMissing)):
        await PROPERTY_VERIFIER.verify(mutated)


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(), st.text(alphabet=_TOKEN_CHARS, min_size=20, max_size=400)))
async def test_random_strings_never_verify(text: str) -> None:
    with pytest.raises((AccessTokenInvalid, AccessTokenMissing)):
        await PROPERTY_VERIFIER.verify(text)


async def test_the_property_fixture_really_verifies() -> None:
    """Guards the two properties above against passing only because every token fails."""
    assert (await PROPERTY_VERIFIER.verify(PROPERTY_TOKEN)).agent_id == AGENT
    assert PROPERTY_SOURCE.fetches <= 2


# ---------------------------------------------------------------------------------------------
# Metadata helpers


def test_bearer_token_parsing() -> None:
    assert bearer_token("Bearer abc.def.ghi") == "abc.def.ghi"
    assert bearer_token("bearer abc.def.ghi") == "abc.def.ghi"
    assert bearer_token("BEARER   abc.def.ghi ") == "abc.def.ghi"
    with pytest.raises(AccessTokenMissing):
        bearer_token("Bearer ")
    with pytest.raises(AccessTokenMissing):
        bearer_token("")
    with pytest.raises(AccessTokenInvalid):
        bearer_token("Basic dXNlcjpwYXNz")
    with pytest.raises(AccessTokenInvalid):
        bearer_token("abc.def.ghi")


def test_authorization_metadata_refuses_what_is_not_a_token() -> None:
    token = sign(agent_claims())
    assert authorization_metadata(token) == (("authorization", f"Bearer {token}"),)
    for bad in ("", "a b.c.d", "x.y.z\r\nx-evil: 1"):
        with pytest.raises(ValueError, match="not an access token"):
            authorization_metadata(bad)


# ---------------------------------------------------------------------------------------------
# Over real gRPC with mTLS

PROBE_SERVICE = "tokenmart.test.v1.Probe"
PROBE = f"/{PROBE_SERVICE}/WhoAmI"


@pytest.fixture
async def probe_server(
    pki: dict[str, IssuedFiles], verifier: AccessTokenVerifier
) -> AsyncIterator[GrpcServer]:
    """A wallet-like server whose one method answers the principal's subject (request = scope)."""

    async def who_am_i(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        principal = await principal_from_context(context, verifier, scope=request.decode() or None)
        return principal.subject.encode()

    handler = grpc.method_handlers_generic_handler(
        PROBE_SERVICE, {"WhoAmI": grpc.unary_unary_rpc_method_handler(who_am_i)}
    )
    server = GrpcServer(
        service="wallet",
        settings=server_settings(),
        tls=tls_of(pki["wallet"]),
        allowlist=PeerAllowlist.for_service(PROBE_SERVICE, {"WhoAmI": ("gateway",)}),
        registrations=[lambda grpc_server: grpc_server.add_generic_rpc_handlers((handler,))],
    )
    await server.start()
    yield server
    await server.stop(0)


@pytest.fixture
async def probe_channel(
    pki: dict[str, IssuedFiles], probe_server: GrpcServer
) -> AsyncIterator[grpc.aio.Channel]:
    async with mtls_channel(
        probe_server.port, ca_file=pki["gateway"].ca_file, cert=pki["gateway"], expect_name="wallet"
    ) as channel:
        yield channel


async def _refused(
    channel: grpc.aio.Channel, metadata: tuple[tuple[str, str], ...], scope: str = ""
) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await raw_call(channel, PROBE, scope.encode(), metadata=metadata)
    return refused.value


async def test_grpc_a_valid_token_reaches_the_handler(probe_channel: grpc.aio.Channel) -> None:
    token = sign(agent_claims())
    answer = await raw_call(
        probe_channel, PROBE, b"inference", metadata=authorization_metadata(token)
    )
    assert answer == f"agent:{AGENT}".encode()
    lower = await raw_call(
        probe_channel, PROBE, b"", metadata=(("authorization", f"bearer {token}"),)
    )
    assert lower == f"agent:{AGENT}".encode()


async def test_grpc_no_token_is_access_token_missing(probe_channel: grpc.aio.Channel) -> None:
    error = await _refused(probe_channel, ())
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    info = error_info(error)
    assert info is not None and info.reason == "ACCESS_TOKEN_MISSING"


@pytest.mark.parametrize(
    "value", ["Basic dXNlcjpwYXNz", "Bearer not.a.token", "Token abc", "Bearer a.b.c d"]
)
async def test_grpc_a_bad_authorization_is_access_token_invalid(
    probe_channel: grpc.aio.Channel, value: str
) -> None:
    error = await _refused(probe_channel, (("authorization", value),))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    info = error_info(error)
    assert info is not None and info.reason == "ACCESS_TOKEN_INVALID"
    assert value not in (error.details() or "")


async def test_grpc_two_authorization_values_are_refused(probe_channel: grpc.aio.Channel) -> None:
    token = sign(agent_claims())
    error = await _refused(
        probe_channel, (("authorization", f"Bearer {token}"), ("authorization", f"Bearer {token}"))
    )
    info = error_info(error)
    assert info is not None and info.reason == "ACCESS_TOKEN_INVALID"


async def test_grpc_an_expired_token_is_access_token_expired(
    probe_channel: grpc.aio.Channel,
) -> None:
    token = sign(agent_claims(iat=int(NOW) - 300, nbf=int(NOW) - 300, exp=int(NOW) - 10))
    error = await _refused(probe_channel, authorization_metadata(token))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    info = error_info(error)
    assert info is not None and info.reason == "ACCESS_TOKEN_EXPIRED"


async def test_grpc_a_token_for_another_audience_is_refused(
    probe_channel: grpc.aio.Channel,
) -> None:
    token = sign(agent_claims(aud=["tokenmart.review"]))
    info = error_info(await _refused(probe_channel, authorization_metadata(token)))
    assert info is not None and info.reason == "ACCESS_TOKEN_INVALID"


async def test_grpc_a_missing_scope_is_permission_denied_naming_it(
    probe_channel: grpc.aio.Channel,
) -> None:
    token = sign(agent_claims())
    error = await _refused(probe_channel, authorization_metadata(token), scope="agent:write")
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    info = error_info(error)
    assert info is not None and info.reason == "SCOPE_MISSING"
    assert dict(info.metadata) == {"scope": "agent:write"}


class FakeAuth(auth_pb2_grpc.AuthServiceServicer):
    def __init__(self, keys: list[auth_pb2.PublicKey]) -> None:
        self.keys = keys
        self.calls = 0

    async def GetPublicKeys(
        self, request: auth_pb2.GetPublicKeysRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.GetPublicKeysResponse:
        self.calls += 1
        return auth_pb2.GetPublicKeysResponse(
            keys=self.keys, issuer="tokenmart-auth", refresh_after=duration_pb2.Duration(seconds=60)
        )


def _timestamp(seconds: float) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromSeconds(int(seconds))
    return stamp


async def test_auth_public_keys_fetches_over_mtls_through_open_channel(
    pki: dict[str, IssuedFiles], clock: Clock
) -> None:
    retired = SigningKey.generate("k-retired")
    fake = FakeAuth(
        [
            auth_pb2.PublicKey(
                key_id=SIGNER.kid,
                algorithm=auth_pb2.SIGNING_ALGORITHM_ED25519,
                public_key=SIGNER.raw_public,
                not_before=_timestamp(NOW - 3600),
                status=auth_pb2.SIGNING_KEY_STATUS_ACTIVE,
            ),
            auth_pb2.PublicKey(
                key_id=retired.kid,
                algorithm=auth_pb2.SIGNING_ALGORITHM_ED25519,
                public_key=retired.raw_public,
                not_before=_timestamp(NOW - 7200),
                not_after=_timestamp(NOW - 1),
                status=auth_pb2.SIGNING_KEY_STATUS_RETIRED,
            ),
            auth_pb2.PublicKey(
                key_id="k-unspecified",
                algorithm=auth_pb2.SIGNING_ALGORITHM_UNSPECIFIED,
                public_key=ROTATED.raw_public,
            ),
        ]
    )
    server = GrpcServer(
        service="auth",
        settings=server_settings(),
        tls=tls_of(pki["auth"]),
        allowlist=PeerAllowlist.for_service(
            "tokenmart.auth.v1.AuthService", {"GetPublicKeys": ("wallet",)}
        ),
        registrations=[lambda s: auth_pb2_grpc.add_AuthServiceServicer_to_server(fake, s)],
    )
    await server.start()
    channel = open_channel(
        PeerTarget(service="auth", target=f"127.0.0.1:{server.port}", default_timeout_s=5.0),
        tls_of(pki["wallet"]),
        full_service_name="tokenmart.auth.v1.AuthService",
        idempotent_methods=("GetPublicKeys",),
    )
    try:
        keys = await AuthPublicKeys(channel).fetch()
        assert [key.key_id for key in keys] == [SIGNER.kid, retired.kid]
        assert keys[0].public_key == SIGNER.raw_public and keys[0].not_after is None
        assert keys[1].not_after == _utc(NOW - 1)
        verifier = AccessTokenVerifier(AuthPublicKeys(channel), audience=AUDIENCE, clock=clock)
        principal = await verifier.verify(sign(agent_claims()))
        assert isinstance(principal, VerifiedPrincipal)
        assert (await rejected(verifier, sign(agent_claims(), retired))).detail == (
            "signing key retired"
        )
        assert (await rejected(verifier, sign(agent_claims(), ROTATED))).detail == "unknown kid"
        assert fake.calls == 2
    finally:
        await channel.close()
        await server.stop(0)


# ---------------------------------------------------------------------------------------------
# The per-token memory of checked signatures


async def test_a_token_seen_again_skips_only_the_signature_check(
    verifier: AccessTokenVerifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[str] = []
    real_decode = jwt.decode

    def counting_decode(token: str, *args: Any, **kwargs: Any) -> Any:
        decoded.append(token)
        return real_decode(token, *args, **kwargs)

    monkeypatch.setattr("services.common.tokens.jwt.decode", counting_decode)
    token = sign(agent_claims())
    first = await verifier.verify(token)
    again = await verifier.verify(token)
    assert decoded == [token]
    assert again == first


async def test_a_remembered_token_still_expires_on_time(
    verifier: AccessTokenVerifier, clock: Clock
) -> None:
    token = sign(agent_claims(iat=int(NOW) - 100, nbf=int(NOW) - 100, exp=int(NOW) + 10))
    await verifier.verify(token)
    clock.now = NOW + 14.9
    await verifier.verify(token)
    clock.now = NOW + 15
    assert (await rejected(verifier, token, AccessTokenExpired)).detail == "exp passed"


async def test_a_remembered_token_dies_with_its_withdrawn_key(
    verifier: AccessTokenVerifier, clock: Clock, source: StaticKeys
) -> None:
    token = sign(agent_claims(iat=int(NOW), nbf=int(NOW), exp=int(NOW) + 280))
    await verifier.verify(token)
    source.keys = []  # auth stopped publishing the key (compromise response)
    clock.now = NOW + 61  # the next refresh sees it
    assert (await rejected(verifier, token)).detail == "unknown kid"


async def test_a_remembered_token_is_checked_again_when_its_kid_gets_another_key(
    verifier: AccessTokenVerifier, clock: Clock, source: StaticKeys
) -> None:
    token = sign(agent_claims(iat=int(NOW), nbf=int(NOW), exp=int(NOW) + 280))
    await verifier.verify(token)
    impostor = SigningKey.generate(SIGNER.kid)  # same kid, other key material
    source.keys = [impostor.published()]
    clock.now = NOW + 61
    assert (await rejected(verifier, token)).detail == "signature"


async def test_the_memory_of_checked_tokens_is_bounded(
    verifier: AccessTokenVerifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("services.common.tokens.VERIFIED_CACHE_MAX", 3)
    tokens = [sign(agent_claims(jti=str(uuid.uuid4()))) for _ in range(5)]
    for token in tokens:
        await verifier.verify(token)
    assert list(verifier._verified) == tokens[2:]

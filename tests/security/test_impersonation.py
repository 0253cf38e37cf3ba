"""THREATS.md goal 1 — impersonate an actor (I1 to I9 and I11; I10 is test_service_identity.py).

Every attack goes through the in-process gateway to the real auth service over mTLS and the
real database. Each asserts the status and reason AND that nothing changed in the auth schema
except the audit log (and the attempt counters that throttle the next guess).
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import string
import time

import grpc
import httpx
import jwt
import psycopg
import pytest
from sqlalchemy.engine import make_url
from tokenmart.auth.v1 import auth_pb2, auth_pb2_grpc

from ops.database import create_database, drop_database, migrate, provision, role_names
from ops.pki import IssuedFiles
from services.auth.domain import credentials
from services.common.client import open_channel
from services.common.settings import PeerTarget, TlsSettings
from services.common.status import error_reason
from services.common.tokens import AccessTokenInvalid, AccessTokenVerifier, AuthPublicKeys
from tests.conftest import AuthServerHandle, ManualClock
from tests.flows import PASSWORD, Agent, bearer, error_of, unique_email
from tests.security.conftest import Edge, MakeEdge

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
AGENT_ROUTES = [
    ("GET", "/api/v1/agents/me", None),
    ("POST", "/api/v1/agents/verify-identity", {"audience": "https://partner.example"}),
]
KEY_ROUTES = [
    ("GET", "/api/v1/tokenhall/key", None),
    ("GET", "/api/v1/tokenhall/keys", None),
]
EVERY_PROTECTED_ROUTE = [
    *AGENT_ROUTES,
    *KEY_ROUTES,
    ("GET", "/api/v1/auth/sessions", None),
    ("POST", "/api/v1/auth/logout", None),
    ("POST", "/api/v1/auth/claim", {"claim_code": "x"}),
]


def _flip_last(credential: str) -> str:
    """The same credential with its last checksum character changed."""
    last = credential[-1]
    return credential[:-1] + (BASE62[(BASE62.index(last) + 1) % 62])


def _random_like(credential: str) -> str:
    """A credential of the same family and length, with random body and checksum."""
    prefix = credential[: credential.index("_") + 1]
    body = "".join(secrets.choice(BASE62) for _ in range(len(credential) - len(prefix)))
    return prefix + body


async def _call(
    client: httpx.AsyncClient, method: str, path: str, body: object, headers: dict[str, str]
) -> httpx.Response:
    return await client.request(method, path, json=body, headers=headers)


async def _issued_credentials(edge: Edge) -> dict[str, str]:
    """One real credential of every family."""
    session = await edge.api.new_session()
    agent = await edge.api.owned_agent(session)
    owner = session.headers(agent_id=agent.agent_id)
    inference = await edge.api.create_key(owner)
    management = await edge.api.create_key(owner, is_management_key=True)
    identity = await edge.api.client.post(
        "/api/v1/agents/verify-identity",
        json={"audience": "https://partner.example"},
        headers=bearer(agent.api_key),
    )
    return {
        "tokenmart_": agent.api_key,
        "th_": inference["raw_key"],
        "thm_": management["raw_key"],
        "tms_": session.session_token,
        "tmr_": session.refresh_token,
        "tmid_": identity.json()["identity_token"],
    }


# ---------------------------------------------------------------------------------------- I1


async def test_i1_random_malformed_and_wrong_checksum_credentials_are_401(edge: Edge) -> None:
    real = await _issued_credentials(edge)
    attempts: list[tuple[str, set[str]]] = []
    for credential in real.values():
        attempts.append((_flip_last(credential), {"CREDENTIAL_CHECKSUM_INVALID"}))
        attempts.append(
            (_random_like(credential), {"CREDENTIAL_CHECKSUM_INVALID", "CREDENTIAL_NOT_FOUND"})
        )
    for malformed in (
        "tokenmart_short",
        "th_" + "!" * 40,
        "nope_" + "a" * 49,
        "thm_" + "a" * 300,
        "tms_ä" + "a" * 40,
        "x",
    ):
        attempts.append((malformed, {"CREDENTIAL_MALFORMED"}))
    before = edge.rows.snapshot()
    # A fresh gateway per batch keeps the per-IP failure limit out of this test (see below).
    for credential, reasons in attempts:
        # Sent as raw bytes: an attacker's header need not be ASCII.
        headers = {"Authorization": f"Bearer {credential}".encode()}
        response = await edge.api.client.get("/api/v1/agents/me", headers=headers)
        status, reason = error_of(response)
        assert status == 401, (credential[:8], response.text)
        assert reason in reasons, (credential[:8], reason)
        assert response.headers["www-authenticate"] == "Bearer"
        assert credential not in response.text
    assert edge.rows.snapshot() == before


async def test_i1_a_bad_checksum_never_reaches_the_database(
    server_admin_url: str, pki: dict[str, IssuedFiles], start_auth_server, make_edge: MakeEdge
) -> None:
    prefix = f"tmn_{secrets.token_hex(4)}"
    create_database(server_admin_url, prefix)
    admin_url = (
        make_url(server_admin_url).set(database=prefix).render_as_string(hide_password=False)
    )
    try:
        databases = provision(
            admin_url,
            prefix=prefix,
            passwords={role: secrets.token_urlsafe(16) for role in role_names(prefix)},
        )
        migrate(databases["auth"])
        server = start_auth_server(database=databases["auth"])
        edge = make_edge(auth=server)
        agent = await edge.api.register_agent()
        runtime_role = databases["auth"].runtime_role
        with psycopg.connect(
            make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False),
            autocommit=True,
        ) as connection:
            connection.execute(f'ALTER ROLE "{runtime_role}" NOLOGIN')
            connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (runtime_role,),
            )
        # The database is gone for auth: a well-formed unknown key cannot be checked...
        well_formed = credentials.generate(credentials.CredentialKind.AGENT_KEY).raw
        unknown = await edge.api.client.get("/api/v1/agents/me", headers=bearer(well_formed))
        assert unknown.status_code >= 500, unknown.text
        # ...yet a wrong checksum is still refused as such: it never needed the database.
        bad = await edge.api.client.get(
            "/api/v1/agents/me", headers=bearer(_flip_last(agent.api_key))
        )
        assert error_of(bad) == (401, "CREDENTIAL_CHECKSUM_INVALID")
    finally:
        drop_database(server_admin_url, prefix, prefix=prefix)


async def test_i1_credential_guessing_is_rate_limited_per_ip(edge: Edge) -> None:
    agent = await edge.api.register_agent()
    limit = 30  # RateLimitRules.credential_failure_ip
    for _ in range(limit):
        response = await edge.api.client.get(
            "/api/v1/agents/me", headers=bearer(_flip_last(agent.api_key))
        )
        assert response.status_code == 401
    refused = await edge.api.client.get("/api/v1/agents/me", headers=bearer(agent.api_key))
    assert error_of(refused) == (429, "RATE_LIMITED")
    assert int(refused.headers["retry-after"]) >= 1
    # Another client address is not affected.
    other = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=edge.gateway.app, client=("198.51.100.9", 1)),
        base_url="http://testserver",
    )
    async with other:
        assert (
            await other.get("/api/v1/agents/me", headers=bearer(agent.api_key))
        ).status_code == 200


# ---------------------------------------------------------------------------------------- I2


async def _suspend(auth: AuthServerHandle, agent_id: str) -> None:
    async with auth.channel("ctl") as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        token = await stub.IssueServiceToken(
            auth_pb2.IssueServiceTokenRequest(audiences=[auth_pb2.AUDIENCE_AUTH])
        )
        await stub.SuspendAgent(
            auth_pb2.SuspendAgentRequest(
                request_id=str(__import__("uuid").uuid4()), agent_id=agent_id, reason="abuse"
            ),
            metadata=(("authorization", f"Bearer {token.access_token}"),),
        )


async def _status_everywhere(edge: Edge, credential: str) -> set[tuple[int, str]]:
    results = set()
    for method, path, body in EVERY_PROTECTED_ROUTE:
        response = await _call(edge.api.client, method, path, body, bearer(credential))
        results.add(error_of(response))
    return results


async def test_i2_a_revoked_key_is_401_on_every_route_at_once(make_edge: MakeEdge) -> None:
    edge = make_edge()
    session = await edge.api.new_session()
    agent = await edge.api.owned_agent(session)
    owner = session.headers(agent_id=agent.agent_id)
    key = await edge.api.create_key(owner)
    assert (
        await edge.api.client.get("/api/v1/tokenhall/key", headers=bearer(key["raw_key"]))
    ).status_code == 200
    revoked = await edge.api.client.delete(f"/api/v1/tokenhall/keys/{key['id']}", headers=owner)
    assert revoked.status_code == 200
    # A gateway that never saw the key refuses it at once...
    fresh = make_edge()
    assert await _status_everywhere(fresh, key["raw_key"]) == {(401, "CREDENTIAL_REVOKED")}
    # ...and one that had just served it stops within one second (its cache bound).
    deadline = time.monotonic() + 1.2
    while time.monotonic() < deadline:
        response = await edge.api.client.get(
            "/api/v1/tokenhall/key", headers=bearer(key["raw_key"])
        )
        if response.status_code == 401:
            break
        await asyncio.sleep(0.05)
    assert error_of(response) == (401, "CREDENTIAL_REVOKED")


async def test_i2_an_expired_key_is_401(make_edge: MakeEdge, start_auth_server) -> None:
    clock = ManualClock()
    edge = make_edge(auth=start_auth_server(clock=clock))
    session = await edge.api.new_session()
    agent = await edge.api.owned_agent(session)
    key = await edge.api.create_key(session.headers(agent_id=agent.agent_id), expires_in_s=60)
    assert (
        await edge.api.client.get("/api/v1/tokenhall/key", headers=bearer(key["raw_key"]))
    ).status_code == 200
    clock.advance(61)
    before = edge.rows.snapshot()
    assert await _status_everywhere(make_edge(auth=edge.auth), key["raw_key"]) == {
        (401, "CREDENTIAL_EXPIRED")
    }
    assert edge.rows.snapshot() == before


async def test_i2_a_suspended_agents_credentials_stop_working_at_once(make_edge: MakeEdge) -> None:
    edge = make_edge()
    session = await edge.api.new_session()
    agent = await edge.api.owned_agent(session)
    key = await edge.api.create_key(session.headers(agent_id=agent.agent_id))
    await _suspend(edge.auth, agent.agent_id)
    fresh = make_edge()
    before = fresh.rows.snapshot()
    assert await _status_everywhere(fresh, agent.api_key) == {(401, "AGENT_SUSPENDED")}
    assert await _status_everywhere(fresh, key["raw_key"]) == {(401, "AGENT_SUSPENDED")}
    as_owner = await fresh.api.client.get(
        "/api/v1/agents/me", headers=session.headers(agent_id=agent.agent_id)
    )
    assert error_of(as_owner) == (403, "AGENT_SUSPENDED")
    assert fresh.rows.snapshot() == before


# ---------------------------------------------------------------------------------------- I3


async def test_i3_each_key_family_only_where_it_belongs(edge: Edge) -> None:
    real = await _issued_credentials(edge)
    before = edge.rows.snapshot()
    for credential in (real["th_"], real["tokenmart_"]):
        response = await edge.api.client.get("/api/v1/tokenhall/keys", headers=bearer(credential))
        assert error_of(response) == (403, "CREDENTIAL_FAMILY_NOT_ACCEPTED")
        minted = await edge.api.client.post(
            "/api/v1/tokenhall/keys", json={"name": "x"}, headers=bearer(credential)
        )
        assert error_of(minted) == (403, "CREDENTIAL_FAMILY_NOT_ACCEPTED")
    for credential in (real["th_"], real["thm_"]):
        response = await edge.api.client.get("/api/v1/agents/me", headers=bearer(credential))
        assert error_of(response) == (403, "CREDENTIAL_FAMILY_NOT_ACCEPTED")
    assert edge.rows.snapshot() == before


async def test_i3_only_inference_keys_pass_the_inference_front_door(edge: Edge) -> None:
    """What the inference routes ask auth for: th_ keys only; tokenmart_ and thm_ are 403."""
    real = await _issued_credentials(edge)
    async with edge.auth.channel("gateway") as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        for family in ("tokenmart_", "thm_", "tms_"):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.Authenticate(
                    auth_pb2.AuthenticateRequest(
                        credential=real[family],
                        audiences=[auth_pb2.AUDIENCE_PROVIDER, auth_pb2.AUDIENCE_WALLET],
                        accepted_families=[auth_pb2.CREDENTIAL_FAMILY_INFERENCE_KEY],
                    )
                )
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert error_reason(refused.value) == "CREDENTIAL_FAMILY_NOT_ACCEPTED"
        accepted = await stub.Authenticate(
            auth_pb2.AuthenticateRequest(
                credential=real["th_"],
                audiences=[auth_pb2.AUDIENCE_PROVIDER],
                accepted_families=[auth_pb2.CREDENTIAL_FAMILY_INFERENCE_KEY],
            )
        )
        assert auth_pb2.SCOPE_INFERENCE in accepted.principal.scopes


# ---------------------------------------------------------------------------------------- I4


async def test_i4_a_session_cannot_act_as_an_agent_it_does_not_own(edge: Edge) -> None:
    victim = await edge.api.new_session()
    agent = await edge.api.owned_agent(victim)
    unclaimed = await edge.api.register_agent()
    attacker = await edge.api.new_session()
    for target in (agent.agent_id, unclaimed.agent_id, str(__import__("uuid").uuid4())):
        before, audit = edge.rows.snapshot(), edge.rows.audit_ids()
        for method, path, body in AGENT_ROUTES:
            response = await _call(
                edge.api.client, method, path, body, attacker.headers(agent_id=target)
            )
            assert error_of(response) == (403, "AGENT_NOT_OWNED")
        assert edge.rows.snapshot() == before
        written = edge.rows.audit_since(audit)
        assert written == [("agent_access_denied", "failure", "AGENT_NOT_OWNED")] * len(
            AGENT_ROUTES
        )


# ---------------------------------------------------------------------------------------- I5


async def test_i5_an_admin_owned_agents_key_carries_no_account_authority(edge: Edge) -> None:
    admin = await edge.admin_session()
    agent = await edge.api.owned_agent(admin)
    before = edge.rows.snapshot()
    async with edge.auth.channel("gateway") as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        authenticated = await stub.Authenticate(
            auth_pb2.AuthenticateRequest(
                credential=agent.api_key, audiences=[auth_pb2.AUDIENCE_AUTH]
            )
        )
        principal = authenticated.principal
        assert principal.account_id == ""
        assert principal.role == auth_pb2.ACCOUNT_ROLE_UNSPECIFIED
        assert not {auth_pb2.SCOPE_ACCOUNT, auth_pb2.SCOPE_ADMIN, auth_pb2.SCOPE_SUPER_ADMIN} & set(
            principal.scopes
        )
        claims = jwt.decode(authenticated.access_token, options={"verify_signature": False})
        assert "admin" not in claims["scope"].split()
        assert "tm_acc" not in claims
        victim = await edge.api.register_agent()
        for call in (
            stub.SuspendAgent(
                auth_pb2.SuspendAgentRequest(
                    request_id=str(__import__("uuid").uuid4()), agent_id=victim.agent_id, reason="x"
                ),
                metadata=(("authorization", f"Bearer {authenticated.access_token}"),),
            ),
            stub.ListAuditEvents(
                auth_pb2.ListAuditEventsRequest(),
                metadata=(("authorization", f"Bearer {authenticated.access_token}"),),
            ),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # Account routes refuse the agent key outright.
    for method, path, body in (
        ("GET", "/api/v1/auth/sessions", None),
        ("POST", "/api/v1/agents/rekey", {"agent_id": agent.agent_id}),
        ("POST", "/api/v1/auth/claim", {"claim_code": victim.claim_code}),
    ):
        response = await _call(edge.api.client, method, path, body, bearer(agent.api_key))
        assert error_of(response) == (403, "CREDENTIAL_FAMILY_NOT_ACCEPTED")
    snapshot = edge.rows.snapshot()
    # Only the victim agent's registration happened meanwhile.
    assert snapshot["agents"] != before["agents"]
    assert {
        k: v
        for k, v in snapshot.items()
        if k not in {"agents", "api_keys", "claim_codes", "request_log"}
    } == {
        k: v
        for k, v in before.items()
        if k not in {"agents", "api_keys", "claim_codes", "request_log"}
    }


# ---------------------------------------------------------------------------------------- I6


async def test_i6_a_replayed_refresh_token_revokes_the_whole_session(edge: Edge) -> None:
    session = await edge.api.new_session()
    rotated = await edge.api.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": session.refresh_token}
    )
    newest = rotated.json()
    replay = await edge.api.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": session.refresh_token}
    )
    assert error_of(replay) == (401, "REFRESH_TOKEN_REUSED")
    fresh = await edge.api.client.get(
        "/api/v1/auth/sessions", headers=bearer(newest["session_token"])
    )
    assert error_of(fresh) == (401, "CREDENTIAL_REVOKED")
    legit = await edge.api.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": newest["refresh_token"]}
    )
    assert error_of(legit)[0] == 401


# ---------------------------------------------------------------------------------------- I7


async def test_i7_a_claim_code_works_once_and_guesses_are_refused(edge: Edge) -> None:
    agent = await edge.api.register_agent()
    owner = await edge.api.new_session()
    attacker = await edge.api.new_session()
    guess = _random_like(agent.claim_code) if "_" in agent.claim_code else agent.claim_code[::-1]
    before = edge.rows.snapshot()
    guessed = await edge.api.client.post(
        "/api/v1/auth/claim", json={"claim_code": guess}, headers=attacker.headers()
    )
    assert error_of(guessed)[0] in (400, 404)
    assert edge.rows.snapshot() == before
    await edge.api.claim(owner, agent)
    after_claim = edge.rows.snapshot()
    reused = await edge.api.client.post(
        "/api/v1/auth/claim", json={"claim_code": agent.claim_code}, headers=attacker.headers()
    )
    assert error_of(reused) == (404, "CLAIM_CODE_INVALID")
    assert edge.rows.snapshot() == after_claim


async def test_i7_two_accounts_racing_for_one_code_one_wins(edge: Edge) -> None:
    for _ in range(5):
        agent = await edge.api.register_agent()
        racers = [await edge.api.new_session() for _ in range(4)]
        responses = await asyncio.gather(
            *(
                edge.api.client.post(
                    "/api/v1/auth/claim", json={"claim_code": agent.claim_code}, headers=s.headers()
                )
                for s in racers
            )
        )
        winners = [r for r in responses if r.status_code == 200]
        assert len(winners) == 1
        assert all(
            error_of(r) == (404, "CLAIM_CODE_INVALID") for r in responses if r.status_code != 200
        )
        owner = winners[0].json()["owner_account_id"]
        assert owner in {s.account_id for s in racers}


async def test_i7_an_expired_claim_code_is_refused(make_edge: MakeEdge, start_auth_server) -> None:
    clock = ManualClock()
    edge = make_edge(auth=start_auth_server(clock=clock, env={"CLAIM_CODE_TTL_S": "600"}))
    agent = await edge.api.register_agent()
    session = await edge.api.new_session()
    clock.advance(601)
    before = edge.rows.snapshot()
    expired = await edge.api.client.post(
        "/api/v1/auth/claim", json={"claim_code": agent.claim_code}, headers=session.headers()
    )
    assert error_of(expired) == (404, "CLAIM_CODE_INVALID")
    assert edge.rows.snapshot() == before


async def test_i7_claim_guesses_are_throttled(edge: Edge) -> None:
    agent = await edge.api.register_agent()
    attacker = await edge.api.new_session()
    statuses = []
    for _ in range(12):
        response = await edge.api.client.post(
            "/api/v1/auth/claim",
            json={"claim_code": _random_like(agent.claim_code)},
            headers=attacker.headers(),
        )
        statuses.append(response.status_code)
    assert 429 in statuses
    # Even the right code is refused while throttled: guessing cannot race ahead.
    right = await edge.api.client.post(
        "/api/v1/auth/claim", json={"claim_code": agent.claim_code}, headers=attacker.headers()
    )
    assert right.status_code == 429


# ---------------------------------------------------------------------------------------- I8


async def _identity_token(
    edge: Edge, agent: Agent, audience: str = "https://partner.example"
) -> str:
    response = await edge.api.client.post(
        "/api/v1/agents/verify-identity", json={"audience": audience}, headers=bearer(agent.api_key)
    )
    assert response.status_code == 200
    return str(response.json()["identity_token"])


async def test_i8_identity_tokens_are_single_use_audience_bound_and_short_lived(
    make_edge: MakeEdge, start_auth_server
) -> None:
    clock = ManualClock()
    edge = make_edge(auth=start_auth_server(clock=clock))
    agent = await edge.api.register_agent()
    check = "/api/v1/agents/verify-identity/check"
    token = await _identity_token(edge, agent)
    wrong = await edge.api.client.post(
        check, json={"identity_token": token, "audience": "https://evil.example"}
    )
    assert wrong.json()["valid"] is False
    assert wrong.json()["reason"] == "audience_mismatch"
    # The probe burned it: the real audience cannot use it afterwards.
    burned = await edge.api.client.post(
        check, json={"identity_token": token, "audience": "https://partner.example"}
    )
    assert burned.json()["valid"] is False
    token = await _identity_token(edge, agent)
    ok = await edge.api.client.post(
        check, json={"identity_token": token, "audience": "https://partner.example"}
    )
    assert ok.json()["valid"] is True
    reused = await edge.api.client.post(
        check, json={"identity_token": token, "audience": "https://partner.example"}
    )
    assert (reused.json()["valid"], reused.json()["reason"]) == (False, "already_used")
    token = await _identity_token(edge, agent)
    clock.advance(601)
    late = await edge.api.client.post(
        check, json={"identity_token": token, "audience": "https://partner.example"}
    )
    assert (late.json()["valid"], late.json()["reason"]) == (False, "expired")


async def test_i8_an_identity_token_in_a_url_is_rejected(edge: Edge) -> None:
    agent = await edge.api.register_agent()
    token = await _identity_token(edge, agent)
    for url in (
        f"/api/v1/agents/verify-identity/check?identity_token={token}&audience=x",
        f"/api/v1/agents/verify-identity?token={token}",
        f"/api/v1/agents/me?key={agent.api_key}",
    ):
        response = await edge.api.client.get(url)
        assert error_of(response) == (400, "CREDENTIAL_IN_URL")
        assert token not in response.text
    # It was never looked at, so its rightful audience can still use it.
    ok = await edge.api.client.post(
        "/api/v1/agents/verify-identity/check",
        json={"identity_token": token, "audience": "https://partner.example"},
    )
    assert ok.json()["valid"] is True


# ---------------------------------------------------------------------------------------- I9


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forgeries(token: str, public_key_pem: bytes) -> dict[str, str]:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    elevated = dict(claims, scope=claims["scope"] + " admin super_admin")
    hs_header = _b64(
        json.dumps(
            {
                "alg": "HS256",
                "typ": "at+jwt",
                "kid": json.loads(base64.urlsafe_b64decode(header + "=="))["kid"],
            }
        ).encode()
    )
    import hashlib
    import hmac

    hs_payload = _b64(json.dumps(elevated).encode())
    hs_signature = _b64(
        hmac.new(public_key_pem, f"{hs_header}.{hs_payload}".encode(), hashlib.sha256).digest()
    )
    flipped = "AA" if signature[-2:] != "AA" else "BB"
    none_header = _b64(json.dumps({"alg": "none", "typ": "at+jwt"}).encode())
    return {
        "tampered_payload": f"{header}.{_b64(json.dumps(elevated).encode())}.{signature}",
        "tampered_signature": f"{header}.{payload}.{signature[:-2]}{flipped}",
        "alg_none": f"{none_header}.{_b64(json.dumps(elevated).encode())}.",
        "alg_hs256_with_public_key": f"{hs_header}.{hs_payload}.{hs_signature}",
        "garbage": "not.a.token",
    }


async def test_i9_forged_tampered_or_misaddressed_tokens_are_rejected(
    edge: Edge, pki: dict[str, IssuedFiles]
) -> None:
    agent = await edge.api.register_agent()
    async with edge.auth.channel("gateway") as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        real = await stub.Authenticate(
            auth_pb2.AuthenticateRequest(
                credential=agent.api_key, audiences=[auth_pb2.AUDIENCE_AUTH]
            )
        )
        published = await stub.GetPublicKeys(auth_pb2.GetPublicKeysRequest())
        assert (
            await stub.GetMe(
                auth_pb2.GetMeRequest(),
                metadata=(("authorization", f"Bearer {real.access_token}"),),
            )
        ).agent.agent_id == agent.agent_id
        public_key = published.keys[0].public_key
        for name, forged in _forgeries(real.access_token, public_key).items():
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.GetMe(
                    auth_pb2.GetMeRequest(), metadata=(("authorization", f"Bearer {forged}"),)
                )
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED, name
    # Every other service verifies with the shared verifier against auth's published keys.
    tls = TlsSettings(
        ca_file=pki["wallet"].ca_file,
        cert_file=pki["wallet"].cert_file,
        key_file=pki["wallet"].key_file,
    )
    channel = open_channel(
        PeerTarget(service="auth", target=f"127.0.0.1:{edge.auth.port}", default_timeout_s=5),
        tls,
        full_service_name="tokenmart.auth.v1.AuthService",
    )
    async with channel:
        for audience in ("tokenmart.wallet", "tokenmart.provider", "tokenmart.review"):
            verifier = AccessTokenVerifier(AuthPublicKeys(channel), audience=audience)
            # A genuine token addressed to auth only is refused by the others.
            with pytest.raises(AccessTokenInvalid) as misaddressed:
                await verifier.verify(real.access_token)
            assert getattr(misaddressed.value, "reason", "") == "ACCESS_TOKEN_INVALID"
            for name, forged in _forgeries(real.access_token, public_key).items():
                with pytest.raises(AccessTokenInvalid) as refused_here:
                    await verifier.verify(forged)
                assert getattr(refused_here.value, "reason", "") == "ACCESS_TOKEN_INVALID", name
        addressed = await _token_for(edge, agent, auth_pb2.AUDIENCE_WALLET)
        verified = await AccessTokenVerifier(
            AuthPublicKeys(channel), audience="tokenmart.wallet"
        ).verify(addressed)
        assert verified.agent_id == agent.agent_id


async def _token_for(edge: Edge, agent: Agent, audience: int) -> str:
    async with edge.auth.channel("gateway") as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        response = await stub.Authenticate(
            auth_pb2.AuthenticateRequest(credential=agent.api_key, audiences=[audience])
        )
        return response.access_token


# --------------------------------------------------------------------------------------- I11


async def test_i11_unknown_and_known_emails_are_indistinguishable_and_lock_out(
    make_edge: MakeEdge, start_auth_server
) -> None:
    edge = make_edge(auth=start_auth_server(env={"LOCKOUT_EMAIL_THRESHOLD": "3"}))
    known = await edge.api.register_account()
    unknown = unique_email()
    answers: dict[str, list[tuple[int, str, str]]] = {known: [], unknown: []}
    for email in (known, unknown):
        for _ in range(5):
            response = await edge.api.client.post(
                "/api/v1/auth/login", json={"email": email, "password": "wrong password 1"}
            )
            body = response.json()["error"]
            answers[email].append((response.status_code, body["reason"], body["message"]))
    assert answers[known] == answers[unknown]
    reasons = [reason for _, reason, _ in answers[known]]
    assert reasons[:3] == ["INVALID_CREDENTIALS"] * 3
    assert set(reasons[3:]) == {"LOGIN_LOCKED_OUT"}
    # Locked out even with the right password, until the backoff passes.
    locked = await edge.api.client.post(
        "/api/v1/auth/login", json={"email": known, "password": PASSWORD}
    )
    assert error_of(locked) == (429, "LOGIN_LOCKED_OUT")

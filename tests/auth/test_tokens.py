"""Access tokens and signing keys (THREATS I9): tokens verify with the published keys and with
nothing else; tampering, expiry, another audience, or a switched algorithm are rejected;
rotation keeps old tokens valid until their keys' not_after; bootstrap is race-safe."""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import uuid

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from tokenmart.auth.v1 import auth_pb2

from services.auth.domain.signing_keys import KeyEncryption
from services.auth.operations.keyring import Keyring
from services.auth.store.database import Database
from services.common.db import async_url
from tests.auth.helpers import AuthClient, bearer, client_for, refused, rid
from tests.conftest import AUTH_TEST_KEK, AuthServerHandle, ManualClock, auth_test_settings

UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED


async def _published(client: AuthClient) -> dict[str, Ed25519PublicKey]:
    response = await client.stub.GetPublicKeys(auth_pb2.GetPublicKeysRequest())
    assert response.issuer == "tokenmart-auth"
    assert response.refresh_after.ToTimedelta() == datetime.timedelta(seconds=60)
    return {key.key_id: Ed25519PublicKey.from_public_bytes(key.public_key) for key in response.keys}


def _verify(token: str, keys: dict[str, Ed25519PublicKey], audience: str) -> dict[str, object]:
    """What any verifier does: alg pinned, key by kid, audience and issuer checked."""
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA" and header["typ"] == "at+jwt"
    claims: dict[str, object] = jwt.decode(
        token,
        keys[header["kid"]],
        algorithms=["EdDSA"],
        audience=audience,
        issuer="tokenmart-auth",
        options={"require": ["exp", "iat", "nbf", "jti", "sub", "aud", "iss"]},
    )
    return claims


def _segments(token: str) -> list[str]:
    return token.split(".")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def test_tokens_verify_with_the_published_keys(client: AuthClient) -> None:
    session = await client.new_session()
    agent = await client.owned_agent(session)
    keys = await _published(client)
    for credential, agent_id in ((agent.api_key, ""), (session.session_token, agent.agent_id)):
        token = (await client.authenticate(credential, agent_id=agent_id)).access_token
        claims = _verify(token, keys, "tokenmart.review")
        assert isinstance(claims["exp"], int) and isinstance(claims["iat"], int)
        assert 0 < claims["exp"] - claims["iat"] <= 300
        assert claims["nbf"] == claims["iat"]
        uuid.UUID(str(claims["jti"]))
        assert claims["tm_agt"] == agent.agent_id
    token = (await client.authenticate(agent.api_key)).access_token
    claims = _verify(token, keys, "tokenmart.wallet")
    assert claims["sub"] == f"agent:{agent.agent_id}"
    assert claims["tm_fam"] == "agent_key"
    assert claims["scope"] == "agent:read agent:write"
    assert "tm_acc" not in claims and "tm_role" not in claims and "tm_sid" not in claims
    assert claims["tm_own"] == session.account_id and claims["tm_lcs"] == "claimed"
    assert claims["tm_rpm"] == 60
    session_claims = _verify(
        (await client.authenticate(session.session_token)).access_token, keys, "tokenmart.auth"
    )
    assert session_claims["sub"] == f"account:{session.account_id}"
    assert session_claims["tm_sid"] == session.session_id
    assert session_claims["tm_role"] == "user"
    assert session_claims["scope"] == "account"


async def test_each_jti_is_fresh(client: AuthClient) -> None:
    agent = await client.register_agent()
    tokens = [(await client.authenticate(agent.api_key)).access_token for _ in range(3)]
    jtis = {jwt.decode(token, options={"verify_signature": False})["jti"] for token in tokens}
    assert len(jtis) == 3


async def _me(client: AuthClient, token: str) -> auth_pb2.GetMeResponse:
    response: auth_pb2.GetMeResponse = await client.stub.GetMe(
        auth_pb2.GetMeRequest(), metadata=bearer(token)
    )
    return response


async def test_auth_accepts_its_own_token(client: AuthClient) -> None:
    session = await client.new_session()
    token = (await client.authenticate(session.session_token)).access_token
    me = await _me(client, token)
    assert me.account.account_id == session.account_id
    assert not me.HasField("agent")


async def test_a_missing_or_malformed_authorization_is_refused(client: AuthClient) -> None:
    await refused(
        client.stub.GetMe(auth_pb2.GetMeRequest()), UNAUTHENTICATED, "ACCESS_TOKEN_MISSING"
    )
    await refused(
        client.stub.GetMe(auth_pb2.GetMeRequest(), metadata=(("authorization", "Basic abc"),)),
        UNAUTHENTICATED,
        "ACCESS_TOKEN_INVALID",
    )
    await refused(
        client.stub.GetMe(auth_pb2.GetMeRequest(), metadata=bearer("not.a.jwt")),
        UNAUTHENTICATED,
        "ACCESS_TOKEN_INVALID",
    )


async def test_a_tampered_token_is_rejected(client: AuthClient) -> None:
    session = await client.new_session()
    victim = await client.new_session()
    token = (await client.authenticate(session.session_token)).access_token
    header, payload, signature = _segments(token)
    claims = json.loads(_unb64(payload))
    claims["sub"] = f"account:{victim.account_id}"
    claims["tm_acc"] = victim.account_id
    claims["scope"] = "account admin super_admin"
    forged_payload = _b64(json.dumps(claims).encode())
    for forged in (
        f"{header}.{forged_payload}.{signature}",
        f"{header}.{payload}.{_b64(bytes(64))}",
        f"{header}.{payload}.{signature[:-4]}AAAA",
    ):
        await refused(
            client.stub.GetMe(auth_pb2.GetMeRequest(), metadata=bearer(forged)),
            UNAUTHENTICATED,
            "ACCESS_TOKEN_INVALID",
        )


async def test_a_token_signed_by_another_key_is_rejected(client: AuthClient) -> None:
    session = await client.new_session()
    token = (await client.authenticate(session.session_token)).access_token
    claims = jwt.decode(token, options={"verify_signature": False})
    kid = jwt.get_unverified_header(token)["kid"]
    for headers in ({"kid": kid, "typ": "at+jwt"}, {"kid": "attacker", "typ": "at+jwt"}):
        forged = jwt.encode(
            claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers=headers
        )
        await refused(
            client.stub.GetMe(auth_pb2.GetMeRequest(), metadata=bearer(forged)),
            UNAUTHENTICATED,
            "ACCESS_TOKEN_INVALID",
        )


async def test_switching_the_algorithm_is_rejected(client: AuthClient) -> None:
    session = await client.new_session()
    token = (await client.authenticate(session.session_token)).access_token
    claims = jwt.decode(token, options={"verify_signature": False})
    kid = jwt.get_unverified_header(token)["kid"]
    keys = await client.stub.GetPublicKeys(auth_pb2.GetPublicKeysRequest())
    public_bytes = next(key.public_key for key in keys.keys if key.key_id == kid)
    # HS256 "signed" with the public key (the classic confusion), and alg none.
    hs256 = jwt.encode(
        claims, public_bytes, algorithm="HS256", headers={"kid": kid, "typ": "at+jwt"}
    )
    header = _b64(json.dumps({"alg": "none", "kid": kid, "typ": "at+jwt"}).encode())
    unsigned = f"{header}.{_segments(token)[1]}."
    for forged in (hs256, unsigned):
        await refused(
            client.stub.GetMe(auth_pb2.GetMeRequest(), metadata=bearer(forged)),
            UNAUTHENTICATED,
            "ACCESS_TOKEN_INVALID",
        )


async def test_a_token_for_another_audience_is_rejected(client: AuthClient) -> None:
    session = await client.new_session()
    token = (
        await client.authenticate(session.session_token, audiences=(auth_pb2.AUDIENCE_PROVIDER,))
    ).access_token
    await refused(
        client.stub.GetMe(auth_pb2.GetMeRequest(), metadata=bearer(token)),
        UNAUTHENTICATED,
        "ACCESS_TOKEN_INVALID",
    )


async def test_an_expired_token_is_rejected(start_auth_server) -> None:
    clock = ManualClock()
    server = start_auth_server(clock=clock)
    async with client_for(server) as client:
        session = await client.new_session()
        token = (await client.authenticate(session.session_token)).access_token
        clock.advance(299)
        await _me(client, token)
        clock.advance(1 + server.settings.tokens.clock_skew_s)
        await refused(
            client.stub.GetMe(auth_pb2.GetMeRequest(), metadata=bearer(token)),
            UNAUTHENTICATED,
            "ACCESS_TOKEN_EXPIRED",
        )


async def test_a_service_token_acts_only_for_its_own_service(
    auth_server: AuthServerHandle,
) -> None:
    async with client_for(auth_server, peer="review") as review:
        issued = await review.stub.IssueServiceToken(
            auth_pb2.IssueServiceTokenRequest(audiences=[auth_pb2.AUDIENCE_AUTH])
        )
        claims = jwt.decode(issued.access_token, options={"verify_signature": False})
        assert claims["sub"] == "service:review" and claims["scope"] == "service"
        assert claims["tm_svc"] == "review" and claims["tm_fam"] == "service"
    async with client_for(auth_server, peer="ctl") as ctl:
        operator = jwt.decode(await ctl.operator_token(), options={"verify_signature": False})
        assert operator["scope"] == "operator service"
        # ctl presenting review's service token: the token is not ctl's.
        await refused(
            ctl.stub.ListAgents(auth_pb2.ListAgentsRequest(), metadata=bearer(issued.access_token)),
            UNAUTHENTICATED,
            "ACCESS_TOKEN_INVALID",
        )


@pytest.mark.parametrize(
    "audiences",
    [[], [auth_pb2.AUDIENCE_AUTH, auth_pb2.AUDIENCE_AUTH]],
)
async def test_service_token_audiences_must_be_given_once(
    auth_server: AuthServerHandle, audiences: list[int]
) -> None:
    async with client_for(auth_server, peer="review") as review:
        await refused(
            review.stub.IssueServiceToken(auth_pb2.IssueServiceTokenRequest(audiences=audiences)),
            grpc.StatusCode.INVALID_ARGUMENT,
            "AUDIENCE_INVALID",
        )


async def test_the_gateway_cannot_get_a_service_token(auth_server: AuthServerHandle) -> None:
    async with auth_server.channel("gateway") as channel:
        await refused(
            auth_server.stub(channel).IssueServiceToken(
                auth_pb2.IssueServiceTokenRequest(audiences=[auth_pb2.AUDIENCE_AUTH])
            ),
            grpc.StatusCode.PERMISSION_DENIED,
            "PEER_NOT_ALLOWED",
        )


# -- rotation -----------------------------------------------------------------------------------


async def _rotate(
    ctl: AuthClient, *, compromised: bool = False, activate_after_s: int | None = None
) -> auth_pb2.RotateSigningKeyResponse:
    request = auth_pb2.RotateSigningKeyRequest(request_id=rid(), compromised=compromised)
    if activate_after_s is not None:
        request.activate_after.FromSeconds(activate_after_s)
    response: auth_pb2.RotateSigningKeyResponse = await ctl.stub.RotateSigningKey(
        request, metadata=bearer(await ctl.operator_token())
    )
    return response


async def test_normal_rotation_publishes_first_and_old_tokens_keep_verifying(
    start_auth_server, fresh_auth_database
) -> None:
    clock = ManualClock()
    server = start_auth_server(clock=clock, database=fresh_auth_database)
    async with client_for(server) as client, client_for(server, peer="ctl") as ctl:
        session = await client.new_session()
        old_token = (await client.authenticate(session.session_token)).access_token
        old_kid = jwt.get_unverified_header(old_token)["kid"]
        rotation = await _rotate(ctl)
        activates = rotation.activates_at.ToDatetime(tzinfo=datetime.UTC)
        # Unset activate_after means twice the verifiers' refresh_after (60 s).
        assert activates - clock().replace(microsecond=0) == datetime.timedelta(seconds=120)
        assert rotation.new_key.status == auth_pb2.SIGNING_KEY_STATUS_NEXT
        assert rotation.previous_key.key_id == old_kid
        not_after = rotation.previous_key.not_after.ToDatetime(tzinfo=datetime.UTC)
        assert not_after >= activates + datetime.timedelta(seconds=300)
        published = await client.stub.GetPublicKeys(auth_pb2.GetPublicKeysRequest())
        statuses = {key.key_id: key.status for key in published.keys}
        assert statuses == {
            old_kid: auth_pb2.SIGNING_KEY_STATUS_ACTIVE,
            rotation.new_key.key_id: auth_pb2.SIGNING_KEY_STATUS_NEXT,
        }
        # Published ahead of use: still signing with the old key until the new one activates.
        token = (await client.authenticate(session.session_token)).access_token
        assert jwt.get_unverified_header(token)["kid"] == old_kid
        await refused(
            ctl.stub.RotateSigningKey(
                auth_pb2.RotateSigningKeyRequest(request_id=rid()),
                metadata=bearer(await ctl.operator_token()),
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
            "ROTATION_IN_PROGRESS",
        )
        clock.advance(120)
        new_token = (await client.authenticate(session.session_token)).access_token
        assert jwt.get_unverified_header(new_token)["kid"] == rotation.new_key.key_id
        published = await client.stub.GetPublicKeys(auth_pb2.GetPublicKeysRequest())
        by_id = {key.key_id: key for key in published.keys}
        assert by_id[rotation.new_key.key_id].status == auth_pb2.SIGNING_KEY_STATUS_ACTIVE
        assert by_id[old_kid].status == auth_pb2.SIGNING_KEY_STATUS_RETIRED
        assert by_id[old_kid].not_after.ToDatetime(tzinfo=datetime.UTC) == not_after
        # The old key keeps verifying the tokens it signed while they live.
        await _me(client, old_token)
        await _me(client, new_token)
        clock.advance((not_after - clock()).total_seconds())
        published = await client.stub.GetPublicKeys(auth_pb2.GetPublicKeysRequest())
        assert old_kid not in {key.key_id for key in published.keys}


def _old_private_key(server: AuthServerHandle, kid: str) -> Ed25519PrivateKey:
    """The old key's private half, unsealed with the KEK as only auth can (test-only)."""
    import psycopg
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    with psycopg.connect(server.owner_url) as connection:
        nonce, ciphertext = connection.execute(
            "SELECT private_key_nonce, private_key_ciphertext FROM auth.signing_keys WHERE id = %s",
            (kid,),
        ).fetchone()
    raw = AESGCM(base64.b64decode(AUTH_TEST_KEK)).decrypt(nonce, ciphertext, kid.encode())
    return Ed25519PrivateKey.from_private_bytes(raw)


async def test_a_lagging_replicas_token_verifies_until_the_old_keys_not_after(
    start_auth_server, fresh_auth_database
) -> None:
    clock = ManualClock()
    server = start_auth_server(clock=clock, database=fresh_auth_database)
    async with client_for(server) as client, client_for(server, peer="ctl") as ctl:
        session = await client.new_session()
        template = jwt.decode(
            (await client.authenticate(session.session_token)).access_token,
            options={"verify_signature": False},
        )
        rotation = await _rotate(ctl, activate_after_s=0)
        old_kid = rotation.previous_key.key_id
        not_after = rotation.previous_key.not_after.ToDatetime(tzinfo=datetime.UTC)
        # A replica that has not reloaded yet signs with the old key for up to its reload
        # interval after the switch; those tokens must live out their five minutes.
        lag_s = server.settings.tokens.keyring_reload_s
        issued_at = int(rotation.activates_at.seconds) + lag_s
        claims = {**template, "iat": issued_at, "nbf": issued_at, "exp": issued_at + 300}
        claims["jti"] = str(uuid.uuid4())
        lagging = jwt.encode(
            claims,
            _old_private_key(server, old_kid),
            algorithm="EdDSA",
            headers={"kid": old_kid, "typ": "at+jwt"},
        )
        clock.advance(lag_s + 299)
        assert clock() < not_after
        await _me(client, lagging)
        clock.advance((not_after - clock()).total_seconds())
        await refused(
            client.stub.GetMe(auth_pb2.GetMeRequest(), metadata=bearer(lagging)),
            UNAUTHENTICATED,
            "ACCESS_TOKEN_INVALID",
        )


async def test_compromised_rotation_retires_the_old_key_at_once(
    start_auth_server, fresh_auth_database
) -> None:
    server = start_auth_server(database=fresh_auth_database)
    async with client_for(server) as client, client_for(server, peer="ctl") as ctl:
        session = await client.new_session()
        old_token = (await client.authenticate(session.session_token)).access_token
        await _me(client, old_token)
        rotation = await _rotate(ctl, compromised=True)
        assert rotation.new_key.status == auth_pb2.SIGNING_KEY_STATUS_ACTIVE
        assert rotation.previous_key.status == auth_pb2.SIGNING_KEY_STATUS_RETIRED
        await refused(
            client.stub.GetMe(auth_pb2.GetMeRequest(), metadata=bearer(old_token)),
            UNAUTHENTICATED,
            "ACCESS_TOKEN_INVALID",
        )
        published = await client.stub.GetPublicKeys(auth_pb2.GetPublicKeysRequest())
        assert [key.key_id for key in published.keys] == [rotation.new_key.key_id]
        new_token = (await client.authenticate(session.session_token)).access_token
        assert jwt.get_unverified_header(new_token)["kid"] == rotation.new_key.key_id
        await _me(client, new_token)


async def test_a_compromise_during_a_pending_rotation_retires_both_keys(
    start_auth_server, fresh_auth_database
) -> None:
    server = start_auth_server(database=fresh_auth_database)
    async with client_for(server) as client, client_for(server, peer="ctl") as ctl:
        session = await client.new_session()
        old_token = (await client.authenticate(session.session_token)).access_token
        pending = await _rotate(ctl, activate_after_s=600)  # published, not yet signing
        assert pending.new_key.status == auth_pb2.SIGNING_KEY_STATUS_NEXT
        rotation = await _rotate(ctl, compromised=True)
        assert rotation.new_key.status == auth_pb2.SIGNING_KEY_STATUS_ACTIVE
        published = await client.stub.GetPublicKeys(auth_pb2.GetPublicKeysRequest())
        assert [key.key_id for key in published.keys] == [rotation.new_key.key_id]
        await refused(
            client.stub.GetMe(auth_pb2.GetMeRequest(), metadata=bearer(old_token)),
            UNAUTHENTICATED,
            "ACCESS_TOKEN_INVALID",
        )
        new_token = (await client.authenticate(session.session_token)).access_token
        assert jwt.get_unverified_header(new_token)["kid"] == rotation.new_key.key_id
        await _me(client, new_token)


async def test_activate_after_must_be_within_an_hour(auth_server: AuthServerHandle) -> None:
    async with client_for(auth_server, peer="ctl") as ctl:
        for seconds in (-1, 3601):
            request = auth_pb2.RotateSigningKeyRequest(request_id=rid())
            request.activate_after.FromSeconds(seconds)
            await refused(
                ctl.stub.RotateSigningKey(request, metadata=bearer(await ctl.operator_token())),
                grpc.StatusCode.INVALID_ARGUMENT,
                "ACTIVATE_AFTER_INVALID",
            )


async def test_two_replicas_starting_at_once_create_one_active_key(
    fresh_auth_database, pki
) -> None:
    import psycopg
    from sqlalchemy.ext.asyncio import create_async_engine

    settings = auth_test_settings(fresh_auth_database.runtime_url, pki["auth"])
    engines = [create_async_engine(async_url(fresh_auth_database.runtime_url)) for _ in range(4)]
    try:
        keyrings = [
            Keyring(
                database=Database(engine),
                encryption=KeyEncryption(base64.b64decode(AUTH_TEST_KEK)),
                settings=settings.tokens,
                clock=lambda: datetime.datetime.now(datetime.UTC),
            )
            for engine in engines
        ]
        await asyncio.gather(*(keyring.start() for keyring in keyrings))
        kids = {(await keyring.signing_material()).key_id for keyring in keyrings}
        assert len(kids) == 1
    finally:
        for engine in engines:
            await engine.dispose()
    with psycopg.connect(fresh_auth_database.owner_url) as connection:
        rows = connection.execute("SELECT status FROM auth.signing_keys").fetchall()
        assert rows == [("active",)]
        # And the database itself refuses a second active key, whatever the code does.
        with pytest.raises(psycopg.errors.UniqueViolation):
            connection.execute(
                "INSERT INTO auth.signing_keys SELECT gen_random_uuid(), algorithm, public_key, "
                "private_key_nonce, private_key_ciphertext, status, not_before, not_after, "
                "created_at FROM auth.signing_keys"
            )


async def test_a_wrong_kek_fails_at_start_with_a_plain_message(service_databases, pki) -> None:
    from services.auth import server

    # A keyring sealed under the right KEK exists first (whatever ran before this test).
    await server.preflight(auth_test_settings(service_databases["auth"].runtime_url, pki["auth"]))
    wrong_kek = base64.b64encode(b"w" * 32).decode()
    settings = auth_test_settings(
        service_databases["auth"].runtime_url, pki["auth"], {"SIGNING_KEK": wrong_kek}
    )
    with pytest.raises(SystemExit) as stopped:
        await server.preflight(settings)
    message = str(stopped.value.code)
    assert "cannot be decrypted with TOKENMART_AUTH_SIGNING_KEK" in message
    assert wrong_kek not in message

"""Authenticate, the gateway's front door: one test per error path (code and reason), the
principal each family gets, and what a refusal leaves behind (THREATS I1-I5)."""

from __future__ import annotations

import datetime

import grpc
import pytest
from tokenmart.auth.v1 import auth_pb2

from services.auth.domain import credentials
from services.auth.domain.credentials import CredentialKind
from tests.auth.helpers import AuthClient, Database, bearer, client_for, refused, rid
from tests.conftest import AuthServerHandle

UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
DENIED = grpc.StatusCode.PERMISSION_DENIED


def _request(credential: str, **fields: object) -> auth_pb2.AuthenticateRequest:
    return auth_pb2.AuthenticateRequest(credential=credential, **fields)  # type: ignore[arg-type]


async def test_an_empty_credential_is_missing(client: AuthClient) -> None:
    await refused(client.stub.Authenticate(_request("")), UNAUTHENTICATED, "CREDENTIAL_MISSING")


@pytest.mark.parametrize(
    "credential",
    [
        "not-a-credential",
        "sk-" + "a" * 48,
        "tokenmart_short",
        "tokenmart_" + "!" * 49,
        "xyz_" + "A" * 49,
    ],
)
async def test_a_malformed_credential_is_refused(client: AuthClient, credential: str) -> None:
    await refused(
        client.stub.Authenticate(_request(credential)), UNAUTHENTICATED, "CREDENTIAL_MALFORMED"
    )


async def _count_database_work(server: AuthServerHandle) -> list[str]:
    """Replace the server's transaction runner with one that records each use."""
    calls: list[str] = []
    database = server.runtime.database
    original = database.run

    async def counting(body):  # type: ignore[no-untyped-def]
        calls.append("run")
        return await original(body)

    database.run = counting  # type: ignore[method-assign]
    return calls


async def test_a_wrong_checksum_is_refused_without_any_database_work(start_auth_server) -> None:
    server = start_auth_server()
    calls = await _count_database_work(server)
    async with client_for(server) as client:
        for kind in CredentialKind:
            raw = credentials.generate(kind).raw
            mistyped = raw[:-1] + ("0" if raw[-1] != "0" else "1")
            # The checksum is checked before the family: a mistyped refresh token is mistyped.
            await refused(
                client.stub.Authenticate(_request(mistyped)),
                UNAUTHENTICATED,
                "CREDENTIAL_CHECKSUM_INVALID",
            )
        assert calls == []
        # A well-formed but unknown credential does reach the database, once.
        await refused(
            client.stub.Authenticate(_request(credentials.generate(CredentialKind.AGENT_KEY).raw)),
            UNAUTHENTICATED,
            "CREDENTIAL_NOT_FOUND",
        )
    assert calls == ["run"]


@pytest.mark.parametrize(
    "kind", [CredentialKind.REFRESH, CredentialKind.IDENTITY, CredentialKind.CLAIM_CODE]
)
async def test_refresh_identity_and_claim_tokens_are_not_bearer_credentials(
    client: AuthClient, kind: CredentialKind
) -> None:
    await refused(
        client.stub.Authenticate(_request(credentials.generate(kind).raw)),
        UNAUTHENTICATED,
        "CREDENTIAL_NOT_BEARER",
    )


async def test_a_real_refresh_token_cannot_authenticate(client: AuthClient) -> None:
    session = await client.new_session()
    await refused(
        client.stub.Authenticate(_request(session.refresh_token)),
        UNAUTHENTICATED,
        "CREDENTIAL_NOT_BEARER",
    )


async def test_an_invalid_agent_id_header_is_refused(client: AuthClient) -> None:
    session = await client.new_session()
    await refused(
        client.stub.Authenticate(_request(session.session_token, agent_id="not-a-uuid")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "AGENT_ID_INVALID",
    )


async def test_an_invalid_client_ip_is_refused(client: AuthClient) -> None:
    session = await client.new_session()
    await refused(
        client.stub.Authenticate(_request(session.session_token, client_ip="999.1.1.1")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "CLIENT_IP_INVALID",
    )


async def test_unspecified_enums_are_refused(client: AuthClient) -> None:
    session = await client.new_session()
    error = await refused(
        client.stub.Authenticate(
            _request(session.session_token, audiences=[auth_pb2.AUDIENCE_UNSPECIFIED])
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "ENUM_VALUE_UNSPECIFIED",
    )
    assert "audiences" in error.details()


async def test_each_key_family_acts_as_its_agent_only(client: AuthClient) -> None:
    session = await client.new_session()
    agent = await client.owned_agent(session)
    inference = await client.create_key(
        session.session_token,
        agent_id=agent.agent_id,
        credit_limit_micros=5_000,
        rate_limit_rpm=7,
        allowed_models=["model-a"],
    )
    management = await client.create_key(
        session.session_token, agent_id=agent.agent_id, family=auth_pb2.KEY_FAMILY_MANAGEMENT
    )
    expected = {
        agent.api_key: (
            auth_pb2.CREDENTIAL_FAMILY_AGENT_KEY,
            {auth_pb2.SCOPE_AGENT_READ, auth_pb2.SCOPE_AGENT_WRITE},
        ),
        inference.raw_key: (
            auth_pb2.CREDENTIAL_FAMILY_INFERENCE_KEY,
            {auth_pb2.SCOPE_AGENT_READ, auth_pb2.SCOPE_INFERENCE},
        ),
        management.raw_key: (
            auth_pb2.CREDENTIAL_FAMILY_MANAGEMENT_KEY,
            {auth_pb2.SCOPE_AGENT_READ, auth_pb2.SCOPE_KEYS_MANAGE},
        ),
    }
    for raw, (family, scopes) in expected.items():
        principal = (await client.authenticate(raw)).principal
        assert principal.credential_family == family
        assert set(principal.scopes) == scopes
        assert principal.agent_id == agent.agent_id
        # SPEC §1: an agent credential never carries account authority, owner or not.
        assert principal.account_id == "" and principal.session_id == ""
        assert principal.role == auth_pb2.ACCOUNT_ROLE_UNSPECIFIED
        assert principal.agent_owner_account_id == session.account_id
        assert principal.agent_lifecycle == auth_pb2.AGENT_LIFECYCLE_CLAIMED
        assert principal.agent_status == auth_pb2.AGENT_STATUS_ACTIVE
    limits = (await client.authenticate(inference.raw_key)).principal.key_limits
    assert (limits.credit_limit_micros, limits.rate_limit_rpm, list(limits.allowed_models)) == (
        5_000,
        7,
        ["model-a"],
    )
    default = (await client.authenticate(agent.api_key)).principal.key_limits
    assert default.rate_limit_rpm == 60 and not default.HasField("credit_limit_micros")


async def test_a_session_acts_as_the_account_and_names_no_agent_by_itself(
    client: AuthClient,
) -> None:
    session = await client.new_session()
    await client.owned_agent(session)
    await client.owned_agent(session)
    response = await client.authenticate(session.session_token)
    principal = response.principal
    assert principal.credential_family == auth_pb2.CREDENTIAL_FAMILY_SESSION
    assert principal.account_id == session.account_id
    assert principal.session_id == session.session_id
    assert principal.agent_id == ""  # two owned agents, no header: none is chosen silently
    assert set(principal.scopes) == {auth_pb2.SCOPE_ACCOUNT}
    assert principal.role == auth_pb2.ACCOUNT_ROLE_USER
    assert response.cache_for.ToTimedelta() <= datetime.timedelta(seconds=1)
    expires = response.access_token_expires_at.ToDatetime(tzinfo=datetime.UTC)
    assert expires - datetime.datetime.now(datetime.UTC) <= datetime.timedelta(seconds=301)


async def test_a_session_naming_its_own_agent_acts_as_it(client: AuthClient) -> None:
    session = await client.new_session()
    agent = await client.owned_agent(session)
    principal = (
        await client.authenticate(session.session_token, agent_id=agent.agent_id)
    ).principal
    assert principal.agent_id == agent.agent_id
    assert set(principal.scopes) == {
        auth_pb2.SCOPE_ACCOUNT,
        auth_pb2.SCOPE_AGENT_READ,
        auth_pb2.SCOPE_AGENT_WRITE,
        auth_pb2.SCOPE_KEYS_MANAGE,
    }


@pytest.mark.parametrize("whose", ["another account's", "nobody's"])
async def test_a_session_naming_a_foreign_agent_is_denied_and_audited(
    client: AuthClient, db: Database, whose: str
) -> None:
    session = await client.new_session()
    if whose == "nobody's":
        foreign_id = rid()
    else:
        other = await client.new_session()
        foreign_id = (await client.owned_agent(other)).agent_id
    before = db.snapshot()
    await refused(
        client.stub.Authenticate(_request(session.session_token, agent_id=foreign_id)),
        DENIED,
        "AGENT_NOT_OWNED",
    )
    assert db.snapshot() == before
    assert db.audit(subject_agent_id=foreign_id, event_type="agent_access_denied") == [
        ("agent_access_denied", "failure", "AGENT_NOT_OWNED")
    ]
    assert (
        db.value(
            "SELECT actor_account_id::text FROM audit_events "
            "WHERE subject_agent_id = %s AND event_type = 'agent_access_denied'",
            foreign_id,
        )
        == session.account_id
    )


async def test_a_key_naming_another_agent_is_denied(client: AuthClient, db: Database) -> None:
    agent = await client.register_agent()
    other = await client.register_agent()
    await refused(
        client.stub.Authenticate(_request(agent.api_key, agent_id=other.agent_id)),
        DENIED,
        "AGENT_HEADER_MISMATCH",
    )
    assert db.audit(subject_agent_id=other.agent_id, event_type="agent_access_denied") == [
        ("agent_access_denied", "failure", "AGENT_HEADER_MISMATCH")
    ]
    # Its own id is fine.
    await client.authenticate(agent.api_key, agent_id=agent.agent_id)


async def test_a_family_the_route_does_not_accept_is_denied(client: AuthClient) -> None:
    session = await client.new_session()
    agent = await client.owned_agent(session)
    inference = await client.create_key(session.session_token, agent_id=agent.agent_id)
    # THREATS I3: th_ on a management route, tokenmart_ and thm_ on inference.
    management = await client.create_key(
        session.session_token, agent_id=agent.agent_id, family=auth_pb2.KEY_FAMILY_MANAGEMENT
    )
    cases = [
        (inference.raw_key, [auth_pb2.CREDENTIAL_FAMILY_MANAGEMENT_KEY]),
        (agent.api_key, [auth_pb2.CREDENTIAL_FAMILY_INFERENCE_KEY]),
        (management.raw_key, [auth_pb2.CREDENTIAL_FAMILY_INFERENCE_KEY]),
        (session.session_token, [auth_pb2.CREDENTIAL_FAMILY_AGENT_KEY]),
    ]
    for credential, families in cases:
        await refused(
            client.stub.Authenticate(_request(credential, accepted_families=families)),
            DENIED,
            "CREDENTIAL_FAMILY_NOT_ACCEPTED",
        )
    accepted = await client.authenticate(
        inference.raw_key, families=(auth_pb2.CREDENTIAL_FAMILY_INFERENCE_KEY,)
    )
    assert accepted.principal.credential_family == auth_pb2.CREDENTIAL_FAMILY_INFERENCE_KEY


async def test_a_revoked_key_stops_at_once(client: AuthClient) -> None:
    session = await client.new_session()
    agent = await client.owned_agent(session)
    created = await client.create_key(session.session_token, agent_id=agent.agent_id)
    await client.authenticate(created.raw_key)
    await client.stub.RevokeKey(
        auth_pb2.RevokeKeyRequest(request_id=rid(), key_id=created.key.key_id),
        metadata=await client.token(session.session_token),
    )
    await refused(
        client.stub.Authenticate(_request(created.raw_key)), UNAUTHENTICATED, "CREDENTIAL_REVOKED"
    )


async def test_an_expired_key_and_session_token_are_refused(start_auth_server) -> None:
    from tests.conftest import ManualClock

    clock = ManualClock()
    server = start_auth_server(clock=clock)
    async with client_for(server) as client:
        session = await client.new_session()
        agent = await client.owned_agent(session)
        created = await client.create_key(
            session.session_token,
            agent_id=agent.agent_id,
            expires_in=datetime.timedelta(seconds=60),  # type: ignore[arg-type]
        )
        clock.advance(61)
        await refused(
            client.stub.Authenticate(_request(created.raw_key)),
            UNAUTHENTICATED,
            "CREDENTIAL_EXPIRED",
        )
        # The session token lives 15 minutes.
        clock.advance(15 * 60)
        await refused(
            client.stub.Authenticate(_request(session.session_token)),
            UNAUTHENTICATED,
            "CREDENTIAL_EXPIRED",
        )


async def test_a_suspended_agents_keys_and_sessions_acting_as_it_stop_at_once(
    client: AuthClient,
) -> None:
    session = await client.new_session()
    agent = await client.owned_agent(session)
    inference = await client.create_key(session.session_token, agent_id=agent.agent_id)
    admin = await client.admin_session()
    await client.stub.SuspendAgent(
        auth_pb2.SuspendAgentRequest(request_id=rid(), agent_id=agent.agent_id, reason="abuse"),
        metadata=await client.token(admin.session_token),
    )
    for raw in (agent.api_key, inference.raw_key):
        await refused(client.stub.Authenticate(_request(raw)), UNAUTHENTICATED, "AGENT_SUSPENDED")
    await refused(
        client.stub.Authenticate(_request(session.session_token, agent_id=agent.agent_id)),
        DENIED,
        "AGENT_SUSPENDED",
    )
    # The account itself still authenticates.
    await client.authenticate(session.session_token)


async def test_a_logged_out_session_token_is_revoked(client: AuthClient) -> None:
    session = await client.new_session()
    await client.stub.Logout(
        auth_pb2.LogoutRequest(request_id=rid()), metadata=await client.token(session.session_token)
    )
    await refused(
        client.stub.Authenticate(_request(session.session_token)),
        UNAUTHENTICATED,
        "CREDENTIAL_REVOKED",
    )


async def test_last_used_is_written_at_most_once_a_minute(client: AuthClient, db: Database) -> None:
    agent = await client.register_agent()
    assert db.value("SELECT last_used_at FROM api_keys WHERE id = %s", agent.key_id) is None
    await client.authenticate(agent.api_key)
    first = db.value("SELECT last_used_at FROM api_keys WHERE id = %s", agent.key_id)
    assert first is not None
    for _ in range(3):
        await client.authenticate(agent.api_key)
    assert db.value("SELECT last_used_at FROM api_keys WHERE id = %s", agent.key_id) == first


async def test_authenticate_is_for_the_gateway_only(auth_server: AuthServerHandle) -> None:
    session_token = credentials.generate(CredentialKind.SESSION).raw
    async with auth_server.channel("review") as channel:
        await refused(
            auth_server.stub(channel).Authenticate(_request(session_token)),
            DENIED,
            "PEER_NOT_ALLOWED",
        )


async def test_the_token_carries_the_requested_audiences(client: AuthClient) -> None:
    import jwt

    agent = await client.register_agent()
    token = (
        await client.authenticate(agent.api_key, audiences=(auth_pb2.AUDIENCE_WALLET,))
    ).access_token
    assert jwt.decode(token, options={"verify_signature": False})["aud"] == ["tokenmart.wallet"]
    everything = (await client.authenticate(agent.api_key)).access_token
    assert sorted(jwt.decode(everything, options={"verify_signature": False})["aud"]) == [
        "tokenmart.auth",
        "tokenmart.provider",
        "tokenmart.review",
        "tokenmart.wallet",
    ]
    # A token for wallet only is refused by auth itself.
    await refused(
        client.stub.GetMe(auth_pb2.GetMeRequest(), metadata=bearer(token)),
        UNAUTHENTICATED,
        "ACCESS_TOKEN_INVALID",
    )

"""Identity tokens (THREATS I8): audience-bound, single use (burned by the first verification
attempt, whatever its outcome), short-lived, and never for a suspended agent."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import duration_pb2
from tokenmart.auth.v1 import auth_pb2

from services.auth.domain import credentials
from services.auth.domain.credentials import CredentialKind
from tests.auth.helpers import AuthClient, Database, client_for, metadata_of, refused, rid
from tests.conftest import ManualClock

AUDIENCE = "https://partner.example"


async def _create(
    client: AuthClient, credential: str, **fields: object
) -> auth_pb2.CreateIdentityTokenResponse:
    values = {"request_id": rid(), "audience": AUDIENCE, **fields}
    response: auth_pb2.CreateIdentityTokenResponse = await client.stub.CreateIdentityToken(
        auth_pb2.CreateIdentityTokenRequest(**values),  # type: ignore[arg-type]
        metadata=await client.token(credential),
    )
    return response


async def _verify(
    client: AuthClient, token: str, audience: str = AUDIENCE
) -> auth_pb2.VerifyIdentityTokenResponse:
    response: auth_pb2.VerifyIdentityTokenResponse = await client.stub.VerifyIdentityToken(
        auth_pb2.VerifyIdentityTokenRequest(
            request_id=rid(), identity_token=token, audience=audience
        )
    )
    return response


async def test_a_token_proves_the_agent_once(client: AuthClient, db: Database) -> None:
    agent = await client.register_agent()
    created = await _create(client, agent.api_key)
    assert created.identity_token.startswith("tmid_")
    lifetime = created.expires_at.seconds - created.agent.created_at.seconds
    assert lifetime > 0
    verified = await _verify(client, created.identity_token)
    assert verified.valid
    assert verified.invalid_reason == auth_pb2.IDENTITY_TOKEN_INVALID_REASON_UNSPECIFIED
    assert verified.agent.agent_id == agent.agent_id and verified.agent.name == agent.name
    again = await _verify(client, created.identity_token)
    assert not again.valid
    assert again.invalid_reason == auth_pb2.IDENTITY_TOKEN_INVALID_REASON_ALREADY_USED
    assert not again.HasField("agent")
    assert [event for event, _, _ in db.audit(subject_agent_id=agent.agent_id)][-3:] == [
        "identity_token_created",
        "identity_token_verified",
        "identity_token_rejected",
    ]


async def test_the_default_lifetime_is_ten_minutes(client: AuthClient, db: Database) -> None:
    agent = await client.register_agent()
    created = await _create(client, agent.api_key)
    lifetime = db.value(
        "SELECT extract(epoch FROM expires_at - created_at) FROM identity_tokens WHERE id = %s",
        created.identity_token_id,
    )
    assert float(lifetime) == 600


async def test_a_wrong_audience_burns_the_token(client: AuthClient) -> None:
    agent = await client.register_agent()
    created = await _create(client, agent.api_key)
    probe = await _verify(client, created.identity_token, audience="https://evil.example")
    assert not probe.valid
    assert probe.invalid_reason == auth_pb2.IDENTITY_TOKEN_INVALID_REASON_AUDIENCE_MISMATCH
    real = await _verify(client, created.identity_token)
    assert real.invalid_reason == auth_pb2.IDENTITY_TOKEN_INVALID_REASON_ALREADY_USED


async def test_an_expired_token_is_invalid(start_auth_server) -> None:
    clock = ManualClock()
    server = start_auth_server(clock=clock)
    async with client_for(server) as client:
        agent = await client.register_agent()
        created = await _create(client, agent.api_key, ttl=duration_pb2.Duration(seconds=30))
        clock.advance(30)
        expired = await _verify(client, created.identity_token)
        assert expired.invalid_reason == auth_pb2.IDENTITY_TOKEN_INVALID_REASON_EXPIRED


async def test_a_suspended_agents_token_does_not_verify(client: AuthClient) -> None:
    agent = await client.register_agent()
    created = await _create(client, agent.api_key)
    await client.ctl.SuspendAgent(
        auth_pb2.SuspendAgentRequest(request_id=rid(), agent_id=agent.agent_id, reason="abuse"),
        metadata=(("authorization", f"Bearer {await client.operator_token()}"),),
    )
    verdict = await _verify(client, created.identity_token)
    assert verdict.invalid_reason == auth_pb2.IDENTITY_TOKEN_INVALID_REASON_AGENT_SUSPENDED
    assert not verdict.HasField("agent")


@pytest.mark.parametrize(
    "token",
    [
        "tmid_nonsense",
        credentials.generate(CredentialKind.IDENTITY).raw,
        credentials.generate(CredentialKind.AGENT_KEY).raw,
    ],
)
async def test_unknown_tokens_are_invalid(client: AuthClient, token: str) -> None:
    verdict = await _verify(client, token)
    assert not verdict.valid
    assert verdict.invalid_reason == auth_pb2.IDENTITY_TOKEN_INVALID_REASON_UNKNOWN


async def test_a_session_acting_as_its_agent_may_create_tokens(client: AuthClient) -> None:
    owner = await client.new_session()
    agent = await client.owned_agent(owner)
    response = await client.stub.CreateIdentityToken(
        auth_pb2.CreateIdentityTokenRequest(request_id=rid(), audience=AUDIENCE),
        metadata=await client.token(owner.session_token, agent_id=agent.agent_id),
    )
    assert response.agent.agent_id == agent.agent_id


async def test_create_errors(client: AuthClient) -> None:
    owner = await client.new_session()
    agent = await client.owned_agent(owner)
    await refused(
        _create(client, owner.session_token),
        grpc.StatusCode.FAILED_PRECONDITION,
        "AGENT_REQUIRED",
    )
    for audience in ("", "has space", "a" * 256, "tab\there"):
        await refused(
            _create(client, agent.api_key, audience=audience),
            grpc.StatusCode.INVALID_ARGUMENT,
            "AUDIENCE_INVALID",
        )
    for seconds in (29, 601):
        await refused(
            _create(client, agent.api_key, ttl=duration_pb2.Duration(seconds=seconds)),
            grpc.StatusCode.INVALID_ARGUMENT,
            "TTL_INVALID",
        )
    inference = await client.create_key(owner.session_token, agent_id=agent.agent_id)
    error = await refused(
        _create(client, inference.raw_key), grpc.StatusCode.PERMISSION_DENIED, "SCOPE_MISSING"
    )
    assert metadata_of(error) == {"scope": "agent:write"}
    request = auth_pb2.CreateIdentityTokenRequest(request_id=rid(), audience=AUDIENCE)
    token = await client.token(agent.api_key)
    first = await client.stub.CreateIdentityToken(request, metadata=token)
    replay = await refused(
        client.stub.CreateIdentityToken(request, metadata=token),
        grpc.StatusCode.ALREADY_EXISTS,
        "SECRET_ALREADY_ISSUED",
    )
    assert metadata_of(replay) == {"resource_id": first.identity_token_id}


async def test_verify_errors(client: AuthClient) -> None:
    await refused(
        client.stub.VerifyIdentityToken(
            auth_pb2.VerifyIdentityTokenRequest(
                request_id=rid(), identity_token="", audience=AUDIENCE
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "IDENTITY_TOKEN_REQUIRED",
    )
    for audience in ("", "a" * 256):
        await refused(
            client.stub.VerifyIdentityToken(
                auth_pb2.VerifyIdentityTokenRequest(
                    request_id=rid(), identity_token="tmid_x", audience=audience
                )
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "AUDIENCE_INVALID",
        )

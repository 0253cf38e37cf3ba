"""Agents: registration, claim codes and claiming (THREATS I7), visibility, rekey, suspension,
trust tiers. Keys issued before a claim keep acting as the agent only (SPEC §1, I5)."""

from __future__ import annotations

import asyncio
import datetime

import grpc
import pytest
from tokenmart.auth.v1 import auth_pb2

from services.auth.domain import credentials
from services.auth.domain.credentials import CredentialKind
from services.common.status import error_reason
from tests.auth.helpers import (
    AuthClient,
    Database,
    Session,
    bearer,
    client_for,
    metadata_of,
    random_ip,
    refused,
    rid,
    unique,
)
from tests.conftest import AuthServerHandle, ManualClock

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND


def _register(**fields: object) -> auth_pb2.RegisterAgentRequest:
    values = {"request_id": rid(), "name": unique("agent"), "client_ip": random_ip(), **fields}
    return auth_pb2.RegisterAgentRequest(**values)  # type: ignore[arg-type]


async def _claim(
    client: AuthClient, session: Session, code: str, *, client_ip: str = ""
) -> auth_pb2.ClaimAgentResponse:
    response: auth_pb2.ClaimAgentResponse = await client.stub.ClaimAgent(
        auth_pb2.ClaimAgentRequest(request_id=rid(), claim_code=code, client_ip=client_ip),
        metadata=await client.token(session.session_token),
    )
    return response


# -- registration -------------------------------------------------------------------------------


async def test_registration_returns_a_key_and_a_claim_code_shown_once(
    client: AuthClient, db: Database
) -> None:
    request = _register(description="does things", harness="claude_code")
    response = await client.stub.RegisterAgent(request)
    agent = response.agent
    assert agent.lifecycle == auth_pb2.AGENT_LIFECYCLE_REGISTERED_UNCLAIMED
    assert agent.status == auth_pb2.AGENT_STATUS_ACTIVE
    assert agent.owner_account_id == "" and agent.trust_tier == 0
    assert response.api_key.startswith("tokenmart_")
    assert response.key_prefix == response.api_key[:18]
    assert response.claim_code.startswith("tmc_")
    expires = response.claim_code_expires_at.ToDatetime(tzinfo=datetime.UTC)
    assert expires - agent.created_at.ToDatetime(tzinfo=datetime.UTC) == datetime.timedelta(days=7)
    error = await refused(
        client.stub.RegisterAgent(request), grpc.StatusCode.ALREADY_EXISTS, "SECRET_ALREADY_ISSUED"
    )
    assert metadata_of(error) == {"resource_id": agent.agent_id}
    assert db.audit(subject_agent_id=agent.agent_id) == [("agent_registered", "success", None)]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"name": "a"}, "AGENT_NAME_INVALID"),
        ({"name": "has space"}, "AGENT_NAME_INVALID"),
        ({"name": "x" * 65}, "AGENT_NAME_INVALID"),
        ({"description": "d" * 501}, "DESCRIPTION_INVALID"),
        ({"harness": "Claude"}, "HARNESS_INVALID"),
        ({"harness": "h" * 33}, "HARNESS_INVALID"),
        ({"client_ip": "localhost"}, "CLIENT_IP_INVALID"),
    ],
)
async def test_invalid_registrations_are_refused(
    client: AuthClient, db: Database, fields: dict[str, object], reason: str
) -> None:
    before = db.snapshot()
    await refused(client.stub.RegisterAgent(_register(**fields)), INVALID, reason)
    assert db.snapshot() == before


async def test_names_are_unique_case_insensitively(client: AuthClient) -> None:
    name = unique("Agent")
    await client.stub.RegisterAgent(_register(name=name))
    await refused(
        client.stub.RegisterAgent(_register(name=name.lower())),
        grpc.StatusCode.ALREADY_EXISTS,
        "AGENT_NAME_TAKEN",
    )


async def test_registration_is_rate_limited_per_ip(start_auth_server) -> None:
    server = start_auth_server(env={"REGISTRATIONS_PER_IP": "2", "REGISTRATION_WINDOW_S": "600"})
    async with client_for(server) as client:
        ip = random_ip()
        await client.stub.RegisterAgent(_register(client_ip=ip))
        await client.stub.RegisterAgent(_register(client_ip=ip))
        error = await refused(
            client.stub.RegisterAgent(_register(client_ip=ip)),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "REGISTRATION_RATE_LIMITED",
        )
        assert 0 < int(metadata_of(error)["retry_after_s"]) <= 600
        await client.stub.RegisterAgent(_register(client_ip=random_ip()))


async def test_registrations_from_unknown_addresses_share_one_bucket(
    start_auth_server, fresh_auth_database
) -> None:
    server = start_auth_server(env={"REGISTRATIONS_PER_IP": "2"}, database=fresh_auth_database)
    async with client_for(server) as client:
        await client.stub.RegisterAgent(_register(client_ip=""))
        await client.stub.RegisterAgent(_register(client_ip=""))
        await refused(
            client.stub.RegisterAgent(_register(client_ip="")),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "REGISTRATION_RATE_LIMITED",
        )


async def test_concurrent_registrations_from_one_ip_cannot_overshoot(start_auth_server) -> None:
    server = start_auth_server(env={"REGISTRATIONS_PER_IP": "3"})
    async with client_for(server) as client:
        ip = random_ip()
        results = await asyncio.gather(
            *(client.stub.RegisterAgent(_register(client_ip=ip)) for _ in range(8)),
            return_exceptions=True,
        )
    assert sum(isinstance(result, auth_pb2.RegisterAgentResponse) for result in results) == 3


# -- claiming -----------------------------------------------------------------------------------


async def test_claiming_makes_the_account_the_owner_and_burns_the_code(
    client: AuthClient, db: Database
) -> None:
    session = await client.new_session()
    agent = await client.register_agent()
    claimed = (await _claim(client, session, agent.claim_code)).agent
    assert claimed.lifecycle == auth_pb2.AGENT_LIFECYCLE_CLAIMED
    assert claimed.owner_account_id == session.account_id
    assert claimed.HasField("claimed_at")
    other = await client.new_session()
    await refused(_claim(client, other, agent.claim_code), NOT_FOUND, "CLAIM_CODE_INVALID")
    await refused(_claim(client, session, agent.claim_code), NOT_FOUND, "CLAIM_CODE_INVALID")
    assert db.audit(subject_agent_id=agent.agent_id, event_type="agent_claimed") == [
        ("agent_claimed", "success", None)
    ]


async def test_keys_issued_before_the_claim_keep_acting_as_the_agent_only(
    client: AuthClient,
) -> None:
    session = await client.admin_session(auth_pb2.ACCOUNT_ROLE_SUPER_ADMIN)
    agent = await client.register_agent()
    await _claim(client, session, agent.claim_code)
    principal = (await client.authenticate(agent.api_key)).principal
    assert principal.account_id == "" and principal.role == auth_pb2.ACCOUNT_ROLE_UNSPECIFIED
    assert set(principal.scopes) == {auth_pb2.SCOPE_AGENT_READ, auth_pb2.SCOPE_AGENT_WRITE}
    assert principal.agent_owner_account_id == session.account_id
    token = await client.token(agent.api_key)
    # THREATS I5: the agent key of a super_admin-owned agent calls admin routes: refused.
    other = await client.register_agent()
    await refused(
        client.stub.SuspendAgent(
            auth_pb2.SuspendAgentRequest(request_id=rid(), agent_id=other.agent_id, reason="x"),
            metadata=token,
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "SCOPE_MISSING",
    )
    await refused(
        client.stub.ListAuditEvents(auth_pb2.ListAuditEventsRequest(), metadata=token),
        grpc.StatusCode.PERMISSION_DENIED,
        "SCOPE_MISSING",
    )
    # ... nor may it claim or rekey (account powers).
    await refused(
        client.stub.RekeyAgent(
            auth_pb2.RekeyAgentRequest(request_id=rid(), agent_id=agent.agent_id), metadata=token
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "SCOPE_MISSING",
    )
    await refused(
        client.stub.ClaimAgent(
            auth_pb2.ClaimAgentRequest(request_id=rid(), claim_code=other.claim_code),
            metadata=token,
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "SCOPE_MISSING",
    )


async def test_two_accounts_racing_for_one_code_exactly_one_wins(
    client: AuthClient, db: Database
) -> None:
    for _ in range(3):
        agent = await client.register_agent()
        sessions = [await client.new_session() for _ in range(4)]
        results = await asyncio.gather(
            *(_claim(client, session, agent.claim_code) for session in sessions),
            return_exceptions=True,
        )
        wins = [result for result in results if isinstance(result, auth_pb2.ClaimAgentResponse)]
        assert len(wins) == 1
        for result in results:
            if isinstance(result, grpc.aio.AioRpcError):
                assert (result.code(), error_reason(result)) == (NOT_FOUND, "CLAIM_CODE_INVALID")
        owner = db.value("SELECT owner_account_id::text FROM agents WHERE id = %s", agent.agent_id)
        assert owner == wins[0].agent.owner_account_id
        assert (
            db.value(
                "SELECT count(*) FROM claim_codes WHERE agent_id = %s AND consumed_at IS NOT NULL",
                agent.agent_id,
            )
            == 1
        )


@pytest.mark.parametrize(
    "code",
    [
        "not-a-code",
        credentials.generate(CredentialKind.AGENT_KEY).raw,
        credentials.generate(CredentialKind.CLAIM_CODE).raw[:-1] + "!",
    ],
)
async def test_a_malformed_claim_code_is_refused_without_lookup(
    client: AuthClient, db: Database, code: str
) -> None:
    session = await client.new_session()
    await refused(_claim(client, session, code), INVALID, "CLAIM_CODE_MALFORMED")
    assert db.audit(subject_account_id=session.account_id, event_type="agent_claim_failed") == [
        ("agent_claim_failed", "failure", "CLAIM_CODE_MALFORMED")
    ]


async def test_an_unknown_or_expired_code_is_invalid(start_auth_server) -> None:
    clock = ManualClock()
    server = start_auth_server(clock=clock, env={"CLAIM_CODE_TTL_S": "600"})
    async with client_for(server) as client:
        session = await client.new_session()
        await refused(
            _claim(client, session, credentials.generate(CredentialKind.CLAIM_CODE).raw),
            NOT_FOUND,
            "CLAIM_CODE_INVALID",
        )
        agent = await client.register_agent()
        clock.advance(600)
        await refused(_claim(client, session, agent.claim_code), NOT_FOUND, "CLAIM_CODE_INVALID")


async def test_claim_guesses_are_throttled_per_account(start_auth_server, db: Database) -> None:
    server = start_auth_server(env={"CLAIM_ATTEMPTS_PER_ACCOUNT": "3"})
    async with client_for(server) as client:
        session = await client.new_session()
        agent = await client.register_agent()
        for _ in range(3):
            await refused(
                _claim(client, session, credentials.generate(CredentialKind.CLAIM_CODE).raw),
                NOT_FOUND,
                "CLAIM_CODE_INVALID",
            )
        # Even the right code is refused while throttled, and is not burned by the refusal.
        error = await refused(
            _claim(client, session, agent.claim_code),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "CLAIM_ATTEMPTS_EXCEEDED",
        )
        assert int(metadata_of(error)["retry_after_s"]) > 0
        assert (
            db.value("SELECT lifecycle FROM agents WHERE id = %s", agent.agent_id)
            == "registered_unclaimed"
        )
        await _claim(client, await client.new_session(), agent.claim_code)
    outcomes = [reason for _, _, reason in db.audit(subject_account_id=session.account_id)]
    assert outcomes.count("CLAIM_CODE_INVALID") == 3
    assert outcomes.count("CLAIM_ATTEMPTS_EXCEEDED") == 1


async def test_claim_guesses_are_throttled_per_ip(start_auth_server) -> None:
    server = start_auth_server(
        env={"CLAIM_ATTEMPTS_PER_IP": "2", "CLAIM_ATTEMPTS_PER_ACCOUNT": "100"}
    )
    async with client_for(server) as client:
        ip = random_ip()
        for _ in range(2):
            session = await client.new_session()
            await refused(
                _claim(client, session, "tmc_nope", client_ip=ip), INVALID, "CLAIM_CODE_MALFORMED"
            )
        await refused(
            _claim(client, await client.new_session(), "tmc_nope", client_ip=ip),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "CLAIM_ATTEMPTS_EXCEEDED",
        )


async def test_a_suspended_agent_cannot_be_claimed(client: AuthClient) -> None:
    agent = await client.register_agent()
    await _suspend(client, agent.agent_id)
    await refused(
        _claim(client, await client.new_session(), agent.claim_code),
        grpc.StatusCode.FAILED_PRECONDITION,
        "AGENT_SUSPENDED",
    )


async def test_renewing_the_claim_code_burns_the_old_one(client: AuthClient) -> None:
    agent = await client.register_agent()
    token = await client.token(agent.api_key)
    renewed = await client.stub.RenewClaimCode(
        auth_pb2.RenewClaimCodeRequest(request_id=rid()), metadata=token
    )
    assert renewed.claim_code.startswith("tmc_") and renewed.claim_code != agent.claim_code
    session = await client.new_session()
    await refused(_claim(client, session, agent.claim_code), NOT_FOUND, "CLAIM_CODE_INVALID")
    await _claim(client, session, renewed.claim_code)


async def test_renewal_errors(start_auth_server) -> None:
    server = start_auth_server(env={"CLAIM_RENEWALS_MAX": "1"})
    async with client_for(server) as client:
        session = await client.new_session()
        await refused(
            client.stub.RenewClaimCode(
                auth_pb2.RenewClaimCodeRequest(request_id=rid()),
                metadata=await client.token(session.session_token),
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
            "AGENT_REQUIRED",
        )
        agent = await client.register_agent()
        token = await client.token(agent.api_key)
        await client.stub.RenewClaimCode(
            auth_pb2.RenewClaimCodeRequest(request_id=rid()), metadata=token
        )
        error = await refused(
            client.stub.RenewClaimCode(
                auth_pb2.RenewClaimCodeRequest(request_id=rid()), metadata=token
            ),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "CLAIM_CODE_RATE_LIMITED",
        )
        assert int(metadata_of(error)["retry_after_s"]) > 0
        owned = await client.owned_agent(session)
        await refused(
            client.stub.RenewClaimCode(
                auth_pb2.RenewClaimCodeRequest(request_id=rid()),
                metadata=await client.token(owned.api_key),
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
            "AGENT_ALREADY_CLAIMED",
        )


# -- reading ------------------------------------------------------------------------------------


async def test_an_agent_is_visible_to_itself_its_owner_admins_and_services(
    auth_server: AuthServerHandle, client: AuthClient
) -> None:
    owner = await client.new_session()
    agent = await client.owned_agent(owner)
    stranger = await client.new_session()
    admin = await client.admin_session()
    request = auth_pb2.GetAgentRequest(agent_id=agent.agent_id)
    for credential in (agent.api_key, owner.session_token, admin.session_token):
        found = await client.stub.GetAgent(request, metadata=await client.token(credential))
        assert found.agent.agent_id == agent.agent_id
    async with client_for(auth_server, peer="review") as review:
        service = await review.stub.IssueServiceToken(
            auth_pb2.IssueServiceTokenRequest(audiences=[auth_pb2.AUDIENCE_AUTH])
        )
        assert (await review.stub.GetAgent(request, metadata=bearer(service.access_token))).agent
    for credential in (stranger.session_token, (await client.register_agent()).api_key):
        await refused(
            client.stub.GetAgent(request, metadata=await client.token(credential)),
            NOT_FOUND,
            "AGENT_NOT_FOUND",
        )
    await refused(
        client.stub.GetAgent(
            auth_pb2.GetAgentRequest(agent_id=rid()),
            metadata=await client.token(admin.session_token),
        ),
        NOT_FOUND,
        "AGENT_NOT_FOUND",
    )


async def test_get_me_for_each_kind_of_token(client: AuthClient) -> None:
    session = await client.new_session()
    agent = await client.owned_agent(session)
    me = await client.stub.GetMe(
        auth_pb2.GetMeRequest(), metadata=await client.token(session.session_token)
    )
    assert me.account.account_id == session.account_id and not me.HasField("agent")
    me = await client.stub.GetMe(
        auth_pb2.GetMeRequest(),
        metadata=await client.token(session.session_token, agent_id=agent.agent_id),
    )
    assert me.agent.agent_id == agent.agent_id and me.account.account_id == session.account_id
    me = await client.stub.GetMe(
        auth_pb2.GetMeRequest(), metadata=await client.token(agent.api_key)
    )
    assert me.agent.agent_id == agent.agent_id and not me.HasField("account")
    assert me.principal.credential_family == auth_pb2.CREDENTIAL_FAMILY_AGENT_KEY


async def test_accounts_list_only_their_own_agents(client: AuthClient) -> None:
    owner = await client.new_session()
    mine = [await client.owned_agent(owner) for _ in range(3)]
    other = await client.new_session()
    await client.owned_agent(other)
    token = await client.token(owner.session_token)
    listed = await client.stub.ListAgents(auth_pb2.ListAgentsRequest(), metadata=token)
    assert {agent.agent_id for agent in listed.agents} == {agent.agent_id for agent in mine}
    await refused(
        client.stub.ListAgents(
            auth_pb2.ListAgentsRequest(owner_account_id=other.account_id), metadata=token
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "OWNER_FILTER_NOT_ALLOWED",
    )
    # Naming itself is allowed.
    own = await client.stub.ListAgents(
        auth_pb2.ListAgentsRequest(owner_account_id=owner.account_id), metadata=token
    )
    assert len(own.agents) == 3
    for tier in (-1, 4):
        await refused(
            client.stub.ListAgents(auth_pb2.ListAgentsRequest(min_trust_tier=tier), metadata=token),
            INVALID,
            "TRUST_TIER_INVALID",
        )
    await refused(
        client.stub.ListAgents(
            auth_pb2.ListAgentsRequest(), metadata=await client.token(mine[0].api_key)
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "SCOPE_MISSING",
    )


async def test_list_agents_pages_in_change_order(client: AuthClient) -> None:
    owner = await client.new_session()
    agents = [await client.owned_agent(owner) for _ in range(5)]
    token = await client.token(owner.session_token)
    seen: list[str] = []
    page_token = ""
    while True:
        page = await client.stub.ListAgents(
            auth_pb2.ListAgentsRequest(page_size=2, page_token=page_token), metadata=token
        )
        seen += [agent.agent_id for agent in page.agents]
        stamps = [agent.updated_at.ToDatetime() for agent in page.agents]
        assert stamps == sorted(stamps)
        page_token = page.next_page_token
        if not page_token:
            break
    assert sorted(seen) == sorted(agent.agent_id for agent in agents) and len(seen) == 5
    # Mirroring: changes after a point in time, by any filter an admin or service uses.
    admin = await client.admin_session()
    await _suspend(client, agents[0].agent_id, admin=admin)
    changed = await client.stub.ListAgents(
        auth_pb2.ListAgentsRequest(
            owner_account_id=owner.account_id, status=auth_pb2.AGENT_STATUS_SUSPENDED
        ),
        metadata=await client.token(admin.session_token),
    )
    assert [agent.agent_id for agent in changed.agents] == [agents[0].agent_id]
    assert changed.agents[0].suspension_reason == "abuse"


# -- rekey, suspension, trust -------------------------------------------------------------------


async def test_rekey_revokes_every_agent_key_and_mints_one_atomically(
    client: AuthClient, db: Database
) -> None:
    owner = await client.new_session()
    agent = await client.owned_agent(owner)
    inference = await client.create_key(owner.session_token, agent_id=agent.agent_id)
    token = await client.token(owner.session_token)
    rekeyed = await client.stub.RekeyAgent(
        auth_pb2.RekeyAgentRequest(request_id=rid(), agent_id=agent.agent_id), metadata=token
    )
    assert list(rekeyed.revoked_key_ids) == [agent.key_id]
    assert rekeyed.api_key.startswith("tokenmart_")
    await refused(
        client.stub.Authenticate(auth_pb2.AuthenticateRequest(credential=agent.api_key)),
        grpc.StatusCode.UNAUTHENTICATED,
        "CREDENTIAL_REVOKED",
    )
    await client.authenticate(rekeyed.api_key)
    await client.authenticate(inference.raw_key)  # th_/thm_ keys are untouched
    live = db.value(
        "SELECT count(*) FROM api_keys WHERE agent_id = %s AND family = 'agent' "
        "AND revoked_at IS NULL",
        agent.agent_id,
    )
    assert live == 1
    assert db.audit(subject_agent_id=agent.agent_id, event_type="agent_rekeyed") == [
        ("agent_rekeyed", "success", None)
    ]


async def test_concurrent_rekeys_leave_exactly_one_live_agent_key(
    client: AuthClient, db: Database
) -> None:
    owner = await client.new_session()
    agent = await client.owned_agent(owner)
    token = await client.token(owner.session_token)
    results = await asyncio.gather(
        *(
            client.stub.RekeyAgent(
                auth_pb2.RekeyAgentRequest(request_id=rid(), agent_id=agent.agent_id),
                metadata=token,
            )
            for _ in range(5)
        )
    )
    live = db.rows(
        "SELECT id::text FROM api_keys WHERE agent_id = %s AND family = 'agent' "
        "AND revoked_at IS NULL",
        agent.agent_id,
    )
    assert len(live) == 1
    assert live[0][0] in {result.key_id for result in results}
    # Each rekey revoked exactly the key that was live when it ran: a chain, no gaps.
    revoked = sorted(key_id for result in results for key_id in result.revoked_key_ids)
    minted = sorted([agent.key_id, *(result.key_id for result in results)])
    assert sorted([*revoked, live[0][0]]) == minted


async def test_rekey_errors(client: AuthClient) -> None:
    owner = await client.new_session()
    token = await client.token(owner.session_token)
    stranger_agent = await client.owned_agent(await client.new_session())
    unclaimed = await client.register_agent()
    for agent_id in (stranger_agent.agent_id, unclaimed.agent_id, rid()):
        await refused(
            client.stub.RekeyAgent(
                auth_pb2.RekeyAgentRequest(request_id=rid(), agent_id=agent_id), metadata=token
            ),
            NOT_FOUND,
            "AGENT_NOT_FOUND",
        )
    mine = await client.owned_agent(owner)
    await _suspend(client, mine.agent_id)
    await refused(
        client.stub.RekeyAgent(
            auth_pb2.RekeyAgentRequest(request_id=rid(), agent_id=mine.agent_id), metadata=token
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "AGENT_SUSPENDED",
    )


async def _suspend(
    client: AuthClient, agent_id: str, *, admin: Session | None = None, reason: str = "abuse"
) -> auth_pb2.SuspendAgentResponse:
    admin = admin or await client.admin_session()
    response: auth_pb2.SuspendAgentResponse = await client.stub.SuspendAgent(
        auth_pb2.SuspendAgentRequest(request_id=rid(), agent_id=agent_id, reason=reason),
        metadata=await client.token(admin.session_token),
    )
    return response


async def test_suspension_and_reactivation(client: AuthClient, db: Database) -> None:
    owner = await client.new_session()
    agent = await client.owned_agent(owner)
    admin = await client.admin_session()
    suspended = (await _suspend(client, agent.agent_id, admin=admin)).agent
    assert suspended.status == auth_pb2.AGENT_STATUS_SUSPENDED
    assert suspended.suspension_reason == "abuse"
    again = (await _suspend(client, agent.agent_id, admin=admin, reason="other")).agent
    assert again.suspension_reason == "abuse"  # unchanged
    # The owner sees the reason.
    seen = await client.stub.GetAgent(
        auth_pb2.GetAgentRequest(agent_id=agent.agent_id),
        metadata=await client.token(owner.session_token),
    )
    assert seen.agent.suspension_reason == "abuse"
    reactivated = await client.stub.ReactivateAgent(
        auth_pb2.ReactivateAgentRequest(request_id=rid(), agent_id=agent.agent_id, reason="ok"),
        metadata=await client.token(admin.session_token),
    )
    assert reactivated.agent.status == auth_pb2.AGENT_STATUS_ACTIVE
    assert not reactivated.agent.HasField("suspended_at")
    await client.authenticate(agent.api_key)
    assert [event for event, _, _ in db.audit(subject_agent_id=agent.agent_id)] == [
        "agent_registered",
        "agent_claimed",
        "agent_suspended",
        "agent_reactivated",
    ]


async def test_suspension_errors(client: AuthClient) -> None:
    admin_token = await client.token((await client.admin_session()).session_token)
    agent = await client.register_agent()
    for reason in ("", "r" * 501):
        await refused(
            client.stub.SuspendAgent(
                auth_pb2.SuspendAgentRequest(
                    request_id=rid(), agent_id=agent.agent_id, reason=reason
                ),
                metadata=admin_token,
            ),
            INVALID,
            "REASON_REQUIRED",
        )
    await refused(
        client.stub.ReactivateAgent(
            auth_pb2.ReactivateAgentRequest(request_id=rid(), agent_id=rid(), reason="x"),
            metadata=admin_token,
        ),
        NOT_FOUND,
        "AGENT_NOT_FOUND",
    )
    await refused(
        client.stub.ReactivateAgent(
            auth_pb2.ReactivateAgentRequest(request_id=rid(), agent_id=agent.agent_id, reason=""),
            metadata=admin_token,
        ),
        INVALID,
        "REASON_REQUIRED",
    )
    await refused(
        client.stub.SuspendAgent(
            auth_pb2.SuspendAgentRequest(request_id=rid(), agent_id=rid(), reason="x"),
            metadata=admin_token,
        ),
        NOT_FOUND,
        "AGENT_NOT_FOUND",
    )
    user = await client.new_session()
    await refused(
        client.stub.SuspendAgent(
            auth_pb2.SuspendAgentRequest(request_id=rid(), agent_id=agent.agent_id, reason="x"),
            metadata=await client.token(user.session_token),
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "SCOPE_MISSING",
    )


async def test_ctl_suspends_with_its_operator_token(client: AuthClient, db: Database) -> None:
    agent = await client.register_agent()
    response = await client.ctl.SuspendAgent(
        auth_pb2.SuspendAgentRequest(request_id=rid(), agent_id=agent.agent_id, reason="ops"),
        metadata=bearer(await client.operator_token()),
    )
    assert response.agent.status == auth_pb2.AGENT_STATUS_SUSPENDED
    assert (
        db.value(
            "SELECT actor_service FROM audit_events WHERE subject_agent_id = %s "
            "AND event_type = 'agent_suspended'",
            agent.agent_id,
        )
        == "ctl"
    )


async def test_trust_tiers(auth_server: AuthServerHandle, client: AuthClient, db: Database) -> None:
    agent = await client.register_agent()
    admin_token = await client.token((await client.admin_session()).session_token)
    changed = await client.stub.SetTrustTier(
        auth_pb2.SetTrustTierRequest(
            request_id=rid(), agent_id=agent.agent_id, trust_tier=2, reason="good work"
        ),
        metadata=admin_token,
    )
    assert (changed.previous_trust_tier, changed.agent.trust_tier) == (0, 2)
    cases = [
        (
            {"agent_id": agent.agent_id, "trust_tier": 4, "reason": "x"},
            INVALID,
            "TRUST_TIER_INVALID",
        ),
        ({"agent_id": agent.agent_id, "trust_tier": 1, "reason": ""}, INVALID, "REASON_REQUIRED"),
        ({"agent_id": rid(), "trust_tier": 1, "reason": "x"}, NOT_FOUND, "AGENT_NOT_FOUND"),
    ]
    for fields, code, reason in cases:
        await refused(
            client.stub.SetTrustTier(
                auth_pb2.SetTrustTierRequest(request_id=rid(), **fields),  # type: ignore[arg-type]
                metadata=admin_token,
            ),
            code,
            reason,
        )
    async with client_for(auth_server, peer="review") as review:
        service = bearer(
            (
                await review.stub.IssueServiceToken(
                    auth_pb2.IssueServiceTokenRequest(audiences=[auth_pb2.AUDIENCE_AUTH])
                )
            ).access_token
        )
        facts = await review.stub.GetTrustTier(
            auth_pb2.GetTrustTierRequest(agent_id=agent.agent_id), metadata=service
        )
        assert (facts.trust_tier, facts.lifecycle, facts.status, facts.owner_account_id) == (
            2,
            auth_pb2.AGENT_LIFECYCLE_REGISTERED_UNCLAIMED,
            auth_pb2.AGENT_STATUS_ACTIVE,
            "",
        )
        await refused(
            review.stub.GetTrustTier(
                auth_pb2.GetTrustTierRequest(agent_id=rid()), metadata=service
            ),
            NOT_FOUND,
            "AGENT_NOT_FOUND",
        )
    assert db.audit(subject_agent_id=agent.agent_id, event_type="trust_tier_changed") == [
        ("trust_tier_changed", "success", None)
    ]

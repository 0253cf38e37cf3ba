"""The auth routes of the gateway, end to end: in-process gateway → real auth over mTLS → real
PostgreSQL. Happy paths and the response contract; the attacks are in tests/security/."""

from __future__ import annotations

import pytest

from tests.conftest import AuthServerHandle
from tests.edge import MakeGateway
from tests.flows import PASSWORD, Api, bearer, error_of, unique_email, unique_name


@pytest.fixture
def api(make_gateway: MakeGateway, auth_server: AuthServerHandle) -> Api:
    return Api(make_gateway(ports={"auth": auth_server.port}).client)


async def test_register_and_login(api: Api) -> None:
    email = unique_email()
    response = await api.client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": PASSWORD, "display_name": "Ada"},
    )
    assert response.status_code == 201
    assert set(response.json()) == {"account_id", "email"}
    assert response.headers["cache-control"] == "no-store"
    duplicate = await api.client.post(
        "/api/v1/auth/register", json={"email": email, "password": PASSWORD}
    )
    assert error_of(duplicate) == (409, "EMAIL_TAKEN")
    login = await api.client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200
    body = login.json()
    assert body["account"]["email"] == email
    assert body["account"]["role"] == "user"
    assert body["session_token"].startswith("tms_")
    assert body["refresh_token"].startswith("tmr_")
    assert body["expires_at"].endswith("Z")
    assert login.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"email": "not-an-email", "password": PASSWORD}, "EMAIL_INVALID"),
        ({"email": "a@example.com", "password": "short"}, "PASSWORD_INVALID"),
        ({"email": "a@example.com"}, "INVALID_ARGUMENT"),
        ({"email": "a@example.com", "password": PASSWORD, "role": "admin"}, "INVALID_ARGUMENT"),
        ({"email": 5, "password": PASSWORD}, "INVALID_ARGUMENT"),
        ({"email": "a@example.com", "password": "p" * 1025}, "INVALID_ARGUMENT"),
    ],
)
async def test_registration_input_is_validated(
    api: Api, body: dict[str, object], reason: str
) -> None:
    response = await api.client.post("/api/v1/auth/register", json=body)
    assert error_of(response) == (400, reason)
    assert PASSWORD not in response.text


async def test_wrong_password_and_unknown_email_answer_alike(api: Api) -> None:
    email = await api.register_account()
    wrong = await api.client.post("/api/v1/auth/login", json={"email": email, "password": "x" * 12})
    unknown = await api.client.post(
        "/api/v1/auth/login", json={"email": unique_email(), "password": "x" * 12}
    )
    assert error_of(wrong) == error_of(unknown) == (401, "INVALID_CREDENTIALS")
    assert wrong.json() == unknown.json()


async def test_refresh_rotates_and_logout_ends_the_session(api: Api) -> None:
    session = await api.new_session()
    refreshed = await api.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": session.refresh_token}
    )
    assert refreshed.status_code == 200
    pair = refreshed.json()
    assert pair["session_id"] == session.session_id
    assert pair["session_token"] != session.session_token
    assert pair["refresh_token"] != session.refresh_token
    listed = await api.client.get("/api/v1/auth/sessions", headers=bearer(pair["session_token"]))
    assert [item["id"] for item in listed.json()["sessions"]] == [session.session_id]
    assert listed.json()["sessions"][0]["current"] is True
    out = await api.client.post("/api/v1/auth/logout", headers=bearer(pair["session_token"]))
    assert out.status_code == 200
    assert out.json()["session"]["revocation_reason"] == "logout"
    after = await api.client.get("/api/v1/auth/sessions", headers=bearer(pair["session_token"]))
    assert error_of(after) == (401, "CREDENTIAL_REVOKED")


async def test_a_session_can_revoke_another_of_its_sessions(api: Api) -> None:
    first = await api.new_session()
    second = await api.login(first.email)
    revoked = await api.client.delete(
        f"/api/v1/auth/sessions/{second.session_id}", headers=first.headers()
    )
    assert revoked.status_code == 200
    assert revoked.json()["session"]["revocation_reason"] == "user_revoked"
    gone = await api.client.get("/api/v1/auth/sessions", headers=second.headers())
    assert error_of(gone) == (401, "CREDENTIAL_REVOKED")
    other = await api.new_session()
    foreign = await api.client.delete(
        f"/api/v1/auth/sessions/{first.session_id}", headers=other.headers()
    )
    assert error_of(foreign) == (404, "SESSION_NOT_FOUND")


async def test_agent_registration_claim_and_me(api: Api) -> None:
    name = unique_name()
    registered = await api.client.post("/api/v1/agents/register", json={"name": name})
    assert registered.status_code == 201
    body = registered.json()
    assert body["agent_name"] == name
    assert body["lifecycle_state"] == "registered_unclaimed"
    assert body["api_key"].startswith("tokenmart_")
    assert body["api_key"].startswith(body["key_prefix"])
    me = await api.client.get("/api/v1/agents/me", headers=bearer(body["api_key"]))
    assert me.status_code == 200
    assert me.json()["id"] == body["agent_id"]
    assert me.json()["owner_account_id"] is None
    session = await api.new_session()
    claimed = await api.client.post(
        "/api/v1/auth/claim", json={"claim_code": body["claim_code"]}, headers=session.headers()
    )
    assert claimed.status_code == 200
    assert claimed.json() == {
        "agent_id": body["agent_id"],
        "agent_name": name,
        "claimed": True,
        "owner_account_id": session.account_id,
    }
    as_owner = await api.client.get(
        "/api/v1/agents/me", headers=session.headers(agent_id=body["agent_id"])
    )
    assert as_owner.json()["lifecycle_state"] == "claimed"
    assert as_owner.json()["status"] == "active"
    no_agent = await api.client.get("/api/v1/agents/me", headers=session.headers())
    assert error_of(no_agent) == (404, "AGENT_NOT_FOUND")


async def test_rekey_replaces_the_agent_key(api: Api) -> None:
    session = await api.new_session()
    agent = await api.owned_agent(session)
    rekeyed = await api.client.post(
        "/api/v1/agents/rekey", json={"agent_id": agent.agent_id}, headers=session.headers()
    )
    assert rekeyed.status_code == 200
    fresh = rekeyed.json()["api_key"]
    assert fresh != agent.api_key
    assert (await api.client.get("/api/v1/agents/me", headers=bearer(fresh))).status_code == 200
    old = await api.client.get("/api/v1/agents/me", headers=bearer(agent.api_key))
    assert error_of(old) == (401, "CREDENTIAL_REVOKED")


async def test_identity_tokens_are_single_use_and_audience_bound(api: Api) -> None:
    agent = await api.register_agent()
    created = await api.client.post(
        "/api/v1/agents/verify-identity",
        json={"audience": "https://partner.example"},
        headers=bearer(agent.api_key),
    )
    assert created.status_code == 200
    token = created.json()["identity_token"]
    assert token.startswith("tmid_")
    check = {"identity_token": token, "audience": "https://partner.example"}
    first = await api.client.post("/api/v1/agents/verify-identity/check", json=check)
    assert first.status_code == 200
    assert first.json()["valid"] is True
    assert first.json()["agent"]["id"] == agent.agent_id
    again = await api.client.post("/api/v1/agents/verify-identity/check", json=check)
    assert again.json() == {**again.json(), "valid": False, "reason": "already_used", "agent": None}


async def test_key_management_lifecycle(api: Api) -> None:
    session = await api.new_session()
    agent = await api.owned_agent(session)
    owner = session.headers(agent_id=agent.agent_id)
    key = await api.create_key(
        owner, credit_limit_micros=5_000_000, rate_limit_rpm=30, allowed_models=["openai/gpt-4o"]
    )
    assert key["raw_key"].startswith("th_")
    assert key["credit_limit_micros"] == 5_000_000
    assert key["is_management_key"] is False
    listed = await api.client.get("/api/v1/tokenhall/keys", headers=owner)
    assert key["id"] in [item["id"] for item in listed.json()["keys"]]
    assert all("raw_key" not in item for item in listed.json()["keys"])
    fetched = await api.client.get(f"/api/v1/tokenhall/keys/{key['id']}", headers=owner)
    assert fetched.json()["key"]["rate_limit_rpm"] == 30
    patched = await api.client.patch(
        f"/api/v1/tokenhall/keys/{key['id']}",
        json={"credit_limit_micros": None, "name": "renamed"},
        headers=owner,
    )
    assert patched.status_code == 200
    assert patched.json()["key"]["credit_limit_micros"] is None
    assert patched.json()["key"]["name"] == "renamed"
    current = await api.client.get("/api/v1/tokenhall/key", headers=bearer(key["raw_key"]))
    assert current.json()["key"]["id"] == key["id"]
    revoked = await api.client.delete(f"/api/v1/tokenhall/keys/{key['id']}", headers=owner)
    assert revoked.json()["revoked"] is True
    assert revoked.json()["key"]["status"] == "revoked"


async def test_an_idempotency_key_replays_a_key_update(api: Api) -> None:
    session = await api.new_session()
    agent = await api.owned_agent(session)
    owner = session.headers(agent_id=agent.agent_id)
    key = await api.create_key(owner)
    headers = {**owner, "Idempotency-Key": "rename-1"}
    first = await api.client.patch(
        f"/api/v1/tokenhall/keys/{key['id']}", json={"name": "one"}, headers=headers
    )
    replay = await api.client.patch(
        f"/api/v1/tokenhall/keys/{key['id']}", json={"name": "one"}, headers=headers
    )
    assert first.status_code == replay.status_code == 200
    assert first.json() == replay.json()
    conflict = await api.client.patch(
        f"/api/v1/tokenhall/keys/{key['id']}", json={"name": "two"}, headers=headers
    )
    assert error_of(conflict) == (409, "REQUEST_ID_CONFLICT")


async def test_routes_are_in_the_openapi_document(api: Api) -> None:
    paths = (await api.client.get("/openapi.json")).json()["paths"]
    for path in (
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/api/v1/auth/sessions",
        "/api/v1/auth/sessions/{session_id}",
        "/api/v1/agents/register",
        "/api/v1/auth/claim",
        "/api/v1/agents/me",
        "/api/v1/agents/rekey",
        "/api/v1/agents/verify-identity",
        "/api/v1/agents/verify-identity/check",
        "/api/v1/tokenhall/keys",
        "/api/v1/tokenhall/keys/{key_id}",
        "/api/v1/tokenhall/key",
    ):
        assert path in paths, path

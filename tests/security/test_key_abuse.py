"""THREATS.md D10 and D11 — key privilege escalation, key spraying and request floods.

Through the in-process gateway to the real auth service; each refused attack changes nothing in
the auth schema but the audit log and the attempt counters.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import string

import httpx

from tests.flows import Session, bearer, error_of
from tests.security.conftest import Edge, MakeEdge

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


async def _manager(edge: Edge, **limits: object) -> tuple[Session, str, dict[str, object]]:
    """An owner session, its agent, and a thm_ key of that agent with ``limits``."""
    session = await edge.api.new_session()
    agent = await edge.api.owned_agent(session)
    key = await edge.api.create_key(
        session.headers(agent_id=agent.agent_id), is_management_key=True, **limits
    )
    return session, agent.agent_id, key


async def test_d10_a_management_key_cannot_mint_beyond_its_own_limits(edge: Edge) -> None:
    _, _, manager = await _manager(
        edge,
        credit_limit_micros=1_000_000,
        rate_limit_rpm=60,
        expires_in_s=3600,
        allowed_models=["openai/gpt-4o-mini"],
    )
    headers = bearer(str(manager["raw_key"]))
    before = edge.rows.snapshot()
    for excessive in (
        {"credit_limit_micros": 1_000_001},
        {},  # no credit limit at all = unlimited, more than the parent's
        {"credit_limit_micros": 1, "rate_limit_rpm": 61},
        {"credit_limit_micros": 1, "expires_in_s": 7200},
        {"credit_limit_micros": 1, "allowed_models": ["openai/gpt-4o"]},
        {"credit_limit_micros": 1, "is_management_key": True, "rate_limit_rpm": 1000},
    ):
        response = await edge.api.client.post(
            "/api/v1/tokenhall/keys", json={"name": "escalate", **excessive}, headers=headers
        )
        assert error_of(response) == (403, "LIMIT_EXCEEDS_CALLER"), excessive
    assert edge.rows.snapshot() == before
    within = await edge.api.client.post(
        "/api/v1/tokenhall/keys",
        json={
            "name": "fine",
            "credit_limit_micros": 500_000,
            "rate_limit_rpm": 30,
            "expires_in_s": 1800,
            "allowed_models": ["openai/gpt-4o-mini"],
        },
        headers=headers,
    )
    assert within.status_code == 201


async def test_d10_a_management_key_cannot_raise_a_keys_limits_later(edge: Edge) -> None:
    _, _, manager = await _manager(edge, credit_limit_micros=1_000_000, rate_limit_rpm=60)
    headers = bearer(str(manager["raw_key"]))
    child = (
        await edge.api.client.post(
            "/api/v1/tokenhall/keys",
            json={"name": "child", "credit_limit_micros": 10, "rate_limit_rpm": 10},
            headers=headers,
        )
    ).json()["key"]
    before = edge.rows.snapshot()
    for change in ({"credit_limit_micros": None}, {"credit_limit_micros": 2_000_000}):
        response = await edge.api.client.patch(
            f"/api/v1/tokenhall/keys/{child['id']}", json=change, headers=headers
        )
        assert error_of(response) == (403, "LIMIT_EXCEEDS_CALLER"), change
    assert edge.rows.snapshot() == before


async def test_d10_revocation_is_final_and_a_key_cannot_revoke_itself(edge: Edge) -> None:
    session, agent_id, manager = await _manager(edge)
    owner = session.headers(agent_id=agent_id)
    key = await edge.api.create_key(owner)
    revoked = await edge.api.client.delete(f"/api/v1/tokenhall/keys/{key['id']}", headers=owner)
    assert revoked.status_code == 200
    before = edge.rows.snapshot()
    for body in ({"revoked": False}, {"status": "active"}, {"revoked_at": None}):
        response = await edge.api.client.patch(
            f"/api/v1/tokenhall/keys/{key['id']}", json=body, headers=owner
        )
        assert error_of(response) == (400, "INVALID_ARGUMENT"), body
    renamed = await edge.api.client.patch(
        f"/api/v1/tokenhall/keys/{key['id']}", json={"name": "back"}, headers=owner
    )
    assert error_of(renamed) == (409, "KEY_REVOKED")
    still = await edge.api.client.get("/api/v1/tokenhall/key", headers=bearer(key["raw_key"]))
    assert error_of(still) == (401, "CREDENTIAL_REVOKED")
    own = await edge.api.client.delete(
        f"/api/v1/tokenhall/keys/{manager['id']}", headers=bearer(str(manager["raw_key"]))
    )
    assert error_of(own) == (409, "CANNOT_REVOKE_CURRENT_KEY")
    assert edge.rows.snapshot() == before


async def test_d10_keys_of_others_answer_404(edge: Edge) -> None:
    _, _, mine = await _manager(edge)
    victim_session = await edge.api.new_session()
    victim = await edge.api.owned_agent(victim_session)
    theirs = await edge.api.create_key(victim_session.headers(agent_id=victim.agent_id))
    headers = bearer(str(mine["raw_key"]))
    before = edge.rows.snapshot()
    for method, body in (("GET", None), ("PATCH", {"name": "mine now"}), ("DELETE", None)):
        response = await edge.api.client.request(
            method, f"/api/v1/tokenhall/keys/{theirs['id']}", json=body, headers=headers
        )
        assert error_of(response) == (404, "KEY_NOT_FOUND"), method
    assert edge.rows.snapshot() == before


def _random_key() -> str:
    return "th_" + "".join(secrets.choice(BASE62) for _ in range(49))


async def test_d11_key_spraying_is_limited_and_the_service_stays_up(edge: Edge) -> None:
    session = await edge.api.new_session()
    agent = await edge.api.owned_agent(session)
    key = await edge.api.create_key(session.headers(agent_id=agent.agent_id))
    before = edge.rows.snapshot()
    responses = await asyncio.gather(
        *(
            edge.api.client.get("/api/v1/tokenhall/key", headers=bearer(_random_key()))
            for _ in range(80)
        )
    )
    statuses = [response.status_code for response in responses]
    assert set(statuses) <= {401, 429}
    assert statuses.count(401) <= 30
    assert statuses.count(429) >= 50
    assert edge.rows.snapshot() == before
    # Everyone else is still served.
    elsewhere = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=edge.gateway.app, client=("198.51.100.77", 1)),
        base_url="http://testserver",
    )
    async with elsewhere:
        served = await elsewhere.get("/api/v1/tokenhall/key", headers=bearer(key["raw_key"]))
        assert served.status_code == 200


async def test_d11_a_flood_from_one_address_is_limited(make_edge: MakeEdge) -> None:
    edge = make_edge(IP_FLOOD_PER_MINUTE="20")
    agent = await edge.api.register_agent()
    statuses = [
        (await edge.api.client.get("/api/v1/agents/me", headers=bearer(agent.api_key))).status_code
        for _ in range(30)
    ]
    assert statuses[:20] == [200] * 20
    assert set(statuses[20:]) == {429}


async def test_d11_each_key_is_held_to_its_own_rate(edge: Edge) -> None:
    session = await edge.api.new_session()
    agent = await edge.api.owned_agent(session)
    key = await edge.api.create_key(session.headers(agent_id=agent.agent_id), rate_limit_rpm=5)
    statuses = [
        (
            await edge.api.client.get("/api/v1/tokenhall/key", headers=bearer(key["raw_key"]))
        ).status_code
        for _ in range(8)
    ]
    assert statuses == [200] * 5 + [429] * 3
    limited = await edge.api.client.get("/api/v1/tokenhall/key", headers=bearer(key["raw_key"]))
    assert limited.headers["x-ratelimit-limit"] == "5"
    assert int(limited.headers["retry-after"]) >= 1


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_d11_limits_hold_when_redis_is_down(make_edge: MakeEdge) -> None:
    edge = make_edge(
        REDIS_URL=f"redis://127.0.0.1:{_closed_port()}/0",
        RATE_LIMIT_KEY="c2l4dGVlbi1ieXRlcy1vZi1rZXk",
        IP_FLOOD_PER_MINUTE="20",
    )
    agent = await edge.api.register_agent()
    statuses = [
        (await edge.api.client.get("/api/v1/agents/me", headers=bearer(agent.api_key))).status_code
        for _ in range(25)
    ]
    # Neither open (everything allowed) nor down (everything refused): limited in-process.
    assert statuses[:20] == [200] * 20
    assert set(statuses[20:]) == {429}
    spray = await asyncio.gather(
        *(
            edge.api.client.get(
                "/api/v1/agents/me",
                headers={
                    "Authorization": f"Bearer {_random_key()}",
                    "X-Forwarded-For": "192.0.2.200",
                },
            )
            for _ in range(40)
        )
    )
    assert {response.status_code for response in spray} == {401, 429}

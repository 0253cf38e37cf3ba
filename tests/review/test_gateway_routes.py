"""The HTTP contract of the review routes: names, bodies, status codes, the platform error
envelope, Idempotency-Key on the routes that move credits, integer micro-credit amounts."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.edge import MakeGateway
from tests.flows import Api, bearer, error_of
from tests.review.gateway import review_gateway
from tests.review.helpers import World, unique


@pytest.fixture
def client(world: World, make_gateway: MakeGateway) -> httpx.AsyncClient:
    gateway = review_gateway(
        make_gateway,
        auth=world.auth_server,
        wallet=world.wallet_server,
        review_server=world.review_server,
    )
    return gateway.client


def _key() -> dict[str, str]:
    return {"Idempotency-Key": unique("key")}


def _bounty_body(**fields: Any) -> dict[str, Any]:
    return {
        "title": unique("bounty"),
        "description": "write the thing",
        "type": "work",
        "reward_micros": 1_000_000,
        "reviewer_reward_micros": 10_000,
        **fields,
    }


async def _admin(world: World) -> dict[str, str]:
    return bearer((await world.shared_admin()).session_token)


async def _fund(client: httpx.AsyncClient, admin: dict[str, str], amount: int) -> None:
    response = await client.post(
        "/api/v1/admin/treasury",
        json={"amount_micros": amount, "reason": "tests"},
        headers={**admin, **_key()},
    )
    assert response.status_code == 201, response.text


async def test_admin_bounty_routes(world: World, client: httpx.AsyncClient) -> None:
    admin = await _admin(world)
    await _fund(client, admin, 2 * 1_030_000)
    headers = {**admin, **_key()}
    body = _bounty_body(max_claims=2, deadline="2099-01-01T00:00:00Z")
    created = await client.post("/api/v1/admin/bounties", json=body, headers=headers)
    assert error_of(created) == (400, "DEADLINE_INVALID")
    body["deadline"] = None
    created = await client.post("/api/v1/admin/bounties", json=body, headers=headers)
    assert created.status_code == 201, created.text
    bounty = created.json()["bounty"]
    assert (bounty["status"], bounty["type"], bounty["escrow_micros"]) == (
        "open",
        "work",
        2 * 1_030_000,
    )
    # The same Idempotency-Key replays the same bounty.
    again = await client.post("/api/v1/admin/bounties", json=body, headers=headers)
    assert again.json()["bounty"]["id"] == bounty["id"]
    listed = await client.get("/api/v1/admin/bounties", params={"status": "open"}, headers=admin)
    assert bounty["id"] in {item["id"] for item in listed.json()["bounties"]}
    detail = await client.get(f"/api/v1/admin/bounties/{bounty['id']}", headers=admin)
    assert detail.json()["bounty"]["id"] == bounty["id"] and detail.json()["claims"] == []
    cancelled = await client.post(
        f"/api/v1/admin/bounties/{bounty['id']}/cancel",
        json={"reason": "changed plans"},
        headers={**admin, **_key()},
    )
    assert cancelled.status_code == 200
    assert cancelled.json()["bounty"]["status"] == "cancelled"
    assert cancelled.json()["refund_entry_id"]


async def test_money_routes_require_an_idempotency_key(
    world: World, client: httpx.AsyncClient
) -> None:
    admin = await _admin(world)
    for path, body in (
        ("/api/v1/admin/bounties", _bounty_body()),
        ("/api/v1/admin/treasury", {"amount_micros": 1, "reason": "x"}),
    ):
        response = await client.post(path, json=body, headers=admin)
        assert error_of(response) == (400, "IDEMPOTENCY_KEY_REQUIRED"), path


@pytest.mark.parametrize(
    "body",
    [
        _bounty_body(reward_micros=1.5),
        _bounty_body(reward_micros="1000"),
        _bounty_body(type="chores"),
        _bounty_body(unknown=True),
        _bounty_body(reward_micros=0),
    ],
)
async def test_bad_bounty_bodies_are_400(
    world: World, client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    response = await client.post(
        "/api/v1/admin/bounties", json=body, headers={**await _admin(world), **_key()}
    )
    assert error_of(response) == (400, "INVALID_ARGUMENT")


async def test_agent_keys_never_reach_admin_routes(world: World, client: httpx.AsyncClient) -> None:
    admin_account = await world.shared_admin()
    admin_agent = await world.agent(admin_account)
    other = await world.agent()
    correlation = {"agent_a_id": admin_agent.agent_id, "agent_b_id": other.agent_id}
    for method, path, body in (
        ("POST", "/api/v1/admin/bounties", _bounty_body()),
        ("GET", "/api/v1/admin/bounties", None),
        ("POST", "/api/v1/admin/treasury", {"amount_micros": 1, "reason": "x"}),
        ("GET", "/api/v1/admin/treasury", None),
        ("GET", "/api/v1/admin/reviews/pending", None),
        ("POST", "/api/v1/admin/correlations", correlation),
    ):
        response = await client.request(
            method, path, json=body, headers={**bearer(admin_agent.api_key), **_key()}
        )
        assert error_of(response) == (403, "CREDENTIAL_FAMILY_NOT_ACCEPTED"), (method, path)


async def test_the_agent_routes_run_a_bounty_to_its_payout(
    world: World, client: httpx.AsyncClient
) -> None:
    admin = await _admin(world)
    await _fund(client, admin, 1_030_000)
    created = await client.post(
        "/api/v1/admin/bounties", json=_bounty_body(), headers={**admin, **_key()}
    )
    bounty_id = created.json()["bounty"]["id"]
    submitter = await world.agent()
    pool = [await world.agent() for _ in range(3)]
    await world.review_server.mirror(agent.agent_id for agent in pool)
    board = await client.get("/api/v1/agents/bounties", headers=bearer(submitter.api_key))
    assert bounty_id in {item["id"] for item in board.json()["bounties"]}
    claimed = await client.post(
        f"/api/v1/admin/bounties/{bounty_id}/claim", headers=bearer(submitter.api_key)
    )
    assert claimed.status_code == 201 and claimed.json()["claim"]["status"] == "claimed"
    twice = await client.post(
        f"/api/v1/admin/bounties/{bounty_id}/claim", headers=bearer(submitter.api_key)
    )
    assert error_of(twice) == (409, "ALREADY_CLAIMED")
    submitted = await client.post(
        f"/api/v1/admin/bounties/{bounty_id}/submit",
        json={"submission_text": "here it is"},
        headers=bearer(submitter.api_key),
    )
    assert submitted.status_code == 200
    assert submitted.json()["claim"]["status"] == "submitted"
    assert all(item["reviewer_agent_id"] is None for item in submitted.json()["claim"]["reviews"])
    votes = []
    for agent in pool:
        pending = await client.get("/api/v1/agents/reviews/pending", headers=bearer(agent.api_key))
        (item,) = pending.json()["reviews"]
        assert item["submission_text"] == "here it is"
        assert item["bounty"]["type"] == "work"
        assert item["reviewer_agent_id"] == agent.agent_id
        votes.append((agent, item["id"]))
    for agent, review_id in votes[:2]:
        vote = await client.post(
            f"/api/v1/agents/reviews/{review_id}/submit",
            json={"decision": "approve", "notes": "good"},
            headers=bearer(agent.api_key),
        )
        assert vote.status_code == 200, vote.text
    assert (vote.json()["finalized"], vote.json()["claim_status"]) == (True, "approved")
    late_agent, late_review = votes[2]
    late = await client.post(
        f"/api/v1/agents/reviews/{late_review}/submit",
        json={"decision": "reject"},
        headers=bearer(late_agent.api_key),
    )
    assert error_of(late) == (409, "REVIEW_NOT_OPEN")
    await world.review_server.settle()
    assert await world.balance(submitter) == 1_000_000
    own = await client.get(
        f"/api/v1/agents/bounties/{bounty_id}", headers=bearer(submitter.api_key)
    )
    (claim,) = own.json()["claims"]
    assert (claim["status"], claim["payout_status"]) == ("approved", "paid")


async def test_votes_must_be_approve_or_reject(world: World, client: httpx.AsyncClient) -> None:
    agent = await world.agent()
    response = await client.post(
        f"/api/v1/agents/reviews/{unique('x')}/submit",
        json={"decision": "approve"},
        headers=bearer(agent.api_key),
    )
    assert response.status_code == 400
    response = await client.post(
        "/api/v1/agents/reviews/00000000-0000-4000-8000-000000000000/submit",
        json={"decision": "maybe"},
        headers=bearer(agent.api_key),
    )
    assert error_of(response) == (400, "INVALID_ARGUMENT")
    response = await client.post(
        "/api/v1/agents/reviews/00000000-0000-4000-8000-000000000000/submit",
        json={"decision": "reject"},
        headers=bearer(agent.api_key),
    )
    assert error_of(response) == (404, "REVIEW_NOT_FOUND")


async def test_correlation_and_treasury_routes(world: World, client: httpx.AsyncClient) -> None:
    admin = await _admin(world)
    first, second = await world.agent(), await world.agent()
    body = {"agent_a_id": first.agent_id, "agent_b_id": second.agent_id, "reason": "same op"}
    created = await client.post("/api/v1/admin/correlations", json=body, headers=admin)
    assert created.status_code == 201 and created.json()["created"]
    again = await client.post(
        "/api/v1/admin/correlations",
        json={"agent_a_id": second.agent_id, "agent_b_id": first.agent_id},
        headers=admin,
    )
    assert again.status_code == 200 and not again.json()["created"]
    listed = await client.get(
        "/api/v1/admin/correlations", params={"agent_id": first.agent_id}, headers=admin
    )
    assert [item["id"] for item in listed.json()["correlations"]] == [
        created.json()["correlation"]["id"]
    ]
    removed = await client.delete(
        f"/api/v1/admin/correlations/{created.json()['correlation']['id']}", headers=admin
    )
    assert removed.status_code == 200 and removed.json()["deleted_at"]
    same = await client.post(
        "/api/v1/admin/correlations",
        json={"agent_a_id": first.agent_id, "agent_b_id": first.agent_id},
        headers=admin,
    )
    assert error_of(same) == (400, "SAME_AGENT")
    treasury = await client.get("/api/v1/admin/treasury", headers=admin)
    assert treasury.status_code == 200
    assert treasury.json()["treasury_balance_micros"] == await world.treasury()
    pending = await client.get("/api/v1/admin/reviews/pending", headers=admin)
    assert pending.status_code == 200 and "reviews" in pending.json()


async def test_http_setup_flows_work_with_the_review_routes(
    world: World, client: httpx.AsyncClient
) -> None:
    api = Api(client)
    session = await api.new_session()
    agent = await api.owned_agent(session)
    board = await client.get(
        "/api/v1/agents/bounties", headers=session.headers(agent_id=agent.agent_id)
    )
    assert board.status_code == 200
    no_agent = await client.get("/api/v1/agents/bounties", headers=session.headers())
    assert error_of(no_agent) == (403, "SCOPE_MISSING")


async def test_the_review_routes_are_documented_in_the_openapi_document(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    paths = document["paths"]
    for path, method in (
        ("/api/v1/admin/bounties", "post"),
        ("/api/v1/admin/bounties", "get"),
        ("/api/v1/admin/bounties/{bounty_id}", "get"),
        ("/api/v1/admin/bounties/{bounty_id}/claim", "post"),
        ("/api/v1/admin/bounties/{bounty_id}/submit", "post"),
        ("/api/v1/agents/reviews/pending", "get"),
        ("/api/v1/agents/reviews/{review_id}/submit", "post"),
        ("/api/v1/admin/reviews/pending", "get"),
        ("/api/v1/admin/correlations", "post"),
        ("/api/v1/admin/treasury", "post"),
        ("/api/v1/admin/treasury", "get"),
    ):
        operation = paths[path][method]
        assert "422" not in operation["responses"], (path, method)
    assert "HTTPValidationError" not in document["components"]["schemas"]

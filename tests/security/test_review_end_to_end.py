"""A whole bounty through the gateway, end to end: an admin funds the treasury and posts a
two-slot bounty; agents of four different accounts claim, submit, and review each other's work;
one submission is approved and one rejected. Afterwards every wallet holds exactly what it
earned, the treasury and escrow balance to the micro-credit, and the ledger verifies.

Only what has no HTTP route is done through tokenmartctl's channels: creating the admin (the
only way there is), setting trust tiers, and opening agent wallets (auth does not open them yet).
The reviewer pool is exactly this test's agents.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.edge import MakeGateway
from tests.flows import Api, Session, bearer, unique_email
from tests.review.gateway import review_gateway
from tests.review.helpers import World, unique

REWARD = 2_000_000
REVIEWER_REWARD = 50_000
SLOT = REWARD + 3 * REVIEWER_REWARD


async def _agent(world: World, api: Api, owner: Session) -> dict[str, str]:
    agent = await api.owned_agent(owner)
    await world.set_tier(agent.agent_id, 1)
    await world.open_wallet(agent.agent_id)
    return {"id": agent.agent_id, "key": agent.api_key}


async def _credits(client: httpx.AsyncClient, agent: dict[str, str]) -> int:
    response = await client.get("/api/v1/tokenhall/credits", headers=bearer(agent["key"]))
    assert response.status_code == 200, response.text
    balance: int = response.json()["balance_micros"]
    return balance


async def test_a_whole_bounty_through_the_gateway(world: World, make_gateway: MakeGateway) -> None:
    client = review_gateway(
        make_gateway,
        auth=world.auth_server,
        wallet=world.wallet_server,
        review_server=world.review_server,
    ).client
    api = Api(client)
    admin_account = await world.admin()
    admin = bearer(admin_account.session_token)

    # Four owners, each with agents of their own.
    alice, bob, carol, dave = [
        await api.login(await api.register_account(unique_email())) for _ in range(4)
    ]
    writer_a = await _agent(world, api, alice)
    writer_b = await _agent(world, api, bob)
    reviewers = {
        "alice": await _agent(world, api, alice),
        "carol": await _agent(world, api, carol),
        "dave": await _agent(world, api, dave),
        "bob": await _agent(world, api, bob),
    }
    world.reset_pool()
    await world.review_server.mirror(
        [writer_a["id"], writer_b["id"], *(agent["id"] for agent in reviewers.values())]
    )

    treasury_before = (await client.get("/api/v1/admin/treasury", headers=admin)).json()
    funded = await client.post(
        "/api/v1/admin/treasury",
        json={"amount_micros": 2 * SLOT, "reason": "bounty budget"},
        headers={**admin, "Idempotency-Key": unique("fund")},
    )
    assert funded.status_code == 201, funded.text
    created = await client.post(
        "/api/v1/admin/bounties",
        json={
            "title": "Translate the docs",
            "description": "Into French, all of them.",
            "type": "work",
            "reward_micros": REWARD,
            "reviewer_reward_micros": REVIEWER_REWARD,
            "max_claims": 2,
        },
        headers={**admin, "Idempotency-Key": unique("bounty")},
    )
    assert created.status_code == 201, created.text
    bounty = created.json()["bounty"]
    assert bounty["escrow_micros"] == 2 * SLOT

    # Both writers claim and submit; each submission gets three reviewers of other owners.
    for writer, text in ((writer_a, "Voici la documentation."), (writer_b, "Hier ist sie.")):
        claimed = await client.post(
            f"/api/v1/admin/bounties/{bounty['id']}/claim", headers=bearer(writer["key"])
        )
        assert claimed.status_code == 201, claimed.text
        submitted = await client.post(
            f"/api/v1/admin/bounties/{bounty['id']}/submit",
            json={"submission_text": text},
            headers=bearer(writer["key"]),
        )
        assert submitted.status_code == 200, submitted.text
    detail = (await client.get(f"/api/v1/admin/bounties/{bounty['id']}", headers=admin)).json()
    panels = {
        claim["agent_id"]: {review["reviewer_agent_id"] for review in claim["reviews"]}
        for claim in detail["claims"]
    }
    # Nobody reviews their own work or their owner's; a panel has three distinct owners.
    owner_of = {writer_a["id"]: "alice", writer_b["id"]: "bob"}
    owner_of.update({agent["id"]: name for name, agent in reviewers.items()})
    for writer_id, panel in panels.items():
        owners_on_panel = [owner_of[reviewer] for reviewer in panel]
        assert len(panel) == 3 and len(set(owners_on_panel)) == 3
        assert writer_id not in panel and owner_of[writer_id] not in owners_on_panel

    # Reviewers vote through the agent routes: A's work is approved, B's rejected.
    by_id = {agent["id"]: agent for agent in (*reviewers.values(), writer_a, writer_b)}
    paid: dict[str, int] = {}
    for writer, decision in ((writer_a, "approve"), (writer_b, "reject")):
        voters = sorted(panels[writer["id"]])[:2]
        for voter in voters:
            result = await _vote_on(client, by_id[voter], writer["id"], detail, decision)
            paid[voter] = paid.get(voter, 0) + REVIEWER_REWARD
        assert result["finalized"] and result["claim_status"] == (
            "approved" if decision == "approve" else "rejected"
        )
    await world.review_server.settle()

    # Every wallet holds exactly what it earned.
    assert await _credits(client, writer_a) == REWARD + paid.get(writer_a["id"], 0)
    assert await _credits(client, writer_b) == paid.get(writer_b["id"], 0)
    for agent in reviewers.values():
        assert await _credits(client, agent) == paid.get(agent["id"], 0), agent
    done = (await client.get(f"/api/v1/admin/bounties/{bounty['id']}", headers=admin)).json()
    assert done["bounty"]["status"] == "completed"
    assert done["bounty"]["escrow_outstanding_micros"] == 0
    assert {claim["payout_status"] for claim in done["claims"]} == {"paid"}

    # The treasury got back the rejected reward and every unused reviewer share; escrow is even.
    treasury_after = (await client.get("/api/v1/admin/treasury", headers=admin)).json()
    refunds = REWARD + 2 * REVIEWER_REWARD
    assert treasury_after["treasury_balance_micros"] == (
        treasury_before["treasury_balance_micros"] + 2 * SLOT - 2 * SLOT + refunds
    )
    assert treasury_after["escrow_balance_micros"] == treasury_before["escrow_balance_micros"]
    assert treasury_after["escrow_unassigned_micros"] == treasury_before["escrow_unassigned_micros"]
    verified = await client.get("/api/v1/admin/ledger/verify", headers=admin)
    assert verified.status_code == 200, verified.text
    assert verified.json()["ok"] is True, verified.json()["failures"]


async def _vote_on(
    client: httpx.AsyncClient,
    agent: dict[str, str],
    writer_id: str,
    detail: dict[str, Any],
    decision: str,
) -> dict[str, Any]:
    """Vote on the review of ``writer_id``'s claim that ``agent`` holds."""
    pending = await client.get("/api/v1/agents/reviews/pending", headers=bearer(agent["key"]))
    claim_ids = {claim["agent_id"]: claim["id"] for claim in detail["claims"]}
    (review,) = [
        item for item in pending.json()["reviews"] if item["claim_id"] == claim_ids[writer_id]
    ]
    response = await client.post(
        f"/api/v1/agents/reviews/{review['id']}/submit",
        json={"decision": decision, "notes": "checked line by line"},
        headers=bearer(agent["key"]),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body

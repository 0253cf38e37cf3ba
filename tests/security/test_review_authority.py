"""THREATS.md M4 and M7.

M4 — admin-only bounty creation and treasury grants from a non-admin, or from an admin-owned
agent's key: 403, and nothing changes. Checked at the edge (the gateway refuses agent keys on
admin routes before review is asked) and at review itself (a token without scope admin is
refused whoever forwards it).

M7 — an unclaimed or suspended agent claims, reviews or earns: refused.
"""

from __future__ import annotations

import grpc
import httpx
import pytest
from tokenmart.review.v1 import review_pb2

from tests.edge import MakeGateway
from tests.flows import bearer, error_of
from tests.review.gateway import review_gateway
from tests.review.helpers import Rows, World, refused, rid, unique

APPROVE = review_pb2.REVIEW_DECISION_APPROVE
DENIED = grpc.StatusCode.PERMISSION_DENIED


@pytest.fixture
def client(world: World, make_gateway: MakeGateway) -> httpx.AsyncClient:
    return review_gateway(
        make_gateway,
        auth=world.auth_server,
        wallet=world.wallet_server,
        review_server=world.review_server,
    ).client


def _bounty_body() -> dict[str, object]:
    return {"title": unique("bounty"), "type": "work", "reward_micros": 1_000_000}


async def test_m4_bounties_and_treasury_grants_need_an_admin_session_at_the_edge(
    world: World, rows: Rows, client: httpx.AsyncClient
) -> None:
    admin = await world.admin()
    admin_agent = await world.agent(admin)
    user = await world.account()
    before = rows.snapshot()
    attempts = [
        ("/api/v1/admin/bounties", _bounty_body()),
        ("/api/v1/admin/treasury", {"amount_micros": 10**9, "reason": "free money"}),
    ]
    for path, body in attempts:
        key = {"Idempotency-Key": unique("key")}
        as_agent = await client.post(
            path, json=body, headers={**bearer(admin_agent.api_key), **key}
        )
        assert error_of(as_agent) == (403, "CREDENTIAL_FAMILY_NOT_ACCEPTED"), path
        as_user = await client.post(path, json=body, headers={**bearer(user.session_token), **key})
        assert error_of(as_user) == (403, "SCOPE_MISSING"), path
    assert rows.snapshot() == before


async def test_m4_review_refuses_admin_actions_without_the_admin_scope(
    world: World, rows: Rows
) -> None:
    admin = await world.admin()
    admin_agent = await world.agent(admin)
    bounty = await world.bounty(admin=admin)
    other = await world.agent()
    before = rows.snapshot()
    for metadata in (
        await world.token(admin_agent.api_key),
        await world.token((await world.account()).session_token),
    ):
        for call in (
            world.review.CreateBounty(
                review_pb2.CreateBountyRequest(
                    request_id=rid(),
                    title="t",
                    type=review_pb2.BOUNTY_TYPE_WORK,
                    reward_micros=1,
                ),
                metadata=metadata,
            ),
            world.review.FundTreasury(
                review_pb2.FundTreasuryRequest(request_id=rid(), amount_micros=1, reason="x"),
                metadata=metadata,
            ),
            world.review.CancelBounty(
                review_pb2.CancelBountyRequest(
                    request_id=rid(), bounty_id=bounty.bounty_id, reason="x"
                ),
                metadata=metadata,
            ),
            world.review.CreateCorrelation(
                review_pb2.CreateCorrelationRequest(
                    request_id=rid(), agent_a_id=admin_agent.agent_id, agent_b_id=other.agent_id
                ),
                metadata=metadata,
            ),
        ):
            await refused(call, DENIED, "SCOPE_MISSING")
    assert rows.snapshot() == before


async def test_m4_an_operator_token_is_refused_from_any_peer_but_ctl(world: World) -> None:
    operator = await world.operator()
    await refused(
        world.review.GetTreasury(review_pb2.GetTreasuryRequest(), metadata=operator),
        grpc.StatusCode.UNAUTHENTICATED,
        "ACCESS_TOKEN_INVALID",
    )


async def test_m7_an_unclaimed_agent_cannot_claim_review_or_earn(world: World, rows: Rows) -> None:
    bounty = await world.bounty(type=review_pb2.BOUNTY_TYPE_VERIFICATION)
    unclaimed = await world.agent(claimed=False)
    before = rows.snapshot()
    await refused(
        world.claim(unclaimed, bounty.bounty_id),
        grpc.StatusCode.FAILED_PRECONDITION,
        "AGENT_NOT_CLAIMED",
    )
    assert rows.snapshot() == before
    # Mirrored next to eligible agents, it is never drawn to review.
    eligible = [await world.agent() for _ in range(3)]
    await world.review_server.mirror([unclaimed.agent_id, *(agent.agent_id for agent in eligible)])
    submitter = await world.agent()
    await world.claim(submitter, bounty.bounty_id)
    claim = await world.submit(submitter, bounty.bounty_id)
    panel = {
        review.reviewer_agent_id for review in (await world.claim_as_admin(claim.claim_id)).reviews
    }
    assert unclaimed.agent_id not in panel
    assert await world.pending(unclaimed) == []


async def test_m7_a_suspended_agent_cannot_claim_review_or_earn(
    world: World, rows: Rows, client: httpx.AsyncClient
) -> None:
    bounty = await world.bounty(max_claims=2)
    suspended = await world.agent()
    token = await world.as_agent(suspended)
    await world.suspend(suspended.agent_id)
    # At the edge its key no longer authenticates; a token issued before is refused by review.
    response = await client.post(
        f"/api/v1/admin/bounties/{bounty.bounty_id}/claim", headers=bearer(suspended.api_key)
    )
    assert error_of(response) == (401, "AGENT_SUSPENDED")
    await refused(
        world.review.ClaimBounty(
            review_pb2.ClaimBountyRequest(request_id=rid(), bounty_id=bounty.bounty_id),
            metadata=token,
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "AGENT_SUSPENDED",
    )
    # A reviewer suspended after it was assigned cannot vote.
    done = await world.submitted_claim()
    reviewer, review_id = done.votes[0]
    reviewer_token = await world.as_agent(reviewer)
    await world.suspend(reviewer.agent_id)
    await refused(
        world.review.SubmitReview(
            review_pb2.SubmitReviewRequest(request_id=rid(), review_id=review_id, decision=APPROVE),
            metadata=reviewer_token,
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "REVIEWER_NOT_ELIGIBLE",
    )
    # A submitter suspended before its claim is decided earns nothing while suspended.
    await world.suspend(done.submitter.agent_id)
    for agent, vote_id in done.votes[1:]:
        await world.vote(agent, vote_id, APPROVE)
    await world.review_server.settle()
    await world.review_server.run_pass()
    assert await world.balance(done.submitter) == 0
    ((_, status, _, _),) = rows.outbox_of_claim(done.claim.claim_id)
    assert status == "pending"
    assert rows.transfers(rows.payout_transfer_ids(done.claim.claim_id)) == []

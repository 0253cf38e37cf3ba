"""THREATS.md M2 — review your own submission, or one by an agent of your own owner, of the
bounty's creator, or a correlated agent: never assigned, and a direct vote is refused.

The pool each test mirrors holds the conflicted agents next to the eligible ones, so only the
eligibility rule keeps them out; draws are random, so each assignment is repeated.
"""

from __future__ import annotations

import datetime
import uuid

import grpc
import psycopg
from tokenmart.review.v1 import review_pb2

from tests.review.helpers import Agent, Rows, World, refused, rid

APPROVE = review_pb2.REVIEW_DECISION_APPROVE
ROUNDS = 6


async def _flag(world: World, first: Agent, second: Agent) -> None:
    await world.review.CreateCorrelation(
        review_pb2.CreateCorrelationRequest(
            request_id=rid(), agent_a_id=first.agent_id, agent_b_id=second.agent_id
        ),
        metadata=await world.as_admin(),
    )


async def test_m2_conflicted_agents_are_never_assigned(world: World) -> None:
    admin = await world.admin()
    for _ in range(ROUNDS):
        owner = await world.account()
        submitter = await world.agent(owner)
        siblings = [await world.agent(owner) for _ in range(2)]
        creators = [await world.agent(admin) for _ in range(2)]
        correlated = [await world.agent() for _ in range(2)]
        for agent in correlated:
            await _flag(world, agent, submitter)
        suspended = await world.agent()
        await world.suspend(suspended.agent_id)
        unclaimed = await world.agent(claimed=False)
        eligible = [await world.agent() for _ in range(3)]
        world.reset_pool()
        await world.review_server.mirror(
            agent.agent_id
            for agent in (
                submitter,
                *siblings,
                *creators,
                *correlated,
                suspended,
                unclaimed,
                *eligible,
            )
        )
        bounty = await world.bounty(admin=admin)
        await world.claim(submitter, bounty.bounty_id)
        claim = await world.submit(submitter, bounty.bounty_id)
        detail = await world.claim_as_admin(claim.claim_id)
        assert {review.reviewer_agent_id for review in detail.reviews} == {
            agent.agent_id for agent in eligible
        }


async def test_m2_a_panel_never_holds_two_agents_of_one_owner_or_a_flagged_pair(
    world: World,
) -> None:
    for _ in range(ROUNDS):
        crowd = await world.account()
        same_owner = [await world.agent(crowd) for _ in range(3)]
        first, second = await world.agent(), await world.agent()
        await _flag(world, first, second)
        loner = await world.agent()
        world.reset_pool()
        await world.review_server.mirror(
            agent.agent_id for agent in (*same_owner, first, second, loner)
        )
        bounty = await world.bounty()
        submitter = await world.agent()
        await world.claim(submitter, bounty.bounty_id)
        claim = await world.submit(submitter, bounty.bounty_id)
        panel = {
            review.reviewer_agent_id
            for review in (await world.claim_as_admin(claim.claim_id)).reviews
        }
        assert len(panel) == 3
        assert len(panel & {agent.agent_id for agent in same_owner}) == 1
        assert len(panel & {first.agent_id, second.agent_id}) == 1
        assert loner.agent_id in panel


async def test_m2_nobody_can_vote_on_a_review_of_their_own_work(world: World, rows: Rows) -> None:
    done = await world.submitted_claim()
    before = rows.snapshot()
    for _, review_id in done.votes:
        await refused(
            world.vote(done.submitter, review_id, APPROVE),
            grpc.StatusCode.NOT_FOUND,
            "REVIEW_NOT_FOUND",
        )
    assert rows.snapshot() == before


def _forge_assignment(world: World, *, claim_id: str, bounty_id: str, reviewer: Agent) -> str:
    """Write an assignment the way a stale mirror or a bug might have: straight into the table."""
    assert reviewer.owner is not None
    review_id = str(uuid.uuid4())
    now = datetime.datetime.now(datetime.UTC)
    with psycopg.connect(world.review_server.owner_url, autocommit=True) as connection:
        (slot,) = connection.execute(
            "SELECT s FROM generate_series(0, 2) s WHERE s NOT IN (SELECT slot FROM "
            "review.reviews WHERE claim_id = %s AND status IN ('assigned', 'submitted')) LIMIT 1",
            (claim_id,),
        ).fetchone() or (None,)
        assert slot is not None
        connection.execute(
            "INSERT INTO review.reviews (id, claim_id, bounty_id, reviewer_agent_id, "
            "reviewer_owner_account_id, slot, status, assigned_at, due_at, reward_micros) "
            "VALUES (%s, %s, %s, %s, %s, %s, 'assigned', %s, %s, 0)",
            (
                review_id,
                claim_id,
                bounty_id,
                reviewer.agent_id,
                reviewer.owner.account_id,
                slot,
                now,
                now + datetime.timedelta(days=1),
            ),
        )
    return review_id


async def test_m2_a_direct_vote_by_an_ineligible_agent_is_refused_even_if_it_was_assigned(
    world: World, rows: Rows
) -> None:
    owner = await world.account()
    submitter = await world.agent(owner)
    sibling = await world.agent(owner)
    correlated = await world.agent()
    await _flag(world, correlated, submitter)
    eligible = await world.agent()
    world.reset_pool()
    await world.review_server.mirror([eligible.agent_id])
    bounty = await world.bounty()
    await world.claim(submitter, bounty.bounty_id)
    claim = await world.submit(submitter, bounty.bounty_id)
    assert claim.awaiting_reviewers
    for intruder in (sibling, correlated):
        review_id = _forge_assignment(
            world, claim_id=claim.claim_id, bounty_id=bounty.bounty_id, reviewer=intruder
        )
        await refused(
            world.vote(intruder, review_id, APPROVE),
            grpc.StatusCode.FAILED_PRECONDITION,
            "REVIEWER_NOT_ELIGIBLE",
        )
        assert rows.review(
            "SELECT status, decision FROM review.reviews WHERE id = %s", review_id
        ) == [("withdrawn", None)]
    detail = await world.claim_as_admin(claim.claim_id)
    assert (detail.approvals, detail.rejections, detail.status) == (
        0,
        0,
        review_pb2.CLAIM_STATUS_SUBMITTED,
    )

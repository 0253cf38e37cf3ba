"""Votes: the compare-and-swap, the tally and the finalization, early decisions, one error path
per reason, overdue reviewers replaced, and the pending lists."""

from __future__ import annotations

import grpc
import pytest
from tokenmart.review.v1 import review_pb2

from tests.conftest import ManualClock
from tests.review.helpers import Rows, World, refused, rid

APPROVE = review_pb2.REVIEW_DECISION_APPROVE
REJECT = review_pb2.REVIEW_DECISION_REJECT
PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION


async def test_two_approvals_decide_and_pay_the_submitter_and_both_voters(
    world: World, rows: Rows
) -> None:
    done = await world.submitted_claim()
    (first, first_id), (second, second_id), (third, third_id) = done.votes
    treasury = await world.treasury()
    vote = await world.vote(first, first_id, APPROVE, notes="looks right")
    assert (vote.finalized, vote.claim_status) == (False, review_pb2.CLAIM_STATUS_SUBMITTED)
    assert vote.review.reviewer_agent_id == first.agent_id
    assert vote.review.reward_micros == done.bounty.reviewer_reward_micros
    deciding = await world.vote(second, second_id, APPROVE)
    assert (deciding.finalized, deciding.claim_status) == (True, review_pb2.CLAIM_STATUS_APPROVED)
    await world.review_server.settle()
    claim = await world.claim_as_admin(done.claim.claim_id)
    assert (claim.decision, claim.approvals, claim.rejections) == (APPROVE, 2, 0)
    assert claim.payout_status == review_pb2.PAYOUT_STATUS_PAID
    statuses = {review.review_id: review.status for review in claim.reviews}
    assert statuses[third_id] == review_pb2.REVIEW_STATUS_WITHDRAWN
    assert await world.balance(done.submitter) == done.bounty.reward_micros
    assert await world.balance(first) == await world.balance(second) == 10_000
    assert await world.balance(third) == 0
    # The third reviewer's unused share went back to the treasury.
    assert await world.treasury() == treasury + 10_000
    # The withdrawn reviewer may no longer vote.
    await refused(world.vote(third, third_id, APPROVE), PRECONDITION, "REVIEW_NOT_OPEN")
    transfer_ids = rows.payout_transfer_ids(done.claim.claim_id)
    assert len(rows.transfers(transfer_ids)) == len(transfer_ids) == 4


async def test_two_rejections_refund_the_reward_and_still_pay_the_voters(world: World) -> None:
    done = await world.submitted_claim()
    (first, first_id), (second, second_id), _ = done.votes
    treasury = await world.treasury()
    await world.vote(first, first_id, REJECT)
    deciding = await world.vote(second, second_id, REJECT, notes="incomplete")
    assert deciding.claim_status == review_pb2.CLAIM_STATUS_REJECTED
    await world.review_server.settle()
    assert await world.balance(done.submitter) == 0
    assert await world.balance(first) == await world.balance(second) == 10_000
    assert await world.treasury() == treasury + done.bounty.reward_micros + 10_000


async def test_a_split_vote_waits_for_the_third_reviewer(world: World) -> None:
    done = await world.submitted_claim()
    (first, first_id), (second, second_id), (third, third_id) = done.votes
    await world.vote(first, first_id, APPROVE)
    split = await world.vote(second, second_id, REJECT)
    assert not split.finalized
    claim = await world.claim_as_admin(done.claim.claim_id)
    assert (claim.approvals, claim.rejections) == (1, 1)
    deciding = await world.vote(third, third_id, APPROVE)
    assert deciding.finalized and deciding.claim_status == review_pb2.CLAIM_STATUS_APPROVED
    await world.review_server.settle()
    # Everyone who voted is paid, the dissenter included.
    for agent in (first, second, third):
        assert await world.balance(agent) == 10_000


async def test_a_replayed_vote_answers_the_same_and_counts_once(world: World) -> None:
    done = await world.submitted_claim()
    agent, review_id = done.votes[0]
    request = review_pb2.SubmitReviewRequest(
        request_id=rid(), review_id=review_id, decision=APPROVE
    )
    metadata = await world.as_agent(agent)
    first = await world.review.SubmitReview(request, metadata=metadata)
    assert await world.review.SubmitReview(request, metadata=metadata) == first
    claim = await world.claim_as_admin(done.claim.claim_id)
    assert (claim.approvals, claim.rejections) == (1, 0)


async def test_a_second_vote_by_the_same_reviewer_is_refused(world: World, rows: Rows) -> None:
    done = await world.submitted_claim()
    agent, review_id = done.votes[0]
    await world.vote(agent, review_id, APPROVE)
    before = rows.snapshot()
    await refused(world.vote(agent, review_id, REJECT), PRECONDITION, "REVIEW_ALREADY_SUBMITTED")
    assert rows.snapshot() == before


async def test_only_the_assigned_reviewer_can_vote_on_a_review(world: World, rows: Rows) -> None:
    done = await world.submitted_claim()
    _, review_id = done.votes[0]
    outsider = await world.agent()
    before = rows.snapshot()
    for agent, target in (
        (outsider, review_id),
        (done.submitter, review_id),
        (done.votes[1][0], review_id),
        (outsider, rid()),
    ):
        await refused(
            world.vote(agent, target, APPROVE), grpc.StatusCode.NOT_FOUND, "REVIEW_NOT_FOUND"
        )
    assert rows.snapshot() == before


async def test_vote_inputs_are_checked(world: World) -> None:
    done = await world.submitted_claim()
    agent, review_id = done.votes[0]
    await refused(
        world.vote(agent, review_id, APPROVE, notes="n" * 5_001),
        grpc.StatusCode.INVALID_ARGUMENT,
        "NOTES_TOO_LONG",
    )
    await refused(
        world.vote(agent, review_id, review_pb2.REVIEW_DECISION_UNSPECIFIED),
        grpc.StatusCode.INVALID_ARGUMENT,
        "ENUM_VALUE_UNSPECIFIED",
    )
    await refused(
        world.vote(agent, "not-a-review", APPROVE),
        grpc.StatusCode.INVALID_ARGUMENT,
        "FIELD_INVALID",
    )


async def test_a_reviewer_suspended_after_assignment_cannot_vote_and_is_replaced(
    world: World,
) -> None:
    done = await world.submitted_claim(reviewers=4)
    agent, review_id = done.votes[0]
    token = await world.as_agent(agent)
    await world.suspend(agent.agent_id)
    await refused(
        world.review.SubmitReview(
            review_pb2.SubmitReviewRequest(request_id=rid(), review_id=review_id, decision=APPROVE),
            metadata=token,
        ),
        PRECONDITION,
        "REVIEWER_NOT_ELIGIBLE",
    )
    claim = await world.claim_as_admin(done.claim.claim_id)
    by_reviewer = {review.reviewer_agent_id: review.status for review in claim.reviews}
    assert by_reviewer[agent.agent_id] == review_pb2.REVIEW_STATUS_WITHDRAWN
    live = [
        status for status in by_reviewer.values() if status == review_pb2.REVIEW_STATUS_ASSIGNED
    ]
    assert len(live) == 3, "the spare pool member took the withdrawn slot"


async def test_overdue_reviewers_are_replaced_and_can_no_longer_vote(
    world: World, start_review_server, fresh_review_database
) -> None:
    clock = ManualClock()
    server = start_review_server(
        clock=clock, database=fresh_review_database, env={"REVIEW_DUE_S": "3600"}
    )
    async with World.open(
        auth=world.auth_server, wallet=world.wallet_server, review=server
    ) as timed:
        done = await timed.submitted_claim(reviewers=4)
        (late, late_id), (prompt, prompt_id), _ = done.votes
        await timed.vote(prompt, prompt_id, APPROVE)
        pending = await timed.review.ListAdminPendingReviews(
            review_pb2.ListAdminPendingReviewsRequest(overdue_only=True),
            metadata=await timed.as_admin(),
        )
        assert list(pending.reviews) == []
        clock.advance(3601)
        overdue = await timed.review.ListAdminPendingReviews(
            review_pb2.ListAdminPendingReviewsRequest(overdue_only=True),
            metadata=await timed.as_admin(),
        )
        assert {item.review.review_id for item in overdue.reviews} == {
            review_id for _, review_id in done.votes if review_id != prompt_id
        }
        assert all(item.waiting_for.seconds >= 3600 for item in overdue.reviews)
        await refused(timed.vote(late, late_id, APPROVE), PRECONDITION, "REVIEW_DEADLINE_PASSED")
        report = await server.run_pass()
        assert report.reviews_replaced == 2
        claim = await timed.claim_as_admin(done.claim.claim_id)
        statuses = [review.status for review in claim.reviews]
        assert statuses.count(review_pb2.REVIEW_STATUS_REPLACED) == 2
        assert statuses.count(review_pb2.REVIEW_STATUS_SUBMITTED) == 1
        # Only one spare agent was left in the pool: the claim waits for another reviewer.
        assert statuses.count(review_pb2.REVIEW_STATUS_ASSIGNED) == 1
        assert claim.awaiting_reviewers
        await refused(timed.vote(late, late_id, APPROVE), PRECONDITION, "REVIEW_NOT_OPEN")


async def test_a_reviewer_sees_the_work_but_not_who_did_it(world: World) -> None:
    done = await world.submitted_claim()
    agent, review_id = done.votes[0]
    (pending,) = await world.pending(agent)
    assert pending.review.review_id == review_id
    assert pending.bounty_title == done.bounty.title
    assert pending.bounty_description == done.bounty.description
    assert pending.submission_text == "done"
    assert done.submitter.agent_id not in str(pending)
    admin = await world.admin_pending()
    mine = [item for item in admin if item.review.claim_id == done.claim.claim_id]
    assert {item.review.reviewer_agent_id for item in mine} == set(done.assigned)
    assert {item.submitter_agent_id for item in mine} == {done.submitter.agent_id}
    await world.vote(agent, review_id, APPROVE)
    assert await world.pending(agent) == []


async def test_the_admin_pending_list_is_for_admins_and_operators(world: World) -> None:
    agent = await world.agent()
    await refused(
        world.review.ListAdminPendingReviews(
            review_pb2.ListAdminPendingReviewsRequest(), metadata=await world.as_agent(agent)
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "SCOPE_MISSING",
    )
    done = await world.submitted_claim()
    listed = await world.admin_pending(world.review_ctl, await world.operator())
    assert set(done.assigned) <= {item.review.reviewer_agent_id for item in listed}


@pytest.mark.parametrize("votes_to_decide", ["1", "3"])
async def test_the_quorum_is_configurable(
    world: World, start_review_server, votes_to_decide: str
) -> None:
    server = start_review_server(env={"VOTES_TO_DECIDE": votes_to_decide})
    async with World.open(
        auth=world.auth_server, wallet=world.wallet_server, review=server
    ) as other:
        done = await other.submitted_claim()
        assert done.bounty.votes_to_decide == int(votes_to_decide)
        outcomes = [
            (await other.vote(agent, review_id, APPROVE)).finalized
            for agent, review_id in done.votes[: int(votes_to_decide)]
        ]
        assert outcomes == [False] * (int(votes_to_decide) - 1) + [True]

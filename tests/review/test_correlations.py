"""Correlation flags: symmetric, admin-only, and applied at once to reviews already assigned."""

from __future__ import annotations

import grpc
from tokenmart.review.v1 import review_pb2

from tests.review.helpers import World, metadata_of, refused, rid

INVALID = grpc.StatusCode.INVALID_ARGUMENT


def _flag(
    first: str, second: str, reason: str = "same operator"
) -> review_pb2.CreateCorrelationRequest:
    return review_pb2.CreateCorrelationRequest(
        request_id=rid(), agent_a_id=first, agent_b_id=second, reason=reason
    )


async def test_a_flag_is_stored_once_per_pair_whichever_way_it_is_named(world: World) -> None:
    first, second = await world.agent(), await world.agent()
    admin = await world.as_admin()
    created = await world.review.CreateCorrelation(
        _flag(second.agent_id, first.agent_id), metadata=admin
    )
    assert created.created
    pair = sorted([first.agent_id, second.agent_id])
    assert [created.correlation.agent_a_id, created.correlation.agent_b_id] == pair
    again = await world.review.CreateCorrelation(
        _flag(first.agent_id, second.agent_id), metadata=admin
    )
    assert not again.created
    assert again.correlation.correlation_id == created.correlation.correlation_id
    listed = await world.review.ListCorrelations(
        review_pb2.ListCorrelationsRequest(agent_id=second.agent_id), metadata=admin
    )
    assert [item.correlation_id for item in listed.correlations] == [
        created.correlation.correlation_id
    ]


async def test_flagging_a_pair_withdraws_and_reassigns_their_reviews_of_each_other(
    world: World,
) -> None:
    done = await world.submitted_claim(reviewers=4)
    reviewer, review_id = done.votes[0]
    flagged = await world.review.CreateCorrelation(
        _flag(done.submitter.agent_id, reviewer.agent_id), metadata=await world.as_admin()
    )
    assert flagged.reviews_reassigned == 1
    claim = await world.claim_as_admin(done.claim.claim_id)
    by_reviewer = {review.reviewer_agent_id: review for review in claim.reviews}
    assert by_reviewer[reviewer.agent_id].status == review_pb2.REVIEW_STATUS_WITHDRAWN
    live = [
        review for review in claim.reviews if review.status == review_pb2.REVIEW_STATUS_ASSIGNED
    ]
    assert len(live) == 3 and reviewer.agent_id not in {item.reviewer_agent_id for item in live}
    await refused(
        world.vote(reviewer, review_id, review_pb2.REVIEW_DECISION_APPROVE),
        grpc.StatusCode.FAILED_PRECONDITION,
        "REVIEW_NOT_OPEN",
    )


async def test_a_removed_flag_stops_excluding_and_can_be_raised_again(world: World) -> None:
    first, second = await world.agent(), await world.agent()
    admin = await world.as_admin()
    created = await world.review.CreateCorrelation(
        _flag(first.agent_id, second.agent_id), metadata=admin
    )
    request = review_pb2.DeleteCorrelationRequest(
        request_id=rid(), correlation_id=created.correlation.correlation_id
    )
    deleted = await world.review.DeleteCorrelation(request, metadata=admin)
    assert deleted.correlation_id == created.correlation.correlation_id
    again = await world.review.DeleteCorrelation(
        review_pb2.DeleteCorrelationRequest(
            request_id=rid(), correlation_id=created.correlation.correlation_id
        ),
        metadata=admin,
    )
    assert again.deleted_at == deleted.deleted_at
    listed = await world.review.ListCorrelations(
        review_pb2.ListCorrelationsRequest(agent_id=first.agent_id), metadata=admin
    )
    assert list(listed.correlations) == []
    raised = await world.review.CreateCorrelation(
        _flag(first.agent_id, second.agent_id), metadata=admin
    )
    assert raised.created
    await refused(
        world.review.DeleteCorrelation(
            review_pb2.DeleteCorrelationRequest(request_id=rid(), correlation_id=rid()),
            metadata=admin,
        ),
        grpc.StatusCode.NOT_FOUND,
        "CORRELATION_NOT_FOUND",
    )


async def test_bad_flags_are_refused(world: World) -> None:
    agent = await world.agent()
    admin = await world.as_admin()
    await refused(
        world.review.CreateCorrelation(_flag(agent.agent_id, agent.agent_id), metadata=admin),
        INVALID,
        "SAME_AGENT",
    )
    other = await world.agent()
    await refused(
        world.review.CreateCorrelation(
            _flag(agent.agent_id, other.agent_id, "r" * 501), metadata=admin
        ),
        INVALID,
        "REASON_INVALID",
    )
    unknown = rid()
    error = await refused(
        world.review.CreateCorrelation(_flag(agent.agent_id, unknown), metadata=admin),
        grpc.StatusCode.NOT_FOUND,
        "AGENT_NOT_FOUND",
    )
    assert metadata_of(error) == {"agent_id": unknown}


async def test_only_admins_manage_flags(world: World) -> None:
    owner = await world.account()
    first, second = await world.agent(owner), await world.agent()
    for metadata in (await world.as_agent(first), await world.token(owner.session_token)):
        await refused(
            world.review.CreateCorrelation(
                _flag(first.agent_id, second.agent_id), metadata=metadata
            ),
            grpc.StatusCode.PERMISSION_DENIED,
            "SCOPE_MISSING",
        )
    created = await world.review.CreateCorrelation(
        _flag(first.agent_id, second.agent_id), metadata=await world.as_admin()
    )
    listed = await world.review_ctl.ListCorrelations(
        review_pb2.ListCorrelationsRequest(agent_id=first.agent_id), metadata=await world.operator()
    )
    assert [item.correlation_id for item in listed.correlations] == [
        created.correlation.correlation_id
    ]

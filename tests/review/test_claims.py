"""Claims and submissions: every gate of a claim, one error path per reason, the submission's
compare-and-swap with reviewer assignment, and who sees which claim."""

from __future__ import annotations

import uuid

import grpc
import pytest
from tokenmart.auth.v1 import auth_pb2
from tokenmart.review.v1 import review_pb2

from services.review.domain import payouts
from tests.conftest import ReviewServerHandle
from tests.review.helpers import Rows, World, metadata_of, refused, rid

PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION
DENIED = grpc.StatusCode.PERMISSION_DENIED


def _claim(bounty_id: str) -> review_pb2.ClaimBountyRequest:
    return review_pb2.ClaimBountyRequest(request_id=rid(), bounty_id=bounty_id)


async def test_a_claim_takes_a_slot_and_the_last_slot_fills_the_bounty(world: World) -> None:
    bounty = await world.bounty(max_claims=2)
    first, second = await world.agent(), await world.agent()
    claim = await world.claim(first, bounty.bounty_id)
    assert claim.status == review_pb2.CLAIM_STATUS_CLAIMED
    assert claim.agent_id == first.agent_id
    assert claim.owner_account_id == first.owner.account_id  # type: ignore[union-attr]
    assert claim.payout_status == review_pb2.PAYOUT_STATUS_NOT_DUE
    assert claim.claim_id == str(
        payouts.claim_id_for(
            bounty_id=uuid.UUID(bounty.bounty_id), agent_id=uuid.UUID(first.agent_id)
        )
    )
    await world.claim(second, bounty.bounty_id)
    detail = await world.review.GetBounty(
        review_pb2.GetBountyRequest(bounty_id=bounty.bounty_id), metadata=await world.as_admin()
    )
    assert detail.bounty.status == review_pb2.BOUNTY_STATUS_FILLED
    assert detail.bounty.claims_taken == 2
    third = await world.agent()
    await refused(world.claim(third, bounty.bounty_id), PRECONDITION, "BOUNTY_FULL")


async def test_a_replayed_claim_answers_the_same(world: World) -> None:
    bounty = await world.bounty()
    agent = await world.agent()
    request = _claim(bounty.bounty_id)
    metadata = await world.as_agent(agent)
    first = await world.review.ClaimBounty(request, metadata=metadata)
    assert await world.review.ClaimBounty(request, metadata=metadata) == first


async def test_a_second_claim_by_the_same_agent_names_the_first(world: World) -> None:
    bounty = await world.bounty(max_claims=3)
    agent = await world.agent()
    claim = await world.claim(agent, bounty.bounty_id)
    error = await refused(
        world.claim(agent, bounty.bounty_id), grpc.StatusCode.ALREADY_EXISTS, "ALREADY_CLAIMED"
    )
    assert metadata_of(error) == {"claim_id": claim.claim_id}


async def test_claims_on_unknown_or_cancelled_bounties_are_refused(world: World) -> None:
    agent = await world.agent()
    await refused(world.claim(agent, rid()), grpc.StatusCode.NOT_FOUND, "BOUNTY_NOT_FOUND")
    bounty = await world.bounty()
    await world.review.CancelBounty(
        review_pb2.CancelBountyRequest(request_id=rid(), bounty_id=bounty.bounty_id, reason="x"),
        metadata=await world.as_admin(),
    )
    await refused(world.claim(agent, bounty.bounty_id), PRECONDITION, "BOUNTY_NOT_OPEN")


async def test_the_bounty_creators_agents_cannot_claim_its_bounties(
    world: World, rows: Rows
) -> None:
    admin = await world.admin()
    bounty = await world.bounty(admin=admin)
    own = await world.agent(admin)
    before = rows.snapshot()
    await refused(world.claim(own, bounty.bounty_id), DENIED, "CREATOR_CONFLICT")
    assert rows.snapshot() == before


async def test_an_unclaimed_agent_cannot_claim(world: World, rows: Rows) -> None:
    bounty = await world.bounty(required_trust_tier=0)
    unclaimed = await world.agent(claimed=False)
    before = rows.snapshot()
    await refused(world.claim(unclaimed, bounty.bounty_id), PRECONDITION, "AGENT_NOT_CLAIMED")
    assert rows.snapshot() == before


async def test_a_suspended_agent_cannot_claim_even_with_a_token_issued_before(
    world: World, rows: Rows
) -> None:
    bounty = await world.bounty()
    agent = await world.agent()
    token = await world.as_agent(agent)
    await world.suspend(agent.agent_id)
    before = rows.snapshot()
    await refused(
        world.review.ClaimBounty(_claim(bounty.bounty_id), metadata=token),
        PRECONDITION,
        "AGENT_SUSPENDED",
    )
    assert rows.snapshot() == before


async def test_the_trust_tier_is_read_fresh_from_auth(world: World) -> None:
    bounty = await world.bounty(required_trust_tier=2)
    agent = await world.agent(tier=1)
    error = await refused(world.claim(agent, bounty.bounty_id), PRECONDITION, "TRUST_TIER_TOO_LOW")
    assert metadata_of(error) == {"required_trust_tier": "2"}
    await world.set_tier(agent.agent_id, 2)
    assert (await world.claim(agent, bounty.bounty_id)).status == review_pb2.CLAIM_STATUS_CLAIMED


async def test_work_needs_tier_one_by_default_and_verification_does_not(world: World) -> None:
    newcomer = await world.agent(tier=0)
    work = await world.bounty()
    await refused(world.claim(newcomer, work.bounty_id), PRECONDITION, "TRUST_TIER_TOO_LOW")
    verification = await world.bounty(type=review_pb2.BOUNTY_TYPE_VERIFICATION)
    assert verification.required_trust_tier == 0
    await world.claim(newcomer, verification.bounty_id)


async def test_an_agent_holds_at_most_the_configured_unsubmitted_claims(
    world: World, start_review_server
) -> None:
    server: ReviewServerHandle = start_review_server(env={"MAX_LIVE_CLAIMS_PER_AGENT": "2"})
    async with World.open(
        auth=world.auth_server, wallet=world.wallet_server, review=server
    ) as capped:
        agent = await capped.agent()
        pool = [await capped.agent() for _ in range(3)]
        await server.mirror(item.agent_id for item in pool)
        bounties = [await capped.bounty() for _ in range(3)]
        await capped.claim(agent, bounties[0].bounty_id)
        await capped.claim(agent, bounties[1].bounty_id)
        await refused(
            capped.claim(agent, bounties[2].bounty_id),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "CLAIM_CAP_REACHED",
        )
        # A submitted claim no longer counts against the cap.
        await capped.submit(agent, bounties[0].bounty_id)
        await capped.claim(agent, bounties[2].bounty_id)


async def test_claiming_needs_an_acting_agent_with_write_scope(world: World) -> None:
    bounty = await world.bounty()
    session = await world.account()
    await refused(
        world.review.ClaimBounty(
            _claim(bounty.bounty_id), metadata=await world.token(session.session_token)
        ),
        DENIED,
        "SCOPE_MISSING",
    )
    agent = await world.agent(session)
    inference = await world.auth.CreateKey(
        auth_pb2.CreateKeyRequest(
            request_id=rid(),
            agent_id=agent.agent_id,
            family=auth_pb2.KEY_FAMILY_INFERENCE,
            name="inference",
        ),
        metadata=await world.token(session.session_token),
    )
    await refused(
        world.review.ClaimBounty(
            _claim(bounty.bounty_id), metadata=await world.token(inference.raw_key)
        ),
        DENIED,
        "SCOPE_MISSING",
    )
    # A session acting as its own agent may claim for it.
    claim = await world.review.ClaimBounty(
        _claim(bounty.bounty_id),
        metadata=await world.token(session.session_token, agent_id=agent.agent_id),
    )
    assert claim.claim.agent_id == agent.agent_id


# -- submissions --------------------------------------------------------------------------------


async def test_submitting_assigns_a_full_panel_in_the_same_transaction(world: World) -> None:
    done = await world.submitted_claim()
    assert done.claim.status == review_pb2.CLAIM_STATUS_SUBMITTED
    assert done.claim.submission_text == "done"
    assert not done.claim.awaiting_reviewers
    assert len(done.claim.reviews) == 3
    # The submitter does not learn who reviews it.
    assert all(review.reviewer_agent_id == "" for review in done.claim.reviews)
    assert set(done.assigned) <= {agent.agent_id for agent in done.pool}
    assert len(done.assigned) == 3


async def test_a_second_submit_loses_the_compare_and_swap(world: World, rows: Rows) -> None:
    done = await world.submitted_claim()
    before = rows.snapshot()
    await refused(
        world.submit(done.submitter, done.bounty.bounty_id, "again"),
        PRECONDITION,
        "CLAIM_NOT_OPEN",
    )
    assert rows.snapshot() == before


@pytest.mark.parametrize("text", ["", "   ", "x" * 50_001])
async def test_a_submission_must_have_content_within_limits(world: World, text: str) -> None:
    bounty = await world.bounty()
    agent = await world.agent()
    await world.claim(agent, bounty.bounty_id)
    await refused(
        world.submit(agent, bounty.bounty_id, text),
        grpc.StatusCode.INVALID_ARGUMENT,
        "SUBMISSION_INVALID",
    )


async def test_submitting_without_a_claim_or_after_cancellation_is_refused(world: World) -> None:
    bounty = await world.bounty()
    agent = await world.agent()
    await refused(
        world.submit(agent, bounty.bounty_id), grpc.StatusCode.NOT_FOUND, "CLAIM_NOT_FOUND"
    )
    await world.claim(agent, bounty.bounty_id)
    await world.review.CancelBounty(
        review_pb2.CancelBountyRequest(request_id=rid(), bounty_id=bounty.bounty_id, reason="x"),
        metadata=await world.as_admin(),
    )
    await refused(world.submit(agent, bounty.bounty_id), PRECONDITION, "CLAIM_NOT_OPEN")


async def test_a_suspended_agent_cannot_submit_with_an_old_token(world: World) -> None:
    bounty = await world.bounty()
    agent = await world.agent()
    await world.claim(agent, bounty.bounty_id)
    token = await world.as_agent(agent)
    await world.suspend(agent.agent_id)
    await refused(
        world.review.SubmitWork(
            review_pb2.SubmitWorkRequest(
                request_id=rid(), bounty_id=bounty.bounty_id, submission_text="x"
            ),
            metadata=token,
        ),
        PRECONDITION,
        "AGENT_SUSPENDED",
    )


async def test_a_claim_short_of_reviewers_waits_visibly_and_is_staffed_later(
    world: World,
) -> None:
    bounty = await world.bounty()
    submitter = await world.agent()
    first = await world.agent()
    await world.review_server.mirror([first.agent_id])
    await world.claim(submitter, bounty.bounty_id)
    claim = await world.submit(submitter, bounty.bounty_id)
    assert claim.awaiting_reviewers and len(claim.reviews) == 1
    admin = await world.as_admin()
    waiting = await world.review.ListClaims(
        review_pb2.ListClaimsRequest(awaiting_reviewers_only=True, page_size=200), metadata=admin
    )
    assert claim.claim_id in {item.claim_id for item in waiting.claims}
    # Nothing new is eligible: a pass changes nothing.
    assert (await world.review_server.run_pass()).claims_staffed == 0
    more = [await world.agent(), await world.agent()]
    await world.review_server.mirror(agent.agent_id for agent in more)
    report = await world.review_server.run_pass()
    assert report.claims_staffed >= 2
    staffed = await world.claim_as_admin(claim.claim_id)
    assert not staffed.awaiting_reviewers
    assert {review.reviewer_agent_id for review in staffed.reviews} == {
        first.agent_id,
        *(agent.agent_id for agent in more),
    }


# -- reading claims -----------------------------------------------------------------------------


async def test_a_claim_is_visible_to_its_agent_and_admins_only(world: World) -> None:
    done = await world.submitted_claim()
    request = review_pb2.GetClaimRequest(claim_id=done.claim.claim_id)
    own = await world.review.GetClaim(request, metadata=await world.as_agent(done.submitter))
    assert own.claim.claim_id == done.claim.claim_id
    assert all(review.reviewer_agent_id == "" for review in own.claim.reviews)
    stranger = await world.agent()
    await refused(
        world.review.GetClaim(request, metadata=await world.as_agent(stranger)),
        grpc.StatusCode.NOT_FOUND,
        "CLAIM_NOT_FOUND",
    )
    full = await world.review.GetClaim(request, metadata=await world.as_admin())
    assert {review.reviewer_agent_id for review in full.claim.reviews} == set(done.assigned)
    mine = await world.review.ListClaims(
        review_pb2.ListClaimsRequest(), metadata=await world.as_agent(done.submitter)
    )
    assert [item.claim_id for item in mine.claims] == [done.claim.claim_id]
    of_bounty = await world.review.ListClaims(
        review_pb2.ListClaimsRequest(
            bounty_id=done.bounty.bounty_id, statuses=[review_pb2.CLAIM_STATUS_SUBMITTED]
        ),
        metadata=await world.as_admin(),
    )
    assert [item.claim_id for item in of_bounty.claims] == [done.claim.claim_id]

"""THREATS.md M1 — double claim, double submit, double vote, racing final votes: exactly one of
each, and every finalization happens exactly once with exactly one payout batch.

Every race fires real concurrent RPCs at the real review server (each with its own request id, so
the replay log cannot serialize them) and then counts rows and ledger transfers.
"""

from __future__ import annotations

import asyncio
import threading
import uuid

import grpc
from tokenmart.review.v1 import review_pb2

from services.common.status import error_reason
from services.review.store import bounties as bounty_store
from tests.review.helpers import Rows, World, rid

APPROVE = review_pb2.REVIEW_DECISION_APPROVE
REJECT = review_pb2.REVIEW_DECISION_REJECT
ROUNDS = 12


async def _outcomes(calls: list[object]) -> tuple[list[object], list[str]]:
    results = await asyncio.gather(*calls, return_exceptions=True)  # type: ignore[arg-type]
    successes = [item for item in results if not isinstance(item, BaseException)]
    reasons = []
    for item in results:
        if isinstance(item, grpc.aio.AioRpcError):
            reasons.append(error_reason(item) or item.code().name)
        elif isinstance(item, BaseException):
            raise item
    return successes, reasons


async def test_m1_one_agent_claiming_one_bounty_many_times_at_once_gets_one_claim(
    world: World, rows: Rows
) -> None:
    bounty = await world.bounty(max_claims=5)
    agent = await world.agent()
    metadata = await world.as_agent(agent)
    successes, reasons = await _outcomes(
        [
            world.review.ClaimBounty(
                review_pb2.ClaimBountyRequest(request_id=rid(), bounty_id=bounty.bounty_id),
                metadata=metadata,
            )
            for _ in range(10)
        ]
    )
    assert len(successes) == 1
    assert reasons == ["ALREADY_CLAIMED"] * 9
    assert rows.review(
        "SELECT count(*), max(claims_taken) FROM review.claims c "
        "JOIN review.bounties b ON b.id = c.bounty_id WHERE c.bounty_id = %s",
        bounty.bounty_id,
    ) == [(1, 1)]


async def test_m1_many_agents_racing_for_the_last_slots_fill_them_exactly(
    world: World, rows: Rows
) -> None:
    bounty = await world.bounty(max_claims=3)
    agents = [await world.agent() for _ in range(10)]
    tokens = [await world.as_agent(agent) for agent in agents]
    successes, reasons = await _outcomes(
        [
            world.review.ClaimBounty(
                review_pb2.ClaimBountyRequest(request_id=rid(), bounty_id=bounty.bounty_id),
                metadata=token,
            )
            for token in tokens
        ]
    )
    assert len(successes) == 3
    assert sorted(reasons) == ["BOUNTY_FULL"] * 7
    assert rows.review(
        "SELECT status, claims_taken FROM review.bounties WHERE id = %s", bounty.bounty_id
    ) == [("filled", 3)]


async def test_m1_one_claim_submitted_many_times_at_once_is_submitted_and_staffed_once(
    world: World, rows: Rows
) -> None:
    bounty = await world.bounty()
    submitter = await world.agent()
    pool = [await world.agent() for _ in range(6)]
    await world.review_server.mirror(agent.agent_id for agent in pool)
    claim = await world.claim(submitter, bounty.bounty_id)
    metadata = await world.as_agent(submitter)
    successes, reasons = await _outcomes(
        [
            world.review.SubmitWork(
                review_pb2.SubmitWorkRequest(
                    request_id=rid(), bounty_id=bounty.bounty_id, submission_text=f"take {index}"
                ),
                metadata=metadata,
            )
            for index in range(8)
        ]
    )
    assert len(successes) == 1
    assert reasons == ["CLAIM_NOT_OPEN"] * 7
    # One panel of three, not one per submit (the original could assign six).
    assert rows.review(
        "SELECT count(*) FROM review.reviews WHERE claim_id = %s", claim.claim_id
    ) == [(3,)]


async def test_m1_one_reviewer_voting_many_times_at_once_casts_one_vote(
    world: World, rows: Rows
) -> None:
    done = await world.submitted_claim()
    agent, review_id = done.votes[0]
    metadata = await world.as_agent(agent)
    successes, reasons = await _outcomes(
        [
            world.review.SubmitReview(
                review_pb2.SubmitReviewRequest(
                    request_id=rid(),
                    review_id=review_id,
                    decision=APPROVE if index % 2 else REJECT,
                ),
                metadata=metadata,
            )
            for index in range(8)
        ]
    )
    assert len(successes) == 1
    assert reasons == ["REVIEW_ALREADY_SUBMITTED"] * 7
    (decision,) = rows.review("SELECT decision FROM review.reviews WHERE id = %s", review_id)
    claim = await world.claim_as_admin(done.claim.claim_id)
    assert (claim.approvals + claim.rejections) == 1
    assert (claim.approvals == 1) == (decision[0] == "approve")


async def _race_final_votes(world: World, rows: Rows, *, first_vote: int | None) -> None:
    done = await world.submitted_claim()
    votes = done.votes
    if first_vote is not None:
        await world.vote(votes[0][0], votes[0][1], first_vote)
        racing = votes[1:]
    else:
        racing = votes
    tokens = [await world.as_agent(agent) for agent, _ in racing]
    successes, reasons = await _outcomes(
        [
            world.review.SubmitReview(
                review_pb2.SubmitReviewRequest(
                    request_id=rid(), review_id=review_id, decision=APPROVE
                ),
                metadata=token,
            )
            for (_, review_id), token in zip(racing, tokens, strict=True)
        ]
    )
    finalized = [item for item in successes if item.finalized]  # type: ignore[attr-defined]
    assert len(finalized) == 1, "exactly one vote decides; none is lost"
    assert set(reasons) <= {"REVIEW_NOT_OPEN"}
    claim_id = done.claim.claim_id
    assert rows.review("SELECT status, approvals FROM review.claims WHERE id = %s", claim_id) == [
        ("approved", 2)
    ]
    (entry,) = rows.outbox_of_claim(claim_id)
    await world.review_server.settle()
    ids = rows.payout_transfer_ids(claim_id)
    assert len(rows.transfers(ids)) == len(ids)
    assert await world.balance(done.submitter) == done.bounty.reward_micros
    assert rows.review(
        "SELECT claims_settled, escrow_outstanding_micros FROM review.bounties WHERE id = %s",
        done.bounty.bounty_id,
    ) == [(1, 0)]
    del entry


async def test_m1_racing_final_votes_finalize_exactly_once_every_time(
    world: World, rows: Rows
) -> None:
    for round_number in range(ROUNDS):
        # The last two votes of a 1-0 claim race, and all three votes of a fresh claim race.
        await _race_final_votes(world, rows, first_vote=APPROVE if round_number % 2 else None)
    verification = await world.verify_ledger()
    assert verification.ok, verification.failures


async def test_m1_a_submission_racing_the_cancellation_ends_one_way_only(
    world: World, rows: Rows
) -> None:
    """Submit locks the claim then writes reviews that reference the bounty; cancel locks the
    bounty then the unsubmitted claims. Neither waits for the other in a cycle, and the claim
    ends either submitted (and still paid from its slot) or cancelled (and refunded)."""
    admin = await world.as_admin()
    for _ in range(ROUNDS):
        bounty = await world.bounty()
        submitter = await world.agent()
        pool = [await world.agent() for _ in range(3)]
        world.reset_pool()
        await world.review_server.mirror(agent.agent_id for agent in pool)
        claim = await world.claim(submitter, bounty.bounty_id)
        token = await world.as_agent(submitter)
        submitted, cancelled = await asyncio.gather(
            world.review.SubmitWork(
                review_pb2.SubmitWorkRequest(
                    request_id=rid(), bounty_id=bounty.bounty_id, submission_text="race"
                ),
                metadata=token,
            ),
            world.review.CancelBounty(
                review_pb2.CancelBountyRequest(
                    request_id=rid(), bounty_id=bounty.bounty_id, reason="race"
                ),
                metadata=admin,
            ),
            return_exceptions=True,
        )
        assert not isinstance(cancelled, BaseException), cancelled
        ((status,),) = rows.review("SELECT status FROM review.claims WHERE id = %s", claim.claim_id)
        if isinstance(submitted, BaseException):
            assert isinstance(submitted, grpc.aio.AioRpcError)
            assert error_reason(submitted) == "CLAIM_NOT_OPEN"
            assert (status, cancelled.bounty.slots_refunded) == ("cancelled", 1)
        else:
            assert (status, cancelled.bounty.slots_refunded) == ("submitted", 0)
            assert cancelled.bounty.escrow_outstanding_micros == bounty.slot_escrow_micros


async def test_m1_a_submission_never_waits_for_a_transaction_holding_its_bounty(
    world: World,
) -> None:
    """The deterministic form of the race above: while another transaction holds the bounty's
    row lock exactly as cancellation and closing take it, a submission (whose reviews reference
    the bounty) completes; were the lock FOR UPDATE, it would wait, and the two would deadlock
    once the other transaction reached for the claim."""
    server = world.review_server
    bounty = await world.bounty()
    submitter = await world.agent()
    pool = [await world.agent() for _ in range(3)]
    world.reset_pool()
    await server.mirror(agent.agent_id for agent in pool)
    await world.claim(submitter, bounty.bounty_id)
    held = threading.Event()
    release: list[asyncio.Event] = []

    async def hold_the_bounty() -> None:
        release.append(asyncio.Event())
        async with server.service.runtime.database.transaction() as tx:
            assert await bounty_store.bounty_by_id(tx, uuid.UUID(bounty.bounty_id), lock=True)
            held.set()
            await release[0].wait()

    holder = asyncio.ensure_future(server.call(hold_the_bounty))
    assert await asyncio.to_thread(held.wait, 10)
    try:
        submitted = await asyncio.wait_for(world.submit(submitter, bounty.bounty_id), 5)
        assert len(submitted.reviews) == 3
    finally:
        server.loop.call_soon_threadsafe(release[0].set)
        await holder

"""Bounties: funded in escrow at creation (or not created at all), replay-safe, validated,
visible to whom they should be, cancelled with a refund, closed at their deadline."""

from __future__ import annotations

import datetime

import grpc
import pytest
from tokenmart.auth.v1 import auth_pb2
from tokenmart.review.v1 import review_pb2

from tests.conftest import ManualClock
from tests.review.helpers import Rows, World, bearer, refused, rid, unique

INVALID = grpc.StatusCode.INVALID_ARGUMENT
PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION


def _create(**fields: object) -> review_pb2.CreateBountyRequest:
    values: dict[str, object] = {
        "request_id": rid(),
        "title": unique("bounty"),
        "type": review_pb2.BOUNTY_TYPE_WORK,
        "reward_micros": 1_000_000,
        "reviewer_reward_micros": 10_000,
        **fields,
    }
    return review_pb2.CreateBountyRequest(**values)  # type: ignore[arg-type]


async def test_creating_a_bounty_moves_its_whole_escrow_from_the_treasury(
    world: World, rows: Rows
) -> None:
    await world.fund(3 * 1_030_000)
    treasury, escrow = await world.treasury(), await world.escrow()
    deadline = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=2)
    request = _create(max_claims=3, required_trust_tier=2)
    request.deadline.FromDatetime(deadline)
    bounty = (await world.review.CreateBounty(request, metadata=await world.as_admin())).bounty
    assert bounty.status == review_pb2.BOUNTY_STATUS_OPEN
    assert (bounty.reviewers_per_claim, bounty.votes_to_decide, bounty.max_claims) == (3, 2, 3)
    assert bounty.slot_escrow_micros == 1_000_000 + 3 * 10_000
    assert bounty.escrow_micros == bounty.escrow_outstanding_micros == 3 * 1_030_000
    assert bounty.required_trust_tier == 2
    assert bounty.deadline.ToDatetime(tzinfo=datetime.UTC) == deadline.replace(
        microsecond=deadline.microsecond // 1000 * 1000
    ) or abs(bounty.deadline.ToDatetime(tzinfo=datetime.UTC) - deadline) < datetime.timedelta(
        milliseconds=1
    )
    assert await world.treasury() == treasury - 3 * 1_030_000
    assert await world.escrow() == escrow + 3 * 1_030_000
    assert rows.transfers([bounty.escrow_transfer_id]) == [
        (bounty.escrow_transfer_id, 3 * 1_030_000, bounty.bounty_id)
    ]


async def test_defaults_come_from_the_configuration(world: World) -> None:
    await world.fund(1_060_000)
    request = _create()
    request.ClearField("reviewer_reward_micros")
    bounty = (await world.review.CreateBounty(request, metadata=await world.as_admin())).bounty
    assert bounty.reviewer_reward_micros == 20_000  # 2 % of the reward
    assert bounty.max_claims == 1 and bounty.required_trust_tier == 1
    days = (bounty.deadline.ToDatetime() - bounty.created_at.ToDatetime()).total_seconds() / 86400
    assert days == pytest.approx(7, abs=0.01)


async def test_a_replayed_create_answers_the_same_and_moves_nothing_more(
    world: World, rows: Rows
) -> None:
    await world.fund(1_030_000)
    request = _create()
    admin = await world.as_admin()
    first = await world.review.CreateBounty(request, metadata=admin)
    treasury = await world.treasury()
    second = await world.review.CreateBounty(request, metadata=admin)
    assert second == first
    assert await world.treasury() == treasury
    assert rows.review("SELECT count(*) FROM review.bounties WHERE id = %s", first.bounty.bounty_id)
    assert len(rows.transfers([first.bounty.escrow_transfer_id])) == 1


async def test_a_request_id_reused_with_other_terms_is_refused(world: World, rows: Rows) -> None:
    await world.fund(2 * 1_030_000)
    request = _create()
    admin = await world.as_admin()
    await world.review.CreateBounty(request, metadata=admin)
    before = rows.snapshot()
    request.reward_micros += 1
    await refused(
        world.review.CreateBounty(request, metadata=admin),
        grpc.StatusCode.ALREADY_EXISTS,
        "REQUEST_ID_CONFLICT",
    )
    assert rows.snapshot() == before


async def test_a_treasury_that_cannot_cover_the_escrow_refuses_and_keeps_nothing(
    world: World, rows: Rows
) -> None:
    reward = await world.treasury() + 1
    before = rows.snapshot()
    await refused(
        world.review.CreateBounty(
            _create(reward_micros=reward, reviewer_reward_micros=0),
            metadata=await world.as_admin(),
        ),
        PRECONDITION,
        "TREASURY_INSUFFICIENT",
    )
    assert rows.snapshot() == before


@pytest.mark.parametrize(
    ("fields", "code", "reason"),
    [
        ({"title": ""}, INVALID, "TITLE_INVALID"),
        ({"title": "t" * 201}, INVALID, "TITLE_INVALID"),
        ({"description": "d" * 20_001}, INVALID, "DESCRIPTION_INVALID"),
        ({"reward_micros": 0}, INVALID, "REWARD_NOT_POSITIVE"),
        ({"reward_micros": -5}, INVALID, "REWARD_NOT_POSITIVE"),
        ({"reward_micros": 10**15}, INVALID, "REWARD_TOO_LARGE"),
        ({"reviewer_reward_micros": -1}, INVALID, "REVIEWER_REWARD_INVALID"),
        ({"reviewer_reward_micros": 1_000_001}, INVALID, "REVIEWER_REWARD_INVALID"),
        ({"max_claims": 101}, INVALID, "MAX_CLAIMS_INVALID"),
        ({"required_trust_tier": 4}, INVALID, "TRUST_TIER_INVALID"),
        ({"type": review_pb2.BOUNTY_TYPE_UNSPECIFIED}, INVALID, "ENUM_VALUE_UNSPECIFIED"),
        ({"type": 77}, INVALID, "FIELD_INVALID"),
        ({"request_id": "not-a-uuid"}, INVALID, "REQUEST_ID_INVALID"),
    ],
)
async def test_invalid_bounties_are_refused_before_anything_moves(
    world: World, rows: Rows, fields: dict[str, object], code: grpc.StatusCode, reason: str
) -> None:
    admin = await world.as_admin()
    before = rows.snapshot()
    await refused(world.review.CreateBounty(_create(**fields), metadata=admin), code, reason)
    assert rows.snapshot() == before


@pytest.mark.parametrize("hours", [0.5, 24 * 366])
async def test_a_deadline_too_close_or_too_far_is_refused(world: World, hours: float) -> None:
    request = _create()
    request.deadline.FromDatetime(
        datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=hours)
    )
    await refused(
        world.review.CreateBounty(request, metadata=await world.as_admin()),
        INVALID,
        "DEADLINE_INVALID",
    )


async def test_only_admin_sessions_create_bounties(world: World, rows: Rows) -> None:
    user = await world.account()
    admin = await world.admin()
    admin_agent = await world.agent(admin)
    before = rows.snapshot()
    for metadata in (
        await world.token(user.session_token),
        # The agent key of an admin-owned agent carries no account authority (M4).
        await world.token(admin_agent.api_key),
    ):
        await refused(
            world.review.CreateBounty(_create(), metadata=metadata),
            grpc.StatusCode.PERMISSION_DENIED,
            "SCOPE_MISSING",
        )
    assert rows.snapshot() == before


async def test_wallet_refusing_the_admins_token_is_reported_and_nothing_is_kept(
    world: World, rows: Rows
) -> None:
    admin = await world.shared_admin()
    review_only = await world.auth.Authenticate(
        auth_pb2.AuthenticateRequest(
            credential=admin.session_token, audiences=[auth_pb2.AUDIENCE_REVIEW]
        )
    )
    before = rows.snapshot()
    await refused(
        world.review.CreateBounty(_create(), metadata=bearer(review_only.access_token)),
        grpc.StatusCode.PERMISSION_DENIED,
        "WALLET_REFUSED",
    )
    assert rows.snapshot() == before


# -- visibility ---------------------------------------------------------------------------------


async def test_agents_see_the_board_and_their_own_bounties_admins_see_everything(
    world: World,
) -> None:
    open_bounty = await world.bounty()
    cancelled = await world.bounty()
    mine = await world.bounty()
    agent = await world.agent()
    await world.claim(agent, mine.bounty_id)
    admin = await world.as_admin()
    for bounty in (cancelled, mine):
        await world.review.CancelBounty(
            review_pb2.CancelBountyRequest(
                request_id=rid(), bounty_id=bounty.bounty_id, reason="done"
            ),
            metadata=admin,
        )
    as_agent = await world.as_agent(agent)
    listed = await world.review.ListBounties(
        review_pb2.ListBountiesRequest(page_size=200), metadata=as_agent
    )
    seen = {item.bounty_id for item in listed.bounties}
    assert open_bounty.bounty_id in seen and mine.bounty_id in seen
    assert cancelled.bounty_id not in seen
    assert all(item.created_by_account_id == "" for item in listed.bounties)
    await refused(
        world.review.GetBounty(
            review_pb2.GetBountyRequest(bounty_id=cancelled.bounty_id), metadata=as_agent
        ),
        grpc.StatusCode.NOT_FOUND,
        "BOUNTY_NOT_FOUND",
    )
    own = await world.review.GetBounty(
        review_pb2.GetBountyRequest(bounty_id=mine.bounty_id), metadata=as_agent
    )
    assert [claim.agent_id for claim in own.claims] == [agent.agent_id]
    claimed = await world.review.ListBounties(
        review_pb2.ListBountiesRequest(claimed_by_me=True), metadata=as_agent
    )
    assert [item.bounty_id for item in claimed.bounties] == [mine.bounty_id]
    full = await world.review.GetBounty(
        review_pb2.GetBountyRequest(bounty_id=cancelled.bounty_id), metadata=admin
    )
    assert full.bounty.created_by_account_id == (await world.shared_admin()).account_id


async def test_lists_page_newest_first_with_tokens_bound_to_their_filter(world: World) -> None:
    made = [await world.bounty() for _ in range(3)]
    admin = await world.as_admin()
    first = await world.review.ListBounties(
        review_pb2.ListBountiesRequest(page_size=2), metadata=admin
    )
    assert [item.bounty_id for item in first.bounties] == [made[2].bounty_id, made[1].bounty_id]
    second = await world.review.ListBounties(
        review_pb2.ListBountiesRequest(page_size=2, page_token=first.next_page_token),
        metadata=admin,
    )
    assert second.bounties[0].bounty_id == made[0].bounty_id
    await refused(
        world.review.ListBounties(
            review_pb2.ListBountiesRequest(
                page_token=first.next_page_token, statuses=[review_pb2.BOUNTY_STATUS_OPEN]
            ),
            metadata=admin,
        ),
        INVALID,
        "PAGE_TOKEN_INVALID",
    )
    await refused(
        world.review.ListBounties(review_pb2.ListBountiesRequest(page_size=-1), metadata=admin),
        INVALID,
        "PAGE_SIZE_INVALID",
    )


async def test_a_session_without_an_agent_or_admin_role_reads_nothing(world: World) -> None:
    user = await world.account()
    await refused(
        world.review.ListBounties(
            review_pb2.ListBountiesRequest(), metadata=await world.token(user.session_token)
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "SCOPE_MISSING",
    )


async def test_an_unknown_bounty_is_not_found(world: World) -> None:
    await refused(
        world.review.GetBounty(
            review_pb2.GetBountyRequest(bounty_id=rid()), metadata=await world.as_admin()
        ),
        grpc.StatusCode.NOT_FOUND,
        "BOUNTY_NOT_FOUND",
    )
    await refused(
        world.review.GetBounty(
            review_pb2.GetBountyRequest(bounty_id="nope"), metadata=await world.as_admin()
        ),
        INVALID,
        "FIELD_INVALID",
    )


# -- cancellation -------------------------------------------------------------------------------


async def test_cancelling_refunds_every_unused_slot_and_keeps_submitted_work_paid(
    world: World, rows: Rows
) -> None:
    bounty = await world.bounty(max_claims=3)
    worker, idler = await world.agent(), await world.agent()
    pool = [await world.agent() for _ in range(3)]
    await world.review_server.mirror(agent.agent_id for agent in pool)
    await world.claim(worker, bounty.bounty_id)
    await world.claim(idler, bounty.bounty_id)
    submitted = await world.submit(worker, bounty.bounty_id)
    treasury = await world.treasury()
    admin = await world.as_admin()
    request = review_pb2.CancelBountyRequest(
        request_id=rid(), bounty_id=bounty.bounty_id, reason="no longer needed"
    )
    cancelled = await world.review.CancelBounty(request, metadata=admin)
    assert cancelled.bounty.status == review_pb2.BOUNTY_STATUS_CANCELLED
    assert cancelled.bounty.cancel_reason == "no longer needed"
    assert cancelled.bounty.slots_refunded == 2  # the unclaimed slot and the idler's
    assert cancelled.bounty.escrow_outstanding_micros == bounty.slot_escrow_micros
    await world.review_server.settle()
    assert await world.treasury() == treasury + 2 * bounty.slot_escrow_micros
    detail = await world.review.GetBounty(
        review_pb2.GetBountyRequest(bounty_id=bounty.bounty_id), metadata=admin
    )
    statuses = {claim.agent_id: claim.status for claim in detail.claims}
    assert statuses == {
        worker.agent_id: review_pb2.CLAIM_STATUS_SUBMITTED,
        idler.agent_id: review_pb2.CLAIM_STATUS_CANCELLED,
    }
    # The submitted work is still reviewed and paid from its slot.
    assigned = await world.reviews_by_agent(submitted.claim_id, pool)
    for agent, review_id in list(assigned.values())[:2]:
        await world.vote(agent, review_id, review_pb2.REVIEW_DECISION_APPROVE)
    await world.review_server.settle()
    assert await world.balance(worker) == bounty.reward_micros
    # Cancelling again answers the bounty as it is and refunds nothing more.
    again = await world.review.CancelBounty(
        review_pb2.CancelBountyRequest(
            request_id=rid(), bounty_id=bounty.bounty_id, reason="really"
        ),
        metadata=admin,
    )
    assert again.refund_entry_id == "" and again.bounty.cancel_reason == "no longer needed"
    assert rows.review(
        "SELECT count(*) FROM review.outbox_entries WHERE bounty_id = %s AND kind = 'slot_refund'",
        bounty.bounty_id,
    ) == [(1,)]


@pytest.mark.parametrize("reason", ["", "r" * 501])
async def test_a_cancellation_needs_a_reason(world: World, reason: str) -> None:
    bounty = await world.bounty()
    await refused(
        world.review.CancelBounty(
            review_pb2.CancelBountyRequest(
                request_id=rid(), bounty_id=bounty.bounty_id, reason=reason
            ),
            metadata=await world.as_admin(),
        ),
        INVALID,
        "REASON_REQUIRED",
    )


async def test_cancelling_an_unknown_or_completed_bounty_is_refused(world: World) -> None:
    admin = await world.as_admin()
    await refused(
        world.review.CancelBounty(
            review_pb2.CancelBountyRequest(request_id=rid(), bounty_id=rid(), reason="x"),
            metadata=admin,
        ),
        grpc.StatusCode.NOT_FOUND,
        "BOUNTY_NOT_FOUND",
    )
    done = await world.submitted_claim()
    for agent, review_id in done.votes[:2]:
        await world.vote(agent, review_id, review_pb2.REVIEW_DECISION_APPROVE)
    await world.review_server.settle()
    completed = await world.review.GetBounty(
        review_pb2.GetBountyRequest(bounty_id=done.bounty.bounty_id), metadata=admin
    )
    assert completed.bounty.status == review_pb2.BOUNTY_STATUS_COMPLETED
    await refused(
        world.review.CancelBounty(
            review_pb2.CancelBountyRequest(
                request_id=rid(), bounty_id=done.bounty.bounty_id, reason="x"
            ),
            metadata=admin,
        ),
        PRECONDITION,
        "BOUNTY_NOT_CANCELLABLE",
    )
    await refused(
        world.review.CancelBounty(
            review_pb2.CancelBountyRequest(
                request_id=rid(), bounty_id=done.bounty.bounty_id, reason="x"
            ),
            metadata=await world.as_agent(done.submitter),
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "SCOPE_MISSING",
    )


# -- the deadline -------------------------------------------------------------------------------


async def test_at_the_deadline_unsubmitted_claims_expire_and_unused_slots_are_refunded(
    world: World, start_review_server, fresh_review_database
) -> None:
    clock = ManualClock()
    server = start_review_server(clock=clock, database=fresh_review_database)
    async with World.open(
        auth=world.auth_server, wallet=world.wallet_server, review=server
    ) as timed:
        bounty = await timed.bounty(max_claims=3)
        late, early = await timed.agent(), await timed.agent()
        pool = [await timed.agent() for _ in range(3)]
        await server.mirror(agent.agent_id for agent in pool)
        await timed.claim(late, bounty.bounty_id)
        await timed.claim(early, bounty.bounty_id)
        await timed.submit(early, bounty.bounty_id)
        clock.advance(8 * 86_400)
        await refused(timed.submit(late, bounty.bounty_id), PRECONDITION, "BOUNTY_DEADLINE_PASSED")
        newcomer = await timed.agent()
        await refused(
            timed.claim(newcomer, bounty.bounty_id), PRECONDITION, "BOUNTY_DEADLINE_PASSED"
        )
        treasury = await timed.treasury()
        report = await server.run_pass()
        assert report.bounties_closed == 1
        await server.settle()
        closed = await timed.review.GetBounty(
            review_pb2.GetBountyRequest(bounty_id=bounty.bounty_id),
            metadata=await timed.as_admin(),
        )
        assert closed.bounty.status == review_pb2.BOUNTY_STATUS_CLOSED
        assert closed.bounty.slots_refunded == 2
        assert await timed.treasury() == treasury + 2 * bounty.slot_escrow_micros
        statuses = {claim.agent_id: claim.status for claim in closed.claims}
        assert statuses[late.agent_id] == review_pb2.CLAIM_STATUS_EXPIRED
        assert statuses[early.agent_id] == review_pb2.CLAIM_STATUS_SUBMITTED
        await refused(timed.claim(newcomer, bounty.bounty_id), PRECONDITION, "BOUNTY_NOT_OPEN")
        assert (await server.run_pass()).bounties_closed == 0

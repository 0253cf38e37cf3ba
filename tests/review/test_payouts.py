"""The payout outbox and the treasury: a fixed linked batch per decided claim, paid exactly once
whatever is lost or retried, never to a suspended agent; operators inspect and re-drive it;
admins fund the treasury."""

from __future__ import annotations

import uuid

import grpc
import pytest
from tokenmart.auth.v1 import auth_pb2, auth_pb2_grpc
from tokenmart.review.v1 import review_pb2
from tokenmart.wallet.v1 import wallet_pb2, wallet_pb2_grpc

from services.review.domain.model import OutboxEntry
from services.review.operations.dispatch import batch
from services.review.store import outbox as outbox_store
from tests.conftest import ReviewServerHandle
from tests.review.helpers import Rows, Submitted, World, bearer, refused, rid

APPROVE = review_pb2.REVIEW_DECISION_APPROVE


async def _decide(world: World, done: Submitted, decision: int = APPROVE) -> None:
    for agent, review_id in done.votes[:2]:
        await world.vote(agent, review_id, decision)


async def _outbox(world: World, bounty_id: str) -> list[review_pb2.OutboxEntry]:
    response = await world.review_ctl.ListOutbox(
        review_pb2.ListOutboxRequest(bounty_id=bounty_id), metadata=await world.operator()
    )
    return list(response.entries)


async def test_a_decided_claim_is_paid_as_one_linked_batch_with_derived_ids(
    world: World, rows: Rows
) -> None:
    done = await world.submitted_claim()
    await _decide(world, done)
    await world.review_server.settle()
    (entry,) = await _outbox(world, done.bounty.bounty_id)
    assert entry.kind == review_pb2.OUTBOX_KIND_CLAIM_PAYOUT
    assert entry.status == review_pb2.OUTBOX_STATUS_DELIVERED
    assert entry.claim_id == done.claim.claim_id
    assert entry.entry_id == str(uuid.uuid5(uuid.UUID(done.claim.claim_id), "payout"))
    assert entry.total_micros == done.bounty.slot_escrow_micros
    assert [item.transfer_code for item in entry.transfers] == [
        "BOUNTY_REWARD",
        "REVIEW_REWARD",
        "REVIEW_REWARD",
        "REFUND",
    ]
    assert entry.transfers[0].transfer_id == str(
        uuid.uuid5(uuid.UUID(done.claim.claim_id), "bounty-reward")
    )
    operator = await world.operator(auth_pb2.AUDIENCE_WALLET)
    flags = []
    async with world.wallet_server.channel("ctl") as channel:
        stub = wallet_pb2_grpc.WalletServiceStub(channel)
        for item in entry.transfers:
            transfer = (
                await stub.GetTransfer(
                    wallet_pb2.GetTransferRequest(transfer_id=item.transfer_id), metadata=operator
                )
            ).transfer
            assert transfer.reference == done.claim.claim_id
            assert transfer.initiator.peer_service == "review"
            flags.append(wallet_pb2.TRANSFER_FLAG_LINKED in transfer.flags)
    assert flags == [True, True, True, False]


async def _send_as_review(world: World, server: ReviewServerHandle, entry_id: str) -> None:
    """What a review process that crashed right after wallet answered would have sent."""

    async def load() -> OutboxEntry | None:
        async with server.service.runtime.database.transaction() as tx:
            return await outbox_store.entry_by_id(tx, uuid.UUID(entry_id))

    entry = await server.call(load)
    assert entry is not None
    async with (
        world.auth_server.channel("review") as auth_channel,
        world.wallet_server.channel("review") as wallet_channel,
    ):
        token = await auth_pb2_grpc.AuthServiceStub(auth_channel).IssueServiceToken(
            auth_pb2.IssueServiceTokenRequest(audiences=[auth_pb2.AUDIENCE_WALLET])
        )
        response = await wallet_pb2_grpc.WalletServiceStub(wallet_channel).CreateEscrowTransfers(
            wallet_pb2.CreateEscrowTransfersRequest(request_id=rid(), transfers=batch(entry)),
            metadata=bearer(token.access_token),
        )
    assert response.all_succeeded


async def test_a_batch_wallet_applied_but_review_never_recorded_is_paid_once(
    world: World, rows: Rows, start_review_server
) -> None:
    server = start_review_server(env={"DISPATCH_ON_FINALIZE": "false"})
    async with World.open(
        auth=world.auth_server, wallet=world.wallet_server, review=server
    ) as quiet:
        done = await quiet.submitted_claim()
        await _decide(quiet, done)
        (entry,) = await _outbox(quiet, done.bounty.bounty_id)
        assert entry.status == review_pb2.OUTBOX_STATUS_PENDING
        await _send_as_review(quiet, server, entry.entry_id)
        assert await quiet.balance(done.submitter) == done.bounty.reward_micros
        redriven = await quiet.review_ctl.RedriveOutbox(
            review_pb2.RedriveOutboxRequest(request_id=rid(), entry_ids=[entry.entry_id]),
            metadata=await quiet.operator(),
        )
        assert [(item.entry_id, item.status) for item in redriven.outcomes] == [
            (entry.entry_id, review_pb2.OUTBOX_STATUS_DELIVERED)
        ]
        # Re-driving a delivered entry sends nothing and says so.
        again = await quiet.review_ctl.RedriveOutbox(
            review_pb2.RedriveOutboxRequest(request_id=rid(), entry_ids=[entry.entry_id]),
            metadata=await quiet.operator(),
        )
        assert again.outcomes[0].status == review_pb2.OUTBOX_STATUS_DELIVERED
        assert await quiet.balance(done.submitter) == done.bounty.reward_micros
        ids = [item.transfer_id for item in entry.transfers]
        assert len(rows.transfers(ids)) == len(ids)


async def test_a_suspended_agent_earns_nothing_until_reactivated(world: World) -> None:
    done = await world.submitted_claim()
    await world.suspend(done.submitter.agent_id)
    await _decide(world, done)
    await world.review_server.settle()
    (entry,) = await _outbox(world, done.bounty.bounty_id)
    assert entry.status == review_pb2.OUTBOX_STATUS_PENDING
    assert entry.last_error_reason == "RECIPIENT_SUSPENDED"
    assert await world.balance(done.submitter) == 0
    # Reviewers are in the same linked batch: nobody is paid while it waits.
    assert await world.balance(done.votes[0][0]) == 0
    await world.review_server.run_pass()
    assert await world.balance(done.submitter) == 0
    await world.reactivate(done.submitter.agent_id)
    redriven = await world.review_ctl.RedriveOutbox(
        review_pb2.RedriveOutboxRequest(request_id=rid(), entry_ids=[entry.entry_id]),
        metadata=await world.operator(),
    )
    assert redriven.outcomes[0].status == review_pb2.OUTBOX_STATUS_DELIVERED
    assert await world.balance(done.submitter) == done.bounty.reward_micros


async def test_an_entry_out_of_attempts_is_stuck_until_an_operator_redrives_it(
    world: World, start_review_server
) -> None:
    server = start_review_server(env={"OUTBOX_MAX_ATTEMPTS": "1"})
    async with World.open(auth=world.auth_server, wallet=world.wallet_server, review=server) as one:
        done = await one.submitted_claim()
        await one.suspend(done.submitter.agent_id)
        await _decide(one, done)
        await server.settle()
        (entry,) = await _outbox(one, done.bounty.bounty_id)
        assert (entry.status, entry.attempts) == (review_pb2.OUTBOX_STATUS_STUCK, 1)
        await one.reactivate(done.submitter.agent_id)
        report = await server.run_pass()
        assert entry.entry_id not in {str(item.entry_id) for item in report.payouts}
        operator = await one.operator()
        stuck = await one.review_ctl.ListOutbox(
            review_pb2.ListOutboxRequest(statuses=[review_pb2.OUTBOX_STATUS_STUCK]),
            metadata=operator,
        )
        assert entry.entry_id in {item.entry_id for item in stuck.entries}
        redriven = await one.review_ctl.RedriveOutbox(
            review_pb2.RedriveOutboxRequest(request_id=rid()), metadata=operator
        )
        assert (entry.entry_id, review_pb2.OUTBOX_STATUS_DELIVERED) in {
            (item.entry_id, item.status) for item in redriven.outcomes
        }
        assert await one.balance(done.submitter) == done.bounty.reward_micros


async def test_the_outbox_is_for_operators_only(world: World) -> None:
    await refused(
        world.review.ListOutbox(review_pb2.ListOutboxRequest(), metadata=await world.as_admin()),
        grpc.StatusCode.PERMISSION_DENIED,
        "PEER_NOT_ALLOWED",
    )
    await refused(
        world.review.RedriveOutbox(
            review_pb2.RedriveOutboxRequest(request_id=rid()), metadata=await world.as_admin()
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "PEER_NOT_ALLOWED",
    )


@pytest.mark.parametrize(
    ("fields", "code", "reason"),
    [
        ({"limit": -1}, grpc.StatusCode.INVALID_ARGUMENT, "LIMIT_INVALID"),
        ({"entry_ids": ["nope"]}, grpc.StatusCode.INVALID_ARGUMENT, "ENTRY_IDS_INVALID"),
        ({"entry_ids": [str(uuid.uuid4())]}, grpc.StatusCode.NOT_FOUND, "OUTBOX_ENTRY_NOT_FOUND"),
    ],
)
async def test_bad_redrives_are_refused(
    world: World, fields: dict[str, object], code: grpc.StatusCode, reason: str
) -> None:
    await refused(
        world.review_ctl.RedriveOutbox(
            review_pb2.RedriveOutboxRequest(request_id=rid(), **fields),  # type: ignore[arg-type]
            metadata=await world.operator(),
        ),
        code,
        reason,
    )


# -- the treasury -------------------------------------------------------------------------------


async def test_funding_the_treasury_mints_once_per_request(world: World) -> None:
    treasury = await world.treasury()
    request = review_pb2.FundTreasuryRequest(request_id=rid(), amount_micros=5_000, reason="q3")
    admin = await world.as_admin()
    first = await world.review.FundTreasury(request, metadata=admin)
    assert first.amount_micros == 5_000
    assert first.treasury_balance_micros == treasury + 5_000
    assert await world.review.FundTreasury(request, metadata=admin) == first
    assert await world.treasury() == treasury + 5_000
    request.amount_micros = 6_000
    await refused(
        world.review.FundTreasury(request, metadata=admin),
        grpc.StatusCode.ALREADY_EXISTS,
        "REQUEST_ID_CONFLICT",
    )


@pytest.mark.parametrize(
    ("amount", "reason_text", "reason"),
    [
        (0, "x", "AMOUNT_MUST_BE_POSITIVE"),
        (-1, "x", "AMOUNT_MUST_BE_POSITIVE"),
        (10**15 + 1, "x", "AMOUNT_TOO_LARGE"),
        (10**14, "x", "AMOUNT_TOO_LARGE"),  # over wallet's per-mint maximum
        (1, "", "REASON_REQUIRED"),
        (1, "r" * 501, "REASON_REQUIRED"),
    ],
)
async def test_bad_fundings_are_refused(
    world: World, rows: Rows, amount: int, reason_text: str, reason: str
) -> None:
    before = rows.snapshot()
    await refused(
        world.review.FundTreasury(
            review_pb2.FundTreasuryRequest(
                request_id=rid(), amount_micros=amount, reason=reason_text
            ),
            metadata=await world.as_admin(),
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        reason,
    )
    assert rows.snapshot() == before


async def test_only_admin_sessions_fund_the_treasury(world: World, rows: Rows) -> None:
    admin = await world.admin()
    agent = await world.agent(admin)
    before = rows.snapshot()
    for metadata in (
        await world.as_agent(agent),
        await world.token((await world.account()).session_token),
    ):
        await refused(
            world.review.FundTreasury(
                review_pb2.FundTreasuryRequest(request_id=rid(), amount_micros=1, reason="x"),
                metadata=metadata,
            ),
            grpc.StatusCode.PERMISSION_DENIED,
            "SCOPE_MISSING",
        )
    assert rows.snapshot() == before


async def test_the_treasury_report_accounts_for_every_micro_credit_of_escrow(
    world: World,
) -> None:
    admin = await world.as_admin()
    before = await world.review.GetTreasury(review_pb2.GetTreasuryRequest(), metadata=admin)
    done = await world.submitted_claim()
    during = await world.review.GetTreasury(review_pb2.GetTreasuryRequest(), metadata=admin)
    slot = done.bounty.slot_escrow_micros
    assert during.escrow_balance_micros == before.escrow_balance_micros + slot
    assert during.escrow_outstanding_micros == before.escrow_outstanding_micros + slot
    assert during.escrow_unassigned_micros == before.escrow_unassigned_micros
    await _decide(world, done)
    await world.review_server.settle()
    after = await world.review.GetTreasury(review_pb2.GetTreasuryRequest(), metadata=admin)
    assert after.escrow_balance_micros == before.escrow_balance_micros
    assert after.escrow_outstanding_micros == before.escrow_outstanding_micros
    assert after.escrow_unassigned_micros == before.escrow_unassigned_micros
    assert after.treasury_balance_micros == await world.treasury()
    operator = await world.review_ctl.GetTreasury(
        review_pb2.GetTreasuryRequest(), metadata=await world.operator()
    )
    assert operator.treasury_ledger_account_id == after.treasury_ledger_account_id

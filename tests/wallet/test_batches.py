"""CreateTransfers: per-transfer results in input order, linked chains all-or-nothing, and the
request-level refusals."""

from __future__ import annotations

import grpc
import pytest
from tokenmart.wallet.v1 import wallet_pb2

from tests.auth.helpers import metadata_of
from tests.wallet.helpers import CREDIT, Agent, Rows, World, refused, rid

R = wallet_pb2.CreateTransferResult


def item(
    debit: Agent | None,
    credit: Agent | None,
    amount: int = CREDIT,
    *,
    linked: bool = False,
    transfer_id: str | None = None,
    code: int = wallet_pb2.TRANSFER_CODE_TRANSFER,
    reference: str = "",
    memo: str = "",
) -> wallet_pb2.TransferInput:
    message = wallet_pb2.TransferInput(
        transfer_id=transfer_id or rid(),
        amount_micros=amount,
        code=code,
        linked=linked,
        reference=reference,
        memo=memo,
    )
    if debit is not None:
        message.debit.agent_id = debit.agent_id
    if credit is not None:
        message.credit.agent_id = credit.agent_id
    return message


def batch(*items: wallet_pb2.TransferInput) -> wallet_pb2.CreateTransfersRequest:
    return wallet_pb2.CreateTransfersRequest(request_id=rid(), transfers=list(items))


def results(response: wallet_pb2.CreateTransfersResponse) -> list[str]:
    return [
        R.Name(outcome.result).removeprefix("CREATE_TRANSFER_RESULT_")
        for outcome in response.outcomes
    ]


async def test_each_transfer_gets_its_own_result_in_input_order(world: World) -> None:
    alice = await world.funded_agent(3 * CREDIT)
    bob, carol = await world.agent(), await world.agent()
    request = batch(
        item(alice, bob, CREDIT),
        item(alice, carol, 5 * CREDIT),  # more than alice has
        item(alice, carol, CREDIT, memo="x" * 501),
        item(alice, carol, 2 * CREDIT),
    )
    response = await world.gateway.CreateTransfers(
        request, metadata=await world.token(alice.api_key)
    )
    assert results(response) == ["OK", "INSUFFICIENT_FUNDS", "MEMO_TOO_LONG", "OK"]
    assert [outcome.index for outcome in response.outcomes] == [0, 1, 2, 3]
    assert [outcome.transfer_id for outcome in response.outcomes] == [
        entry.transfer_id for entry in request.transfers
    ]
    assert not response.all_succeeded
    assert response.outcomes[0].transfer.amount_micros == CREDIT
    assert not response.outcomes[1].HasField("transfer")
    assert (await world.available(bob), await world.available(carol)) == (CREDIT, 2 * CREDIT)
    assert await world.available(alice) == 0


async def test_a_linked_chain_succeeds_or_fails_as_a_whole(world: World, rows: Rows) -> None:
    alice = await world.funded_agent(3 * CREDIT)
    bob, carol = await world.agent(), await world.agent()
    metadata = await world.token(alice.api_key)
    failed = await world.gateway.CreateTransfers(
        batch(
            item(alice, bob, CREDIT, linked=True),
            item(alice, carol, CREDIT, linked=True),
            item(alice, carol, 2 * CREDIT),  # closes the chain; only 1 credit left by then
            item(alice, bob, CREDIT),  # outside the chain
        ),
        metadata=metadata,
    )
    assert results(failed) == [
        "LINKED_EVENT_FAILED",
        "LINKED_EVENT_FAILED",
        "INSUFFICIENT_FUNDS",
        "OK",
    ]
    assert (await world.available(bob), await world.available(carol)) == (CREDIT, 0)
    succeeded = await world.gateway.CreateTransfers(
        batch(item(alice, bob, CREDIT, linked=True), item(alice, carol, CREDIT)),
        metadata=metadata,
    )
    assert results(succeeded) == ["OK", "OK"]
    assert succeeded.all_succeeded
    assert [list(outcome.transfer.flags) for outcome in succeeded.outcomes] == [
        [wallet_pb2.TRANSFER_FLAG_LINKED],
        [],
    ]
    assert await world.available(alice) == 0


async def test_a_chain_left_open_by_the_last_transfer_applies_nothing(world: World) -> None:
    alice = await world.funded_agent(3 * CREDIT)
    bob = await world.agent()
    response = await world.gateway.CreateTransfers(
        batch(item(alice, bob), item(alice, bob, linked=True), item(alice, bob, linked=True)),
        metadata=await world.token(alice.api_key),
    )
    assert results(response) == ["OK", "LINKED_EVENT_FAILED", "LINKED_EVENT_CHAIN_OPEN"]
    assert await world.available(bob) == CREDIT


async def test_a_replayed_batch_reports_exists_for_every_transfer(world: World) -> None:
    alice = await world.funded_agent(3 * CREDIT)
    bob = await world.agent()
    metadata = await world.token(alice.api_key)
    entries = [item(alice, bob, linked=True), item(alice, bob)]
    first = await world.gateway.CreateTransfers(batch(*entries), metadata=metadata)
    again = await world.gateway.CreateTransfers(batch(*entries), metadata=metadata)
    assert results(again) == ["EXISTS", "EXISTS"]
    assert [outcome.transfer for outcome in again.outcomes] == [
        outcome.transfer for outcome in first.outcomes
    ]
    assert again.all_succeeded
    assert await world.available(bob) == 2 * CREDIT


async def test_every_debit_must_be_the_callers_and_every_credit_a_user_wallet(
    world: World,
) -> None:
    alice = await world.funded_agent(3 * CREDIT)
    victim = await world.funded_agent(3 * CREDIT)
    bob = await world.agent()
    escrow = wallet_pb2.TransferInput(
        transfer_id=rid(),
        amount_micros=CREDIT,
        code=wallet_pb2.TRANSFER_CODE_TRANSFER,
        debit=wallet_pb2.AccountRef(agent_id=alice.agent_id),
        credit=wallet_pb2.AccountRef(system_account=wallet_pb2.ACCOUNT_KIND_BOUNTY_ESCROW),
    )
    response = await world.gateway.CreateTransfers(
        batch(item(victim, bob), escrow, item(alice, bob)),
        metadata=await world.token(alice.api_key),
    )
    assert results(response) == ["DEBIT_ACCOUNT_NOT_ALLOWED", "CREDIT_ACCOUNT_NOT_ALLOWED", "OK"]
    assert await world.available(victim) == 3 * CREDIT


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("id", "ID_INVALID"),
        ("zero", "AMOUNT_MUST_BE_POSITIVE"),
        ("huge", "AMOUNT_TOO_LARGE"),
        ("code", "CODE_NOT_ALLOWED"),
        ("unspecified_code", "CODE_NOT_ALLOWED"),
        ("reference", "REFERENCE_TOO_LONG"),
        ("control_reference", "REFERENCE_TOO_LONG"),
        ("memo", "MEMO_TOO_LONG"),
        ("unknown_debit", "DEBIT_ACCOUNT_NOT_FOUND"),
        ("no_debit", "DEBIT_ACCOUNT_NOT_FOUND"),
        ("malformed_credit", "CREDIT_ACCOUNT_NOT_FOUND"),
        ("same", "ACCOUNTS_MUST_BE_DIFFERENT"),
        ("other_ledger", "ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER"),
        ("funds", "INSUFFICIENT_FUNDS"),
    ],
)
async def test_per_transfer_failures_are_results(world: World, change: str, expected: str) -> None:
    alice = await world.funded_agent(3 * CREDIT)
    bob = await world.agent()
    entry = item(alice, bob)
    if change == "id":
        entry.transfer_id = "x"
    elif change == "zero":
        entry.amount_micros = 0
    elif change == "huge":
        entry.amount_micros = 10**15 + 1
    elif change == "code":
        entry.code = wallet_pb2.TRANSFER_CODE_GRANT
    elif change == "unspecified_code":
        entry.code = wallet_pb2.TRANSFER_CODE_UNSPECIFIED
    elif change == "reference":
        entry.reference = "r" * 129
    elif change == "control_reference":
        entry.reference = "a\nb"
    elif change == "memo":
        entry.memo = "m" * 501
    elif change == "unknown_debit":
        entry.debit.agent_id = rid()
    elif change == "no_debit":
        entry.ClearField("debit")
    elif change == "malformed_credit":
        entry.credit.ledger_account_id = "not-a-uuid"
    elif change == "same":
        entry.credit.agent_id = alice.agent_id
    elif change == "other_ledger":
        entry.credit.system_account = wallet_pb2.ACCOUNT_KIND_KEY_BUDGET_SOURCE
    else:
        entry.amount_micros = 4 * CREDIT
    response = await world.gateway.CreateTransfers(
        batch(entry), metadata=await world.token(alice.api_key)
    )
    assert results(response) == [expected]
    assert await world.available(alice) == 3 * CREDIT


async def test_an_empty_batch_is_refused(world: World) -> None:
    alice = await world.agent()
    await refused(
        world.gateway.CreateTransfers(batch(), metadata=await world.token(alice.api_key)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "BATCH_EMPTY",
    )


async def test_more_than_1000_transfers_are_refused(world: World) -> None:
    alice, bob = await world.agent(), await world.agent()
    await refused(
        world.gateway.CreateTransfers(
            batch(*(item(alice, bob) for _ in range(1001))),
            metadata=await world.token(alice.api_key),
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "BATCH_TOO_LARGE",
    )


async def test_a_batch_of_1000_is_applied_in_one_call(world: World) -> None:
    alice = await world.funded_agent(1000)
    bob = await world.agent()
    response = await world.gateway.CreateTransfers(
        batch(*(item(alice, bob, 1) for _ in range(1000))),
        metadata=await world.token(alice.api_key),
        timeout=60,
    )
    assert response.all_succeeded
    assert await world.available(bob) == 1000


async def test_a_memo_the_database_cannot_store_refuses_the_batch(world: World) -> None:
    alice = await world.funded_agent(CREDIT)
    bob = await world.agent()
    error = await refused(
        world.gateway.CreateTransfers(
            batch(item(alice, bob), item(alice, bob, memo="a\x00b")),
            metadata=await world.token(alice.api_key),
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "FIELD_INVALID",
    )
    assert metadata_of(error) == {"field": "transfers[1].memo"}
    assert await world.available(bob) == 0


async def test_duplicate_transfer_ids_are_refused(world: World, rows: Rows) -> None:
    alice = await world.funded_agent(3 * CREDIT)
    bob = await world.agent()
    same = rid()
    metadata = await world.token(alice.api_key)
    before = rows.snapshot()
    await refused(
        world.gateway.CreateTransfers(
            batch(item(alice, bob, transfer_id=same), item(alice, bob, transfer_id=same)),
            metadata=metadata,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "DUPLICATE_TRANSFER_ID",
    )
    assert rows.snapshot() == before


async def test_a_session_moves_credits_both_ways_between_its_wallets_in_one_batch(
    world: World,
) -> None:
    session = await world.session()
    agent = await world.funded_agent(5 * CREDIT, owner=session)
    await world.mint(account_id=session.account_id, amount=5 * CREDIT)
    main = wallet_pb2.AccountRef(account_id=session.account_id)
    own = wallet_pb2.AccountRef(agent_id=agent.agent_id)
    response = await world.gateway.CreateTransfers(
        batch(
            wallet_pb2.TransferInput(
                transfer_id=rid(),
                debit=own,
                credit=main,
                amount_micros=4 * CREDIT,
                code=wallet_pb2.TRANSFER_CODE_TRANSFER,
                linked=True,
            ),
            wallet_pb2.TransferInput(
                transfer_id=rid(),
                debit=main,
                credit=own,
                amount_micros=9 * CREDIT,
                code=wallet_pb2.TRANSFER_CODE_TRANSFER,
            ),
        ),
        metadata=await world.token(session.session_token, agent_id=agent.agent_id),
    )
    assert response.all_succeeded
    assert await world.available(agent) == 10 * CREDIT
    assert (await world.account(main)).available_micros == 0

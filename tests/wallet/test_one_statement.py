"""Transfer requests as one statement (``wallet.apply_transfers_once``, migration wallet_0003).

The replay log and the ledger function run together in the database, so these tests pin what
the Python ``run_once`` used to guarantee: a refused single transfer records nothing, a batch
records its failures too, copies of one request racing each other move once and answer alike,
and an answer recorded by ``run_once`` before the migration is still replayed as recorded.
"""

from __future__ import annotations

import asyncio
import json

import grpc
from tokenmart.wallet.v1 import wallet_pb2

from services.common.idempotency import request_digest
from tests.wallet.helpers import CREDIT, Agent, Metadata, Rows, World, refused, rid


def pay(
    to: Agent, amount: int, *, request_id: str | None = None
) -> wallet_pb2.CreateTransferRequest:
    return wallet_pb2.CreateTransferRequest(
        request_id=request_id or rid(),
        transfer_id=rid(),
        to_agent_id=to.agent_id,
        amount_micros=amount,
    )


async def payer_and_payee(world: World, funds: int = CREDIT) -> tuple[Agent, Agent, Metadata]:
    """A funded agent, another agent to pay, and the payer's wallet metadata."""
    payer = await world.funded_agent(funds)
    return payer, await world.agent(), await world.token(payer.api_key)


def recorded(rows: Rows, request_id: str) -> list[bytes]:
    return [
        bytes(response)
        for (response,) in rows.rows(
            "SELECT response FROM request_log WHERE request_id = %s", request_id
        )
    ]


async def test_a_refused_single_transfer_records_nothing_so_it_can_be_sent_again(
    world: World, rows: Rows
) -> None:
    alice, bob, metadata = await payer_and_payee(world)
    request = pay(bob, 2 * CREDIT)
    await refused(
        world.gateway.CreateTransfer(request, metadata=metadata),
        grpc.StatusCode.FAILED_PRECONDITION,
        "INSUFFICIENT_FUNDS",
    )
    assert recorded(rows, request.request_id) == []
    await world.mint(agent=alice, amount=CREDIT)
    first = await world.gateway.CreateTransfer(request, metadata=metadata)
    assert first.result == wallet_pb2.CREATE_TRANSFER_RESULT_OK
    assert await world.gateway.CreateTransfer(request, metadata=metadata) == first
    assert await world.available(bob) == 2 * CREDIT
    assert await world.available(alice) == 0


async def test_the_recorded_answer_is_the_outcome_rows_tagged_apart_from_any_message(
    world: World, rows: Rows
) -> None:
    _, bob, metadata = await payer_and_payee(world)
    request = pay(bob, CREDIT // 4)
    first = await world.gateway.CreateTransfer(request, metadata=metadata)
    (stored,) = recorded(rows, request.request_id)
    assert stored[:1] == b"\x00"  # no serialized protobuf message starts with a 0x00 byte
    (outcome,) = json.loads(stored[1:])
    assert outcome["o_result"] == 1
    assert outcome["o_id"] == first.transfer.transfer_id
    assert outcome["o_debit_available"] == first.source_balance_micros
    # Later transfers change the balances; the replay still answers what the first call did.
    await world.gateway.CreateTransfer(pay(bob, CREDIT // 4), metadata=metadata)
    assert await world.gateway.CreateTransfer(request, metadata=metadata) == first


async def test_an_answer_recorded_by_run_once_before_the_migration_is_replayed_as_recorded(
    world: World, rows: Rows
) -> None:
    _, bob, metadata = await payer_and_payee(world)
    earlier = pay(bob, 1)
    await world.gateway.CreateTransfer(earlier, metadata=metadata)
    caller = rows.value("SELECT caller FROM request_log WHERE request_id = %s", earlier.request_id)
    # What run_once stored for a request answered before revision wallet_0003: the message.
    request = pay(bob, CREDIT // 2)
    answer = wallet_pb2.CreateTransferResponse(
        result=wallet_pb2.CREATE_TRANSFER_RESULT_OK,
        transfer=wallet_pb2.Transfer(
            transfer_id=request.transfer_id, amount_micros=request.amount_micros
        ),
        source_balance_micros=123,
    )
    with rows.connect() as connection:
        connection.execute(
            "INSERT INTO request_log (caller, method, request_id, request_digest, response) "
            "VALUES (%s, 'CreateTransfer', %s, %s, %s)",
            (
                caller,
                request.request_id,
                request_digest(request),
                answer.SerializeToString(deterministic=True),
            ),
        )
    assert await world.gateway.CreateTransfer(request, metadata=metadata) == answer
    assert rows.rows("SELECT 1 FROM transfers WHERE id = %s", request.transfer_id) == []
    assert await world.available(bob) == 1


async def test_a_batch_records_its_failures_and_replays_them_after_funds_arrive(
    world: World,
) -> None:
    alice, bob, metadata = await payer_and_payee(world)
    request = wallet_pb2.CreateTransfersRequest(
        request_id=rid(),
        transfers=[
            wallet_pb2.TransferInput(
                transfer_id=rid(),
                debit=wallet_pb2.AccountRef(agent_id=alice.agent_id),
                credit=wallet_pb2.AccountRef(agent_id=bob.agent_id),
                amount_micros=amount,
                code=wallet_pb2.TRANSFER_CODE_TRANSFER,
            )
            for amount in (CREDIT // 2, 2 * CREDIT)
        ],
    )
    first = await world.gateway.CreateTransfers(request, metadata=metadata)
    assert [outcome.result for outcome in first.outcomes] == [
        wallet_pb2.CREATE_TRANSFER_RESULT_OK,
        wallet_pb2.CREATE_TRANSFER_RESULT_INSUFFICIENT_FUNDS,
    ]
    await world.mint(agent=alice, amount=5 * CREDIT)
    assert await world.gateway.CreateTransfers(request, metadata=metadata) == first
    assert await world.available(bob) == CREDIT // 2


async def test_copies_of_one_request_racing_each_other_move_once_and_answer_alike(
    world: World, rows: Rows
) -> None:
    _, bob, metadata = await payer_and_payee(world)
    request = pay(bob, CREDIT // 3)
    answers = await asyncio.gather(
        *(world.gateway.CreateTransfer(request, metadata=metadata) for _ in range(24))
    )
    assert all(answer == answers[0] for answer in answers)
    assert await world.available(bob) == CREDIT // 3
    assert len(recorded(rows, request.request_id)) == 1


async def test_a_request_id_reused_for_another_request_is_a_conflict_and_moves_nothing(
    world: World, rows: Rows
) -> None:
    _, bob, metadata = await payer_and_payee(world)
    first = pay(bob, 10)
    await world.gateway.CreateTransfer(first, metadata=metadata)
    before = rows.snapshot()
    await refused(
        world.gateway.CreateTransfer(pay(bob, 11, request_id=first.request_id), metadata=metadata),
        grpc.StatusCode.ALREADY_EXISTS,
        "REQUEST_ID_CONFLICT",
    )
    assert rows.snapshot() == before

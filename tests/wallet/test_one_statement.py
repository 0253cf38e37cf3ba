"""Transfer requests as one statement (``wallet.apply_transfers_once``, migration wallet_0003).

The replay log and the ledger function run together in the database, so these tests pin what
the Python ``run_once`` used to guarantee: a refused single transfer records nothing, a batch
records its failures too, copies of one request racing each other move once and answer alike,
and an answer recorded by ``run_once`` before the migration is still replayed as recorded.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import uuid

import grpc
from sqlalchemy.ext.asyncio import AsyncConnection
from tokenmart.wallet.v1 import wallet_pb2

from services.common.db import create_engine
from services.common.idempotency import request_digest
from services.wallet.domain.ledger import Draft, Initiator, InitiatorKind, Outcome, TransferCode
from services.wallet.domain.results import Result
from services.wallet.store import ledger
from services.wallet.store.database import Database
from tests.auth.helpers import error_info
from tests.conftest import WalletServerHandle
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


async def test_racing_requests_creating_one_transfer_id_create_it_once(world: World) -> None:
    """One transfer id sent at once by eight payers, each to a payee of its own (no account
    lock in common): whichever way the race goes (a later call finds the committed transfer, or
    loses on the primary key and is retried, see the next test), one call creates it and every
    other gets EXISTS_FOR_OTHER_INITIATOR; the id moves credits once."""
    pairs = [await payer_and_payee(world) for _ in range(8)]
    transfer_id = rid()
    calls = [
        world.gateway.CreateTransfer(
            wallet_pb2.CreateTransferRequest(
                request_id=rid(),
                transfer_id=transfer_id,
                to_agent_id=payee.agent_id,
                amount_micros=7,
            ),
            metadata=metadata,
        )
        for _, payee, metadata in pairs
    ]
    answers = await asyncio.gather(*calls, return_exceptions=True)
    created = [
        answer for answer in answers if isinstance(answer, wallet_pb2.CreateTransferResponse)
    ]
    refusals = [answer for answer in answers if isinstance(answer, grpc.aio.AioRpcError)]
    assert len(created) == 1 and len(refusals) == len(pairs) - 1, answers
    assert created[0].result == wallet_pb2.CREATE_TRANSFER_RESULT_OK
    for refusal in refusals:
        assert refusal.code() == grpc.StatusCode.ALREADY_EXISTS
        info = error_info(refusal)
        assert info is not None and info.reason == "EXISTS_FOR_OTHER_INITIATOR"
    received = [await world.available(payee) for _, payee, _ in pairs]
    assert sorted(received) == [0] * (len(pairs) - 1) + [7]


async def test_a_unique_violation_inside_the_one_statement_is_retried_as_a_lost_race(
    world: World, wallet_server: WalletServerHandle
) -> None:
    """The raw-driver path classifies and retries like the SQLAlchemy one: request B creates a
    transfer id that request A has inserted but not committed (no account in common, so only
    the primary key makes B wait); A commits, B's statement fails on ``pk_transfers``, and
    ``Database.run`` runs B again, which now finds A's transfer and answers for it."""
    (payer_a, payee_a, _), (payer_b, payee_b, _) = [await payer_and_payee(world) for _ in "ab"]
    wallets = {
        agent.agent_id: uuid.UUID(
            (await world.account(wallet_pb2.AccountRef(agent_id=agent.agent_id))).ledger_account_id
        )
        for agent in (payer_a, payee_a, payer_b, payee_b)
    }
    transfer_id = uuid.uuid4()
    initiator = Initiator(
        kind=InitiatorKind.SERVICE, subject="service:test", peer="test", request_id=rid()
    )

    def attempt(payer: Agent, payee: Agent) -> tuple[list[Draft], ledger.Claim]:
        request_id = rid()
        return (
            [
                Draft(
                    transfer_id,
                    wallets[payer.agent_id],
                    wallets[payee.agent_id],
                    5,
                    TransferCode.TRANSFER,
                )
            ],
            ledger.Claim(
                lock_key=f"wallet|test|Race|{request_id}",
                caller="test",
                method="Race",
                request_id=request_id,
                digest=bytes(32),
                record_failures=True,
            ),
        )

    engine = create_engine(wallet_server.settings.common.database, application_name="race-test")
    database = Database(engine, retries=3)
    runs = 0
    try:
        async with engine.connect() as first:
            driver = (await first.get_raw_connection()).driver_connection
            assert driver is not None
            transaction = driver.transaction()
            await transaction.start()
            drafts, claim = attempt(payer_a, payee_a)
            (applied,) = await ledger.apply_once(
                first,
                drafts,
                claim=claim,
                now=datetime.datetime.now(datetime.UTC),
                initiator=initiator,
            )
            assert isinstance(applied, Outcome) and applied.result == Result.OK

            async def second(connection: AsyncConnection) -> list[Outcome] | bytes:
                nonlocal runs
                runs += 1
                drafts, claim = attempt(payer_b, payee_b)
                return await ledger.apply_once(
                    connection,
                    drafts,
                    claim=claim,
                    now=datetime.datetime.now(datetime.UTC),
                    initiator=initiator,
                )

            racing = asyncio.create_task(database.run(second, single_statement=True))
            await asyncio.sleep(0.5)  # B is now waiting on A's uncommitted primary key
            assert not racing.done()
            await transaction.commit()
            outcomes = await asyncio.wait_for(racing, timeout=10)
    finally:
        await engine.dispose()
    assert runs == 2
    assert isinstance(outcomes, list)
    assert [Result(outcome.result) for outcome in outcomes] == [
        Result.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID
    ]
    assert await world.available(payee_a) == 5
    assert await world.available(payee_b) == 0

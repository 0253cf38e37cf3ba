"""Races: over a thousand concurrent transfers and batches among a few hot wallets, with cycles
(A→B→C→A) in both, finish with no error but insufficient funds, no deadlock, no lost update,
and every credit accounted for."""

from __future__ import annotations

import asyncio
import random

import grpc
from tokenmart.wallet.v1 import wallet_pb2

from services.common.status import error_reason
from tests.wallet.helpers import CREDIT, Agent, Rows, World, rid

WALLETS = 5
SINGLES = 900
BATCHES = 30
BATCH_SIZE = 10
START = 20 * CREDIT


async def test_a_thousand_concurrent_transfers_with_cycles_conserve_every_credit(
    world: World, rows: Rows
) -> None:
    session = await world.session()
    agents = [await world.funded_agent(START, owner=session) for _ in range(WALLETS)]
    tokens = [await world.token(agent.api_key) for agent in agents]
    chance = random.Random(20261129)

    def single(payer: int, payee: int) -> asyncio.Future[object]:
        return asyncio.ensure_future(
            world.gateway.CreateTransfer(
                wallet_pb2.CreateTransferRequest(
                    request_id=rid(),
                    transfer_id=rid(),
                    to_agent_id=agents[payee].agent_id,
                    amount_micros=chance.randint(1, 3) * CREDIT,
                ),
                metadata=tokens[payer],
                timeout=120,
            )
        )

    def batch(payer: int) -> asyncio.Future[object]:
        entries = []
        for _ in range(BATCH_SIZE):
            payee = chance.choice([index for index in range(WALLETS) if index != payer])
            entries.append(
                wallet_pb2.TransferInput(
                    transfer_id=rid(),
                    debit=wallet_pb2.AccountRef(agent_id=agents[payer].agent_id),
                    credit=wallet_pb2.AccountRef(agent_id=agents[payee].agent_id),
                    amount_micros=chance.randint(1, 2) * CREDIT,
                    code=wallet_pb2.TRANSFER_CODE_TRANSFER,
                    linked=chance.random() < 0.5,
                )
            )
        entries[-1].linked = False
        return asyncio.ensure_future(
            world.gateway.CreateTransfers(
                wallet_pb2.CreateTransfersRequest(request_id=rid(), transfers=entries),
                metadata=tokens[payer],
                timeout=120,
            )
        )

    calls: list[asyncio.Future[object]] = []
    while len(calls) < SINGLES:
        if len(calls) % 5 < 3:
            # A cycle, all three legs in flight together: A→B, B→C, C→A.
            a, b, c = chance.sample(range(WALLETS), 3)
            calls += [single(a, b), single(b, c), single(c, a)]
        else:
            payer, payee = chance.sample(range(WALLETS), 2)
            calls.append(single(payer, payee))
    for index in range(BATCHES):
        calls.append(batch(index % WALLETS))
    assert len(calls) <= 1000, "stay within the server's concurrent-RPC limit"
    outcomes = await asyncio.gather(*calls, return_exceptions=True)

    moved = refused = 0
    for outcome in outcomes:
        if isinstance(outcome, grpc.aio.AioRpcError):
            assert (outcome.code(), error_reason(outcome)) == (
                grpc.StatusCode.FAILED_PRECONDITION,
                "INSUFFICIENT_FUNDS",
            ), outcome
            refused += 1
        elif isinstance(outcome, wallet_pb2.CreateTransferResponse):
            moved += 1
        else:
            assert isinstance(outcome, wallet_pb2.CreateTransfersResponse), outcome
            for item in outcome.outcomes:
                assert item.result in (
                    wallet_pb2.CREATE_TRANSFER_RESULT_OK,
                    wallet_pb2.CREATE_TRANSFER_RESULT_INSUFFICIENT_FUNDS,
                    wallet_pb2.CREATE_TRANSFER_RESULT_LINKED_EVENT_FAILED,
                ), item
                moved += item.result == wallet_pb2.CREATE_TRANSFER_RESULT_OK
    single_count = len(calls) - BATCHES
    assert single_count + BATCHES * BATCH_SIZE >= 1000
    assert moved > 100 and refused > 10, (moved, refused)  # real contention, both ways

    balances = [await world.available(agent) for agent in agents]
    assert all(balance >= 0 for balance in balances)
    assert sum(balances) == WALLETS * START
    wallet_ids = [agent.wallet_id for agent in agents]
    stored = rows.value(
        "SELECT count(*) FROM transfers WHERE code = 3 AND debit_account_id::text = ANY(%s)",
        wallet_ids,
    )
    assert stored == moved
    await _assert_each_wallet_matches_its_transfers(rows, agents)


async def _assert_each_wallet_matches_its_transfers(rows: Rows, agents: list[Agent]) -> None:
    for agent in agents:
        credits, debits = rows.rows(
            "SELECT coalesce(sum(amount) FILTER (WHERE credit_account_id::text = %s), 0), "
            "coalesce(sum(amount) FILTER (WHERE debit_account_id::text = %s), 0) "
            "FROM transfers WHERE %s IN (debit_account_id::text, credit_account_id::text)",
            agent.wallet_id,
            agent.wallet_id,
            agent.wallet_id,
        )[0]
        stored = rows.rows(
            "SELECT credits_posted, debits_posted FROM ledger_accounts WHERE id::text = %s",
            agent.wallet_id,
        )[0]
        assert (credits, debits) == stored

from __future__ import annotations

from tokenmart.wallet.v1 import wallet_pb2

from tests.wallet.helpers import CREDIT, World, rid


async def test_transfer_between_agents(world: World) -> None:
    alice = await world.funded_agent(10 * CREDIT)
    bob = await world.agent()
    response = await world.gateway.CreateTransfer(
        wallet_pb2.CreateTransferRequest(
            request_id=rid(), transfer_id=rid(), to_agent_id=bob.agent_id, amount_micros=3 * CREDIT
        ),
        metadata=await world.token(alice.api_key),
    )
    assert response.result == wallet_pb2.CREATE_TRANSFER_RESULT_OK
    assert response.source_balance_micros == 7 * CREDIT
    assert await world.available(bob) == 3 * CREDIT

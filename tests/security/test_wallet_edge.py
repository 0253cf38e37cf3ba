"""THREATS D8 and D9 at the edge, and the credit routes end to end: gateway → auth + wallet →
PostgreSQL. Every test ends with the ledger verified (WalletService.VerifyLedger via the admin
route) and checks balances to the micro-credit."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.conftest import WalletServerHandle
from tests.flows import Agent, Session, bearer, error_of
from tests.security.conftest import Edge, MakeEdge


@pytest.fixture
def money(make_edge: MakeEdge, wallet_server: WalletServerHandle) -> Edge:
    return make_edge(wallet=wallet_server)


def idem(headers: dict[str, str], key: str | None = None) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key or str(uuid.uuid4())}


async def balance(edge: Edge, headers: dict[str, str]) -> int:
    response = await edge.api.client.get("/api/v1/tokenhall/credits", headers=headers)
    assert response.status_code == 200, response.text
    return int(response.json()["balance_micros"])


async def grant(edge: Edge, admin: Session, agent: Agent, amount: int) -> None:
    response = await edge.api.client.post(
        "/api/v1/admin/credits",
        json={"agent_id": agent.agent_id, "amount_micros": amount, "reason": "test grant"},
        headers=idem(admin.headers()),
    )
    assert response.status_code == 201, response.text


async def assert_ledger_ok(edge: Edge, admin: Session) -> None:
    response = await edge.api.client.get("/api/v1/admin/ledger/verify", headers=admin.headers())
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["ok"] is True, report["failures"]
    assert report["transfers_checked"] > 0


async def funded_agent(edge: Edge, admin: Session, amount: int) -> tuple[Session, Agent]:
    owner = await edge.api.new_session()
    agent = await edge.api.owned_agent(owner)
    await grant(edge, admin, agent, amount)
    return owner, agent


async def test_balances_grants_and_transfers_to_the_micro_credit(money: Edge) -> None:
    admin = await money.admin_session()
    _, alice = await funded_agent(money, admin, 5_000_000)
    bob = await money.api.owned_agent(await money.api.new_session())
    assert await balance(money, bearer(alice.api_key)) == 5_000_000
    assert await balance(money, bearer(bob.api_key)) == 0
    sent = await money.api.client.post(
        "/api/v1/tokenhall/transfers",
        json={"to_agent_id": bob.agent_id, "amount_micros": 1_234_567, "memo": "thanks"},
        headers=idem(bearer(alice.api_key)),
    )
    assert sent.status_code == 201, sent.text
    transfer = sent.json()["transfer"]
    assert transfer["amount_micros"] == 1_234_567
    assert transfer["code"] == "transfer"
    assert transfer["initiator"]["agent_id"] == alice.agent_id
    assert sent.json()["source_balance_micros"] == 3_765_433
    assert await balance(money, bearer(alice.api_key)) == 3_765_433
    assert await balance(money, bearer(bob.api_key)) == 1_234_567
    listed = await money.api.client.get("/api/v1/tokenhall/transfers", headers=bearer(bob.api_key))
    assert transfer["id"] in [item["id"] for item in listed.json()["transfers"]]
    await assert_ledger_ok(money, admin)


async def test_d9_a_replayed_transfer_moves_credits_once(money: Edge) -> None:
    admin = await money.admin_session()
    _, alice = await funded_agent(money, admin, 1_000_000)
    bob = await money.api.owned_agent(await money.api.new_session())
    headers = idem(bearer(alice.api_key), "pay-bob-once")
    body = {"to_agent_id": bob.agent_id, "amount_micros": 100_000}
    responses = await asyncio.gather(
        *(
            money.api.client.post("/api/v1/tokenhall/transfers", json=body, headers=headers)
            for _ in range(5)
        )
    )
    # A replay returns the first answer (the same transfer), however many race.
    assert {response.status_code for response in responses} <= {200, 201}
    assert len({response.json()["transfer"]["id"] for response in responses}) == 1
    assert await balance(money, bearer(alice.api_key)) == 900_000
    different = await money.api.client.post(
        "/api/v1/tokenhall/transfers",
        json={**body, "amount_micros": 200_000},
        headers=headers,
    )
    assert error_of(different)[0] == 409
    assert error_of(different)[1] in {"EXISTS_WITH_DIFFERENT_AMOUNT", "REQUEST_ID_CONFLICT"}
    assert await balance(money, bearer(alice.api_key)) == 900_000
    assert await balance(money, bearer(bob.api_key)) == 100_000
    await assert_ledger_ok(money, admin)


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        (0, "INVALID_ARGUMENT"),
        (-5, "INVALID_ARGUMENT"),
        (10**15 + 1, "INVALID_ARGUMENT"),
        (1.5, "INVALID_ARGUMENT"),
        ("100", "INVALID_ARGUMENT"),
        (True, "INVALID_ARGUMENT"),
        (2**63, "INVALID_ARGUMENT"),
    ],
)
async def test_d8_bad_amounts_move_nothing(money: Edge, amount: object, reason: str) -> None:
    admin = await money.admin_session()
    _, alice = await funded_agent(money, admin, 1_000_000)
    bob = await money.api.owned_agent(await money.api.new_session())
    response = await money.api.client.post(
        "/api/v1/tokenhall/transfers",
        json={"to_agent_id": bob.agent_id, "amount_micros": amount},
        headers=idem(bearer(alice.api_key)),
    )
    assert error_of(response) == (400, reason)
    assert await balance(money, bearer(alice.api_key)) == 1_000_000
    assert await balance(money, bearer(bob.api_key)) == 0
    await assert_ledger_ok(money, admin)


async def test_d8_nobody_spends_from_a_wallet_they_do_not_own(money: Edge) -> None:
    admin = await money.admin_session()
    _, victim = await funded_agent(money, admin, 1_000_000)
    thief_session = await money.api.new_session()
    thief = await money.api.owned_agent(thief_session)
    victim_wallet = (
        await money.api.client.get("/api/v1/tokenhall/credits", headers=bearer(victim.api_key))
    ).json()["wallet_id"]
    attempts = [
        # The thief's own key naming the victim's wallet as the source.
        (bearer(thief.api_key), {"from_wallet_id": victim_wallet}),
        # The thief's session acting as the victim agent (not owned: refused by auth).
        (thief_session.headers(agent_id=victim.agent_id), {}),
        # The thief's session naming the victim's wallet.
        (thief_session.headers(), {"from_wallet_id": victim_wallet}),
    ]
    for headers, extra in attempts:
        response = await money.api.client.post(
            "/api/v1/tokenhall/transfers",
            json={"to_agent_id": thief.agent_id, "amount_micros": 1, **extra},
            headers=idem(headers),
        )
        assert response.status_code in (403, 404), response.text
    assert await balance(money, bearer(victim.api_key)) == 1_000_000
    assert await balance(money, bearer(thief.api_key)) == 0
    await assert_ledger_ok(money, admin)


async def test_d8_overdraft_and_unclaimed_senders_are_refused(money: Edge) -> None:
    admin = await money.admin_session()
    _, alice = await funded_agent(money, admin, 1_000)
    bob = await money.api.owned_agent(await money.api.new_session())
    over = await money.api.client.post(
        "/api/v1/tokenhall/transfers",
        json={"to_agent_id": bob.agent_id, "amount_micros": 1_001},
        headers=idem(bearer(alice.api_key)),
    )
    assert error_of(over) == (402, "INSUFFICIENT_FUNDS")
    loose = await money.api.register_agent()
    unclaimed = await money.api.client.post(
        "/api/v1/tokenhall/transfers",
        json={"to_agent_id": bob.agent_id, "amount_micros": 1},
        headers=idem(bearer(loose.api_key)),
    )
    assert error_of(unclaimed)[0] in (402, 409)
    assert error_of(unclaimed)[1] in {"DEBIT_AGENT_NOT_CLAIMED", "INSUFFICIENT_FUNDS"}
    assert await balance(money, bearer(alice.api_key)) == 1_000
    await assert_ledger_ok(money, admin)


async def test_grants_need_an_admin_session_and_an_idempotency_key(money: Edge) -> None:
    admin = await money.admin_session()
    admins_agent = await money.api.owned_agent(admin)
    user = await money.api.new_session()
    body = {"agent_id": admins_agent.agent_id, "amount_micros": 10, "reason": "free money"}
    no_key = await money.api.client.post(
        "/api/v1/admin/credits", json=body, headers=admin.headers()
    )
    assert error_of(no_key) == (400, "IDEMPOTENCY_KEY_REQUIRED")
    by_user = await money.api.client.post(
        "/api/v1/admin/credits", json=body, headers=idem(user.headers())
    )
    assert error_of(by_user)[0] == 403
    by_admin_agent_key = await money.api.client.post(
        "/api/v1/admin/credits", json=body, headers=idem(bearer(admins_agent.api_key))
    )
    assert error_of(by_admin_agent_key) == (403, "CREDENTIAL_FAMILY_NOT_ACCEPTED")
    verify_by_user = await money.api.client.get(
        "/api/v1/admin/ledger/verify", headers=user.headers()
    )
    assert error_of(verify_by_user)[0] == 403
    assert await balance(money, bearer(admins_agent.api_key)) == 0
    await assert_ledger_ok(money, admin)


async def test_an_account_has_a_main_wallet_from_sign_up(money: Edge) -> None:
    session = await money.api.new_session()
    response = await money.api.client.get("/api/v1/tokenhall/credits", headers=session.headers())
    assert response.status_code == 200, response.text
    assert response.json()["balance_micros"] == 0
    assert response.json()["owner"]["account_id"] == session.account_id

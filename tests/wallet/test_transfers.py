"""CreateTransfer: who may move what, every error path (code and reason), THREATS D8 and D9.

A refused transfer changes nothing: the tests snapshot the ledger tables before and after.
"""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest
from tokenmart.auth.v1 import auth_pb2
from tokenmart.wallet.v1 import wallet_pb2

from ops.database import ServiceDatabase
from tests.auth.helpers import metadata_of
from tests.conftest import AuthServerHandle, WalletServerHandle
from tests.wallet.helpers import CREDIT, Agent, Rows, World, refused, rid, world_for

INT64_MAX = 2**63 - 1


def transfer(
    to: Agent | None = None,
    *,
    amount: int = CREDIT,
    transfer_id: str | None = None,
    request_id: str | None = None,
    to_wallet_id: str = "",
    from_wallet_id: str = "",
    memo: str = "",
) -> wallet_pb2.CreateTransferRequest:
    request = wallet_pb2.CreateTransferRequest(
        request_id=request_id or rid(),
        transfer_id=transfer_id or rid(),
        amount_micros=amount,
        from_wallet_id=from_wallet_id,
        memo=memo,
    )
    if to is not None:
        request.to_agent_id = to.agent_id
    elif to_wallet_id:
        request.to_wallet_id = to_wallet_id
    return request


async def test_an_agent_pays_another_agent_and_the_transfer_records_everything(
    world: World,
) -> None:
    alice = await world.funded_agent(10 * CREDIT)
    bob = await world.agent()
    request = transfer(bob, amount=3 * CREDIT, memo="thanks")
    response = await world.gateway.CreateTransfer(
        request, metadata=await world.token(alice.api_key)
    )
    moved = response.transfer
    assert response.result == wallet_pb2.CREATE_TRANSFER_RESULT_OK
    assert response.source_balance_micros == 7 * CREDIT
    assert (moved.transfer_id, moved.amount_micros, moved.memo) == (
        request.transfer_id,
        3 * CREDIT,
        "thanks",
    )
    assert (moved.debit_ledger_account_id, moved.credit_ledger_account_id) == (
        alice.wallet_id,
        bob.wallet_id,
    )
    assert moved.code == wallet_pb2.TRANSFER_CODE_TRANSFER
    assert moved.ledger == wallet_pb2.LEDGER_CREDITS
    assert list(moved.flags) == []
    assert moved.initiator.kind == wallet_pb2.INITIATOR_KIND_AGENT
    assert moved.initiator.agent_id == alice.agent_id
    assert moved.initiator.account_id == ""
    assert moved.initiator.key_id  # the tokenmart_ key that sent it
    assert moved.initiator.peer_service == "gateway"
    assert moved.initiator.request_id == request.request_id
    assert len(moved.hash) == 32
    assert await world.available(bob) == 3 * CREDIT


async def test_a_session_pays_from_its_main_wallet_by_default(world: World) -> None:
    session = await world.session()
    await world.mint(account_id=session.account_id, amount=5 * CREDIT)
    bob = await world.agent()
    response = await world.gateway.CreateTransfer(
        transfer(bob, amount=2 * CREDIT), metadata=await world.token(session.session_token)
    )
    main = await world.account(wallet_pb2.AccountRef(account_id=session.account_id))
    assert response.transfer.debit_ledger_account_id == main.ledger_account_id
    assert response.transfer.initiator.kind == wallet_pb2.INITIATOR_KIND_ACCOUNT
    assert response.transfer.initiator.account_id == session.account_id
    assert main.available_micros == 3 * CREDIT


async def test_a_session_acting_as_its_agent_spends_from_that_agent_or_its_main_wallet(
    world: World,
) -> None:
    session = await world.session()
    owned = await world.funded_agent(4 * CREDIT, owner=session)
    await world.mint(account_id=session.account_id, amount=4 * CREDIT)
    bob = await world.agent()
    acting = await world.token(session.session_token, agent_id=owned.agent_id)
    by_default = await world.gateway.CreateTransfer(transfer(bob), metadata=acting)
    assert by_default.transfer.debit_ledger_account_id == owned.wallet_id
    assert by_default.transfer.initiator.kind == wallet_pb2.INITIATOR_KIND_AGENT
    assert (by_default.transfer.initiator.agent_id, by_default.transfer.initiator.account_id) == (
        owned.agent_id,
        session.account_id,
    )
    main = await world.account(wallet_pb2.AccountRef(account_id=session.account_id))
    from_main = await world.gateway.CreateTransfer(
        transfer(bob, from_wallet_id=main.ledger_account_id), metadata=acting
    )
    assert from_main.transfer.debit_ledger_account_id == main.ledger_account_id
    assert await world.available(bob) == 2 * CREDIT


# -- THREATS D8: a wallet you do not own; negative, zero, huge amounts ---------------------------


@pytest.mark.parametrize("thief", ["agent", "session", "session_acting_as_own_agent"])
async def test_d8_spending_from_a_wallet_you_do_not_own_is_refused_and_moves_nothing(
    world: World, rows: Rows, thief: str
) -> None:
    victim = await world.funded_agent(5 * CREDIT)
    victim_session = await world.session()
    await world.mint(account_id=victim_session.account_id, amount=5 * CREDIT)
    victim_main = await world.account(wallet_pb2.AccountRef(account_id=victim_session.account_id))
    if thief == "agent":
        metadata = await world.token((await world.agent()).api_key)
    elif thief == "session":
        metadata = await world.token((await world.session()).session_token)
    else:
        session = await world.session()
        own = await world.agent(owner=session)
        metadata = await world.token(session.session_token, agent_id=own.agent_id)
    destination = await world.agent()
    before = rows.snapshot()
    for source in (victim.wallet_id, victim_main.ledger_account_id):
        await refused(
            world.gateway.CreateTransfer(
                transfer(destination, from_wallet_id=source), metadata=metadata
            ),
            grpc.StatusCode.PERMISSION_DENIED,
            "DEBIT_ACCOUNT_NOT_ALLOWED",
        )
    assert rows.snapshot() == before
    assert await world.available(victim) == 5 * CREDIT


async def test_d8_an_agent_key_of_an_owned_agent_cannot_spend_its_owners_main_wallet(
    world: World,
) -> None:
    session = await world.session()
    await world.mint(account_id=session.account_id, amount=5 * CREDIT)
    agent = await world.agent(owner=session)
    main = await world.account(wallet_pb2.AccountRef(account_id=session.account_id))
    await refused(
        world.gateway.CreateTransfer(
            transfer(await world.agent(), from_wallet_id=main.ledger_account_id),
            metadata=await world.token(agent.api_key),
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "DEBIT_ACCOUNT_NOT_ALLOWED",
    )


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        (0, "AMOUNT_MUST_BE_POSITIVE"),
        (-1, "AMOUNT_MUST_BE_POSITIVE"),
        (-(2**63), "AMOUNT_MUST_BE_POSITIVE"),
        (10**15 + 1, "AMOUNT_TOO_LARGE"),
        (INT64_MAX, "AMOUNT_TOO_LARGE"),
    ],
)
async def test_d8_zero_negative_and_huge_amounts_are_refused_and_move_nothing(
    world: World, rows: Rows, amount: int, reason: str
) -> None:
    alice = await world.funded_agent(5 * CREDIT)
    bob = await world.agent()
    metadata = await world.token(alice.api_key)
    before = rows.snapshot()
    await refused(
        world.gateway.CreateTransfer(transfer(bob, amount=amount), metadata=metadata),
        grpc.StatusCode.INVALID_ARGUMENT,
        reason,
    )
    assert rows.snapshot() == before


def test_d8_a_fractional_amount_cannot_even_be_encoded() -> None:
    # amount_micros is int64: the wire format has no way to carry 0.5 micro-credits.
    with pytest.raises(TypeError):
        wallet_pb2.CreateTransferRequest(amount_micros=0.5)  # type: ignore[arg-type]


async def test_d8_the_largest_allowed_amount_moves_when_funded(world: World) -> None:
    rich = await world.funded_agent(10**13)
    await world.mint(agent=rich, amount=10**13)
    response = await world.gateway.CreateTransfer(
        transfer(await world.agent(), amount=2 * 10**13), metadata=await world.token(rich.api_key)
    )
    assert response.source_balance_micros == 0


# -- THREATS D9: replays -------------------------------------------------------------------------


async def test_d9_a_replayed_request_returns_the_first_answer_and_moves_once(
    world: World,
) -> None:
    alice = await world.funded_agent(5 * CREDIT)
    bob = await world.agent()
    request = transfer(bob, amount=2 * CREDIT)
    metadata = await world.token(alice.api_key)
    first = await world.gateway.CreateTransfer(request, metadata=metadata)
    again = await world.gateway.CreateTransfer(request, metadata=metadata)
    assert again == first
    assert await world.available(bob) == 2 * CREDIT


async def test_d9_the_same_transfer_id_in_a_new_request_is_exists_and_moves_once(
    world: World,
) -> None:
    alice = await world.funded_agent(5 * CREDIT)
    bob = await world.agent()
    transfer_id = rid()
    metadata = await world.token(alice.api_key)
    first = await world.gateway.CreateTransfer(
        transfer(bob, amount=2 * CREDIT, transfer_id=transfer_id), metadata=metadata
    )
    second = await world.gateway.CreateTransfer(
        transfer(bob, amount=2 * CREDIT, transfer_id=transfer_id), metadata=metadata
    )
    assert second.result == wallet_pb2.CREATE_TRANSFER_RESULT_EXISTS
    assert second.transfer == first.transfer
    assert second.source_balance_micros == 3 * CREDIT
    assert await world.available(bob) == 2 * CREDIT


async def test_d9_the_same_transfer_id_with_another_amount_is_a_conflict(
    world: World, rows: Rows
) -> None:
    alice = await world.funded_agent(5 * CREDIT)
    bob = await world.agent()
    transfer_id = rid()
    metadata = await world.token(alice.api_key)
    await world.gateway.CreateTransfer(
        transfer(bob, amount=2 * CREDIT, transfer_id=transfer_id), metadata=metadata
    )
    before = rows.snapshot()
    await refused(
        world.gateway.CreateTransfer(
            transfer(bob, amount=3 * CREDIT, transfer_id=transfer_id), metadata=metadata
        ),
        grpc.StatusCode.ALREADY_EXISTS,
        "EXISTS_WITH_DIFFERENT_AMOUNT",
    )
    assert rows.snapshot() == before
    assert await world.available(bob) == 2 * CREDIT


async def test_d9_a_reused_request_id_with_other_fields_is_request_id_conflict(
    world: World,
) -> None:
    alice = await world.funded_agent(5 * CREDIT)
    bob = await world.agent()
    request_id = rid()
    metadata = await world.token(alice.api_key)
    await world.gateway.CreateTransfer(transfer(bob, request_id=request_id), metadata=metadata)
    await refused(
        world.gateway.CreateTransfer(
            transfer(bob, request_id=request_id, amount=2 * CREDIT), metadata=metadata
        ),
        grpc.StatusCode.ALREADY_EXISTS,
        "REQUEST_ID_CONFLICT",
    )
    assert await world.available(bob) == CREDIT


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("destination", "EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID"),
        ("source", "EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID"),
        ("memo", "EXISTS_WITH_DIFFERENT_MEMO"),
    ],
)
async def test_d9_the_same_transfer_id_with_another_field_names_that_field(
    world: World, change: str, reason: str
) -> None:
    session = await world.session()
    owned = await world.funded_agent(5 * CREDIT, owner=session)
    await world.mint(account_id=session.account_id, amount=5 * CREDIT)
    main = await world.account(wallet_pb2.AccountRef(account_id=session.account_id))
    bob, carol = await world.agent(), await world.agent()
    metadata = await world.token(session.session_token, agent_id=owned.agent_id)
    transfer_id = rid()
    await world.gateway.CreateTransfer(
        transfer(bob, transfer_id=transfer_id, memo="a"), metadata=metadata
    )
    replay = transfer(bob, transfer_id=transfer_id, memo="a")
    if change == "destination":
        replay = transfer(carol, transfer_id=transfer_id, memo="a")
    elif change == "source":
        replay.from_wallet_id = main.ledger_account_id
    else:
        replay.memo = "b"
    await refused(
        world.gateway.CreateTransfer(replay, metadata=metadata),
        grpc.StatusCode.ALREADY_EXISTS,
        reason,
    )


async def test_d9_a_transfer_id_of_someone_elses_transfer_reveals_nothing(world: World) -> None:
    alice = await world.funded_agent(5 * CREDIT)
    mallory = await world.funded_agent(5 * CREDIT)
    bob = await world.agent()
    transfer_id = rid()
    await world.gateway.CreateTransfer(
        transfer(bob, transfer_id=transfer_id), metadata=await world.token(alice.api_key)
    )
    error = await refused(
        world.gateway.CreateTransfer(
            transfer(bob, transfer_id=transfer_id), metadata=await world.token(mallory.api_key)
        ),
        grpc.StatusCode.ALREADY_EXISTS,
        "EXISTS_FOR_OTHER_INITIATOR",
    )
    assert alice.agent_id not in (error.details() or "")
    assert await world.available(mallory) == 5 * CREDIT


# -- every other error path ------------------------------------------------------------------------


async def test_insufficient_funds_is_failed_precondition_and_moves_nothing(
    world: World, rows: Rows
) -> None:
    alice = await world.funded_agent(CREDIT)
    bob = await world.agent()
    metadata = await world.token(alice.api_key)
    before = rows.snapshot()
    await refused(
        world.gateway.CreateTransfer(transfer(bob, amount=CREDIT + 1), metadata=metadata),
        grpc.StatusCode.FAILED_PRECONDITION,
        "INSUFFICIENT_FUNDS",
    )
    assert rows.snapshot() == before


async def test_an_unclaimed_agent_cannot_send(world: World) -> None:
    loner = await world.agent(claimed=False)
    await world.mint(agent=loner, amount=5 * CREDIT)
    await refused(
        world.gateway.CreateTransfer(
            transfer(await world.agent()), metadata=await world.token(loner.api_key)
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "DEBIT_AGENT_NOT_CLAIMED",
    )
    assert await world.available(loner) == 5 * CREDIT


async def test_an_unclaimed_agent_can_still_receive(world: World) -> None:
    loner = await world.agent(claimed=False)
    alice = await world.funded_agent(CREDIT)
    await world.gateway.CreateTransfer(transfer(loner), metadata=await world.token(alice.api_key))
    assert await world.available(loner) == CREDIT


@pytest.mark.parametrize(
    ("field", "value", "code", "reason"),
    [
        ("transfer_id", "not-a-uuid", grpc.StatusCode.INVALID_ARGUMENT, "ID_INVALID"),
        ("transfer_id", "", grpc.StatusCode.INVALID_ARGUMENT, "ID_INVALID"),
        (
            "transfer_id",
            "6F9619FF-8B86-D011-B42D-00C04FC964FF",
            grpc.StatusCode.INVALID_ARGUMENT,
            "ID_INVALID",
        ),
        ("memo", "x" * 501, grpc.StatusCode.INVALID_ARGUMENT, "MEMO_TOO_LONG"),
        ("memo", "nul\x00byte", grpc.StatusCode.INVALID_ARGUMENT, "FIELD_INVALID"),
        ("request_id", "nope", grpc.StatusCode.INVALID_ARGUMENT, "REQUEST_ID_INVALID"),
        ("from_wallet_id", "nope", grpc.StatusCode.INVALID_ARGUMENT, "FIELD_INVALID"),
        ("to_agent_id", "nope", grpc.StatusCode.INVALID_ARGUMENT, "FIELD_INVALID"),
        ("to_wallet_id", "nope", grpc.StatusCode.INVALID_ARGUMENT, "FIELD_INVALID"),
    ],
)
async def test_malformed_fields_are_refused(
    world: World, field: str, value: str, code: grpc.StatusCode, reason: str
) -> None:
    alice = await world.funded_agent(CREDIT)
    request = transfer(await world.agent())
    setattr(request, field, value)
    await refused(
        world.gateway.CreateTransfer(request, metadata=await world.token(alice.api_key)),
        code,
        reason,
    )


async def test_a_memo_of_exactly_500_characters_is_fine(world: World) -> None:
    alice = await world.funded_agent(CREDIT)
    response = await world.gateway.CreateTransfer(
        transfer(await world.agent(), memo="é" * 500), metadata=await world.token(alice.api_key)
    )
    assert response.transfer.memo == "é" * 500


async def test_a_destination_is_required(world: World) -> None:
    alice = await world.funded_agent(CREDIT)
    await refused(
        world.gateway.CreateTransfer(transfer(), metadata=await world.token(alice.api_key)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "DESTINATION_REQUIRED",
    )


async def test_paying_yourself_is_refused(world: World) -> None:
    alice = await world.funded_agent(CREDIT)
    await refused(
        world.gateway.CreateTransfer(transfer(alice), metadata=await world.token(alice.api_key)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "ACCOUNTS_MUST_BE_DIFFERENT",
    )


@pytest.mark.parametrize("kind", ["mint", "treasury", "escrow", "revenue"])
async def test_user_transfers_cannot_pay_system_accounts(world: World, kind: str) -> None:
    alice = await world.funded_agent(CREDIT)
    system = {
        "mint": wallet_pb2.ACCOUNT_KIND_MINT,
        "treasury": wallet_pb2.ACCOUNT_KIND_TREASURY,
        "escrow": wallet_pb2.ACCOUNT_KIND_BOUNTY_ESCROW,
        "revenue": wallet_pb2.ACCOUNT_KIND_PROVIDER_REVENUE,
    }[kind]
    account = await world.account(wallet_pb2.AccountRef(system_account=system))
    await refused(
        world.gateway.CreateTransfer(
            transfer(to_wallet_id=account.ledger_account_id),
            metadata=await world.token(alice.api_key),
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "CREDIT_ACCOUNT_NOT_ALLOWED",
    )


async def test_an_unknown_destination_is_not_found(world: World) -> None:
    alice = await world.funded_agent(CREDIT)
    metadata = await world.token(alice.api_key)
    await refused(
        world.gateway.CreateTransfer(
            transfer(Agent(agent_id=rid(), api_key="", owner=None)), metadata=metadata
        ),
        grpc.StatusCode.NOT_FOUND,
        "CREDIT_ACCOUNT_NOT_FOUND",
    )
    await refused(
        world.gateway.CreateTransfer(transfer(to_wallet_id=rid()), metadata=metadata),
        grpc.StatusCode.NOT_FOUND,
        "CREDIT_ACCOUNT_NOT_FOUND",
    )


async def test_a_wallet_id_is_a_payable_address(world: World) -> None:
    alice = await world.funded_agent(CREDIT)
    bob = await world.agent()
    response = await world.gateway.CreateTransfer(
        transfer(to_wallet_id=bob.wallet_id), metadata=await world.token(alice.api_key)
    )
    assert response.transfer.credit_ledger_account_id == bob.wallet_id


async def test_an_agent_without_a_wallet_cannot_send(
    start_wallet_server: Callable[..., WalletServerHandle],
    auth_server: AuthServerHandle,
    fresh_wallet_database: ServiceDatabase,
) -> None:
    # A ledger of its own, where only the payee's wallet was opened.
    server = start_wallet_server(database=fresh_wallet_database)
    async with world_for(server, auth_server) as world:
        registered = await world.auth.register_agent()
        payee = await world.agent()
        await refused(
            world.gateway.CreateTransfer(
                transfer(payee), metadata=await world.token(registered.api_key)
            ),
            grpc.StatusCode.NOT_FOUND,
            "DEBIT_ACCOUNT_NOT_FOUND",
        )


@pytest.mark.parametrize("family", [auth_pb2.KEY_FAMILY_INFERENCE, auth_pb2.KEY_FAMILY_MANAGEMENT])
async def test_keys_without_agent_write_cannot_transfer(world: World, family: int) -> None:
    alice = await world.funded_agent(CREDIT)
    key = await world.key(alice, family=family)
    error = await refused(
        world.gateway.CreateTransfer(
            transfer(await world.agent()), metadata=await world.token(key.raw)
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "SCOPE_MISSING",
    )
    assert metadata_of(error) == {"scope": "agent:write"}
    assert await world.available(alice) == CREDIT


async def test_a_service_token_presented_by_another_peer_is_invalid(world: World) -> None:
    # A service token acts only for the service it was issued to: ctl's token relayed by the
    # gateway is no credential at all.
    await refused(
        world.gateway.CreateTransfer(
            transfer(await world.agent()), metadata=await world.service_token("ctl")
        ),
        grpc.StatusCode.UNAUTHENTICATED,
        "ACCESS_TOKEN_INVALID",
    )


@pytest.mark.parametrize("peer", ["provider", "review", "ctl", "auth"])
async def test_only_the_gateway_may_call_create_transfer(world: World, peer: str) -> None:
    alice = await world.funded_agent(CREDIT)
    await refused(
        world.stubs[peer].CreateTransfer(
            transfer(await world.agent()), metadata=await world.token(alice.api_key)
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "PEER_NOT_ALLOWED",
    )


async def test_a_missing_token_is_unauthenticated(world: World) -> None:
    await refused(
        world.gateway.CreateTransfer(transfer(await world.agent())),
        grpc.StatusCode.UNAUTHENTICATED,
        "ACCESS_TOKEN_MISSING",
    )

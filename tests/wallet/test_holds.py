"""Holds: two-phase reservations for inference (create, post all or part, overage and shortfall,
void, expiry by the sweeper), key budgets, and every error path."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import grpc
import pytest
from tokenmart.wallet.v1 import wallet_pb2

from ops.database import ServiceDatabase
from tests.conftest import AuthServerHandle, ManualClock, WalletServerHandle
from tests.wallet.helpers import (
    CREDIT,
    Agent,
    Key,
    Metadata,
    Rows,
    World,
    failures,
    refused,
    rid,
    world_for,
)

S = wallet_pb2.HoldStatus
StartWallet = Callable[..., WalletServerHandle]
LONG_TIMEOUT_S = 3600


def create(
    amount: int,
    *,
    hold_id: str | None = None,
    timeout_s: int = LONG_TIMEOUT_S,
    code: int = wallet_pb2.TRANSFER_CODE_INFERENCE,
    reference: str | None = None,
) -> wallet_pb2.CreateHoldRequest:
    return wallet_pb2.CreateHoldRequest(
        request_id=rid(),
        hold_id=hold_id or rid(),
        amount_micros=amount,
        timeout_s=timeout_s,
        code=code,
        reference=reference if reference is not None else rid(),
    )


def post(
    hold_id: str, amount: int, *, post_transfer_id: str | None = None
) -> wallet_pb2.PostHoldRequest:
    return wallet_pb2.PostHoldRequest(
        request_id=rid(),
        hold_id=hold_id,
        post_transfer_id=post_transfer_id or rid(),
        amount_micros=amount,
    )


def void(hold_id: str, *, void_transfer_id: str | None = None) -> wallet_pb2.VoidHoldRequest:
    return wallet_pb2.VoidHoldRequest(
        request_id=rid(), hold_id=hold_id, void_transfer_id=void_transfer_id or rid()
    )


async def spender(
    world: World, funds: int, *, credit_limit_micros: int | None = None
) -> tuple[Agent, Key, Metadata]:
    agent = await world.funded_agent(funds)
    key = await world.key(agent, credit_limit_micros=credit_limit_micros)
    return agent, key, await world.token(key.raw)


async def balances(world: World, agent: Agent) -> tuple[int, int]:
    """(available, pending) of the agent's wallet."""
    account = await world.account(wallet_pb2.AccountRef(agent_id=agent.agent_id))
    return account.available_micros, account.debits_pending_micros


async def test_a_hold_reserves_credits_until_posted(world: World) -> None:
    agent, key, token = await spender(world, 10 * CREDIT)
    request = create(4 * CREDIT)
    created = (await world.provider.CreateHold(request, metadata=token)).hold
    assert created.status == S.HOLD_STATUS_PENDING
    assert (created.hold_id, created.agent_id, created.wallet_id) == (
        request.hold_id,
        agent.agent_id,
        agent.wallet_id,
    )
    assert created.key_id == "" and created.key_budget_account_id == ""  # no credit limit
    assert created.amount_micros == 4 * CREDIT and created.timeout_s == LONG_TIMEOUT_S
    assert created.expires_at.ToSeconds() - created.created_at.ToSeconds() == LONG_TIMEOUT_S
    (pending,) = created.transfers
    assert list(pending.flags) == [wallet_pb2.TRANSFER_FLAG_PENDING]
    assert pending.transfer_id == request.hold_id
    assert pending.initiator.peer_service == "provider"
    assert pending.initiator.key_id == key.key_id
    assert await balances(world, agent) == (6 * CREDIT, 4 * CREDIT)
    posted = await world.provider.PostHold(post(request.hold_id, 3 * CREDIT), metadata=token)
    assert (posted.captured_micros, posted.overage_micros, posted.shortfall_micros) == (
        3 * CREDIT,
        0,
        0,
    )
    assert posted.hold.status == S.HOLD_STATUS_POSTED
    assert posted.hold.posted_micros == 3 * CREDIT
    assert posted.hold.HasField("resolved_at")
    assert [list(item.flags) for item in posted.hold.transfers] == [
        [wallet_pb2.TRANSFER_FLAG_PENDING],
        [wallet_pb2.TRANSFER_FLAG_POST_PENDING],
    ]
    # The unused 1 credit of the hold returned to the wallet.
    assert await balances(world, agent) == (7 * CREDIT, 0)
    revenue = await world.account(
        wallet_pb2.AccountRef(system_account=wallet_pb2.ACCOUNT_KIND_PROVIDER_REVENUE)
    )
    assert revenue.credits_posted_micros >= 3 * CREDIT


async def test_provider_settles_with_its_own_service_token(world: World) -> None:
    agent, _, token = await spender(world, 10 * CREDIT)
    hold = (await world.provider.CreateHold(create(2 * CREDIT), metadata=token)).hold
    posted = await world.provider.PostHold(
        post(hold.hold_id, 2 * CREDIT), metadata=await world.service_token("provider")
    )
    assert posted.hold.transfers[-1].initiator.kind == wallet_pb2.INITIATOR_KIND_SERVICE
    assert await balances(world, agent) == (8 * CREDIT, 0)


async def test_cost_above_the_hold_is_charged_as_overage_and_the_rest_is_shortfall(
    world: World,
) -> None:
    agent, _, token = await spender(world, 5 * CREDIT)
    hold = (await world.provider.CreateHold(create(2 * CREDIT), metadata=token)).hold
    posted = await world.provider.PostHold(post(hold.hold_id, 9 * CREDIT), metadata=token)
    assert (posted.captured_micros, posted.overage_micros, posted.shortfall_micros) == (
        2 * CREDIT,
        3 * CREDIT,
        4 * CREDIT,
    )
    assert (posted.hold.overage_micros, posted.hold.shortfall_micros) == (3 * CREDIT, 4 * CREDIT)
    assert await balances(world, agent) == (0, 0)
    overage = posted.hold.transfers[-1]
    assert list(overage.flags) == [] and overage.amount_micros == 3 * CREDIT


async def test_a_settlement_replayed_with_the_same_post_id_is_charged_once(world: World) -> None:
    agent, _, token = await spender(world, 10 * CREDIT)
    hold = (await world.provider.CreateHold(create(2 * CREDIT), metadata=token)).hold
    post_id = rid()
    first = await world.provider.PostHold(
        post(hold.hold_id, 3 * CREDIT, post_transfer_id=post_id), metadata=token
    )
    # Re-driven after a crash, with a fresh request id and the provider's own token.
    again = await world.provider.PostHold(
        post(hold.hold_id, 3 * CREDIT, post_transfer_id=post_id),
        metadata=await world.service_token("provider"),
    )
    assert (again.captured_micros, again.overage_micros) == (
        first.captured_micros,
        first.overage_micros,
    )
    assert again.hold.transfers == first.hold.transfers
    assert await balances(world, agent) == (7 * CREDIT, 0)
    await refused(
        world.provider.PostHold(
            post(hold.hold_id, 4 * CREDIT, post_transfer_id=post_id), metadata=token
        ),
        grpc.StatusCode.ALREADY_EXISTS,
        "EXISTS_WITH_DIFFERENT_AMOUNT",
    )
    await refused(
        world.provider.PostHold(post(hold.hold_id, 3 * CREDIT), metadata=token),
        grpc.StatusCode.FAILED_PRECONDITION,
        "HOLD_ALREADY_POSTED",
    )


async def test_a_post_transfer_id_settles_one_hold_only(world: World) -> None:
    _, _, token = await spender(world, 10 * CREDIT)
    first = (await world.provider.CreateHold(create(CREDIT), metadata=token)).hold
    second = (await world.provider.CreateHold(create(CREDIT), metadata=token)).hold
    post_id = rid()
    await world.provider.PostHold(
        post(first.hold_id, CREDIT, post_transfer_id=post_id), metadata=token
    )
    await refused(
        world.provider.PostHold(
            post(second.hold_id, CREDIT, post_transfer_id=post_id), metadata=token
        ),
        grpc.StatusCode.ALREADY_EXISTS,
        "EXISTS_WITH_DIFFERENT_PENDING_ID",
    )


async def test_a_post_id_that_is_some_other_transfers_id_is_refused(world: World) -> None:
    agent, _, token = await spender(world, 10 * CREDIT)
    stranger = await world.funded_agent(CREDIT)
    theirs, ours = rid(), rid()
    for payer, transfer_id in ((stranger, theirs), (agent, ours)):
        await world.gateway.CreateTransfer(
            wallet_pb2.CreateTransferRequest(
                request_id=rid(),
                transfer_id=transfer_id,
                to_agent_id=(await world.agent()).agent_id,
                amount_micros=1,
            ),
            metadata=await world.token(payer.api_key),
        )
    hold = (await world.provider.CreateHold(create(CREDIT), metadata=token)).hold
    await refused(
        world.provider.PostHold(
            post(hold.hold_id, CREDIT, post_transfer_id=theirs), metadata=token
        ),
        grpc.StatusCode.ALREADY_EXISTS,
        "EXISTS_FOR_OTHER_INITIATOR",
    )
    # The agent's own earlier transfer: the first field that differs is named (TigerBeetle order).
    await refused(
        world.provider.PostHold(post(hold.hold_id, CREDIT, post_transfer_id=ours), metadata=token),
        grpc.StatusCode.ALREADY_EXISTS,
        "EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID",
    )
    current = await world.provider.GetHold(
        wallet_pb2.GetHoldRequest(hold_id=hold.hold_id), metadata=token
    )
    assert current.hold.status == S.HOLD_STATUS_PENDING


async def test_a_void_returns_everything_and_settles_the_hold(world: World) -> None:
    agent, _, token = await spender(world, 10 * CREDIT)
    hold = (await world.provider.CreateHold(create(4 * CREDIT), metadata=token)).hold
    void_id = rid()
    voided = (
        await world.provider.VoidHold(void(hold.hold_id, void_transfer_id=void_id), metadata=token)
    ).hold
    assert voided.status == S.HOLD_STATUS_VOIDED
    assert voided.transfers[-1].transfer_id == void_id
    assert list(voided.transfers[-1].flags) == [wallet_pb2.TRANSFER_FLAG_VOID_PENDING]
    assert await balances(world, agent) == (10 * CREDIT, 0)
    again = (await world.provider.VoidHold(void(hold.hold_id), metadata=token)).hold
    assert again == voided
    await refused(
        world.provider.PostHold(post(hold.hold_id, CREDIT), metadata=token),
        grpc.StatusCode.FAILED_PRECONDITION,
        "HOLD_ALREADY_VOIDED",
    )


async def test_a_posted_hold_cannot_be_voided(world: World) -> None:
    _, _, token = await spender(world, 10 * CREDIT)
    hold = (await world.provider.CreateHold(create(CREDIT), metadata=token)).hold
    await world.provider.PostHold(post(hold.hold_id, CREDIT), metadata=token)
    await refused(
        world.provider.VoidHold(void(hold.hold_id), metadata=token),
        grpc.StatusCode.FAILED_PRECONDITION,
        "HOLD_ALREADY_POSTED",
    )


async def test_a_void_transfer_id_voids_one_hold_only(world: World) -> None:
    _, _, token = await spender(world, 10 * CREDIT)
    first = (await world.provider.CreateHold(create(CREDIT), metadata=token)).hold
    second = (await world.provider.CreateHold(create(CREDIT), metadata=token)).hold
    void_id = rid()
    await world.provider.VoidHold(void(first.hold_id, void_transfer_id=void_id), metadata=token)
    await refused(
        world.provider.VoidHold(void(second.hold_id, void_transfer_id=void_id), metadata=token),
        grpc.StatusCode.ALREADY_EXISTS,
        "EXISTS_WITH_DIFFERENT_PENDING_ID",
    )


async def test_holds_cannot_overdraw_the_wallet(world: World, rows: Rows) -> None:
    agent, _, token = await spender(world, 5 * CREDIT)
    await world.provider.CreateHold(create(3 * CREDIT), metadata=token)
    before = rows.snapshot()
    await refused(
        world.provider.CreateHold(create(3 * CREDIT), metadata=token),
        grpc.StatusCode.FAILED_PRECONDITION,
        "INSUFFICIENT_FUNDS",
    )
    assert rows.snapshot() == before
    assert await balances(world, agent) == (2 * CREDIT, 3 * CREDIT)


async def test_a_hold_id_is_an_idempotency_key(world: World) -> None:
    agent, _, token = await spender(world, 10 * CREDIT)
    request = create(2 * CREDIT)
    first = (await world.provider.CreateHold(request, metadata=token)).hold
    request.request_id = rid()
    again = (await world.provider.CreateHold(request, metadata=token)).hold
    assert again == first
    assert await balances(world, agent) == (8 * CREDIT, 2 * CREDIT)
    for change, reason in (
        ("amount_micros", "EXISTS_WITH_DIFFERENT_AMOUNT"),
        ("timeout_s", "EXISTS_WITH_DIFFERENT_TIMEOUT"),
        ("code", "EXISTS_WITH_DIFFERENT_CODE"),
        ("reference", "EXISTS_WITH_DIFFERENT_REFERENCE"),
    ):
        changed = wallet_pb2.CreateHoldRequest()
        changed.CopyFrom(request)
        changed.request_id = rid()
        if change == "amount_micros":
            changed.amount_micros += 1
        elif change == "timeout_s":
            changed.timeout_s -= 1
        elif change == "code":
            changed.code = wallet_pb2.TRANSFER_CODE_PLATFORM_FEE
        else:
            changed.reference = "other"
        await refused(
            world.provider.CreateHold(changed, metadata=token),
            grpc.StatusCode.ALREADY_EXISTS,
            reason,
        )
    _, _, other = await spender(world, 10 * CREDIT)
    request.request_id = rid()
    await refused(
        world.provider.CreateHold(request, metadata=other),
        grpc.StatusCode.ALREADY_EXISTS,
        "EXISTS_FOR_OTHER_INITIATOR",
    )


async def test_a_hold_is_visible_only_to_its_token_provider_and_the_operator(
    world: World,
) -> None:
    _, _, token = await spender(world, 10 * CREDIT)
    _, _, stranger = await spender(world, 10 * CREDIT)
    hold = (await world.provider.CreateHold(create(CREDIT), metadata=token)).hold
    request = wallet_pb2.GetHoldRequest(hold_id=hold.hold_id)
    assert (await world.provider.GetHold(request, metadata=token)).hold == hold
    assert (
        await world.provider.GetHold(request, metadata=await world.service_token("provider"))
    ).hold == hold
    assert (
        await world.ctl.GetHold(request, metadata=await world.service_token("ctl"))
    ).hold == hold
    for call in (
        world.provider.GetHold(request, metadata=stranger),
        world.provider.PostHold(post(hold.hold_id, CREDIT), metadata=stranger),
        world.provider.VoidHold(void(hold.hold_id), metadata=stranger),
        world.provider.GetHold(wallet_pb2.GetHoldRequest(hold_id=rid()), metadata=token),
        world.provider.GetHold(wallet_pb2.GetHoldRequest(hold_id="nope"), metadata=token),
    ):
        await refused(call, grpc.StatusCode.NOT_FOUND, "HOLD_NOT_FOUND")


async def test_only_inference_tokens_place_holds(world: World) -> None:
    agent = await world.funded_agent(10 * CREDIT)
    await refused(
        world.provider.CreateHold(create(CREDIT), metadata=await world.token(agent.api_key)),
        grpc.StatusCode.PERMISSION_DENIED,
        "SCOPE_MISSING",
    )
    await refused(
        world.provider.CreateHold(create(CREDIT), metadata=await world.service_token("provider")),
        grpc.StatusCode.PERMISSION_DENIED,
        "SCOPE_MISSING",
    )


@pytest.mark.parametrize("peer", ["gateway", "review", "ctl", "auth"])
async def test_only_provider_may_call_the_hold_rpcs(world: World, peer: str) -> None:
    _, _, token = await spender(world, 10 * CREDIT)
    stub = world.stubs[peer]
    for call in (
        stub.CreateHold(create(CREDIT), metadata=token),
        stub.PostHold(post(rid(), CREDIT), metadata=token),
        stub.VoidHold(void(rid()), metadata=token),
    ):
        await refused(call, grpc.StatusCode.PERMISSION_DENIED, "PEER_NOT_ALLOWED")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("hold_id", "ID_INVALID"),
        ("zero", "AMOUNT_MUST_BE_POSITIVE"),
        ("huge", "AMOUNT_TOO_LARGE"),
        ("timeout_zero", "TIMEOUT_INVALID"),
        ("timeout_long", "TIMEOUT_INVALID"),
        ("code", "CODE_NOT_ALLOWED"),
        ("unspecified", "ENUM_VALUE_UNSPECIFIED"),
        ("reference", "REFERENCE_TOO_LONG"),
    ],
)
async def test_malformed_holds_are_invalid(world: World, change: str, reason: str) -> None:
    agent, _, token = await spender(world, 10 * CREDIT)
    request = create(CREDIT)
    if change == "hold_id":
        request.hold_id = "x"
    elif change == "zero":
        request.amount_micros = 0
    elif change == "huge":
        request.amount_micros = 10**15 + 1
    elif change == "timeout_zero":
        request.timeout_s = 0
    elif change == "timeout_long":
        request.timeout_s = 3601
    elif change == "code":
        request.code = wallet_pb2.TRANSFER_CODE_TRANSFER
    elif change == "unspecified":
        request.code = wallet_pb2.TRANSFER_CODE_UNSPECIFIED
    else:
        request.reference = "r" * 129
    await refused(
        world.provider.CreateHold(request, metadata=token), grpc.StatusCode.INVALID_ARGUMENT, reason
    )
    assert await balances(world, agent) == (10 * CREDIT, 0)


@pytest.mark.parametrize(
    ("rpc", "change", "reason"),
    [
        ("post", "hold_id", "ID_INVALID"),
        ("post", "post_transfer_id", "ID_INVALID"),
        ("post", "zero", "AMOUNT_MUST_BE_POSITIVE"),
        ("post", "huge", "AMOUNT_TOO_LARGE"),
        ("void", "hold_id", "ID_INVALID"),
        ("void", "void_transfer_id", "ID_INVALID"),
    ],
)
async def test_malformed_settlements_are_invalid(
    world: World, rpc: str, change: str, reason: str
) -> None:
    _, _, token = await spender(world, 10 * CREDIT)
    hold = (await world.provider.CreateHold(create(CREDIT), metadata=token)).hold
    if rpc == "post":
        request = post(hold.hold_id, CREDIT)
        if change in ("hold_id", "post_transfer_id"):
            setattr(request, change, "x")
        else:
            request.amount_micros = 0 if change == "zero" else 10**15 + 1
        call = world.provider.PostHold(request, metadata=token)
    else:
        request_void = void(hold.hold_id)
        setattr(request_void, change, "x")
        call = world.provider.VoidHold(request_void, metadata=token)
    await refused(call, grpc.StatusCode.INVALID_ARGUMENT, reason)


async def test_an_agent_without_a_wallet_cannot_hold(
    start_wallet_server: StartWallet,
    auth_server: AuthServerHandle,
    fresh_wallet_database: ServiceDatabase,
) -> None:
    # A ledger of its own, where this agent's wallet was never opened.
    server = start_wallet_server(database=fresh_wallet_database)
    async with world_for(server, auth_server) as world:
        session = await world.auth.new_session()
        registered = await world.auth.register_agent()
        await world.auth.claim(session, registered)
        agent = Agent(agent_id=registered.agent_id, api_key=registered.api_key, owner=session)
        key = await world.key(agent)
        await refused(
            world.provider.CreateHold(create(CREDIT), metadata=await world.token(key.raw)),
            grpc.StatusCode.NOT_FOUND,
            "WALLET_NOT_FOUND",
        )


# -- key budgets ---------------------------------------------------------------------------------


async def test_a_keys_credit_limit_is_held_as_a_linked_budget(world: World) -> None:
    agent, key, token = await spender(world, 100 * CREDIT, credit_limit_micros=10 * CREDIT)
    hold = (await world.provider.CreateHold(create(6 * CREDIT), metadata=token)).hold
    assert hold.key_id == key.key_id and hold.key_budget_account_id
    assert [list(item.flags) for item in hold.transfers] == [
        [wallet_pb2.TRANSFER_FLAG_LINKED, wallet_pb2.TRANSFER_FLAG_PENDING],
        [wallet_pb2.TRANSFER_FLAG_PENDING],
    ]
    assert hold.transfers[1].transfer_id == str(uuid.uuid5(uuid.UUID(hold.hold_id), "key-budget"))
    budget = await world.account(
        wallet_pb2.AccountRef(ledger_account_id=hold.key_budget_account_id)
    )
    assert budget.kind == wallet_pb2.ACCOUNT_KIND_KEY_BUDGET
    assert budget.ledger == wallet_pb2.LEDGER_KEY_BUDGET
    assert (budget.limit_micros, budget.available_micros) == (10 * CREDIT, 4 * CREDIT)
    await refused(
        world.provider.CreateHold(create(5 * CREDIT), metadata=token),
        grpc.StatusCode.FAILED_PRECONDITION,
        "KEY_BUDGET_EXCEEDED",
    )
    # Posting less returns the rest to both the wallet and the budget.
    await world.provider.PostHold(post(hold.hold_id, 2 * CREDIT), metadata=token)
    budget = await world.account(
        wallet_pb2.AccountRef(ledger_account_id=hold.key_budget_account_id)
    )
    assert budget.available_micros == 8 * CREDIT
    assert await balances(world, agent) == (98 * CREDIT, 0)


async def test_overage_is_bounded_by_the_key_budget(world: World) -> None:
    agent, _, token = await spender(world, 100 * CREDIT, credit_limit_micros=5 * CREDIT)
    hold = (await world.provider.CreateHold(create(2 * CREDIT), metadata=token)).hold
    posted = await world.provider.PostHold(post(hold.hold_id, 9 * CREDIT), metadata=token)
    assert (posted.captured_micros, posted.overage_micros, posted.shortfall_micros) == (
        2 * CREDIT,
        3 * CREDIT,
        4 * CREDIT,
    )
    assert await balances(world, agent) == (95 * CREDIT, 0)


async def test_a_changed_credit_limit_applies_from_the_next_hold(world: World) -> None:
    _, key, token = await spender(world, 100 * CREDIT, credit_limit_micros=10 * CREDIT)
    first = (await world.provider.CreateHold(create(6 * CREDIT), metadata=token)).hold
    await world.set_credit_limit(key, 5 * CREDIT)
    lowered = await world.token(key.raw)
    # 6 of the new 5 are already held: nothing is left.
    await refused(
        world.provider.CreateHold(create(1), metadata=lowered),
        grpc.StatusCode.FAILED_PRECONDITION,
        "KEY_BUDGET_EXCEEDED",
    )
    await world.provider.VoidHold(void(first.hold_id), metadata=lowered)
    second = (await world.provider.CreateHold(create(5 * CREDIT), metadata=lowered)).hold
    budget = await world.account(
        wallet_pb2.AccountRef(ledger_account_id=second.key_budget_account_id)
    )
    assert (budget.limit_micros, budget.available_micros) == (5 * CREDIT, 0)
    await world.set_credit_limit(key, 8 * CREDIT)
    raised = await world.token(key.raw)
    third = (await world.provider.CreateHold(create(3 * CREDIT), metadata=raised)).hold
    assert third.status == S.HOLD_STATUS_PENDING
    await refused(
        world.provider.CreateHold(create(1), metadata=raised),
        grpc.StatusCode.FAILED_PRECONDITION,
        "KEY_BUDGET_EXCEEDED",
    )


# -- expiry --------------------------------------------------------------------------------------


async def test_the_sweeper_voids_expired_holds_as_wallet(
    start_wallet_server: StartWallet,
    auth_server: AuthServerHandle,
    fresh_wallet_database: ServiceDatabase,
) -> None:
    clock = ManualClock()
    server = start_wallet_server(clock=clock, sweeper=False, database=fresh_wallet_database)
    async with world_for(server, auth_server) as world:
        agent, _, token = await spender(world, 10 * CREDIT, credit_limit_micros=10 * CREDIT)
        hold = (
            await world.provider.CreateHold(create(4 * CREDIT, timeout_s=60), metadata=token)
        ).hold
        clock.advance(59)
        assert server.sweep() == 0
        clock.advance(1)
        assert await asyncio.to_thread(server.sweep) >= 1
        swept = (
            await world.provider.GetHold(
                wallet_pb2.GetHoldRequest(hold_id=hold.hold_id), metadata=token
            )
        ).hold
        assert swept.status == S.HOLD_STATUS_EXPIRED
        expiries = swept.transfers[2:]
        assert [item.initiator.kind for item in expiries] == [wallet_pb2.INITIATOR_KIND_WALLET] * 2
        assert [item.initiator.peer_service for item in expiries] == ["wallet"] * 2
        assert await balances(world, agent) == (10 * CREDIT, 0)
        # Voiding an expired hold succeeds and returns it; posting charges the cost as overage.
        assert (await world.provider.VoidHold(void(hold.hold_id), metadata=token)).hold == swept
        late = await world.provider.PostHold(post(hold.hold_id, 3 * CREDIT), metadata=token)
        assert (late.captured_micros, late.overage_micros, late.shortfall_micros) == (
            0,
            3 * CREDIT,
            0,
        )
        assert late.hold.status == S.HOLD_STATUS_EXPIRED
        assert await balances(world, agent) == (7 * CREDIT, 0)
        verified = await world.verify()
        assert verified.ok, failures(verified)


async def test_an_expired_hold_is_never_posted_even_before_the_sweeper_runs(
    start_wallet_server: StartWallet,
    auth_server: AuthServerHandle,
    fresh_wallet_database: ServiceDatabase,
) -> None:
    clock = ManualClock()
    server = start_wallet_server(clock=clock, sweeper=False, database=fresh_wallet_database)
    async with world_for(server, auth_server) as world:
        agent, _, token = await spender(world, 5 * CREDIT)
        hold = (
            await world.provider.CreateHold(create(4 * CREDIT, timeout_s=30), metadata=token)
        ).hold
        clock.advance(30)
        late = await world.provider.PostHold(post(hold.hold_id, 2 * CREDIT), metadata=token)
        assert (late.captured_micros, late.overage_micros, late.shortfall_micros) == (
            0,
            2 * CREDIT,
            0,
        )
        assert late.hold.status == S.HOLD_STATUS_EXPIRED
        flags = [list(item.flags) for item in late.hold.transfers]
        assert flags == [
            [wallet_pb2.TRANSFER_FLAG_PENDING],
            [wallet_pb2.TRANSFER_FLAG_VOID_PENDING],
            [],
        ]
        assert await balances(world, agent) == (3 * CREDIT, 0)
        assert server.sweep() == 0
        verified = await world.verify()
        assert verified.ok, failures(verified)
        # A void after expiry also reports it expired (whoever notices first).
        other = (await world.provider.CreateHold(create(CREDIT, timeout_s=30), metadata=token)).hold
        clock.advance(30)
        voided = (await world.provider.VoidHold(void(other.hold_id), metadata=token)).hold
        assert voided.status == S.HOLD_STATUS_EXPIRED


async def test_replicas_sweeping_together_void_each_hold_once(
    start_wallet_server: StartWallet,
    auth_server: AuthServerHandle,
    fresh_wallet_database: ServiceDatabase,
) -> None:
    clock = ManualClock()
    rows = Rows(fresh_wallet_database.owner_url)
    replicas = [
        start_wallet_server(
            clock=clock,
            sweeper=False,
            database=fresh_wallet_database,
            env={"SWEEP_BATCH_SIZE": "7"},
        )
        for _ in range(3)
    ]
    async with world_for(replicas[0], auth_server) as world:
        agent, _, token = await spender(world, 100 * CREDIT, credit_limit_micros=100 * CREDIT)
        holds = [
            (await world.provider.CreateHold(create(CREDIT, timeout_s=5), metadata=token)).hold
            for _ in range(40)
        ]
        clock.advance(5)
        swept = await asyncio.gather(*(asyncio.to_thread(replica.sweep) for replica in replicas))
        assert sum(swept) == len(holds)
        for hold in holds:
            resolutions = rows.value(
                "SELECT count(*) FROM transfers WHERE pending_id = %s", uuid.UUID(hold.hold_id)
            )
            assert resolutions == 1
        assert await balances(world, agent) == (100 * CREDIT, 0)
        pending = rows.value(
            "SELECT count(*) FROM holds WHERE status = 'pending' AND expires_at <= %s", clock()
        )
        assert pending == 0
        verified = await world.verify()
        assert verified.ok, failures(verified)

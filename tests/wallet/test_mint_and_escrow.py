"""Mint (admin sessions and the operator only; THREATS M4 at the wallet) and escrow transfers
(review's payouts with fixed account pairings)."""

from __future__ import annotations

import grpc
import pytest
from tokenmart.wallet.v1 import wallet_pb2

from tests.auth.helpers import metadata_of
from tests.wallet.helpers import CREDIT, Rows, World, refused, rid

TREASURY = wallet_pb2.AccountRef(system_account=wallet_pb2.ACCOUNT_KIND_TREASURY)
ESCROW = wallet_pb2.AccountRef(system_account=wallet_pb2.ACCOUNT_KIND_BOUNTY_ESCROW)


def mint(
    to: wallet_pb2.AccountRef | None,
    amount: int = CREDIT,
    *,
    reason: str = "grant",
    transfer_id: str | None = None,
) -> wallet_pb2.MintRequest:
    request = wallet_pb2.MintRequest(
        request_id=rid(), transfer_id=transfer_id or rid(), amount_micros=amount, reason=reason
    )
    if to is not None:
        request.to.CopyFrom(to)
    return request


async def test_an_admin_session_grants_to_an_agent_through_the_gateway(world: World) -> None:
    admin = await world.admin()
    agent = await world.agent()
    response = await world.gateway.Mint(
        mint(wallet_pb2.AccountRef(agent_id=agent.agent_id), 7 * CREDIT, reason="welcome"),
        metadata=await world.token(admin.session_token),
    )
    assert response.result == wallet_pb2.CREATE_TRANSFER_RESULT_OK
    assert response.balance_micros == 7 * CREDIT
    granted = response.transfer
    assert granted.code == wallet_pb2.TRANSFER_CODE_GRANT
    assert granted.memo == "welcome"
    assert granted.initiator.kind == wallet_pb2.INITIATOR_KIND_ACCOUNT
    assert granted.initiator.account_id == admin.account_id
    mint_account = await world.account(
        wallet_pb2.AccountRef(system_account=wallet_pb2.ACCOUNT_KIND_MINT)
    )
    assert granted.debit_ledger_account_id == mint_account.ledger_account_id


async def test_the_operator_funds_the_treasury(world: World) -> None:
    before = (await world.account(TREASURY)).available_micros
    response = await world.ctl.Mint(
        mint(TREASURY, 50 * CREDIT), metadata=await world.service_token("ctl")
    )
    assert response.transfer.code == wallet_pb2.TRANSFER_CODE_TREASURY_FUNDING
    assert response.transfer.initiator.kind == wallet_pb2.INITIATOR_KIND_SERVICE
    assert response.transfer.initiator.peer_service == "ctl"
    assert response.balance_micros == before + 50 * CREDIT


async def test_a_mint_replayed_with_the_same_transfer_id_is_exists(world: World) -> None:
    agent = await world.agent()
    metadata = await world.service_token("ctl")
    transfer_id = rid()
    to = wallet_pb2.AccountRef(agent_id=agent.agent_id)
    await world.ctl.Mint(mint(to, transfer_id=transfer_id), metadata=metadata)
    again = await world.ctl.Mint(mint(to, transfer_id=transfer_id), metadata=metadata)
    assert again.result == wallet_pb2.CREATE_TRANSFER_RESULT_EXISTS
    await refused(
        world.ctl.Mint(mint(to, 2 * CREDIT, transfer_id=transfer_id), metadata=metadata),
        grpc.StatusCode.ALREADY_EXISTS,
        "EXISTS_WITH_DIFFERENT_AMOUNT",
    )
    assert await world.available(agent) == CREDIT


async def test_m4_an_admin_owned_agents_key_cannot_mint(world: World, rows: Rows) -> None:
    admin = await world.admin()
    agent = await world.agent(owner=admin)
    target = wallet_pb2.AccountRef(agent_id=agent.agent_id)
    metadata = await world.token(agent.api_key)
    before = rows.snapshot()
    error = await refused(
        world.gateway.Mint(mint(target), metadata=metadata),
        grpc.StatusCode.PERMISSION_DENIED,
        "SCOPE_MISSING",
    )
    assert metadata_of(error) == {"scope": "admin"}
    assert rows.snapshot() == before


async def test_m4_a_user_session_cannot_mint(world: World) -> None:
    session = await world.session()
    await refused(
        world.gateway.Mint(
            mint(wallet_pb2.AccountRef(account_id=session.account_id)),
            metadata=await world.token(session.session_token),
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "SCOPE_MISSING",
    )


async def test_reviews_service_token_cannot_mint(world: World) -> None:
    await refused(
        world.review.Mint(mint(TREASURY), metadata=await world.service_token("review")),
        grpc.StatusCode.PERMISSION_DENIED,
        "SCOPE_MISSING",
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("id", "ID_INVALID"),
        ("zero", "AMOUNT_MUST_BE_POSITIVE"),
        ("above_mint_max", "AMOUNT_TOO_LARGE"),
        ("no_reason", "REASON_REQUIRED"),
        ("blank_reason", "REASON_REQUIRED"),
        ("long_reason", "REASON_REQUIRED"),
        ("nul_reason", "FIELD_INVALID"),
        ("no_target", "ACCOUNT_REF_REQUIRED"),
        ("malformed_target", "FIELD_INVALID"),
        ("unspecified_system", "ENUM_VALUE_UNSPECIFIED"),
    ],
)
async def test_malformed_mints_are_invalid(world: World, change: str, reason: str) -> None:
    agent = await world.agent()
    request = mint(wallet_pb2.AccountRef(agent_id=agent.agent_id))
    if change == "id":
        request.transfer_id = "nope"
    elif change == "zero":
        request.amount_micros = 0
    elif change == "above_mint_max":
        request.amount_micros = 10**13 + 1
    elif change == "no_reason":
        request.reason = ""
    elif change == "blank_reason":
        request.reason = "   "
    elif change == "long_reason":
        request.reason = "r" * 501
    elif change == "nul_reason":
        request.reason = "a\x00b"
    elif change == "no_target":
        request.ClearField("to")
    elif change == "malformed_target":
        request.to.agent_id = "not-a-uuid"
    else:
        request.to.system_account = wallet_pb2.ACCOUNT_KIND_UNSPECIFIED
    await refused(
        world.ctl.Mint(request, metadata=await world.service_token("ctl")),
        grpc.StatusCode.INVALID_ARGUMENT,
        reason,
    )
    assert await world.available(agent) == 0


@pytest.mark.parametrize(
    "kind",
    [
        wallet_pb2.ACCOUNT_KIND_BOUNTY_ESCROW,
        wallet_pb2.ACCOUNT_KIND_PROVIDER_REVENUE,
        wallet_pb2.ACCOUNT_KIND_MINT,
        wallet_pb2.ACCOUNT_KIND_KEY_BUDGET_SOURCE,
    ],
)
async def test_minting_into_system_accounts_other_than_the_treasury_is_refused(
    world: World, rows: Rows, kind: int
) -> None:
    metadata = await world.service_token("ctl")
    before = rows.snapshot()
    await refused(
        world.ctl.Mint(mint(wallet_pb2.AccountRef(system_account=kind)), metadata=metadata),
        grpc.StatusCode.PERMISSION_DENIED,
        "CREDIT_ACCOUNT_NOT_ALLOWED",
    )
    assert rows.snapshot() == before


async def test_minting_to_a_wallet_that_was_never_opened_is_not_found(world: World) -> None:
    await refused(
        world.ctl.Mint(
            mint(wallet_pb2.AccountRef(agent_id=rid())), metadata=await world.service_token("ctl")
        ),
        grpc.StatusCode.NOT_FOUND,
        "CREDIT_ACCOUNT_NOT_FOUND",
    )


# -- escrow --------------------------------------------------------------------------------------


def escrow_item(
    code: int,
    debit: wallet_pb2.AccountRef,
    credit: wallet_pb2.AccountRef,
    amount: int = CREDIT,
    *,
    linked: bool = False,
) -> wallet_pb2.TransferInput:
    return wallet_pb2.TransferInput(
        transfer_id=rid(),
        debit=debit,
        credit=credit,
        amount_micros=amount,
        code=code,
        reference=f"bounty-{rid()}",
        linked=linked,
    )


def escrow_batch(*items: wallet_pb2.TransferInput) -> wallet_pb2.CreateEscrowTransfersRequest:
    return wallet_pb2.CreateEscrowTransfersRequest(request_id=rid(), transfers=list(items))


async def test_a_bounty_is_escrowed_with_the_admins_token_and_paid_out_by_review(
    world: World,
) -> None:
    await world.ctl.Mint(mint(TREASURY, 100 * CREDIT), metadata=await world.service_token("ctl"))
    admin = await world.admin()
    submitter, reviewer = await world.agent(), await world.agent()
    funded = await world.review.CreateEscrowTransfers(
        escrow_batch(
            escrow_item(wallet_pb2.TRANSFER_CODE_BOUNTY_ESCROW, TREASURY, ESCROW, 10 * CREDIT)
        ),
        metadata=await world.token(admin.session_token),
    )
    assert funded.all_succeeded
    assert funded.outcomes[0].transfer.initiator.peer_service == "review"
    payout = await world.review.CreateEscrowTransfers(
        escrow_batch(
            escrow_item(
                wallet_pb2.TRANSFER_CODE_BOUNTY_REWARD,
                ESCROW,
                wallet_pb2.AccountRef(agent_id=submitter.agent_id),
                7 * CREDIT,
                linked=True,
            ),
            escrow_item(
                wallet_pb2.TRANSFER_CODE_REVIEW_REWARD,
                ESCROW,
                wallet_pb2.AccountRef(agent_id=reviewer.agent_id),
                2 * CREDIT,
                linked=True,
            ),
            escrow_item(wallet_pb2.TRANSFER_CODE_REFUND, ESCROW, TREASURY, CREDIT),
        ),
        metadata=await world.service_token("review"),
    )
    assert payout.all_succeeded
    assert payout.outcomes[0].transfer.initiator.kind == wallet_pb2.INITIATOR_KIND_SERVICE
    assert (await world.available(submitter), await world.available(reviewer)) == (
        7 * CREDIT,
        2 * CREDIT,
    )


async def test_funding_escrow_without_an_admin_token_is_scope_missing(world: World) -> None:
    error = await refused(
        world.review.CreateEscrowTransfers(
            escrow_batch(escrow_item(wallet_pb2.TRANSFER_CODE_BOUNTY_ESCROW, TREASURY, ESCROW)),
            metadata=await world.service_token("review"),
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "SCOPE_MISSING",
    )
    assert metadata_of(error) == {"scope": "admin"}


async def test_a_user_token_cannot_pay_out_escrow(world: World) -> None:
    agent = await world.agent()
    await refused(
        world.review.CreateEscrowTransfers(
            escrow_batch(
                escrow_item(
                    wallet_pb2.TRANSFER_CODE_BOUNTY_REWARD,
                    ESCROW,
                    wallet_pb2.AccountRef(agent_id=agent.agent_id),
                )
            ),
            metadata=await world.token(agent.api_key),
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "SCOPE_MISSING",
    )


async def test_escrow_pairings_and_codes_are_enforced_per_transfer(world: World) -> None:
    agent, other = await world.funded_agent(5 * CREDIT), await world.agent()
    wallet = wallet_pb2.AccountRef(agent_id=agent.agent_id)
    response = await world.review.CreateEscrowTransfers(
        escrow_batch(
            escrow_item(wallet_pb2.TRANSFER_CODE_BOUNTY_REWARD, wallet, ESCROW),
            escrow_item(wallet_pb2.TRANSFER_CODE_REFUND, ESCROW, wallet),
            escrow_item(
                wallet_pb2.TRANSFER_CODE_TRANSFER,
                wallet,
                wallet_pb2.AccountRef(agent_id=other.agent_id),
            ),
            escrow_item(wallet_pb2.TRANSFER_CODE_GRANT, TREASURY, wallet),
        ),
        metadata=await world.service_token("review"),
    )
    assert [
        wallet_pb2.CreateTransferResult.Name(outcome.result) for outcome in response.outcomes
    ] == [
        "CREATE_TRANSFER_RESULT_DEBIT_ACCOUNT_NOT_ALLOWED",
        "CREATE_TRANSFER_RESULT_CREDIT_ACCOUNT_NOT_ALLOWED",
        "CREATE_TRANSFER_RESULT_CODE_NOT_ALLOWED",
        "CREATE_TRANSFER_RESULT_CODE_NOT_ALLOWED",
    ]
    assert await world.available(agent) == 5 * CREDIT


async def test_escrow_batches_are_bounded(world: World) -> None:
    metadata = await world.service_token("review")
    await refused(
        world.review.CreateEscrowTransfers(escrow_batch(), metadata=metadata),
        grpc.StatusCode.INVALID_ARGUMENT,
        "BATCH_EMPTY",
    )
    await refused(
        world.review.CreateEscrowTransfers(
            escrow_batch(
                *(
                    escrow_item(wallet_pb2.TRANSFER_CODE_REFUND, ESCROW, TREASURY)
                    for _ in range(101)
                )
            ),
            metadata=metadata,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "BATCH_TOO_LARGE",
    )
    same = escrow_item(wallet_pb2.TRANSFER_CODE_REFUND, ESCROW, TREASURY)
    await refused(
        world.review.CreateEscrowTransfers(escrow_batch(same, same), metadata=metadata),
        grpc.StatusCode.INVALID_ARGUMENT,
        "DUPLICATE_TRANSFER_ID",
    )


async def test_escrow_cannot_be_overdrawn(world: World) -> None:
    agent = await world.agent()
    escrow = await world.account(ESCROW)
    response = await world.review.CreateEscrowTransfers(
        escrow_batch(
            escrow_item(
                wallet_pb2.TRANSFER_CODE_BOUNTY_REWARD,
                ESCROW,
                wallet_pb2.AccountRef(agent_id=agent.agent_id),
                escrow.available_micros + 1,
            )
        ),
        metadata=await world.service_token("review"),
    )
    assert response.outcomes[0].result == wallet_pb2.CREATE_TRANSFER_RESULT_INSUFFICIENT_FUNDS

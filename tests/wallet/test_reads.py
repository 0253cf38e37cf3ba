"""Opening wallets (auth and ctl only, race-safe) and reading balances, accounts and transfers
(own wallets only, admins and ctl everything; reads never create wallets)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import grpc
from google.protobuf import timestamp_pb2
from tokenmart.wallet.v1 import wallet_pb2

from ops.database import ServiceDatabase
from tests.conftest import AuthServerHandle, WalletServerHandle
from tests.wallet.helpers import CREDIT, Rows, World, refused, rid, world_for


def ensure(*, agent_id: str = "", account_id: str = "") -> wallet_pb2.EnsureWalletRequest:
    request = wallet_pb2.EnsureWalletRequest(request_id=rid())
    if agent_id:
        request.agent_id = agent_id
    if account_id:
        request.account_id = account_id
    return request


# -- EnsureWallet --------------------------------------------------------------------------------


async def test_registration_opens_the_wallets_of_agents_and_accounts(world: World) -> None:
    registered = await world.auth.register_agent()
    session = await world.auth.new_session()
    agent_balance = await world.gateway.GetBalance(
        wallet_pb2.GetBalanceRequest(), metadata=await world.token(registered.api_key)
    )
    account_balance = await world.gateway.GetBalance(
        wallet_pb2.GetBalanceRequest(), metadata=await world.token(session.session_token)
    )
    assert agent_balance.wallet.agent_id == registered.agent_id
    assert account_balance.wallet.account_id == session.account_id
    assert agent_balance.balance_micros == account_balance.balance_micros == 0


async def test_ensure_wallet_opens_once_and_then_returns_the_wallet(world: World) -> None:
    # Wallet trusts auth's service token for who exists: any owner id may be opened.
    agent_id = rid()
    metadata = await world.auth_service_token()
    first = await world.from_auth.EnsureWallet(ensure(agent_id=agent_id), metadata=metadata)
    again = await world.from_auth.EnsureWallet(ensure(agent_id=agent_id), metadata=metadata)
    assert first.created and not again.created
    assert again.wallet == first.wallet
    wallet = first.wallet
    assert wallet.kind == wallet_pb2.ACCOUNT_KIND_AGENT_WALLET
    assert wallet.agent_id == agent_id
    assert list(wallet.flags) == [wallet_pb2.ACCOUNT_FLAG_DEBITS_MUST_NOT_EXCEED_CREDITS]
    assert (wallet.available_micros, wallet.transfer_count, wallet.chain_head_hash) == (0, 0, b"")


async def test_ctl_opens_an_account_wallet(world: World) -> None:
    account_id = rid()
    response = await world.ctl.EnsureWallet(
        ensure(account_id=account_id), metadata=await world.service_token("ctl")
    )
    assert response.created
    assert response.wallet.kind == wallet_pb2.ACCOUNT_KIND_ACCOUNT_WALLET
    assert response.wallet.account_id == account_id


async def test_concurrent_opens_of_one_wallet_create_one(world: World, rows: Rows) -> None:
    agent_id = rid()
    metadata = await world.auth_service_token()
    responses = await asyncio.gather(
        *(
            world.from_auth.EnsureWallet(ensure(agent_id=agent_id), metadata=metadata)
            for _ in range(20)
        )
    )
    assert sum(response.created for response in responses) == 1
    assert len({response.wallet.ledger_account_id for response in responses}) == 1
    assert rows.value("SELECT count(*) FROM ledger_accounts WHERE agent_id = %s", agent_id) == 1


async def test_ensure_wallet_errors(world: World) -> None:
    metadata = await world.auth_service_token()
    await refused(
        world.from_auth.EnsureWallet(ensure(), metadata=metadata),
        grpc.StatusCode.INVALID_ARGUMENT,
        "OWNER_REQUIRED",
    )
    await refused(
        world.from_auth.EnsureWallet(ensure(agent_id="nope"), metadata=metadata),
        grpc.StatusCode.INVALID_ARGUMENT,
        "OWNER_ID_INVALID",
    )
    await refused(
        world.from_auth.EnsureWallet(
            wallet_pb2.EnsureWalletRequest(request_id="x", agent_id=rid()), metadata=metadata
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "REQUEST_ID_INVALID",
    )


async def test_only_auth_and_ctl_open_wallets(world: World) -> None:
    agent = await world.agent()
    for stub, metadata in (
        (world.from_auth, await world.token(agent.api_key)),
        (world.ctl, await world.token((await world.admin()).session_token)),
    ):
        await refused(
            stub.EnsureWallet(ensure(agent_id=rid()), metadata=metadata),
            grpc.StatusCode.PERMISSION_DENIED,
            "SCOPE_MISSING",
        )
    await refused(
        world.gateway.EnsureWallet(
            ensure(agent_id=rid()), metadata=await world.auth_service_token()
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "PEER_NOT_ALLOWED",
    )


# -- GetBalance ----------------------------------------------------------------------------------


async def test_an_agent_reads_its_balance_and_pending(world: World) -> None:
    agent = await world.funded_agent(10 * CREDIT)
    key = await world.key(agent)
    await world.provider.CreateHold(
        wallet_pb2.CreateHoldRequest(
            request_id=rid(),
            hold_id=rid(),
            amount_micros=3 * CREDIT,
            timeout_s=600,
            code=wallet_pb2.TRANSFER_CODE_INFERENCE,
        ),
        metadata=await world.token(key.raw),
    )
    for credential in (agent.api_key, key.raw):
        balance = await world.gateway.GetBalance(
            wallet_pb2.GetBalanceRequest(), metadata=await world.token(credential)
        )
        assert (balance.wallet_id, balance.balance_micros, balance.pending_micros) == (
            agent.wallet_id,
            7 * CREDIT,
            3 * CREDIT,
        )
        assert balance.posted_balance_micros == 10 * CREDIT


async def test_a_session_reads_its_main_wallet_or_its_acting_agents(world: World) -> None:
    session = await world.session()
    agent = await world.funded_agent(2 * CREDIT, owner=session)
    await world.mint(account_id=session.account_id, amount=5 * CREDIT)
    own = await world.gateway.GetBalance(
        wallet_pb2.GetBalanceRequest(), metadata=await world.token(session.session_token)
    )
    assert own.wallet.kind == wallet_pb2.ACCOUNT_KIND_ACCOUNT_WALLET
    assert own.balance_micros == 5 * CREDIT
    acting = await world.token(session.session_token, agent_id=agent.agent_id)
    as_agent = await world.gateway.GetBalance(wallet_pb2.GetBalanceRequest(), metadata=acting)
    assert as_agent.wallet_id == agent.wallet_id
    named = await world.gateway.GetBalance(
        wallet_pb2.GetBalanceRequest(wallet=wallet_pb2.AccountRef(account_id=session.account_id)),
        metadata=acting,
    )
    assert named.balance_micros == 5 * CREDIT


async def test_another_wallet_is_not_readable_unless_admin(world: World) -> None:
    victim = await world.funded_agent(CREDIT)
    reader = await world.agent()
    for ref in (
        wallet_pb2.AccountRef(agent_id=victim.agent_id),
        wallet_pb2.AccountRef(ledger_account_id=victim.wallet_id),
        wallet_pb2.AccountRef(agent_id=rid()),  # not even opened: same answer
    ):
        await refused(
            world.gateway.GetBalance(
                wallet_pb2.GetBalanceRequest(wallet=ref), metadata=await world.token(reader.api_key)
            ),
            grpc.StatusCode.PERMISSION_DENIED,
            "LEDGER_ACCOUNT_NOT_OWNED",
        )
    admin = await world.admin()
    read = await world.gateway.GetBalance(
        wallet_pb2.GetBalanceRequest(wallet=wallet_pb2.AccountRef(agent_id=victim.agent_id)),
        metadata=await world.token(admin.session_token),
    )
    assert read.balance_micros == CREDIT


async def test_get_balance_errors(world: World) -> None:
    admin = await world.admin()
    metadata = await world.token(admin.session_token)
    await refused(
        world.gateway.GetBalance(
            wallet_pb2.GetBalanceRequest(
                wallet=wallet_pb2.AccountRef(system_account=wallet_pb2.ACCOUNT_KIND_TREASURY)
            ),
            metadata=metadata,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "WALLET_REF_INVALID",
    )
    await refused(
        world.gateway.GetBalance(
            wallet_pb2.GetBalanceRequest(wallet=wallet_pb2.AccountRef(agent_id=rid())),
            metadata=metadata,
        ),
        grpc.StatusCode.NOT_FOUND,
        "WALLET_NOT_FOUND",
    )
    await refused(
        world.gateway.GetBalance(
            wallet_pb2.GetBalanceRequest(wallet=wallet_pb2.AccountRef(agent_id="x")),
            metadata=metadata,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "FIELD_INVALID",
    )


async def test_reads_never_open_wallets(
    start_wallet_server: Callable[..., WalletServerHandle],
    auth_server: AuthServerHandle,
    fresh_wallet_database: ServiceDatabase,
) -> None:
    # A ledger of its own: the agent exists in auth, but this wallet never opened its wallet.
    server = start_wallet_server(database=fresh_wallet_database)
    rows = Rows(fresh_wallet_database.owner_url)
    async with world_for(server, auth_server) as world:
        registered = await world.auth.register_agent()
        metadata = await world.token(registered.api_key)
        before = rows.snapshot()
        await refused(
            world.gateway.GetBalance(wallet_pb2.GetBalanceRequest(), metadata=metadata),
            grpc.StatusCode.NOT_FOUND,
            "WALLET_NOT_FOUND",
        )
        await refused(
            world.gateway.ListTransfers(wallet_pb2.ListTransfersRequest(), metadata=metadata),
            grpc.StatusCode.NOT_FOUND,
            "LEDGER_ACCOUNT_NOT_FOUND",
        )
        assert rows.snapshot() == before


# -- GetLedgerAccount ----------------------------------------------------------------------------


async def test_review_reads_the_treasury_and_escrow(world: World) -> None:
    metadata = await world.service_token("review")
    for kind in (wallet_pb2.ACCOUNT_KIND_TREASURY, wallet_pb2.ACCOUNT_KIND_BOUNTY_ESCROW):
        account = (
            await world.review.GetLedgerAccount(
                wallet_pb2.GetLedgerAccountRequest(
                    account=wallet_pb2.AccountRef(system_account=kind)
                ),
                metadata=metadata,
            )
        ).account
        assert account.kind == kind
        assert list(account.flags) == [wallet_pb2.ACCOUNT_FLAG_DEBITS_MUST_NOT_EXCEED_CREDITS]
    mint_account = await world.account(
        wallet_pb2.AccountRef(system_account=wallet_pb2.ACCOUNT_KIND_MINT)
    )
    assert list(mint_account.flags) == [wallet_pb2.ACCOUNT_FLAG_CREDITS_MUST_NOT_EXCEED_DEBITS]


async def test_get_ledger_account_errors(world: World) -> None:
    metadata = await world.service_token("ctl")
    await refused(
        world.ctl.GetLedgerAccount(wallet_pb2.GetLedgerAccountRequest(), metadata=metadata),
        grpc.StatusCode.INVALID_ARGUMENT,
        "ACCOUNT_REF_REQUIRED",
    )
    await refused(
        world.ctl.GetLedgerAccount(
            wallet_pb2.GetLedgerAccountRequest(
                account=wallet_pb2.AccountRef(ledger_account_id=rid())
            ),
            metadata=metadata,
        ),
        grpc.StatusCode.NOT_FOUND,
        "LEDGER_ACCOUNT_NOT_FOUND",
    )
    agent = await world.agent()
    await refused(
        world.review.GetLedgerAccount(
            wallet_pb2.GetLedgerAccountRequest(
                account=wallet_pb2.AccountRef(agent_id=agent.agent_id)
            ),
            metadata=await world.token(agent.api_key),
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "SCOPE_MISSING",
    )
    await refused(
        world.gateway.GetLedgerAccount(
            wallet_pb2.GetLedgerAccountRequest(
                account=wallet_pb2.AccountRef(agent_id=agent.agent_id)
            ),
            metadata=await world.token(agent.api_key),
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "PEER_NOT_ALLOWED",
    )


# -- GetTransfer / ListTransfers -----------------------------------------------------------------


async def _pay(world: World, payer_key: str, to_agent_id: str, amount: int) -> wallet_pb2.Transfer:
    response = await world.gateway.CreateTransfer(
        wallet_pb2.CreateTransferRequest(
            request_id=rid(), transfer_id=rid(), to_agent_id=to_agent_id, amount_micros=amount
        ),
        metadata=await world.token(payer_key),
    )
    return response.transfer


async def test_a_transfer_is_visible_to_either_side_admins_and_ctl_only(world: World) -> None:
    alice = await world.funded_agent(5 * CREDIT)
    bob, mallory = await world.agent(), await world.agent()
    moved = await _pay(world, alice.api_key, bob.agent_id, CREDIT)
    request = wallet_pb2.GetTransferRequest(transfer_id=moved.transfer_id)
    for metadata in (
        await world.token(alice.api_key),
        await world.token(bob.api_key),
        await world.token((await world.admin()).session_token),
    ):
        assert (await world.gateway.GetTransfer(request, metadata=metadata)).transfer == moved
    assert (
        await world.ctl.GetTransfer(request, metadata=await world.service_token("ctl"))
    ).transfer == moved
    for transfer_id in (moved.transfer_id, rid(), "nope"):
        await refused(
            world.gateway.GetTransfer(
                wallet_pb2.GetTransferRequest(transfer_id=transfer_id),
                metadata=await world.token(mallory.api_key),
            ),
            grpc.StatusCode.NOT_FOUND,
            "TRANSFER_NOT_FOUND",
        )


async def test_a_wallets_transfers_page_newest_first(world: World) -> None:
    alice = await world.funded_agent(20 * CREDIT)
    bob = await world.agent()
    sent = [await _pay(world, alice.api_key, bob.agent_id, amount) for amount in range(1, 8)]
    metadata = await world.token(bob.api_key)
    seen: list[wallet_pb2.Transfer] = []
    token = ""
    pages = 0
    while True:
        page = await world.gateway.ListTransfers(
            wallet_pb2.ListTransfersRequest(page_size=3, page_token=token), metadata=metadata
        )
        seen += page.transfers
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert pages == 3
    assert [item.transfer_id for item in seen] == [item.transfer_id for item in reversed(sent)]
    # Alice sees the grant that funded her as well as what she sent.
    mine = await world.gateway.ListTransfers(
        wallet_pb2.ListTransfersRequest(page_size=200), metadata=await world.token(alice.api_key)
    )
    assert len(mine.transfers) == 8
    assert mine.transfers[-1].code == wallet_pb2.TRANSFER_CODE_GRANT


async def test_list_filters(world: World) -> None:
    alice = await world.funded_agent(20 * CREDIT)
    bob = await world.agent()
    first = await _pay(world, alice.api_key, bob.agent_id, CREDIT)
    await _pay(world, alice.api_key, bob.agent_id, CREDIT)
    metadata = await world.token(alice.api_key)
    grants = await world.gateway.ListTransfers(
        wallet_pb2.ListTransfersRequest(codes=[wallet_pb2.TRANSFER_CODE_GRANT]), metadata=metadata
    )
    assert [item.code for item in grants.transfers] == [wallet_pb2.TRANSFER_CODE_GRANT]
    until = timestamp_pb2.Timestamp()
    until.CopyFrom(first.created_at)
    until.nanos += 1000  # created_at is exclusive of `until`; include the first transfer
    early = await world.gateway.ListTransfers(
        wallet_pb2.ListTransfersRequest(codes=[wallet_pb2.TRANSFER_CODE_TRANSFER], until=until),
        metadata=metadata,
    )
    assert [item.transfer_id for item in early.transfers] == [first.transfer_id]
    later = await world.gateway.ListTransfers(
        wallet_pb2.ListTransfersRequest(since=first.created_at), metadata=metadata
    )
    assert first.transfer_id in [item.transfer_id for item in later.transfers]
    assert all(
        item.created_at.ToDatetime() >= first.created_at.ToDatetime() for item in later.transfers
    )


async def test_admins_and_ctl_list_any_account_or_the_whole_ledger(world: World) -> None:
    alice = await world.funded_agent(5 * CREDIT)
    bob = await world.agent()
    moved = await _pay(world, alice.api_key, bob.agent_id, CREDIT)
    ctl = await world.service_token("ctl")
    whole = await world.ctl.ListTransfers(
        wallet_pb2.ListTransfersRequest(all_accounts=True, page_size=5), metadata=ctl
    )
    assert len(whole.transfers) == 5 and whole.next_page_token
    of_bob = await world.ctl.ListTransfers(
        wallet_pb2.ListTransfersRequest(account=wallet_pb2.AccountRef(agent_id=bob.agent_id)),
        metadata=ctl,
    )
    assert [item.transfer_id for item in of_bob.transfers] == [moved.transfer_id]
    admin = await world.token((await world.admin()).session_token)
    as_admin = await world.gateway.ListTransfers(
        wallet_pb2.ListTransfersRequest(
            account=wallet_pb2.AccountRef(ledger_account_id=bob.wallet_id)
        ),
        metadata=admin,
    )
    assert [item.transfer_id for item in as_admin.transfers] == [moved.transfer_id]


async def test_list_errors(world: World) -> None:
    alice = await world.funded_agent(CREDIT)
    victim = await world.agent()
    metadata = await world.token(alice.api_key)
    cases: list[tuple[wallet_pb2.ListTransfersRequest, grpc.StatusCode, str]] = [
        (
            wallet_pb2.ListTransfersRequest(page_size=-1),
            grpc.StatusCode.INVALID_ARGUMENT,
            "PAGE_SIZE_INVALID",
        ),
        (
            wallet_pb2.ListTransfersRequest(page_token="garbage!"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "PAGE_TOKEN_INVALID",
        ),
        (
            wallet_pb2.ListTransfersRequest(
                since=timestamp_pb2.Timestamp(seconds=2_000_000_000),
                until=timestamp_pb2.Timestamp(seconds=1_000_000_000),
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "TIME_RANGE_INVALID",
        ),
        (
            wallet_pb2.ListTransfersRequest(
                account=wallet_pb2.AccountRef(agent_id=victim.agent_id)
            ),
            grpc.StatusCode.PERMISSION_DENIED,
            "LEDGER_ACCOUNT_NOT_OWNED",
        ),
        (
            wallet_pb2.ListTransfersRequest(codes=[wallet_pb2.TRANSFER_CODE_UNSPECIFIED]),
            grpc.StatusCode.INVALID_ARGUMENT,
            "ENUM_VALUE_UNSPECIFIED",
        ),
    ]
    for request, code, reason in cases:
        await refused(world.gateway.ListTransfers(request, metadata=metadata), code, reason)
    # A page token is bound to its filter.
    first = await world.gateway.ListTransfers(
        wallet_pb2.ListTransfersRequest(page_size=1), metadata=await world.token(victim.api_key)
    )
    await world.mint(agent=victim, amount=1)
    await world.mint(agent=victim, amount=1)
    victim_metadata = await world.token(victim.api_key)
    page = await world.gateway.ListTransfers(
        wallet_pb2.ListTransfersRequest(page_size=1), metadata=victim_metadata
    )
    assert page.next_page_token and not first.next_page_token
    await refused(
        world.gateway.ListTransfers(
            wallet_pb2.ListTransfersRequest(
                page_size=1,
                page_token=page.next_page_token,
                codes=[wallet_pb2.TRANSFER_CODE_TRANSFER],
            ),
            metadata=victim_metadata,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "PAGE_TOKEN_INVALID",
    )
    admin = await world.token((await world.admin()).session_token)
    await refused(
        world.gateway.ListTransfers(
            wallet_pb2.ListTransfersRequest(account=wallet_pb2.AccountRef(agent_id=rid())),
            metadata=admin,
        ),
        grpc.StatusCode.NOT_FOUND,
        "LEDGER_ACCOUNT_NOT_FOUND",
    )

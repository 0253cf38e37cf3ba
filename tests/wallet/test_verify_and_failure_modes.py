"""VerifyLedger as an API (who may run it, what it reports), and failure modes: an unreachable
database or auth, forged and misaddressed tokens, and logs that never carry a token."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable

import grpc
import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url
from tokenmart.auth.v1 import auth_pb2
from tokenmart.wallet.v1 import wallet_pb2

from ops.database import ServiceDatabase
from tests.auth.helpers import bearer
from tests.conftest import AuthServerHandle, WalletServerHandle
from tests.wallet.helpers import CREDIT, Rows, World, refused, rid, world_for

StartWallet = Callable[..., WalletServerHandle]


async def test_an_admin_verifies_the_ledger_through_the_gateway(world: World, rows: Rows) -> None:
    admin = await world.admin()
    await world.funded_agent(CREDIT)
    accounts = rows.value("SELECT count(*) FROM ledger_accounts")
    transfers = rows.value("SELECT count(*) FROM transfers")
    response = await world.gateway.VerifyLedger(
        wallet_pb2.VerifyLedgerRequest(), metadata=await world.token(admin.session_token)
    )
    assert response.ok and not response.failures and not response.failures_truncated
    assert (response.accounts_checked, response.transfers_checked) == (accounts, transfers)
    assert [totals.ledger for totals in response.totals] == [
        wallet_pb2.LEDGER_CREDITS,
        wallet_pb2.LEDGER_KEY_BUDGET,
    ]
    for totals in response.totals:
        assert totals.debits_posted_micros == totals.credits_posted_micros
        assert totals.debits_pending_micros == totals.credits_pending_micros
    assert response.totals[0].debits_posted_micros >= CREDIT
    assert response.started_at.ToDatetime() <= response.finished_at.ToDatetime()


async def test_only_admins_and_the_operator_verify(world: World) -> None:
    agent = await world.agent()
    session = await world.session()
    for metadata in (await world.token(agent.api_key), await world.token(session.session_token)):
        await refused(
            world.gateway.VerifyLedger(wallet_pb2.VerifyLedgerRequest(), metadata=metadata),
            grpc.StatusCode.PERMISSION_DENIED,
            "SCOPE_MISSING",
        )
    await refused(
        world.review.VerifyLedger(
            wallet_pb2.VerifyLedgerRequest(), metadata=await world.service_token("review")
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "PEER_NOT_ALLOWED",
    )
    await refused(
        world.ctl.VerifyLedger(
            wallet_pb2.VerifyLedgerRequest(max_failures=-1),
            metadata=await world.service_token("ctl"),
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "MAX_FAILURES_INVALID",
    )
    clamped = await world.ctl.VerifyLedger(
        wallet_pb2.VerifyLedgerRequest(max_failures=50_000),
        metadata=await world.service_token("ctl"),
    )
    assert clamped.ok


# -- tokens ---------------------------------------------------------------------------------------


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    flipped = "A" if signature[0] != "A" else "B"
    return f"{header}.{payload}.{flipped}{signature[1:]}"


async def test_forged_and_misaddressed_tokens_are_refused(world: World) -> None:
    agent = await world.funded_agent(CREDIT)
    good = await world.token(agent.api_key)
    token = good[0][1].removeprefix("Bearer ")
    for_auth = await world.auth.authenticate(agent.api_key, audiences=(auth_pb2.AUDIENCE_AUTH,))
    for metadata in (
        bearer(_tampered(token)),
        bearer(for_auth.access_token),  # a token for another service
        (("authorization", f"Basic {token}"),),
        bearer("not.a.jwt"),
    ):
        await refused(
            world.gateway.GetBalance(wallet_pb2.GetBalanceRequest(), metadata=metadata),
            grpc.StatusCode.UNAUTHENTICATED,
            "ACCESS_TOKEN_INVALID",
        )
    await refused(
        world.gateway.GetBalance(wallet_pb2.GetBalanceRequest(), metadata=(("authorization", ""),)),
        grpc.StatusCode.UNAUTHENTICATED,
        "ACCESS_TOKEN_MISSING",
    )


async def test_log_lines_never_carry_a_token(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    agent = await world.funded_agent(CREDIT)
    metadata = await world.token(agent.api_key)
    token = metadata[0][1].removeprefix("Bearer ")
    with caplog.at_level(logging.DEBUG):
        await world.gateway.GetBalance(wallet_pb2.GetBalanceRequest(), metadata=metadata)
        await refused(
            world.gateway.GetBalance(
                wallet_pb2.GetBalanceRequest(), metadata=bearer(_tampered(token))
            ),
            grpc.StatusCode.UNAUTHENTICATED,
            "ACCESS_TOKEN_INVALID",
        )
    assert caplog.records, "the calls were logged"
    for record in caplog.records:
        assert token not in record.getMessage()
        assert token not in str(record.__dict__)


# -- dependencies down ---------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_without_auths_keys_every_call_is_unavailable(
    start_wallet_server: StartWallet, auth_server: AuthServerHandle
) -> None:
    server = start_wallet_server(
        env={"AUTH_TARGET": f"127.0.0.1:{_closed_port()}", "AUTH_TIMEOUT_S": "0.3"}
    )
    async with world_for(server, auth_server) as world:
        agent = await world.auth.register_agent()  # a real token; wallet cannot check it
        await refused(
            world.gateway.GetBalance(
                wallet_pb2.GetBalanceRequest(), metadata=await world.token(agent.api_key)
            ),
            grpc.StatusCode.UNAVAILABLE,
            "PUBLIC_KEYS_UNAVAILABLE",
        )


async def test_an_unreachable_database_is_unavailable_and_retrying_is_safe(
    start_wallet_server: StartWallet,
    auth_server: AuthServerHandle,
    fresh_wallet_database: ServiceDatabase,
    fresh_admin_url: str,
) -> None:
    server = start_wallet_server(database=fresh_wallet_database)
    database = make_url(fresh_wallet_database.runtime_url).database
    async with world_for(server, auth_server) as world:
        agent = await world.funded_agent(5 * CREDIT)
        bob = await world.agent()
        metadata = await world.token(agent.api_key)
        request = wallet_pb2.CreateTransferRequest(
            request_id=rid(), transfer_id=rid(), to_agent_id=bob.agent_id, amount_micros=CREDIT
        )
        with psycopg.connect(fresh_admin_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("ALTER DATABASE {} CONNECTION LIMIT 0").format(sql.Identifier(database))
            )
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (fresh_wallet_database.runtime_role,),
            )
        try:
            await refused(
                world.gateway.CreateTransfer(request, metadata=metadata),
                grpc.StatusCode.UNAVAILABLE,
                "DATABASE_UNAVAILABLE",
            )
        finally:
            with psycopg.connect(fresh_admin_url, autocommit=True) as admin:
                admin.execute(
                    sql.SQL("ALTER DATABASE {} CONNECTION LIMIT -1").format(
                        sql.Identifier(database)
                    )
                )
        # Nothing was kept: the same request simply runs now, once.
        response = await world.gateway.CreateTransfer(request, metadata=metadata)
        assert response.result == wallet_pb2.CREATE_TRANSFER_RESULT_OK
        assert await world.available(bob) == CREDIT
        verified = await world.verify()
        assert verified.ok


async def test_dropped_database_connections_cost_the_next_call_nothing(
    start_wallet_server: StartWallet,
    auth_server: AuthServerHandle,
    fresh_wallet_database: ServiceDatabase,
    fresh_admin_url: str,
) -> None:
    server = start_wallet_server(database=fresh_wallet_database)
    async with world_for(server, auth_server) as world:
        agent = await world.funded_agent(5 * CREDIT)
        bob = await world.agent()
        metadata = await world.token(agent.api_key)
        for round_ in range(3):
            # Every pooled connection dies (a failover, an operator's pg_terminate_backend)
            # while the pool is busy, so the checkout ping is skipped: the dead connection is
            # found by the call's first statement and replaced, and the call still succeeds.
            with psycopg.connect(fresh_admin_url, autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                    (fresh_wallet_database.runtime_role,),
                )
            response = await world.gateway.CreateTransfer(
                wallet_pb2.CreateTransferRequest(
                    request_id=rid(),
                    transfer_id=rid(),
                    to_agent_id=bob.agent_id,
                    amount_micros=CREDIT,
                ),
                metadata=metadata,
            )
            assert response.result == wallet_pb2.CREATE_TRANSFER_RESULT_OK, round_
        assert await world.available(bob) == 3 * CREDIT
        assert (await world.verify()).ok

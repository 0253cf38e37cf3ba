"""Failure modes: a database that refuses connections is UNAVAILABLE (and a retry with the same
request id succeeds once it is back); log lines never carry a raw secret."""

from __future__ import annotations

import logging

import grpc
import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url
from tokenmart.auth.v1 import auth_pb2

from ops.database import ServiceDatabase
from tests.auth.helpers import PASSWORD, AuthClient, client_for, email, random_ip, refused, rid


def _admin_of(server_admin_url: str, database: ServiceDatabase) -> str:
    name = make_url(database.runtime_url).database
    return make_url(server_admin_url).set(database=name).render_as_string(hide_password=False)


async def test_an_unreachable_database_is_unavailable_and_retrying_is_safe(
    start_auth_server, fresh_auth_database: ServiceDatabase, server_admin_url: str
) -> None:
    server = start_auth_server(database=fresh_auth_database)
    admin = _admin_of(server_admin_url, fresh_auth_database)
    database = make_url(fresh_auth_database.runtime_url).database
    request = auth_pb2.RegisterAccountRequest(request_id=rid(), email=email(), password=PASSWORD)
    async with client_for(server) as client:
        await client.register_account()  # the pool holds live connections now
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(
                sql.SQL("ALTER DATABASE {} CONNECTION LIMIT 0").format(sql.Identifier(database))
            )
            connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (fresh_auth_database.runtime_role,),
            )
        try:
            await refused(
                client.stub.RegisterAccount(request),
                grpc.StatusCode.UNAVAILABLE,
                "DATABASE_UNAVAILABLE",
            )
        finally:
            with psycopg.connect(admin, autocommit=True) as connection:
                connection.execute(
                    sql.SQL("ALTER DATABASE {} CONNECTION LIMIT -1").format(
                        sql.Identifier(database)
                    )
                )
        # Nothing was kept: the same request id now simply runs.
        response = await client.stub.RegisterAccount(request)
        assert response.account.email == request.email


async def test_log_lines_carry_no_secret(
    client: AuthClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    account = await client.register_account()
    session = await client.login(account, client_ip=random_ip())
    agent = await client.register_agent()
    await client.claim(session, agent)
    created = await client.create_key(session.session_token, agent_id=agent.agent_id)
    token = (await client.authenticate(agent.api_key)).access_token
    await refused(
        client.stub.Login(
            auth_pb2.LoginRequest(request_id=rid(), email=account.email, password="wrong password!")
        ),
        grpc.StatusCode.UNAUTHENTICATED,
        "INVALID_CREDENTIALS",
    )
    secrets = [
        PASSWORD,
        "wrong password!",
        session.session_token,
        session.refresh_token,
        agent.api_key,
        agent.claim_code,
        created.raw_key,
        token,
    ]
    methods = {getattr(record, "method", "") for record in caplog.records}
    assert "/tokenmart.auth.v1.AuthService/Login" in methods, "the server's rpc lines are seen"
    for record in caplog.records:
        text = f"{record.getMessage()} {record.__dict__}"
        for secret in secrets:
            assert secret not in text, record.getMessage()

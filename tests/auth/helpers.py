"""Helpers for the auth tests: a client over the real mTLS stub, errors, and the database."""

from __future__ import annotations

import contextlib
import ipaddress
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
import psycopg
import pytest
from tokenmart.auth.v1 import auth_pb2, auth_pb2_grpc

from services.common.status import error_info
from tests.conftest import AuthServerHandle

T = TypeVar("T")
PASSWORD = "correct horse battery staple"


def rid() -> str:
    return str(uuid.uuid4())


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


def email() -> str:
    return f"{unique('user')}@example.com"


def random_ip() -> str:
    return str(ipaddress.IPv4Address(0x0A000000 + secrets.randbelow(2**24)))


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


async def refused(call: Awaitable[Any], code: grpc.StatusCode, reason: str) -> grpc.aio.AioRpcError:
    """Await ``call`` and assert it fails with ``code`` and ``reason``; return the error."""
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await call
    error = failed.value
    info = error_info(error)
    assert (error.code(), info.reason if info else None) == (code, reason), error.details()
    assert info is not None
    return error


def metadata_of(error: grpc.aio.AioRpcError) -> dict[str, str]:
    info = error_info(error)
    assert info is not None
    return dict(info.metadata)


@dataclass
class Account:
    account_id: str
    email: str
    password: str


@dataclass
class Session:
    account_id: str
    session_id: str
    session_token: str
    refresh_token: str


@dataclass
class RegisteredAgent:
    agent_id: str
    name: str
    api_key: str
    key_id: str
    claim_code: str


class AuthClient:
    """The auth stub as the gateway (or another peer) uses it, with common flows."""

    def __init__(self, stub: auth_pb2_grpc.AuthServiceStub, *, ctl: auth_pb2_grpc.AuthServiceStub):
        self.stub = stub
        self.ctl = ctl

    # -- accounts ------------------------------------------------------------------------------

    async def register_account(self, *, address: str | None = None) -> Account:
        address = address or email()
        response = await self.stub.RegisterAccount(
            auth_pb2.RegisterAccountRequest(
                request_id=rid(), email=address, password=PASSWORD, client_ip=random_ip()
            )
        )
        return Account(response.account.account_id, response.account.email, PASSWORD)

    async def login(self, account: Account, *, client_ip: str = "") -> Session:
        response = await self.stub.Login(
            auth_pb2.LoginRequest(
                request_id=rid(),
                email=account.email,
                password=account.password,
                client_ip=client_ip,
            )
        )
        return Session(
            account_id=response.account.account_id,
            session_id=response.session_id,
            session_token=response.session_token,
            refresh_token=response.refresh_token,
        )

    async def new_session(self) -> Session:
        return await self.login(await self.register_account())

    async def operator_token(self) -> str:
        issued = await self.ctl.IssueServiceToken(
            auth_pb2.IssueServiceTokenRequest(audiences=[auth_pb2.AUDIENCE_AUTH])
        )
        return issued.access_token

    async def admin_session(self, role: int = auth_pb2.ACCOUNT_ROLE_ADMIN) -> Session:
        address = email()
        await self.ctl.CreateAdminAccount(
            auth_pb2.CreateAdminAccountRequest(
                request_id=rid(), email=address, password=PASSWORD, role=role
            ),
            metadata=bearer(await self.operator_token()),
        )
        return await self.login(Account("", address, PASSWORD))

    # -- tokens --------------------------------------------------------------------------------

    async def authenticate(
        self,
        credential: str,
        *,
        agent_id: str = "",
        families: tuple[int, ...] = (),
        audiences: tuple[int, ...] = (),
    ) -> auth_pb2.AuthenticateResponse:
        response: auth_pb2.AuthenticateResponse = await self.stub.Authenticate(
            auth_pb2.AuthenticateRequest(
                credential=credential,
                agent_id=agent_id,
                client_ip="192.0.2.1",
                accepted_families=families,
                audiences=audiences,
            )
        )
        return response

    async def token(self, credential: str, *, agent_id: str = "") -> tuple[tuple[str, str], ...]:
        """Metadata carrying the access token for ``credential`` (as the gateway forwards it)."""
        response = await self.authenticate(credential, agent_id=agent_id)
        return bearer(response.access_token)

    # -- agents --------------------------------------------------------------------------------

    async def register_agent(self, *, name: str | None = None) -> RegisteredAgent:
        agent_name = name or unique("agent")
        response = await self.stub.RegisterAgent(
            auth_pb2.RegisterAgentRequest(request_id=rid(), name=agent_name, client_ip=random_ip())
        )
        return RegisteredAgent(
            agent_id=response.agent.agent_id,
            name=response.agent.name,
            api_key=response.api_key,
            key_id=response.key_id,
            claim_code=response.claim_code,
        )

    async def claim(self, session: Session, agent: RegisteredAgent) -> auth_pb2.Agent:
        response = await self.stub.ClaimAgent(
            auth_pb2.ClaimAgentRequest(request_id=rid(), claim_code=agent.claim_code),
            metadata=await self.token(session.session_token),
        )
        return response.agent

    async def owned_agent(self, session: Session) -> RegisteredAgent:
        agent = await self.register_agent()
        await self.claim(session, agent)
        return agent

    async def create_key(
        self, credential: str, *, agent_id: str = "", acting_agent: str = "", **fields: Any
    ) -> auth_pb2.CreateKeyResponse:
        request = auth_pb2.CreateKeyRequest(
            request_id=rid(),
            agent_id=agent_id,
            family=fields.pop("family", auth_pb2.KEY_FAMILY_INFERENCE),
            name=fields.pop("name", "a key"),
            **fields,
        )
        response: auth_pb2.CreateKeyResponse = await self.stub.CreateKey(
            request, metadata=await self.token(credential, agent_id=acting_agent)
        )
        return response


@contextlib.asynccontextmanager
async def client_for(server: AuthServerHandle, peer: str = "gateway") -> AsyncIterator[AuthClient]:
    async with server.channel(peer) as channel, server.channel("ctl") as ctl_channel:
        yield AuthClient(server.stub(channel), ctl=server.stub(ctl_channel))


class Database:
    """Assertions on rows, as the schema owner (the runtime role cannot see anything else)."""

    def __init__(self, url: str) -> None:
        self.url = url

    @contextlib.contextmanager
    def connect(self) -> Iterator[psycopg.Connection[Any]]:
        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute("SET search_path = auth")
            yield connection

    def rows(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with self.connect() as connection:
            return connection.execute(query, params).fetchall()

    def value(self, query: str, *params: Any) -> Any:
        rows = self.rows(query, *params)
        assert len(rows) == 1, rows
        return rows[0][0]

    def audit(self, **where: str) -> list[tuple[str, str, str | None]]:
        """(event_type, outcome, failure_reason) of matching audit rows, oldest first."""
        clauses = " AND ".join(f"{column} = %s" for column in where) or "TRUE"
        return [
            (row[0], row[1], row[2])
            for row in self.rows(
                "SELECT event_type, outcome, failure_reason FROM audit_events "
                f"WHERE {clauses} ORDER BY occurred_at, id",
                *where.values(),
            )
        ]

    def snapshot(
        self, *, exclude: tuple[str, ...] = ("audit_events", "request_log")
    ) -> dict[str, int]:
        """Row counts and a content digest per table, to prove a refusal changed nothing."""
        tables = [
            row[0]
            for row in self.rows(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'auth' ORDER BY tablename"
            )
        ]
        digest: dict[str, Any] = {}
        for table in tables:
            if table in exclude or table == "alembic_version":
                continue
            digest[table] = self.value(
                "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
                f"FROM {table} t"
            )
        return digest

"""Helpers for the wallet tests: real principals from the real auth server, the wallet stub as
each peer uses it, and the wallet schema's rows (as its owner, for assertions only)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import psycopg
from tokenmart.auth.v1 import auth_pb2
from tokenmart.wallet.v1 import wallet_pb2, wallet_pb2_grpc

from services.auth.domain.principal import Audience
from services.auth.operations import authenticate
from tests.auth.helpers import AuthClient, RegisteredAgent, Session, bearer, client_for, refused
from tests.conftest import AuthServerHandle, WalletServerHandle

__all__ = ["Metadata", "World", "bearer", "refused", "rid"]

Metadata = tuple[tuple[str, str], ...]
WALLET = (auth_pb2.AUDIENCE_WALLET,)
CREDIT = 1_000_000
"""One credit in micro-credits."""


def rid() -> str:
    return str(uuid.uuid4())


@dataclass
class Agent:
    """A registered agent, its keys, and its wallet."""

    agent_id: str
    api_key: str
    owner: Session | None
    wallet_id: str = ""


@dataclass
class Key:
    """A th_ or thm_ key: the raw credential, its id, and its agent."""

    raw: str
    key_id: str
    agent: Agent


class World:
    """Principals from the real auth server and wallet stubs for every peer."""

    def __init__(
        self,
        auth: AuthClient,
        auth_server: AuthServerHandle,
        stubs: dict[str, wallet_pb2_grpc.WalletServiceStub],
        auth_stubs: dict[str, Any],
    ) -> None:
        self.auth = auth
        self.auth_server = auth_server
        self.stubs = stubs
        self._auth_stubs = auth_stubs
        # Service tokens live five minutes, longer than any test: one per peer and test.
        self._service_tokens: dict[str, Metadata] = {}

    @property
    def gateway(self) -> wallet_pb2_grpc.WalletServiceStub:
        return self.stubs["gateway"]

    @property
    def provider(self) -> wallet_pb2_grpc.WalletServiceStub:
        return self.stubs["provider"]

    @property
    def review(self) -> wallet_pb2_grpc.WalletServiceStub:
        return self.stubs["review"]

    @property
    def ctl(self) -> wallet_pb2_grpc.WalletServiceStub:
        return self.stubs["ctl"]

    @property
    def from_auth(self) -> wallet_pb2_grpc.WalletServiceStub:
        return self.stubs["auth"]

    # -- tokens --------------------------------------------------------------------------------

    async def token(self, credential: str, *, agent_id: str = "") -> Metadata:
        """The wallet access token the gateway would forward for this credential."""
        response = await self.auth.authenticate(credential, agent_id=agent_id, audiences=WALLET)
        return bearer(response.access_token)

    async def service_token(self, peer: str) -> Metadata:
        """A service token issued to ``peer`` (provider, review or ctl) for wallet."""
        if peer not in self._service_tokens:
            issued = await self._auth_stubs[peer].IssueServiceToken(
                auth_pb2.IssueServiceTokenRequest(audiences=list(WALLET))
            )
            self._service_tokens[peer] = bearer(issued.access_token)
        return self._service_tokens[peer]

    async def auth_service_token(self) -> Metadata:
        """Auth's own service token for wallet (auth signs its own; it never asks itself)."""
        if "auth" not in self._service_tokens:
            future = asyncio.run_coroutine_threadsafe(
                authenticate.issue_service_token(
                    self.auth_server.runtime, peer="auth", audiences=[Audience.WALLET]
                ),
                self.auth_server.loop,
            )
            issued = await asyncio.wrap_future(future)
            self._service_tokens["auth"] = bearer(issued.token)
        return self._service_tokens["auth"]

    # -- actors --------------------------------------------------------------------------------

    async def open_wallet(self, *, agent_id: str = "", account_id: str = "") -> str:
        request = wallet_pb2.EnsureWalletRequest(request_id=rid())
        if agent_id:
            request.agent_id = agent_id
        else:
            request.account_id = account_id
        response = await self.from_auth.EnsureWallet(
            request, metadata=await self.auth_service_token()
        )
        return response.wallet.ledger_account_id

    async def session(self) -> Session:
        session = await self.auth.new_session()
        await self.open_wallet(account_id=session.account_id)
        return session

    async def admin(self) -> Session:
        session = await self.auth.admin_session()
        await self.open_wallet(account_id=session.account_id)
        return session

    async def agent(self, *, owner: Session | None = None, claimed: bool = True) -> Agent:
        registered: RegisteredAgent = await self.auth.register_agent()
        if claimed:
            owner = owner or await self.session()
            await self.auth.claim(owner, registered)
        agent = Agent(
            agent_id=registered.agent_id,
            api_key=registered.api_key,
            owner=owner if claimed else None,
        )
        agent.wallet_id = await self.open_wallet(agent_id=agent.agent_id)
        return agent

    async def key(
        self,
        agent: Agent,
        *,
        family: int = auth_pb2.KEY_FAMILY_INFERENCE,
        credit_limit_micros: int | None = None,
    ) -> Key:
        """A new th_ (or thm_) key of a claimed agent, minted by its owner's session."""
        assert agent.owner is not None, "keys are minted for claimed agents"
        fields: dict[str, Any] = {"family": family}
        if credit_limit_micros is not None:
            fields["credit_limit_micros"] = credit_limit_micros
        created = await self.auth.create_key(
            agent.owner.session_token, agent_id=agent.agent_id, **fields
        )
        return Key(raw=created.raw_key, key_id=created.key.key_id, agent=agent)

    async def set_credit_limit(self, key: Key, credit_limit_micros: int) -> None:
        assert key.agent.owner is not None
        await self.auth.stub.UpdateKey(
            auth_pb2.UpdateKeyRequest(
                request_id=rid(),
                key_id=key.key_id,
                credit_limit=auth_pb2.CreditLimitUpdate(credit_limit_micros=credit_limit_micros),
            ),
            metadata=await self.auth.token(key.agent.owner.session_token),
        )

    async def mint(self, *, agent: Agent | None = None, account_id: str = "", amount: int) -> None:
        to = (
            wallet_pb2.AccountRef(agent_id=agent.agent_id)
            if agent
            else wallet_pb2.AccountRef(account_id=account_id)
        )
        await self.ctl.Mint(
            wallet_pb2.MintRequest(
                request_id=rid(), transfer_id=rid(), to=to, amount_micros=amount, reason="test"
            ),
            metadata=await self.service_token("ctl"),
        )

    async def funded_agent(self, amount: int, **options: Any) -> Agent:
        agent = await self.agent(**options)
        await self.mint(agent=agent, amount=amount)
        return agent

    async def account(self, ref: wallet_pb2.AccountRef) -> wallet_pb2.LedgerAccount:
        response = await self.ctl.GetLedgerAccount(
            wallet_pb2.GetLedgerAccountRequest(account=ref),
            metadata=await self.service_token("ctl"),
        )
        return response.account

    async def available(self, agent: Agent) -> int:
        account = await self.account(wallet_pb2.AccountRef(agent_id=agent.agent_id))
        return account.available_micros

    async def verify(self) -> wallet_pb2.VerifyLedgerResponse:
        response: wallet_pb2.VerifyLedgerResponse = await self.ctl.VerifyLedger(
            wallet_pb2.VerifyLedgerRequest(max_failures=1000),
            metadata=await self.service_token("ctl"),
            timeout=120,
        )
        return response


@contextlib.asynccontextmanager
async def world_for(
    wallet: WalletServerHandle, auth_server: AuthServerHandle
) -> AsyncIterator[World]:
    peers = ("gateway", "provider", "review", "ctl", "auth")
    async with contextlib.AsyncExitStack() as stack:
        channels = {peer: await stack.enter_async_context(wallet.channel(peer)) for peer in peers}
        auth_channels = {
            peer: await stack.enter_async_context(auth_server.channel(peer))
            for peer in ("provider", "review", "ctl")
        }
        auth = await stack.enter_async_context(client_for(auth_server))
        yield World(
            auth,
            auth_server,
            {peer: wallet.stub(channel) for peer, channel in channels.items()},
            {peer: auth_server.stub(channel) for peer, channel in auth_channels.items()},
        )


def failures(response: wallet_pb2.VerifyLedgerResponse) -> list[str]:
    """Readable failures of a verification, for assertion messages."""
    return [
        f"{wallet_pb2.VerificationFailureKind.Name(item.kind)} account={item.ledger_account_id} "
        f"transfer={item.transfer_id} field={item.field} expected={item.expected} "
        f"actual={item.actual}: {item.detail}"
        for item in response.failures
    ]


class Rows:
    """The wallet schema as its owner sees it (assertions only; the owner is no superuser)."""

    def __init__(self, url: str) -> None:
        self.url = url

    @contextlib.contextmanager
    def connect(self) -> Iterator[psycopg.Connection[Any]]:
        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute("SET search_path = wallet")
            yield connection

    def rows(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with self.connect() as connection:
            return connection.execute(query, params).fetchall()

    def value(self, query: str, *params: Any) -> Any:
        rows = self.rows(query, *params)
        assert len(rows) == 1, rows
        return rows[0][0]

    def snapshot(self) -> dict[str, str]:
        """A digest of every ledger table, to prove a refused request changed nothing."""
        return {
            table: self.value(
                "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
                f"FROM {table} t"
            )
            for table in ("ledger_accounts", "transfers", "holds")
        }


def code_of(error: grpc.aio.AioRpcError) -> grpc.StatusCode:
    return error.code()

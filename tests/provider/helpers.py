"""Helpers for the provider tests: real principals from auth, funded wallets, and the provider
stub as the gateway and ctl use it; rows of the provider schema (as its owner, assertions only).

Everything goes through the real servers: agents are registered and claimed in auth, wallets
are opened and funded in wallet (as ctl does), inference tokens are what auth signs for a th_
key with the provider and wallet audiences, and upstream is the stand-in.
"""

from __future__ import annotations

import contextlib
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import orjson
import psycopg
from tokenmart.auth.v1 import auth_pb2
from tokenmart.provider.v1 import provider_pb2, provider_pb2_grpc
from tokenmart.wallet.v1 import wallet_pb2, wallet_pb2_grpc

from tests.auth.helpers import AuthClient, Session, bearer, client_for, refused
from tests.conftest import AuthServerHandle, ProviderServerHandle, WalletServerHandle

__all__ = ["Lab", "Metadata", "ProviderRows", "bearer", "lab_for", "refused", "rid"]

Metadata = tuple[tuple[str, str], ...]
CREDIT = 1_000_000
INFERENCE_AUDIENCES = (auth_pb2.AUDIENCE_PROVIDER, auth_pb2.AUDIENCE_WALLET)
OPENAI = provider_pb2.API_DIALECT_OPENAI_CHAT_COMPLETIONS
ANTHROPIC = provider_pb2.API_DIALECT_ANTHROPIC_MESSAGES
MINI = "openai/gpt-4o-mini"
HAIKU = "anthropic/claude-3-5-haiku"
LLAMA = "meta-llama/llama-3.3-70b-instruct"


def rid() -> str:
    return str(uuid.uuid4())


def marker() -> str:
    return secrets.token_hex(8)


@dataclass
class Agent:
    agent_id: str
    agent_key: str
    """The agent's tokenmart_ key (mints keys, manages nothing else here)."""
    owner: Session | None
    key_id: str = ""
    inference_key: str = ""
    """A th_ key of the agent."""


class Lab:
    """Flows over the real auth, wallet and provider servers."""

    def __init__(
        self,
        *,
        auth: AuthClient,
        provider: provider_pb2_grpc.ProviderServiceStub,
        provider_ctl: provider_pb2_grpc.ProviderServiceStub,
        wallet_ctl: wallet_pb2_grpc.WalletServiceStub,
        auth_ctl: Any,
        server: ProviderServerHandle,
        server_auth: AuthServerHandle,
        server_wallet: WalletServerHandle,
    ) -> None:
        self.auth = auth
        self.provider = provider
        self.provider_ctl = provider_ctl
        self.wallet_ctl = wallet_ctl
        self._auth_ctl = auth_ctl
        self.server = server
        self.server_auth = server_auth
        self.server_wallet = server_wallet

    # -- tokens ----------------------------------------------------------------------------------

    async def operator(self, audience: int = auth_pb2.AUDIENCE_PROVIDER) -> Metadata:
        issued = await self._auth_ctl.IssueServiceToken(
            auth_pb2.IssueServiceTokenRequest(audiences=[audience])
        )
        return bearer(issued.access_token)

    async def token(
        self,
        credential: str,
        *,
        agent_id: str = "",
        audiences: tuple[int, ...] = INFERENCE_AUDIENCES,
    ) -> Metadata:
        """The access token the gateway would forward for ``credential``."""
        response = await self.auth.authenticate(credential, agent_id=agent_id, audiences=audiences)
        return bearer(response.access_token)

    # -- actors ----------------------------------------------------------------------------------

    async def open_wallet(self, *, agent_id: str = "", account_id: str = "") -> None:
        request = wallet_pb2.EnsureWalletRequest(request_id=rid())
        if agent_id:
            request.agent_id = agent_id
        else:
            request.account_id = account_id
        await self.wallet_ctl.EnsureWallet(
            request, metadata=await self.operator(auth_pb2.AUDIENCE_WALLET)
        )

    async def mint(self, agent: Agent, amount: int) -> None:
        await self.wallet_ctl.Mint(
            wallet_pb2.MintRequest(
                request_id=rid(),
                transfer_id=rid(),
                to=wallet_pb2.AccountRef(agent_id=agent.agent_id),
                amount_micros=amount,
                reason="provider test funding",
            ),
            metadata=await self.operator(auth_pb2.AUDIENCE_WALLET),
        )

    async def agent(
        self,
        *,
        funds: int = 0,
        credit_limit_micros: int | None = None,
        allowed_models: tuple[str, ...] = (),
        owner: Session | None = None,
    ) -> Agent:
        """A claimed agent with a wallet (funded with ``funds``) and a th_ key."""
        registered = await self.auth.register_agent()
        owner = owner or await self.auth.new_session()
        await self.auth.claim(owner, registered)
        agent = Agent(agent_id=registered.agent_id, agent_key=registered.api_key, owner=owner)
        await self.open_wallet(agent_id=agent.agent_id)  # auth opens it too; ensuring is harmless
        if funds:
            await self.mint(agent, funds)
        fields: dict[str, Any] = {"family": auth_pb2.KEY_FAMILY_INFERENCE}
        if credit_limit_micros is not None:
            fields["credit_limit_micros"] = credit_limit_micros
        if allowed_models:
            fields["allowed_models"] = list(allowed_models)
        created = await self.auth.create_key(
            owner.session_token, acting_agent=agent.agent_id, **fields
        )
        agent.key_id = created.key.key_id
        agent.inference_key = created.raw_key
        return agent

    async def management_key(self, agent: Agent) -> str:
        """A new thm_ key of the agent (made by its owner's session acting as the agent)."""
        assert agent.owner is not None
        created = await self.auth.create_key(
            agent.owner.session_token,
            acting_agent=agent.agent_id,
            family=auth_pb2.KEY_FAMILY_MANAGEMENT,
        )
        return str(created.raw_key)

    async def available(self, agent: Agent) -> int:
        """The agent wallet's available balance (posted credits - debits - pending)."""
        account = await self.ledger_account(wallet_pb2.AccountRef(agent_id=agent.agent_id))
        return int(account.available_micros)

    async def pending(self, agent: Agent) -> int:
        """What open holds reserve on the agent's wallet."""
        account = await self.ledger_account(wallet_pb2.AccountRef(agent_id=agent.agent_id))
        return int(account.debits_pending_micros)

    async def ledger_account(self, ref: wallet_pb2.AccountRef) -> wallet_pb2.LedgerAccount:
        response = await self.wallet_ctl.GetLedgerAccount(
            wallet_pb2.GetLedgerAccountRequest(account=ref),
            metadata=await self.operator(auth_pb2.AUDIENCE_WALLET),
        )
        return response.account

    async def verify_ledger(self) -> wallet_pb2.VerifyLedgerResponse:
        response: wallet_pb2.VerifyLedgerResponse = await self.wallet_ctl.VerifyLedger(
            wallet_pb2.VerifyLedgerRequest(max_failures=100),
            metadata=await self.operator(auth_pb2.AUDIENCE_WALLET),
            timeout=120,
        )
        return response

    # -- inference -------------------------------------------------------------------------------

    async def chat(
        self,
        agent: Agent,
        body: dict[str, Any],
        *,
        dialect: int = OPENAI,
        request_id: str | None = None,
        metadata: Metadata | None = None,
        model: str | None = None,
    ) -> provider_pb2.ChatCompletionResponse:
        response: provider_pb2.ChatCompletionResponse = await self.provider.ChatCompletion(
            provider_pb2.ChatCompletionRequest(
                request_id=request_id or rid(),
                dialect=dialect,
                body=orjson.dumps(body),
                model=model if model is not None else body.get("model", ""),
            ),
            metadata=metadata or await self.token(agent.inference_key),
            timeout=60,
        )
        return response

    def stream_call(
        self,
        body: dict[str, Any],
        metadata: Metadata,
        *,
        dialect: int = OPENAI,
        request_id: str | None = None,
    ) -> Any:
        return self.provider.StreamChatCompletion(
            provider_pb2.StreamChatCompletionRequest(
                request_id=request_id or rid(),
                dialect=dialect,
                body=orjson.dumps(body),
                model=body.get("model", ""),
            ),
            metadata=metadata,
            timeout=60,
        )

    async def stream(
        self, agent: Agent, body: dict[str, Any], *, dialect: int = OPENAI
    ) -> list[provider_pb2.StreamChatCompletionResponse]:
        call = self.stream_call(body, await self.token(agent.inference_key), dialect=dialect)
        return [message async for message in call]

    async def generation(self, generation_id: str) -> provider_pb2.Generation:
        response = await self.provider_ctl.GetGeneration(
            provider_pb2.GetGenerationRequest(generation_id=generation_id),
            metadata=await self.operator(),
        )
        return response.generation

    async def settle_all(self) -> provider_pb2.SettlePendingResponse:
        response: provider_pb2.SettlePendingResponse = await self.provider_ctl.SettlePending(
            provider_pb2.SettlePendingRequest(request_id=rid(), limit=1000),
            metadata=await self.operator(),
            timeout=60,
        )
        return response


def openai_body(text: str, *, model: str = MINI, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def anthropic_body(
    text: str, *, model: str = HAIKU, max_tokens: int = 64, **extra: Any
) -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }


def sse_payloads(messages: list[provider_pb2.StreamChatCompletionResponse]) -> list[bytes]:
    return [message.chunk.data for message in messages if message.WhichOneof("event") == "chunk"]


def sse_json(messages: list[provider_pb2.StreamChatCompletionResponse]) -> list[Any]:
    """The JSON of every ``data:`` line of the chunks ([DONE] as the string "[DONE]")."""
    found: list[Any] = []
    for payload in sse_payloads(messages):
        for line in payload.decode().split("\n"):
            if line.startswith("data: "):
                data = line[6:]
                found.append(data if data == "[DONE]" else orjson.loads(data))
    return found


@contextlib.asynccontextmanager
async def lab_for(
    server: ProviderServerHandle, auth_server: AuthServerHandle, wallet: WalletServerHandle
) -> AsyncIterator[Lab]:
    async with contextlib.AsyncExitStack() as stack:
        gateway = await stack.enter_async_context(server.channel("gateway"))
        ctl = await stack.enter_async_context(server.channel("ctl"))
        wallet_ctl = await stack.enter_async_context(wallet.channel("ctl"))
        auth_ctl = await stack.enter_async_context(auth_server.channel("ctl"))
        auth = await stack.enter_async_context(client_for(auth_server))
        yield Lab(
            auth=auth,
            provider=server.stub(gateway),
            provider_ctl=server.stub(ctl),
            wallet_ctl=wallet.stub(wallet_ctl),
            auth_ctl=auth_server.stub(auth_ctl),
            server=server,
            server_auth=auth_server,
            server_wallet=wallet,
        )


class ProviderRows:
    """The provider schema as its owner sees it (assertions only)."""

    def __init__(self, url: str) -> None:
        self.url = url

    @contextlib.contextmanager
    def connect(self) -> Iterator[psycopg.Connection[Any]]:
        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute("SET search_path = provider")
            yield connection

    def rows(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with self.connect() as connection:
            return connection.execute(query, params).fetchall()

    def execute(self, statement: str, *params: Any) -> None:
        with self.connect() as connection:
            connection.execute(statement, params)

    def value(self, query: str, *params: Any) -> Any:
        rows = self.rows(query, *params)
        assert len(rows) == 1, rows
        return rows[0][0]

    def generation(self, generation_id: str) -> dict[str, Any]:
        with self.connect() as connection:
            cursor = connection.execute("SELECT * FROM generations WHERE id = %s", (generation_id,))
            row = cursor.fetchone()
            assert row is not None, generation_id
            columns = [item.name for item in cursor.description or ()]
            return dict(zip(columns, row, strict=True))


def code_and_reason(error: grpc.aio.AioRpcError) -> tuple[grpc.StatusCode, str | None]:
    from services.common.status import error_reason

    return error.code(), error_reason(error)

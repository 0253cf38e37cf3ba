"""Review's two dependencies, auth and wallet, behind small typed clients.

* :class:`ServiceTokens` asks auth (``IssueServiceToken``) for review's own access token,
  addressed to auth and wallet, and reuses it until shortly before it expires; concurrent callers
  share one request. Review uses it for everything done without an end user: reading agents,
  paying out, reading the treasury.
* :class:`AuthDirectory` reads agents: the claim gate (``GetTrustTier``), a fresh read of one
  agent (``GetAgent``), and pages of changes for the mirror (``ListAgents``).
* :class:`Wallet` makes the transfers: escrow funding (with the admin's own token, as wallet
  requires), payout batches (with review's token), treasury mints (with the caller's token) and
  ledger account reads.

Every call has a deadline (the channel's default unless given); a dependency that cannot be
reached is AUTH_UNAVAILABLE / WALLET_UNAVAILABLE, and wallet refusing a caller's token is
WALLET_REFUSED. Anything else a dependency answers is unexpected and propagates (INTERNAL).
"""

from __future__ import annotations

import asyncio
import datetime
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import grpc
from tokenmart.auth.v1 import auth_pb2, auth_pb2_grpc
from tokenmart.wallet.v1 import wallet_pb2, wallet_pb2_grpc

from services.common.errors import RequestIdConflict
from services.common.status import error_reason
from services.review import errors
from services.review.domain.model import AgentFacts, AgentLifecycle, AgentStatus

Metadata = tuple[tuple[str, str], ...]

AUTH_SERVICE: Final = "tokenmart.auth.v1.AuthService"
WALLET_SERVICE: Final = "tokenmart.wallet.v1.WalletService"
AUTH_IDEMPOTENT: Final = ("GetAgent", "GetTrustTier", "ListAgents", "IssueServiceToken")
WALLET_IDEMPOTENT: Final = ("GetLedgerAccount", "CreateEscrowTransfers", "Mint")
"""Safe to retry on UNAVAILABLE: reads, and writes whose transfer ids are their idempotency keys."""

_UNREACHABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
_REFUSED = frozenset({grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED})
TOKEN_RENEW_MARGIN_S: Final = 60.0

_LIFECYCLES = {
    auth_pb2.AGENT_LIFECYCLE_REGISTERED_UNCLAIMED: AgentLifecycle.REGISTERED_UNCLAIMED,
    auth_pb2.AGENT_LIFECYCLE_CLAIMED: AgentLifecycle.CLAIMED,
}
_STATUSES = {
    auth_pb2.AGENT_STATUS_ACTIVE: AgentStatus.ACTIVE,
    auth_pb2.AGENT_STATUS_SUSPENDED: AgentStatus.SUSPENDED,
}


class ServiceTokens:
    """Review's own access token (scope service), renewed a minute before it expires."""

    def __init__(
        self,
        stub: auth_pb2_grpc.AuthServiceStub,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stub = stub
        self._monotonic = monotonic
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = asyncio.Lock()

    async def metadata(self) -> Metadata:
        if self._token is None or self._monotonic() >= self._renew_at:
            async with self._lock:
                if self._token is None or self._monotonic() >= self._renew_at:
                    await self._renew()
        assert self._token is not None
        return (("authorization", f"Bearer {self._token}"),)

    async def _renew(self) -> None:
        try:
            issued = await self._stub.IssueServiceToken(
                auth_pb2.IssueServiceTokenRequest(
                    audiences=[auth_pb2.AUDIENCE_AUTH, auth_pb2.AUDIENCE_WALLET]
                )
            )
        except grpc.aio.AioRpcError as error:
            if error.code() in _UNREACHABLE:
                raise errors.AuthUnavailable() from None
            raise
        lifetime_s = (
            issued.expires_at.ToDatetime(tzinfo=datetime.UTC) - datetime.datetime.now(datetime.UTC)
        ).total_seconds()
        self._token = issued.access_token
        self._renew_at = self._monotonic() + max(0.0, lifetime_s - TOKEN_RENEW_MARGIN_S)


@dataclass(frozen=True)
class AgentGate:
    """The facts a claim is gated on, read fresh from auth."""

    agent_id: uuid.UUID
    trust_tier: int
    lifecycle: AgentLifecycle
    status: AgentStatus
    owner_account_id: uuid.UUID | None


@dataclass(frozen=True)
class AgentPage:
    agents: list[AgentFacts]
    next_page_token: str


def agent_facts(agent: auth_pb2.Agent) -> AgentFacts:
    return AgentFacts(
        agent_id=uuid.UUID(agent.agent_id),
        owner_account_id=uuid.UUID(agent.owner_account_id) if agent.owner_account_id else None,
        lifecycle=_LIFECYCLES[agent.lifecycle],
        status=_STATUSES[agent.status],
        trust_tier=agent.trust_tier,
        updated_at=agent.updated_at.ToDatetime(tzinfo=datetime.UTC),
    )


class AuthDirectory:
    def __init__(self, stub: auth_pb2_grpc.AuthServiceStub, tokens: ServiceTokens) -> None:
        self._stub = stub
        self._tokens = tokens

    async def gate(self, agent_id: uuid.UUID) -> AgentGate | None:
        """``GetTrustTier``: the agent's tier, lifecycle, status and owner now, or None."""
        try:
            response = await self._stub.GetTrustTier(
                auth_pb2.GetTrustTierRequest(agent_id=str(agent_id)),
                metadata=await self._tokens.metadata(),
            )
        except grpc.aio.AioRpcError as error:
            _raise_unless_absent(error)
            return None
        return AgentGate(
            agent_id=agent_id,
            trust_tier=response.trust_tier,
            lifecycle=_LIFECYCLES[response.lifecycle],
            status=_STATUSES[response.status],
            owner_account_id=(
                uuid.UUID(response.owner_account_id) if response.owner_account_id else None
            ),
        )

    async def agent(self, agent_id: uuid.UUID) -> AgentFacts | None:
        """``GetAgent``: the agent as auth has it now, or None when auth does not know it."""
        try:
            response = await self._stub.GetAgent(
                auth_pb2.GetAgentRequest(agent_id=str(agent_id)),
                metadata=await self._tokens.metadata(),
            )
        except grpc.aio.AioRpcError as error:
            _raise_unless_absent(error)
            return None
        return agent_facts(response.agent)

    async def changes(
        self, *, updated_after: datetime.datetime | None, page_token: str, page_size: int
    ) -> AgentPage:
        """One page of ``ListAgents`` in change order."""
        request = auth_pb2.ListAgentsRequest(page_size=page_size, page_token=page_token)
        if updated_after is not None:
            request.updated_after.FromDatetime(updated_after)
        try:
            response = await self._stub.ListAgents(request, metadata=await self._tokens.metadata())
        except grpc.aio.AioRpcError as error:
            if error.code() in _UNREACHABLE:
                raise errors.AuthUnavailable() from None
            raise
        return AgentPage(
            agents=[agent_facts(agent) for agent in response.agents],
            next_page_token=response.next_page_token,
        )


def _raise_unless_absent(error: grpc.aio.AioRpcError) -> None:
    """Return when auth said the agent does not exist; raise for anything else."""
    if error.code() == grpc.StatusCode.NOT_FOUND and error_reason(error) == "AGENT_NOT_FOUND":
        return
    if error.code() in _UNREACHABLE:
        raise errors.AuthUnavailable() from None
    raise error


@dataclass(frozen=True)
class Outcome:
    """One transfer's result in a batch, as wallet named it (without its prefix)."""

    transfer_id: str
    result: str


def result_name(value: int) -> str:
    return wallet_pb2.CreateTransferResult.Name(value).removeprefix("CREATE_TRANSFER_RESULT_")


@dataclass(frozen=True)
class LedgerBalance:
    ledger_account_id: str
    available_micros: int


class Wallet:
    def __init__(self, stub: wallet_pb2_grpc.WalletServiceStub, tokens: ServiceTokens) -> None:
        self._stub = stub
        self._tokens = tokens

    async def escrow_transfers(
        self, transfers: Sequence[wallet_pb2.TransferInput], *, metadata: Metadata | None = None
    ) -> list[Outcome]:
        """``CreateEscrowTransfers`` with ``metadata`` (the caller's token) or review's own.

        Each call has a fresh request id: wallet would replay a stored answer for a reused one,
        failures included, while the transfer ids alone are what makes a retry safe.
        """
        try:
            response = await self._stub.CreateEscrowTransfers(
                wallet_pb2.CreateEscrowTransfersRequest(
                    request_id=str(uuid.uuid4()), transfers=list(transfers)
                ),
                metadata=metadata or await self._tokens.metadata(),
            )
        except grpc.aio.AioRpcError as error:
            raise _wallet_error(error) from None
        return [
            Outcome(transfer_id=outcome.transfer_id, result=result_name(outcome.result))
            for outcome in response.outcomes
        ]

    async def mint_to_treasury(
        self, *, transfer_id: uuid.UUID, amount_micros: int, reason: str, metadata: Metadata
    ) -> wallet_pb2.MintResponse:
        """``Mint`` into the treasury with the caller's own token (an admin or ctl)."""
        try:
            response: wallet_pb2.MintResponse = await self._stub.Mint(
                wallet_pb2.MintRequest(
                    request_id=str(uuid.uuid4()),
                    transfer_id=str(transfer_id),
                    to=wallet_pb2.AccountRef(system_account=wallet_pb2.ACCOUNT_KIND_TREASURY),
                    amount_micros=amount_micros,
                    reason=reason,
                ),
                metadata=metadata,
            )
        except grpc.aio.AioRpcError as error:
            reason_name = error_reason(error) or ""
            if error.code() == grpc.StatusCode.ALREADY_EXISTS and reason_name.startswith("EXISTS_"):
                # The derived transfer id already minted something else: the request id was
                # reused with other fields.
                raise RequestIdConflict() from None
            if reason_name == "AMOUNT_TOO_LARGE":
                raise errors.AmountTooLarge() from None
            raise _wallet_error(error) from None
        return response

    async def system_balance(self, kind: wallet_pb2.AccountKind) -> LedgerBalance:
        """``GetLedgerAccount`` of a system account, with review's own token."""
        try:
            response = await self._stub.GetLedgerAccount(
                wallet_pb2.GetLedgerAccountRequest(
                    account=wallet_pb2.AccountRef(system_account=kind)
                ),
                metadata=await self._tokens.metadata(),
            )
        except grpc.aio.AioRpcError as error:
            raise _wallet_error(error) from None
        return LedgerBalance(
            ledger_account_id=response.account.ledger_account_id,
            available_micros=response.account.available_micros,
        )


def _wallet_error(error: grpc.aio.AioRpcError) -> Exception:
    if error.code() in _UNREACHABLE:
        return errors.WalletUnavailable()
    if error.code() in _REFUSED:
        return errors.WalletRefused(error_reason(error) or error.code().name)
    unexpected: Exception = error
    return unexpected

"""Helpers for the review tests: the three real servers behind one object, and common flows.

Everything goes over real mTLS channels, presenting the certificate of the peer that would make
the call in production (gateway for end-user calls, ctl for operators). End-user access tokens
come from auth's ``Authenticate``, exactly as the gateway gets them.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc
import psycopg
import pytest
from tokenmart.auth.v1 import auth_pb2, auth_pb2_grpc
from tokenmart.review.v1 import review_pb2, review_pb2_grpc
from tokenmart.wallet.v1 import wallet_pb2, wallet_pb2_grpc

from services.common.status import error_info

if TYPE_CHECKING:
    from tests.conftest import AuthServerHandle, ReviewServerHandle, WalletServerHandle

PASSWORD = "correct horse battery staple"
Metadata = tuple[tuple[str, str], ...]


def rid() -> str:
    return str(uuid.uuid4())


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


def bearer(token: str) -> Metadata:
    return (("authorization", f"Bearer {token}"),)


async def refused(call: Awaitable[Any], code: grpc.StatusCode, reason: str) -> grpc.aio.AioRpcError:
    """Await ``call`` and assert it fails with ``code`` and ``reason``; return the error."""
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await call
    error = failed.value
    info = error_info(error)
    assert (error.code(), info.reason if info else None) == (code, reason), error.details()
    return error


def metadata_of(error: grpc.aio.AioRpcError) -> dict[str, str]:
    info = error_info(error)
    assert info is not None
    return dict(info.metadata)


@dataclass
class Account:
    account_id: str
    session_token: str


@dataclass
class Agent:
    agent_id: str
    api_key: str
    owner: Account | None


class World:
    """Auth, wallet and review as the gateway and ctl see them, with the usual flows."""

    def __init__(
        self,
        *,
        auth: AuthServerHandle,
        wallet: WalletServerHandle,
        review: ReviewServerHandle,
        channels: dict[str, grpc.aio.Channel],
    ) -> None:
        self.auth_server = auth
        self.wallet_server = wallet
        self.review_server = review
        self.auth = auth_pb2_grpc.AuthServiceStub(channels["auth"])
        self.auth_ctl = auth_pb2_grpc.AuthServiceStub(channels["auth_ctl"])
        self.wallet_ctl = wallet_pb2_grpc.WalletServiceStub(channels["wallet_ctl"])
        self.review = review_pb2_grpc.ReviewServiceStub(channels["review"])
        self.review_ctl = review_pb2_grpc.ReviewServiceStub(channels["review_ctl"])
        self._admin: Account | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls, *, auth: AuthServerHandle, wallet: WalletServerHandle, review: ReviewServerHandle
    ) -> AsyncIterator[World]:
        channels = {
            "auth": auth.channel("gateway"),
            "auth_ctl": auth.channel("ctl"),
            "wallet_ctl": wallet.channel("ctl"),
            "review": review.channel("gateway"),
            "review_ctl": review.channel("ctl"),
        }
        try:
            yield cls(auth=auth, wallet=wallet, review=review, channels=channels)
        finally:
            for channel in channels.values():
                await channel.close()

    # -- credentials ---------------------------------------------------------------------------

    async def token(self, credential: str, *, agent_id: str = "") -> Metadata:
        """An end-user access token for ``credential`` (every audience), as the gateway gets it."""
        response = await self.auth.Authenticate(
            auth_pb2.AuthenticateRequest(
                credential=credential, agent_id=agent_id, client_ip="192.0.2.10"
            )
        )
        return bearer(response.access_token)

    async def operator(self, *audiences: int) -> Metadata:
        issued = await self.auth_ctl.IssueServiceToken(
            auth_pb2.IssueServiceTokenRequest(
                audiences=list(audiences) or [auth_pb2.AUDIENCE_REVIEW]
            )
        )
        return bearer(issued.access_token)

    async def account(self) -> Account:
        email = f"{unique('user')}@example.com"
        await self.auth.RegisterAccount(
            auth_pb2.RegisterAccountRequest(request_id=rid(), email=email, password=PASSWORD)
        )
        return await self._login(email)

    async def _login(self, email: str) -> Account:
        response = await self.auth.Login(
            auth_pb2.LoginRequest(request_id=rid(), email=email, password=PASSWORD)
        )
        return Account(response.account.account_id, response.session_token)

    async def admin(self) -> Account:
        """A fresh admin account (created the only way there is: by an operator)."""
        email = f"{unique('admin')}@example.com"
        await self.auth_ctl.CreateAdminAccount(
            auth_pb2.CreateAdminAccountRequest(
                request_id=rid(), email=email, password=PASSWORD, role=auth_pb2.ACCOUNT_ROLE_ADMIN
            ),
            metadata=await self.operator(auth_pb2.AUDIENCE_AUTH),
        )
        return await self._login(email)

    async def shared_admin(self) -> Account:
        if self._admin is None:
            self._admin = await self.admin()
        return self._admin

    async def as_admin(self, admin: Account | None = None) -> Metadata:
        chosen = admin or await self.shared_admin()
        return await self.token(chosen.session_token)

    async def agent(
        self,
        owner: Account | None = None,
        *,
        tier: int = 1,
        claimed: bool = True,
        wallet: bool = True,
    ) -> Agent:
        """A registered agent, claimed by ``owner`` (a new account by default), at ``tier``,
        with its wallet opened."""
        registered = await self.auth.RegisterAgent(
            auth_pb2.RegisterAgentRequest(request_id=rid(), name=unique("agent"))
        )
        agent_id = registered.agent.agent_id
        if not claimed:
            return Agent(agent_id, registered.api_key, None)
        owner = owner or await self.account()
        await self.auth.ClaimAgent(
            auth_pb2.ClaimAgentRequest(request_id=rid(), claim_code=registered.claim_code),
            metadata=await self.token(owner.session_token),
        )
        if tier:
            await self.set_tier(agent_id, tier)
        if wallet:
            await self.open_wallet(agent_id)
        return Agent(agent_id, registered.api_key, owner)

    async def set_tier(self, agent_id: str, tier: int) -> None:
        await self.auth_ctl.SetTrustTier(
            auth_pb2.SetTrustTierRequest(
                request_id=rid(), agent_id=agent_id, trust_tier=tier, reason="test"
            ),
            metadata=await self.operator(auth_pb2.AUDIENCE_AUTH),
        )

    async def suspend(self, agent_id: str) -> None:
        await self.auth_ctl.SuspendAgent(
            auth_pb2.SuspendAgentRequest(request_id=rid(), agent_id=agent_id, reason="test"),
            metadata=await self.operator(auth_pb2.AUDIENCE_AUTH),
        )

    async def reactivate(self, agent_id: str) -> None:
        await self.auth_ctl.ReactivateAgent(
            auth_pb2.ReactivateAgentRequest(request_id=rid(), agent_id=agent_id, reason="test"),
            metadata=await self.operator(auth_pb2.AUDIENCE_AUTH),
        )

    async def open_wallet(self, agent_id: str) -> None:
        await self.wallet_ctl.EnsureWallet(
            wallet_pb2.EnsureWalletRequest(request_id=rid(), agent_id=agent_id),
            metadata=await self.operator(auth_pb2.AUDIENCE_WALLET),
        )

    def reset_pool(self) -> None:
        """Empty the reviewer mirror, so the next draws come only from agents mirrored after."""
        with psycopg.connect(self.review_server.owner_url, autocommit=True) as connection:
            connection.execute("DELETE FROM review.agents")

    async def as_agent(self, agent: Agent) -> Metadata:
        return await self.token(agent.api_key)

    # -- money ---------------------------------------------------------------------------------

    async def fund(self, amount_micros: int, *, admin: Account | None = None) -> None:
        await self.review.FundTreasury(
            review_pb2.FundTreasuryRequest(
                request_id=rid(), amount_micros=amount_micros, reason="fund the tests"
            ),
            metadata=await self.as_admin(admin),
        )

    async def ledger(self, **ref: Any) -> wallet_pb2.LedgerAccount:
        response = await self.wallet_ctl.GetLedgerAccount(
            wallet_pb2.GetLedgerAccountRequest(account=wallet_pb2.AccountRef(**ref)),
            metadata=await self.operator(auth_pb2.AUDIENCE_WALLET),
        )
        return response.account

    async def balance(self, agent: Agent) -> int:
        return (await self.ledger(agent_id=agent.agent_id)).available_micros

    async def treasury(self) -> int:
        return (await self.ledger(system_account=wallet_pb2.ACCOUNT_KIND_TREASURY)).available_micros

    async def escrow(self) -> int:
        account = await self.ledger(system_account=wallet_pb2.ACCOUNT_KIND_BOUNTY_ESCROW)
        return account.available_micros

    async def verify_ledger(self) -> wallet_pb2.VerifyLedgerResponse:
        response: wallet_pb2.VerifyLedgerResponse = await self.wallet_ctl.VerifyLedger(
            wallet_pb2.VerifyLedgerRequest(), metadata=await self.operator(auth_pb2.AUDIENCE_WALLET)
        )
        return response

    # -- bounties ------------------------------------------------------------------------------

    async def bounty(
        self, *, admin: Account | None = None, fund: bool = True, **fields: Any
    ) -> review_pb2.Bounty:
        """A bounty (funding the treasury with exactly its escrow first, by default)."""
        values: dict[str, Any] = {
            "title": unique("bounty"),
            "description": "do the thing",
            "type": review_pb2.BOUNTY_TYPE_WORK,
            "reward_micros": 1_000_000,
            "reviewer_reward_micros": 10_000,
            **fields,
        }
        if fund:
            slots = values.get("max_claims") or 1
            reviewers = self.review_server.settings.quorum.reviewers_per_claim
            await self.fund(
                slots * (values["reward_micros"] + reviewers * values["reviewer_reward_micros"]),
                admin=admin,
            )
        response = await self.review.CreateBounty(
            review_pb2.CreateBountyRequest(request_id=rid(), **values),
            metadata=await self.as_admin(admin),
        )
        return response.bounty

    async def claim(self, agent: Agent, bounty_id: str) -> review_pb2.Claim:
        response = await self.review.ClaimBounty(
            review_pb2.ClaimBountyRequest(request_id=rid(), bounty_id=bounty_id),
            metadata=await self.as_agent(agent),
        )
        return response.claim

    async def submit(self, agent: Agent, bounty_id: str, text: str = "done") -> review_pb2.Claim:
        response = await self.review.SubmitWork(
            review_pb2.SubmitWorkRequest(
                request_id=rid(), bounty_id=bounty_id, submission_text=text
            ),
            metadata=await self.as_agent(agent),
        )
        return response.claim

    async def pending(self, agent: Agent) -> list[review_pb2.PendingReview]:
        response = await self.review.ListPendingReviews(
            review_pb2.ListPendingReviewsRequest(), metadata=await self.as_agent(agent)
        )
        return list(response.reviews)

    async def vote(
        self, agent: Agent, review_id: str, decision: int, notes: str = ""
    ) -> review_pb2.SubmitReviewResponse:
        response: review_pb2.SubmitReviewResponse = await self.review.SubmitReview(
            review_pb2.SubmitReviewRequest(
                request_id=rid(), review_id=review_id, decision=decision, notes=notes
            ),
            metadata=await self.as_agent(agent),
        )
        return response

    async def admin_pending(
        self, stub: Any = None, metadata: Metadata | None = None
    ) -> list[review_pb2.AdminPendingReview]:
        """Every page of ListAdminPendingReviews (soonest due first, so a test's own newest
        reviews come last)."""
        stub = stub or self.review
        metadata = metadata or await self.as_admin()
        found: list[review_pb2.AdminPendingReview] = []
        token = ""
        while True:
            page = await stub.ListAdminPendingReviews(
                review_pb2.ListAdminPendingReviewsRequest(page_size=200, page_token=token),
                metadata=metadata,
            )
            found.extend(page.reviews)
            token = page.next_page_token
            if not token:
                return found

    async def claim_as_admin(self, claim_id: str) -> review_pb2.Claim:
        response = await self.review.GetClaim(
            review_pb2.GetClaimRequest(claim_id=claim_id), metadata=await self.as_admin()
        )
        return response.claim

    async def reviews_by_agent(
        self, claim_id: str, agents: Iterable[Agent]
    ) -> dict[str, tuple[Agent, str]]:
        """The claim's assigned reviews: reviewer agent id -> (agent, review id)."""
        claim = await self.claim_as_admin(claim_id)
        by_id = {agent.agent_id: agent for agent in agents}
        return {
            item.reviewer_agent_id: (by_id[item.reviewer_agent_id], item.review_id)
            for item in claim.reviews
            if item.status == review_pb2.REVIEW_STATUS_ASSIGNED
        }

    async def submitted_claim(
        self, *, reviewers: int = 3, bounty_fields: dict[str, Any] | None = None
    ) -> Submitted:
        """A bounty claimed and submitted by a new agent, with ``reviewers`` new reviewer agents
        (each with its own owner) mirrored as the only pool."""
        bounty = await self.bounty(**(bounty_fields or {}))
        submitter = await self.agent()
        pool = [await self.agent() for _ in range(reviewers)]
        self.reset_pool()
        await self.review_server.mirror(agent.agent_id for agent in pool)
        claim = await self.claim(submitter, bounty.bounty_id)
        submitted = await self.submit(submitter, bounty.bounty_id)
        assert submitted.claim_id == claim.claim_id
        assigned = await self.reviews_by_agent(claim.claim_id, pool)
        return Submitted(
            bounty=bounty, submitter=submitter, pool=pool, claim=submitted, assigned=assigned
        )


@dataclass
class Submitted:
    bounty: review_pb2.Bounty
    submitter: Agent
    pool: list[Agent]
    claim: review_pb2.Claim
    assigned: dict[str, tuple[Agent, str]]

    @property
    def votes(self) -> list[tuple[Agent, str]]:
        return list(self.assigned.values())


class Rows:
    """Read-only views of the review and wallet schemas, to prove what happened (or did not)."""

    VOLATILE = frozenset({"review.agents", "review.sync_state", "wallet.request_log"})
    """The reviewer mirror is a cache, and wallet remembering its answer to a refused call is
    bookkeeping; neither is an effect."""

    def __init__(self, *, review_url: str, wallet_url: str) -> None:
        self.review_url = review_url
        self.wallet_url = wallet_url

    def review(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.review_url, autocommit=True) as connection:
            return connection.execute(query, params).fetchall()

    def wallet(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.wallet_url, autocommit=True) as connection:
            return connection.execute(query, params).fetchall()

    def snapshot(self) -> dict[str, str]:
        """A digest of every row of every review table but the mirror, and of the ledger."""
        digests: dict[str, str] = {}
        for url, schema in ((self.review_url, "review"), (self.wallet_url, "wallet")):
            with psycopg.connect(url, autocommit=True) as connection:
                tables = [
                    row[0]
                    for row in connection.execute(
                        "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1",
                        (schema,),
                    )
                    if f"{schema}.{row[0]}" not in self.VOLATILE and row[0] != "alembic_version"
                ]
                for table in tables:
                    # Opening a wallet for an account or agent a test creates is bookkeeping;
                    # a wallet that money touched is what an attack could have changed.
                    where = (
                        " WHERE t.transfer_count > 0"
                        if f"{schema}.{table}" == "wallet.ledger_accounts"
                        else ""
                    )
                    row = connection.execute(
                        f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), "
                        f"'')) FROM {schema}.{table} t{where}"
                    ).fetchone()
                    assert row is not None
                    digests[f"{schema}.{table}"] = f"{row[0]}:{row[1]}"
        return digests

    def transfers(self, transfer_ids: Iterable[str]) -> list[tuple[str, int, str]]:
        """(id, amount, reference) of the ledger's transfers with these ids."""
        ids = list(transfer_ids)
        return [
            (str(row[0]), int(row[1]), str(row[2]))
            for row in self.wallet(
                "SELECT id, amount, reference FROM wallet.transfers WHERE id = ANY(%s)", ids
            )
        ]

    def outbox_of_claim(self, claim_id: str) -> list[tuple[Any, ...]]:
        return self.review(
            "SELECT id, status, attempts, total_micros FROM review.outbox_entries "
            "WHERE claim_id = %s",
            claim_id,
        )

    def payout_transfer_ids(self, claim_id: str) -> list[str]:
        return [
            str(row[0])
            for row in self.review(
                "SELECT t.transfer_id FROM review.payout_transfers t "
                "JOIN review.outbox_entries e ON e.id = t.entry_id WHERE e.claim_id = %s "
                "ORDER BY t.position",
                claim_id,
            )
        ]


async def eventually(check: Any, *, timeout_s: float = 10.0) -> Any:
    """Poll ``check()`` (sync or async) until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def later(**delta: float) -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC) + datetime.timedelta(**delta)

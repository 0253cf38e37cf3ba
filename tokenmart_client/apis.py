"""Typed facades for the common calls: keyword arguments in, the protobuf response out.

Each method builds the request message, runs it through the client (deadline, token, retries of
its retry class, errors as :class:`~tokenmart_client.errors.TokenMartError`) and returns the
response message unchanged. Ids that make a mutation idempotent (``request_id``, and the
``transfer_id`` / ``hold_id`` / ``post_transfer_id`` / ``void_transfer_id`` the ledger keys
transfers by) are generated once per call when not given, so retries reuse them; pass your own,
persisted before the call, to make a retry *after a crash of your process* safe as well.

Anything without a facade is one call away: ``await client.call("wallet", "GetHold",
wallet_pb2.GetHoldRequest(hold_id=...))``.
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from google.protobuf import duration_pb2, timestamp_pb2
from google.protobuf.message import Message
from tokenmart.auth.v1 import auth_pb2
from tokenmart.provider.v1 import provider_pb2
from tokenmart.review.v1 import review_pb2
from tokenmart.wallet.v1 import wallet_pb2

if TYPE_CHECKING:
    from tokenmart_client.client import TokenMartClient

R = TypeVar("R", bound=Message)

ALL_AUDIENCES: tuple[auth_pb2.Audience, ...] = (
    auth_pb2.AUDIENCE_AUTH,
    auth_pb2.AUDIENCE_WALLET,
    auth_pb2.AUDIENCE_PROVIDER,
    auth_pb2.AUDIENCE_REVIEW,
)


def _new_id() -> str:
    return str(uuid.uuid4())


def _timestamp(moment: datetime.datetime) -> timestamp_pb2.Timestamp:
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment.astimezone(datetime.UTC))
    return stamp


class _Api:
    service = ""

    def __init__(self, client: TokenMartClient) -> None:
        self._client = client

    async def _unary(
        self, method: str, request: Message, response_type: type[R], timeout_s: float | None
    ) -> R:
        response = await self._client.call(self.service, method, request, timeout_s=timeout_s)
        assert isinstance(response, response_type), type(response)
        return response


class AuthApi(_Api):
    """``tokenmart.auth.v1.AuthService``: credentials, sessions, agents, keys, tokens."""

    service = "auth"

    async def authenticate(
        self,
        credential: str,
        *,
        agent_id: str = "",
        audiences: Sequence[auth_pb2.Audience] = (),
        accepted_families: Sequence[auth_pb2.CredentialFamily] = (),
        client_ip: str = "",
        user_agent: str = "",
        timeout_s: float | None = None,
    ) -> auth_pb2.AuthenticateResponse:
        """Trade a raw credential for its principal and an access token (gateway certificate).
        Empty ``audiences`` asks for a token every service accepts."""
        request = auth_pb2.AuthenticateRequest(
            credential=credential,
            agent_id=agent_id,
            client_ip=client_ip,
            user_agent=user_agent,
            audiences=list(audiences),
            accepted_families=list(accepted_families),
        )
        return await self._unary("Authenticate", request, auth_pb2.AuthenticateResponse, timeout_s)

    async def issue_service_token(
        self,
        *,
        audiences: Sequence[auth_pb2.Audience] = ALL_AUDIENCES,
        timeout_s: float | None = None,
    ) -> auth_pb2.IssueServiceTokenResponse:
        """A service token for the calling certificate (provider, review or ctl)."""
        request = auth_pb2.IssueServiceTokenRequest(audiences=list(audiences))
        return await self._unary(
            "IssueServiceToken", request, auth_pb2.IssueServiceTokenResponse, timeout_s
        )

    async def get_public_keys(
        self, *, timeout_s: float | None = None
    ) -> auth_pb2.GetPublicKeysResponse:
        return await self._unary(
            "GetPublicKeys",
            auth_pb2.GetPublicKeysRequest(),
            auth_pb2.GetPublicKeysResponse,
            timeout_s,
        )

    async def register_account(
        self,
        *,
        email: str,
        password: str,
        display_name: str = "",
        client_ip: str = "",
        user_agent: str = "",
        request_id: str | None = None,
        timeout_s: float | None = None,
    ) -> auth_pb2.RegisterAccountResponse:
        request = auth_pb2.RegisterAccountRequest(
            request_id=request_id or _new_id(),
            email=email,
            password=password,
            display_name=display_name,
            client_ip=client_ip,
            user_agent=user_agent,
        )
        return await self._unary(
            "RegisterAccount", request, auth_pb2.RegisterAccountResponse, timeout_s
        )

    async def login(
        self,
        *,
        email: str,
        password: str,
        client_ip: str = "",
        user_agent: str = "",
        request_id: str | None = None,
        timeout_s: float | None = None,
    ) -> auth_pb2.LoginResponse:
        """Start a session. Never retried: every attempt counts towards the lockout."""
        request = auth_pb2.LoginRequest(
            request_id=request_id or _new_id(),
            email=email,
            password=password,
            client_ip=client_ip,
            user_agent=user_agent,
        )
        return await self._unary("Login", request, auth_pb2.LoginResponse, timeout_s)

    async def refresh_session(
        self,
        *,
        refresh_token: str,
        client_ip: str = "",
        user_agent: str = "",
        request_id: str | None = None,
        timeout_s: float | None = None,
    ) -> auth_pb2.RefreshSessionResponse:
        """Rotate a refresh token. Never retried: resending a rotated token revokes the
        session."""
        request = auth_pb2.RefreshSessionRequest(
            request_id=request_id or _new_id(),
            refresh_token=refresh_token,
            client_ip=client_ip,
            user_agent=user_agent,
        )
        return await self._unary(
            "RefreshSession", request, auth_pb2.RefreshSessionResponse, timeout_s
        )

    async def register_agent(
        self,
        *,
        name: str,
        description: str = "",
        harness: str = "",
        client_ip: str = "",
        user_agent: str = "",
        request_id: str | None = None,
        timeout_s: float | None = None,
    ) -> auth_pb2.RegisterAgentResponse:
        request = auth_pb2.RegisterAgentRequest(
            request_id=request_id or _new_id(),
            name=name,
            description=description,
            harness=harness,
            client_ip=client_ip,
            user_agent=user_agent,
        )
        return await self._unary(
            "RegisterAgent", request, auth_pb2.RegisterAgentResponse, timeout_s
        )

    async def claim_agent(
        self,
        *,
        claim_code: str,
        client_ip: str = "",
        request_id: str | None = None,
        timeout_s: float | None = None,
    ) -> auth_pb2.ClaimAgentResponse:
        request = auth_pb2.ClaimAgentRequest(
            request_id=request_id or _new_id(), claim_code=claim_code, client_ip=client_ip
        )
        return await self._unary("ClaimAgent", request, auth_pb2.ClaimAgentResponse, timeout_s)

    async def create_key(
        self,
        *,
        family: auth_pb2.KeyFamily,
        name: str,
        agent_id: str = "",
        credit_limit_micros: int | None = None,
        rate_limit_rpm: int | None = None,
        expires_in_s: int | None = None,
        allowed_models: Sequence[str] = (),
        request_id: str | None = None,
        timeout_s: float | None = None,
    ) -> auth_pb2.CreateKeyResponse:
        """Mint a ``th_`` or ``thm_`` key (the raw key is in the response, shown once)."""
        request = auth_pb2.CreateKeyRequest(
            request_id=request_id or _new_id(),
            agent_id=agent_id,
            family=family,
            name=name,
            allowed_models=list(allowed_models),
        )
        if credit_limit_micros is not None:
            request.credit_limit_micros = credit_limit_micros
        if rate_limit_rpm is not None:
            request.rate_limit_rpm = rate_limit_rpm
        if expires_in_s is not None:
            request.expires_in.CopyFrom(duration_pb2.Duration(seconds=expires_in_s))
        return await self._unary("CreateKey", request, auth_pb2.CreateKeyResponse, timeout_s)

    async def create_admin_account(
        self,
        *,
        email: str,
        password: str,
        role: auth_pb2.AccountRole = auth_pb2.ACCOUNT_ROLE_ADMIN,
        display_name: str = "",
        request_id: str | None = None,
        timeout_s: float | None = None,
    ) -> auth_pb2.CreateAdminAccountResponse:
        """Create an admin (ctl certificate with a service token)."""
        request = auth_pb2.CreateAdminAccountRequest(
            request_id=request_id or _new_id(),
            email=email,
            password=password,
            display_name=display_name,
            role=role,
        )
        return await self._unary(
            "CreateAdminAccount", request, auth_pb2.CreateAdminAccountResponse, timeout_s
        )

    async def get_me(self, *, timeout_s: float | None = None) -> auth_pb2.GetMeResponse:
        return await self._unary(
            "GetMe", auth_pb2.GetMeRequest(), auth_pb2.GetMeResponse, timeout_s
        )


class WalletApi(_Api):
    """``tokenmart.wallet.v1.WalletService``: balances, transfers, holds, verification."""

    service = "wallet"

    async def get_balance(
        self, *, wallet: wallet_pb2.AccountRef | None = None, timeout_s: float | None = None
    ) -> wallet_pb2.GetBalanceResponse:
        """The caller's wallet (acting agent, else the session's main wallet), or ``wallet``."""
        request = wallet_pb2.GetBalanceRequest()
        if wallet is not None:
            request.wallet.CopyFrom(wallet)
        return await self._unary("GetBalance", request, wallet_pb2.GetBalanceResponse, timeout_s)

    async def get_ledger_account(
        self, *, account: wallet_pb2.AccountRef, timeout_s: float | None = None
    ) -> wallet_pb2.GetLedgerAccountResponse:
        request = wallet_pb2.GetLedgerAccountRequest(account=account)
        return await self._unary(
            "GetLedgerAccount", request, wallet_pb2.GetLedgerAccountResponse, timeout_s
        )

    async def create_transfer(
        self,
        *,
        amount_micros: int,
        to_agent_id: str | None = None,
        to_wallet_id: str | None = None,
        from_wallet_id: str = "",
        memo: str = "",
        transfer_id: str | None = None,
        request_id: str | None = None,
        timeout_s: float | None = None,
    ) -> wallet_pb2.CreateTransferResponse:
        """Move credits from one of the caller's wallets. ``transfer_id`` is the ledger's
        idempotency key: a resend with the same id answers ``EXISTS`` and the original."""
        if (to_agent_id is None) == (to_wallet_id is None):
            raise ValueError("name exactly one destination: to_agent_id or to_wallet_id")
        request = wallet_pb2.CreateTransferRequest(
            request_id=request_id or _new_id(),
            transfer_id=transfer_id or _new_id(),
            from_wallet_id=from_wallet_id,
            amount_micros=amount_micros,
            memo=memo,
        )
        if to_agent_id is not None:
            request.to_agent_id = to_agent_id
        else:
            assert to_wallet_id is not None
            request.to_wallet_id = to_wallet_id
        return await self._unary(
            "CreateTransfer", request, wallet_pb2.CreateTransferResponse, timeout_s
        )

    async def create_transfers(
        self,
        *,
        transfers: Sequence[wallet_pb2.TransferInput],
        request_id: str | None = None,
        timeout_s: float | None = None,
    ) -> wallet_pb2.CreateTransfersResponse:
        """A batch of up to 1,000 transfers; per-transfer results are in the response."""
        request = wallet_pb2.CreateTransfersRequest(
            request_id=request_id or _new_id(), transfers=list(transfers)
        )
        return await self._unary(
            "CreateTransfers", request, wallet_pb2.CreateTransfersResponse, timeout_s
        )

    async def mint(
        self,
        *,
        to: wallet_pb2.AccountRef,
        amount_micros: int,
        reason: str,
        transfer_id: str | None = None,
        request_id: str | None = None,
        timeout_s: float | None = None,
    ) -> wallet_pb2.MintResponse:
        """Create credits (an admin session's token, or ctl's operator token)."""
        request = wallet_pb2.MintRequest(
            request_id=request_id or _new_id(),
            transfer_id=transfer_id or _new_id(),
            to=to,
            amount_micros=amount_micros,
            reason=reason,
        )
        return await self._unary("Mint", request, wallet_pb2.MintResponse, timeout_s)

    async def create_hold(
        self,
        *,
        amount_micros: int,
        hold_timeout_s: int,
        code: wallet_pb2.TransferCode = wallet_pb2.TRANSFER_CODE_INFERENCE,
        reference: str = "",
        hold_id: str | None = None,
        request_id: str | None = None,
        timeout_s: float | None = None,
    ) -> wallet_pb2.CreateHoldResponse:
        """Reserve ``amount_micros`` on the token's agent wallet (provider certificate)."""
        request = wallet_pb2.CreateHoldRequest(
            request_id=request_id or _new_id(),
            hold_id=hold_id or _new_id(),
            amount_micros=amount_micros,
            timeout_s=hold_timeout_s,
            code=code,
            reference=reference,
        )
        return await self._unary("CreateHold", request, wallet_pb2.CreateHoldResponse, timeout_s)

    async def post_hold(
        self,
        *,
        hold_id: str,
        amount_micros: int,
        post_transfer_id: str | None = None,
        request_id: str | None = None,
        timeout_s: float | None = None,
    ) -> wallet_pb2.PostHoldResponse:
        request = wallet_pb2.PostHoldRequest(
            request_id=request_id or _new_id(),
            hold_id=hold_id,
            post_transfer_id=post_transfer_id or _new_id(),
            amount_micros=amount_micros,
        )
        return await self._unary("PostHold", request, wallet_pb2.PostHoldResponse, timeout_s)

    async def void_hold(
        self,
        *,
        hold_id: str,
        void_transfer_id: str | None = None,
        request_id: str | None = None,
        timeout_s: float | None = None,
    ) -> wallet_pb2.VoidHoldResponse:
        request = wallet_pb2.VoidHoldRequest(
            request_id=request_id or _new_id(),
            hold_id=hold_id,
            void_transfer_id=void_transfer_id or _new_id(),
        )
        return await self._unary("VoidHold", request, wallet_pb2.VoidHoldResponse, timeout_s)

    async def get_hold(
        self, *, hold_id: str, timeout_s: float | None = None
    ) -> wallet_pb2.GetHoldResponse:
        request = wallet_pb2.GetHoldRequest(hold_id=hold_id)
        return await self._unary("GetHold", request, wallet_pb2.GetHoldResponse, timeout_s)

    async def get_transfer(
        self, *, transfer_id: str, timeout_s: float | None = None
    ) -> wallet_pb2.GetTransferResponse:
        request = wallet_pb2.GetTransferRequest(transfer_id=transfer_id)
        return await self._unary("GetTransfer", request, wallet_pb2.GetTransferResponse, timeout_s)

    async def list_transfers(
        self,
        *,
        account: wallet_pb2.AccountRef | None = None,
        all_accounts: bool = False,
        codes: Sequence[wallet_pb2.TransferCode] = (),
        reference: str = "",
        page_size: int = 0,
        page_token: str = "",
        timeout_s: float | None = None,
    ) -> wallet_pb2.ListTransfersResponse:
        """One page of transfers, newest first (the caller's wallet unless ``account``)."""
        request = wallet_pb2.ListTransfersRequest(
            page_size=page_size,
            page_token=page_token,
            all_accounts=all_accounts,
            codes=list(codes),
            reference=reference,
        )
        if account is not None:
            request.account.CopyFrom(account)
        return await self._unary(
            "ListTransfers", request, wallet_pb2.ListTransfersResponse, timeout_s
        )

    async def verify_ledger(
        self, *, max_failures: int = 0, timeout_s: float | None = None
    ) -> wallet_pb2.VerifyLedgerResponse:
        request = wallet_pb2.VerifyLedgerRequest(max_failures=max_failures)
        return await self._unary(
            "VerifyLedger", request, wallet_pb2.VerifyLedgerResponse, timeout_s
        )


class ProviderApi(_Api):
    """``tokenmart.provider.v1.ProviderService``: models and inference."""

    service = "provider"

    async def list_models(
        self,
        *,
        include_inactive: bool = False,
        page_size: int = 0,
        page_token: str = "",
        timeout_s: float | None = None,
    ) -> provider_pb2.ListModelsResponse:
        request = provider_pb2.ListModelsRequest(
            page_size=page_size, page_token=page_token, include_inactive=include_inactive
        )
        return await self._unary("ListModels", request, provider_pb2.ListModelsResponse, timeout_s)

    async def get_model(
        self, *, model_id: str, timeout_s: float | None = None
    ) -> provider_pb2.GetModelResponse:
        request = provider_pb2.GetModelRequest(model_id=model_id)
        return await self._unary("GetModel", request, provider_pb2.GetModelResponse, timeout_s)

    @staticmethod
    def _inference_fields(body: bytes | Mapping[str, Any], model: str | None) -> tuple[bytes, str]:
        if isinstance(body, bytes):
            raw = body
            if model is None:
                decoded = json.loads(raw)
                model = decoded.get("model") if isinstance(decoded, dict) else None
        else:
            raw = json.dumps(body, separators=(",", ":")).encode()
            model = model if model is not None else body.get("model")
        if not isinstance(model, str) or not model:
            raise ValueError("the body names no model; pass model=")
        return raw, model

    async def chat_completion(
        self,
        *,
        body: bytes | Mapping[str, Any],
        model: str | None = None,
        dialect: provider_pb2.ApiDialect = provider_pb2.API_DIALECT_OPENAI_CHAT_COMPLETIONS,
        request_id: str | None = None,
        timeout_s: float | None = None,
    ) -> provider_pb2.ChatCompletionResponse:
        """One non-streaming completion (token of a ``th_`` key). ``body`` is the OpenAI or
        Anthropic JSON body (a mapping is serialised); ``model`` defaults to the body's.
        Retried only when provider could not be reached; a resend after provider recorded the
        generation answers GENERATION_EXISTS (metadata ``generation_id``), never a second
        charge."""
        raw, model_id = self._inference_fields(body, model)
        request = provider_pb2.ChatCompletionRequest(
            request_id=request_id or _new_id(), dialect=dialect, body=raw, model=model_id
        )
        return await self._unary(
            "ChatCompletion", request, provider_pb2.ChatCompletionResponse, timeout_s
        )

    async def stream_chat_completion(
        self,
        *,
        body: bytes | Mapping[str, Any],
        model: str | None = None,
        dialect: provider_pb2.ApiDialect = provider_pb2.API_DIALECT_OPENAI_CHAT_COMPLETIONS,
        request_id: str | None = None,
        timeout_s: float | None = None,
    ) -> AsyncIterator[provider_pb2.StreamChatCompletionResponse]:
        """A streaming completion: ``started``, then ``chunk`` events (SSE bytes in the body's
        dialect), then ``finished`` with usage and cost. Never retried."""
        raw, model_id = self._inference_fields(body, model)
        request = provider_pb2.StreamChatCompletionRequest(
            request_id=request_id or _new_id(), dialect=dialect, body=raw, model=model_id
        )
        async for message in self._client.stream(
            self.service, "StreamChatCompletion", request, timeout_s=timeout_s
        ):
            assert isinstance(message, provider_pb2.StreamChatCompletionResponse)
            yield message

    async def get_generation(
        self, *, generation_id: str, timeout_s: float | None = None
    ) -> provider_pb2.GetGenerationResponse:
        request = provider_pb2.GetGenerationRequest(generation_id=generation_id)
        return await self._unary(
            "GetGeneration", request, provider_pb2.GetGenerationResponse, timeout_s
        )


class ReviewApi(_Api):
    """``tokenmart.review.v1.ReviewService``: bounties, claims, reviews, the treasury."""

    service = "review"

    async def create_bounty(
        self,
        *,
        title: str,
        reward_micros: int,
        deadline: datetime.datetime,
        description: str = "",
        bounty_type: review_pb2.BountyType = review_pb2.BOUNTY_TYPE_WORK,
        reviewer_reward_micros: int | None = None,
        max_claims: int = 0,
        required_trust_tier: int | None = None,
        request_id: str | None = None,
        timeout_s: float | None = None,
    ) -> review_pb2.CreateBountyResponse:
        """Create and fund a bounty from the treasury (an admin session's token)."""
        request = review_pb2.CreateBountyRequest(
            request_id=request_id or _new_id(),
            title=title,
            description=description,
            type=bounty_type,
            reward_micros=reward_micros,
            max_claims=max_claims,
            deadline=_timestamp(deadline),
        )
        if reviewer_reward_micros is not None:
            request.reviewer_reward_micros = reviewer_reward_micros
        if required_trust_tier is not None:
            request.required_trust_tier = required_trust_tier
        return await self._unary(
            "CreateBounty", request, review_pb2.CreateBountyResponse, timeout_s
        )

    async def list_bounties(
        self,
        *,
        statuses: Sequence[review_pb2.BountyStatus] = (),
        claimed_by_me: bool = False,
        page_size: int = 0,
        page_token: str = "",
        timeout_s: float | None = None,
    ) -> review_pb2.ListBountiesResponse:
        request = review_pb2.ListBountiesRequest(
            page_size=page_size,
            page_token=page_token,
            statuses=list(statuses),
            claimed_by_me=claimed_by_me,
        )
        return await self._unary(
            "ListBounties", request, review_pb2.ListBountiesResponse, timeout_s
        )

    async def get_bounty(
        self, *, bounty_id: str, timeout_s: float | None = None
    ) -> review_pb2.GetBountyResponse:
        request = review_pb2.GetBountyRequest(bounty_id=bounty_id)
        return await self._unary("GetBounty", request, review_pb2.GetBountyResponse, timeout_s)

    async def cancel_bounty(
        self,
        *,
        bounty_id: str,
        reason: str,
        request_id: str | None = None,
        timeout_s: float | None = None,
    ) -> review_pb2.CancelBountyResponse:
        request = review_pb2.CancelBountyRequest(
            request_id=request_id or _new_id(), bounty_id=bounty_id, reason=reason
        )
        return await self._unary(
            "CancelBounty", request, review_pb2.CancelBountyResponse, timeout_s
        )

    async def claim_bounty(
        self, *, bounty_id: str, request_id: str | None = None, timeout_s: float | None = None
    ) -> review_pb2.ClaimBountyResponse:
        request = review_pb2.ClaimBountyRequest(
            request_id=request_id or _new_id(), bounty_id=bounty_id
        )
        return await self._unary("ClaimBounty", request, review_pb2.ClaimBountyResponse, timeout_s)

    async def submit_work(
        self,
        *,
        bounty_id: str,
        submission_text: str,
        request_id: str | None = None,
        timeout_s: float | None = None,
    ) -> review_pb2.SubmitWorkResponse:
        request = review_pb2.SubmitWorkRequest(
            request_id=request_id or _new_id(),
            bounty_id=bounty_id,
            submission_text=submission_text,
        )
        return await self._unary("SubmitWork", request, review_pb2.SubmitWorkResponse, timeout_s)

    async def list_pending_reviews(
        self, *, page_size: int = 0, page_token: str = "", timeout_s: float | None = None
    ) -> review_pb2.ListPendingReviewsResponse:
        request = review_pb2.ListPendingReviewsRequest(page_size=page_size, page_token=page_token)
        return await self._unary(
            "ListPendingReviews", request, review_pb2.ListPendingReviewsResponse, timeout_s
        )

    async def submit_review(
        self,
        *,
        review_id: str,
        decision: review_pb2.ReviewDecision,
        notes: str = "",
        request_id: str | None = None,
        timeout_s: float | None = None,
    ) -> review_pb2.SubmitReviewResponse:
        request = review_pb2.SubmitReviewRequest(
            request_id=request_id or _new_id(), review_id=review_id, decision=decision, notes=notes
        )
        return await self._unary(
            "SubmitReview", request, review_pb2.SubmitReviewResponse, timeout_s
        )

    async def fund_treasury(
        self,
        *,
        amount_micros: int,
        reason: str,
        request_id: str | None = None,
        timeout_s: float | None = None,
    ) -> review_pb2.FundTreasuryResponse:
        """Mint into the treasury (an admin session's token; forwarded to wallet)."""
        request = review_pb2.FundTreasuryRequest(
            request_id=request_id or _new_id(), amount_micros=amount_micros, reason=reason
        )
        return await self._unary(
            "FundTreasury", request, review_pb2.FundTreasuryResponse, timeout_s
        )

    async def get_treasury(
        self, *, timeout_s: float | None = None
    ) -> review_pb2.GetTreasuryResponse:
        return await self._unary(
            "GetTreasury",
            review_pb2.GetTreasuryRequest(),
            review_pb2.GetTreasuryResponse,
            timeout_s,
        )

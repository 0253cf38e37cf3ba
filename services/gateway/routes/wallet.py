"""Credits: balances, transfers between wallets, admin grants and ledger verification.

Every money-moving route requires an ``Idempotency-Key`` header: the transfer id is derived from
it and the caller (UUIDv5), so a retried request never moves credits twice and two callers who
pick the same key never collide. The request id is derived from the same key, so a replay gets
wallet's stored first answer, byte for byte: the same status (201), transfer and balance, as
Stripe-style idempotency does (``replayed`` is true, with 200, only when wallet finds the
transfer id already used by an earlier request id). A reuse with a different body is 409 with
the ledger's ``EXISTS_WITH_DIFFERENT_<FIELD>`` reason. Amounts are
integers in micro-credits (1 credit = 1,000,000): floats and strings are refused.
"""

from __future__ import annotations

import uuid
from http import HTTPStatus
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query
from pydantic import Field, model_validator
from starlette.requests import Request
from starlette.responses import Response
from tokenmart.auth.v1 import auth_pb2
from tokenmart.wallet.v1 import wallet_pb2

from services.gateway.authn import AGENT_KEY, INFERENCE_KEY, MANAGEMENT_KEY, SESSION, Caller
from services.gateway.errors import InvalidArgument
from services.gateway.routes.accounts import UUID_PATTERN
from services.gateway.routes.common import Body, Edge, json_response
from services.gateway.views import (
    enum_name,
    idempotency_key,
    request_id_for,
    timestamp,
)

WALLET: Final = (auth_pb2.AUDIENCE_WALLET,)
AMOUNT_MAX: Final = 10**15
_TRANSFER_NAMESPACE: Final = uuid.UUID("0b0c6f1e-3a52-4d0e-9c55-2f8a7c4e9d11")
READERS: Final = (AGENT_KEY, INFERENCE_KEY, MANAGEMENT_KEY, SESSION)
SPENDERS: Final = (AGENT_KEY, SESSION)


class IdempotencyKeyRequired(InvalidArgument):
    reason = "IDEMPOTENCY_KEY_REQUIRED"
    default_message = "this request moves credits: send an Idempotency-Key header"


class DestinationInvalid(InvalidArgument):
    reason = "DESTINATION_REQUIRED"
    default_message = "give exactly one of to_agent_id and to_wallet_id"


class OwnerInvalid(InvalidArgument):
    reason = "OWNER_REQUIRED"
    default_message = "give exactly one of agent_id and account_id"


class TransferBody(Body):
    to_agent_id: str | None = Field(default=None, pattern=UUID_PATTERN)
    to_wallet_id: str | None = Field(default=None, pattern=UUID_PATTERN)
    from_wallet_id: str | None = Field(default=None, pattern=UUID_PATTERN)
    amount_micros: int = Field(ge=1, le=AMOUNT_MAX)
    memo: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _one_destination(self) -> TransferBody:
        if (self.to_agent_id is None) == (self.to_wallet_id is None):
            raise DestinationInvalid()
        return self


class GrantBody(Body):
    agent_id: str | None = Field(default=None, pattern=UUID_PATTERN)
    account_id: str | None = Field(default=None, pattern=UUID_PATTERN)
    amount_micros: int = Field(ge=1, le=AMOUNT_MAX)
    reason: str = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _one_owner(self) -> GrantBody:
        if (self.agent_id is None) == (self.account_id is None):
            raise OwnerInvalid()
        return self


def principal_scope(caller: Caller) -> str:
    """Who is asking, stably across token refreshes: the key, or the account and agent."""
    principal = caller.principal
    return principal.key_id or f"{principal.account_id}/{principal.agent_id}"


def transfer_id_for(request: Request, caller: Caller) -> str:
    key = idempotency_key(request)
    if key is None:
        raise IdempotencyKeyRequired()
    name = f"{request.url.path}\x00{principal_scope(caller)}\x00{key}"
    return str(uuid.uuid5(_TRANSFER_NAMESPACE, name))


def transfer_view(transfer: wallet_pb2.Transfer) -> dict[str, Any]:
    initiator = transfer.initiator
    return {
        "id": transfer.transfer_id,
        "amount_micros": transfer.amount_micros,
        "from_wallet_id": transfer.debit_ledger_account_id,
        "to_wallet_id": transfer.credit_ledger_account_id,
        "code": enum_name(transfer.code, "TRANSFER_CODE_", wallet_pb2.TransferCode),
        "flags": [
            enum_name(flag, "TRANSFER_FLAG_", wallet_pb2.TransferFlag) for flag in transfer.flags
        ],
        "reference": transfer.reference or None,
        "memo": transfer.memo or None,
        "initiator": {
            "kind": enum_name(initiator.kind, "INITIATOR_KIND_", wallet_pb2.InitiatorKind),
            "agent_id": initiator.agent_id or None,
            "account_id": initiator.account_id or None,
            "key_id": initiator.key_id or None,
            "service": initiator.peer_service or None,
        },
        "created_at": timestamp(transfer.created_at),
        "hash": transfer.hash.hex(),
    }


def _created(result: int) -> int:
    # A replay of the same transfer answers as the first time did, but says it created nothing.
    return (
        HTTPStatus.OK if result == wallet_pb2.CREATE_TRANSFER_RESULT_EXISTS else HTTPStatus.CREATED
    )


def router(edge: Edge) -> APIRouter:
    api = APIRouter(prefix="/api/v1", tags=["credits"])

    @api.get("/tokenhall/credits", summary="The acting agent's or the account's balance")
    async def credits(request: Request) -> Response:
        caller = await edge.authenticator.authenticate(request, families=READERS, audiences=WALLET)
        response = await edge.wallet.GetBalance(
            wallet_pb2.GetBalanceRequest(), metadata=caller.metadata
        )
        wallet = response.wallet
        return json_response(
            {
                "wallet_id": response.wallet_id,
                "balance_micros": response.balance_micros,
                "pending_micros": response.pending_micros,
                "posted_balance_micros": response.posted_balance_micros,
                "owner": {
                    "agent_id": wallet.agent_id or None,
                    "account_id": wallet.account_id or None,
                },
                "kind": enum_name(wallet.kind, "ACCOUNT_KIND_", wallet_pb2.AccountKind),
            }
        )

    @api.post(
        "/tokenhall/transfers",
        status_code=HTTPStatus.CREATED,
        summary="Move credits to another wallet (Idempotency-Key required)",
    )
    async def transfer(body: TransferBody, request: Request) -> Response:
        caller = await edge.authenticator.authenticate(request, families=SPENDERS, audiences=WALLET)
        create = wallet_pb2.CreateTransferRequest(
            request_id=request_id_for(request, scope=principal_scope(caller)),
            transfer_id=transfer_id_for(request, caller),
            from_wallet_id=body.from_wallet_id or "",
            amount_micros=body.amount_micros,
            memo=body.memo or "",
        )
        if body.to_agent_id is not None:
            create.to_agent_id = body.to_agent_id
        else:
            assert body.to_wallet_id is not None
            create.to_wallet_id = body.to_wallet_id
        response = await edge.wallet.CreateTransfer(create, metadata=caller.metadata)
        return json_response(
            {
                "transfer": transfer_view(response.transfer),
                "source_balance_micros": response.source_balance_micros,
                "replayed": response.result == wallet_pb2.CREATE_TRANSFER_RESULT_EXISTS,
            },
            _created(response.result),
        )

    @api.get("/tokenhall/transfers", summary="The wallet's transfers, newest first")
    async def list_transfers(
        request: Request,
        page_size: Annotated[int, Query(ge=0, le=200)] = 50,
        page_token: Annotated[str, Query(max_length=512)] = "",
    ) -> Response:
        caller = await edge.authenticator.authenticate(request, families=READERS, audiences=WALLET)
        response = await edge.wallet.ListTransfers(
            wallet_pb2.ListTransfersRequest(page_size=page_size, page_token=page_token),
            metadata=caller.metadata,
        )
        return json_response(
            {
                "transfers": [transfer_view(item) for item in response.transfers],
                "next_page_token": response.next_page_token or None,
            }
        )

    @api.post(
        "/admin/credits",
        status_code=HTTPStatus.CREATED,
        summary="Grant credits to an agent or account (admin session, Idempotency-Key required)",
    )
    async def grant(body: GrantBody, request: Request) -> Response:
        caller = await edge.authenticator.authenticate(
            request, families=(SESSION,), audiences=WALLET
        )
        target = (
            wallet_pb2.AccountRef(agent_id=body.agent_id)
            if body.agent_id is not None
            else wallet_pb2.AccountRef(account_id=body.account_id)
        )
        response = await edge.wallet.Mint(
            wallet_pb2.MintRequest(
                request_id=request_id_for(request, scope=principal_scope(caller)),
                transfer_id=transfer_id_for(request, caller),
                to=target,
                amount_micros=body.amount_micros,
                reason=body.reason,
            ),
            metadata=caller.metadata,
        )
        return json_response(
            {
                "transfer": transfer_view(response.transfer),
                "balance_micros": response.balance_micros,
                "replayed": response.result == wallet_pb2.CREATE_TRANSFER_RESULT_EXISTS,
            },
            _created(response.result),
        )

    @api.get("/admin/ledger/verify", summary="Verify the whole ledger (admin session)")
    async def verify(
        request: Request, max_failures: Annotated[int, Query(ge=0, le=1000)] = 100
    ) -> Response:
        caller = await edge.authenticator.authenticate(
            request, families=(SESSION,), audiences=WALLET
        )
        response = await edge.wallet.VerifyLedger(
            wallet_pb2.VerifyLedgerRequest(max_failures=max_failures),
            metadata=caller.metadata,
            timeout=300,
        )
        return json_response(verification_view(response))

    return api


def verification_view(response: wallet_pb2.VerifyLedgerResponse) -> dict[str, Any]:
    return {
        "ok": response.ok,
        "accounts_checked": response.accounts_checked,
        "transfers_checked": response.transfers_checked,
        "totals": [
            {
                "ledger": enum_name(totals.ledger, "LEDGER_", wallet_pb2.Ledger),
                "debits_posted_micros": totals.debits_posted_micros,
                "credits_posted_micros": totals.credits_posted_micros,
                "debits_pending_micros": totals.debits_pending_micros,
                "credits_pending_micros": totals.credits_pending_micros,
            }
            for totals in response.totals
        ],
        "failures": [
            {
                "kind": enum_name(
                    failure.kind, "VERIFICATION_FAILURE_KIND_", wallet_pb2.VerificationFailureKind
                ),
                "ledger_account_id": failure.ledger_account_id or None,
                "transfer_id": failure.transfer_id or None,
                "field": failure.field or None,
                "expected": failure.expected or None,
                "actual": failure.actual or None,
                "detail": failure.detail or None,
            }
            for failure in response.failures
        ],
        "failures_truncated": response.failures_truncated,
        "started_at": timestamp(response.started_at),
        "finished_at": timestamp(response.finished_at),
    }

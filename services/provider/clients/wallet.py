"""Holds through WalletService, and provider's own service token.

CreateHold runs with the end-user token of the request being served, so wallet itself checks
whose wallet is held (an agent's own, and only by provider). PostHold, VoidHold and GetHold run
with provider's service token, so a stream that outlives the user's five-minute token, or a
settlement re-driven after a crash, still settles. Every call carries ids derived from the
generation id (hold, post, void, and the request ids), so a retry is the same request: the
channel retries UNAVAILABLE transparently for these idempotent methods, and a re-drive after a
crash is answered with the first result.

A CreateHold that fails without an answer (UNAVAILABLE after retries, a deadline) may or may not
have placed the hold: :class:`HoldOutcomeUnknown` tells the caller to release it later rather
than to call upstream. A definite refusal (funds, key budget, no wallet) placed nothing.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from tokenmart.auth.v1 import auth_pb2, auth_pb2_grpc
from tokenmart.wallet.v1 import wallet_pb2, wallet_pb2_grpc

from services.common.errors import TokenMartError
from services.common.status import error_reason
from services.common.tokens import AccessTokenExpired, AccessTokenInvalid, authorization_metadata
from services.provider import errors

logger = logging.getLogger("tokenmart.provider.wallet")

WALLET_SERVICE = "tokenmart.wallet.v1.WalletService"
IDEMPOTENT_METHODS = ("CreateHold", "PostHold", "VoidHold", "GetHold")
Metadata = tuple[tuple[str, str], ...]


class ServiceTokens:
    """Provider's own access token for wallet, fetched from auth and reused until near expiry."""

    def __init__(
        self,
        channel: grpc.aio.Channel,
        *,
        clock: Callable[[], float] = time.time,
        margin_s: float = 60.0,
        timeout_s: float = 3.0,
    ) -> None:
        self._stub = auth_pb2_grpc.AuthServiceStub(channel)
        self._clock = clock
        self._margin_s = margin_s
        self._timeout_s = timeout_s
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    async def metadata(self) -> Metadata:
        if self._token is None or self._clock() >= self._expires_at - self._margin_s:
            async with self._lock:
                if self._token is None or self._clock() >= self._expires_at - self._margin_s:
                    issued = await self._stub.IssueServiceToken(
                        auth_pb2.IssueServiceTokenRequest(audiences=[auth_pb2.AUDIENCE_WALLET]),
                        timeout=self._timeout_s,
                    )
                    self._token = issued.access_token
                    self._expires_at = issued.expires_at.ToDatetime(tzinfo=datetime.UTC).timestamp()
        assert self._token is not None
        return authorization_metadata(self._token)


class HoldOutcomeUnknown(errors.WalletUnavailable):
    """CreateHold got no answer: the hold may exist, so it must be voided, never used."""


class SettlementUnavailable(Exception):
    """Wallet could not settle now; retry later with the same ids."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Settled:
    """What wallet charged for a hold, as it stands now."""

    charged_micros: int
    shortfall_micros: int
    hold_missing: bool = False
    """Wallet has no such hold: its creation never happened (nothing was held or charged)."""


_CREATE_HOLD_REFUSALS: dict[str, type[TokenMartError]] = {
    "INSUFFICIENT_FUNDS": errors.InsufficientFunds,
    "KEY_BUDGET_EXCEEDED": errors.KeyBudgetExceeded,
    "WALLET_NOT_FOUND": errors.WalletNotFound,
}


def _reason(error: grpc.aio.AioRpcError) -> str:
    return error_reason(error) or error.code().name


class WalletClient:
    def __init__(
        self, channel: grpc.aio.Channel, tokens: ServiceTokens, *, timeout_s: float
    ) -> None:
        self._stub = wallet_pb2_grpc.WalletServiceStub(channel)
        self._tokens = tokens
        self._timeout_s = timeout_s

    async def create_hold(
        self,
        *,
        user_metadata: Metadata,
        hold_id: uuid.UUID,
        request_id: uuid.UUID,
        amount_micros: int,
        timeout_s: int,
        platform_fee: bool,
        reference: uuid.UUID,
    ) -> None:
        """Place the hold, or raise: a refusal (nothing held) or HoldOutcomeUnknown."""
        request = wallet_pb2.CreateHoldRequest(
            request_id=str(request_id),
            hold_id=str(hold_id),
            amount_micros=amount_micros,
            timeout_s=timeout_s,
            code=(
                wallet_pb2.TRANSFER_CODE_PLATFORM_FEE
                if platform_fee
                else wallet_pb2.TRANSFER_CODE_INFERENCE
            ),
            reference=str(reference),
        )
        try:
            await self._stub.CreateHold(request, metadata=user_metadata, timeout=self._timeout_s)
        except grpc.aio.AioRpcError as error:
            reason = _reason(error)
            refusal = _CREATE_HOLD_REFUSALS.get(reason)
            if refusal is not None:
                raise refusal() from None
            if reason == "ACCESS_TOKEN_EXPIRED":
                raise AccessTokenExpired("expired at wallet") from None
            if error.code() is grpc.StatusCode.UNAUTHENTICATED:
                raise AccessTokenInvalid("refused by wallet") from None
            logger.warning(
                "CreateHold failed without a definite answer",
                extra={"hold_id": str(hold_id), "reason": reason},
            )
            raise HoldOutcomeUnknown() from None

    async def post_hold(
        self,
        *,
        hold_id: uuid.UUID,
        post_transfer_id: uuid.UUID,
        request_id: uuid.UUID,
        amount_micros: int,
    ) -> Settled:
        assert amount_micros > 0
        request = wallet_pb2.PostHoldRequest(
            request_id=str(request_id),
            hold_id=str(hold_id),
            post_transfer_id=str(post_transfer_id),
            amount_micros=amount_micros,
        )
        try:
            response = await self._stub.PostHold(
                request, metadata=await self._service_metadata(), timeout=self._timeout_s
            )
        except grpc.aio.AioRpcError as error:
            reason = _reason(error)
            if reason == "HOLD_NOT_FOUND":
                # Never placed (the hold's creation had no answer and did not happen).
                return Settled(charged_micros=0, shortfall_micros=0, hold_missing=True)
            if reason in ("HOLD_ALREADY_POSTED", "EXISTS_WITH_DIFFERENT_AMOUNT"):
                logger.error(
                    "a hold was settled differently before; keeping wallet's record",
                    extra={"hold_id": str(hold_id), "reason": reason},
                )
                return await self._as_recorded(hold_id)
            if reason == "HOLD_ALREADY_VOIDED":
                logger.error("a hold to capture was voided", extra={"hold_id": str(hold_id)})
                return Settled(charged_micros=0, shortfall_micros=0)
            raise SettlementUnavailable(reason) from None
        return Settled(
            charged_micros=response.captured_micros + response.overage_micros,
            shortfall_micros=response.shortfall_micros,
        )

    async def void_hold(
        self, *, hold_id: uuid.UUID, void_transfer_id: uuid.UUID, request_id: uuid.UUID
    ) -> Settled:
        request = wallet_pb2.VoidHoldRequest(
            request_id=str(request_id),
            hold_id=str(hold_id),
            void_transfer_id=str(void_transfer_id),
        )
        try:
            await self._stub.VoidHold(
                request, metadata=await self._service_metadata(), timeout=self._timeout_s
            )
        except grpc.aio.AioRpcError as error:
            reason = _reason(error)
            if reason == "HOLD_NOT_FOUND":
                return Settled(charged_micros=0, shortfall_micros=0, hold_missing=True)
            if reason == "HOLD_ALREADY_POSTED":
                logger.error("a hold to release was posted", extra={"hold_id": str(hold_id)})
                return await self._as_recorded(hold_id)
            raise SettlementUnavailable(reason) from None
        return Settled(charged_micros=0, shortfall_micros=0)

    async def _as_recorded(self, hold_id: uuid.UUID) -> Settled:
        try:
            response = await self._stub.GetHold(
                wallet_pb2.GetHoldRequest(hold_id=str(hold_id)),
                metadata=await self._service_metadata(),
                timeout=self._timeout_s,
            )
        except grpc.aio.AioRpcError as error:
            raise SettlementUnavailable(_reason(error)) from None
        hold = response.hold
        return Settled(
            charged_micros=hold.posted_micros + hold.overage_micros,
            shortfall_micros=hold.shortfall_micros,
        )

    async def _service_metadata(self) -> Metadata:
        try:
            return await self._tokens.metadata()
        except grpc.aio.AioRpcError as error:
            raise SettlementUnavailable(f"SERVICE_TOKEN_{_reason(error)}") from None

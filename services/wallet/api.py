"""The WalletService servicer: protobuf in, operations, protobuf out; nothing else.

Every handler first verifies the caller's access token (``services.common.tokens``, audience
``tokenmart.wallet``) and checks the scopes its "Access:" line names; the peer allowlist
(``access.py``) has already been enforced by the server interceptor, which also maps every
:class:`~services.common.errors.TokenMartError` to its gRPC status. Then one of two shapes:

* **read**: one transaction that runs the operation;
* **mutation**: the operation inside :func:`services.common.idempotency.run_once`, in the
  transaction of its effects, keyed by the caller's principal (subject and acting agent): a
  replayed request_id returns the first answer. Transfer ids are the ledger's own, permanent
  idempotency keys on top of that;
* **transfer request** (CreateTransfer, CreateTransfers, Mint, CreateEscrowTransfers): the same
  guarantees as a mutation, in one statement: the replay log and the ledger function together
  (``store.ledger.apply_once``), one database round trip when the account directory is warm.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncConnection
from tokenmart.wallet.v1 import wallet_pb2, wallet_pb2_grpc

from services.common.errors import PeerNotAllowed
from services.common.idempotency import (
    request_digest,
    request_lock_key,
    run_once,
    validate_request_id,
)
from services.common.identity import peer_service
from services.common.tokens import ScopeMissing, principal_from_context
from services.wallet import errors, wire
from services.wallet.domain import authority, validation
from services.wallet.domain.ledger import AccountKind, AccountRef, Draft, Outcome, RefKind
from services.wallet.domain.principal import Principal, Scope
from services.wallet.metrics import LedgerVerificationMetrics
from services.wallet.operations import access, holds, reads, transfers, verification
from services.wallet.operations.runtime import Runtime
from services.wallet.store import ledger
from services.wallet.store.models import SCHEMA

R = TypeVar("R")
M = TypeVar("M", bound=Message)

READ_SCOPES = (Scope.AGENT_READ, Scope.ACCOUNT, Scope.ADMIN)
LIST_SCOPES = (Scope.AGENT_READ, Scope.ACCOUNT, Scope.ADMIN, Scope.OPERATOR)


def _peer(context: grpc.aio.ServicerContext) -> str:
    peer = peer_service(context)
    if peer is None:  # the interceptor refuses such calls first; never trust that alone
        raise PeerNotAllowed()
    return peer


class WalletApi(wallet_pb2_grpc.WalletServiceServicer):
    def __init__(
        self, runtime: Runtime, *, ledger_metrics: LedgerVerificationMetrics | None = None
    ) -> None:
        self.runtime = runtime
        self.ledger_metrics = ledger_metrics

    # -- plumbing ------------------------------------------------------------------------------

    async def _principal(self, context: grpc.aio.ServicerContext, *any_of: Scope) -> Principal:
        verified = await principal_from_context(context, self.runtime.tokens, scope=None)
        principal = access.principal_of(verified, peer=_peer(context))
        if any_of:
            access.require_any(principal, *any_of)
        return principal

    async def _read(self, body: Callable[[AsyncConnection], Awaitable[R]]) -> R:
        return await self.runtime.database.run(body)

    async def _mutate(
        self,
        principal: Principal,
        *,
        method: str,
        request: Any,
        response_type: type[M],
        body: Callable[[AsyncConnection], Awaitable[M]],
    ) -> M:
        async def run(connection: AsyncConnection) -> M:
            return await run_once(
                connection,
                schema=SCHEMA,
                caller=principal.idempotency_key,
                method=method,
                request_id=request.request_id,
                request=request,
                response_type=response_type,
                mutate=lambda: body(connection),
            )

        return await self.runtime.database.run(run)

    async def _apply_once(
        self,
        principal: Principal,
        *,
        method: str,
        request: Any,
        response_type: type[M],
        drafts: Callable[[AsyncConnection], Awaitable[list[Draft]]],
        respond: Callable[[list[Outcome]], M],
        record_failures: bool,
    ) -> M:
        """A transfer request as one statement: replay log and ledger together (see
        ``store.ledger.apply_once``). ``respond`` builds the answer from the outcomes, of now or
        of the first call, so a replay answers byte for byte what the first call answered."""
        validate_request_id(request.request_id)
        caller = principal.idempotency_key
        claim = ledger.Claim(
            lock_key=request_lock_key(
                schema=SCHEMA, caller=caller, method=method, request_id=request.request_id
            ),
            caller=caller,
            method=method,
            request_id=request.request_id,
            digest=request_digest(request),
            record_failures=record_failures,
        )

        async def run(connection: AsyncConnection) -> M:
            submitted = await drafts(connection)
            applied = await ledger.apply_once(
                connection,
                submitted,
                claim=claim,
                now=self.runtime.now(),
                initiator=principal.initiator(request.request_id),
            )
            if isinstance(applied, bytes):
                return response_type.FromString(applied)
            return respond(applied)

        return await self.runtime.database.run(run, single_statement=True)

    # -- wallets and accounts ------------------------------------------------------------------

    async def EnsureWallet(
        self, request: wallet_pb2.EnsureWalletRequest, context: grpc.aio.ServicerContext
    ) -> wallet_pb2.EnsureWalletResponse:
        principal = await self._principal(context)
        if not authority.may_manage_wallets(principal):
            raise ScopeMissing(Scope.SERVICE.value)
        validate_request_id(request.request_id)
        which = request.WhichOneof("owner")
        if which is None:
            raise errors.OwnerRequired()
        owner_id = validation.parse_uuid(getattr(request, which))
        if owner_id is None:
            raise errors.OwnerIdInvalid(metadata={"field": which})
        kind = AccountKind.AGENT_WALLET if which == "agent_id" else AccountKind.ACCOUNT_WALLET

        async def body(connection: AsyncConnection) -> wallet_pb2.EnsureWalletResponse:
            account, created = await reads.ensure_wallet(
                connection, self.runtime, kind=kind, owner_id=owner_id
            )
            return wallet_pb2.EnsureWalletResponse(
                wallet=wire.ledger_account(account), created=created
            )

        return await self._mutate(
            principal,
            method="EnsureWallet",
            request=request,
            response_type=wallet_pb2.EnsureWalletResponse,
            body=body,
        )

    async def GetBalance(
        self, request: wallet_pb2.GetBalanceRequest, context: grpc.aio.ServicerContext
    ) -> wallet_pb2.GetBalanceResponse:
        principal = await self._principal(context, *READ_SCOPES)
        ref = (
            wire.account_ref(request.wallet, field="wallet", strict=True)
            if request.HasField("wallet")
            else None
        )

        async def body(connection: AsyncConnection) -> wallet_pb2.GetBalanceResponse:
            account = await reads.get_balance(connection, self.runtime, principal, ref)
            balances = account.balances
            return wallet_pb2.GetBalanceResponse(
                wallet_id=str(account.id),
                balance_micros=balances.available,
                pending_micros=balances.debits_pending,
                posted_balance_micros=balances.posted_balance,
                wallet=wire.ledger_account(account),
            )

        return await self._read(body)

    async def GetLedgerAccount(
        self, request: wallet_pb2.GetLedgerAccountRequest, context: grpc.aio.ServicerContext
    ) -> wallet_pb2.GetLedgerAccountResponse:
        principal = await self._principal(context)
        if not authority.may_read_any_account(principal):
            raise ScopeMissing(Scope.ADMIN.value)
        ref = (
            wire.account_ref(request.account, field="account", strict=True)
            if request.HasField("account")
            else None
        )

        async def body(connection: AsyncConnection) -> wallet_pb2.GetLedgerAccountResponse:
            account = await reads.get_ledger_account(connection, self.runtime, ref)
            return wallet_pb2.GetLedgerAccountResponse(account=wire.ledger_account(account))

        return await self._read(body)

    # -- transfers -----------------------------------------------------------------------------

    async def CreateTransfer(
        self, request: wallet_pb2.CreateTransferRequest, context: grpc.aio.ServicerContext
    ) -> wallet_pb2.CreateTransferResponse:
        principal = await self._principal(context, Scope.AGENT_WRITE, Scope.ACCOUNT)
        validate_request_id(request.request_id)
        which = request.WhichOneof("destination")
        destination = None
        if which is not None:
            destination_id = validation.parse_uuid(getattr(request, which))
            if destination_id is None:
                raise errors.FieldInvalid(which)
            by = RefKind.AGENT_ID if which == "to_agent_id" else RefKind.LEDGER_ACCOUNT_ID
            destination = AccountRef(by=by, id=destination_id)
        transfer_id = transfers.check_transfer(
            transfer_id=request.transfer_id,
            amount=request.amount_micros,
            memo=request.memo,
            destination=destination,
        )
        source = None
        if request.from_wallet_id:
            source = validation.parse_uuid(request.from_wallet_id)
            if source is None:
                raise errors.FieldInvalid("from_wallet_id")
        assert destination is not None
        command = transfers.TransferRequest(
            transfer_id=transfer_id,
            source_wallet_id=source,
            destination=destination,
            amount=request.amount_micros,
            memo=request.memo,
        )

        def respond(outcomes: list[Outcome]) -> wallet_pb2.CreateTransferResponse:
            outcome = transfers.single(outcomes)
            assert outcome.transfer is not None and outcome.debit_available is not None
            return wallet_pb2.CreateTransferResponse(
                result=wire.result(outcome.result),
                transfer=wire.transfer(outcome.transfer),
                source_balance_micros=outcome.debit_available,
            )

        return await self._apply_once(
            principal,
            method="CreateTransfer",
            request=request,
            response_type=wallet_pb2.CreateTransferResponse,
            drafts=lambda connection: transfers.transfer_drafts(
                connection, self.runtime, principal, command
            ),
            respond=respond,
            record_failures=False,
        )

    async def CreateTransfers(
        self, request: wallet_pb2.CreateTransfersRequest, context: grpc.aio.ServicerContext
    ) -> wallet_pb2.CreateTransfersResponse:
        principal = await self._principal(context, Scope.AGENT_WRITE, Scope.ACCOUNT)
        validate_request_id(request.request_id)
        items = [wire.transfer_item(item) for item in request.transfers]
        transfers.check_batch(items, maximum=transfers.USER_BATCH_MAX)

        def respond(outcomes: list[Outcome]) -> wallet_pb2.CreateTransfersResponse:
            messages, succeeded = wire.outcomes(outcomes, [item.transfer_id for item in items])
            return wallet_pb2.CreateTransfersResponse(outcomes=messages, all_succeeded=succeeded)

        return await self._apply_once(
            principal,
            method="CreateTransfers",
            request=request,
            response_type=wallet_pb2.CreateTransfersResponse,
            drafts=lambda connection: transfers.batch_drafts(
                connection, self.runtime, principal, items
            ),
            respond=respond,
            record_failures=True,
        )

    async def Mint(
        self, request: wallet_pb2.MintRequest, context: grpc.aio.ServicerContext
    ) -> wallet_pb2.MintResponse:
        principal = await self._principal(context, Scope.ADMIN, Scope.OPERATOR)
        validate_request_id(request.request_id)
        command = transfers.check_mint(
            self.runtime,
            transfer_id=request.transfer_id,
            amount=request.amount_micros,
            reason=request.reason,
            to=(
                wire.account_ref(request.to, field="to", strict=True)
                if request.HasField("to")
                else None
            ),
        )

        def respond(outcomes: list[Outcome]) -> wallet_pb2.MintResponse:
            outcome = transfers.single(outcomes)
            assert outcome.transfer is not None and outcome.credit_available is not None
            return wallet_pb2.MintResponse(
                result=wire.result(outcome.result),
                transfer=wire.transfer(outcome.transfer),
                balance_micros=outcome.credit_available,
            )

        return await self._apply_once(
            principal,
            method="Mint",
            request=request,
            response_type=wallet_pb2.MintResponse,
            drafts=lambda connection: transfers.mint_drafts(connection, self.runtime, command),
            respond=respond,
            record_failures=False,
        )

    async def CreateEscrowTransfers(
        self, request: wallet_pb2.CreateEscrowTransfersRequest, context: grpc.aio.ServicerContext
    ) -> wallet_pb2.CreateEscrowTransfersResponse:
        principal = await self._principal(context)
        validate_request_id(request.request_id)
        items = [wire.transfer_item(item) for item in request.transfers]
        transfers.check_escrow_access(principal, items)

        def respond(outcomes: list[Outcome]) -> wallet_pb2.CreateEscrowTransfersResponse:
            messages, succeeded = wire.outcomes(outcomes, [item.transfer_id for item in items])
            return wallet_pb2.CreateEscrowTransfersResponse(
                outcomes=messages, all_succeeded=succeeded
            )

        return await self._apply_once(
            principal,
            method="CreateEscrowTransfers",
            request=request,
            response_type=wallet_pb2.CreateEscrowTransfersResponse,
            drafts=lambda connection: transfers.escrow_drafts(
                connection, self.runtime, principal, items
            ),
            respond=respond,
            record_failures=True,
        )

    async def GetTransfer(
        self, request: wallet_pb2.GetTransferRequest, context: grpc.aio.ServicerContext
    ) -> wallet_pb2.GetTransferResponse:
        principal = await self._principal(context, *LIST_SCOPES)

        async def body(connection: AsyncConnection) -> wallet_pb2.GetTransferResponse:
            found = await reads.get_transfer(
                connection, self.runtime, principal, request.transfer_id
            )
            return wallet_pb2.GetTransferResponse(transfer=wire.transfer(found))

        return await self._read(body)

    async def ListTransfers(
        self, request: wallet_pb2.ListTransfersRequest, context: grpc.aio.ServicerContext
    ) -> wallet_pb2.ListTransfersResponse:
        principal = await self._principal(context, *LIST_SCOPES)
        codes = frozenset(
            wire.from_wire(code, wire.TRANSFER_CODES, field="codes") for code in request.codes
        )
        listing = reads.ListRequest(
            page_size=request.page_size,
            page_token=request.page_token,
            account=(
                wire.account_ref(request.account, field="account", strict=True)
                if request.HasField("account")
                else None
            ),
            all_accounts=request.all_accounts,
            codes=codes,
            reference=request.reference,
            since=wire.optional_time(request, "since"),
            until=wire.optional_time(request, "until"),
        )

        async def body(connection: AsyncConnection) -> wallet_pb2.ListTransfersResponse:
            page = await reads.list_transfers(connection, self.runtime, principal, listing)
            return wallet_pb2.ListTransfersResponse(
                transfers=[wire.transfer(item) for item in page.transfers],
                next_page_token=page.next_page_token,
            )

        return await self._read(body)

    # -- holds ---------------------------------------------------------------------------------

    async def CreateHold(
        self, request: wallet_pb2.CreateHoldRequest, context: grpc.aio.ServicerContext
    ) -> wallet_pb2.CreateHoldResponse:
        principal = await self._principal(context, Scope.INFERENCE)
        validate_request_id(request.request_id)
        if request.code == wallet_pb2.TRANSFER_CODE_UNSPECIFIED:
            raise errors.EnumValueUnspecified("code")
        command = holds.check_hold(
            hold_id=request.hold_id,
            amount=request.amount_micros,
            timeout_s=request.timeout_s,
            code=wire.optional_code(request.code),
            reference=request.reference,
        )

        async def body(connection: AsyncConnection) -> wallet_pb2.CreateHoldResponse:
            view = await holds.create_hold(
                connection, self.runtime, principal, command, request_id=request.request_id
            )
            return wallet_pb2.CreateHoldResponse(hold=wire.hold(view))

        return await self._mutate(
            principal,
            method="CreateHold",
            request=request,
            response_type=wallet_pb2.CreateHoldResponse,
            body=body,
        )

    async def PostHold(
        self, request: wallet_pb2.PostHoldRequest, context: grpc.aio.ServicerContext
    ) -> wallet_pb2.PostHoldResponse:
        principal = await self._principal(context, Scope.SERVICE, Scope.INFERENCE)
        validate_request_id(request.request_id)
        hold_id, post_transfer_id = holds.check_ids(
            (request.hold_id, "hold_id"), (request.post_transfer_id, "post_transfer_id")
        )
        holds.check_cost(request.amount_micros)

        async def body(connection: AsyncConnection) -> wallet_pb2.PostHoldResponse:
            posted = await holds.post_hold(
                connection,
                self.runtime,
                principal,
                hold_id=hold_id,
                post_transfer_id=post_transfer_id,
                amount=request.amount_micros,
                request_id=request.request_id,
            )
            return wallet_pb2.PostHoldResponse(
                hold=wire.hold(posted.view),
                captured_micros=posted.settlement.captured,
                overage_micros=posted.settlement.overage,
                shortfall_micros=posted.settlement.shortfall,
            )

        return await self._mutate(
            principal,
            method="PostHold",
            request=request,
            response_type=wallet_pb2.PostHoldResponse,
            body=body,
        )

    async def VoidHold(
        self, request: wallet_pb2.VoidHoldRequest, context: grpc.aio.ServicerContext
    ) -> wallet_pb2.VoidHoldResponse:
        principal = await self._principal(context, Scope.SERVICE, Scope.INFERENCE)
        validate_request_id(request.request_id)
        hold_id, void_transfer_id = holds.check_ids(
            (request.hold_id, "hold_id"), (request.void_transfer_id, "void_transfer_id")
        )

        async def body(connection: AsyncConnection) -> wallet_pb2.VoidHoldResponse:
            view = await holds.void_hold(
                connection,
                self.runtime,
                principal,
                hold_id=hold_id,
                void_transfer_id=void_transfer_id,
                request_id=request.request_id,
            )
            return wallet_pb2.VoidHoldResponse(hold=wire.hold(view))

        return await self._mutate(
            principal,
            method="VoidHold",
            request=request,
            response_type=wallet_pb2.VoidHoldResponse,
            body=body,
        )

    async def GetHold(
        self, request: wallet_pb2.GetHoldRequest, context: grpc.aio.ServicerContext
    ) -> wallet_pb2.GetHoldResponse:
        principal = await self._principal(context, Scope.SERVICE, Scope.INFERENCE, Scope.OPERATOR)
        hold_id = validation.parse_uuid(request.hold_id)
        if hold_id is None:
            raise errors.HoldNotFound()

        async def body(connection: AsyncConnection) -> wallet_pb2.GetHoldResponse:
            view = await holds.get_hold(connection, principal, hold_id=hold_id)
            return wallet_pb2.GetHoldResponse(hold=wire.hold(view))

        return await self._read(body)

    # -- verification --------------------------------------------------------------------------

    async def VerifyLedger(
        self, request: wallet_pb2.VerifyLedgerRequest, context: grpc.aio.ServicerContext
    ) -> wallet_pb2.VerifyLedgerResponse:
        await self._principal(context, Scope.ADMIN, Scope.OPERATOR)
        kept = verification.max_failures(request.max_failures)
        started = time.perf_counter()
        result = await verification.verify_ledger(self.runtime, failures_kept=kept)
        if self.ledger_metrics is not None:
            self.ledger_metrics.record(result.report, duration_s=time.perf_counter() - started)
        return wire.verification(
            result.report, started_at=result.started_at, finished_at=result.finished_at
        )

"""Single-phase transfers: user transfers (one or a batch), minting, and escrow for review.

Each operation resolves the accounts its request names (identities are cached) and decides what
the caller may do (``domain/authority.py``), producing the drafts the API submits with the
request's replay-log entry in one statement (``store.ledger.apply_once``). Per-transfer failures
come back as results; the single-transfer RPCs turn a failure into its gRPC error, and a refused
single transfer records and changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.tokens import ScopeMissing
from services.wallet import errors
from services.wallet.domain import authority, validation
from services.wallet.domain.ledger import (
    AccountIdentity,
    AccountKind,
    AccountRef,
    Draft,
    Outcome,
    RefKind,
    TransferCode,
    TransferFlag,
)
from services.wallet.domain.principal import Principal
from services.wallet.domain.results import Result
from services.wallet.operations.runtime import Runtime

USER_BATCH_MAX = 1000
ESCROW_BATCH_MAX = 100


@dataclass(frozen=True)
class TransferItem:
    """One transfer of a batch, as the request carried it (unvalidated)."""

    transfer_id: str
    debit: AccountRef | None
    credit: AccountRef | None
    amount: int
    code: TransferCode | None
    """None when the request carried UNSPECIFIED or a number this server does not know."""
    reference: str
    memo: str
    linked: bool


def check_batch(items: Sequence[TransferItem], *, maximum: int) -> None:
    if not items:
        raise errors.BatchEmpty()
    if len(items) > maximum:
        raise errors.BatchTooLarge(metadata={"maximum": str(maximum)})
    ids = [item.transfer_id for item in items if validation.parse_uuid(item.transfer_id)]
    if len(ids) != len(set(ids)):
        raise errors.DuplicateTransferId()
    for index, item in enumerate(items):
        if not validation.storable(item.memo):
            raise errors.FieldInvalid(f"transfers[{index}].memo")


def _rejection(
    transfer_id: uuid.UUID | None,
    *,
    amount: int,
    code_allowed: bool,
    reference: str,
    memo: str,
    amount_max: int | None = None,
) -> Result | None:
    """The first validation failure, in the proto's check order."""
    if transfer_id is None:
        return Result.ID_INVALID
    amount_failure = (
        validation.amount_result(amount)
        if amount_max is None
        else validation.amount_result(amount, maximum=amount_max)
    )
    if amount_failure is not None:
        return amount_failure
    if not code_allowed:
        return Result.CODE_NOT_ALLOWED
    return validation.reference_result(reference) or validation.memo_result(memo)


def _draft(
    transfer_id: uuid.UUID | None,
    *,
    debit: AccountIdentity | None,
    credit: AccountIdentity | None,
    amount: int,
    code: TransferCode,
    reference: str = "",
    memo: str = "",
    linked: bool = False,
    rejection: Result | None = None,
    denial: Result | None = None,
) -> Draft:
    return Draft(
        id=transfer_id,
        debit_account_id=debit.id if debit else None,
        credit_account_id=credit.id if credit else None,
        amount=amount,
        code=code,
        flags=TransferFlag.LINKED if linked else TransferFlag.NONE,
        reference=reference,
        memo=memo,
        rejection=int(rejection or 0),
        denial=int(denial or 0),
    )


async def _resolve(
    connection: AsyncConnection, runtime: Runtime, ref: AccountRef | None
) -> AccountIdentity | None:
    return None if ref is None else await runtime.directory.resolve(connection, ref)


def single(outcomes: list[Outcome]) -> Outcome:
    """The outcome of a single-transfer RPC, or its gRPC error."""
    (outcome,) = outcomes
    result = Result(outcome.result)
    if not result.succeeded:
        raise errors.for_result(result)
    assert outcome.transfer is not None
    return outcome


# -- CreateTransfer / CreateTransfers -----------------------------------------------------------


@dataclass(frozen=True)
class TransferRequest:
    transfer_id: uuid.UUID
    source_wallet_id: uuid.UUID | None
    """None: the caller's own default wallet."""
    destination: AccountRef
    amount: int
    memo: str


def check_transfer(
    *, transfer_id: str, amount: int, memo: str, destination: AccountRef | None
) -> uuid.UUID:
    """The request-level checks of CreateTransfer, in the proto's order."""
    parsed = validation.parse_uuid(transfer_id)
    if parsed is None:
        raise errors.TransferInvalid(Result.ID_INVALID)
    if destination is None:
        raise errors.DestinationRequired()
    if not validation.storable(memo):
        raise errors.FieldInvalid("memo")
    failure = validation.amount_result(amount) or validation.memo_result(memo)
    if failure is not None:
        raise errors.TransferInvalid(failure)
    return parsed


async def _source(
    connection: AsyncConnection, runtime: Runtime, principal: Principal, wallet_id: uuid.UUID | None
) -> AccountIdentity | None:
    if wallet_id is not None:
        return await runtime.directory.by_id(connection, wallet_id)
    default = authority.default_wallet(principal)
    if default is None:
        return None
    kind, owner = default
    assert isinstance(owner, uuid.UUID)
    return await runtime.directory.by_owner(connection, kind, owner)


async def transfer_drafts(
    connection: AsyncConnection, runtime: Runtime, principal: Principal, request: TransferRequest
) -> list[Draft]:
    source = await _source(connection, runtime, principal, request.source_wallet_id)
    destination = await runtime.directory.resolve(connection, request.destination)
    denial = None
    if source is not None and destination is not None:
        denial = authority.spend_denial(principal, source) or authority.transfer_credit_denial(
            destination
        )
    return [
        _draft(
            request.transfer_id,
            debit=source,
            credit=destination,
            amount=request.amount,
            code=TransferCode.TRANSFER,
            memo=request.memo,
            denial=denial,
        )
    ]


async def batch_drafts(
    connection: AsyncConnection,
    runtime: Runtime,
    principal: Principal,
    items: Sequence[TransferItem],
) -> list[Draft]:
    check_batch(items, maximum=USER_BATCH_MAX)
    drafts = []
    for item in items:
        transfer_id = validation.parse_uuid(item.transfer_id)
        debit = await _resolve(connection, runtime, item.debit)
        credit = await _resolve(connection, runtime, item.credit)
        denial = None
        if debit is not None and credit is not None:
            denial = authority.spend_denial(principal, debit) or authority.transfer_credit_denial(
                credit
            )
        drafts.append(
            _draft(
                transfer_id,
                debit=debit,
                credit=credit,
                amount=item.amount,
                code=item.code or TransferCode.TRANSFER,
                reference=item.reference,
                memo=item.memo,
                linked=item.linked,
                rejection=_rejection(
                    transfer_id,
                    amount=item.amount,
                    code_allowed=item.code is TransferCode.TRANSFER,
                    reference=item.reference,
                    memo=item.memo,
                ),
                denial=denial,
            )
        )
    return drafts


# -- Mint ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MintRequest:
    transfer_id: uuid.UUID
    to: AccountRef
    amount: int
    reason: str


def check_mint(
    runtime: Runtime, *, transfer_id: str, amount: int, reason: str, to: AccountRef | None
) -> MintRequest:
    parsed = validation.parse_uuid(transfer_id)
    if parsed is None:
        raise errors.TransferInvalid(Result.ID_INVALID)
    failure = validation.amount_result(amount, maximum=runtime.settings.mint_max_micros)
    if failure is not None:
        raise errors.TransferInvalid(failure)
    try:
        validation.require_reason(reason)
    except validation.Invalid as invalid:
        raise errors.invalid(invalid.reason, invalid.field) from None
    if not validation.storable(reason):
        raise errors.FieldInvalid("reason")
    if to is None:
        raise errors.AccountRefRequired(metadata={"field": "to"})
    if to.by is not RefKind.SYSTEM and to.id is None:
        raise errors.FieldInvalid("to")
    return MintRequest(transfer_id=parsed, to=to, amount=amount, reason=reason)


async def mint_drafts(
    connection: AsyncConnection, runtime: Runtime, request: MintRequest
) -> list[Draft]:
    credit = await runtime.directory.resolve(connection, request.to)
    code = TransferCode.GRANT
    if credit is not None:
        allowed = authority.mint_code(credit)
        if allowed is None:
            raise errors.TransferNotAllowed(Result.CREDIT_ACCOUNT_NOT_ALLOWED)
        code = allowed
    return [
        _draft(
            request.transfer_id,
            debit=runtime.directory.system(AccountKind.MINT),
            credit=credit,
            amount=request.amount,
            code=code,
            memo=request.reason,
        )
    ]


# -- CreateEscrowTransfers ----------------------------------------------------------------------


def check_escrow_access(principal: Principal, items: Sequence[TransferItem]) -> None:
    check_batch(items, maximum=ESCROW_BATCH_MAX)
    funds_escrow = any(item.code is TransferCode.BOUNTY_ESCROW for item in items)
    if not authority.may_submit_escrow(principal, funds_escrow=funds_escrow):
        raise ScopeMissing("admin" if funds_escrow else "service")


async def escrow_drafts(
    connection: AsyncConnection,
    runtime: Runtime,
    principal: Principal,
    items: Sequence[TransferItem],
) -> list[Draft]:
    check_escrow_access(principal, items)
    drafts = []
    for item in items:
        transfer_id = validation.parse_uuid(item.transfer_id)
        debit = await _resolve(connection, runtime, item.debit)
        credit = await _resolve(connection, runtime, item.credit)
        code_allowed = item.code in authority.ESCROW_PAIRINGS
        denial = None
        if code_allowed and debit is not None and credit is not None:
            assert item.code is not None
            denial = authority.escrow_denial(item.code, debit=debit, credit=credit)
        drafts.append(
            _draft(
                transfer_id,
                debit=debit,
                credit=credit,
                amount=item.amount,
                code=item.code or TransferCode.REFUND,
                reference=item.reference,
                memo=item.memo,
                linked=item.linked,
                rejection=_rejection(
                    transfer_id,
                    amount=item.amount,
                    code_allowed=code_allowed,
                    reference=item.reference,
                    memo=item.memo,
                ),
                denial=denial,
            )
        )
    return drafts

"""Protobuf <-> domain for :mod:`services.wallet.api`: enums, references, messages and times."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from google.protobuf import timestamp_pb2
from tokenmart.wallet.v1 import wallet_pb2

from services.wallet import errors
from services.wallet.domain import validation
from services.wallet.domain.holds import HoldStatus
from services.wallet.domain.ledger import (
    AccountKind,
    AccountRef,
    InitiatorKind,
    Ledger,
    LedgerAccount,
    Outcome,
    RefKind,
    Transfer,
    TransferCode,
    TransferFlag,
)
from services.wallet.domain.results import Result
from services.wallet.domain.verification import Failure, FailureKind, Report, Totals
from services.wallet.operations.holds import HoldView
from services.wallet.operations.transfers import TransferItem

D = TypeVar("D")

ACCOUNT_KINDS: Mapping[AccountKind, wallet_pb2.AccountKind] = {
    AccountKind.AGENT_WALLET: wallet_pb2.ACCOUNT_KIND_AGENT_WALLET,
    AccountKind.ACCOUNT_WALLET: wallet_pb2.ACCOUNT_KIND_ACCOUNT_WALLET,
    AccountKind.MINT: wallet_pb2.ACCOUNT_KIND_MINT,
    AccountKind.TREASURY: wallet_pb2.ACCOUNT_KIND_TREASURY,
    AccountKind.BOUNTY_ESCROW: wallet_pb2.ACCOUNT_KIND_BOUNTY_ESCROW,
    AccountKind.PROVIDER_REVENUE: wallet_pb2.ACCOUNT_KIND_PROVIDER_REVENUE,
    AccountKind.KEY_BUDGET: wallet_pb2.ACCOUNT_KIND_KEY_BUDGET,
    AccountKind.KEY_BUDGET_SOURCE: wallet_pb2.ACCOUNT_KIND_KEY_BUDGET_SOURCE,
}
LEDGERS: Mapping[Ledger, wallet_pb2.Ledger] = {
    Ledger.CREDITS: wallet_pb2.LEDGER_CREDITS,
    Ledger.KEY_BUDGET: wallet_pb2.LEDGER_KEY_BUDGET,
}
# The domain's numbers are the proto's (checked by tests/wallet/test_settings_and_contract.py).
TRANSFER_CODES: Mapping[TransferCode, wallet_pb2.TransferCode] = {
    code: cast(wallet_pb2.TransferCode, wallet_pb2.TransferCode.Value(f"TRANSFER_CODE_{code.name}"))
    for code in TransferCode
}
TRANSFER_FLAGS: Mapping[TransferFlag, wallet_pb2.TransferFlag] = {
    TransferFlag.LINKED: wallet_pb2.TRANSFER_FLAG_LINKED,
    TransferFlag.PENDING: wallet_pb2.TRANSFER_FLAG_PENDING,
    TransferFlag.POST_PENDING: wallet_pb2.TRANSFER_FLAG_POST_PENDING,
    TransferFlag.VOID_PENDING: wallet_pb2.TRANSFER_FLAG_VOID_PENDING,
}
INITIATOR_KINDS: Mapping[InitiatorKind, wallet_pb2.InitiatorKind] = {
    InitiatorKind.AGENT: wallet_pb2.INITIATOR_KIND_AGENT,
    InitiatorKind.ACCOUNT: wallet_pb2.INITIATOR_KIND_ACCOUNT,
    InitiatorKind.SERVICE: wallet_pb2.INITIATOR_KIND_SERVICE,
    InitiatorKind.WALLET: wallet_pb2.INITIATOR_KIND_WALLET,
}
HOLD_STATUSES: Mapping[HoldStatus, wallet_pb2.HoldStatus] = {
    HoldStatus.PENDING: wallet_pb2.HOLD_STATUS_PENDING,
    HoldStatus.POSTED: wallet_pb2.HOLD_STATUS_POSTED,
    HoldStatus.VOIDED: wallet_pb2.HOLD_STATUS_VOIDED,
    HoldStatus.EXPIRED: wallet_pb2.HOLD_STATUS_EXPIRED,
}
# Every combination of the four flag bits, precomputed: transfers are converted in bulk.
_FLAG_LISTS: Mapping[int, list[wallet_pb2.TransferFlag]] = {
    bits: [wire for flag, wire in TRANSFER_FLAGS.items() if bits & flag] for bits in range(16)
}
FAILURE_KINDS: Mapping[FailureKind, wallet_pb2.VerificationFailureKind] = {
    kind: cast(
        wallet_pb2.VerificationFailureKind,
        wallet_pb2.VerificationFailureKind.Value(f"VERIFICATION_FAILURE_KIND_{kind.name}"),
    )
    for kind in FailureKind
}


def from_wire(value: int, mapping: Mapping[D, Any], *, field: str) -> D:
    """The domain value of a required enum field."""
    if value == 0:
        raise errors.EnumValueUnspecified(field)
    for domain_value, wire_value in mapping.items():
        if wire_value == value:
            return domain_value
    raise errors.FieldInvalid(field)


def optional_code(value: int) -> TransferCode | None:
    """A transfer code of a batch item; None for UNSPECIFIED or an unknown number."""
    for code, wire_value in TRANSFER_CODES.items():
        if wire_value == value:
            return code
    return None


def account_ref(message: wallet_pb2.AccountRef, *, field: str, strict: bool) -> AccountRef | None:
    """The reference in ``message``; None when unset.

    Strict (single-account RPCs): a malformed id is FIELD_INVALID and a system reference must
    name a system account. Lenient (batch items): both become a reference to nothing, which the
    ledger reports as not found for that transfer only.
    """
    which = message.WhichOneof("ref")
    if which is None:
        return None
    if which == "system_account":
        kind = next(
            (kind for kind, value in ACCOUNT_KINDS.items() if value == message.system_account),
            None,
        )
        if kind is None or not kind.is_system:
            if not strict:
                return None
            if message.system_account == 0:
                raise errors.EnumValueUnspecified(f"{field}.system_account")
            raise errors.FieldInvalid(f"{field}.system_account")
        return AccountRef(by=RefKind.SYSTEM, system=kind)
    by = RefKind(which)
    parsed = validation.parse_uuid(getattr(message, which))
    if parsed is None and strict:
        raise errors.FieldInvalid(f"{field}.{which}")
    return AccountRef(by=by, id=parsed)


def transfer_item(message: wallet_pb2.TransferInput) -> TransferItem:
    return TransferItem(
        transfer_id=message.transfer_id,
        debit=(
            account_ref(message.debit, field="debit", strict=False)
            if message.HasField("debit")
            else None
        ),
        credit=(
            account_ref(message.credit, field="credit", strict=False)
            if message.HasField("credit")
            else None
        ),
        amount=message.amount_micros,
        code=optional_code(message.code),
        reference=message.reference,
        memo=message.memo,
        linked=message.linked,
    )


def timestamp(value: datetime.datetime) -> timestamp_pb2.Timestamp:
    message = timestamp_pb2.Timestamp()
    message.FromDatetime(value.astimezone(datetime.UTC))
    return message


def optional_time(message: Any, field: str) -> datetime.datetime | None:
    if not message.HasField(field):
        return None
    value: timestamp_pb2.Timestamp = getattr(message, field)
    return value.ToDatetime(tzinfo=datetime.UTC)


def _text(value: object | None) -> str:
    return "" if value is None else str(value)


def ledger_account(account: LedgerAccount) -> wallet_pb2.LedgerAccount:
    identity = account.identity
    kind = identity.kind
    flags = []
    if kind.debits_must_not_exceed_credits:
        flags.append(wallet_pb2.ACCOUNT_FLAG_DEBITS_MUST_NOT_EXCEED_CREDITS)
    if kind.credits_must_not_exceed_debits:
        flags.append(wallet_pb2.ACCOUNT_FLAG_CREDITS_MUST_NOT_EXCEED_DEBITS)
    balances = account.balances
    return wallet_pb2.LedgerAccount(
        ledger_account_id=str(identity.id),
        kind=ACCOUNT_KINDS[kind],
        ledger=LEDGERS[identity.ledger],
        agent_id=_text(identity.agent_id),
        account_id=_text(identity.account_id),
        key_id=_text(identity.key_id),
        flags=flags,
        debits_pending_micros=balances.debits_pending,
        debits_posted_micros=balances.debits_posted,
        credits_pending_micros=balances.credits_pending,
        credits_posted_micros=balances.credits_posted,
        available_micros=balances.available,
        limit_micros=account.limit_micros,
        chain_head_hash=account.chain_head or b"",
        transfer_count=account.transfer_count,
        created_at=timestamp(account.created_at),
        updated_at=timestamp(account.updated_at),
    )


def transfer(value: Transfer) -> wallet_pb2.Transfer:
    initiator = value.initiator
    message = wallet_pb2.Transfer(
        transfer_id=str(value.id),
        debit_ledger_account_id=str(value.debit_account_id),
        credit_ledger_account_id=str(value.credit_account_id),
        amount_micros=value.amount,
        ledger=LEDGERS[value.ledger],
        code=TRANSFER_CODES[value.code],
        flags=_FLAG_LISTS[value.flags],
        pending_id=_text(value.pending_id),
        timeout_s=value.timeout_s,
        reference=value.reference,
        memo=value.memo,
        initiator=wallet_pb2.Initiator(
            kind=INITIATOR_KINDS[initiator.kind],
            agent_id=_text(initiator.agent_id),
            account_id=_text(initiator.account_id),
            key_id=_text(initiator.key_id),
            peer_service=initiator.peer,
            request_id=initiator.request_id,
        ),
        created_at=timestamp(value.created_at),
        hash=value.hash,
        debit_previous_hash=value.debit_previous_hash or b"",
        credit_previous_hash=value.credit_previous_hash or b"",
    )
    if value.expires_at is not None:
        message.expires_at.CopyFrom(timestamp(value.expires_at))
    return message


def outcome(value: Outcome) -> wallet_pb2.TransferOutcome:
    message = wallet_pb2.TransferOutcome(
        index=value.index,
        transfer_id=_text(value.transfer.id) if value.transfer else "",
        result=result(value.result),
    )
    if value.transfer is not None:
        message.transfer.CopyFrom(transfer(value.transfer))
    return message


def outcomes(
    values: list[Outcome], inputs: list[str]
) -> tuple[list[wallet_pb2.TransferOutcome], bool]:
    messages = []
    for value in values:
        message = outcome(value)
        message.transfer_id = inputs[value.index]
        messages.append(message)
    succeeded = all(
        message.result
        in (wallet_pb2.CREATE_TRANSFER_RESULT_OK, wallet_pb2.CREATE_TRANSFER_RESULT_EXISTS)
        for message in messages
    )
    return messages, succeeded


def result(value: int) -> wallet_pb2.CreateTransferResult:
    """The proto value of a ledger result (the numbers are the proto's)."""
    return cast(
        wallet_pb2.CreateTransferResult,
        wallet_pb2.CreateTransferResult.Value(f"CREATE_TRANSFER_RESULT_{Result(value).name}"),
    )


def ledger(value: int | None) -> wallet_pb2.Ledger:
    return LEDGERS[Ledger(value)] if value else wallet_pb2.LEDGER_UNSPECIFIED


def hold(value: HoldView) -> wallet_pb2.Hold:
    item = value.hold
    message = wallet_pb2.Hold(
        hold_id=str(item.id),
        agent_id=str(item.agent_id),
        wallet_id=str(item.wallet_account_id),
        key_id=_text(item.key_id) if item.has_budget else "",
        key_budget_account_id=_text(item.budget_account_id),
        amount_micros=item.amount,
        code=TRANSFER_CODES[item.code],
        reference=item.reference,
        timeout_s=item.timeout_s,
        status=HOLD_STATUSES[item.status],
        created_at=timestamp(item.created_at),
        expires_at=timestamp(item.expires_at),
        posted_micros=item.posted_micros,
        overage_micros=item.overage_micros,
        shortfall_micros=item.shortfall_micros,
        transfers=[transfer(entry) for entry in value.transfers],
    )
    if item.resolved_at is not None:
        message.resolved_at.CopyFrom(timestamp(item.resolved_at))
    return message


def _failure(value: Failure) -> wallet_pb2.VerificationFailure:
    return wallet_pb2.VerificationFailure(
        kind=FAILURE_KINDS[value.kind],
        ledger_account_id=_text(value.account_id),
        transfer_id=_text(value.transfer_id),
        ledger=ledger(value.ledger),
        field=value.field,
        expected=value.expected,
        actual=value.actual,
        detail=value.detail,
    )


def _totals(value: Totals) -> wallet_pb2.LedgerTotals:
    return wallet_pb2.LedgerTotals(
        ledger=ledger(value.ledger),
        debits_posted_micros=value.debits_posted,
        credits_posted_micros=value.credits_posted,
        debits_pending_micros=value.debits_pending,
        credits_pending_micros=value.credits_pending,
    )


def verification(
    report: Report, *, started_at: datetime.datetime, finished_at: datetime.datetime
) -> wallet_pb2.VerifyLedgerResponse:
    return wallet_pb2.VerifyLedgerResponse(
        ok=report.ok,
        accounts_checked=report.accounts_checked,
        transfers_checked=report.transfers_checked,
        totals=[_totals(item) for item in report.totals],
        failures=[_failure(item) for item in report.failures],
        failures_truncated=report.failures_truncated,
        started_at=timestamp(started_at),
        finished_at=timestamp(finished_at),
    )

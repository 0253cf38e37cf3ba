"""The wallet service's errors: one class per reason named in wallet.proto's Errors lines.

::

    TokenMartError (services.common.errors)
    ├── InvalidArgument
    │   ├── FieldInvalid                         FIELD_INVALID (metadata "field")
    │   ├── EnumValueUnspecified                 ENUM_VALUE_UNSPECIFIED (metadata "field")
    │   ├── PageSizeInvalid                      PAGE_SIZE_INVALID
    │   ├── PageTokenInvalid                     PAGE_TOKEN_INVALID
    │   ├── OwnerRequired                        OWNER_REQUIRED
    │   ├── OwnerIdInvalid                       OWNER_ID_INVALID
    │   ├── WalletRefInvalid                     WALLET_REF_INVALID
    │   ├── AccountRefRequired                   ACCOUNT_REF_REQUIRED
    │   ├── DestinationRequired                  DESTINATION_REQUIRED
    │   ├── BatchEmpty                           BATCH_EMPTY
    │   ├── BatchTooLarge                        BATCH_TOO_LARGE
    │   ├── DuplicateTransferId                  DUPLICATE_TRANSFER_ID
    │   ├── ReasonRequired                       REASON_REQUIRED
    │   ├── TimeoutInvalid                       TIMEOUT_INVALID
    │   ├── TimeRangeInvalid                     TIME_RANGE_INVALID
    │   ├── MaxFailuresInvalid                   MAX_FAILURES_INVALID
    │   └── TransferInvalid                      ID_INVALID, AMOUNT_MUST_BE_POSITIVE,
    │                                            AMOUNT_TOO_LARGE, CODE_NOT_ALLOWED,
    │                                            REFERENCE_TOO_LONG, MEMO_TOO_LONG,
    │                                            ACCOUNTS_MUST_BE_DIFFERENT,
    │                                            ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER
    ├── PermissionDenied
    │   ├── ScopeMissing (services.common.tokens) SCOPE_MISSING (metadata "scope")
    │   ├── LedgerAccountNotOwned                LEDGER_ACCOUNT_NOT_OWNED
    │   └── TransferNotAllowed                   DEBIT_ACCOUNT_NOT_ALLOWED,
    │                                            CREDIT_ACCOUNT_NOT_ALLOWED
    ├── NotFound
    │   ├── WalletNotFound                       WALLET_NOT_FOUND
    │   ├── LedgerAccountNotFound                LEDGER_ACCOUNT_NOT_FOUND
    │   ├── HoldNotFound                         HOLD_NOT_FOUND
    │   ├── TransferNotFound                     TRANSFER_NOT_FOUND
    │   └── TransferAccountNotFound              DEBIT_ACCOUNT_NOT_FOUND,
    │                                            CREDIT_ACCOUNT_NOT_FOUND
    ├── AlreadyExists
    │   └── TransferExists                       EXISTS_FOR_OTHER_INITIATOR,
    │                                            EXISTS_WITH_DIFFERENT_<FIELD>
    ├── FailedPrecondition
    │   ├── TransferRefused                      DEBIT_AGENT_NOT_CLAIMED, INSUFFICIENT_FUNDS,
    │   │                                        EXCEEDS_DEBITS
    │   ├── KeyBudgetExceeded                    KEY_BUDGET_EXCEEDED
    │   ├── HoldAlreadyPosted                    HOLD_ALREADY_POSTED
    │   └── HoldAlreadyVoided                    HOLD_ALREADY_VOIDED
    ├── Aborted
    │   └── ConcurrentUpdate                     CONCURRENT_UPDATE
    └── Unavailable
        └── DatabaseUnavailable                  DATABASE_UNAVAILABLE

For single-transfer RPCs the reason of a refused transfer is its ``CreateTransferResult`` name
(the proto's rule); :func:`for_result` picks the class by the result's meaning. The token errors
(ACCESS_TOKEN_*, SCOPE_MISSING, PUBLIC_KEYS_UNAVAILABLE) come from ``services.common.tokens`` and
REQUEST_ID_* from ``services.common.idempotency``.

Messages are fixed texts: they never contain a value the caller sent.
"""

from __future__ import annotations

from collections.abc import Callable

from services.common.errors import (
    Aborted,
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    TokenMartError,
    Unavailable,
)
from services.wallet.domain.results import Result

# -- INVALID_ARGUMENT ---------------------------------------------------------------------------


class FieldInvalid(InvalidArgument):
    reason = "FIELD_INVALID"
    default_message = "a field has an invalid format"

    def __init__(self, field: str) -> None:
        super().__init__(f"{field} has an invalid format", metadata={"field": field})


class EnumValueUnspecified(InvalidArgument):
    reason = "ENUM_VALUE_UNSPECIFIED"
    default_message = "an enum field is unspecified"

    def __init__(self, field: str) -> None:
        super().__init__(f"{field} must not be UNSPECIFIED", metadata={"field": field})


class PageSizeInvalid(InvalidArgument):
    reason = "PAGE_SIZE_INVALID"
    default_message = "page_size must not be negative"


class PageTokenInvalid(InvalidArgument):
    reason = "PAGE_TOKEN_INVALID"
    default_message = "page_token does not come from the previous page of this same list"


class OwnerRequired(InvalidArgument):
    reason = "OWNER_REQUIRED"
    default_message = "set agent_id or account_id"


class OwnerIdInvalid(InvalidArgument):
    reason = "OWNER_ID_INVALID"
    default_message = "the owner id must be a UUID"


class WalletRefInvalid(InvalidArgument):
    reason = "WALLET_REF_INVALID"
    default_message = "wallet must name an agent or account wallet"


class AccountRefRequired(InvalidArgument):
    reason = "ACCOUNT_REF_REQUIRED"
    default_message = "name an account"


class DestinationRequired(InvalidArgument):
    reason = "DESTINATION_REQUIRED"
    default_message = "set to_agent_id or to_wallet_id"


class BatchEmpty(InvalidArgument):
    reason = "BATCH_EMPTY"
    default_message = "the batch has no transfers"


class BatchTooLarge(InvalidArgument):
    reason = "BATCH_TOO_LARGE"
    default_message = "the batch has too many transfers"


class DuplicateTransferId(InvalidArgument):
    reason = "DUPLICATE_TRANSFER_ID"
    default_message = "two transfers of the batch share a transfer_id"


class ReasonRequired(InvalidArgument):
    reason = "REASON_REQUIRED"
    default_message = "a reason of 1 to 500 characters is required"


class TimeoutInvalid(InvalidArgument):
    reason = "TIMEOUT_INVALID"
    default_message = "timeout_s must be between 1 and 3600"


class TimeRangeInvalid(InvalidArgument):
    reason = "TIME_RANGE_INVALID"
    default_message = "since must not be after until"


class MaxFailuresInvalid(InvalidArgument):
    reason = "MAX_FAILURES_INVALID"
    default_message = "max_failures must not be negative"


class TransferInvalid(InvalidArgument):
    """A transfer field breaks its rule; the reason is the CreateTransferResult name."""

    def __init__(self, result: Result) -> None:
        super().__init__(_MESSAGES.get(result, "the transfer is invalid"))
        self.reason = result.name  # type: ignore[misc]


# -- PERMISSION_DENIED --------------------------------------------------------------------------


class LedgerAccountNotOwned(PermissionDenied):
    reason = "LEDGER_ACCOUNT_NOT_OWNED"
    default_message = "the caller may not read this account"


class TransferNotAllowed(PermissionDenied):
    def __init__(self, result: Result) -> None:
        super().__init__(_MESSAGES[result])
        self.reason = result.name  # type: ignore[misc]


# -- NOT_FOUND ----------------------------------------------------------------------------------


class WalletNotFound(NotFound):
    reason = "WALLET_NOT_FOUND"
    default_message = "no such wallet"


class LedgerAccountNotFound(NotFound):
    reason = "LEDGER_ACCOUNT_NOT_FOUND"
    default_message = "no such ledger account"


class HoldNotFound(NotFound):
    reason = "HOLD_NOT_FOUND"
    default_message = "no such hold"


class TransferNotFound(NotFound):
    reason = "TRANSFER_NOT_FOUND"
    default_message = "no such transfer"


class TransferAccountNotFound(NotFound):
    def __init__(self, result: Result) -> None:
        super().__init__(_MESSAGES[result])
        self.reason = result.name  # type: ignore[misc]


# -- ALREADY_EXISTS -----------------------------------------------------------------------------


class TransferExists(AlreadyExists):
    """The transfer id is taken by a transfer with other fields, or by someone else."""

    def __init__(self, result: Result) -> None:
        assert result.is_exists_conflict
        super().__init__(_MESSAGES.get(result, "the transfer id exists with other fields"))
        self.reason = result.name  # type: ignore[misc]


# -- FAILED_PRECONDITION ------------------------------------------------------------------------


class TransferRefused(FailedPrecondition):
    def __init__(self, result: Result) -> None:
        super().__init__(_MESSAGES[result])
        self.reason = result.name  # type: ignore[misc]


class KeyBudgetExceeded(FailedPrecondition):
    reason = "KEY_BUDGET_EXCEEDED"
    default_message = "the key's remaining budget is below the amount"


class HoldAlreadyPosted(FailedPrecondition):
    reason = "HOLD_ALREADY_POSTED"
    default_message = "the hold was already posted"


class HoldAlreadyVoided(FailedPrecondition):
    reason = "HOLD_ALREADY_VOIDED"
    default_message = "the hold was already voided"


# -- ABORTED / UNAVAILABLE ----------------------------------------------------------------------


class ConcurrentUpdate(Aborted):
    reason = "CONCURRENT_UPDATE"
    default_message = "a concurrent change kept winning; retry with the same ids"


class DatabaseUnavailable(Unavailable):
    reason = "DATABASE_UNAVAILABLE"
    default_message = "the database is unavailable; retry with the same ids"


_MESSAGES: dict[Result, str] = {
    Result.ID_INVALID: "the transfer id must be a UUID",
    Result.AMOUNT_MUST_BE_POSITIVE: "amount_micros must be positive",
    Result.AMOUNT_TOO_LARGE: "amount_micros is above the maximum",
    Result.CODE_NOT_ALLOWED: "this RPC does not accept that transfer code",
    Result.REFERENCE_TOO_LONG: "reference must have at most 128 characters and no control ones",
    Result.MEMO_TOO_LONG: "memo must have at most 500 characters",
    Result.ACCOUNTS_MUST_BE_DIFFERENT: "source and destination are the same account",
    Result.ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER: "the accounts are on different ledgers",
    Result.DEBIT_ACCOUNT_NOT_ALLOWED: "the caller may not spend from this account",
    Result.CREDIT_ACCOUNT_NOT_ALLOWED: "this account cannot be paid by this RPC",
    Result.DEBIT_ACCOUNT_NOT_FOUND: "the source account does not exist",
    Result.CREDIT_ACCOUNT_NOT_FOUND: "the destination does not exist",
    Result.DEBIT_AGENT_NOT_CLAIMED: "an unclaimed agent cannot send credits",
    Result.INSUFFICIENT_FUNDS: "the available balance is below the amount",
    Result.EXCEEDS_DEBITS: "the account would be credited beyond its debits",
    Result.EXISTS_FOR_OTHER_INITIATOR: "the transfer id belongs to another initiator",
}

_BY_MEANING: tuple[tuple[frozenset[Result], Callable[[Result], TokenMartError]], ...] = (
    (
        frozenset(
            {
                Result.ID_INVALID,
                Result.AMOUNT_MUST_BE_POSITIVE,
                Result.AMOUNT_TOO_LARGE,
                Result.CODE_NOT_ALLOWED,
                Result.REFERENCE_TOO_LONG,
                Result.MEMO_TOO_LONG,
                Result.ACCOUNTS_MUST_BE_DIFFERENT,
                Result.ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER,
            }
        ),
        TransferInvalid,
    ),
    (
        frozenset({Result.DEBIT_ACCOUNT_NOT_ALLOWED, Result.CREDIT_ACCOUNT_NOT_ALLOWED}),
        TransferNotAllowed,
    ),
    (
        frozenset({Result.DEBIT_ACCOUNT_NOT_FOUND, Result.CREDIT_ACCOUNT_NOT_FOUND}),
        TransferAccountNotFound,
    ),
    (
        frozenset(
            {Result.DEBIT_AGENT_NOT_CLAIMED, Result.INSUFFICIENT_FUNDS, Result.EXCEEDS_DEBITS}
        ),
        TransferRefused,
    ),
)


def for_result(result: Result) -> TokenMartError:
    """The gRPC error of a transfer refused with ``result`` in a single-transfer RPC."""
    assert not result.succeeded and not result.is_internal, result
    if result.is_exists_conflict:
        return TransferExists(result)
    for results, error_class in _BY_MEANING:
        if result in results:
            return error_class(result)
    raise AssertionError(f"no error for {result.name} in a single-transfer RPC")


_INVALID_BY_REASON: dict[str, type[InvalidArgument]] = {
    cls.reason: cls
    for cls in (
        PageSizeInvalid,
        PageTokenInvalid,
        OwnerRequired,
        OwnerIdInvalid,
        WalletRefInvalid,
        AccountRefRequired,
        DestinationRequired,
        ReasonRequired,
        TimeoutInvalid,
        TimeRangeInvalid,
        MaxFailuresInvalid,
    )
}


def invalid(reason: str, field: str) -> TokenMartError:
    """The INVALID_ARGUMENT error of a domain validation failure (``FIELD_INVALID`` if generic)."""
    error_class = _INVALID_BY_REASON.get(reason)
    if error_class is None:
        if reason in Result.__members__:
            return TransferInvalid(Result[reason])
        assert reason == FieldInvalid.reason, f"no error class for reason {reason}"
        return FieldInvalid(field)
    error = error_class()
    error.metadata.setdefault("field", field)
    return error

"""The outcome of one transfer, TigerBeetle style.

Values 1..29 are the proto's ``CreateTransferResult`` numbers; the ledger function
(``wallet.apply_transfers``) returns the same numbers. Values from 100 are internal: they come
only from resolving pending transfers (holds), which the hold RPCs turn into their own errors.
Checks run in the order of :data:`CHECK_ORDER`; the first failing one is reported.
"""

from __future__ import annotations

import enum


class Result(enum.IntEnum):
    OK = 1
    EXISTS = 2
    LINKED_EVENT_FAILED = 3
    LINKED_EVENT_CHAIN_OPEN = 4
    ID_INVALID = 5
    AMOUNT_MUST_BE_POSITIVE = 6
    AMOUNT_TOO_LARGE = 7
    CODE_NOT_ALLOWED = 8
    REFERENCE_TOO_LONG = 9
    MEMO_TOO_LONG = 10
    EXISTS_FOR_OTHER_INITIATOR = 11
    EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID = 12
    EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID = 13
    EXISTS_WITH_DIFFERENT_AMOUNT = 14
    EXISTS_WITH_DIFFERENT_CODE = 15
    EXISTS_WITH_DIFFERENT_FLAGS = 16
    EXISTS_WITH_DIFFERENT_REFERENCE = 17
    EXISTS_WITH_DIFFERENT_MEMO = 18
    DEBIT_ACCOUNT_NOT_FOUND = 19
    CREDIT_ACCOUNT_NOT_FOUND = 20
    ACCOUNTS_MUST_BE_DIFFERENT = 21
    ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER = 22
    DEBIT_ACCOUNT_NOT_ALLOWED = 23
    CREDIT_ACCOUNT_NOT_ALLOWED = 24
    DEBIT_AGENT_NOT_CLAIMED = 25
    INSUFFICIENT_FUNDS = 26
    EXCEEDS_DEBITS = 27
    EXISTS_WITH_DIFFERENT_PENDING_ID = 28
    EXISTS_WITH_DIFFERENT_TIMEOUT = 29
    # Internal: resolving a pending transfer (only the hold operations submit these).
    PENDING_TRANSFER_NOT_FOUND = 100
    PENDING_TRANSFER_NOT_PENDING = 101
    PENDING_TRANSFER_ALREADY_POSTED = 102
    PENDING_TRANSFER_ALREADY_VOIDED = 103
    PENDING_TRANSFER_EXPIRED = 104
    PENDING_TRANSFER_HAS_DIFFERENT_ACCOUNTS = 105
    EXCEEDS_PENDING_TRANSFER_AMOUNT = 106
    PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT = 107

    @property
    def succeeded(self) -> bool:
        """Created now, or created before with the same fields."""
        return self in (Result.OK, Result.EXISTS)

    @property
    def is_exists_conflict(self) -> bool:
        return self is Result.EXISTS_FOR_OTHER_INITIATOR or self.name.startswith(
            "EXISTS_WITH_DIFFERENT_"
        )

    @property
    def is_internal(self) -> bool:
        return self >= 100


VALIDATION_RESULTS = frozenset(
    {
        Result.ID_INVALID,
        Result.AMOUNT_MUST_BE_POSITIVE,
        Result.AMOUNT_TOO_LARGE,
        Result.CODE_NOT_ALLOWED,
        Result.REFERENCE_TOO_LONG,
        Result.MEMO_TOO_LONG,
    }
)
"""Decided by the caller before anything is looked up (``p_rejections``)."""

AUTHORITY_RESULTS = frozenset(
    {
        Result.DEBIT_ACCOUNT_NOT_ALLOWED,
        Result.CREDIT_ACCOUNT_NOT_ALLOWED,
        Result.DEBIT_AGENT_NOT_CLAIMED,
    }
)
"""Decided by the caller from the principal, applied after the accounts exist (``p_denials``)."""

CHECK_ORDER = (
    *sorted(VALIDATION_RESULTS),
    Result.EXISTS_FOR_OTHER_INITIATOR,
    Result.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID,
    Result.EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID,
    Result.EXISTS_WITH_DIFFERENT_AMOUNT,
    Result.EXISTS_WITH_DIFFERENT_CODE,
    Result.EXISTS_WITH_DIFFERENT_FLAGS,
    Result.EXISTS_WITH_DIFFERENT_PENDING_ID,
    Result.EXISTS_WITH_DIFFERENT_TIMEOUT,
    Result.EXISTS_WITH_DIFFERENT_REFERENCE,
    Result.EXISTS_WITH_DIFFERENT_MEMO,
    Result.EXISTS,
    Result.DEBIT_ACCOUNT_NOT_FOUND,
    Result.CREDIT_ACCOUNT_NOT_FOUND,
    Result.ACCOUNTS_MUST_BE_DIFFERENT,
    Result.ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER,
    *sorted(AUTHORITY_RESULTS),
    Result.INSUFFICIENT_FUNDS,
    Result.EXCEEDS_DEBITS,
)

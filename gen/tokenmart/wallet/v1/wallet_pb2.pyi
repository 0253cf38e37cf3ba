import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Ledger(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LEDGER_UNSPECIFIED: _ClassVar[Ledger]
    LEDGER_CREDITS: _ClassVar[Ledger]
    LEDGER_KEY_BUDGET: _ClassVar[Ledger]

class AccountKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCOUNT_KIND_UNSPECIFIED: _ClassVar[AccountKind]
    ACCOUNT_KIND_AGENT_WALLET: _ClassVar[AccountKind]
    ACCOUNT_KIND_ACCOUNT_WALLET: _ClassVar[AccountKind]
    ACCOUNT_KIND_MINT: _ClassVar[AccountKind]
    ACCOUNT_KIND_TREASURY: _ClassVar[AccountKind]
    ACCOUNT_KIND_BOUNTY_ESCROW: _ClassVar[AccountKind]
    ACCOUNT_KIND_PROVIDER_REVENUE: _ClassVar[AccountKind]
    ACCOUNT_KIND_KEY_BUDGET: _ClassVar[AccountKind]
    ACCOUNT_KIND_KEY_BUDGET_SOURCE: _ClassVar[AccountKind]

class AccountFlag(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCOUNT_FLAG_UNSPECIFIED: _ClassVar[AccountFlag]
    ACCOUNT_FLAG_DEBITS_MUST_NOT_EXCEED_CREDITS: _ClassVar[AccountFlag]
    ACCOUNT_FLAG_CREDITS_MUST_NOT_EXCEED_DEBITS: _ClassVar[AccountFlag]

class TransferCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRANSFER_CODE_UNSPECIFIED: _ClassVar[TransferCode]
    TRANSFER_CODE_GRANT: _ClassVar[TransferCode]
    TRANSFER_CODE_TREASURY_FUNDING: _ClassVar[TransferCode]
    TRANSFER_CODE_TRANSFER: _ClassVar[TransferCode]
    TRANSFER_CODE_INFERENCE: _ClassVar[TransferCode]
    TRANSFER_CODE_PLATFORM_FEE: _ClassVar[TransferCode]
    TRANSFER_CODE_BOUNTY_ESCROW: _ClassVar[TransferCode]
    TRANSFER_CODE_BOUNTY_REWARD: _ClassVar[TransferCode]
    TRANSFER_CODE_REVIEW_REWARD: _ClassVar[TransferCode]
    TRANSFER_CODE_REFUND: _ClassVar[TransferCode]
    TRANSFER_CODE_KEY_BUDGET_ALLOCATION: _ClassVar[TransferCode]
    TRANSFER_CODE_KEY_BUDGET_SPEND: _ClassVar[TransferCode]

class TransferFlag(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRANSFER_FLAG_UNSPECIFIED: _ClassVar[TransferFlag]
    TRANSFER_FLAG_LINKED: _ClassVar[TransferFlag]
    TRANSFER_FLAG_PENDING: _ClassVar[TransferFlag]
    TRANSFER_FLAG_POST_PENDING: _ClassVar[TransferFlag]
    TRANSFER_FLAG_VOID_PENDING: _ClassVar[TransferFlag]

class CreateTransferResult(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CREATE_TRANSFER_RESULT_UNSPECIFIED: _ClassVar[CreateTransferResult]
    CREATE_TRANSFER_RESULT_OK: _ClassVar[CreateTransferResult]
    CREATE_TRANSFER_RESULT_EXISTS: _ClassVar[CreateTransferResult]
    CREATE_TRANSFER_RESULT_LINKED_EVENT_FAILED: _ClassVar[CreateTransferResult]
    CREATE_TRANSFER_RESULT_LINKED_EVENT_CHAIN_OPEN: _ClassVar[CreateTransferResult]
    CREATE_TRANSFER_RESULT_ID_INVALID: _ClassVar[CreateTransferResult]
    CREATE_TRANSFER_RESULT_AMOUNT_MUST_BE_POSITIVE: _ClassVar[CreateTransferResult]
    CREATE_TRANSFER_RESULT_AMOUNT_TOO_LARGE: _ClassVar[CreateTransferResult]
    CREATE_TRANSFER_RESULT_CODE_NOT_ALLOWED: _ClassVar[CreateTransferResult]
    CREATE_TRANSFER_RESULT_REFERENCE_TOO_LONG: _ClassVar[CreateTransferResult]
    CREATE_TRANSFER_RESULT_MEMO_TOO_LONG: _ClassVar[CreateTransferResult]
    CREATE_TRANSFER_RESULT_EXISTS_FOR_OTHER_INITIATOR: _ClassVar[CreateTransferResult]
    CREATE_TRANSFER_RESULT_EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID: _ClassVar[CreateTransferResult]
    CREATE_TRANSFER_RESULT_EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID: _ClassVar[CreateTransferResult]
    CREATE_TRANSFER_RESULT_EXISTS_WITH_DIFFERENT_AMOUNT: _ClassVar[CreateTransferResult]
    CREATE_TRANSFER_RESULT_EXISTS_WITH_DIFFERENT_CODE: _ClassVar[CreateTransferResult]
    CREATE_TRANSFER_RESULT_EXISTS_WITH_DIFFERENT_FLAGS: _ClassVar[CreateTransferResult]
    CREATE_TRANSFER_RESULT_EXISTS_WITH_DIFFERENT_PENDING_ID: _ClassVar[CreateTransferResult]
    CREATE_TRANSFER_RESULT_EXISTS_WITH_DIFFERENT_TIMEOUT: _ClassVar[CreateTransferResult]
    CREATE_TRANSFER_RESULT_EXISTS_WITH_DIFFERENT_REFERENCE: _ClassVar[CreateTransferResult]
    CREATE_TRANSFER_RESULT_EXISTS_WITH_DIFFERENT_MEMO: _ClassVar[CreateTransferResult]
    CREATE_TRANSFER_RESULT_DEBIT_ACCOUNT_NOT_FOUND: _ClassVar[CreateTransferResult]
    CREATE_TRANSFER_RESULT_CREDIT_ACCOUNT_NOT_FOUND: _ClassVar[CreateTransferResult]
    CREATE_TRANSFER_RESULT_ACCOUNTS_MUST_BE_DIFFERENT: _ClassVar[CreateTransferResult]
    CREATE_TRANSFER_RESULT_ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER: _ClassVar[CreateTransferResult]
    CREATE_TRANSFER_RESULT_DEBIT_ACCOUNT_NOT_ALLOWED: _ClassVar[CreateTransferResult]
    CREATE_TRANSFER_RESULT_CREDIT_ACCOUNT_NOT_ALLOWED: _ClassVar[CreateTransferResult]
    CREATE_TRANSFER_RESULT_DEBIT_AGENT_NOT_CLAIMED: _ClassVar[CreateTransferResult]
    CREATE_TRANSFER_RESULT_INSUFFICIENT_FUNDS: _ClassVar[CreateTransferResult]
    CREATE_TRANSFER_RESULT_EXCEEDS_DEBITS: _ClassVar[CreateTransferResult]

class HoldStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HOLD_STATUS_UNSPECIFIED: _ClassVar[HoldStatus]
    HOLD_STATUS_PENDING: _ClassVar[HoldStatus]
    HOLD_STATUS_POSTED: _ClassVar[HoldStatus]
    HOLD_STATUS_VOIDED: _ClassVar[HoldStatus]
    HOLD_STATUS_EXPIRED: _ClassVar[HoldStatus]

class InitiatorKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INITIATOR_KIND_UNSPECIFIED: _ClassVar[InitiatorKind]
    INITIATOR_KIND_AGENT: _ClassVar[InitiatorKind]
    INITIATOR_KIND_ACCOUNT: _ClassVar[InitiatorKind]
    INITIATOR_KIND_SERVICE: _ClassVar[InitiatorKind]
    INITIATOR_KIND_WALLET: _ClassVar[InitiatorKind]

class VerificationFailureKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERIFICATION_FAILURE_KIND_UNSPECIFIED: _ClassVar[VerificationFailureKind]
    VERIFICATION_FAILURE_KIND_TRANSFER_HASH_MISMATCH: _ClassVar[VerificationFailureKind]
    VERIFICATION_FAILURE_KIND_CHAIN_LINK_BROKEN: _ClassVar[VerificationFailureKind]
    VERIFICATION_FAILURE_KIND_CHAIN_HEAD_MISMATCH: _ClassVar[VerificationFailureKind]
    VERIFICATION_FAILURE_KIND_BALANCE_MISMATCH: _ClassVar[VerificationFailureKind]
    VERIFICATION_FAILURE_KIND_LEDGER_UNBALANCED: _ClassVar[VerificationFailureKind]
    VERIFICATION_FAILURE_KIND_ACCOUNT_FLAG_VIOLATED: _ClassVar[VerificationFailureKind]
    VERIFICATION_FAILURE_KIND_HOLD_OVERDUE: _ClassVar[VerificationFailureKind]
    VERIFICATION_FAILURE_KIND_PENDING_RESOLUTION_INVALID: _ClassVar[VerificationFailureKind]
LEDGER_UNSPECIFIED: Ledger
LEDGER_CREDITS: Ledger
LEDGER_KEY_BUDGET: Ledger
ACCOUNT_KIND_UNSPECIFIED: AccountKind
ACCOUNT_KIND_AGENT_WALLET: AccountKind
ACCOUNT_KIND_ACCOUNT_WALLET: AccountKind
ACCOUNT_KIND_MINT: AccountKind
ACCOUNT_KIND_TREASURY: AccountKind
ACCOUNT_KIND_BOUNTY_ESCROW: AccountKind
ACCOUNT_KIND_PROVIDER_REVENUE: AccountKind
ACCOUNT_KIND_KEY_BUDGET: AccountKind
ACCOUNT_KIND_KEY_BUDGET_SOURCE: AccountKind
ACCOUNT_FLAG_UNSPECIFIED: AccountFlag
ACCOUNT_FLAG_DEBITS_MUST_NOT_EXCEED_CREDITS: AccountFlag
ACCOUNT_FLAG_CREDITS_MUST_NOT_EXCEED_DEBITS: AccountFlag
TRANSFER_CODE_UNSPECIFIED: TransferCode
TRANSFER_CODE_GRANT: TransferCode
TRANSFER_CODE_TREASURY_FUNDING: TransferCode
TRANSFER_CODE_TRANSFER: TransferCode
TRANSFER_CODE_INFERENCE: TransferCode
TRANSFER_CODE_PLATFORM_FEE: TransferCode
TRANSFER_CODE_BOUNTY_ESCROW: TransferCode
TRANSFER_CODE_BOUNTY_REWARD: TransferCode
TRANSFER_CODE_REVIEW_REWARD: TransferCode
TRANSFER_CODE_REFUND: TransferCode
TRANSFER_CODE_KEY_BUDGET_ALLOCATION: TransferCode
TRANSFER_CODE_KEY_BUDGET_SPEND: TransferCode
TRANSFER_FLAG_UNSPECIFIED: TransferFlag
TRANSFER_FLAG_LINKED: TransferFlag
TRANSFER_FLAG_PENDING: TransferFlag
TRANSFER_FLAG_POST_PENDING: TransferFlag
TRANSFER_FLAG_VOID_PENDING: TransferFlag
CREATE_TRANSFER_RESULT_UNSPECIFIED: CreateTransferResult
CREATE_TRANSFER_RESULT_OK: CreateTransferResult
CREATE_TRANSFER_RESULT_EXISTS: CreateTransferResult
CREATE_TRANSFER_RESULT_LINKED_EVENT_FAILED: CreateTransferResult
CREATE_TRANSFER_RESULT_LINKED_EVENT_CHAIN_OPEN: CreateTransferResult
CREATE_TRANSFER_RESULT_ID_INVALID: CreateTransferResult
CREATE_TRANSFER_RESULT_AMOUNT_MUST_BE_POSITIVE: CreateTransferResult
CREATE_TRANSFER_RESULT_AMOUNT_TOO_LARGE: CreateTransferResult
CREATE_TRANSFER_RESULT_CODE_NOT_ALLOWED: CreateTransferResult
CREATE_TRANSFER_RESULT_REFERENCE_TOO_LONG: CreateTransferResult
CREATE_TRANSFER_RESULT_MEMO_TOO_LONG: CreateTransferResult
CREATE_TRANSFER_RESULT_EXISTS_FOR_OTHER_INITIATOR: CreateTransferResult
CREATE_TRANSFER_RESULT_EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID: CreateTransferResult
CREATE_TRANSFER_RESULT_EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID: CreateTransferResult
CREATE_TRANSFER_RESULT_EXISTS_WITH_DIFFERENT_AMOUNT: CreateTransferResult
CREATE_TRANSFER_RESULT_EXISTS_WITH_DIFFERENT_CODE: CreateTransferResult
CREATE_TRANSFER_RESULT_EXISTS_WITH_DIFFERENT_FLAGS: CreateTransferResult
CREATE_TRANSFER_RESULT_EXISTS_WITH_DIFFERENT_PENDING_ID: CreateTransferResult
CREATE_TRANSFER_RESULT_EXISTS_WITH_DIFFERENT_TIMEOUT: CreateTransferResult
CREATE_TRANSFER_RESULT_EXISTS_WITH_DIFFERENT_REFERENCE: CreateTransferResult
CREATE_TRANSFER_RESULT_EXISTS_WITH_DIFFERENT_MEMO: CreateTransferResult
CREATE_TRANSFER_RESULT_DEBIT_ACCOUNT_NOT_FOUND: CreateTransferResult
CREATE_TRANSFER_RESULT_CREDIT_ACCOUNT_NOT_FOUND: CreateTransferResult
CREATE_TRANSFER_RESULT_ACCOUNTS_MUST_BE_DIFFERENT: CreateTransferResult
CREATE_TRANSFER_RESULT_ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER: CreateTransferResult
CREATE_TRANSFER_RESULT_DEBIT_ACCOUNT_NOT_ALLOWED: CreateTransferResult
CREATE_TRANSFER_RESULT_CREDIT_ACCOUNT_NOT_ALLOWED: CreateTransferResult
CREATE_TRANSFER_RESULT_DEBIT_AGENT_NOT_CLAIMED: CreateTransferResult
CREATE_TRANSFER_RESULT_INSUFFICIENT_FUNDS: CreateTransferResult
CREATE_TRANSFER_RESULT_EXCEEDS_DEBITS: CreateTransferResult
HOLD_STATUS_UNSPECIFIED: HoldStatus
HOLD_STATUS_PENDING: HoldStatus
HOLD_STATUS_POSTED: HoldStatus
HOLD_STATUS_VOIDED: HoldStatus
HOLD_STATUS_EXPIRED: HoldStatus
INITIATOR_KIND_UNSPECIFIED: InitiatorKind
INITIATOR_KIND_AGENT: InitiatorKind
INITIATOR_KIND_ACCOUNT: InitiatorKind
INITIATOR_KIND_SERVICE: InitiatorKind
INITIATOR_KIND_WALLET: InitiatorKind
VERIFICATION_FAILURE_KIND_UNSPECIFIED: VerificationFailureKind
VERIFICATION_FAILURE_KIND_TRANSFER_HASH_MISMATCH: VerificationFailureKind
VERIFICATION_FAILURE_KIND_CHAIN_LINK_BROKEN: VerificationFailureKind
VERIFICATION_FAILURE_KIND_CHAIN_HEAD_MISMATCH: VerificationFailureKind
VERIFICATION_FAILURE_KIND_BALANCE_MISMATCH: VerificationFailureKind
VERIFICATION_FAILURE_KIND_LEDGER_UNBALANCED: VerificationFailureKind
VERIFICATION_FAILURE_KIND_ACCOUNT_FLAG_VIOLATED: VerificationFailureKind
VERIFICATION_FAILURE_KIND_HOLD_OVERDUE: VerificationFailureKind
VERIFICATION_FAILURE_KIND_PENDING_RESOLUTION_INVALID: VerificationFailureKind

class AccountRef(_message.Message):
    __slots__ = ("ledger_account_id", "agent_id", "account_id", "system_account")
    LEDGER_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ledger_account_id: str
    agent_id: str
    account_id: str
    system_account: AccountKind
    def __init__(self, ledger_account_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., account_id: _Optional[str] = ..., system_account: _Optional[_Union[AccountKind, str]] = ...) -> None: ...

class LedgerAccount(_message.Message):
    __slots__ = ("ledger_account_id", "kind", "ledger", "agent_id", "account_id", "key_id", "flags", "debits_pending_micros", "debits_posted_micros", "credits_pending_micros", "credits_posted_micros", "available_micros", "limit_micros", "chain_head_hash", "transfer_count", "created_at", "updated_at")
    LEDGER_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    LEDGER_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    DEBITS_PENDING_MICROS_FIELD_NUMBER: _ClassVar[int]
    DEBITS_POSTED_MICROS_FIELD_NUMBER: _ClassVar[int]
    CREDITS_PENDING_MICROS_FIELD_NUMBER: _ClassVar[int]
    CREDITS_POSTED_MICROS_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_MICROS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_MICROS_FIELD_NUMBER: _ClassVar[int]
    CHAIN_HEAD_HASH_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    ledger_account_id: str
    kind: AccountKind
    ledger: Ledger
    agent_id: str
    account_id: str
    key_id: str
    flags: _containers.RepeatedScalarFieldContainer[AccountFlag]
    debits_pending_micros: int
    debits_posted_micros: int
    credits_pending_micros: int
    credits_posted_micros: int
    available_micros: int
    limit_micros: int
    chain_head_hash: bytes
    transfer_count: int
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, ledger_account_id: _Optional[str] = ..., kind: _Optional[_Union[AccountKind, str]] = ..., ledger: _Optional[_Union[Ledger, str]] = ..., agent_id: _Optional[str] = ..., account_id: _Optional[str] = ..., key_id: _Optional[str] = ..., flags: _Optional[_Iterable[_Union[AccountFlag, str]]] = ..., debits_pending_micros: _Optional[int] = ..., debits_posted_micros: _Optional[int] = ..., credits_pending_micros: _Optional[int] = ..., credits_posted_micros: _Optional[int] = ..., available_micros: _Optional[int] = ..., limit_micros: _Optional[int] = ..., chain_head_hash: _Optional[bytes] = ..., transfer_count: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Initiator(_message.Message):
    __slots__ = ("kind", "agent_id", "account_id", "key_id", "peer_service", "request_id")
    KIND_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PEER_SERVICE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    kind: InitiatorKind
    agent_id: str
    account_id: str
    key_id: str
    peer_service: str
    request_id: str
    def __init__(self, kind: _Optional[_Union[InitiatorKind, str]] = ..., agent_id: _Optional[str] = ..., account_id: _Optional[str] = ..., key_id: _Optional[str] = ..., peer_service: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class Transfer(_message.Message):
    __slots__ = ("transfer_id", "debit_ledger_account_id", "credit_ledger_account_id", "amount_micros", "ledger", "code", "flags", "pending_id", "timeout_s", "expires_at", "reference", "memo", "initiator", "created_at", "hash", "debit_previous_hash", "credit_previous_hash")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    DEBIT_LEDGER_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    CREDIT_LEDGER_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MICROS_FIELD_NUMBER: _ClassVar[int]
    LEDGER_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    PENDING_ID_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    MEMO_FIELD_NUMBER: _ClassVar[int]
    INITIATOR_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    DEBIT_PREVIOUS_HASH_FIELD_NUMBER: _ClassVar[int]
    CREDIT_PREVIOUS_HASH_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    debit_ledger_account_id: str
    credit_ledger_account_id: str
    amount_micros: int
    ledger: Ledger
    code: TransferCode
    flags: _containers.RepeatedScalarFieldContainer[TransferFlag]
    pending_id: str
    timeout_s: int
    expires_at: _timestamp_pb2.Timestamp
    reference: str
    memo: str
    initiator: Initiator
    created_at: _timestamp_pb2.Timestamp
    hash: bytes
    debit_previous_hash: bytes
    credit_previous_hash: bytes
    def __init__(self, transfer_id: _Optional[str] = ..., debit_ledger_account_id: _Optional[str] = ..., credit_ledger_account_id: _Optional[str] = ..., amount_micros: _Optional[int] = ..., ledger: _Optional[_Union[Ledger, str]] = ..., code: _Optional[_Union[TransferCode, str]] = ..., flags: _Optional[_Iterable[_Union[TransferFlag, str]]] = ..., pending_id: _Optional[str] = ..., timeout_s: _Optional[int] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reference: _Optional[str] = ..., memo: _Optional[str] = ..., initiator: _Optional[_Union[Initiator, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., hash: _Optional[bytes] = ..., debit_previous_hash: _Optional[bytes] = ..., credit_previous_hash: _Optional[bytes] = ...) -> None: ...

class TransferInput(_message.Message):
    __slots__ = ("transfer_id", "debit", "credit", "amount_micros", "code", "reference", "memo", "linked")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    DEBIT_FIELD_NUMBER: _ClassVar[int]
    CREDIT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MICROS_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    MEMO_FIELD_NUMBER: _ClassVar[int]
    LINKED_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    debit: AccountRef
    credit: AccountRef
    amount_micros: int
    code: TransferCode
    reference: str
    memo: str
    linked: bool
    def __init__(self, transfer_id: _Optional[str] = ..., debit: _Optional[_Union[AccountRef, _Mapping]] = ..., credit: _Optional[_Union[AccountRef, _Mapping]] = ..., amount_micros: _Optional[int] = ..., code: _Optional[_Union[TransferCode, str]] = ..., reference: _Optional[str] = ..., memo: _Optional[str] = ..., linked: _Optional[bool] = ...) -> None: ...

class TransferOutcome(_message.Message):
    __slots__ = ("index", "transfer_id", "result", "transfer")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_FIELD_NUMBER: _ClassVar[int]
    index: int
    transfer_id: str
    result: CreateTransferResult
    transfer: Transfer
    def __init__(self, index: _Optional[int] = ..., transfer_id: _Optional[str] = ..., result: _Optional[_Union[CreateTransferResult, str]] = ..., transfer: _Optional[_Union[Transfer, _Mapping]] = ...) -> None: ...

class Hold(_message.Message):
    __slots__ = ("hold_id", "agent_id", "wallet_id", "key_id", "key_budget_account_id", "amount_micros", "code", "reference", "timeout_s", "status", "created_at", "expires_at", "resolved_at", "posted_micros", "overage_micros", "shortfall_micros", "transfers")
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    WALLET_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_BUDGET_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MICROS_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_AT_FIELD_NUMBER: _ClassVar[int]
    POSTED_MICROS_FIELD_NUMBER: _ClassVar[int]
    OVERAGE_MICROS_FIELD_NUMBER: _ClassVar[int]
    SHORTFALL_MICROS_FIELD_NUMBER: _ClassVar[int]
    TRANSFERS_FIELD_NUMBER: _ClassVar[int]
    hold_id: str
    agent_id: str
    wallet_id: str
    key_id: str
    key_budget_account_id: str
    amount_micros: int
    code: TransferCode
    reference: str
    timeout_s: int
    status: HoldStatus
    created_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    resolved_at: _timestamp_pb2.Timestamp
    posted_micros: int
    overage_micros: int
    shortfall_micros: int
    transfers: _containers.RepeatedCompositeFieldContainer[Transfer]
    def __init__(self, hold_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., wallet_id: _Optional[str] = ..., key_id: _Optional[str] = ..., key_budget_account_id: _Optional[str] = ..., amount_micros: _Optional[int] = ..., code: _Optional[_Union[TransferCode, str]] = ..., reference: _Optional[str] = ..., timeout_s: _Optional[int] = ..., status: _Optional[_Union[HoldStatus, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolved_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., posted_micros: _Optional[int] = ..., overage_micros: _Optional[int] = ..., shortfall_micros: _Optional[int] = ..., transfers: _Optional[_Iterable[_Union[Transfer, _Mapping]]] = ...) -> None: ...

class LedgerTotals(_message.Message):
    __slots__ = ("ledger", "debits_posted_micros", "credits_posted_micros", "debits_pending_micros", "credits_pending_micros")
    LEDGER_FIELD_NUMBER: _ClassVar[int]
    DEBITS_POSTED_MICROS_FIELD_NUMBER: _ClassVar[int]
    CREDITS_POSTED_MICROS_FIELD_NUMBER: _ClassVar[int]
    DEBITS_PENDING_MICROS_FIELD_NUMBER: _ClassVar[int]
    CREDITS_PENDING_MICROS_FIELD_NUMBER: _ClassVar[int]
    ledger: Ledger
    debits_posted_micros: int
    credits_posted_micros: int
    debits_pending_micros: int
    credits_pending_micros: int
    def __init__(self, ledger: _Optional[_Union[Ledger, str]] = ..., debits_posted_micros: _Optional[int] = ..., credits_posted_micros: _Optional[int] = ..., debits_pending_micros: _Optional[int] = ..., credits_pending_micros: _Optional[int] = ...) -> None: ...

class VerificationFailure(_message.Message):
    __slots__ = ("kind", "ledger_account_id", "transfer_id", "ledger", "field", "expected", "actual", "detail")
    KIND_FIELD_NUMBER: _ClassVar[int]
    LEDGER_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    LEDGER_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    kind: VerificationFailureKind
    ledger_account_id: str
    transfer_id: str
    ledger: Ledger
    field: str
    expected: str
    actual: str
    detail: str
    def __init__(self, kind: _Optional[_Union[VerificationFailureKind, str]] = ..., ledger_account_id: _Optional[str] = ..., transfer_id: _Optional[str] = ..., ledger: _Optional[_Union[Ledger, str]] = ..., field: _Optional[str] = ..., expected: _Optional[str] = ..., actual: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class EnsureWalletRequest(_message.Message):
    __slots__ = ("request_id", "agent_id", "account_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    agent_id: str
    account_id: str
    def __init__(self, request_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., account_id: _Optional[str] = ...) -> None: ...

class EnsureWalletResponse(_message.Message):
    __slots__ = ("wallet", "created")
    WALLET_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    wallet: LedgerAccount
    created: bool
    def __init__(self, wallet: _Optional[_Union[LedgerAccount, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class GetBalanceRequest(_message.Message):
    __slots__ = ("wallet",)
    WALLET_FIELD_NUMBER: _ClassVar[int]
    wallet: AccountRef
    def __init__(self, wallet: _Optional[_Union[AccountRef, _Mapping]] = ...) -> None: ...

class GetBalanceResponse(_message.Message):
    __slots__ = ("wallet_id", "balance_micros", "pending_micros", "posted_balance_micros", "wallet")
    WALLET_ID_FIELD_NUMBER: _ClassVar[int]
    BALANCE_MICROS_FIELD_NUMBER: _ClassVar[int]
    PENDING_MICROS_FIELD_NUMBER: _ClassVar[int]
    POSTED_BALANCE_MICROS_FIELD_NUMBER: _ClassVar[int]
    WALLET_FIELD_NUMBER: _ClassVar[int]
    wallet_id: str
    balance_micros: int
    pending_micros: int
    posted_balance_micros: int
    wallet: LedgerAccount
    def __init__(self, wallet_id: _Optional[str] = ..., balance_micros: _Optional[int] = ..., pending_micros: _Optional[int] = ..., posted_balance_micros: _Optional[int] = ..., wallet: _Optional[_Union[LedgerAccount, _Mapping]] = ...) -> None: ...

class GetLedgerAccountRequest(_message.Message):
    __slots__ = ("account",)
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    account: AccountRef
    def __init__(self, account: _Optional[_Union[AccountRef, _Mapping]] = ...) -> None: ...

class GetLedgerAccountResponse(_message.Message):
    __slots__ = ("account",)
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    account: LedgerAccount
    def __init__(self, account: _Optional[_Union[LedgerAccount, _Mapping]] = ...) -> None: ...

class CreateTransferRequest(_message.Message):
    __slots__ = ("request_id", "transfer_id", "from_wallet_id", "to_agent_id", "to_wallet_id", "amount_micros", "memo")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_WALLET_ID_FIELD_NUMBER: _ClassVar[int]
    TO_AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    TO_WALLET_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MICROS_FIELD_NUMBER: _ClassVar[int]
    MEMO_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    transfer_id: str
    from_wallet_id: str
    to_agent_id: str
    to_wallet_id: str
    amount_micros: int
    memo: str
    def __init__(self, request_id: _Optional[str] = ..., transfer_id: _Optional[str] = ..., from_wallet_id: _Optional[str] = ..., to_agent_id: _Optional[str] = ..., to_wallet_id: _Optional[str] = ..., amount_micros: _Optional[int] = ..., memo: _Optional[str] = ...) -> None: ...

class CreateTransferResponse(_message.Message):
    __slots__ = ("result", "transfer", "source_balance_micros")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_FIELD_NUMBER: _ClassVar[int]
    SOURCE_BALANCE_MICROS_FIELD_NUMBER: _ClassVar[int]
    result: CreateTransferResult
    transfer: Transfer
    source_balance_micros: int
    def __init__(self, result: _Optional[_Union[CreateTransferResult, str]] = ..., transfer: _Optional[_Union[Transfer, _Mapping]] = ..., source_balance_micros: _Optional[int] = ...) -> None: ...

class CreateTransfersRequest(_message.Message):
    __slots__ = ("request_id", "transfers")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRANSFERS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    transfers: _containers.RepeatedCompositeFieldContainer[TransferInput]
    def __init__(self, request_id: _Optional[str] = ..., transfers: _Optional[_Iterable[_Union[TransferInput, _Mapping]]] = ...) -> None: ...

class CreateTransfersResponse(_message.Message):
    __slots__ = ("outcomes", "all_succeeded")
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    ALL_SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    outcomes: _containers.RepeatedCompositeFieldContainer[TransferOutcome]
    all_succeeded: bool
    def __init__(self, outcomes: _Optional[_Iterable[_Union[TransferOutcome, _Mapping]]] = ..., all_succeeded: _Optional[bool] = ...) -> None: ...

class MintRequest(_message.Message):
    __slots__ = ("request_id", "transfer_id", "to", "amount_micros", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MICROS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    transfer_id: str
    to: AccountRef
    amount_micros: int
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., transfer_id: _Optional[str] = ..., to: _Optional[_Union[AccountRef, _Mapping]] = ..., amount_micros: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class MintResponse(_message.Message):
    __slots__ = ("result", "transfer", "balance_micros")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_FIELD_NUMBER: _ClassVar[int]
    BALANCE_MICROS_FIELD_NUMBER: _ClassVar[int]
    result: CreateTransferResult
    transfer: Transfer
    balance_micros: int
    def __init__(self, result: _Optional[_Union[CreateTransferResult, str]] = ..., transfer: _Optional[_Union[Transfer, _Mapping]] = ..., balance_micros: _Optional[int] = ...) -> None: ...

class CreateHoldRequest(_message.Message):
    __slots__ = ("request_id", "hold_id", "amount_micros", "timeout_s", "code", "reference")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MICROS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    hold_id: str
    amount_micros: int
    timeout_s: int
    code: TransferCode
    reference: str
    def __init__(self, request_id: _Optional[str] = ..., hold_id: _Optional[str] = ..., amount_micros: _Optional[int] = ..., timeout_s: _Optional[int] = ..., code: _Optional[_Union[TransferCode, str]] = ..., reference: _Optional[str] = ...) -> None: ...

class CreateHoldResponse(_message.Message):
    __slots__ = ("hold",)
    HOLD_FIELD_NUMBER: _ClassVar[int]
    hold: Hold
    def __init__(self, hold: _Optional[_Union[Hold, _Mapping]] = ...) -> None: ...

class PostHoldRequest(_message.Message):
    __slots__ = ("request_id", "hold_id", "post_transfer_id", "amount_micros")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    POST_TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MICROS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    hold_id: str
    post_transfer_id: str
    amount_micros: int
    def __init__(self, request_id: _Optional[str] = ..., hold_id: _Optional[str] = ..., post_transfer_id: _Optional[str] = ..., amount_micros: _Optional[int] = ...) -> None: ...

class PostHoldResponse(_message.Message):
    __slots__ = ("hold", "captured_micros", "overage_micros", "shortfall_micros")
    HOLD_FIELD_NUMBER: _ClassVar[int]
    CAPTURED_MICROS_FIELD_NUMBER: _ClassVar[int]
    OVERAGE_MICROS_FIELD_NUMBER: _ClassVar[int]
    SHORTFALL_MICROS_FIELD_NUMBER: _ClassVar[int]
    hold: Hold
    captured_micros: int
    overage_micros: int
    shortfall_micros: int
    def __init__(self, hold: _Optional[_Union[Hold, _Mapping]] = ..., captured_micros: _Optional[int] = ..., overage_micros: _Optional[int] = ..., shortfall_micros: _Optional[int] = ...) -> None: ...

class VoidHoldRequest(_message.Message):
    __slots__ = ("request_id", "hold_id", "void_transfer_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    VOID_TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    hold_id: str
    void_transfer_id: str
    def __init__(self, request_id: _Optional[str] = ..., hold_id: _Optional[str] = ..., void_transfer_id: _Optional[str] = ...) -> None: ...

class VoidHoldResponse(_message.Message):
    __slots__ = ("hold",)
    HOLD_FIELD_NUMBER: _ClassVar[int]
    hold: Hold
    def __init__(self, hold: _Optional[_Union[Hold, _Mapping]] = ...) -> None: ...

class GetHoldRequest(_message.Message):
    __slots__ = ("hold_id",)
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    hold_id: str
    def __init__(self, hold_id: _Optional[str] = ...) -> None: ...

class GetHoldResponse(_message.Message):
    __slots__ = ("hold",)
    HOLD_FIELD_NUMBER: _ClassVar[int]
    hold: Hold
    def __init__(self, hold: _Optional[_Union[Hold, _Mapping]] = ...) -> None: ...

class CreateEscrowTransfersRequest(_message.Message):
    __slots__ = ("request_id", "transfers")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRANSFERS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    transfers: _containers.RepeatedCompositeFieldContainer[TransferInput]
    def __init__(self, request_id: _Optional[str] = ..., transfers: _Optional[_Iterable[_Union[TransferInput, _Mapping]]] = ...) -> None: ...

class CreateEscrowTransfersResponse(_message.Message):
    __slots__ = ("outcomes", "all_succeeded")
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    ALL_SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    outcomes: _containers.RepeatedCompositeFieldContainer[TransferOutcome]
    all_succeeded: bool
    def __init__(self, outcomes: _Optional[_Iterable[_Union[TransferOutcome, _Mapping]]] = ..., all_succeeded: _Optional[bool] = ...) -> None: ...

class GetTransferRequest(_message.Message):
    __slots__ = ("transfer_id",)
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    def __init__(self, transfer_id: _Optional[str] = ...) -> None: ...

class GetTransferResponse(_message.Message):
    __slots__ = ("transfer",)
    TRANSFER_FIELD_NUMBER: _ClassVar[int]
    transfer: Transfer
    def __init__(self, transfer: _Optional[_Union[Transfer, _Mapping]] = ...) -> None: ...

class ListTransfersRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "account", "all_accounts", "codes", "reference", "since", "until")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ALL_ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    CODES_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    account: AccountRef
    all_accounts: bool
    codes: _containers.RepeatedScalarFieldContainer[TransferCode]
    reference: str
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., account: _Optional[_Union[AccountRef, _Mapping]] = ..., all_accounts: _Optional[bool] = ..., codes: _Optional[_Iterable[_Union[TransferCode, str]]] = ..., reference: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListTransfersResponse(_message.Message):
    __slots__ = ("transfers", "next_page_token")
    TRANSFERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    transfers: _containers.RepeatedCompositeFieldContainer[Transfer]
    next_page_token: str
    def __init__(self, transfers: _Optional[_Iterable[_Union[Transfer, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class VerifyLedgerRequest(_message.Message):
    __slots__ = ("max_failures",)
    MAX_FAILURES_FIELD_NUMBER: _ClassVar[int]
    max_failures: int
    def __init__(self, max_failures: _Optional[int] = ...) -> None: ...

class VerifyLedgerResponse(_message.Message):
    __slots__ = ("ok", "accounts_checked", "transfers_checked", "totals", "failures", "failures_truncated", "started_at", "finished_at")
    OK_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    TRANSFERS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    FAILURES_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    accounts_checked: int
    transfers_checked: int
    totals: _containers.RepeatedCompositeFieldContainer[LedgerTotals]
    failures: _containers.RepeatedCompositeFieldContainer[VerificationFailure]
    failures_truncated: bool
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    def __init__(self, ok: _Optional[bool] = ..., accounts_checked: _Optional[int] = ..., transfers_checked: _Optional[int] = ..., totals: _Optional[_Iterable[_Union[LedgerTotals, _Mapping]]] = ..., failures: _Optional[_Iterable[_Union[VerificationFailure, _Mapping]]] = ..., failures_truncated: _Optional[bool] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

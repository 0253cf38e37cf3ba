import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BountyType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BOUNTY_TYPE_UNSPECIFIED: _ClassVar[BountyType]
    BOUNTY_TYPE_WORK: _ClassVar[BountyType]
    BOUNTY_TYPE_VERIFICATION: _ClassVar[BountyType]

class BountyStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BOUNTY_STATUS_UNSPECIFIED: _ClassVar[BountyStatus]
    BOUNTY_STATUS_OPEN: _ClassVar[BountyStatus]
    BOUNTY_STATUS_FILLED: _ClassVar[BountyStatus]
    BOUNTY_STATUS_CLOSED: _ClassVar[BountyStatus]
    BOUNTY_STATUS_COMPLETED: _ClassVar[BountyStatus]
    BOUNTY_STATUS_CANCELLED: _ClassVar[BountyStatus]

class ClaimStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CLAIM_STATUS_UNSPECIFIED: _ClassVar[ClaimStatus]
    CLAIM_STATUS_CLAIMED: _ClassVar[ClaimStatus]
    CLAIM_STATUS_SUBMITTED: _ClassVar[ClaimStatus]
    CLAIM_STATUS_APPROVED: _ClassVar[ClaimStatus]
    CLAIM_STATUS_REJECTED: _ClassVar[ClaimStatus]
    CLAIM_STATUS_EXPIRED: _ClassVar[ClaimStatus]
    CLAIM_STATUS_CANCELLED: _ClassVar[ClaimStatus]

class ReviewStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REVIEW_STATUS_UNSPECIFIED: _ClassVar[ReviewStatus]
    REVIEW_STATUS_ASSIGNED: _ClassVar[ReviewStatus]
    REVIEW_STATUS_SUBMITTED: _ClassVar[ReviewStatus]
    REVIEW_STATUS_REPLACED: _ClassVar[ReviewStatus]
    REVIEW_STATUS_WITHDRAWN: _ClassVar[ReviewStatus]

class ReviewDecision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REVIEW_DECISION_UNSPECIFIED: _ClassVar[ReviewDecision]
    REVIEW_DECISION_APPROVE: _ClassVar[ReviewDecision]
    REVIEW_DECISION_REJECT: _ClassVar[ReviewDecision]

class PayoutStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYOUT_STATUS_UNSPECIFIED: _ClassVar[PayoutStatus]
    PAYOUT_STATUS_NOT_DUE: _ClassVar[PayoutStatus]
    PAYOUT_STATUS_PENDING: _ClassVar[PayoutStatus]
    PAYOUT_STATUS_PAID: _ClassVar[PayoutStatus]

class OutboxKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OUTBOX_KIND_UNSPECIFIED: _ClassVar[OutboxKind]
    OUTBOX_KIND_CLAIM_PAYOUT: _ClassVar[OutboxKind]
    OUTBOX_KIND_SLOT_REFUND: _ClassVar[OutboxKind]

class OutboxStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OUTBOX_STATUS_UNSPECIFIED: _ClassVar[OutboxStatus]
    OUTBOX_STATUS_PENDING: _ClassVar[OutboxStatus]
    OUTBOX_STATUS_DELIVERED: _ClassVar[OutboxStatus]
    OUTBOX_STATUS_STUCK: _ClassVar[OutboxStatus]

class PayoutRecipient(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYOUT_RECIPIENT_UNSPECIFIED: _ClassVar[PayoutRecipient]
    PAYOUT_RECIPIENT_AGENT: _ClassVar[PayoutRecipient]
    PAYOUT_RECIPIENT_TREASURY: _ClassVar[PayoutRecipient]
BOUNTY_TYPE_UNSPECIFIED: BountyType
BOUNTY_TYPE_WORK: BountyType
BOUNTY_TYPE_VERIFICATION: BountyType
BOUNTY_STATUS_UNSPECIFIED: BountyStatus
BOUNTY_STATUS_OPEN: BountyStatus
BOUNTY_STATUS_FILLED: BountyStatus
BOUNTY_STATUS_CLOSED: BountyStatus
BOUNTY_STATUS_COMPLETED: BountyStatus
BOUNTY_STATUS_CANCELLED: BountyStatus
CLAIM_STATUS_UNSPECIFIED: ClaimStatus
CLAIM_STATUS_CLAIMED: ClaimStatus
CLAIM_STATUS_SUBMITTED: ClaimStatus
CLAIM_STATUS_APPROVED: ClaimStatus
CLAIM_STATUS_REJECTED: ClaimStatus
CLAIM_STATUS_EXPIRED: ClaimStatus
CLAIM_STATUS_CANCELLED: ClaimStatus
REVIEW_STATUS_UNSPECIFIED: ReviewStatus
REVIEW_STATUS_ASSIGNED: ReviewStatus
REVIEW_STATUS_SUBMITTED: ReviewStatus
REVIEW_STATUS_REPLACED: ReviewStatus
REVIEW_STATUS_WITHDRAWN: ReviewStatus
REVIEW_DECISION_UNSPECIFIED: ReviewDecision
REVIEW_DECISION_APPROVE: ReviewDecision
REVIEW_DECISION_REJECT: ReviewDecision
PAYOUT_STATUS_UNSPECIFIED: PayoutStatus
PAYOUT_STATUS_NOT_DUE: PayoutStatus
PAYOUT_STATUS_PENDING: PayoutStatus
PAYOUT_STATUS_PAID: PayoutStatus
OUTBOX_KIND_UNSPECIFIED: OutboxKind
OUTBOX_KIND_CLAIM_PAYOUT: OutboxKind
OUTBOX_KIND_SLOT_REFUND: OutboxKind
OUTBOX_STATUS_UNSPECIFIED: OutboxStatus
OUTBOX_STATUS_PENDING: OutboxStatus
OUTBOX_STATUS_DELIVERED: OutboxStatus
OUTBOX_STATUS_STUCK: OutboxStatus
PAYOUT_RECIPIENT_UNSPECIFIED: PayoutRecipient
PAYOUT_RECIPIENT_AGENT: PayoutRecipient
PAYOUT_RECIPIENT_TREASURY: PayoutRecipient

class Bounty(_message.Message):
    __slots__ = ("bounty_id", "title", "description", "type", "reward_micros", "reviewer_reward_micros", "reviewers_per_claim", "votes_to_decide", "max_claims", "claims_taken", "required_trust_tier", "deadline", "status", "escrow_micros", "escrow_outstanding_micros", "escrow_transfer_id", "created_by_account_id", "created_at", "updated_at", "cancel_reason", "slots_refunded", "claims_settled", "slot_escrow_micros")
    BOUNTY_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    REWARD_MICROS_FIELD_NUMBER: _ClassVar[int]
    REVIEWER_REWARD_MICROS_FIELD_NUMBER: _ClassVar[int]
    REVIEWERS_PER_CLAIM_FIELD_NUMBER: _ClassVar[int]
    VOTES_TO_DECIDE_FIELD_NUMBER: _ClassVar[int]
    MAX_CLAIMS_FIELD_NUMBER: _ClassVar[int]
    CLAIMS_TAKEN_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_TRUST_TIER_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ESCROW_MICROS_FIELD_NUMBER: _ClassVar[int]
    ESCROW_OUTSTANDING_MICROS_FIELD_NUMBER: _ClassVar[int]
    ESCROW_TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    CANCEL_REASON_FIELD_NUMBER: _ClassVar[int]
    SLOTS_REFUNDED_FIELD_NUMBER: _ClassVar[int]
    CLAIMS_SETTLED_FIELD_NUMBER: _ClassVar[int]
    SLOT_ESCROW_MICROS_FIELD_NUMBER: _ClassVar[int]
    bounty_id: str
    title: str
    description: str
    type: BountyType
    reward_micros: int
    reviewer_reward_micros: int
    reviewers_per_claim: int
    votes_to_decide: int
    max_claims: int
    claims_taken: int
    required_trust_tier: int
    deadline: _timestamp_pb2.Timestamp
    status: BountyStatus
    escrow_micros: int
    escrow_outstanding_micros: int
    escrow_transfer_id: str
    created_by_account_id: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    cancel_reason: str
    slots_refunded: int
    claims_settled: int
    slot_escrow_micros: int
    def __init__(self, bounty_id: _Optional[str] = ..., title: _Optional[str] = ..., description: _Optional[str] = ..., type: _Optional[_Union[BountyType, str]] = ..., reward_micros: _Optional[int] = ..., reviewer_reward_micros: _Optional[int] = ..., reviewers_per_claim: _Optional[int] = ..., votes_to_decide: _Optional[int] = ..., max_claims: _Optional[int] = ..., claims_taken: _Optional[int] = ..., required_trust_tier: _Optional[int] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[_Union[BountyStatus, str]] = ..., escrow_micros: _Optional[int] = ..., escrow_outstanding_micros: _Optional[int] = ..., escrow_transfer_id: _Optional[str] = ..., created_by_account_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cancel_reason: _Optional[str] = ..., slots_refunded: _Optional[int] = ..., claims_settled: _Optional[int] = ..., slot_escrow_micros: _Optional[int] = ...) -> None: ...

class Review(_message.Message):
    __slots__ = ("review_id", "claim_id", "bounty_id", "reviewer_agent_id", "status", "decision", "notes", "assigned_at", "due_at", "submitted_at", "reward_micros")
    REVIEW_ID_FIELD_NUMBER: _ClassVar[int]
    CLAIM_ID_FIELD_NUMBER: _ClassVar[int]
    BOUNTY_ID_FIELD_NUMBER: _ClassVar[int]
    REVIEWER_AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_AT_FIELD_NUMBER: _ClassVar[int]
    DUE_AT_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_AT_FIELD_NUMBER: _ClassVar[int]
    REWARD_MICROS_FIELD_NUMBER: _ClassVar[int]
    review_id: str
    claim_id: str
    bounty_id: str
    reviewer_agent_id: str
    status: ReviewStatus
    decision: ReviewDecision
    notes: str
    assigned_at: _timestamp_pb2.Timestamp
    due_at: _timestamp_pb2.Timestamp
    submitted_at: _timestamp_pb2.Timestamp
    reward_micros: int
    def __init__(self, review_id: _Optional[str] = ..., claim_id: _Optional[str] = ..., bounty_id: _Optional[str] = ..., reviewer_agent_id: _Optional[str] = ..., status: _Optional[_Union[ReviewStatus, str]] = ..., decision: _Optional[_Union[ReviewDecision, str]] = ..., notes: _Optional[str] = ..., assigned_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., due_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., submitted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reward_micros: _Optional[int] = ...) -> None: ...

class Claim(_message.Message):
    __slots__ = ("claim_id", "bounty_id", "agent_id", "owner_account_id", "status", "submission_text", "claimed_at", "submitted_at", "finalized_at", "decision", "approvals", "rejections", "awaiting_reviewers", "reviews", "payout_status")
    CLAIM_ID_FIELD_NUMBER: _ClassVar[int]
    BOUNTY_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SUBMISSION_TEXT_FIELD_NUMBER: _ClassVar[int]
    CLAIMED_AT_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINALIZED_AT_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    APPROVALS_FIELD_NUMBER: _ClassVar[int]
    REJECTIONS_FIELD_NUMBER: _ClassVar[int]
    AWAITING_REVIEWERS_FIELD_NUMBER: _ClassVar[int]
    REVIEWS_FIELD_NUMBER: _ClassVar[int]
    PAYOUT_STATUS_FIELD_NUMBER: _ClassVar[int]
    claim_id: str
    bounty_id: str
    agent_id: str
    owner_account_id: str
    status: ClaimStatus
    submission_text: str
    claimed_at: _timestamp_pb2.Timestamp
    submitted_at: _timestamp_pb2.Timestamp
    finalized_at: _timestamp_pb2.Timestamp
    decision: ReviewDecision
    approvals: int
    rejections: int
    awaiting_reviewers: bool
    reviews: _containers.RepeatedCompositeFieldContainer[Review]
    payout_status: PayoutStatus
    def __init__(self, claim_id: _Optional[str] = ..., bounty_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., owner_account_id: _Optional[str] = ..., status: _Optional[_Union[ClaimStatus, str]] = ..., submission_text: _Optional[str] = ..., claimed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., submitted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finalized_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decision: _Optional[_Union[ReviewDecision, str]] = ..., approvals: _Optional[int] = ..., rejections: _Optional[int] = ..., awaiting_reviewers: _Optional[bool] = ..., reviews: _Optional[_Iterable[_Union[Review, _Mapping]]] = ..., payout_status: _Optional[_Union[PayoutStatus, str]] = ...) -> None: ...

class PendingReview(_message.Message):
    __slots__ = ("review", "bounty_title", "bounty_description", "bounty_type", "submission_text", "submitted_at")
    REVIEW_FIELD_NUMBER: _ClassVar[int]
    BOUNTY_TITLE_FIELD_NUMBER: _ClassVar[int]
    BOUNTY_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    BOUNTY_TYPE_FIELD_NUMBER: _ClassVar[int]
    SUBMISSION_TEXT_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_AT_FIELD_NUMBER: _ClassVar[int]
    review: Review
    bounty_title: str
    bounty_description: str
    bounty_type: BountyType
    submission_text: str
    submitted_at: _timestamp_pb2.Timestamp
    def __init__(self, review: _Optional[_Union[Review, _Mapping]] = ..., bounty_title: _Optional[str] = ..., bounty_description: _Optional[str] = ..., bounty_type: _Optional[_Union[BountyType, str]] = ..., submission_text: _Optional[str] = ..., submitted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AdminPendingReview(_message.Message):
    __slots__ = ("review", "bounty_title", "submitter_agent_id", "waiting_for")
    REVIEW_FIELD_NUMBER: _ClassVar[int]
    BOUNTY_TITLE_FIELD_NUMBER: _ClassVar[int]
    SUBMITTER_AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    WAITING_FOR_FIELD_NUMBER: _ClassVar[int]
    review: Review
    bounty_title: str
    submitter_agent_id: str
    waiting_for: _duration_pb2.Duration
    def __init__(self, review: _Optional[_Union[Review, _Mapping]] = ..., bounty_title: _Optional[str] = ..., submitter_agent_id: _Optional[str] = ..., waiting_for: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class Correlation(_message.Message):
    __slots__ = ("correlation_id", "agent_a_id", "agent_b_id", "reason", "created_by_account_id", "created_at")
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_A_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_B_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    correlation_id: str
    agent_a_id: str
    agent_b_id: str
    reason: str
    created_by_account_id: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, correlation_id: _Optional[str] = ..., agent_a_id: _Optional[str] = ..., agent_b_id: _Optional[str] = ..., reason: _Optional[str] = ..., created_by_account_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PayoutTransfer(_message.Message):
    __slots__ = ("transfer_id", "recipient", "agent_id", "amount_micros", "transfer_code")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MICROS_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_CODE_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    recipient: PayoutRecipient
    agent_id: str
    amount_micros: int
    transfer_code: str
    def __init__(self, transfer_id: _Optional[str] = ..., recipient: _Optional[_Union[PayoutRecipient, str]] = ..., agent_id: _Optional[str] = ..., amount_micros: _Optional[int] = ..., transfer_code: _Optional[str] = ...) -> None: ...

class OutboxEntry(_message.Message):
    __slots__ = ("entry_id", "kind", "bounty_id", "claim_id", "status", "transfers", "attempts", "next_attempt_at", "last_error_reason", "created_at", "delivered_at", "total_micros")
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    BOUNTY_ID_FIELD_NUMBER: _ClassVar[int]
    CLAIM_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TRANSFERS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_ATTEMPT_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_REASON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_AT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_MICROS_FIELD_NUMBER: _ClassVar[int]
    entry_id: str
    kind: OutboxKind
    bounty_id: str
    claim_id: str
    status: OutboxStatus
    transfers: _containers.RepeatedCompositeFieldContainer[PayoutTransfer]
    attempts: int
    next_attempt_at: _timestamp_pb2.Timestamp
    last_error_reason: str
    created_at: _timestamp_pb2.Timestamp
    delivered_at: _timestamp_pb2.Timestamp
    total_micros: int
    def __init__(self, entry_id: _Optional[str] = ..., kind: _Optional[_Union[OutboxKind, str]] = ..., bounty_id: _Optional[str] = ..., claim_id: _Optional[str] = ..., status: _Optional[_Union[OutboxStatus, str]] = ..., transfers: _Optional[_Iterable[_Union[PayoutTransfer, _Mapping]]] = ..., attempts: _Optional[int] = ..., next_attempt_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_error_reason: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., delivered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., total_micros: _Optional[int] = ...) -> None: ...

class RedriveOutcome(_message.Message):
    __slots__ = ("entry_id", "status", "error_reason")
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_REASON_FIELD_NUMBER: _ClassVar[int]
    entry_id: str
    status: OutboxStatus
    error_reason: str
    def __init__(self, entry_id: _Optional[str] = ..., status: _Optional[_Union[OutboxStatus, str]] = ..., error_reason: _Optional[str] = ...) -> None: ...

class CreateBountyRequest(_message.Message):
    __slots__ = ("request_id", "title", "description", "type", "reward_micros", "reviewer_reward_micros", "max_claims", "deadline", "required_trust_tier")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    REWARD_MICROS_FIELD_NUMBER: _ClassVar[int]
    REVIEWER_REWARD_MICROS_FIELD_NUMBER: _ClassVar[int]
    MAX_CLAIMS_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_TRUST_TIER_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    title: str
    description: str
    type: BountyType
    reward_micros: int
    reviewer_reward_micros: int
    max_claims: int
    deadline: _timestamp_pb2.Timestamp
    required_trust_tier: int
    def __init__(self, request_id: _Optional[str] = ..., title: _Optional[str] = ..., description: _Optional[str] = ..., type: _Optional[_Union[BountyType, str]] = ..., reward_micros: _Optional[int] = ..., reviewer_reward_micros: _Optional[int] = ..., max_claims: _Optional[int] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., required_trust_tier: _Optional[int] = ...) -> None: ...

class CreateBountyResponse(_message.Message):
    __slots__ = ("bounty",)
    BOUNTY_FIELD_NUMBER: _ClassVar[int]
    bounty: Bounty
    def __init__(self, bounty: _Optional[_Union[Bounty, _Mapping]] = ...) -> None: ...

class ListBountiesRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "statuses", "type", "claimed_by_me")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    CLAIMED_BY_ME_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    statuses: _containers.RepeatedScalarFieldContainer[BountyStatus]
    type: BountyType
    claimed_by_me: bool
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., statuses: _Optional[_Iterable[_Union[BountyStatus, str]]] = ..., type: _Optional[_Union[BountyType, str]] = ..., claimed_by_me: _Optional[bool] = ...) -> None: ...

class ListBountiesResponse(_message.Message):
    __slots__ = ("bounties", "next_page_token")
    BOUNTIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    bounties: _containers.RepeatedCompositeFieldContainer[Bounty]
    next_page_token: str
    def __init__(self, bounties: _Optional[_Iterable[_Union[Bounty, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetBountyRequest(_message.Message):
    __slots__ = ("bounty_id",)
    BOUNTY_ID_FIELD_NUMBER: _ClassVar[int]
    bounty_id: str
    def __init__(self, bounty_id: _Optional[str] = ...) -> None: ...

class GetBountyResponse(_message.Message):
    __slots__ = ("bounty", "claims")
    BOUNTY_FIELD_NUMBER: _ClassVar[int]
    CLAIMS_FIELD_NUMBER: _ClassVar[int]
    bounty: Bounty
    claims: _containers.RepeatedCompositeFieldContainer[Claim]
    def __init__(self, bounty: _Optional[_Union[Bounty, _Mapping]] = ..., claims: _Optional[_Iterable[_Union[Claim, _Mapping]]] = ...) -> None: ...

class CancelBountyRequest(_message.Message):
    __slots__ = ("request_id", "bounty_id", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    BOUNTY_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    bounty_id: str
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., bounty_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelBountyResponse(_message.Message):
    __slots__ = ("bounty", "refund_entry_id")
    BOUNTY_FIELD_NUMBER: _ClassVar[int]
    REFUND_ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    bounty: Bounty
    refund_entry_id: str
    def __init__(self, bounty: _Optional[_Union[Bounty, _Mapping]] = ..., refund_entry_id: _Optional[str] = ...) -> None: ...

class ClaimBountyRequest(_message.Message):
    __slots__ = ("request_id", "bounty_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    BOUNTY_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    bounty_id: str
    def __init__(self, request_id: _Optional[str] = ..., bounty_id: _Optional[str] = ...) -> None: ...

class ClaimBountyResponse(_message.Message):
    __slots__ = ("claim",)
    CLAIM_FIELD_NUMBER: _ClassVar[int]
    claim: Claim
    def __init__(self, claim: _Optional[_Union[Claim, _Mapping]] = ...) -> None: ...

class SubmitWorkRequest(_message.Message):
    __slots__ = ("request_id", "bounty_id", "submission_text")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    BOUNTY_ID_FIELD_NUMBER: _ClassVar[int]
    SUBMISSION_TEXT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    bounty_id: str
    submission_text: str
    def __init__(self, request_id: _Optional[str] = ..., bounty_id: _Optional[str] = ..., submission_text: _Optional[str] = ...) -> None: ...

class SubmitWorkResponse(_message.Message):
    __slots__ = ("claim",)
    CLAIM_FIELD_NUMBER: _ClassVar[int]
    claim: Claim
    def __init__(self, claim: _Optional[_Union[Claim, _Mapping]] = ...) -> None: ...

class GetClaimRequest(_message.Message):
    __slots__ = ("claim_id",)
    CLAIM_ID_FIELD_NUMBER: _ClassVar[int]
    claim_id: str
    def __init__(self, claim_id: _Optional[str] = ...) -> None: ...

class GetClaimResponse(_message.Message):
    __slots__ = ("claim",)
    CLAIM_FIELD_NUMBER: _ClassVar[int]
    claim: Claim
    def __init__(self, claim: _Optional[_Union[Claim, _Mapping]] = ...) -> None: ...

class ListClaimsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "bounty_id", "statuses", "awaiting_reviewers_only")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    BOUNTY_ID_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    AWAITING_REVIEWERS_ONLY_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    bounty_id: str
    statuses: _containers.RepeatedScalarFieldContainer[ClaimStatus]
    awaiting_reviewers_only: bool
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., bounty_id: _Optional[str] = ..., statuses: _Optional[_Iterable[_Union[ClaimStatus, str]]] = ..., awaiting_reviewers_only: _Optional[bool] = ...) -> None: ...

class ListClaimsResponse(_message.Message):
    __slots__ = ("claims", "next_page_token")
    CLAIMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    claims: _containers.RepeatedCompositeFieldContainer[Claim]
    next_page_token: str
    def __init__(self, claims: _Optional[_Iterable[_Union[Claim, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListPendingReviewsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPendingReviewsResponse(_message.Message):
    __slots__ = ("reviews", "next_page_token")
    REVIEWS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    reviews: _containers.RepeatedCompositeFieldContainer[PendingReview]
    next_page_token: str
    def __init__(self, reviews: _Optional[_Iterable[_Union[PendingReview, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SubmitReviewRequest(_message.Message):
    __slots__ = ("request_id", "review_id", "decision", "notes")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REVIEW_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    review_id: str
    decision: ReviewDecision
    notes: str
    def __init__(self, request_id: _Optional[str] = ..., review_id: _Optional[str] = ..., decision: _Optional[_Union[ReviewDecision, str]] = ..., notes: _Optional[str] = ...) -> None: ...

class SubmitReviewResponse(_message.Message):
    __slots__ = ("review", "claim_status", "finalized")
    REVIEW_FIELD_NUMBER: _ClassVar[int]
    CLAIM_STATUS_FIELD_NUMBER: _ClassVar[int]
    FINALIZED_FIELD_NUMBER: _ClassVar[int]
    review: Review
    claim_status: ClaimStatus
    finalized: bool
    def __init__(self, review: _Optional[_Union[Review, _Mapping]] = ..., claim_status: _Optional[_Union[ClaimStatus, str]] = ..., finalized: _Optional[bool] = ...) -> None: ...

class ListAdminPendingReviewsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "overdue_only")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_ONLY_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    overdue_only: bool
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., overdue_only: _Optional[bool] = ...) -> None: ...

class ListAdminPendingReviewsResponse(_message.Message):
    __slots__ = ("reviews", "next_page_token")
    REVIEWS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    reviews: _containers.RepeatedCompositeFieldContainer[AdminPendingReview]
    next_page_token: str
    def __init__(self, reviews: _Optional[_Iterable[_Union[AdminPendingReview, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CreateCorrelationRequest(_message.Message):
    __slots__ = ("request_id", "agent_a_id", "agent_b_id", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_A_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_B_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    agent_a_id: str
    agent_b_id: str
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., agent_a_id: _Optional[str] = ..., agent_b_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CreateCorrelationResponse(_message.Message):
    __slots__ = ("correlation", "created", "reviews_reassigned")
    CORRELATION_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    REVIEWS_REASSIGNED_FIELD_NUMBER: _ClassVar[int]
    correlation: Correlation
    created: bool
    reviews_reassigned: int
    def __init__(self, correlation: _Optional[_Union[Correlation, _Mapping]] = ..., created: _Optional[bool] = ..., reviews_reassigned: _Optional[int] = ...) -> None: ...

class DeleteCorrelationRequest(_message.Message):
    __slots__ = ("request_id", "correlation_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    correlation_id: str
    def __init__(self, request_id: _Optional[str] = ..., correlation_id: _Optional[str] = ...) -> None: ...

class DeleteCorrelationResponse(_message.Message):
    __slots__ = ("correlation_id", "deleted_at")
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    DELETED_AT_FIELD_NUMBER: _ClassVar[int]
    correlation_id: str
    deleted_at: _timestamp_pb2.Timestamp
    def __init__(self, correlation_id: _Optional[str] = ..., deleted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListCorrelationsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "agent_id")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    agent_id: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., agent_id: _Optional[str] = ...) -> None: ...

class ListCorrelationsResponse(_message.Message):
    __slots__ = ("correlations", "next_page_token")
    CORRELATIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    correlations: _containers.RepeatedCompositeFieldContainer[Correlation]
    next_page_token: str
    def __init__(self, correlations: _Optional[_Iterable[_Union[Correlation, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class FundTreasuryRequest(_message.Message):
    __slots__ = ("request_id", "amount_micros", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MICROS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    amount_micros: int
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., amount_micros: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class FundTreasuryResponse(_message.Message):
    __slots__ = ("transfer_id", "amount_micros", "treasury_balance_micros")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MICROS_FIELD_NUMBER: _ClassVar[int]
    TREASURY_BALANCE_MICROS_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    amount_micros: int
    treasury_balance_micros: int
    def __init__(self, transfer_id: _Optional[str] = ..., amount_micros: _Optional[int] = ..., treasury_balance_micros: _Optional[int] = ...) -> None: ...

class GetTreasuryRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetTreasuryResponse(_message.Message):
    __slots__ = ("treasury_ledger_account_id", "treasury_balance_micros", "escrow_balance_micros", "escrow_outstanding_micros", "undelivered_outbox_entries", "escrow_undelivered_micros", "escrow_unassigned_micros")
    TREASURY_LEDGER_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    TREASURY_BALANCE_MICROS_FIELD_NUMBER: _ClassVar[int]
    ESCROW_BALANCE_MICROS_FIELD_NUMBER: _ClassVar[int]
    ESCROW_OUTSTANDING_MICROS_FIELD_NUMBER: _ClassVar[int]
    UNDELIVERED_OUTBOX_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    ESCROW_UNDELIVERED_MICROS_FIELD_NUMBER: _ClassVar[int]
    ESCROW_UNASSIGNED_MICROS_FIELD_NUMBER: _ClassVar[int]
    treasury_ledger_account_id: str
    treasury_balance_micros: int
    escrow_balance_micros: int
    escrow_outstanding_micros: int
    undelivered_outbox_entries: int
    escrow_undelivered_micros: int
    escrow_unassigned_micros: int
    def __init__(self, treasury_ledger_account_id: _Optional[str] = ..., treasury_balance_micros: _Optional[int] = ..., escrow_balance_micros: _Optional[int] = ..., escrow_outstanding_micros: _Optional[int] = ..., undelivered_outbox_entries: _Optional[int] = ..., escrow_undelivered_micros: _Optional[int] = ..., escrow_unassigned_micros: _Optional[int] = ...) -> None: ...

class ListOutboxRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "statuses", "bounty_id")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    BOUNTY_ID_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    statuses: _containers.RepeatedScalarFieldContainer[OutboxStatus]
    bounty_id: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., statuses: _Optional[_Iterable[_Union[OutboxStatus, str]]] = ..., bounty_id: _Optional[str] = ...) -> None: ...

class ListOutboxResponse(_message.Message):
    __slots__ = ("entries", "next_page_token")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[OutboxEntry]
    next_page_token: str
    def __init__(self, entries: _Optional[_Iterable[_Union[OutboxEntry, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RedriveOutboxRequest(_message.Message):
    __slots__ = ("request_id", "entry_ids", "limit")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ENTRY_IDS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    entry_ids: _containers.RepeatedScalarFieldContainer[str]
    limit: int
    def __init__(self, request_id: _Optional[str] = ..., entry_ids: _Optional[_Iterable[str]] = ..., limit: _Optional[int] = ...) -> None: ...

class RedriveOutboxResponse(_message.Message):
    __slots__ = ("outcomes", "remaining_undelivered")
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    REMAINING_UNDELIVERED_FIELD_NUMBER: _ClassVar[int]
    outcomes: _containers.RepeatedCompositeFieldContainer[RedriveOutcome]
    remaining_undelivered: int
    def __init__(self, outcomes: _Optional[_Iterable[_Union[RedriveOutcome, _Mapping]]] = ..., remaining_undelivered: _Optional[int] = ...) -> None: ...

"""The review service's errors: one class per reason named in review.proto's Errors lines.

::

    TokenMartError (services.common.errors)
    ├── InvalidArgument
    │   ├── FieldInvalid                FIELD_INVALID (metadata "field")
    │   ├── EnumValueUnspecified        ENUM_VALUE_UNSPECIFIED (metadata "field")
    │   ├── PageSizeInvalid             PAGE_SIZE_INVALID
    │   ├── PageTokenInvalid            PAGE_TOKEN_INVALID
    │   ├── TitleInvalid                TITLE_INVALID
    │   ├── DescriptionInvalid          DESCRIPTION_INVALID
    │   ├── RewardNotPositive           REWARD_NOT_POSITIVE
    │   ├── RewardTooLarge              REWARD_TOO_LARGE
    │   ├── ReviewerRewardInvalid       REVIEWER_REWARD_INVALID
    │   ├── MaxClaimsInvalid            MAX_CLAIMS_INVALID
    │   ├── DeadlineInvalid             DEADLINE_INVALID
    │   ├── TrustTierInvalid            TRUST_TIER_INVALID
    │   ├── ReasonRequired              REASON_REQUIRED
    │   ├── ReasonInvalid               REASON_INVALID
    │   ├── SubmissionInvalid           SUBMISSION_INVALID
    │   ├── NotesTooLong                NOTES_TOO_LONG
    │   ├── SameAgent                   SAME_AGENT
    │   ├── AmountMustBePositive        AMOUNT_MUST_BE_POSITIVE
    │   ├── AmountTooLarge              AMOUNT_TOO_LARGE
    │   ├── LimitInvalid                LIMIT_INVALID
    │   └── EntryIdsInvalid             ENTRY_IDS_INVALID
    ├── PermissionDenied
    │   ├── AgentRequired               AGENT_REQUIRED
    │   ├── CreatorConflict             CREATOR_CONFLICT
    │   └── WalletRefused               WALLET_REFUSED (metadata "wallet_reason")
    ├── NotFound
    │   ├── BountyNotFound              BOUNTY_NOT_FOUND
    │   ├── ClaimNotFound               CLAIM_NOT_FOUND
    │   ├── ReviewNotFound              REVIEW_NOT_FOUND
    │   ├── AgentNotFound               AGENT_NOT_FOUND (metadata "agent_id")
    │   ├── CorrelationNotFound         CORRELATION_NOT_FOUND
    │   └── OutboxEntryNotFound         OUTBOX_ENTRY_NOT_FOUND (metadata "entry_id")
    ├── AlreadyExists
    │   └── AlreadyClaimed              ALREADY_CLAIMED (metadata "claim_id")
    ├── FailedPrecondition
    │   ├── TreasuryInsufficient        TREASURY_INSUFFICIENT
    │   ├── BountyNotCancellable        BOUNTY_NOT_CANCELLABLE
    │   ├── BountyNotOpen               BOUNTY_NOT_OPEN
    │   ├── BountyFull                  BOUNTY_FULL
    │   ├── BountyDeadlinePassed        BOUNTY_DEADLINE_PASSED
    │   ├── AgentNotClaimed             AGENT_NOT_CLAIMED
    │   ├── AgentSuspended              AGENT_SUSPENDED
    │   ├── TrustTierTooLow             TRUST_TIER_TOO_LOW (metadata "required_trust_tier")
    │   ├── ClaimNotOpen                CLAIM_NOT_OPEN
    │   ├── ReviewAlreadySubmitted      REVIEW_ALREADY_SUBMITTED
    │   ├── ReviewNotOpen               REVIEW_NOT_OPEN
    │   ├── ReviewDeadlinePassed        REVIEW_DEADLINE_PASSED
    │   └── ReviewerNotEligible         REVIEWER_NOT_ELIGIBLE
    ├── ResourceExhausted
    │   └── ClaimCapReached             CLAIM_CAP_REACHED
    └── Unavailable
        ├── DatabaseUnavailable         DATABASE_UNAVAILABLE
        ├── AuthUnavailable             AUTH_UNAVAILABLE
        └── WalletUnavailable           WALLET_UNAVAILABLE

The access-token errors (ACCESS_TOKEN_MISSING / _INVALID / _EXPIRED, SCOPE_MISSING,
PUBLIC_KEYS_UNAVAILABLE) come from :mod:`services.common.tokens`, REQUEST_ID_INVALID and
REQUEST_ID_CONFLICT from :mod:`services.common.idempotency`, PEER_NOT_ALLOWED from the server
interceptor.

Messages are fixed texts: they never contain a value the caller sent.
"""

from __future__ import annotations

from services.common.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unavailable,
)

# -- INVALID_ARGUMENT ---------------------------------------------------------------------------


class InvalidField(InvalidArgument):
    """An invalid field; the field's name travels in the metadata key ``field``."""

    field: str = ""

    def __init__(self, field: str | None = None, message: str | None = None) -> None:
        name = field or self.field
        super().__init__(message, metadata={"field": name} if name else None)


class FieldInvalid(InvalidField):
    reason = "FIELD_INVALID"
    default_message = "a field has an invalid format"

    def __init__(self, field: str) -> None:
        super().__init__(field, f"{field} has an invalid format")


class EnumValueUnspecified(InvalidField):
    reason = "ENUM_VALUE_UNSPECIFIED"
    default_message = "an enum field is unspecified"

    def __init__(self, field: str) -> None:
        super().__init__(field, f"{field} must not be UNSPECIFIED")


class PageSizeInvalid(InvalidField):
    reason = "PAGE_SIZE_INVALID"
    default_message = "page_size must not be negative"
    field = "page_size"


class PageTokenInvalid(InvalidField):
    reason = "PAGE_TOKEN_INVALID"
    default_message = "page_token does not belong to this list and filter"
    field = "page_token"


class TitleInvalid(InvalidField):
    reason = "TITLE_INVALID"
    default_message = "title must have 1 to 200 characters and no control characters"
    field = "title"


class DescriptionInvalid(InvalidField):
    reason = "DESCRIPTION_INVALID"
    default_message = "description must have at most 20,000 characters"
    field = "description"


class RewardNotPositive(InvalidField):
    reason = "REWARD_NOT_POSITIVE"
    default_message = "reward_micros must be positive"
    field = "reward_micros"


class RewardTooLarge(InvalidField):
    reason = "REWARD_TOO_LARGE"
    default_message = "the bounty's escrow would exceed 10^15 micro-credits"
    field = "reward_micros"


class ReviewerRewardInvalid(InvalidField):
    reason = "REVIEWER_REWARD_INVALID"
    default_message = "reviewer_reward_micros must be between 0 and reward_micros"
    field = "reviewer_reward_micros"


class MaxClaimsInvalid(InvalidField):
    reason = "MAX_CLAIMS_INVALID"
    default_message = "max_claims must be between 0 (one slot) and 100"
    field = "max_claims"


class DeadlineInvalid(InvalidField):
    reason = "DEADLINE_INVALID"
    default_message = "deadline must be between one hour and 365 days away"
    field = "deadline"


class TrustTierInvalid(InvalidField):
    reason = "TRUST_TIER_INVALID"
    default_message = "required_trust_tier must be between 0 and 3"
    field = "required_trust_tier"


class ReasonRequired(InvalidField):
    reason = "REASON_REQUIRED"
    default_message = "a reason of 1 to 500 characters is required"
    field = "reason"


class ReasonInvalid(InvalidField):
    reason = "REASON_INVALID"
    default_message = "reason must have at most 500 characters"
    field = "reason"


class SubmissionInvalid(InvalidField):
    reason = "SUBMISSION_INVALID"
    default_message = "submission_text must have 1 to 50,000 characters"
    field = "submission_text"


class NotesTooLong(InvalidField):
    reason = "NOTES_TOO_LONG"
    default_message = "notes must have at most 5,000 characters"
    field = "notes"


class SameAgent(InvalidField):
    reason = "SAME_AGENT"
    default_message = "an agent cannot be correlated with itself"
    field = "agent_b_id"


class AmountMustBePositive(InvalidField):
    reason = "AMOUNT_MUST_BE_POSITIVE"
    default_message = "amount_micros must be positive"
    field = "amount_micros"


class AmountTooLarge(InvalidField):
    reason = "AMOUNT_TOO_LARGE"
    default_message = "amount_micros exceeds the largest amount that may be minted at once"
    field = "amount_micros"


class LimitInvalid(InvalidField):
    reason = "LIMIT_INVALID"
    default_message = "limit must not be negative"
    field = "limit"


class EntryIdsInvalid(InvalidField):
    reason = "ENTRY_IDS_INVALID"
    default_message = "entry_ids must be at most 1,000 UUIDs"
    field = "entry_ids"


# -- PERMISSION_DENIED --------------------------------------------------------------------------


class AgentRequired(PermissionDenied):
    reason = "AGENT_REQUIRED"
    default_message = "this call acts as an agent: use an agent key or a session with X-Agent-Id"


class CreatorConflict(PermissionDenied):
    reason = "CREATOR_CONFLICT"
    default_message = "agents of the bounty creator's account cannot claim its bounties"


class WalletRefused(PermissionDenied):
    reason = "WALLET_REFUSED"
    default_message = "wallet refused the credentials of this request"

    def __init__(self, wallet_reason: str) -> None:
        super().__init__(metadata={"wallet_reason": wallet_reason})


# -- NOT_FOUND ----------------------------------------------------------------------------------


class BountyNotFound(NotFound):
    reason = "BOUNTY_NOT_FOUND"
    default_message = "no such bounty"


class ClaimNotFound(NotFound):
    reason = "CLAIM_NOT_FOUND"
    default_message = "no such claim"


class ReviewNotFound(NotFound):
    reason = "REVIEW_NOT_FOUND"
    default_message = "no such review is assigned to this agent"


class AgentNotFound(NotFound):
    reason = "AGENT_NOT_FOUND"
    default_message = "no such agent"

    def __init__(self, agent_id: str) -> None:
        super().__init__(metadata={"agent_id": agent_id})


class CorrelationNotFound(NotFound):
    reason = "CORRELATION_NOT_FOUND"
    default_message = "no such correlation flag"


class OutboxEntryNotFound(NotFound):
    reason = "OUTBOX_ENTRY_NOT_FOUND"
    default_message = "no such outbox entry"

    def __init__(self, entry_id: str) -> None:
        super().__init__(metadata={"entry_id": entry_id})


# -- ALREADY_EXISTS -----------------------------------------------------------------------------


class AlreadyClaimed(AlreadyExists):
    reason = "ALREADY_CLAIMED"
    default_message = "this agent already claimed this bounty"

    def __init__(self, claim_id: str) -> None:
        super().__init__(metadata={"claim_id": claim_id})


# -- FAILED_PRECONDITION ------------------------------------------------------------------------


class TreasuryInsufficient(FailedPrecondition):
    reason = "TREASURY_INSUFFICIENT"
    default_message = "the treasury cannot fund this bounty's escrow; fund the treasury first"


class BountyNotCancellable(FailedPrecondition):
    reason = "BOUNTY_NOT_CANCELLABLE"
    default_message = "a completed bounty cannot be cancelled"


class BountyNotOpen(FailedPrecondition):
    reason = "BOUNTY_NOT_OPEN"
    default_message = "the bounty is not open for claims"


class BountyFull(FailedPrecondition):
    reason = "BOUNTY_FULL"
    default_message = "every slot of the bounty is taken"


class BountyDeadlinePassed(FailedPrecondition):
    reason = "BOUNTY_DEADLINE_PASSED"
    default_message = "the bounty's deadline has passed"


class AgentNotClaimed(FailedPrecondition):
    reason = "AGENT_NOT_CLAIMED"
    default_message = "an unclaimed agent cannot take part in bounties; claim it first"


class AgentSuspended(FailedPrecondition):
    reason = "AGENT_SUSPENDED"
    default_message = "the agent is suspended"


class TrustTierTooLow(FailedPrecondition):
    reason = "TRUST_TIER_TOO_LOW"
    default_message = "the agent's trust tier is below the bounty's requirement"

    def __init__(self, required_trust_tier: int) -> None:
        super().__init__(metadata={"required_trust_tier": str(required_trust_tier)})


class ClaimNotOpen(FailedPrecondition):
    reason = "CLAIM_NOT_OPEN"
    default_message = "the claim is no longer open for submission"


class ReviewAlreadySubmitted(FailedPrecondition):
    reason = "REVIEW_ALREADY_SUBMITTED"
    default_message = "this review was already submitted"


class ReviewNotOpen(FailedPrecondition):
    reason = "REVIEW_NOT_OPEN"
    default_message = "this review is no longer open (withdrawn, replaced or already decided)"


class ReviewDeadlinePassed(FailedPrecondition):
    reason = "REVIEW_DEADLINE_PASSED"
    default_message = "this review is past due and will be reassigned"


class ReviewerNotEligible(FailedPrecondition):
    reason = "REVIEWER_NOT_ELIGIBLE"
    default_message = "the reviewer is no longer eligible; the review was withdrawn and reassigned"


# -- RESOURCE_EXHAUSTED -------------------------------------------------------------------------


class ClaimCapReached(ResourceExhausted):
    reason = "CLAIM_CAP_REACHED"
    default_message = "the agent holds the maximum number of unsubmitted claims"


# -- UNAVAILABLE --------------------------------------------------------------------------------


class DatabaseUnavailable(Unavailable):
    reason = "DATABASE_UNAVAILABLE"
    default_message = "the database is unavailable; retry with the same request_id"


class AuthUnavailable(Unavailable):
    reason = "AUTH_UNAVAILABLE"
    default_message = "the auth service cannot be reached; retry with the same request_id"


class WalletUnavailable(Unavailable):
    reason = "WALLET_UNAVAILABLE"
    default_message = "the wallet service cannot be reached; retry with the same request_id"

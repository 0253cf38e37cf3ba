"""Input rules of review.proto, as pure checks that name the reason a violation answers with.

Each check returns the normalised value or raises :class:`Invalid` carrying the UPPER_SNAKE reason
of the proto's Errors line and the offending field; the API layer turns it into the matching
INVALID_ARGUMENT error. Values are never echoed in a message.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
import uuid
from dataclasses import dataclass

from services.review.domain.model import (
    MAX_CLAIMS_MAX,
    MICROS_MAX,
    TRUST_TIER_MAX,
    BountyType,
    slot_escrow,
)

TITLE_MAX_CHARS = 200
DESCRIPTION_MAX_CHARS = 20_000
REASON_MAX_CHARS = 500
SUBMISSION_MAX_CHARS = 50_000
NOTES_MAX_CHARS = 5_000
DEADLINE_MIN = datetime.timedelta(hours=1)
DEADLINE_MAX = datetime.timedelta(days=365)
BASIS_POINTS = 10_000
_CANONICAL_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class Invalid(ValueError):
    """A field breaks its rule; ``reason`` is the proto's UPPER_SNAKE reason."""

    def __init__(self, reason: str, field: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.reason = reason
        self.field = field


def _has_control_characters(text: str, *, allow_newlines: bool) -> bool:
    allowed = {"\n", "\r", "\t"} if allow_newlines else set()
    return any(
        unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") and char not in allowed
        for char in text
    )


def uuid_field(raw: str, *, field: str) -> uuid.UUID:
    """A canonical lowercase UUID (the only spelling ids have on the wire)."""
    if not _CANONICAL_UUID.match(raw):
        raise Invalid("FIELD_INVALID", field)
    return uuid.UUID(raw)


def optional_uuid_field(raw: str, *, field: str) -> uuid.UUID | None:
    return uuid_field(raw, field=field) if raw else None


def title(raw: str) -> str:
    if (
        not raw.strip()
        or len(raw) > TITLE_MAX_CHARS
        or _has_control_characters(raw, allow_newlines=False)
    ):
        raise Invalid("TITLE_INVALID", "title")
    return raw


def description(raw: str) -> str:
    if len(raw) > DESCRIPTION_MAX_CHARS or _has_control_characters(raw, allow_newlines=True):
        raise Invalid("DESCRIPTION_INVALID", "description")
    return raw


def required_reason(raw: str) -> str:
    if not raw.strip() or len(raw) > REASON_MAX_CHARS:
        raise Invalid("REASON_REQUIRED", "reason")
    return raw


def optional_reason(raw: str) -> str:
    if len(raw) > REASON_MAX_CHARS:
        raise Invalid("REASON_INVALID", "reason")
    return raw


def submission(raw: str) -> str:
    if not raw.strip() or len(raw) > SUBMISSION_MAX_CHARS:
        raise Invalid("SUBMISSION_INVALID", "submission_text")
    return raw


def notes(raw: str) -> str:
    if len(raw) > NOTES_MAX_CHARS:
        raise Invalid("NOTES_TOO_LONG", "notes")
    return raw


def mint_amount(amount_micros: int) -> int:
    if amount_micros <= 0:
        raise Invalid("AMOUNT_MUST_BE_POSITIVE", "amount_micros")
    if amount_micros > MICROS_MAX:
        raise Invalid("AMOUNT_TOO_LARGE", "amount_micros")
    return amount_micros


@dataclass(frozen=True)
class BountyTerms:
    """A bounty's validated terms, with the defaults of the configuration applied."""

    title: str
    description: str
    type: BountyType
    reward_micros: int
    reviewer_reward_micros: int
    reviewers_per_claim: int
    votes_to_decide: int
    max_claims: int
    required_trust_tier: int
    deadline: datetime.datetime

    @property
    def slot_escrow_micros(self) -> int:
        return slot_escrow(
            reward_micros=self.reward_micros,
            reviewer_reward_micros=self.reviewer_reward_micros,
            reviewers_per_claim=self.reviewers_per_claim,
        )

    @property
    def escrow_micros(self) -> int:
        return self.max_claims * self.slot_escrow_micros


def bounty_terms(
    *,
    title_text: str,
    description_text: str,
    bounty_type: BountyType,
    reward_micros: int,
    reviewer_reward_micros: int | None,
    max_claims: int,
    deadline: datetime.datetime | None,
    required_trust_tier: int | None,
    now: datetime.datetime,
    reviewers_per_claim: int,
    votes_to_decide: int,
    reviewer_reward_bps: int,
    default_deadline: datetime.timedelta,
) -> BountyTerms:
    """Check a CreateBounty request and fill in what it leaves to the configuration."""
    checked_title = title(title_text)
    checked_description = description(description_text)
    if reward_micros <= 0:
        raise Invalid("REWARD_NOT_POSITIVE", "reward_micros")
    if reward_micros > MICROS_MAX:
        raise Invalid("REWARD_TOO_LARGE", "reward_micros")
    if reviewer_reward_micros is None:
        reviewer_reward = reward_micros * reviewer_reward_bps // BASIS_POINTS
    elif not 0 <= reviewer_reward_micros <= reward_micros:
        raise Invalid("REVIEWER_REWARD_INVALID", "reviewer_reward_micros")
    else:
        reviewer_reward = reviewer_reward_micros
    if not 0 <= max_claims <= MAX_CLAIMS_MAX:
        raise Invalid("MAX_CLAIMS_INVALID", "max_claims")
    slots = max_claims or 1
    chosen_deadline = deadline if deadline is not None else now + default_deadline
    if not DEADLINE_MIN <= chosen_deadline - now <= DEADLINE_MAX:
        raise Invalid("DEADLINE_INVALID", "deadline")
    if required_trust_tier is None:
        tier = 1 if bounty_type is BountyType.WORK else 0
    elif not 0 <= required_trust_tier <= TRUST_TIER_MAX:
        raise Invalid("TRUST_TIER_INVALID", "required_trust_tier")
    else:
        tier = required_trust_tier
    terms = BountyTerms(
        title=checked_title,
        description=checked_description,
        type=bounty_type,
        reward_micros=reward_micros,
        reviewer_reward_micros=reviewer_reward,
        reviewers_per_claim=reviewers_per_claim,
        votes_to_decide=votes_to_decide,
        max_claims=slots,
        required_trust_tier=tier,
        deadline=chosen_deadline,
    )
    if terms.escrow_micros > MICROS_MAX:
        raise Invalid("REWARD_TOO_LARGE", "reward_micros")
    return terms

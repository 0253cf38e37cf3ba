"""Protobuf <-> domain: enums, messages and times, for :mod:`services.review.api`.

Requests carrying an UNSPECIFIED enum where a value is required are refused with
ENUM_VALUE_UNSPECIFIED; an enum number this server does not know is FIELD_INVALID. What a caller
may see is decided here, per message: reviewer identities only for admins, ctl and the reviewer
itself; the bounty creator only for admins and ctl.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from google.protobuf import timestamp_pb2
from tokenmart.review.v1 import review_pb2

from services.review import errors
from services.review.domain import model
from services.review.operations.bounties import ClaimView

D = TypeVar("D")

BOUNTY_TYPES: Mapping[model.BountyType, review_pb2.BountyType] = {
    model.BountyType.WORK: review_pb2.BOUNTY_TYPE_WORK,
    model.BountyType.VERIFICATION: review_pb2.BOUNTY_TYPE_VERIFICATION,
}
BOUNTY_STATUSES: Mapping[model.BountyStatus, review_pb2.BountyStatus] = {
    model.BountyStatus.OPEN: review_pb2.BOUNTY_STATUS_OPEN,
    model.BountyStatus.FILLED: review_pb2.BOUNTY_STATUS_FILLED,
    model.BountyStatus.CLOSED: review_pb2.BOUNTY_STATUS_CLOSED,
    model.BountyStatus.COMPLETED: review_pb2.BOUNTY_STATUS_COMPLETED,
    model.BountyStatus.CANCELLED: review_pb2.BOUNTY_STATUS_CANCELLED,
}
CLAIM_STATUSES: Mapping[model.ClaimStatus, review_pb2.ClaimStatus] = {
    model.ClaimStatus.CLAIMED: review_pb2.CLAIM_STATUS_CLAIMED,
    model.ClaimStatus.SUBMITTED: review_pb2.CLAIM_STATUS_SUBMITTED,
    model.ClaimStatus.APPROVED: review_pb2.CLAIM_STATUS_APPROVED,
    model.ClaimStatus.REJECTED: review_pb2.CLAIM_STATUS_REJECTED,
    model.ClaimStatus.EXPIRED: review_pb2.CLAIM_STATUS_EXPIRED,
    model.ClaimStatus.CANCELLED: review_pb2.CLAIM_STATUS_CANCELLED,
}
REVIEW_STATUSES: Mapping[model.ReviewStatus, review_pb2.ReviewStatus] = {
    model.ReviewStatus.ASSIGNED: review_pb2.REVIEW_STATUS_ASSIGNED,
    model.ReviewStatus.SUBMITTED: review_pb2.REVIEW_STATUS_SUBMITTED,
    model.ReviewStatus.REPLACED: review_pb2.REVIEW_STATUS_REPLACED,
    model.ReviewStatus.WITHDRAWN: review_pb2.REVIEW_STATUS_WITHDRAWN,
}
DECISIONS: Mapping[model.Decision, review_pb2.ReviewDecision] = {
    model.Decision.APPROVE: review_pb2.REVIEW_DECISION_APPROVE,
    model.Decision.REJECT: review_pb2.REVIEW_DECISION_REJECT,
}
OUTBOX_KINDS: Mapping[model.OutboxKind, review_pb2.OutboxKind] = {
    model.OutboxKind.CLAIM_PAYOUT: review_pb2.OUTBOX_KIND_CLAIM_PAYOUT,
    model.OutboxKind.SLOT_REFUND: review_pb2.OUTBOX_KIND_SLOT_REFUND,
}
OUTBOX_STATUSES: Mapping[model.OutboxStatus, review_pb2.OutboxStatus] = {
    model.OutboxStatus.PENDING: review_pb2.OUTBOX_STATUS_PENDING,
    model.OutboxStatus.DELIVERED: review_pb2.OUTBOX_STATUS_DELIVERED,
    model.OutboxStatus.STUCK: review_pb2.OUTBOX_STATUS_STUCK,
}
RECIPIENTS: Mapping[model.Recipient, review_pb2.PayoutRecipient] = {
    model.Recipient.AGENT: review_pb2.PAYOUT_RECIPIENT_AGENT,
    model.Recipient.TREASURY: review_pb2.PAYOUT_RECIPIENT_TREASURY,
}
PAYOUT_STATUSES: Mapping[model.OutboxStatus | None, review_pb2.PayoutStatus] = {
    None: review_pb2.PAYOUT_STATUS_NOT_DUE,
    model.OutboxStatus.PENDING: review_pb2.PAYOUT_STATUS_PENDING,
    model.OutboxStatus.STUCK: review_pb2.PAYOUT_STATUS_PENDING,
    model.OutboxStatus.DELIVERED: review_pb2.PAYOUT_STATUS_PAID,
}


def from_wire(value: int, mapping: Mapping[D, Any], *, field: str) -> D:
    """The domain value of a required enum field."""
    if value == 0:
        raise errors.EnumValueUnspecified(field)
    for domain_value, wire_value in mapping.items():
        if wire_value == value:
            return domain_value
    raise errors.FieldInvalid(field)


def optional_from_wire(value: int, mapping: Mapping[D, Any], *, field: str) -> D | None:
    """The domain value of an enum filter where UNSPECIFIED means "any"."""
    return None if value == 0 else from_wire(value, mapping, field=field)


def set_from_wire(values: Iterable[int], mapping: Mapping[D, Any], *, field: str) -> frozenset[D]:
    return frozenset(from_wire(value, mapping, field=field) for value in values)


def timestamp(value: datetime.datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value.astimezone(datetime.UTC))
    return stamp


def optional_time(message: Any, field: str) -> datetime.datetime | None:
    if not message.HasField(field):
        return None
    stamp: timestamp_pb2.Timestamp = getattr(message, field)
    return stamp.ToDatetime(tzinfo=datetime.UTC)


def _set_time(message: Any, field: str, value: datetime.datetime | None) -> None:
    if value is not None:
        getattr(message, field).CopyFrom(timestamp(value))


def bounty(item: model.Bounty, *, show_creator: bool) -> review_pb2.Bounty:
    message = review_pb2.Bounty(
        bounty_id=str(item.id),
        title=item.title,
        description=item.description,
        type=BOUNTY_TYPES[item.type],
        reward_micros=item.reward_micros,
        reviewer_reward_micros=item.reviewer_reward_micros,
        reviewers_per_claim=item.reviewers_per_claim,
        votes_to_decide=item.votes_to_decide,
        max_claims=item.max_claims,
        claims_taken=item.claims_taken,
        required_trust_tier=item.required_trust_tier,
        deadline=timestamp(item.deadline),
        status=BOUNTY_STATUSES[item.status],
        escrow_micros=item.escrow_micros,
        escrow_outstanding_micros=item.escrow_outstanding_micros,
        escrow_transfer_id=str(item.escrow_transfer_id),
        created_by_account_id=str(item.created_by_account_id) if show_creator else "",
        created_at=timestamp(item.created_at),
        updated_at=timestamp(item.updated_at),
        cancel_reason=item.cancel_reason or "",
        slots_refunded=item.slots_refunded,
        claims_settled=item.claims_settled,
        slot_escrow_micros=item.slot_escrow_micros,
    )
    return message


def review(item: model.Review, *, show_reviewer: bool) -> review_pb2.Review:
    message = review_pb2.Review(
        review_id=str(item.id),
        claim_id=str(item.claim_id),
        bounty_id=str(item.bounty_id),
        reviewer_agent_id=str(item.reviewer_agent_id) if show_reviewer else "",
        status=REVIEW_STATUSES[item.status],
        decision=DECISIONS[item.decision]
        if item.decision
        else review_pb2.REVIEW_DECISION_UNSPECIFIED,
        notes=item.notes or "",
        assigned_at=timestamp(item.assigned_at),
        due_at=timestamp(item.due_at),
        reward_micros=item.reward_micros,
    )
    _set_time(message, "submitted_at", item.submitted_at)
    return message


def claim(view: ClaimView, *, show_reviewers: bool) -> review_pb2.Claim:
    item = view.claim
    message = review_pb2.Claim(
        claim_id=str(item.id),
        bounty_id=str(item.bounty_id),
        agent_id=str(item.agent_id),
        owner_account_id=str(item.owner_account_id),
        status=CLAIM_STATUSES[item.status],
        submission_text=item.submission_text or "",
        claimed_at=timestamp(item.claimed_at),
        decision=DECISIONS[item.decision]
        if item.decision
        else review_pb2.REVIEW_DECISION_UNSPECIFIED,
        approvals=item.approvals,
        rejections=item.rejections,
        awaiting_reviewers=item.awaiting_reviewers,
        reviews=[review(entry, show_reviewer=show_reviewers) for entry in view.reviews],
        payout_status=PAYOUT_STATUSES[view.payout],
    )
    _set_time(message, "submitted_at", item.submitted_at)
    _set_time(message, "finalized_at", item.finalized_at)
    return message


def correlation(item: model.Correlation) -> review_pb2.Correlation:
    return review_pb2.Correlation(
        correlation_id=str(item.id),
        agent_a_id=str(item.agent_a_id),
        agent_b_id=str(item.agent_b_id),
        reason=item.reason,
        created_by_account_id=str(item.created_by_account_id),
        created_at=timestamp(item.created_at),
    )


def outbox_entry(item: model.OutboxEntry) -> review_pb2.OutboxEntry:
    message = review_pb2.OutboxEntry(
        entry_id=str(item.id),
        kind=OUTBOX_KINDS[item.kind],
        bounty_id=str(item.bounty_id),
        claim_id=str(item.claim_id or ""),
        status=OUTBOX_STATUSES[item.status],
        transfers=[
            review_pb2.PayoutTransfer(
                transfer_id=str(transfer.transfer_id),
                recipient=RECIPIENTS[transfer.recipient],
                agent_id=str(transfer.agent_id or ""),
                amount_micros=transfer.amount_micros,
                transfer_code=transfer.code.value.upper(),
            )
            for transfer in item.transfers
        ],
        attempts=item.attempts,
        last_error_reason=item.last_error_reason or "",
        created_at=timestamp(item.created_at),
        total_micros=item.total_micros,
    )
    if item.status is not model.OutboxStatus.DELIVERED:
        _set_time(message, "next_attempt_at", item.next_attempt_at)
    _set_time(message, "delivered_at", item.delivered_at)
    return message

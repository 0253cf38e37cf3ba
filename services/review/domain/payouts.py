"""What a decided claim or an unused slot pays, and the ids that make paying it idempotent.

Every wallet transfer id is derived, never drawn: the escrow funding from the bounty, a claim's
payout transfers from the claim and their role (UUIDv5 with the claim id as namespace), a slot
refund from the bounty. So a batch re-sent after a crash or a lost answer carries the same ids,
and wallet, for which a transfer id is the idempotency key forever, applies it once.

A claim's batch spends exactly its slot's escrow: the reward (to the submitter on approve, back
to the treasury on reject), one reviewer reward per reviewer who voted, and the shares of the
reviewers who did not vote back to the treasury. Zero amounts are left out (wallet refuses them).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from services.review.domain.model import (
    Decision,
    PayoutTransfer,
    Recipient,
    TransferCode,
)

_IDS = uuid.UUID("6f1c5e9a-2b7d-4c3e-8a41-5d9e0b7f3c21")
"""Namespace of the ids review derives from a caller and a request id."""


def bounty_id_for(*, account_id: str, request_id: str) -> uuid.UUID:
    """A bounty's id: one admin's one request creates one bounty, however often it is retried."""
    return uuid.uuid5(_IDS, f"bounty|{account_id}|{request_id}")


def escrow_transfer_id(bounty_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(bounty_id, "escrow")


def claim_id_for(*, bounty_id: uuid.UUID, agent_id: uuid.UUID) -> uuid.UUID:
    """One claim per agent per bounty, so its id can be derived from the pair."""
    return uuid.uuid5(bounty_id, f"claim|{agent_id}")


def treasury_mint_id(*, subject: str, request_id: str) -> uuid.UUID:
    return uuid.uuid5(_IDS, f"treasury|{subject}|{request_id}")


def payout_entry_id(claim_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(claim_id, "payout")


def slot_refund_entry_id(bounty_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(bounty_id, "slot-refund")


@dataclass(frozen=True)
class Voter:
    """A reviewer who voted on the claim being paid."""

    review_id: uuid.UUID
    agent_id: uuid.UUID


def claim_payout(
    *,
    claim_id: uuid.UUID,
    submitter_agent_id: uuid.UUID,
    decision: Decision,
    reward_micros: int,
    reviewer_reward_micros: int,
    reviewers_per_claim: int,
    voters: Sequence[Voter],
) -> tuple[PayoutTransfer, ...]:
    """The linked batch that settles a decided claim's slot."""
    assert 0 < len(voters) <= reviewers_per_claim
    assert len({voter.agent_id for voter in voters}) == len(voters)
    assert submitter_agent_id not in {voter.agent_id for voter in voters}
    planned: list[tuple[str, Recipient, uuid.UUID | None, int, TransferCode]] = []
    if decision is Decision.APPROVE:
        planned.append(
            (
                "bounty-reward",
                Recipient.AGENT,
                submitter_agent_id,
                reward_micros,
                TransferCode.BOUNTY_REWARD,
            )
        )
    else:
        planned.append(
            ("reward-refund", Recipient.TREASURY, None, reward_micros, TransferCode.REFUND)
        )
    for voter in sorted(voters, key=lambda item: item.review_id):
        planned.append(
            (
                f"review-reward|{voter.review_id}",
                Recipient.AGENT,
                voter.agent_id,
                reviewer_reward_micros,
                TransferCode.REVIEW_REWARD,
            )
        )
    unused = (reviewers_per_claim - len(voters)) * reviewer_reward_micros
    planned.append(("unused-review-shares", Recipient.TREASURY, None, unused, TransferCode.REFUND))
    transfers = _number(claim_id, planned)
    assert sum(item.amount_micros for item in transfers) == (
        reward_micros + reviewers_per_claim * reviewer_reward_micros
    )
    return transfers


def slot_refund(
    *, bounty_id: uuid.UUID, slots: int, slot_escrow_micros: int
) -> tuple[PayoutTransfer, ...]:
    """The transfer that returns ``slots`` unused slots' escrow to the treasury."""
    assert slots > 0
    return _number(
        bounty_id,
        [
            (
                "slot-refund",
                Recipient.TREASURY,
                None,
                slots * slot_escrow_micros,
                TransferCode.REFUND,
            )
        ],
    )


def _number(
    namespace: uuid.UUID,
    planned: Sequence[tuple[str, Recipient, uuid.UUID | None, int, TransferCode]],
) -> tuple[PayoutTransfer, ...]:
    kept = [item for item in planned if item[3] > 0]
    return tuple(
        PayoutTransfer(
            transfer_id=uuid.uuid5(namespace, role),
            position=position,
            recipient=recipient,
            agent_id=agent_id,
            amount_micros=amount,
            code=code,
        )
        for position, (role, recipient, agent_id, amount, code) in enumerate(kept)
    )

"""Bounties: CreateBounty (funded in escrow first), ListBounties, GetBounty, CancelBounty, and
closing bounties whose deadline passed.

Creating a bounty moves its whole escrow (every slot's reward and reviewer rewards) from the
treasury into escrow through wallet, with the admin's own token and a transfer id derived from
the bounty id, which is derived from the admin and the request id. Only when wallet answers OK
(or EXISTS, for a retry) is the bounty written; a treasury that cannot cover it refuses with
TREASURY_INSUFFICIENT and nothing is kept anywhere.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from tokenmart.wallet.v1 import wallet_pb2

from services.common.errors import RequestIdConflict
from services.common.tokens import Scope
from services.review import errors
from services.review.domain import payouts, validation
from services.review.domain.model import (
    BOARD_STATUSES,
    Bounty,
    BountyStatus,
    BountyType,
    Claim,
    ClaimStatus,
    OutboxEntry,
    OutboxKind,
    OutboxStatus,
    Review,
)
from services.review.domain.validation import BountyTerms
from services.review.operations import access
from services.review.operations.common import (
    checked,
    decode_position,
    next_page_token,
    page_size,
)
from services.review.operations.runtime import Caller, Runtime
from services.review.store import bounties as store
from services.review.store import claims as claim_store
from services.review.store import outbox as outbox_store

ESCROW_MEMO = "bounty escrow"


@dataclass(frozen=True)
class ClaimView:
    claim: Claim
    reviews: list[Review]
    payout: OutboxStatus | None


@dataclass(frozen=True)
class BountyView:
    bounty: Bounty
    claims: list[ClaimView]


async def claim_views(tx: AsyncSession, claims: list[Claim]) -> list[ClaimView]:
    ids = [claim.id for claim in claims]
    reviews = await claim_store.reviews_of(tx, ids)
    payouts_by_claim = await outbox_store.payout_statuses(tx, ids)
    return [
        ClaimView(claim=claim, reviews=reviews[claim.id], payout=payouts_by_claim.get(claim.id))
        for claim in claims
    ]


# -- creation -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateBountyCommand:
    title: str
    description: str
    type: BountyType
    reward_micros: int
    reviewer_reward_micros: int | None
    max_claims: int
    deadline: datetime.datetime | None
    required_trust_tier: int | None


def terms_of(runtime: Runtime, command: CreateBountyCommand) -> BountyTerms:
    settings = runtime.settings
    return checked(
        lambda: validation.bounty_terms(
            title_text=command.title,
            description_text=command.description,
            bounty_type=command.type,
            reward_micros=command.reward_micros,
            reviewer_reward_micros=command.reviewer_reward_micros,
            max_claims=command.max_claims,
            deadline=command.deadline,
            required_trust_tier=command.required_trust_tier,
            now=runtime.now(),
            reviewers_per_claim=settings.quorum.reviewers_per_claim,
            votes_to_decide=settings.quorum.votes_to_decide,
            reviewer_reward_bps=settings.bounties.reviewer_reward_bps,
            default_deadline=datetime.timedelta(seconds=settings.bounties.default_deadline_s),
        )
    )


async def fund_escrow(
    runtime: Runtime, caller: Caller, *, bounty_id: uuid.UUID, terms: BountyTerms
) -> None:
    """Move the bounty's escrow from the treasury, with the admin's token; before any row."""
    outcomes = await runtime.wallet.escrow_transfers(
        [
            wallet_pb2.TransferInput(
                transfer_id=str(payouts.escrow_transfer_id(bounty_id)),
                debit=wallet_pb2.AccountRef(system_account=wallet_pb2.ACCOUNT_KIND_TREASURY),
                credit=wallet_pb2.AccountRef(system_account=wallet_pb2.ACCOUNT_KIND_BOUNTY_ESCROW),
                amount_micros=terms.escrow_micros,
                code=wallet_pb2.TRANSFER_CODE_BOUNTY_ESCROW,
                reference=str(bounty_id),
                memo=ESCROW_MEMO,
            )
        ],
        metadata=caller.principal.authorization_metadata(),
    )
    assert len(outcomes) == 1
    result = outcomes[0].result
    if result in ("OK", "EXISTS"):
        return
    if result == "INSUFFICIENT_FUNDS":
        raise errors.TreasuryInsufficient()
    if result.startswith("EXISTS_"):
        # The derived id already funded a bounty with other terms: the request id was reused.
        raise RequestIdConflict()
    raise RuntimeError(f"wallet refused the escrow transfer: {result}")


async def record_bounty(
    tx: AsyncSession,
    runtime: Runtime,
    *,
    bounty_id: uuid.UUID,
    terms: BountyTerms,
    created_by_account_id: uuid.UUID,
) -> Bounty:
    """Write the funded bounty (the escrow transfer has been confirmed by wallet)."""
    return await store.insert_bounty(
        tx,
        bounty_id=bounty_id,
        terms=terms,
        escrow_transfer_id=payouts.escrow_transfer_id(bounty_id),
        created_by_account_id=created_by_account_id,
        now=runtime.now(),
    )


# -- reads --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BountyPage:
    bounties: list[Bounty]
    next_page_token: str


async def list_bounties(
    tx: AsyncSession,
    runtime: Runtime,
    caller: Caller,
    *,
    requested_page_size: int,
    page_token: str,
    statuses: frozenset[BountyStatus],
    bounty_type: BountyType | None,
    claimed_by_me: bool,
) -> BountyPage:
    agent_id = access.reader(caller)
    if claimed_by_me and agent_id is None:
        agent_id = access.require_agent(caller, Scope.AGENT_READ)
    size = page_size(requested_page_size)
    where = store.BountyFilter(
        statuses=statuses, type=bounty_type, agent_id=agent_id, claimed_by_agent=claimed_by_me
    )
    filters = {
        "statuses": sorted(status.value for status in statuses),
        "type": bounty_type.value if bounty_type else "",
        "agent": str(agent_id or ""),
        "mine": claimed_by_me,
    }
    after = decode_position(page_token, list_name="bounties", filters=filters)
    rows = await store.list_bounties(
        tx, where=where, board=BOARD_STATUSES, after=after, limit=size + 1
    )
    return BountyPage(
        bounties=rows[:size],
        next_page_token=next_page_token(
            rows,
            page_size=size,
            list_name="bounties",
            filters=filters,
            position=lambda bounty: (bounty.created_at, bounty.id),
        ),
    )


async def get_bounty(
    tx: AsyncSession, runtime: Runtime, caller: Caller, *, bounty_id: uuid.UUID
) -> BountyView:
    agent_id = access.reader(caller)
    bounty = await store.bounty_by_id(tx, bounty_id)
    if bounty is None:
        raise errors.BountyNotFound()
    if agent_id is None:
        claims = await claim_store.list_claims(
            tx,
            where=claim_store.ClaimFilter(bounty_id=bounty_id),
            after=None,
            limit=bounty.max_claims,
        )
        return BountyView(bounty=bounty, claims=await claim_views(tx, claims))
    own = await claim_store.claim_of(tx, bounty_id=bounty_id, agent_id=agent_id)
    if own is None and bounty.status not in BOARD_STATUSES:
        raise errors.BountyNotFound()
    return BountyView(bounty=bounty, claims=await claim_views(tx, [own] if own else []))


# -- cancellation and closing -------------------------------------------------------------------


@dataclass(frozen=True)
class Cancelled:
    bounty: Bounty
    refund: OutboxEntry | None


async def cancel_bounty(
    tx: AsyncSession, runtime: Runtime, caller: Caller, *, bounty_id: uuid.UUID, reason: str
) -> Cancelled:
    access.require_admin(caller)
    checked_reason = checked(lambda: validation.required_reason(reason))
    bounty = await store.bounty_by_id(tx, bounty_id, lock=True)
    if bounty is None:
        raise errors.BountyNotFound()
    if bounty.status is BountyStatus.CANCELLED:
        return Cancelled(bounty=bounty, refund=None)
    if bounty.status is BountyStatus.COMPLETED:
        raise errors.BountyNotCancellable()
    now = runtime.now()
    await claim_store.end_unsubmitted(tx, bounty.id, status=ClaimStatus.CANCELLED, now=now)
    refund = await _refund_unused_slots(tx, bounty, now=now)
    cancelled = await store.update_bounty(
        tx,
        bounty.id,
        status=BountyStatus.CANCELLED.value,
        cancelled_at=now,
        cancel_reason=checked_reason,
        updated_at=now,
    )
    return Cancelled(bounty=cancelled, refund=refund)


async def close_bounty(
    tx: AsyncSession, runtime: Runtime, bounty_id: uuid.UUID
) -> OutboxEntry | None:
    """The deadline passed: unsubmitted claims expire and every unused slot is refunded; claims
    already submitted are still reviewed and paid. Returns the refund entry, if any."""
    bounty = await store.bounty_by_id(tx, bounty_id, lock=True)
    now = runtime.now()
    if bounty is None or bounty.status not in BOARD_STATUSES or bounty.deadline > now:
        return None
    await claim_store.end_unsubmitted(tx, bounty.id, status=ClaimStatus.EXPIRED, now=now)
    refund = await _refund_unused_slots(tx, bounty, now=now)
    await store.update_bounty(
        tx, bounty.id, status=BountyStatus.CLOSED.value, closed_at=now, updated_at=now
    )
    return refund


async def _refund_unused_slots(
    tx: AsyncSession, bounty: Bounty, *, now: datetime.datetime
) -> OutboxEntry | None:
    """Write the refund of every slot not refunded yet that nobody can use any more: never
    claimed, or claimed and ended without a submission. The caller holds the bounty's lock."""
    unused = (
        bounty.unclaimed_slots
        + await claim_store.unused_claims_of(tx, bounty.id)
        - bounty.slots_refunded
    )
    assert 0 <= unused <= bounty.open_slots
    if unused == 0:
        return None
    entry = await outbox_store.insert_entry(
        tx,
        entry_id=payouts.slot_refund_entry_id(bounty.id),
        kind=OutboxKind.SLOT_REFUND,
        bounty_id=bounty.id,
        claim_id=None,
        transfers=payouts.slot_refund(
            bounty_id=bounty.id, slots=unused, slot_escrow_micros=bounty.slot_escrow_micros
        ),
        now=now,
    )
    slots_refunded = bounty.slots_refunded + unused
    await store.update_bounty(
        tx,
        bounty.id,
        slots_refunded=slots_refunded,
        escrow_outstanding_micros=(bounty.max_claims - slots_refunded - bounty.claims_settled)
        * bounty.slot_escrow_micros,
        updated_at=now,
    )
    return entry

"""Claims: ClaimBounty (every gate in one transaction), SubmitWork (compare-and-swap with reviewer
assignment in the same transaction), GetClaim and ListClaims."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.tokens import Scope
from services.review import errors
from services.review.domain import payouts, validation
from services.review.domain.model import (
    AgentFacts,
    AgentLifecycle,
    AgentStatus,
    BountyStatus,
    ClaimStatus,
)
from services.review.operations import access, assignment
from services.review.operations.bounties import ClaimView, claim_views
from services.review.operations.common import (
    checked,
    decode_position,
    next_page_token,
    page_size,
)
from services.review.operations.runtime import Caller, Runtime
from services.review.peers import AgentGate
from services.review.store import agents as agent_store
from services.review.store import bounties as bounty_store
from services.review.store import claims as store
from services.review.store.database import advisory_lock


async def gate_of(runtime: Runtime, caller: Caller) -> tuple[uuid.UUID, AgentGate]:
    """The acting agent and its claim gate read fresh from auth (before the transaction)."""
    agent_id = access.require_agent(caller, Scope.AGENT_WRITE)
    gate = await runtime.auth.gate(agent_id)
    if gate is None:
        raise errors.AgentNotFound(str(agent_id))
    return agent_id, gate


async def claim_bounty(
    tx: AsyncSession,
    runtime: Runtime,
    *,
    agent_id: uuid.UUID,
    gate: AgentGate,
    bounty_id: uuid.UUID,
) -> ClaimView:
    # The agent's lock first, then the bounty's: the cap counts the agent's claims across every
    # bounty, so two claims by one agent on different bounties must not count at the same time.
    await advisory_lock(tx, f"agent-claims|{agent_id}")
    bounty = await bounty_store.bounty_by_id(tx, bounty_id, lock=True)
    if bounty is None:
        raise errors.BountyNotFound()
    earlier = await store.claim_of(tx, bounty_id=bounty.id, agent_id=agent_id)
    if earlier is not None:
        raise errors.AlreadyClaimed(str(earlier.id))
    now = runtime.now()
    if bounty.status is BountyStatus.FILLED:
        raise errors.BountyFull()
    if bounty.status is not BountyStatus.OPEN:
        raise errors.BountyNotOpen()
    if now >= bounty.deadline:
        raise errors.BountyDeadlinePassed()
    if gate.owner_account_id is not None and gate.owner_account_id == bounty.created_by_account_id:
        raise errors.CreatorConflict()
    if gate.lifecycle is not AgentLifecycle.CLAIMED:
        raise errors.AgentNotClaimed()
    if gate.status is not AgentStatus.ACTIVE:
        raise errors.AgentSuspended()
    if gate.trust_tier < bounty.required_trust_tier:
        raise errors.TrustTierTooLow(bounty.required_trust_tier)
    cap = runtime.settings.bounties.max_live_claims_per_agent
    if await store.unsubmitted_claims_of(tx, agent_id) >= cap:
        raise errors.ClaimCapReached()
    assert gate.owner_account_id is not None
    claim = await store.insert_claim(
        tx,
        claim_id=payouts.claim_id_for(bounty_id=bounty.id, agent_id=agent_id),
        bounty_id=bounty.id,
        agent_id=agent_id,
        owner_account_id=gate.owner_account_id,
        now=now,
    )
    taken = bounty.claims_taken + 1
    await bounty_store.update_bounty(
        tx,
        bounty.id,
        claims_taken=taken,
        status=(BountyStatus.FILLED if taken == bounty.max_claims else BountyStatus.OPEN).value,
        updated_at=now,
    )
    return ClaimView(claim=claim, reviews=[], payout=None)


async def fresh_agent(runtime: Runtime, agent_id: uuid.UUID) -> AgentFacts:
    """The acting agent as auth has it now; refused unless it is claimed and active."""
    facts = await runtime.auth.agent(agent_id)
    if facts is None:
        raise errors.AgentNotFound(str(agent_id))
    if not facts.claimed:
        raise errors.AgentNotClaimed()
    if not facts.active:
        raise errors.AgentSuspended()
    return facts


async def submit_work(
    tx: AsyncSession,
    runtime: Runtime,
    *,
    agent: AgentFacts,
    bounty_id: uuid.UUID,
    submission_text: str,
) -> ClaimView:
    text = checked(lambda: validation.submission(submission_text))
    now = runtime.now()
    await agent_store.upsert(tx, [agent], now=now)
    bounty = await bounty_store.bounty_by_id(tx, bounty_id)
    own = await store.claim_of(tx, bounty_id=bounty_id, agent_id=agent.agent_id)
    if bounty is None or own is None:
        raise errors.ClaimNotFound()
    if own.status is not ClaimStatus.CLAIMED:
        raise errors.ClaimNotOpen()
    if now >= bounty.deadline:
        raise errors.BountyDeadlinePassed()
    submitted = await store.submit(
        tx, bounty_id=bounty_id, agent_id=agent.agent_id, submission_text=text, now=now
    )
    if submitted is None:
        # Another submit (or the bounty's cancellation or expiry) won the compare-and-swap.
        raise errors.ClaimNotOpen()
    await assignment.staff(tx, runtime, claim=submitted, bounty=bounty, now=now)
    refreshed = await store.claim_by_id(tx, submitted.id)
    assert refreshed is not None
    return (await claim_views(tx, [refreshed]))[0]


async def get_claim(
    tx: AsyncSession, runtime: Runtime, caller: Caller, *, claim_id: uuid.UUID
) -> ClaimView:
    agent_id = access.reader(caller)
    claim = await store.claim_by_id(tx, claim_id)
    if claim is None or (agent_id is not None and claim.agent_id != agent_id):
        raise errors.ClaimNotFound()
    return (await claim_views(tx, [claim]))[0]


@dataclass(frozen=True)
class ClaimPage:
    claims: list[ClaimView]
    next_page_token: str


async def list_claims(
    tx: AsyncSession,
    runtime: Runtime,
    caller: Caller,
    *,
    requested_page_size: int,
    page_token: str,
    bounty_id: uuid.UUID | None,
    statuses: frozenset[ClaimStatus],
    awaiting_reviewers_only: bool,
) -> ClaimPage:
    agent_id = access.reader(caller)
    size = page_size(requested_page_size)
    where = store.ClaimFilter(
        agent_id=agent_id,
        bounty_id=bounty_id,
        statuses=statuses,
        awaiting_reviewers_only=awaiting_reviewers_only,
    )
    filters = {
        "agent": str(agent_id or ""),
        "bounty": str(bounty_id or ""),
        "statuses": sorted(status.value for status in statuses),
        "awaiting": awaiting_reviewers_only,
    }
    after = decode_position(page_token, list_name="claims", filters=filters)
    rows = await store.list_claims(tx, where=where, after=after, limit=size + 1)
    return ClaimPage(
        claims=await claim_views(tx, rows[:size]),
        next_page_token=next_page_token(
            rows,
            page_size=size,
            list_name="claims",
            filters=filters,
            position=lambda claim: (claim.claimed_at, claim.id),
        ),
    )

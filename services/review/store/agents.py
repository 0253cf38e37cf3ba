"""The mirror of auth's agents, and the reviewer pool drawn from it."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence

from sqlalchemy import exists, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.review.domain.eligibility import Candidate, Conflicts
from services.review.domain.model import AgentFacts, AgentLifecycle, AgentStatus
from services.review.store import convert, models

AGENT_SYNC = "auth_agents"


async def upsert(tx: AsyncSession, agents: Sequence[AgentFacts], *, now: datetime.datetime) -> None:
    """Write each agent unless the mirror already holds the same or a newer version of it."""
    if not agents:
        return
    latest: dict[uuid.UUID, AgentFacts] = {}
    for agent in agents:
        known = latest.get(agent.agent_id)
        if known is None or known.updated_at <= agent.updated_at:
            latest[agent.agent_id] = agent
    statement = insert(models.Agent).values(
        [
            {
                "agent_id": agent.agent_id,
                "owner_account_id": agent.owner_account_id,
                "lifecycle": agent.lifecycle.value,
                "status": agent.status.value,
                "trust_tier": agent.trust_tier,
                "source_updated_at": agent.updated_at,
                "synced_at": now,
            }
            for agent in sorted(latest.values(), key=lambda item: item.agent_id)
        ]
    )
    await tx.execute(
        statement.on_conflict_do_update(
            index_elements=[models.Agent.agent_id],
            set_={
                "owner_account_id": statement.excluded.owner_account_id,
                "lifecycle": statement.excluded.lifecycle,
                "status": statement.excluded.status,
                "trust_tier": statement.excluded.trust_tier,
                "source_updated_at": statement.excluded.source_updated_at,
                "synced_at": statement.excluded.synced_at,
            },
            where=models.Agent.source_updated_at <= statement.excluded.source_updated_at,
        )
    )


async def agent_by_id(tx: AsyncSession, agent_id: uuid.UUID) -> AgentFacts | None:
    row = (
        await tx.execute(select(models.Agent).where(models.Agent.agent_id == agent_id))
    ).scalar_one_or_none()
    return convert.agent(row) if row else None


async def eligible(
    tx: AsyncSession,
    *,
    claim_id: uuid.UUID,
    conflicts: Conflicts,
    pivot: uuid.UUID,
    window: int,
) -> list[Candidate]:
    """Up to ``window`` eligible reviewers in agent-id order, starting at ``pivot`` and
    wrapping around; the caller draws among them at random (see domain.eligibility)."""
    flagged = exists().where(
        models.Correlation.deleted_at.is_(None),
        or_(
            (models.Correlation.agent_a_id == models.Agent.agent_id)
            & (models.Correlation.agent_b_id == conflicts.submitter_agent_id),
            (models.Correlation.agent_b_id == models.Agent.agent_id)
            & (models.Correlation.agent_a_id == conflicts.submitter_agent_id),
        ),
    )
    assigned_before = exists().where(
        models.Review.claim_id == claim_id, models.Review.reviewer_agent_id == models.Agent.agent_id
    )
    base = select(models.Agent.agent_id, models.Agent.owner_account_id).where(
        models.Agent.lifecycle == AgentLifecycle.CLAIMED.value,
        models.Agent.status == AgentStatus.ACTIVE.value,
        models.Agent.trust_tier >= conflicts.min_trust_tier,
        models.Agent.agent_id != conflicts.submitter_agent_id,
        models.Agent.owner_account_id != conflicts.submitter_owner_account_id,
        models.Agent.owner_account_id != conflicts.creator_account_id,
        ~flagged,
        ~assigned_before,
    )
    rows = list(
        (
            await tx.execute(
                base.where(models.Agent.agent_id >= pivot)
                .order_by(models.Agent.agent_id)
                .limit(window)
            )
        ).all()
    )
    if len(rows) < window:
        rows += (
            await tx.execute(
                base.where(models.Agent.agent_id < pivot)
                .order_by(models.Agent.agent_id)
                .limit(window - len(rows))
            )
        ).all()
    # The pool holds claimed agents only, and a claimed agent always has an owner.
    return [Candidate(agent_id=row[0], owner_account_id=_owner(row[1])) for row in rows]


def _owner(owner_account_id: uuid.UUID | None) -> uuid.UUID:
    assert owner_account_id is not None
    return owner_account_id


async def sync_cursor(tx: AsyncSession, name: str) -> datetime.datetime | None:
    row = (
        await tx.execute(select(models.SyncState.cursor).where(models.SyncState.name == name))
    ).first()
    return row[0] if row else None


async def save_sync_cursor(
    tx: AsyncSession, name: str, *, cursor: datetime.datetime | None, now: datetime.datetime
) -> None:
    statement = insert(models.SyncState).values(name=name, cursor=cursor, synced_at=now)
    await tx.execute(
        statement.on_conflict_do_update(
            index_elements=[models.SyncState.name],
            set_={"cursor": statement.excluded.cursor, "synced_at": statement.excluded.synced_at},
        )
    )

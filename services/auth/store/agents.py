"""Queries on agents, their claim codes and identity tokens."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.domain.accounts import Agent
from services.auth.domain.agents import ClaimCode, IdentityOutcome, IdentityToken
from services.auth.domain.principal import AgentLifecycle, AgentStatus
from services.auth.store import convert, models


async def insert_agent(
    tx: AsyncSession,
    *,
    name: str,
    description: str,
    harness: str,
    registration_ip: str | None,
    now: datetime.datetime,
) -> Agent:
    """Insert an unclaimed, active agent; a taken name raises IntegrityError."""
    row = models.Agent(
        id=uuid.uuid4(),
        name=name,
        name_normalised=name.lower(),
        description=description,
        harness=harness,
        lifecycle=AgentLifecycle.REGISTERED_UNCLAIMED.value,
        status=AgentStatus.ACTIVE.value,
        owner_account_id=None,
        trust_tier=0,
        created_at=now,
        updated_at=now,
        claimed_at=None,
        suspended_at=None,
        suspension_reason=None,
        registration_ip=registration_ip,
    )
    tx.add(row)
    await tx.flush()
    return convert.agent(row)


async def agent_by_id(tx: AsyncSession, agent_id: uuid.UUID, *, lock: bool = False) -> Agent | None:
    query = select(models.Agent).where(models.Agent.id == agent_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    row = (await tx.execute(query)).scalar_one_or_none()
    return convert.agent(row) if row else None


@dataclass(frozen=True)
class RecentCount:
    count: int
    oldest: datetime.datetime | None


async def registrations_since(
    tx: AsyncSession, *, registration_ip: str | None, since: datetime.datetime
) -> RecentCount:
    """Registrations from ``registration_ip`` (None: from unknown addresses) after ``since``."""
    row = (
        await tx.execute(
            select(func.count(), func.min(models.Agent.created_at)).where(
                models.Agent.registration_ip.is_not_distinct_from(registration_ip),
                models.Agent.created_at > since,
            )
        )
    ).one()
    return RecentCount(count=int(row[0]), oldest=row[1])


async def claim(
    tx: AsyncSession, agent_id: uuid.UUID, *, owner_account_id: uuid.UUID, now: datetime.datetime
) -> Agent | None:
    """Compare-and-swap ``registered_unclaimed -> claimed``; None if the agent was not unclaimed."""
    row = (
        await tx.execute(
            update(models.Agent)
            .where(
                models.Agent.id == agent_id,
                models.Agent.lifecycle == AgentLifecycle.REGISTERED_UNCLAIMED.value,
                models.Agent.owner_account_id.is_(None),
            )
            .values(
                lifecycle=AgentLifecycle.CLAIMED.value,
                owner_account_id=owner_account_id,
                claimed_at=now,
                updated_at=now,
            )
            .returning(models.Agent)
        )
    ).scalar_one_or_none()
    return convert.agent(row) if row else None


async def set_status(
    tx: AsyncSession,
    agent_id: uuid.UUID,
    *,
    status: AgentStatus,
    reason: str | None,
    now: datetime.datetime,
) -> Agent:
    suspended = status is AgentStatus.SUSPENDED
    row = (
        await tx.execute(
            update(models.Agent)
            .where(models.Agent.id == agent_id)
            .values(
                status=status.value,
                suspended_at=now if suspended else None,
                suspension_reason=reason if suspended else None,
                updated_at=now,
            )
            .returning(models.Agent)
        )
    ).scalar_one()
    return convert.agent(row)


async def set_trust_tier(
    tx: AsyncSession, agent_id: uuid.UUID, *, trust_tier: int, now: datetime.datetime
) -> Agent:
    row = (
        await tx.execute(
            update(models.Agent)
            .where(models.Agent.id == agent_id)
            .values(trust_tier=trust_tier, updated_at=now)
            .returning(models.Agent)
        )
    ).scalar_one()
    return convert.agent(row)


@dataclass(frozen=True)
class AgentFilter:
    owner_account_id: uuid.UUID | None = None
    lifecycle: AgentLifecycle | None = None
    status: AgentStatus | None = None
    min_trust_tier: int = 0
    updated_after: datetime.datetime | None = None


async def list_agents(
    tx: AsyncSession,
    *,
    where: AgentFilter,
    after: tuple[datetime.datetime, uuid.UUID] | None,
    limit: int,
) -> list[Agent]:
    """In change order: updated_at ascending, then id ascending."""
    query = select(models.Agent)
    if where.owner_account_id is not None:
        query = query.where(models.Agent.owner_account_id == where.owner_account_id)
    if where.lifecycle is not None:
        query = query.where(models.Agent.lifecycle == where.lifecycle.value)
    if where.status is not None:
        query = query.where(models.Agent.status == where.status.value)
    if where.min_trust_tier:
        query = query.where(models.Agent.trust_tier >= where.min_trust_tier)
    if where.updated_after is not None:
        query = query.where(models.Agent.updated_at > where.updated_after)
    if after is not None:
        query = query.where(tuple_(models.Agent.updated_at, models.Agent.id) > after)
    query = query.order_by(models.Agent.updated_at, models.Agent.id).limit(limit)
    return [convert.agent(row) for row in (await tx.execute(query)).scalars()]


# -- claim codes --------------------------------------------------------------------------------


async def insert_claim_code(
    tx: AsyncSession,
    *,
    agent_id: uuid.UUID,
    code_hash: bytes,
    now: datetime.datetime,
    expires_at: datetime.datetime,
) -> ClaimCode:
    row = models.ClaimCode(
        id=uuid.uuid4(),
        agent_id=agent_id,
        code_hash=code_hash,
        created_at=now,
        expires_at=expires_at,
        consumed_at=None,
        consumed_by_account_id=None,
        revoked_at=None,
    )
    tx.add(row)
    await tx.flush()
    return convert.claim_code(row)


async def claim_code_by_hash(tx: AsyncSession, digest: bytes) -> ClaimCode | None:
    """Locks the code's row, so two claims of one code serialize on it."""
    row = (
        await tx.execute(
            select(models.ClaimCode)
            .where(models.ClaimCode.code_hash == digest)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    return convert.claim_code(row) if row else None


async def burn_live_claim_codes(
    tx: AsyncSession, agent_id: uuid.UUID, *, now: datetime.datetime
) -> int:
    result = await tx.execute(
        update(models.ClaimCode)
        .where(
            models.ClaimCode.agent_id == agent_id,
            models.ClaimCode.consumed_at.is_(None),
            models.ClaimCode.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def consume_claim_code(
    tx: AsyncSession, code_id: uuid.UUID, *, account_id: uuid.UUID, now: datetime.datetime
) -> bool:
    result = await tx.execute(
        update(models.ClaimCode)
        .where(
            models.ClaimCode.id == code_id,
            models.ClaimCode.consumed_at.is_(None),
            models.ClaimCode.revoked_at.is_(None),
        )
        .values(consumed_at=now, consumed_by_account_id=account_id)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def claim_codes_since(
    tx: AsyncSession, agent_id: uuid.UUID, *, since: datetime.datetime
) -> RecentCount:
    row = (
        await tx.execute(
            select(func.count(), func.min(models.ClaimCode.created_at)).where(
                models.ClaimCode.agent_id == agent_id, models.ClaimCode.created_at > since
            )
        )
    ).one()
    return RecentCount(count=int(row[0]), oldest=row[1])


# -- identity tokens ----------------------------------------------------------------------------


async def insert_identity_token(
    tx: AsyncSession,
    *,
    agent_id: uuid.UUID,
    token_hash: bytes,
    audience: str,
    now: datetime.datetime,
    expires_at: datetime.datetime,
) -> IdentityToken:
    row = models.IdentityToken(
        id=uuid.uuid4(),
        agent_id=agent_id,
        token_hash=token_hash,
        audience=audience,
        created_at=now,
        expires_at=expires_at,
        consumed_at=None,
        outcome=None,
    )
    tx.add(row)
    await tx.flush()
    return convert.identity_token(row)


async def identity_token_by_hash(tx: AsyncSession, digest: bytes) -> IdentityToken | None:
    """Locks the row: the one verification a token gets is serialized against any other."""
    row = (
        await tx.execute(
            select(models.IdentityToken)
            .where(models.IdentityToken.token_hash == digest)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    return convert.identity_token(row) if row else None


async def consume_identity_token(
    tx: AsyncSession, token_id: uuid.UUID, *, outcome: IdentityOutcome, now: datetime.datetime
) -> None:
    result = await tx.execute(
        update(models.IdentityToken)
        .where(models.IdentityToken.id == token_id, models.IdentityToken.consumed_at.is_(None))
        .values(consumed_at=now, outcome=outcome.value)
    )
    assert result.rowcount == 1, "the token row is locked and unconsumed"  # type: ignore[attr-defined]

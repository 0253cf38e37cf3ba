"""Queries on API keys."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Collection

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.domain.accounts import Agent
from services.auth.domain.keys import ApiKey, KeyFamily, Limits
from services.auth.store import convert, models


async def insert_key(
    tx: AsyncSession,
    *,
    agent_id: uuid.UUID,
    family: KeyFamily,
    name: str,
    secret_hash: bytes,
    key_prefix: str,
    limits: Limits,
    now: datetime.datetime,
    created_by_key_id: uuid.UUID | None,
    created_by_account_id: uuid.UUID | None,
) -> ApiKey:
    row = models.ApiKey(
        id=uuid.uuid4(),
        agent_id=agent_id,
        family=family.value,
        name=name,
        secret_hash=secret_hash,
        key_prefix=key_prefix,
        credit_limit_micros=limits.credit_limit_micros,
        rate_limit_rpm=limits.rate_limit_rpm,
        allowed_models=list(limits.allowed_models),
        expires_at=limits.expires_at,
        created_at=now,
        updated_at=now,
        last_used_at=None,
        revoked_at=None,
        revocation_reason=None,
        created_by_key_id=created_by_key_id,
        created_by_account_id=created_by_account_id,
    )
    tx.add(row)
    await tx.flush()
    return convert.api_key(row)


async def key_by_hash(tx: AsyncSession, digest: bytes) -> tuple[ApiKey, Agent] | None:
    """The key with this secret digest and its agent (for Authenticate)."""
    row = (
        await tx.execute(
            select(models.ApiKey, models.Agent)
            .join(models.Agent, models.Agent.id == models.ApiKey.agent_id)
            .where(models.ApiKey.secret_hash == digest)
        )
    ).one_or_none()
    return (convert.api_key(row[0]), convert.agent(row[1])) if row else None


async def key_by_id(
    tx: AsyncSession, key_id: uuid.UUID, *, lock: bool = False, nowait: bool = False
) -> ApiKey | None:
    query = select(models.ApiKey).where(models.ApiKey.id == key_id)
    if lock:
        query = query.with_for_update(nowait=nowait).execution_options(populate_existing=True)
    row = (await tx.execute(query)).scalar_one_or_none()
    return convert.api_key(row) if row else None


async def count_unrevoked(tx: AsyncSession, agent_id: uuid.UUID) -> int:
    return int(
        (
            await tx.execute(
                select(func.count()).where(
                    models.ApiKey.agent_id == agent_id, models.ApiKey.revoked_at.is_(None)
                )
            )
        ).scalar_one()
    )


async def list_keys(
    tx: AsyncSession,
    *,
    agent_ids: Collection[uuid.UUID] | None,
    owner_account_id: uuid.UUID | None,
    families: Collection[KeyFamily],
    include_inactive: bool,
    now: datetime.datetime,
    after: tuple[datetime.datetime, uuid.UUID] | None,
    limit: int,
) -> list[ApiKey]:
    """Newest first (created_at descending, then id descending).

    ``agent_ids`` restricts to those agents; ``owner_account_id`` to agents that account owns.
    """
    query = select(models.ApiKey)
    if owner_account_id is not None:
        query = query.join(models.Agent, models.Agent.id == models.ApiKey.agent_id).where(
            models.Agent.owner_account_id == owner_account_id
        )
    if agent_ids is not None:
        query = query.where(models.ApiKey.agent_id.in_(list(agent_ids)))
    if families:
        query = query.where(models.ApiKey.family.in_([family.value for family in families]))
    if not include_inactive:
        query = query.where(
            models.ApiKey.revoked_at.is_(None),
            (models.ApiKey.expires_at.is_(None)) | (models.ApiKey.expires_at > now),
        )
    if after is not None:
        query = query.where(tuple_(models.ApiKey.created_at, models.ApiKey.id) < after)
    query = query.order_by(models.ApiKey.created_at.desc(), models.ApiKey.id.desc()).limit(limit)
    return [convert.api_key(row) for row in (await tx.execute(query)).scalars()]


async def revoke_key(
    tx: AsyncSession, key_id: uuid.UUID, *, reason: str | None, now: datetime.datetime
) -> ApiKey:
    """Revoke unless already revoked (then unchanged); returns the key as it is now."""
    await tx.execute(
        update(models.ApiKey)
        .where(models.ApiKey.id == key_id, models.ApiKey.revoked_at.is_(None))
        .values(revoked_at=now, revocation_reason=reason or None, updated_at=now)
    )
    key = await key_by_id(tx, key_id, lock=True)
    assert key is not None
    return key


async def revoke_agent_keys(
    tx: AsyncSession,
    agent_id: uuid.UUID,
    *,
    family: KeyFamily,
    reason: str,
    now: datetime.datetime,
) -> list[uuid.UUID]:
    rows = await tx.execute(
        update(models.ApiKey)
        .where(
            models.ApiKey.agent_id == agent_id,
            models.ApiKey.family == family.value,
            models.ApiKey.revoked_at.is_(None),
        )
        .values(revoked_at=now, revocation_reason=reason, updated_at=now)
        .returning(models.ApiKey.id)
    )
    return sorted(rows.scalars())


async def update_key(
    tx: AsyncSession,
    key_id: uuid.UUID,
    *,
    name: str,
    limits: Limits,
    now: datetime.datetime,
) -> ApiKey:
    row = (
        await tx.execute(
            update(models.ApiKey)
            .where(models.ApiKey.id == key_id, models.ApiKey.revoked_at.is_(None))
            .values(
                name=name,
                credit_limit_micros=limits.credit_limit_micros,
                rate_limit_rpm=limits.rate_limit_rpm,
                allowed_models=list(limits.allowed_models),
                expires_at=limits.expires_at,
                updated_at=now,
            )
            .returning(models.ApiKey)
        )
    ).scalar_one()
    return convert.api_key(row)


async def touch_last_used(
    tx: AsyncSession, key_id: uuid.UUID, *, now: datetime.datetime, resolution_s: int
) -> None:
    """Record use at most once per ``resolution_s``, never waiting for a row lock."""
    stale = now - datetime.timedelta(seconds=resolution_s)
    lockable = (
        select(models.ApiKey.id)
        .where(
            models.ApiKey.id == key_id,
            (models.ApiKey.last_used_at.is_(None)) | (models.ApiKey.last_used_at < stale),
        )
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    await tx.execute(
        update(models.ApiKey)
        .where(models.ApiKey.id == lockable)
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )

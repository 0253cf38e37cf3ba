"""Queries on ``provider.provider_keys``."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from sqlalchemy import Row, Table, and_, bindparam, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.provider.domain.envelope import SealedSecret
from services.provider.domain.provider_keys import ProviderKey, ProviderKeyScope
from services.provider.domain.registry import UpstreamProvider
from services.provider.store.models import ProviderKeyRow

keys: Table = ProviderKeyRow.__table__  # type: ignore[assignment]


def _key(row: Row[Any]) -> ProviderKey:
    sealed = (
        SealedSecret(
            kek_version=row.kek_version,
            wrapped_key=bytes(row.wrapped_key),
            secret_nonce=bytes(row.secret_nonce),
            secret_ciphertext=bytes(row.secret_ciphertext),
        )
        if row.wrapped_key is not None
        else None
    )
    return ProviderKey(
        id=row.id,
        provider=UpstreamProvider(row.provider),
        scope=ProviderKeyScope(row.scope),
        agent_id=row.agent_id,
        account_id=row.account_id,
        label=row.label,
        last4=row.last4,
        always_use=row.always_use,
        sealed=sealed,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        deleted_at=row.deleted_at,
    )


def _owner_clause(scope: ProviderKeyScope, owner_id: uuid.UUID) -> Any:
    if scope is ProviderKeyScope.AGENT:
        return and_(keys.c.scope == "agent", keys.c.agent_id == owner_id)
    return and_(keys.c.scope == "account", keys.c.account_id == owner_id)


async def key_by_id(
    tx: AsyncConnection, key_id: uuid.UUID, *, for_update: bool = False
) -> ProviderKey | None:
    query = select(keys).where(keys.c.id == key_id)
    if for_update:
        query = query.with_for_update()
    row = (await tx.execute(query)).first()
    return _key(row) if row is not None else None


async def live_key(
    tx: AsyncConnection,
    *,
    scope: ProviderKeyScope,
    owner_id: uuid.UUID,
    provider: UpstreamProvider,
    for_update: bool = False,
) -> ProviderKey | None:
    query = select(keys).where(
        _owner_clause(scope, owner_id),
        keys.c.provider == provider.value,
        keys.c.deleted_at.is_(None),
    )
    if for_update:
        query = query.with_for_update()
    row = (await tx.execute(query)).first()
    return _key(row) if row is not None else None


_FOR_REQUEST = select(keys).where(
    keys.c.provider == bindparam("p_provider"),
    keys.c.deleted_at.is_(None),
    or_(
        and_(keys.c.scope == "agent", keys.c.agent_id == bindparam("p_agent_id")),
        # A NULL account (an unclaimed agent) matches no row.
        and_(keys.c.scope == "account", keys.c.account_id == bindparam("p_account_id")),
    ),
)


async def keys_for_request(
    tx: AsyncConnection,
    *,
    agent_id: uuid.UUID,
    account_id: uuid.UUID | None,
    provider: UpstreamProvider,
) -> tuple[ProviderKey | None, ProviderKey | None]:
    """(the agent's live key, the account's live key) for ``provider``, in one query."""
    parameters = {"p_provider": provider.value, "p_agent_id": agent_id, "p_account_id": account_id}
    agent_key: ProviderKey | None = None
    account_key: ProviderKey | None = None
    for row in (await tx.execute(_FOR_REQUEST, parameters)).all():
        key = _key(row)
        if key.scope is ProviderKeyScope.AGENT:
            agent_key = key
        else:
            account_key = key
    return agent_key, account_key


async def insert_key(
    tx: AsyncConnection,
    *,
    key_id: uuid.UUID,
    provider: UpstreamProvider,
    scope: ProviderKeyScope,
    owner_id: uuid.UUID,
    label: str,
    last4: str,
    always_use: bool,
    sealed: SealedSecret,
    created_by: str,
    now: datetime.datetime,
) -> ProviderKey:
    statement = (
        keys.insert()
        .values(
            id=key_id,
            provider=provider.value,
            scope=scope.value,
            agent_id=owner_id if scope is ProviderKeyScope.AGENT else None,
            account_id=owner_id if scope is ProviderKeyScope.ACCOUNT else None,
            label=label,
            last4=last4,
            always_use=always_use,
            kek_version=sealed.kek_version,
            wrapped_key=sealed.wrapped_key,
            secret_nonce=sealed.secret_nonce,
            secret_ciphertext=sealed.secret_ciphertext,
            created_by=created_by,
            created_at=now,
            updated_at=now,
        )
        .returning(*keys.c)
    )
    return _key((await tx.execute(statement)).one())


async def delete_key(
    tx: AsyncConnection, key_id: uuid.UUID, *, now: datetime.datetime
) -> ProviderKey:
    """Destroy a live key's ciphertext and mark it deleted."""
    statement = (
        update(keys)
        .where(keys.c.id == key_id, keys.c.deleted_at.is_(None))
        .values(
            deleted_at=now,
            updated_at=now,
            kek_version=None,
            wrapped_key=None,
            secret_nonce=None,
            secret_ciphertext=None,
        )
        .returning(*keys.c)
    )
    return _key((await tx.execute(statement)).one())


async def list_keys(
    tx: AsyncConnection,
    *,
    owners: list[tuple[ProviderKeyScope, uuid.UUID]],
    after: tuple[datetime.datetime, uuid.UUID] | None,
    limit: int,
) -> list[ProviderKey]:
    """Live keys of the given owners, newest first (created_at, id descending)."""
    if not owners:
        return []
    query = (
        select(keys)
        .where(or_(*(_owner_clause(scope, owner) for scope, owner in owners)))
        .where(keys.c.deleted_at.is_(None))
        .order_by(keys.c.created_at.desc(), keys.c.id.desc())
        .limit(limit)
    )
    if after is not None:
        query = query.where(tuple_(keys.c.created_at, keys.c.id) < tuple_(after[0], after[1]))
    return [_key(row) for row in (await tx.execute(query)).all()]


_TOUCH = (
    update(keys)
    .where(keys.c.id == bindparam("p_id"), keys.c.deleted_at.is_(None))
    .values(last_used_at=bindparam("p_now"))
)


async def touch_last_used(
    tx: AsyncConnection, key: ProviderKey, *, now: datetime.datetime, resolution_s: int
) -> None:
    """Stamp ``last_used_at`` at most once per ``resolution_s``: a key used all the time is not
    written on every request."""
    if key.last_used_at is not None and now - key.last_used_at < datetime.timedelta(
        seconds=resolution_s
    ):
        return
    await tx.execute(_TOUCH, {"p_id": key.id, "p_now": now})


async def keys_to_rewrap(
    tx: AsyncConnection, *, target_version: int, limit: int, exclude: list[uuid.UUID]
) -> list[ProviderKey]:
    """Up to ``limit`` live keys not on ``target_version``, locked, skipping locked rows."""
    query = (
        select(keys)
        .where(keys.c.deleted_at.is_(None), keys.c.kek_version != target_version)
        .order_by(keys.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if exclude:
        query = query.where(keys.c.id.not_in(exclude))
    return [_key(row) for row in (await tx.execute(query)).all()]


async def store_rewrapped(
    tx: AsyncConnection, key_id: uuid.UUID, sealed: SealedSecret, *, now: datetime.datetime
) -> None:
    await tx.execute(
        update(keys)
        .where(keys.c.id == key_id, keys.c.deleted_at.is_(None))
        .values(kek_version=sealed.kek_version, wrapped_key=sealed.wrapped_key, updated_at=now)
    )


async def counts_by_version(tx: AsyncConnection) -> dict[int, int]:
    query = (
        select(keys.c.kek_version, func.count())
        .where(keys.c.deleted_at.is_(None))
        .group_by(keys.c.kek_version)
        .order_by(keys.c.kek_version)
    )
    return {int(version): int(count) for version, count in (await tx.execute(query)).all()}

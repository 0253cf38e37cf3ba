"""Queries on accounts, sessions and their token rotations."""

from __future__ import annotations

import datetime
import uuid

from sqlalchemy import select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.domain.accounts import Account, RevocationReason, Session, SessionToken
from services.auth.domain.principal import AccountRole
from services.auth.store import convert, models


async def insert_account(
    tx: AsyncSession,
    *,
    email: str,
    display_name: str,
    password_hash: str,
    role: AccountRole,
    now: datetime.datetime,
) -> Account:
    """Insert an account; a duplicate email raises IntegrityError on ``uq_accounts_email``."""
    row = models.Account(
        id=uuid.uuid4(),
        email=email,
        display_name=display_name,
        password_hash=password_hash,
        role=role.value,
        created_at=now,
        updated_at=now,
        last_login_at=None,
    )
    tx.add(row)
    await tx.flush()
    return convert.account(row)


async def account_by_id(
    tx: AsyncSession, account_id: uuid.UUID, *, lock: bool = False
) -> Account | None:
    query = select(models.Account).where(models.Account.id == account_id)
    if lock:
        query = query.with_for_update()
    row = (await tx.execute(query)).scalar_one_or_none()
    return convert.account(row) if row else None


async def account_by_email(tx: AsyncSession, email: str) -> Account | None:
    row = (
        await tx.execute(select(models.Account).where(models.Account.email == email))
    ).scalar_one_or_none()
    return convert.account(row) if row else None


async def record_login(
    tx: AsyncSession,
    account_id: uuid.UUID,
    *,
    now: datetime.datetime,
    new_password_hash: str | None,
) -> Account:
    values: dict[str, object] = {"last_login_at": now, "updated_at": now}
    if new_password_hash is not None:
        values["password_hash"] = new_password_hash
    row = (
        await tx.execute(
            update(models.Account)
            .where(models.Account.id == account_id)
            .values(**values)
            .returning(models.Account)
        )
    ).scalar_one()
    return convert.account(row)


async def lock_super_admins(tx: AsyncSession) -> list[uuid.UUID]:
    """Lock every super_admin row (in id order), so role changes that count them serialize."""
    rows = await tx.execute(
        select(models.Account.id)
        .where(models.Account.role == AccountRole.SUPER_ADMIN.value)
        .order_by(models.Account.id)
        .with_for_update()
    )
    return list(rows.scalars())


async def set_role(
    tx: AsyncSession, account_id: uuid.UUID, *, role: AccountRole, now: datetime.datetime
) -> Account:
    row = (
        await tx.execute(
            update(models.Account)
            .where(models.Account.id == account_id)
            .values(role=role.value, updated_at=now)
            .returning(models.Account)
        )
    ).scalar_one()
    return convert.account(row)


# -- sessions -----------------------------------------------------------------------------------


async def insert_session(
    tx: AsyncSession,
    *,
    account_id: uuid.UUID,
    now: datetime.datetime,
    expires_at: datetime.datetime,
    client_ip: str | None,
    user_agent: str,
) -> Session:
    row = models.Session(
        id=uuid.uuid4(),
        account_id=account_id,
        created_at=now,
        expires_at=expires_at,
        last_refreshed_at=None,
        revoked_at=None,
        revocation_reason=None,
        client_ip=client_ip,
        user_agent=user_agent,
        generation=0,
    )
    tx.add(row)
    await tx.flush()
    return convert.session(row)


async def insert_session_token(
    tx: AsyncSession,
    *,
    session_id: uuid.UUID,
    generation: int,
    previous_token_id: uuid.UUID | None,
    session_token_hash: bytes,
    refresh_token_hash: bytes,
    session_token_expires_at: datetime.datetime,
    refresh_token_expires_at: datetime.datetime,
    now: datetime.datetime,
) -> SessionToken:
    row = models.SessionToken(
        id=uuid.uuid4(),
        session_id=session_id,
        generation=generation,
        previous_token_id=previous_token_id,
        session_token_hash=session_token_hash,
        refresh_token_hash=refresh_token_hash,
        session_token_expires_at=session_token_expires_at,
        refresh_token_expires_at=refresh_token_expires_at,
        created_at=now,
        rotated_at=None,
    )
    tx.add(row)
    await tx.flush()
    return convert.session_token(row)


async def session_by_token_hash(
    tx: AsyncSession, digest: bytes
) -> tuple[SessionToken, Session, Account] | None:
    """The session token with this tms_ digest, its session and account (for Authenticate)."""
    row = (
        await tx.execute(
            select(models.SessionToken, models.Session, models.Account)
            .join(models.Session, models.Session.id == models.SessionToken.session_id)
            .join(models.Account, models.Account.id == models.Session.account_id)
            .where(models.SessionToken.session_token_hash == digest)
        )
    ).one_or_none()
    if row is None:
        return None
    return convert.session_token(row[0]), convert.session(row[1]), convert.account(row[2])


async def token_by_refresh_hash(tx: AsyncSession, digest: bytes) -> SessionToken | None:
    """Read without locking (MVCC), to learn the session of a refresh token."""
    row = (
        await tx.execute(
            select(models.SessionToken).where(models.SessionToken.refresh_token_hash == digest)
        )
    ).scalar_one_or_none()
    return convert.session_token(row) if row else None


async def lock_session(tx: AsyncSession, session_id: uuid.UUID) -> Session | None:
    row = (
        await tx.execute(
            select(models.Session).where(models.Session.id == session_id).with_for_update()
        )
    ).scalar_one_or_none()
    return convert.session(row) if row else None


async def lock_token_nowait(tx: AsyncSession, token_id: uuid.UUID) -> SessionToken:
    """Lock a token row or fail at once (``LockNotAvailable``) if a concurrent refresh holds it."""
    row = (
        await tx.execute(
            select(models.SessionToken)
            .where(models.SessionToken.id == token_id)
            .with_for_update(nowait=True)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    return convert.session_token(row)


async def rotate_token(tx: AsyncSession, token_id: uuid.UUID, *, now: datetime.datetime) -> None:
    result = await tx.execute(
        update(models.SessionToken)
        .where(models.SessionToken.id == token_id, models.SessionToken.rotated_at.is_(None))
        .values(rotated_at=now)
    )
    assert result.rowcount == 1, "the token row is locked and current"  # type: ignore[attr-defined]


async def mark_refreshed(
    tx: AsyncSession, session_id: uuid.UUID, *, generation: int, now: datetime.datetime
) -> Session:
    row = (
        await tx.execute(
            update(models.Session)
            .where(models.Session.id == session_id)
            .values(generation=generation, last_refreshed_at=now)
            .returning(models.Session)
        )
    ).scalar_one()
    return convert.session(row)


async def revoke_session(
    tx: AsyncSession,
    session_id: uuid.UUID,
    *,
    reason: RevocationReason,
    now: datetime.datetime,
) -> Session:
    """Revoke unless already revoked (then unchanged); returns the session as it is now."""
    await tx.execute(
        update(models.Session)
        .where(models.Session.id == session_id, models.Session.revoked_at.is_(None))
        .values(revoked_at=now, revocation_reason=reason.value)
    )
    row = (
        await tx.execute(
            select(models.Session)
            .where(models.Session.id == session_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    return convert.session(row)


async def session_by_id(tx: AsyncSession, session_id: uuid.UUID) -> Session | None:
    row = (
        await tx.execute(select(models.Session).where(models.Session.id == session_id))
    ).scalar_one_or_none()
    return convert.session(row) if row else None


async def list_sessions(
    tx: AsyncSession,
    *,
    account_id: uuid.UUID,
    include_ended: bool,
    now: datetime.datetime,
    after: tuple[datetime.datetime, uuid.UUID] | None,
    limit: int,
) -> list[Session]:
    """Newest first (created_at descending, then id descending)."""
    query = select(models.Session).where(models.Session.account_id == account_id)
    if not include_ended:
        query = query.where(models.Session.revoked_at.is_(None), models.Session.expires_at > now)
    if after is not None:
        query = query.where(tuple_(models.Session.created_at, models.Session.id) < after)
    query = query.order_by(models.Session.created_at.desc(), models.Session.id.desc()).limit(limit)
    return [convert.session(row) for row in (await tx.execute(query)).scalars()]

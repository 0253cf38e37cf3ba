"""Accounts, logins and sessions: RegisterAccount, CreateAdminAccount, Login, RefreshSession,
Logout, ListSessions, RevokeSession, SetAccountRole, GetMe."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth import errors
from services.auth.domain import credentials, lockout, validation
from services.auth.domain.accounts import (
    Account,
    Agent,
    RefreshVerdict,
    RevocationReason,
    Session,
    refresh_verdict,
    token_lifetimes,
)
from services.auth.domain.audit import Actor, EventType
from services.auth.domain.credentials import CredentialKind
from services.auth.domain.passwords import password_acceptable, password_presentable
from services.auth.domain.principal import AccountRole, Principal, Scope
from services.auth.operations.access import require
from services.auth.operations.common import (
    advisory_lock,
    checked,
    decode_position,
    next_page_token,
    page_size,
)
from services.auth.operations.runtime import Caller, Runtime, record
from services.auth.store import accounts as store
from services.auth.store import agents as agent_store
from services.auth.store import counters
from services.common.db import RecordedRefusal, constraint_name, lock_not_available

EMAIL_UNIQUE = "uq_accounts_email"


# -- registration -------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewAccount:
    """A validated registration whose password is already hashed (outside any transaction)."""

    email: str
    display_name: str
    password_hash: str
    role: AccountRole
    client_ip: str | None
    user_agent: str


async def prepare_account(
    runtime: Runtime,
    *,
    email: str,
    password: str,
    display_name: str,
    role: AccountRole,
    client_ip: str,
    user_agent: str,
) -> NewAccount:
    normalised = checked(lambda: validation.normalise_email(email))
    if not password_acceptable(password):
        raise errors.PasswordInvalid()
    name = checked(lambda: validation.display_name(display_name))
    ip = checked(lambda: validation.client_ip(client_ip))
    return NewAccount(
        email=normalised,
        display_name=name,
        password_hash=await runtime.passwords.hash(password),
        role=role,
        client_ip=ip,
        user_agent=validation.user_agent(user_agent),
    )


async def create_account(
    tx: AsyncSession, runtime: Runtime, new: NewAccount, *, actor: Actor | None = None
) -> Account:
    """Insert the account and audit it (ACCOUNT_REGISTERED, or ADMIN_ACCOUNT_CREATED for ctl)."""
    try:
        async with tx.begin_nested():
            account = await store.insert_account(
                tx,
                email=new.email,
                display_name=new.display_name,
                password_hash=new.password_hash,
                role=new.role,
                now=runtime.now(),
            )
    except sa_exc.IntegrityError as error:
        if constraint_name(error) == EMAIL_UNIQUE:
            raise errors.EmailTaken() from None
        raise
    await record(
        tx,
        runtime,
        EventType.ADMIN_ACCOUNT_CREATED if actor else EventType.ACCOUNT_REGISTERED,
        actor=actor or Actor(account_id=account.id),
        subject_account_id=account.id,
        client_ip=new.client_ip,
        user_agent=new.user_agent,
        details={"role": account.role.value},
    )
    return account


# -- login --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedSession:
    account: Account
    session: Session
    session_token: str
    session_token_expires_at: datetime.datetime
    refresh_token: str
    refresh_token_expires_at: datetime.datetime


def _login_policy(runtime: Runtime, *, threshold: int) -> lockout.BackoffPolicy:
    settings = runtime.settings.lockout
    return lockout.BackoffPolicy(
        threshold=threshold,
        window_s=settings.window_s,
        base_s=settings.base_s,
        max_s=settings.max_s,
    )


async def _issue_pair(
    tx: AsyncSession,
    runtime: Runtime,
    session: Session,
    *,
    generation: int,
    previous_token_id: uuid.UUID | None,
    now: datetime.datetime,
) -> tuple[str, str, datetime.datetime, datetime.datetime]:
    settings = runtime.settings.sessions
    lifetimes = token_lifetimes(
        now=now,
        session_expires_at=session.expires_at,
        session_token_ttl_s=settings.session_token_ttl_s,
        refresh_token_ttl_s=settings.refresh_token_ttl_s,
    )
    session_token = credentials.generate(CredentialKind.SESSION)
    refresh_token = credentials.generate(CredentialKind.REFRESH)
    await store.insert_session_token(
        tx,
        session_id=session.id,
        generation=generation,
        previous_token_id=previous_token_id,
        session_token_hash=runtime.digester.digest(session_token),
        refresh_token_hash=runtime.digester.digest(refresh_token),
        session_token_expires_at=lifetimes.session_token_expires_at,
        refresh_token_expires_at=lifetimes.refresh_token_expires_at,
        now=now,
    )
    return (
        session_token.raw,
        refresh_token.raw,
        lifetimes.session_token_expires_at,
        lifetimes.refresh_token_expires_at,
    )


async def login(
    tx: AsyncSession,
    runtime: Runtime,
    *,
    email: str,
    password: str,
    client_ip: str,
    user_agent: str,
) -> IssuedSession:
    normalised = checked(lambda: validation.login_email(email))
    if not password_presentable(password):
        raise errors.PasswordInvalid()
    ip = checked(lambda: validation.client_ip(client_ip))
    agent_string = validation.user_agent(user_agent)
    now = runtime.now()
    email_subject = runtime.digester.digest_text(label="login-email", text=normalised)
    ip_subject = runtime.digester.digest_text(label="login-ip", text=ip) if ip else None
    # Attempts on one email are serialized, so concurrent guesses cannot pass the threshold
    # together; the lock is released at commit.
    await advisory_lock(tx, f"login-email|{email_subject.hex()}")
    email_counter = await counters.read(tx, scope="login_email", subject=email_subject, now=now)
    ip_counter = (
        await counters.read(tx, scope="login_ip", subject=ip_subject, now=now)
        if ip_subject
        else lockout.EMPTY_COUNTER
    )
    # The account is looked up on every path, so no path is measurably shorter.
    account = await store.account_by_email(tx, normalised)
    retry_after = max(
        lockout.retry_after_s(email_counter, now) or 0, lockout.retry_after_s(ip_counter, now) or 0
    )
    if retry_after:
        await record(
            tx,
            runtime,
            EventType.LOGIN_LOCKED_OUT,
            failure_reason=errors.LoginLockedOut.reason,
            subject_account_id=account.id if account else None,
            client_ip=ip,
            user_agent=agent_string,
        )
        raise RecordedRefusal(errors.LoginLockedOut(retry_after))
    matched = await runtime.passwords.verify(account.password_hash if account else None, password)
    if account is None or not matched:
        lockout_settings = runtime.settings.lockout
        await counters.save(
            tx,
            scope="login_email",
            subject=email_subject,
            counter=lockout.after_failure(
                email_counter,
                policy=_login_policy(runtime, threshold=lockout_settings.email_threshold),
                now=now,
            ),
            now=now,
        )
        if ip_subject is not None:
            await advisory_lock(tx, f"login-ip|{ip_subject.hex()}")
            ip_counter = await counters.read(tx, scope="login_ip", subject=ip_subject, now=now)
            if lockout.retry_after_s(ip_counter, now) is None:
                await counters.save(
                    tx,
                    scope="login_ip",
                    subject=ip_subject,
                    counter=lockout.after_failure(
                        ip_counter,
                        policy=_login_policy(runtime, threshold=lockout_settings.ip_threshold),
                        now=now,
                    ),
                    now=now,
                )
        await record(
            tx,
            runtime,
            EventType.LOGIN_FAILED,
            failure_reason=errors.InvalidCredentials.reason,
            subject_account_id=account.id if account else None,
            client_ip=ip,
            user_agent=agent_string,
            # The log says which; the caller never learns.
            details={"cause": "unknown_email" if account is None else "wrong_password"},
        )
        raise RecordedRefusal(errors.InvalidCredentials())
    if email_counter.failure_count:
        await counters.save(
            tx, scope="login_email", subject=email_subject, counter=lockout.EMPTY_COUNTER, now=now
        )
    new_hash = None
    if runtime.passwords.needs_rehash(account.password_hash):
        new_hash = await runtime.passwords.hash(password)
    account = await store.record_login(tx, account.id, now=now, new_password_hash=new_hash)
    session = await store.insert_session(
        tx,
        account_id=account.id,
        now=now,
        expires_at=now + datetime.timedelta(seconds=runtime.settings.sessions.absolute_ttl_s),
        client_ip=ip,
        user_agent=agent_string,
    )
    session_raw, refresh_raw, session_expires, refresh_expires = await _issue_pair(
        tx, runtime, session, generation=0, previous_token_id=None, now=now
    )
    await record(
        tx,
        runtime,
        EventType.LOGIN_SUCCEEDED,
        actor=Actor(account_id=account.id),
        subject_account_id=account.id,
        subject_session_id=session.id,
        client_ip=ip,
        user_agent=agent_string,
        details={"rehashed": new_hash is not None},
    )
    return IssuedSession(
        account=account,
        session=session,
        session_token=session_raw,
        session_token_expires_at=session_expires,
        refresh_token=refresh_raw,
        refresh_token_expires_at=refresh_expires,
    )


# -- refresh ------------------------------------------------------------------------------------


async def refresh(
    tx: AsyncSession,
    runtime: Runtime,
    *,
    refresh_token: str,
    client_ip: str,
    user_agent: str,
) -> IssuedSession:
    ip = checked(lambda: validation.client_ip(client_ip))
    agent_string = validation.user_agent(user_agent)
    try:
        credential = credentials.parse(refresh_token)
    except credentials.CredentialFormatError:
        raise errors.RefreshTokenInvalid() from None
    if credential.kind is not CredentialKind.REFRESH:
        raise errors.RefreshTokenInvalid()
    digest = runtime.digester.digest(credential)
    token = await store.token_by_refresh_hash(tx, digest)
    if token is None:
        raise errors.RefreshTokenInvalid()
    try:
        async with tx.begin_nested():
            token = await store.lock_token_nowait(tx, token.id)
    except sa_exc.DBAPIError as error:
        if not lock_not_available(error):
            raise
        # Another refresh with this same token holds it right now: one of the two is a copy.
        revoked = await store.revoke_session(
            tx, token.session_id, reason=RevocationReason.REFRESH_REUSE, now=runtime.now()
        )
        await record(
            tx,
            runtime,
            EventType.SESSION_REFRESH_REUSED,
            failure_reason=errors.RefreshRaceLost.reason,
            subject_account_id=revoked.account_id,
            subject_session_id=revoked.id,
            client_ip=ip,
            user_agent=agent_string,
        )
        raise RecordedRefusal(errors.RefreshRaceLost()) from None
    session = await store.lock_session(tx, token.session_id)
    assert session is not None, "a token row references its session"
    now = runtime.now()
    verdict = refresh_verdict(session=session, token=token, now=now)
    if verdict is RefreshVerdict.SESSION_REVOKED:
        raise errors.SessionRevoked()
    if verdict is RefreshVerdict.EXPIRED:
        raise errors.RefreshTokenExpired()
    if verdict is RefreshVerdict.REUSED:
        await store.revoke_session(tx, session.id, reason=RevocationReason.REFRESH_REUSE, now=now)
        await record(
            tx,
            runtime,
            EventType.SESSION_REFRESH_REUSED,
            failure_reason=errors.RefreshTokenReused.reason,
            subject_account_id=session.account_id,
            subject_session_id=session.id,
            client_ip=ip,
            user_agent=agent_string,
            details={"presented_generation": token.generation, "current": session.generation},
        )
        raise RecordedRefusal(errors.RefreshTokenReused())
    assert verdict is RefreshVerdict.ROTATE
    await store.rotate_token(tx, token.id, now=now)
    generation = token.generation + 1
    session_raw, refresh_raw, session_expires, refresh_expires = await _issue_pair(
        tx, runtime, session, generation=generation, previous_token_id=token.id, now=now
    )
    session = await store.mark_refreshed(tx, session.id, generation=generation, now=now)
    account = await store.account_by_id(tx, session.account_id)
    assert account is not None
    await record(
        tx,
        runtime,
        EventType.SESSION_REFRESHED,
        actor=Actor(account_id=account.id),
        subject_account_id=account.id,
        subject_session_id=session.id,
        client_ip=ip,
        user_agent=agent_string,
        details={"generation": generation},
    )
    return IssuedSession(
        account=account,
        session=session,
        session_token=session_raw,
        session_token_expires_at=session_expires,
        refresh_token=refresh_raw,
        refresh_token_expires_at=refresh_expires,
    )


# -- sessions -----------------------------------------------------------------------------------


async def logout(tx: AsyncSession, runtime: Runtime, caller: Caller) -> Session:
    principal = caller.principal
    if not principal.is_session:
        raise errors.NotASession()
    assert principal.session_id is not None
    before = await store.session_by_id(tx, principal.session_id)
    assert before is not None
    session = await store.revoke_session(
        tx, principal.session_id, reason=RevocationReason.LOGOUT, now=runtime.now()
    )
    if before.revoked_at is None:
        await record(
            tx,
            runtime,
            EventType.SESSION_LOGGED_OUT,
            actor=caller.actor,
            subject_account_id=session.account_id,
            subject_session_id=session.id,
        )
    return session


@dataclass(frozen=True)
class SessionPage:
    sessions: list[Session]
    next_page_token: str


async def list_sessions(
    tx: AsyncSession,
    runtime: Runtime,
    caller: Caller,
    *,
    requested_page_size: int,
    page_token: str,
    include_ended: bool,
) -> SessionPage:
    require(caller, Scope.ACCOUNT)
    account_id = caller.principal.account_id
    assert account_id is not None
    size = page_size(requested_page_size)
    filters = {"account": str(account_id), "include_ended": include_ended}
    after = decode_position(runtime, page_token, list_name="sessions", filters=filters)
    rows = await store.list_sessions(
        tx,
        account_id=account_id,
        include_ended=include_ended,
        now=runtime.now(),
        after=after,
        limit=size + 1,
    )
    return SessionPage(
        sessions=rows[:size],
        next_page_token=next_page_token(
            runtime,
            rows,
            page_size=size,
            list_name="sessions",
            filters=filters,
            position=lambda session: (session.created_at, session.id),
        ),
    )


async def revoke_session(
    tx: AsyncSession, runtime: Runtime, caller: Caller, *, session_id: str
) -> Session:
    require(caller, Scope.ACCOUNT)
    target = checked(lambda: validation.uuid_field(session_id, field="session_id"))
    existing = await store.lock_session(tx, target)
    if existing is None or existing.account_id != caller.principal.account_id:
        raise errors.SessionNotFound()
    if existing.revoked_at is not None:
        return existing
    session = await store.revoke_session(
        tx, target, reason=RevocationReason.USER_REVOKED, now=runtime.now()
    )
    await record(
        tx,
        runtime,
        EventType.SESSION_REVOKED,
        actor=caller.actor,
        subject_account_id=session.account_id,
        subject_session_id=session.id,
        details={"current": session.id == caller.principal.session_id},
    )
    return session


# -- roles --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoleChange:
    account: Account
    previous_role: AccountRole


async def set_account_role(
    tx: AsyncSession,
    runtime: Runtime,
    caller: Caller,
    *,
    account_id: str,
    role: AccountRole,
    reason: str,
) -> RoleChange:
    require(caller, Scope.SUPER_ADMIN, Scope.OPERATOR)
    target = checked(lambda: validation.uuid_field(account_id, field="account_id"))
    why = checked(lambda: validation.required_reason(reason))
    # Lock every super_admin first (fixed order), so two demotions cannot both pass the count.
    super_admins = await store.lock_super_admins(tx)
    account = await store.account_by_id(tx, target, lock=True)
    if account is None:
        raise errors.AccountNotFound()
    previous = account.role
    if previous is role:
        return RoleChange(account=account, previous_role=previous)
    if previous is AccountRole.SUPER_ADMIN and super_admins == [account.id]:
        raise errors.LastSuperAdmin()
    account = await store.set_role(tx, account.id, role=role, now=runtime.now())
    await record(
        tx,
        runtime,
        EventType.ROLE_CHANGED,
        actor=caller.actor,
        subject_account_id=account.id,
        details={"previous_role": previous.value, "role": role.value, "reason": why},
    )
    return RoleChange(account=account, previous_role=previous)


# -- who am I -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Me:
    principal: Principal
    account: Account | None
    agent: Agent | None


async def get_me(tx: AsyncSession, caller: Caller) -> Me:
    principal = caller.principal
    account = await store.account_by_id(tx, principal.account_id) if principal.account_id else None
    agent = await agent_store.agent_by_id(tx, principal.agent_id) if principal.agent_id else None
    return Me(principal=principal, account=account, agent=agent)

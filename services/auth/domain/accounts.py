"""Accounts, agents and sessions as the rules see them."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from services.auth.domain.principal import AccountRole, AgentLifecycle, AgentStatus


@dataclass(frozen=True)
class Account:
    id: uuid.UUID
    email: str
    display_name: str
    role: AccountRole
    created_at: datetime.datetime
    last_login_at: datetime.datetime | None
    password_hash: str = field(repr=False, compare=False)


@dataclass(frozen=True)
class Agent:
    id: uuid.UUID
    name: str
    description: str
    harness: str
    lifecycle: AgentLifecycle
    status: AgentStatus
    owner_account_id: uuid.UUID | None
    trust_tier: int
    created_at: datetime.datetime
    updated_at: datetime.datetime
    claimed_at: datetime.datetime | None
    suspended_at: datetime.datetime | None
    suspension_reason: str | None

    def __post_init__(self) -> None:
        # A claimed agent has an owner; an unclaimed one has none (also a CHECK constraint).
        claimed = self.lifecycle is AgentLifecycle.CLAIMED
        assert claimed == (self.owner_account_id is not None) == (self.claimed_at is not None)
        suspended = self.status is AgentStatus.SUSPENDED
        assert suspended == (self.suspended_at is not None) == (self.suspension_reason is not None)
        assert 0 <= self.trust_tier <= 3

    @property
    def active(self) -> bool:
        return self.status is AgentStatus.ACTIVE

    def owned_by(self, account_id: uuid.UUID | None) -> bool:
        return account_id is not None and self.owner_account_id == account_id


class RevocationReason(StrEnum):
    LOGOUT = "logout"
    USER_REVOKED = "user_revoked"
    REFRESH_REUSE = "refresh_reuse"
    ADMIN = "admin"


@dataclass(frozen=True)
class Session:
    """One login's family of session and refresh tokens."""

    id: uuid.UUID
    account_id: uuid.UUID
    created_at: datetime.datetime
    expires_at: datetime.datetime
    last_refreshed_at: datetime.datetime | None
    revoked_at: datetime.datetime | None
    revocation_reason: RevocationReason | None
    client_ip: str | None
    user_agent: str
    generation: int

    def __post_init__(self) -> None:
        assert (self.revoked_at is None) == (self.revocation_reason is None)
        assert self.expires_at > self.created_at

    def live(self, now: datetime.datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


@dataclass(frozen=True)
class SessionToken:
    """One rotation of a session: its tms_ and tmr_ digests and their expiries."""

    id: uuid.UUID
    session_id: uuid.UUID
    generation: int
    session_token_expires_at: datetime.datetime
    refresh_token_expires_at: datetime.datetime
    rotated_at: datetime.datetime | None


@dataclass(frozen=True)
class TokenLifetimes:
    session_token_expires_at: datetime.datetime
    refresh_token_expires_at: datetime.datetime


def token_lifetimes(
    *,
    now: datetime.datetime,
    session_expires_at: datetime.datetime,
    session_token_ttl_s: int,
    refresh_token_ttl_s: int,
) -> TokenLifetimes:
    """Expiries of a freshly issued token pair; neither outlives the session."""
    assert now < session_expires_at
    return TokenLifetimes(
        session_token_expires_at=min(
            session_expires_at, now + datetime.timedelta(seconds=session_token_ttl_s)
        ),
        refresh_token_expires_at=min(
            session_expires_at, now + datetime.timedelta(seconds=refresh_token_ttl_s)
        ),
    )


class RefreshVerdict(StrEnum):
    """What a presented refresh token means (checked in this order)."""

    SESSION_REVOKED = "session_revoked"
    EXPIRED = "expired"
    REUSED = "reused"
    ROTATE = "rotate"


def refresh_verdict(
    *, session: Session, token: SessionToken, now: datetime.datetime
) -> RefreshVerdict:
    assert token.session_id == session.id
    if session.revoked_at is not None:
        return RefreshVerdict.SESSION_REVOKED
    if now >= session.expires_at:
        return RefreshVerdict.EXPIRED
    if token.rotated_at is not None:
        # A rotated token presented again: it was copied. Treat as theft (THREATS I6).
        return RefreshVerdict.REUSED
    if now >= token.refresh_token_expires_at:
        return RefreshVerdict.EXPIRED
    return RefreshVerdict.ROTATE

"""Claim codes, identity tokens and who may see an agent."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from enum import StrEnum

from services.auth.domain.accounts import Agent
from services.auth.domain.principal import Principal, Scope


@dataclass(frozen=True)
class ClaimCode:
    id: uuid.UUID
    agent_id: uuid.UUID
    created_at: datetime.datetime
    expires_at: datetime.datetime
    consumed_at: datetime.datetime | None
    revoked_at: datetime.datetime | None

    def usable(self, now: datetime.datetime) -> bool:
        """Unused, not replaced, and not expired: the only state in which a claim may succeed."""
        return self.consumed_at is None and self.revoked_at is None and now < self.expires_at


class IdentityOutcome(StrEnum):
    """The stored result of the one verification an identity token gets."""

    VALID = "valid"
    EXPIRED = "expired"
    AUDIENCE_MISMATCH = "audience_mismatch"
    AGENT_SUSPENDED = "agent_suspended"


@dataclass(frozen=True)
class IdentityToken:
    id: uuid.UUID
    agent_id: uuid.UUID
    audience: str
    created_at: datetime.datetime
    expires_at: datetime.datetime
    consumed_at: datetime.datetime | None


def identity_outcome(
    *, token: IdentityToken, agent: Agent, audience: str, now: datetime.datetime
) -> IdentityOutcome:
    """The verdict on a token found unconsumed (it is burned whatever the verdict)."""
    assert token.consumed_at is None and token.agent_id == agent.id
    if now >= token.expires_at:
        return IdentityOutcome.EXPIRED
    if token.audience != audience:
        return IdentityOutcome.AUDIENCE_MISMATCH
    if not agent.active:
        return IdentityOutcome.AGENT_SUSPENDED
    return IdentityOutcome.VALID


IDENTITY_TTL_MIN = datetime.timedelta(seconds=30)
IDENTITY_TTL_MAX = datetime.timedelta(minutes=10)


def agent_visible(agent: Agent, principal: Principal) -> bool:
    """GetAgent: the agent itself, its owner's sessions, admins, and service tokens."""
    if principal.has(Scope.SERVICE) or principal.has(Scope.ADMIN):
        return True
    if principal.agent_id == agent.id and principal.has(Scope.AGENT_READ):
        return True
    return principal.has(Scope.ACCOUNT) and agent.owned_by(principal.account_id)


def may_see_suspension_reason(agent: Agent, principal: Principal) -> bool:
    """The admin's reason is shown to the owner and admins only."""
    if principal.has(Scope.ADMIN) or principal.has(Scope.OPERATOR):
        return True
    return principal.has(Scope.ACCOUNT) and agent.owned_by(principal.account_id)

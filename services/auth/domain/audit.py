"""The insert-only audit log: what happened, who did it, to whom, and never a secret."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class EventType(StrEnum):
    ACCOUNT_REGISTERED = "account_registered"
    LOGIN_SUCCEEDED = "login_succeeded"
    LOGIN_FAILED = "login_failed"
    LOGIN_LOCKED_OUT = "login_locked_out"
    SESSION_REFRESHED = "session_refreshed"
    SESSION_REFRESH_REUSED = "session_refresh_reused"
    SESSION_LOGGED_OUT = "session_logged_out"
    SESSION_REVOKED = "session_revoked"
    AGENT_REGISTERED = "agent_registered"
    AGENT_CLAIMED = "agent_claimed"
    AGENT_CLAIM_FAILED = "agent_claim_failed"
    CLAIM_CODE_RENEWED = "claim_code_renewed"
    AGENT_REKEYED = "agent_rekeyed"
    AGENT_SUSPENDED = "agent_suspended"
    AGENT_REACTIVATED = "agent_reactivated"
    AGENT_ACCESS_DENIED = "agent_access_denied"
    KEY_CREATED = "key_created"
    KEY_UPDATED = "key_updated"
    KEY_REVOKED = "key_revoked"
    ROLE_CHANGED = "role_changed"
    TRUST_TIER_CHANGED = "trust_tier_changed"
    IDENTITY_TOKEN_CREATED = "identity_token_created"  # noqa: S105 - an event name
    IDENTITY_TOKEN_VERIFIED = "identity_token_verified"  # noqa: S105 - an event name
    IDENTITY_TOKEN_REJECTED = "identity_token_rejected"  # noqa: S105 - an event name
    ADMIN_ACCOUNT_CREATED = "admin_account_created"
    SIGNING_KEY_ROTATED = "signing_key_rotated"
    SIGNING_KEYS_RESEALED = "signing_keys_resealed"


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"


@dataclass(frozen=True)
class Actor:
    """Who acted: a session's account, an agent's key, or a peer service."""

    account_id: uuid.UUID | None = None
    agent_id: uuid.UUID | None = None
    key_id: uuid.UUID | None = None
    service: str | None = None


@dataclass(frozen=True)
class RequestFacts:
    """What the gateway told us about the HTTP request."""

    client_ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class AuditEvent:
    id: uuid.UUID
    event_type: EventType
    outcome: Outcome
    occurred_at: datetime.datetime
    failure_reason: str | None = None
    actor: Actor = Actor()
    subject_account_id: uuid.UUID | None = None
    subject_agent_id: uuid.UUID | None = None
    subject_key_id: uuid.UUID | None = None
    subject_session_id: uuid.UUID | None = None
    request: RequestFacts = RequestFacts()
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        assert (self.outcome is Outcome.FAILURE) == (self.failure_reason is not None)

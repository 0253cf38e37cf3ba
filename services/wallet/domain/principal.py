"""Who is calling, as the ledger needs to know it: the verified access token and its peer.

Built in ``operations/access.py`` from :class:`services.common.tokens.VerifiedPrincipal`; the
rules in ``authority.py`` read only this.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

from services.wallet.domain.ledger import Initiator, InitiatorKind


class PrincipalKind(enum.Enum):
    AGENT_KEY = "agent_key"
    """A tokenmart_, th_ or thm_ key: acts as its agent and never as an account."""
    SESSION = "session"
    """An account session, possibly acting as one of the account's agents."""
    SERVICE = "service"
    """A peer service's own token (work without an end user)."""


class Scope(enum.StrEnum):
    AGENT_READ = "agent:read"
    AGENT_WRITE = "agent:write"
    INFERENCE = "inference"
    ACCOUNT = "account"
    ADMIN = "admin"
    SERVICE = "service"
    OPERATOR = "operator"


@dataclass(frozen=True)
class Principal:
    kind: PrincipalKind
    subject: str
    scopes: frozenset[str]
    peer: str
    """The mTLS identity of the service that forwarded the call."""
    agent_id: uuid.UUID | None = None
    account_id: uuid.UUID | None = None
    key_id: uuid.UUID | None = None
    agent_claimed: bool | None = None
    """Whether the acting agent has an owner; None without an acting agent."""
    service_name: str | None = None
    key_credit_limit_micros: int | None = None

    def __post_init__(self) -> None:
        # An agent credential never carries account authority (SPEC §1).
        assert self.kind is not PrincipalKind.AGENT_KEY or self.account_id is None
        assert self.kind is not PrincipalKind.AGENT_KEY or self.agent_id is not None
        assert self.kind is not PrincipalKind.SESSION or self.account_id is not None
        assert (self.kind is PrincipalKind.SERVICE) == (self.service_name is not None)
        assert (self.agent_id is None) == (self.agent_claimed is None)

    def has(self, scope: Scope) -> bool:
        return scope.value in self.scopes

    def has_any(self, *scopes: Scope) -> bool:
        return any(self.has(scope) for scope in scopes)

    @property
    def is_service(self) -> bool:
        return self.kind is PrincipalKind.SERVICE

    @property
    def is_privileged(self) -> bool:
        """An admin session or the operator (ctl): may read any account and the whole ledger."""
        return self.has_any(Scope.ADMIN, Scope.OPERATOR)

    @property
    def idempotency_key(self) -> str:
        """The principal in the replay log: its subject and the agent it acts as."""
        return f"{self.subject}|{self.agent_id}" if self.agent_id else self.subject

    def initiator(self, request_id: str) -> Initiator:
        if self.kind is PrincipalKind.SERVICE:
            kind = InitiatorKind.SERVICE
        elif self.agent_id is not None:
            kind = InitiatorKind.AGENT
        else:
            kind = InitiatorKind.ACCOUNT
        return Initiator(
            kind=kind,
            subject=self.subject,
            peer=self.peer,
            request_id=request_id,
            agent_id=self.agent_id,
            account_id=self.account_id,
            key_id=self.key_id,
        )

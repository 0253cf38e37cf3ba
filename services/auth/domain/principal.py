"""Who a credential speaks for, and what it may do (auth.proto's Principal and Scope).

The central rule of SPEC §1: an agent credential (``tokenmart_``, ``th_``, ``thm_``) acts as the
agent only and never carries account authority, whoever owns the agent. Account powers (admin,
claim, rekey, account wallet) come only from a ``tms_`` session. :func:`scopes_for` is the single
place where scopes are derived from a credential.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from services.auth.domain.credentials import CredentialKind


class CredentialFamily(StrEnum):
    """What a principal authenticated with (JWT ``tm_fam``)."""

    AGENT_KEY = "agent_key"
    INFERENCE_KEY = "inference_key"
    MANAGEMENT_KEY = "management_key"
    SESSION = "session"
    SERVICE = "service"

    @property
    def is_key(self) -> bool:
        return self in KEY_FAMILIES


KEY_FAMILIES = frozenset(
    {CredentialFamily.AGENT_KEY, CredentialFamily.INFERENCE_KEY, CredentialFamily.MANAGEMENT_KEY}
)
FAMILY_OF_KIND = {
    CredentialKind.AGENT_KEY: CredentialFamily.AGENT_KEY,
    CredentialKind.INFERENCE_KEY: CredentialFamily.INFERENCE_KEY,
    CredentialKind.MANAGEMENT_KEY: CredentialFamily.MANAGEMENT_KEY,
    CredentialKind.SESSION: CredentialFamily.SESSION,
}


class Scope(StrEnum):
    """One permission; the values are the JWT ``scope`` strings."""

    AGENT_READ = "agent:read"
    AGENT_WRITE = "agent:write"
    INFERENCE = "inference"
    KEYS_MANAGE = "keys:manage"
    ACCOUNT = "account"
    ADMIN = "admin"
    SUPER_ADMIN = "super_admin"
    SERVICE = "service"
    OPERATOR = "operator"


class AccountRole(StrEnum):
    USER = "user"
    ADMIN = "admin"
    SUPER_ADMIN = "super_admin"


class AgentLifecycle(StrEnum):
    REGISTERED_UNCLAIMED = "registered_unclaimed"
    CLAIMED = "claimed"


class AgentStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class Audience(StrEnum):
    """The services an access token may be presented to (JWT ``aud``)."""

    AUTH = "tokenmart.auth"
    WALLET = "tokenmart.wallet"
    PROVIDER = "tokenmart.provider"
    REVIEW = "tokenmart.review"


OPERATOR_SERVICE = "ctl"
"""The peer whose service tokens carry ``operator`` (tokenmartctl)."""

_AGENT_KEY_SCOPES = {
    CredentialFamily.AGENT_KEY: frozenset({Scope.AGENT_READ, Scope.AGENT_WRITE}),
    CredentialFamily.INFERENCE_KEY: frozenset({Scope.AGENT_READ, Scope.INFERENCE}),
    CredentialFamily.MANAGEMENT_KEY: frozenset({Scope.AGENT_READ, Scope.KEYS_MANAGE}),
}
_ACCOUNT_ONLY = frozenset({Scope.ACCOUNT, Scope.ADMIN, Scope.SUPER_ADMIN})


def scopes_for(
    family: CredentialFamily,
    *,
    role: AccountRole | None = None,
    acting_agent: bool = False,
    service_name: str | None = None,
) -> frozenset[Scope]:
    """The scopes of a credential (auth.proto, "Scopes by credential family")."""
    if family in _AGENT_KEY_SCOPES:
        assert role is None and service_name is None
        scopes = _AGENT_KEY_SCOPES[family]
        # The invariant this whole module exists for.
        assert not scopes & _ACCOUNT_ONLY
        return scopes
    if family is CredentialFamily.SERVICE:
        assert service_name and role is None and not acting_agent
        if service_name == OPERATOR_SERVICE:
            return frozenset({Scope.SERVICE, Scope.OPERATOR})
        return frozenset({Scope.SERVICE})
    assert family is CredentialFamily.SESSION and role is not None
    granted = {Scope.ACCOUNT}
    if role in (AccountRole.ADMIN, AccountRole.SUPER_ADMIN):
        granted.add(Scope.ADMIN)
    if role is AccountRole.SUPER_ADMIN:
        granted.add(Scope.SUPER_ADMIN)
    if acting_agent:
        granted |= {Scope.AGENT_READ, Scope.AGENT_WRITE, Scope.KEYS_MANAGE}
    return frozenset(granted)


@dataclass(frozen=True)
class KeyLimits:
    """An API key's limits as tokens carry them (auth.proto KeyLimits)."""

    rate_limit_rpm: int
    """Effective requests per minute (the configured default when the key has none)."""
    credit_limit_micros: int | None = None
    allowed_models: tuple[str, ...] = ()
    expires_at_s: int | None = None
    is_management: bool = False


@dataclass(frozen=True)
class Principal:
    """Who a credential speaks for; the same facts as the access token's claims."""

    family: CredentialFamily
    scopes: frozenset[Scope]
    account_id: uuid.UUID | None = None
    agent_id: uuid.UUID | None = None
    key_id: uuid.UUID | None = None
    session_id: uuid.UUID | None = None
    role: AccountRole | None = None
    agent_lifecycle: AgentLifecycle | None = None
    agent_status: AgentStatus | None = None
    agent_owner_account_id: uuid.UUID | None = None
    key_limits: KeyLimits | None = None
    service_name: str | None = None

    def __post_init__(self) -> None:
        # An agent credential never carries account authority (SPEC §1).
        if self.family.is_key:
            assert self.account_id is None and self.session_id is None and self.role is None
            assert self.agent_id is not None and self.key_id is not None
            assert not self.scopes & _ACCOUNT_ONLY
        if self.family is CredentialFamily.SESSION:
            assert self.account_id is not None and self.session_id is not None
            assert self.role is not None and self.key_id is None
            # A session acts only as an agent its account owns.
            assert self.agent_id is None or self.agent_owner_account_id == self.account_id
        if self.family is CredentialFamily.SERVICE:
            assert self.service_name and self.account_id is None and self.agent_id is None
        assert (
            (self.agent_id is None) == (self.agent_lifecycle is None) == (self.agent_status is None)
        )

    @property
    def subject(self) -> str:
        """JWT ``sub``: ``agent:<uuid>``, ``account:<uuid>`` or ``service:<name>``."""
        if self.family is CredentialFamily.SERVICE:
            return f"service:{self.service_name}"
        if self.family is CredentialFamily.SESSION:
            return f"account:{self.account_id}"
        return f"agent:{self.agent_id}"

    @property
    def is_session(self) -> bool:
        return self.family is CredentialFamily.SESSION

    @property
    def is_service(self) -> bool:
        return self.family is CredentialFamily.SERVICE

    def has(self, scope: Scope) -> bool:
        return scope in self.scopes

    def has_any(self, *scopes: Scope) -> bool:
        return any(scope in self.scopes for scope in scopes)

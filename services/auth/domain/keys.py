"""API keys (``tokenmart_``, ``th_``, ``thm_``) and the rules for managing them.

* A ``thm_`` management key mints and changes keys only within its own limits: credit limit,
  rate limit, expiry and allowed models (THREATS D10). A limited parent never yields an
  unlimited child; "unset" is the widest value of each limit.
* Revocation is final: no update un-revokes (also a database trigger).
* A key cannot revoke itself.
* ``tokenmart_`` keys carry no spend limits; only their rate limit and expiry apply.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from enum import StrEnum

from services.auth.domain.credentials import CredentialKind
from services.auth.domain.principal import CredentialFamily


class KeyFamily(StrEnum):
    AGENT = "agent"
    INFERENCE = "inference"
    MANAGEMENT = "management"

    @property
    def kind(self) -> CredentialKind:
        return _KIND[self]

    @property
    def credential_family(self) -> CredentialFamily:
        return _CREDENTIAL_FAMILY[self]


_KIND = {
    KeyFamily.AGENT: CredentialKind.AGENT_KEY,
    KeyFamily.INFERENCE: CredentialKind.INFERENCE_KEY,
    KeyFamily.MANAGEMENT: CredentialKind.MANAGEMENT_KEY,
}
_CREDENTIAL_FAMILY = {
    KeyFamily.AGENT: CredentialFamily.AGENT_KEY,
    KeyFamily.INFERENCE: CredentialFamily.INFERENCE_KEY,
    KeyFamily.MANAGEMENT: CredentialFamily.MANAGEMENT_KEY,
}
FAMILY_OF_KIND = {kind: family for family, kind in _KIND.items()}
CREATABLE_FAMILIES = frozenset({KeyFamily.INFERENCE, KeyFamily.MANAGEMENT})
"""What CreateKey mints; ``tokenmart_`` keys come only from registration and rekey."""


class KeyStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Limits:
    """A key's limits as stored: None means unlimited / the default / never."""

    credit_limit_micros: int | None = None
    rate_limit_rpm: int | None = None
    allowed_models: tuple[str, ...] = ()
    expires_at: datetime.datetime | None = None

    def effective_rpm(self, default_rpm: int) -> int:
        return self.rate_limit_rpm if self.rate_limit_rpm is not None else default_rpm


@dataclass(frozen=True)
class ApiKey:
    id: uuid.UUID
    agent_id: uuid.UUID
    family: KeyFamily
    name: str
    key_prefix: str
    limits: Limits
    created_at: datetime.datetime
    updated_at: datetime.datetime
    last_used_at: datetime.datetime | None
    revoked_at: datetime.datetime | None
    revocation_reason: str | None
    created_by_key_id: uuid.UUID | None
    created_by_account_id: uuid.UUID | None

    def __post_init__(self) -> None:
        if self.family is KeyFamily.AGENT:
            assert self.limits.credit_limit_micros is None and not self.limits.allowed_models
        assert not (self.created_by_key_id and self.created_by_account_id)
        assert self.revocation_reason is None or self.revoked_at is not None

    def status(self, now: datetime.datetime) -> KeyStatus:
        if self.revoked_at is not None:
            return KeyStatus.REVOKED
        if self.limits.expires_at is not None and self.limits.expires_at <= now:
            return KeyStatus.EXPIRED
        return KeyStatus.ACTIVE


class LimitExceedsCaller(Exception):
    """A ``thm_`` caller asked for more than it has; ``limit`` names which limit."""

    def __init__(self, limit: str) -> None:
        super().__init__(limit)
        self.limit = limit


def check_within(*, parent: Limits, child: Limits, default_rpm: int) -> None:
    """Raise :class:`LimitExceedsCaller` unless every limit of ``child`` is within ``parent``."""
    if parent.credit_limit_micros is not None and (
        child.credit_limit_micros is None or child.credit_limit_micros > parent.credit_limit_micros
    ):
        raise LimitExceedsCaller("credit_limit_micros")
    if child.effective_rpm(default_rpm) > parent.effective_rpm(default_rpm):
        raise LimitExceedsCaller("rate_limit_rpm")
    if parent.expires_at is not None and (
        child.expires_at is None or child.expires_at > parent.expires_at
    ):
        raise LimitExceedsCaller("expires_at")
    if parent.allowed_models and (
        not child.allowed_models or not set(child.allowed_models) <= set(parent.allowed_models)
    ):
        raise LimitExceedsCaller("allowed_models")


@dataclass(frozen=True)
class LimitChanges:
    """An UpdateKey request: each field is None when unchanged; ``*_set`` says it is changed."""

    name: str | None = None
    credit_limit_set: bool = False
    credit_limit_micros: int | None = None
    rate_limit_set: bool = False
    rate_limit_rpm: int | None = None
    allowed_models_set: bool = False
    allowed_models: tuple[str, ...] = ()
    expiry_set: bool = False
    expires_at: datetime.datetime | None = None

    @property
    def empty(self) -> bool:
        return self.name is None and not (
            self.credit_limit_set
            or self.rate_limit_set
            or self.allowed_models_set
            or self.expiry_set
        )

    @property
    def touches_spend_limits(self) -> bool:
        return self.credit_limit_set or self.allowed_models_set

    def apply(self, limits: Limits) -> Limits:
        return Limits(
            credit_limit_micros=(
                self.credit_limit_micros if self.credit_limit_set else limits.credit_limit_micros
            ),
            rate_limit_rpm=self.rate_limit_rpm if self.rate_limit_set else limits.rate_limit_rpm,
            allowed_models=self.allowed_models
            if self.allowed_models_set
            else limits.allowed_models,
            expires_at=self.expires_at if self.expiry_set else limits.expires_at,
        )

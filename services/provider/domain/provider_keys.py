"""BYOK provider keys: their rules, and which key serves a request.

Priority per request (SPEC §3): the acting agent's own key for the model's provider, then the
owning account's key, then the platform key (billed at the registry price). A key marked
``always_use`` ends the chain: nothing after it is ever tried. A key that cannot be decrypted is
an error, never a reason to try the next key.
"""

from __future__ import annotations

import datetime
import re
import uuid
from dataclasses import dataclass
from enum import StrEnum

from services.provider.domain.billing import KeySource
from services.provider.domain.envelope import SealedSecret, SecretBinding
from services.provider.domain.registry import UpstreamProvider
from services.provider.domain.validation import Invalid, has_control_characters

SECRET_MIN_CHARS = 8
SECRET_MAX_CHARS = 512
LABEL_MAX_CHARS = 100
LAST_CHARS_SHOWN = 4
_SECRET = re.compile(r"^[\x21-\x7e]{8,512}$")


class ProviderKeyScope(StrEnum):
    """Who a BYOK key belongs to (the values are stored)."""

    AGENT = "agent"
    ACCOUNT = "account"


@dataclass(frozen=True)
class ProviderKey:
    id: uuid.UUID
    provider: UpstreamProvider
    scope: ProviderKeyScope
    agent_id: uuid.UUID | None
    account_id: uuid.UUID | None
    label: str
    last4: str
    always_use: bool
    sealed: SealedSecret | None
    """None once deleted: the ciphertext is destroyed."""
    created_at: datetime.datetime
    last_used_at: datetime.datetime | None
    deleted_at: datetime.datetime | None

    def __post_init__(self) -> None:
        # Exactly one owner, matching the scope (also ck_provider_keys_owner_matches_scope).
        if self.scope is ProviderKeyScope.AGENT:
            assert self.agent_id is not None and self.account_id is None
        else:
            assert self.account_id is not None and self.agent_id is None
        assert (self.sealed is None) == (self.deleted_at is not None)
        assert len(self.last4) == LAST_CHARS_SHOWN

    @property
    def owner_id(self) -> uuid.UUID:
        owner = self.agent_id if self.scope is ProviderKeyScope.AGENT else self.account_id
        assert owner is not None
        return owner

    @property
    def binding(self) -> SecretBinding:
        return binding_for(
            provider_key_id=self.id,
            scope=self.scope,
            owner_id=self.owner_id,
            provider=self.provider,
        )


def binding_for(
    *,
    provider_key_id: uuid.UUID,
    scope: ProviderKeyScope,
    owner_id: uuid.UUID,
    provider: UpstreamProvider,
) -> SecretBinding:
    return SecretBinding(
        provider_key_id=provider_key_id,
        scope=scope.value,
        owner_id=owner_id,
        provider=provider.value,
    )


def validate_secret(secret: str) -> str:
    """A provider secret: 8 to 512 visible ASCII characters (no whitespace, no controls)."""
    if not _SECRET.match(secret):
        raise Invalid("SECRET_INVALID", "secret")
    return secret


def validate_label(label: str) -> str:
    if len(label) > LABEL_MAX_CHARS or has_control_characters(label):
        raise Invalid("LABEL_INVALID", "label")
    return label


def last_chars(secret: str) -> str:
    """The only part of a secret that ever leaves provider."""
    assert len(secret) >= SECRET_MIN_CHARS
    return secret[-LAST_CHARS_SHOWN:]


@dataclass(frozen=True)
class KeyChoice:
    """One key a request may use, in priority order."""

    source: KeySource
    provider_key: ProviderKey | None
    """The BYOK key; None for the platform key."""

    @property
    def may_fall_back(self) -> bool:
        """Whether a refusal by upstream lets the next key be tried."""
        return self.provider_key is not None and not self.provider_key.always_use


def key_chain(
    *,
    agent_key: ProviderKey | None,
    account_key: ProviderKey | None,
    platform_key_configured: bool,
) -> tuple[KeyChoice, ...]:
    """The keys a request may use, best first; empty means NO_PROVIDER_KEY."""
    chain: list[KeyChoice] = []
    for key, source in (
        (agent_key, KeySource.BYOK_AGENT),
        (account_key, KeySource.BYOK_ACCOUNT),
    ):
        if key is None:
            continue
        assert key.deleted_at is None
        chain.append(KeyChoice(source=source, provider_key=key))
        if key.always_use:
            return tuple(chain)
    if platform_key_configured:
        chain.append(KeyChoice(source=KeySource.PLATFORM, provider_key=None))
    return tuple(chain)

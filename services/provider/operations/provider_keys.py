"""BYOK keys: storing, listing, deleting, and re-wrapping them under a new KEK.

Who may manage what (THREATS D7):

* an agent's keys: that agent's management key (scope ``keys:manage``), or an account session
  acting as that agent (X-Agent-Id, ownership checked by auth);
* an account's keys: only that account's session. An agent credential never reaches them, even
  when the agent's owner is that account: it gets ACCOUNT_SESSION_REQUIRED when it tries to
  create one and NOT_FOUND when it names one.

The secret appears only in the create request; it is sealed at once (``domain/envelope.py``) and
only its last four characters are kept in clear.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.tokens import Scope
from services.provider import errors
from services.provider.domain import pagination
from services.provider.domain.envelope import DecryptionFailed
from services.provider.domain.provider_keys import (
    ProviderKey,
    ProviderKeyScope,
    binding_for,
    last_chars,
    validate_label,
    validate_secret,
)
from services.provider.domain.registry import UpstreamProvider
from services.provider.operations.access import Caller
from services.provider.operations.runtime import Runtime
from services.provider.store import provider_keys as store

REWRAP_BATCH = 200
REWRAP_MAX_PER_CALL = 5000
FAILED_IDS_SHOWN = 100


@dataclass(frozen=True)
class Created:
    key: ProviderKey
    replaced_key_id: uuid.UUID | None


def _owner(caller: Caller, scope: ProviderKeyScope) -> uuid.UUID:
    """The owner a new key of ``scope`` gets, if this caller may manage that scope."""
    principal = caller.principal
    if scope is ProviderKeyScope.ACCOUNT:
        if not principal.is_account or caller.account_uuid is None:
            raise errors.AccountSessionRequired()
        return caller.account_uuid
    agent = caller.agent_uuid
    if agent is None:
        raise errors.AgentRequired()
    caller.require(Scope.KEYS_MANAGE)
    return agent


async def _lock_owner(
    tx: AsyncConnection, scope: ProviderKeyScope, owner: uuid.UUID, provider: UpstreamProvider
) -> None:
    """Serialize key changes of one owner and provider (one live key each)."""
    await tx.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"provider_keys|{scope.value}|{owner}|{provider.value}"},
    )


async def create_key(
    tx: AsyncConnection,
    runtime: Runtime,
    caller: Caller,
    *,
    provider: UpstreamProvider,
    secret: str,
    scope: ProviderKeyScope,
    always_use: bool,
    label: str,
    replace_existing: bool,
) -> Created:
    caller.require(Scope.KEYS_MANAGE, Scope.ACCOUNT)
    validate_secret(secret)
    validate_label(label)
    owner = _owner(caller, scope)
    await _lock_owner(tx, scope, owner, provider)
    existing = await store.live_key(
        tx, scope=scope, owner_id=owner, provider=provider, for_update=True
    )
    now = runtime.now()
    if existing is not None:
        if not replace_existing:
            raise errors.ProviderKeyExists(str(existing.id))
        await store.delete_key(tx, existing.id, now=now)
    key_id = uuid.uuid4()
    sealed = runtime.envelope.seal(
        secret, binding_for(provider_key_id=key_id, scope=scope, owner_id=owner, provider=provider)
    )
    key = await store.insert_key(
        tx,
        key_id=key_id,
        provider=provider,
        scope=scope,
        owner_id=owner,
        label=label,
        last4=last_chars(secret),
        always_use=always_use,
        sealed=sealed,
        created_by=caller.idempotency_key,
        now=now,
    )
    return Created(key=key, replaced_key_id=existing.id if existing else None)


def _managed_owners(caller: Caller) -> list[tuple[ProviderKeyScope, uuid.UUID]]:
    owners: list[tuple[ProviderKeyScope, uuid.UUID]] = []
    if caller.agent_uuid is not None and caller.has(Scope.KEYS_MANAGE):
        owners.append((ProviderKeyScope.AGENT, caller.agent_uuid))
    if caller.principal.is_account and caller.account_uuid is not None:
        owners.append((ProviderKeyScope.ACCOUNT, caller.account_uuid))
    return owners


def _may_manage(caller: Caller, key: ProviderKey) -> bool:
    return (key.scope, key.owner_id) in _managed_owners(caller)


@dataclass(frozen=True)
class KeyPage:
    keys: list[ProviderKey]
    next_page_token: str


async def list_keys(
    tx: AsyncConnection,
    runtime: Runtime,
    caller: Caller,
    *,
    requested_page_size: int,
    page_token: str,
    scope: ProviderKeyScope | None,
) -> KeyPage:
    caller.require(Scope.KEYS_MANAGE, Scope.ACCOUNT)
    size = pagination.page_size(requested_page_size)
    owners = [item for item in _managed_owners(caller) if scope is None or item[0] is scope]
    filters = {
        "owners": sorted(f"{kind.value}:{owner}" for kind, owner in owners),
        "scope": scope.value if scope else "",
    }
    position = runtime.page_tokens.decode(
        page_token, list_name="provider_keys", filters=filters, width=2
    )
    after = (
        (datetime.datetime.fromisoformat(position[0]), uuid.UUID(position[1])) if position else None
    )
    rows = await store.list_keys(tx, owners=owners, after=after, limit=size + 1)
    next_token = ""
    if len(rows) > size:
        rows = rows[:size]
        last = rows[-1]
        next_token = runtime.page_tokens.encode(
            list_name="provider_keys",
            filters=filters,
            position=(last.created_at.isoformat(), str(last.id)),
        )
    return KeyPage(keys=rows, next_page_token=next_token)


async def delete_key(
    tx: AsyncConnection, runtime: Runtime, caller: Caller, *, provider_key_id: uuid.UUID
) -> ProviderKey:
    caller.require(Scope.KEYS_MANAGE, Scope.ACCOUNT)
    key = await store.key_by_id(tx, provider_key_id, for_update=True)
    if key is None or not _may_manage(caller, key):
        raise errors.ProviderKeyNotFound()
    if key.deleted_at is not None:
        return key
    return await store.delete_key(tx, key.id, now=runtime.now())


@dataclass(frozen=True)
class Rotation:
    target_version: int
    rewrapped: int
    already_current: int
    failed_ids: list[uuid.UUID]
    remaining: int
    keys_by_version: dict[int, int]


async def rotate_kek(
    tx: AsyncConnection,
    runtime: Runtime,
    caller: Caller,
    *,
    target_version: int,
    max_keys: int,
) -> Rotation:
    """Re-wrap data keys under ``target_version`` (0: the primary KEK) in this transaction.

    Keys already on the target are skipped, so repeating the call is harmless and resumes where
    the last one stopped. Secrets are never decrypted: only their data keys are unwrapped and
    wrapped again.
    """
    caller.require(Scope.OPERATOR)
    if max_keys < 0:
        raise errors.MaxKeysInvalid()
    envelope = runtime.envelope
    target = target_version or envelope.primary_version
    if target not in envelope.versions:
        raise errors.KekVersionUnknown()
    budget = min(max_keys or REWRAP_MAX_PER_CALL, REWRAP_MAX_PER_CALL)
    already_current = (await store.counts_by_version(tx)).get(target, 0)
    rewrapped = 0
    failed: list[uuid.UUID] = []
    now = runtime.now()
    while rewrapped + len(failed) < budget:
        batch = await store.keys_to_rewrap(
            tx,
            target_version=target,
            limit=min(REWRAP_BATCH, budget - rewrapped - len(failed)),
            exclude=failed,
        )
        if not batch:
            break
        for key in batch:
            assert key.sealed is not None
            try:
                sealed = envelope.rewrap(key.sealed, key.binding, version=target)
            except DecryptionFailed:
                failed.append(key.id)
                continue
            await store.store_rewrapped(tx, key.id, sealed, now=now)
            rewrapped += 1
    counts = await store.counts_by_version(tx)
    return Rotation(
        target_version=target,
        rewrapped=rewrapped,
        already_current=already_current,
        failed_ids=failed,
        remaining=sum(count for version, count in counts.items() if version != target),
        keys_by_version=counts,
    )

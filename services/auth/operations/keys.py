"""API keys: CreateKey, ListKeys, GetKey, UpdateKey, RevokeKey, GetCurrentKey.

Who may manage which key:

* a session manages every key of every agent its account owns;
* a ``thm_`` key manages the ``th_``/``thm_`` keys of its own agent, within its own limits, and
  sees (but cannot change) that agent's ``tokenmart_`` keys;
* nobody else. A key the caller may not manage answers KEY_NOT_FOUND, exactly like a key that
  does not exist, so key ids are no existence oracle.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth import errors
from services.auth.domain import credentials, validation
from services.auth.domain.accounts import Agent
from services.auth.domain.audit import EventType
from services.auth.domain.keys import (
    CREATABLE_FAMILIES,
    ApiKey,
    KeyFamily,
    LimitChanges,
    LimitExceedsCaller,
    Limits,
    check_within,
)
from services.auth.domain.principal import AgentLifecycle, CredentialFamily, Principal, Scope
from services.auth.operations.access import require
from services.auth.operations.common import checked, decode_position, next_page_token, page_size
from services.auth.operations.runtime import Caller, Runtime, record
from services.auth.store import agents as agent_store
from services.auth.store import keys as store
from services.common.db import lock_not_available


def _is_management(principal: Principal) -> bool:
    return principal.family is CredentialFamily.MANAGEMENT_KEY


async def _caller_limits(tx: AsyncSession, principal: Principal) -> Limits:
    """A thm_ caller's own limits, as stored now."""
    assert principal.key_id is not None
    key = await store.key_by_id(tx, principal.key_id)
    assert key is not None, "the caller's key was checked live"
    return key.limits


def _within_caller(runtime: Runtime, *, parent: Limits, child: Limits) -> None:
    try:
        check_within(
            parent=parent, child=child, default_rpm=runtime.settings.keys.default_rate_limit_rpm
        )
    except LimitExceedsCaller as exceeded:
        raise errors.LimitExceedsCaller(exceeded.limit) from None


async def _manageable_agent(
    tx: AsyncSession, principal: Principal, agent_id: uuid.UUID, *, lock: bool = False
) -> Agent:
    """The agent if the caller may manage its keys, else AGENT_NOT_FOUND."""
    agent = await agent_store.agent_by_id(tx, agent_id, lock=lock)
    if agent is None:
        raise errors.AgentNotFound()
    if _is_management(principal):
        if agent.id != principal.agent_id:
            raise errors.AgentNotFound()
    elif not (principal.has(Scope.ACCOUNT) and agent.owned_by(principal.account_id)):
        raise errors.AgentNotFound()
    return agent


async def _visible_key(
    tx: AsyncSession, principal: Principal, key_id: str, *, lock: bool = False
) -> ApiKey:
    target = checked(lambda: validation.uuid_field(key_id, field="key_id"))
    try:
        key = await store.key_by_id(tx, target, lock=lock, nowait=lock)
    except sa_exc.DBAPIError as error:
        if lock_not_available(error):
            raise errors.KeyUpdateConflict() from None
        raise
    if key is None:
        raise errors.KeyNotFound()
    if _is_management(principal):
        visible = key.agent_id == principal.agent_id
    else:
        agent = await agent_store.agent_by_id(tx, key.agent_id)
        visible = (
            agent is not None
            and principal.has(Scope.ACCOUNT)
            and agent.owned_by(principal.account_id)
        )
    if not visible:
        raise errors.KeyNotFound()
    return key


def _require_manager(caller: Caller) -> None:
    require(caller, Scope.KEYS_MANAGE, Scope.ACCOUNT)


def _mutable(principal: Principal, key: ApiKey) -> None:
    """A thm_ key changes only th_/thm_ keys; a tokenmart_ key belongs to the owner's session."""
    if _is_management(principal) and key.family is KeyFamily.AGENT:
        raise errors.KeyNotFound()


# -- create -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateKeyCommand:
    agent_id: str
    family: KeyFamily
    name: str
    credit_limit_micros: int | None
    rate_limit_rpm: int | None
    expires_in: datetime.timedelta | None
    allowed_models: tuple[str, ...]


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    raw_key: str


async def create_key(
    tx: AsyncSession, runtime: Runtime, caller: Caller, command: CreateKeyCommand
) -> CreatedKey:
    _require_manager(caller)
    principal = caller.principal
    if command.family not in CREATABLE_FAMILIES:
        raise errors.KeyFamilyNotCreatable()
    now = runtime.now()
    name = checked(lambda: validation.key_name(command.name))
    credit_limit = checked(lambda: validation.credit_limit(command.credit_limit_micros))
    rate_limit = checked(lambda: validation.rate_limit(command.rate_limit_rpm))
    models = checked(lambda: validation.allowed_models(command.allowed_models))
    expires_at = None
    if command.expires_in is not None:
        lifetime = command.expires_in
        if lifetime <= datetime.timedelta(0):
            raise errors.ExpiryInvalid(metadata={"field": "expires_in"})
        expires_at = checked(
            lambda: validation.key_expiry(expires_at=now + lifetime, now=now, field="expires_in")
        )
    target = (
        checked(lambda: validation.optional_uuid_field(command.agent_id, field="agent_id"))
        or principal.agent_id
    )
    if target is None:
        raise errors.AgentRequired()
    # The agent row lock serializes key creation per agent, so the count below is exact.
    agent = await _manageable_agent(tx, principal, target, lock=True)
    limits = Limits(
        credit_limit_micros=credit_limit,
        rate_limit_rpm=rate_limit,
        allowed_models=models,
        expires_at=expires_at,
    )
    if _is_management(principal):
        _within_caller(runtime, parent=await _caller_limits(tx, principal), child=limits)
    if agent.lifecycle is not AgentLifecycle.CLAIMED:
        raise errors.AgentNotClaimed()
    if await store.count_unrevoked(tx, agent.id) >= runtime.settings.keys.max_keys_per_agent:
        raise errors.KeyCountExceeded()
    credential = credentials.generate(command.family.kind)
    key = await store.insert_key(
        tx,
        agent_id=agent.id,
        family=command.family,
        name=name,
        secret_hash=runtime.digester.digest(credential),
        key_prefix=credential.display_prefix,
        limits=limits,
        now=now,
        created_by_key_id=principal.key_id if _is_management(principal) else None,
        created_by_account_id=principal.account_id if principal.is_session else None,
    )
    await record(
        tx,
        runtime,
        EventType.KEY_CREATED,
        actor=caller.actor,
        subject_agent_id=agent.id,
        subject_key_id=key.id,
        subject_account_id=agent.owner_account_id,
        details={"family": key.family.value, **_limit_details(limits)},
    )
    return CreatedKey(key=key, raw_key=credential.raw)


def _limit_details(limits: Limits) -> dict[str, object]:
    return {
        "credit_limit_micros": limits.credit_limit_micros,
        "rate_limit_rpm": limits.rate_limit_rpm,
        "allowed_models": list(limits.allowed_models),
        "expires_at": limits.expires_at.isoformat() if limits.expires_at else None,
    }


# -- read ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyPage:
    keys: list[ApiKey]
    next_page_token: str


async def list_keys(
    tx: AsyncSession,
    runtime: Runtime,
    caller: Caller,
    *,
    requested_page_size: int,
    page_token: str,
    agent_id: str,
    families: frozenset[KeyFamily],
    include_inactive: bool,
) -> KeyPage:
    _require_manager(caller)
    principal = caller.principal
    size = page_size(requested_page_size)
    target = checked(lambda: validation.optional_uuid_field(agent_id, field="agent_id"))
    agent_ids: list[uuid.UUID] | None = None
    owner: uuid.UUID | None = None
    if target is not None:
        agent_ids = [(await _manageable_agent(tx, principal, target)).id]
    elif _is_management(principal):
        assert principal.agent_id is not None
        agent_ids = [principal.agent_id]
    else:
        owner = principal.account_id
    filters = {
        "scope": principal.subject,
        "agent": str(target or ""),
        "families": sorted(family.value for family in families),
        "include_inactive": include_inactive,
    }
    after = decode_position(runtime, page_token, list_name="keys", filters=filters)
    rows = await store.list_keys(
        tx,
        agent_ids=agent_ids,
        owner_account_id=owner,
        families=families,
        include_inactive=include_inactive,
        now=runtime.now(),
        after=after,
        limit=size + 1,
    )
    return KeyPage(
        keys=rows[:size],
        next_page_token=next_page_token(
            runtime,
            rows,
            page_size=size,
            list_name="keys",
            filters=filters,
            position=lambda key: (key.created_at, key.id),
        ),
    )


async def get_key(tx: AsyncSession, caller: Caller, *, key_id: str) -> ApiKey:
    _require_manager(caller)
    return await _visible_key(tx, caller.principal, key_id)


async def get_current_key(tx: AsyncSession, caller: Caller) -> ApiKey:
    key_id = caller.principal.key_id
    if key_id is None:
        raise errors.NotAKeyCredential()
    key = await store.key_by_id(tx, key_id)
    assert key is not None, "the caller's key was checked live"
    return key


# -- change -------------------------------------------------------------------------------------


async def update_key(
    tx: AsyncSession, runtime: Runtime, caller: Caller, *, key_id: str, changes: LimitChanges
) -> ApiKey:
    _require_manager(caller)
    principal = caller.principal
    if changes.empty:
        raise errors.NoFieldsToUpdate()
    now = runtime.now()
    new_name = changes.name
    name = checked(lambda: validation.key_name(new_name)) if new_name is not None else None
    checked(lambda: validation.credit_limit(changes.credit_limit_micros))
    checked(lambda: validation.rate_limit(changes.rate_limit_rpm))
    checked(lambda: validation.allowed_models(changes.allowed_models))
    checked(lambda: validation.key_expiry(expires_at=changes.expires_at, now=now, field="expiry"))
    # NOWAIT: a concurrent change holds the row; the caller re-reads and retries.
    key = await _visible_key(tx, principal, key_id, lock=True)
    _mutable(principal, key)
    if key.revoked_at is not None:
        raise errors.KeyRevoked()
    if key.family is KeyFamily.AGENT and changes.touches_spend_limits:
        raise errors.LimitsNotApplicable()
    limits = changes.apply(key.limits)
    if _is_management(principal):
        _within_caller(runtime, parent=await _caller_limits(tx, principal), child=limits)
    updated = await store.update_key(tx, key.id, name=name or key.name, limits=limits, now=now)
    await record(
        tx,
        runtime,
        EventType.KEY_UPDATED,
        actor=caller.actor,
        subject_agent_id=key.agent_id,
        subject_key_id=key.id,
        details={"name_changed": name is not None, **_limit_details(limits)},
    )
    return updated


async def revoke_key(
    tx: AsyncSession, runtime: Runtime, caller: Caller, *, key_id: str, reason: str
) -> ApiKey:
    _require_manager(caller)
    principal = caller.principal
    why = checked(lambda: validation.optional_reason(reason))
    key = await _visible_key(tx, principal, key_id)
    _mutable(principal, key)
    if key.id == principal.key_id:
        raise errors.CannotRevokeCurrentKey()
    if key.revoked_at is not None:
        return key
    revoked = await store.revoke_key(tx, key.id, reason=why, now=runtime.now())
    await record(
        tx,
        runtime,
        EventType.KEY_REVOKED,
        actor=caller.actor,
        subject_agent_id=key.agent_id,
        subject_key_id=key.id,
        details={"family": key.family.value},
    )
    return revoked

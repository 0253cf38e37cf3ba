"""Agents: RegisterAgent, RenewClaimCode, ClaimAgent, GetAgent, ListAgents, RekeyAgent,
SuspendAgent, ReactivateAgent, SetTrustTier, GetTrustTier."""

from __future__ import annotations

import datetime
import math
import uuid
from dataclasses import dataclass

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth import errors
from services.auth.domain import credentials, lockout, validation
from services.auth.domain.accounts import Agent
from services.auth.domain.agents import agent_visible
from services.auth.domain.audit import Actor, EventType
from services.auth.domain.credentials import CredentialKind
from services.auth.domain.keys import ApiKey, KeyFamily, Limits
from services.auth.domain.principal import AgentLifecycle, AgentStatus, Scope
from services.auth.operations.access import require
from services.auth.operations.common import (
    advisory_lock,
    checked,
    decode_position,
    next_page_token,
    page_size,
)
from services.auth.operations.runtime import Caller, Runtime, record
from services.auth.store import agents as store
from services.auth.store import counters
from services.auth.store import keys as key_store
from services.common.db import RecordedRefusal, constraint_name
from services.common.errors import TokenMartError

NAME_UNIQUE = "uq_agents_name_normalised"
AGENT_KEY_NAME = "agent key"


def _retry_after(oldest: datetime.datetime | None, window_s: int, now: datetime.datetime) -> int:
    if oldest is None:
        return 1
    remaining = (oldest + datetime.timedelta(seconds=window_s) - now).total_seconds()
    return max(1, math.ceil(remaining))


async def _mint_agent_key(
    tx: AsyncSession,
    runtime: Runtime,
    agent_id: uuid.UUID,
    *,
    created_by_account_id: uuid.UUID | None,
    now: datetime.datetime,
) -> tuple[ApiKey, str]:
    credential = credentials.generate(CredentialKind.AGENT_KEY)
    key = await key_store.insert_key(
        tx,
        agent_id=agent_id,
        family=KeyFamily.AGENT,
        name=AGENT_KEY_NAME,
        secret_hash=runtime.digester.digest(credential),
        key_prefix=credential.display_prefix,
        limits=Limits(),
        now=now,
        created_by_key_id=None,
        created_by_account_id=created_by_account_id,
    )
    return key, credential.raw


async def _mint_claim_code(
    tx: AsyncSession, runtime: Runtime, agent_id: uuid.UUID, *, now: datetime.datetime
) -> tuple[uuid.UUID, str, datetime.datetime]:
    credential = credentials.generate(CredentialKind.CLAIM_CODE)
    expires_at = now + datetime.timedelta(seconds=runtime.settings.agents.claim_code_ttl_s)
    code = await store.insert_claim_code(
        tx,
        agent_id=agent_id,
        code_hash=runtime.digester.digest(credential),
        now=now,
        expires_at=expires_at,
    )
    return code.id, credential.raw, expires_at


# -- registration -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisteredAgent:
    agent: Agent
    key: ApiKey
    api_key: str
    claim_code: str
    claim_code_expires_at: datetime.datetime


async def register_agent(
    tx: AsyncSession,
    runtime: Runtime,
    *,
    name: str,
    description: str,
    harness: str,
    client_ip: str,
    user_agent: str,
) -> RegisteredAgent:
    agent_name = checked(lambda: validation.agent_name(name))
    agent_description = checked(lambda: validation.description(description))
    agent_harness = checked(lambda: validation.harness(harness))
    # Empty means the gateway could not tell; all such registrations share one bucket.
    ip = checked(lambda: validation.client_ip(client_ip))
    agent_string = validation.user_agent(user_agent)
    now = runtime.now()
    settings = runtime.settings.agents
    # Registrations from one address are counted under a lock, so a burst cannot overshoot.
    await advisory_lock(tx, f"registration|{ip or 'unknown'}")
    recent = await store.registrations_since(
        tx,
        registration_ip=ip,
        since=now - datetime.timedelta(seconds=settings.registration_window_s),
    )
    if recent.count >= settings.registrations_per_ip:
        raise errors.RegistrationRateLimited(
            _retry_after(recent.oldest, settings.registration_window_s, now)
        )
    try:
        async with tx.begin_nested():
            agent = await store.insert_agent(
                tx,
                name=agent_name,
                description=agent_description,
                harness=agent_harness,
                registration_ip=ip,
                now=now,
            )
    except sa_exc.IntegrityError as error:
        if constraint_name(error) == NAME_UNIQUE:
            raise errors.AgentNameTaken() from None
        raise
    key, raw_key = await _mint_agent_key(tx, runtime, agent.id, created_by_account_id=None, now=now)
    _, claim_code, claim_expires = await _mint_claim_code(tx, runtime, agent.id, now=now)
    await record(
        tx,
        runtime,
        EventType.AGENT_REGISTERED,
        actor=Actor(agent_id=agent.id),
        subject_agent_id=agent.id,
        subject_key_id=key.id,
        client_ip=ip,
        user_agent=agent_string,
    )
    return RegisteredAgent(
        agent=agent,
        key=key,
        api_key=raw_key,
        claim_code=claim_code,
        claim_code_expires_at=claim_expires,
    )


@dataclass(frozen=True)
class RenewedClaimCode:
    code_id: uuid.UUID
    claim_code: str
    expires_at: datetime.datetime


async def renew_claim_code(tx: AsyncSession, runtime: Runtime, caller: Caller) -> RenewedClaimCode:
    agent_id = caller.principal.agent_id
    if agent_id is None:
        raise errors.AgentRequired()
    require(caller, Scope.AGENT_WRITE)
    agent = await store.agent_by_id(tx, agent_id, lock=True)
    assert agent is not None, "the caller's agent was checked live"
    if agent.lifecycle is AgentLifecycle.CLAIMED:
        raise errors.AgentAlreadyClaimed()
    now = runtime.now()
    settings = runtime.settings.agents
    recent = await store.claim_codes_since(
        tx, agent.id, since=now - datetime.timedelta(seconds=settings.claim_renewal_window_s)
    )
    # The code issued at registration counts too: it was a code "issued" in the window.
    if recent.count > settings.claim_renewals_max:
        raise errors.ClaimCodeRateLimited(
            _retry_after(recent.oldest, settings.claim_renewal_window_s, now)
        )
    await store.burn_live_claim_codes(tx, agent.id, now=now)
    code_id, raw, expires_at = await _mint_claim_code(tx, runtime, agent.id, now=now)
    await record(
        tx, runtime, EventType.CLAIM_CODE_RENEWED, actor=caller.actor, subject_agent_id=agent.id
    )
    return RenewedClaimCode(code_id=code_id, claim_code=raw, expires_at=expires_at)


# -- claim --------------------------------------------------------------------------------------


def _claim_policy(runtime: Runtime, *, threshold: int) -> lockout.BackoffPolicy:
    settings = runtime.settings.agents
    window = settings.claim_attempt_window_s
    return lockout.BackoffPolicy(
        threshold=threshold, window_s=window, base_s=window, max_s=max(window, 86_400)
    )


async def claim_agent(
    tx: AsyncSession, runtime: Runtime, caller: Caller, *, claim_code: str, client_ip: str
) -> Agent:
    require(caller, Scope.ACCOUNT)
    account_id = caller.principal.account_id
    assert account_id is not None
    ip = checked(lambda: validation.client_ip(client_ip))
    now = runtime.now()
    settings = runtime.settings.agents
    subjects = [
        (
            "claim_account",
            runtime.digester.digest_text(label="claim-account", text=str(account_id)),
            settings.claim_attempts_per_account,
        )
    ]
    if ip is not None:
        subjects.append(
            (
                "claim_ip",
                runtime.digester.digest_text(label="claim-ip", text=ip),
                settings.claim_attempts_per_ip,
            )
        )
    for scope, subject, _ in subjects:
        await advisory_lock(tx, f"{scope}|{subject.hex()}")
    states = [
        (scope, subject, threshold, await counters.read(tx, scope=scope, subject=subject, now=now))
        for scope, subject, threshold in subjects
    ]

    async def refuse(
        error: TokenMartError, *, agent_id: uuid.UUID | None, count: bool
    ) -> RecordedRefusal:
        if count:
            for scope, subject, threshold, counter in states:
                await counters.save(
                    tx,
                    scope=scope,
                    subject=subject,
                    counter=lockout.after_failure(
                        counter, policy=_claim_policy(runtime, threshold=threshold), now=now
                    ),
                    now=now,
                )
        await record(
            tx,
            runtime,
            EventType.AGENT_CLAIM_FAILED,
            failure_reason=error.reason,
            actor=caller.actor,
            subject_account_id=account_id,
            subject_agent_id=agent_id,
            client_ip=ip,
        )
        return RecordedRefusal(error)

    retry_after = max(lockout.retry_after_s(counter, now) or 0 for *_, counter in states)
    if retry_after:
        raise await refuse(errors.ClaimAttemptsExceeded(retry_after), agent_id=None, count=False)
    try:
        credential = credentials.parse(claim_code.strip())
    except credentials.CredentialFormatError:
        raise await refuse(errors.ClaimCodeMalformed(), agent_id=None, count=True) from None
    if credential.kind is not CredentialKind.CLAIM_CODE:
        raise await refuse(errors.ClaimCodeMalformed(), agent_id=None, count=True)
    # The code's row lock serializes every claim of this code: the first one burns it.
    code = await store.claim_code_by_hash(tx, runtime.digester.digest(credential))
    if code is None or not code.usable(now):
        agent_id = code.agent_id if code else None
        raise await refuse(errors.ClaimCodeInvalid(), agent_id=agent_id, count=True)
    agent = await store.agent_by_id(tx, code.agent_id, lock=True)
    assert agent is not None
    if agent.status is AgentStatus.SUSPENDED:
        raise await refuse(errors.AgentSuspended(), agent_id=agent.id, count=False)
    claimed = await store.claim(tx, agent.id, owner_account_id=account_id, now=now)
    if claimed is None or not await store.consume_claim_code(
        tx, code.id, account_id=account_id, now=now
    ):
        raise await refuse(errors.ClaimCodeInvalid(), agent_id=agent.id, count=True)
    await store.burn_live_claim_codes(tx, agent.id, now=now)
    await record(
        tx,
        runtime,
        EventType.AGENT_CLAIMED,
        actor=caller.actor,
        subject_account_id=account_id,
        subject_agent_id=claimed.id,
        client_ip=ip,
    )
    return claimed


# -- reading ------------------------------------------------------------------------------------


async def get_agent(tx: AsyncSession, caller: Caller, *, agent_id: str) -> Agent:
    target = checked(lambda: validation.uuid_field(agent_id, field="agent_id"))
    agent = await store.agent_by_id(tx, target)
    if agent is None or not agent_visible(agent, caller.principal):
        raise errors.AgentNotFound()
    return agent


@dataclass(frozen=True)
class AgentPage:
    agents: list[Agent]
    next_page_token: str


async def list_agents(
    tx: AsyncSession,
    runtime: Runtime,
    caller: Caller,
    *,
    requested_page_size: int,
    page_token: str,
    owner_account_id: str,
    lifecycle: AgentLifecycle | None,
    status: AgentStatus | None,
    min_trust_tier: int,
    updated_after: datetime.datetime | None,
) -> AgentPage:
    require(caller, Scope.ACCOUNT, Scope.ADMIN, Scope.SERVICE)
    principal = caller.principal
    owner = checked(
        lambda: validation.optional_uuid_field(owner_account_id, field="owner_account_id")
    )
    tier = checked(lambda: validation.trust_tier(min_trust_tier))
    if not principal.has_any(Scope.ADMIN, Scope.SERVICE):
        if owner is not None and owner != principal.account_id:
            raise errors.OwnerFilterNotAllowed()
        owner = principal.account_id
    size = page_size(requested_page_size)
    where = store.AgentFilter(
        owner_account_id=owner,
        lifecycle=lifecycle,
        status=status,
        min_trust_tier=tier,
        updated_after=updated_after,
    )
    filters = {
        "owner": str(owner) if owner else "",
        "lifecycle": lifecycle.value if lifecycle else "",
        "status": status.value if status else "",
        "tier": tier,
        "after": updated_after.isoformat() if updated_after else "",
    }
    after = decode_position(runtime, page_token, list_name="agents", filters=filters)
    rows = await store.list_agents(tx, where=where, after=after, limit=size + 1)
    return AgentPage(
        agents=rows[:size],
        next_page_token=next_page_token(
            runtime,
            rows,
            page_size=size,
            list_name="agents",
            filters=filters,
            position=lambda agent: (agent.updated_at, agent.id),
        ),
    )


async def get_trust_tier(tx: AsyncSession, *, agent_id: str) -> Agent:
    target = checked(lambda: validation.uuid_field(agent_id, field="agent_id"))
    agent = await store.agent_by_id(tx, target)
    if agent is None:
        raise errors.AgentNotFound()
    return agent


# -- owner and admin actions --------------------------------------------------------------------


@dataclass(frozen=True)
class Rekeyed:
    agent: Agent
    key: ApiKey
    api_key: str
    revoked_key_ids: list[uuid.UUID]


async def rekey_agent(
    tx: AsyncSession, runtime: Runtime, caller: Caller, *, agent_id: str
) -> Rekeyed:
    require(caller, Scope.ACCOUNT)
    target = checked(lambda: validation.uuid_field(agent_id, field="agent_id"))
    agent = await store.agent_by_id(tx, target, lock=True)
    if agent is None or not agent.owned_by(caller.principal.account_id):
        raise errors.AgentNotFound()
    if agent.status is AgentStatus.SUSPENDED:
        raise errors.AgentSuspended()
    now = runtime.now()
    # Revoke and mint in this one transaction: there is never a moment with two live
    # tokenmart_ keys, nor one with none that a crash could leave behind.
    revoked = await key_store.revoke_agent_keys(
        tx, agent.id, family=KeyFamily.AGENT, reason="rekey", now=now
    )
    key, raw_key = await _mint_agent_key(
        tx, runtime, agent.id, created_by_account_id=caller.principal.account_id, now=now
    )
    await record(
        tx,
        runtime,
        EventType.AGENT_REKEYED,
        actor=caller.actor,
        subject_agent_id=agent.id,
        subject_key_id=key.id,
        details={"revoked_key_ids": [str(key_id) for key_id in revoked]},
    )
    return Rekeyed(agent=agent, key=key, api_key=raw_key, revoked_key_ids=revoked)


async def set_status(
    tx: AsyncSession,
    runtime: Runtime,
    caller: Caller,
    *,
    agent_id: str,
    status: AgentStatus,
    reason: str,
) -> Agent:
    require(caller, Scope.ADMIN, Scope.OPERATOR)
    target = checked(lambda: validation.uuid_field(agent_id, field="agent_id"))
    why = checked(lambda: validation.required_reason(reason))
    agent = await store.agent_by_id(tx, target, lock=True)
    if agent is None:
        raise errors.AgentNotFound()
    if agent.status is status:
        return agent
    agent = await store.set_status(
        tx,
        agent.id,
        status=status,
        reason=why if status is AgentStatus.SUSPENDED else None,
        now=runtime.now(),
    )
    await record(
        tx,
        runtime,
        EventType.AGENT_SUSPENDED
        if status is AgentStatus.SUSPENDED
        else EventType.AGENT_REACTIVATED,
        actor=caller.actor,
        subject_agent_id=agent.id,
        subject_account_id=agent.owner_account_id,
        details={"reason": why},
    )
    return agent


@dataclass(frozen=True)
class TierChange:
    agent: Agent
    previous_trust_tier: int


async def set_trust_tier(
    tx: AsyncSession,
    runtime: Runtime,
    caller: Caller,
    *,
    agent_id: str,
    trust_tier: int,
    reason: str,
) -> TierChange:
    require(caller, Scope.ADMIN, Scope.OPERATOR)
    target = checked(lambda: validation.uuid_field(agent_id, field="agent_id"))
    tier = checked(lambda: validation.trust_tier(trust_tier))
    why = checked(lambda: validation.required_reason(reason))
    agent = await store.agent_by_id(tx, target, lock=True)
    if agent is None:
        raise errors.AgentNotFound()
    previous = agent.trust_tier
    if previous == tier:
        return TierChange(agent=agent, previous_trust_tier=previous)
    agent = await store.set_trust_tier(tx, agent.id, trust_tier=tier, now=runtime.now())
    await record(
        tx,
        runtime,
        EventType.TRUST_TIER_CHANGED,
        actor=caller.actor,
        subject_agent_id=agent.id,
        details={"previous_trust_tier": previous, "trust_tier": tier, "reason": why},
    )
    return TierChange(agent=agent, previous_trust_tier=previous)

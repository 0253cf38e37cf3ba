"""Identity tokens ("Sign in with TokenMart"): CreateIdentityToken, VerifyIdentityToken.

A ``tmid_`` token proves the agent to one named third party, once: the first verification that
finds the token burns it whatever the outcome, so a probe with a wrong audience cannot be
followed by a real use, and a token that leaked after use is worthless.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.auth import errors
from services.auth.domain import credentials, validation
from services.auth.domain.accounts import Agent
from services.auth.domain.agents import (
    IDENTITY_TTL_MAX,
    IDENTITY_TTL_MIN,
    IdentityOutcome,
    identity_outcome,
)
from services.auth.domain.audit import EventType
from services.auth.domain.credentials import CredentialKind
from services.auth.domain.principal import Scope
from services.auth.operations.access import require
from services.auth.operations.common import checked
from services.auth.operations.runtime import Caller, Runtime, record
from services.auth.store import agents as store


@dataclass(frozen=True)
class CreatedIdentityToken:
    token_id: uuid.UUID
    identity_token: str
    audience: str
    expires_at: datetime.datetime
    agent: Agent


async def create_identity_token(
    tx: AsyncSession,
    runtime: Runtime,
    caller: Caller,
    *,
    audience: str,
    ttl: datetime.timedelta | None,
) -> CreatedIdentityToken:
    agent_id = caller.principal.agent_id
    if agent_id is None:
        raise errors.AgentRequired()
    require(caller, Scope.AGENT_WRITE)
    bound_audience = checked(lambda: validation.audience(audience))
    if ttl is None:
        ttl = datetime.timedelta(seconds=runtime.settings.tokens.identity_token_ttl_s)
    elif not IDENTITY_TTL_MIN <= ttl <= IDENTITY_TTL_MAX:
        raise errors.TtlInvalid()
    agent = await store.agent_by_id(tx, agent_id)
    assert agent is not None and agent.active, "the caller's agent was checked live"
    now = runtime.now()
    credential = credentials.generate(CredentialKind.IDENTITY)
    token = await store.insert_identity_token(
        tx,
        agent_id=agent.id,
        token_hash=runtime.digester.digest(credential),
        audience=bound_audience,
        now=now,
        expires_at=now + ttl,
    )
    await record(
        tx,
        runtime,
        EventType.IDENTITY_TOKEN_CREATED,
        actor=caller.actor,
        subject_agent_id=agent.id,
        details={"identity_token_id": str(token.id), "audience": bound_audience},
    )
    return CreatedIdentityToken(
        token_id=token.id,
        identity_token=credential.raw,
        audience=bound_audience,
        expires_at=token.expires_at,
        agent=agent,
    )


@dataclass(frozen=True)
class Verification:
    outcome: IdentityOutcome | None
    """None when the token is unknown or was already used (see ``already_used``)."""
    already_used: bool
    agent: Agent | None
    verified_at: datetime.datetime

    @property
    def valid(self) -> bool:
        return self.outcome is IdentityOutcome.VALID


async def verify_identity_token(
    tx: AsyncSession,
    runtime: Runtime,
    *,
    identity_token: str,
    audience: str,
    client_ip: str,
) -> Verification:
    if not identity_token:
        raise errors.IdentityTokenRequired()
    claimed_audience = checked(lambda: validation.audience(audience))
    ip = checked(lambda: validation.client_ip(client_ip))
    now = runtime.now()
    unknown = Verification(outcome=None, already_used=False, agent=None, verified_at=now)
    try:
        credential = credentials.parse(identity_token)
    except credentials.CredentialFormatError:
        return unknown
    if credential.kind is not CredentialKind.IDENTITY:
        return unknown
    token = await store.identity_token_by_hash(tx, runtime.digester.digest(credential))
    if token is None:
        return unknown
    agent = await store.agent_by_id(tx, token.agent_id)
    assert agent is not None
    failure: str | None
    if token.consumed_at is not None:
        result = Verification(outcome=None, already_used=True, agent=None, verified_at=now)
        failure = "IDENTITY_TOKEN_ALREADY_USED"
    else:
        outcome = identity_outcome(token=token, agent=agent, audience=claimed_audience, now=now)
        await store.consume_identity_token(tx, token.id, outcome=outcome, now=now)
        valid = outcome is IdentityOutcome.VALID
        result = Verification(
            outcome=outcome, already_used=False, agent=agent if valid else None, verified_at=now
        )
        failure = None if valid else f"IDENTITY_TOKEN_{outcome.name}"
    await record(
        tx,
        runtime,
        EventType.IDENTITY_TOKEN_REJECTED if failure else EventType.IDENTITY_TOKEN_VERIFIED,
        failure_reason=failure,
        subject_agent_id=agent.id,
        client_ip=ip,
        details={"identity_token_id": str(token.id), "audience": claimed_audience},
    )
    return result

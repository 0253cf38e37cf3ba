"""Authenticate (the gateway's front door) and IssueServiceToken.

Authenticate, in order: request fields; credential format and checksum (no database work for a
malformed or mistyped credential); the family must be a bearer one; one indexed lookup by HMAC
digest; revoked, expired and suspended checks; X-Agent-Id ownership; the route's accepted
families; then the principal and a freshly signed access token.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.auth import errors
from services.auth.domain import credentials, validation
from services.auth.domain.access_tokens import IssuedToken, build_claims, sign
from services.auth.domain.audit import Actor, EventType
from services.auth.domain.principal import (
    FAMILY_OF_KIND,
    AgentStatus,
    Audience,
    CredentialFamily,
    KeyLimits,
    Principal,
    scopes_for,
)
from services.auth.operations.runtime import Runtime, record
from services.auth.store import accounts as account_store
from services.auth.store import agents as agent_store
from services.auth.store import keys as key_store
from services.common.db import RecordedRefusal
from services.common.errors import PermissionDenied

ALL_AUDIENCES = frozenset(Audience)
BEARER_FAMILIES = frozenset(
    {
        CredentialFamily.AGENT_KEY,
        CredentialFamily.INFERENCE_KEY,
        CredentialFamily.MANAGEMENT_KEY,
        CredentialFamily.SESSION,
    }
)


@dataclass(frozen=True)
class AuthenticateCommand:
    credential: str
    agent_id: str
    client_ip: str
    user_agent: str
    audiences: frozenset[Audience]
    """Empty means every service."""
    accepted_families: frozenset[CredentialFamily]
    """Empty means every bearer family."""


@dataclass(frozen=True)
class Authenticated:
    principal: Principal
    token: IssuedToken
    cache_for_ms: int


async def issue_token(
    runtime: Runtime, principal: Principal, audiences: Collection[Audience]
) -> IssuedToken:
    """Sign a token for ``principal``; lifetime from settings, at most five minutes."""
    material = await runtime.keyring.signing_material()
    issued_at = int(runtime.now().timestamp())
    ttl_s = runtime.settings.tokens.access_token_ttl_s
    jti = str(uuid.uuid4())
    claims = build_claims(
        principal, audiences=audiences or ALL_AUDIENCES, issued_at_s=issued_at, ttl_s=ttl_s, jti=jti
    )
    return IssuedToken(
        token=sign(claims, material),
        jti=jti,
        issued_at_s=issued_at,
        expires_at_s=issued_at + ttl_s,
    )


def _parse(raw: str) -> credentials.Credential:
    if not raw:
        raise errors.CredentialMissing()
    try:
        credential = credentials.parse(raw)
    except credentials.CredentialFormatError as failed:
        if failed.problem == credentials.CredentialFormatError.CHECKSUM:
            raise errors.CredentialChecksumInvalid() from None
        raise errors.CredentialMalformed() from None
    if not credential.kind.is_bearer:
        raise errors.CredentialNotBearer()
    return credential


async def authenticate(runtime: Runtime, command: AuthenticateCommand) -> Authenticated:
    try:
        agent_header = validation.optional_uuid_field(
            command.agent_id, field="agent_id", reason="AGENT_ID_INVALID"
        )
        client_ip = validation.client_ip(command.client_ip)
    except validation.Invalid as invalid:
        raise errors.invalid(invalid.reason, invalid.field) from None
    credential = _parse(command.credential)
    digest = runtime.digester.digest(credential)
    family = FAMILY_OF_KIND[credential.kind]
    user_agent = validation.user_agent(command.user_agent)

    async def body(tx: AsyncSession) -> Principal:
        now = runtime.now()
        if family is CredentialFamily.SESSION:
            principal = await _session_principal(
                tx, runtime, digest, agent_header=agent_header, now=now
            )
        else:
            principal = await _key_principal(
                tx, runtime, digest, agent_header=agent_header, now=now
            )
            # The digest covers the prefix, so a th_ secret can never find a thm_ row.
            assert principal.family is family
        accepted = command.accepted_families or BEARER_FAMILIES
        if principal.family not in accepted:
            raise errors.CredentialFamilyNotAccepted()
        return principal

    async def audited_body(tx: AsyncSession) -> Principal:
        try:
            return await body(tx)
        except _Denied as denied:
            await record(
                tx,
                runtime,
                EventType.AGENT_ACCESS_DENIED,
                failure_reason=denied.error.reason,
                actor=denied.actor,
                subject_agent_id=agent_header,
                subject_session_id=denied.session_id,
                client_ip=client_ip,
                user_agent=user_agent,
            )
            raise RecordedRefusal(denied.error) from None

    principal = await runtime.database.run(audited_body)
    token = await issue_token(runtime, principal, command.audiences)
    return Authenticated(
        principal=principal,
        token=token,
        cache_for_ms=runtime.settings.tokens.authenticate_cache_ms,
    )


class _Denied(Exception):
    """An X-Agent-Id refusal, audited before it is answered."""

    def __init__(
        self,
        error: PermissionDenied,
        *,
        actor: Actor,
        session_id: uuid.UUID | None = None,
    ) -> None:
        super().__init__(error.reason)
        self.error = error
        self.actor = actor
        self.session_id = session_id


async def _key_principal(
    tx: AsyncSession,
    runtime: Runtime,
    digest: bytes,
    *,
    agent_header: uuid.UUID | None,
    now: datetime.datetime,
) -> Principal:
    found = await key_store.key_by_hash(tx, digest)
    if found is None:
        raise errors.CredentialNotFound()
    key, agent = found
    if key.revoked_at is not None:
        raise errors.CredentialRevoked()
    if key.limits.expires_at is not None and key.limits.expires_at <= now:
        raise errors.CredentialExpired()
    if agent.status is AgentStatus.SUSPENDED:
        raise errors.AgentSuspendedCredential()
    if agent_header is not None and agent_header != agent.id:
        raise _Denied(errors.AgentHeaderMismatch(), actor=Actor(agent_id=agent.id, key_id=key.id))
    await key_store.touch_last_used(
        tx, key.id, now=now, resolution_s=runtime.settings.keys.last_used_resolution_s
    )
    family = key.family.credential_family
    limits = key.limits
    return Principal(
        family=family,
        scopes=scopes_for(family),
        agent_id=agent.id,
        key_id=key.id,
        agent_lifecycle=agent.lifecycle,
        agent_status=agent.status,
        agent_owner_account_id=agent.owner_account_id,
        key_limits=KeyLimits(
            rate_limit_rpm=limits.effective_rpm(runtime.settings.keys.default_rate_limit_rpm),
            credit_limit_micros=limits.credit_limit_micros,
            allowed_models=limits.allowed_models,
            expires_at_s=int(limits.expires_at.timestamp()) if limits.expires_at else None,
            is_management=family is CredentialFamily.MANAGEMENT_KEY,
        ),
    )


async def _session_principal(
    tx: AsyncSession,
    runtime: Runtime,
    digest: bytes,
    *,
    agent_header: uuid.UUID | None,
    now: datetime.datetime,
) -> Principal:
    found = await account_store.session_by_token_hash(tx, digest)
    if found is None:
        raise errors.CredentialNotFound()
    token, session, account = found
    if session.revoked_at is not None or token.rotated_at is not None:
        raise errors.CredentialRevoked()
    if now >= token.session_token_expires_at or now >= session.expires_at:
        raise errors.CredentialExpired()
    if agent_header is None:
        # Without X-Agent-Id no agent is chosen, however many the account owns.
        return Principal(
            family=CredentialFamily.SESSION,
            scopes=scopes_for(CredentialFamily.SESSION, role=account.role),
            account_id=account.id,
            session_id=session.id,
            role=account.role,
        )
    agent = await agent_store.agent_by_id(tx, agent_header)
    if agent is None or not agent.owned_by(account.id):
        # One answer for "not yours" and "does not exist": ids are no existence oracle.
        raise _Denied(
            errors.AgentNotOwned(), actor=Actor(account_id=account.id), session_id=session.id
        )
    if agent.status is AgentStatus.SUSPENDED:
        raise errors.AgentSuspendedActing()
    return Principal(
        family=CredentialFamily.SESSION,
        scopes=scopes_for(CredentialFamily.SESSION, role=account.role, acting_agent=True),
        account_id=account.id,
        session_id=session.id,
        role=account.role,
        agent_id=agent.id,
        agent_lifecycle=agent.lifecycle,
        agent_status=agent.status,
        agent_owner_account_id=account.id,
    )


async def issue_service_token(
    runtime: Runtime, *, peer: str, audiences: list[Audience]
) -> IssuedToken:
    """A token whose subject is the calling peer itself (from its certificate)."""
    if not audiences or len(set(audiences)) != len(audiences):
        raise errors.AudienceInvalid()
    principal = Principal(
        family=CredentialFamily.SERVICE,
        scopes=scopes_for(CredentialFamily.SERVICE, service_name=peer),
        service_name=peer,
    )
    return await issue_token(runtime, principal, audiences)

"""Principal authorization inside auth: the access token on an RPC, and whether it still holds.

:func:`verify_caller` checks the token locally with auth's own keys (algorithm pinned to EdDSA,
``aud`` must contain ``tokenmart.auth``) and binds a service token to the peer that presents it:
a token issued to ``ctl`` is refused from any other certificate.

:func:`live_caller` then re-reads, inside the RPC's transaction, what the token claimed: a
revoked key or session, an expired key, a suspended agent, or a session's lost ownership stops
the RPC even though the token is still within its five minutes, and a demoted account keeps only
the scopes its current role gives. Auth holds the database, so it does not need to trust a token
for longer than it takes to check it.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy.ext.asyncio import AsyncSession

from services.auth import errors
from services.auth.domain.access_tokens import TokenRejected
from services.auth.domain.principal import (
    AgentStatus,
    Audience,
    CredentialFamily,
    Scope,
    scopes_for,
)
from services.auth.operations.runtime import Caller, Runtime
from services.auth.store import accounts as account_store
from services.auth.store import agents as agent_store
from services.auth.store import keys as key_store

BEARER_PREFIX = "Bearer "


async def verify_caller(runtime: Runtime, *, authorization: str | None, peer: str) -> Caller:
    """The caller named by ``authorization: Bearer <jwt>``, or an UNAUTHENTICATED error."""
    if not authorization:
        raise errors.AccessTokenMissing()
    if not authorization.startswith(BEARER_PREFIX):
        raise errors.AccessTokenInvalid()
    token = authorization[len(BEARER_PREFIX) :].strip()
    if not token:
        raise errors.AccessTokenMissing()
    try:
        verified = await runtime.keyring.verify(token, audience=Audience.AUTH)
    except TokenRejected as rejected:
        if rejected.expired:
            raise errors.AccessTokenExpired() from None
        raise errors.AccessTokenInvalid() from None
    principal = verified.principal
    if principal.is_service and principal.service_name != peer:
        # A service token acts only for the service it was issued to.
        raise errors.AccessTokenInvalid()
    return Caller(principal=principal, peer=peer)


async def live_caller(
    tx: AsyncSession, runtime: Runtime, caller: Caller, *, allow_ended_session: bool = False
) -> Caller:
    """``caller`` re-checked against the database now (see the module docstring)."""
    principal = caller.principal
    now = runtime.now()
    if principal.family.is_key:
        assert principal.key_id is not None and principal.agent_id is not None
        key = await key_store.key_by_id(tx, principal.key_id)
        agent = await agent_store.agent_by_id(tx, principal.agent_id)
        if key is None or agent is None or key.agent_id != agent.id:
            raise errors.AccessTokenInvalid()
        if key.revoked_at is not None:
            raise errors.CredentialRevoked()
        if key.limits.expires_at is not None and key.limits.expires_at <= now:
            raise errors.CredentialExpired()
        if not agent.active:
            raise errors.AgentSuspendedCredential()
        fresh = dataclasses.replace(
            principal,
            agent_lifecycle=agent.lifecycle,
            agent_owner_account_id=agent.owner_account_id,
        )
        return dataclasses.replace(caller, principal=fresh)
    if principal.family is CredentialFamily.SESSION:
        assert principal.session_id is not None and principal.account_id is not None
        session = await account_store.session_by_id(tx, principal.session_id)
        account = await account_store.account_by_id(tx, principal.account_id)
        if session is None or account is None or session.account_id != account.id:
            raise errors.AccessTokenInvalid()
        if not allow_ended_session:
            if session.revoked_at is not None:
                raise errors.CredentialRevoked()
            if now >= session.expires_at:
                raise errors.CredentialExpired()
        scopes = principal.scopes & scopes_for(
            principal.family, role=account.role, acting_agent=principal.agent_id is not None
        )
        if principal.agent_id is not None:
            agent = await agent_store.agent_by_id(tx, principal.agent_id)
            if agent is None or not agent.owned_by(account.id):
                raise errors.AgentNotOwned()
            if agent.status is AgentStatus.SUSPENDED:
                raise errors.AgentSuspendedActing()
        fresh = dataclasses.replace(principal, scopes=scopes, role=account.role)
        return dataclasses.replace(caller, principal=fresh)
    return caller


def require(caller: Caller, *any_of: Scope) -> None:
    """Refuse with SCOPE_MISSING unless the caller holds at least one of ``any_of``."""
    assert any_of
    if not caller.principal.has_any(*any_of):
        raise errors.ScopeMissing(any_of[0].value)

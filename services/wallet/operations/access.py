"""Principal authorization inside wallet: the verified access token, bound to its peer.

The token itself is verified by :class:`services.common.tokens.AccessTokenVerifier` (signature
with auth's published Ed25519 keys, ``aud`` containing ``tokenmart.wallet``, lifetime, claims
consistent with the credential family). Here it becomes the ledger's :class:`Principal`, with one
more rule: a service token acts only for the service it was issued to, so a token minted for ctl
is refused from any other certificate.
"""

from __future__ import annotations

import uuid

from services.common.tokens import (
    AccessTokenInvalid,
    AgentLifecycle,
    CredentialFamily,
    ScopeMissing,
    VerifiedPrincipal,
)
from services.wallet.domain.principal import Principal, PrincipalKind, Scope


def _uuid(value: str | None) -> uuid.UUID | None:
    return uuid.UUID(value) if value else None


def principal_of(verified: VerifiedPrincipal, *, peer: str) -> Principal:
    if verified.is_service:
        if verified.service_name != peer:
            raise AccessTokenInvalid("service token presented by another peer")
        kind = PrincipalKind.SERVICE
    elif verified.credential_family is CredentialFamily.SESSION:
        kind = PrincipalKind.SESSION
    else:
        kind = PrincipalKind.AGENT_KEY
    limits = verified.key_limits
    return Principal(
        kind=kind,
        subject=verified.subject,
        scopes=verified.scopes,
        peer=peer,
        agent_id=_uuid(verified.agent_id),
        account_id=_uuid(verified.account_id),
        key_id=_uuid(verified.key_id),
        agent_claimed=(
            None
            if verified.agent_id is None
            else verified.agent_lifecycle is AgentLifecycle.CLAIMED
        ),
        service_name=verified.service_name,
        key_credit_limit_micros=limits.credit_limit_micros if limits is not None else None,
    )


def require_any(principal: Principal, *scopes: Scope) -> None:
    """Refuse with SCOPE_MISSING (naming the first scope) unless one of ``scopes`` is held."""
    assert scopes
    if not principal.has_any(*scopes):
        raise ScopeMissing(scopes[0].value)

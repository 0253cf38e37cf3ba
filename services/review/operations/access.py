"""Principal authorization in review: whose token an RPC carries, and what it may do.

The peer allowlist has already been enforced by the server interceptor. Here the access token is
verified locally with auth's public keys (EdDSA only, ``aud`` containing ``tokenmart.review``;
see :mod:`services.common.tokens`), and a service token is accepted only from the peer it was
issued to, so ctl's operator token forwarded by anyone else is refused.

Roles of a caller, as the proto's Access lines name them:

* **admin**: scope ``admin``, which only sessions of admin accounts carry (never an agent key,
  whoever owns the agent: SPEC §1, THREATS M4);
* **operator**: ctl's own service token (scope ``operator``);
* **agent**: an acting agent (an agent key, or a session with X-Agent-Id) with the agent scope
  the RPC needs. Whether the agent is still claimed and active is then read fresh from auth by
  the operations that need it, not trusted from the token's five minutes.
"""

from __future__ import annotations

import uuid

from services.common.tokens import AccessTokenInvalid, Scope, ScopeMissing
from services.review import errors
from services.review.operations.runtime import Caller


def bind_to_peer(caller: Caller) -> Caller:
    principal = caller.principal
    if principal.is_service and principal.service_name != caller.peer:
        raise AccessTokenInvalid("service token presented by another peer")
    return caller


def is_admin(caller: Caller) -> bool:
    return caller.principal.is_account and caller.principal.has_scope(Scope.ADMIN)


def is_operator(caller: Caller) -> bool:
    return caller.principal.is_service and caller.principal.has_scope(Scope.OPERATOR)


def reader_is_privileged(caller: Caller) -> bool:
    """Admins and ctl see everything (reviewer identities, the bounty's creator)."""
    return is_admin(caller) or is_operator(caller)


def require_admin(caller: Caller, *, or_operator: bool = False) -> uuid.UUID | None:
    """The admin's account id (None for the operator, when allowed), or SCOPE_MISSING."""
    if is_admin(caller):
        assert caller.account_id is not None
        return caller.account_id
    if or_operator and is_operator(caller):
        return None
    raise ScopeMissing(Scope.ADMIN)


def require_operator(caller: Caller) -> None:
    if not is_operator(caller):
        raise ScopeMissing(Scope.OPERATOR)


def require_agent(caller: Caller, scope: Scope) -> uuid.UUID:
    """The acting agent's id, if the token carries ``scope``; else SCOPE_MISSING/AGENT_REQUIRED."""
    assert scope in (Scope.AGENT_READ, Scope.AGENT_WRITE)
    caller.principal.require_scope(scope)
    agent_id = caller.agent_id
    if agent_id is None:
        raise errors.AgentRequired()
    return agent_id


def reader(caller: Caller) -> uuid.UUID | None:
    """For RPCs open to admins, ctl and agents: None for admins and ctl (they see everything),
    else the acting agent whose own rows the caller may see."""
    if reader_is_privileged(caller):
        return None
    if not caller.principal.has_scope(Scope.AGENT_READ):
        raise ScopeMissing(Scope.AGENT_READ)
    return require_agent(caller, Scope.AGENT_READ)

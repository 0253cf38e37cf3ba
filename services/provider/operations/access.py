"""Who is calling: the verified access token on an RPC, and what it may do here.

Tokens are verified locally with auth's public keys (``services.common.tokens``; audience
``tokenmart.provider``). A service token acts only for the peer it was issued to: a token issued
to ``ctl`` presented by any other certificate is refused. Inference needs a ``th_`` key's token
(family ``inference_key``, scope ``inference``) that is also addressed to wallet, because the
hold is placed with it and wallet checks whose wallet that is.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from typing import Any

import grpc
import orjson

from services.common.errors import PeerNotAllowed
from services.common.identity import peer_service
from services.common.tokens import (
    AccessTokenInvalid,
    CredentialFamily,
    Scope,
    ScopeMissing,
    VerifiedPrincipal,
    principal_from_context,
)
from services.provider.operations.runtime import Runtime

WALLET_AUDIENCE = "tokenmart.wallet"


@dataclass(frozen=True)
class Caller:
    principal: VerifiedPrincipal
    peer: str

    @property
    def idempotency_key(self) -> str:
        """(principal) in the replay log: the subject and the agent it acts as."""
        agent = self.principal.agent_id
        return f"{self.principal.subject}|{agent}" if agent else self.principal.subject

    def has(self, *scopes: str) -> bool:
        return any(self.principal.has_scope(scope) for scope in scopes)

    def require(self, *any_of: str) -> None:
        """Refuse with SCOPE_MISSING unless the caller holds at least one of ``any_of``."""
        assert any_of
        if not self.has(*any_of):
            raise ScopeMissing(any_of[0])

    @property
    def is_privileged(self) -> bool:
        """An admin session or the operator CLI."""
        return self.has(Scope.ADMIN, Scope.OPERATOR)

    @property
    def agent_uuid(self) -> uuid.UUID | None:
        agent = self.principal.agent_id
        return uuid.UUID(agent) if agent else None

    @property
    def account_uuid(self) -> uuid.UUID | None:
        account = self.principal.account_id
        return uuid.UUID(account) if account else None


async def verify(runtime: Runtime, context: grpc.aio.ServicerContext) -> Caller:
    peer = peer_service(context)
    if peer is None:  # the interceptor refuses such calls first; never trust that alone
        raise PeerNotAllowed()
    principal = await principal_from_context(context, runtime.verifier, scope=None)
    if principal.is_service and principal.service_name != peer:
        raise AccessTokenInvalid("service token presented by another peer")
    return Caller(principal=principal, peer=peer)


def _claims(token: str) -> dict[str, Any]:
    """The claims of a token the verifier already accepted (signature checked there)."""
    payload = token.split(".")[1]
    decoded = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert isinstance(decoded, dict)
    return decoded


def require_inference(caller: Caller) -> None:
    """A th_ key's token, addressed to wallet as well (the hold is placed with it)."""
    caller.require(Scope.INFERENCE)
    principal = caller.principal
    if (
        principal.credential_family is not CredentialFamily.INFERENCE_KEY
        or principal.agent_id is None
        or principal.key_id is None
    ):
        raise ScopeMissing(Scope.INFERENCE)
    audiences = _claims(principal.token).get("aud")
    listed = audiences if isinstance(audiences, list) else [audiences]
    if WALLET_AUDIENCE not in listed:
        raise AccessTokenInvalid("inference token not addressed to wallet")

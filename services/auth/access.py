"""Which peer services may call which AuthService method (mTLS identity; default deny).

This is security policy: each entry is the least set of callers that the method's purpose
needs. It mirrors the "Callers:" line of every RPC in
``protos/tokenmart/auth/v1/auth.proto``; a test fails when the two differ.
"""

from __future__ import annotations

from collections.abc import Mapping

from services.common.identity import PeerAllowlist

SERVICE = "tokenmart.auth.v1.AuthService"

CALLERS: Mapping[str, tuple[str, ...]] = {
    "RegisterAccount": ("gateway",),
    "Login": ("gateway",),
    "RefreshSession": ("gateway",),
    "Logout": ("gateway",),
    "ListSessions": ("gateway",),
    "RevokeSession": ("gateway",),
    "RegisterAgent": ("gateway",),
    "RenewClaimCode": ("gateway",),
    "ClaimAgent": ("gateway",),
    "GetMe": ("gateway",),
    "GetAgent": ("gateway", "review", "ctl"),
    "ListAgents": ("gateway", "review", "ctl"),
    "RekeyAgent": ("gateway",),
    "SuspendAgent": ("gateway", "ctl"),
    "ReactivateAgent": ("gateway", "ctl"),
    "SetAccountRole": ("gateway", "ctl"),
    "SetTrustTier": ("gateway", "ctl"),
    "GetTrustTier": ("review",),
    "CreateAdminAccount": ("ctl",),
    "Authenticate": ("gateway",),
    "IssueServiceToken": ("provider", "review", "ctl"),
    "GetPublicKeys": ("gateway", "wallet", "provider", "review", "ctl"),
    "RotateSigningKey": ("ctl",),
    "ResealSigningKeys": ("ctl",),
    "CreateIdentityToken": ("gateway",),
    "VerifyIdentityToken": ("gateway",),
    "CreateKey": ("gateway",),
    "ListKeys": ("gateway",),
    "GetKey": ("gateway",),
    "UpdateKey": ("gateway",),
    "RevokeKey": ("gateway",),
    "GetCurrentKey": ("gateway",),
    "ListAuditEvents": ("gateway", "ctl"),
}


def allowlist(*, reflection: bool) -> PeerAllowlist:
    return PeerAllowlist.for_service(SERVICE, CALLERS, reflection=reflection)

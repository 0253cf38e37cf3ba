"""Which peer services may call which ProviderService method (mTLS identity; default deny).

This is security policy: each entry is the least set of callers that the method's purpose
needs. It mirrors the "Callers:" line of every RPC in
``protos/tokenmart/provider/v1/provider.proto``; a test fails when the two differ.
"""

from __future__ import annotations

from collections.abc import Mapping

from services.common.identity import PeerAllowlist

SERVICE = "tokenmart.provider.v1.ProviderService"

CALLERS: Mapping[str, tuple[str, ...]] = {
    "ListModels": ("gateway", "ctl"),
    "GetModel": ("gateway", "ctl"),
    "UpsertModel": ("gateway", "ctl"),
    "SetModelActive": ("gateway", "ctl"),
    "ChatCompletion": ("gateway",),
    "StreamChatCompletion": ("gateway",),
    "GetGeneration": ("gateway", "ctl"),
    "GetKeyUsage": ("gateway",),
    "CreateProviderKey": ("gateway",),
    "ListProviderKeys": ("gateway",),
    "DeleteProviderKey": ("gateway",),
    "RotateKek": ("ctl",),
    "ListUnsettled": ("ctl",),
    "SettlePending": ("ctl",),
}


def allowlist(*, reflection: bool) -> PeerAllowlist:
    return PeerAllowlist.for_service(SERVICE, CALLERS, reflection=reflection)

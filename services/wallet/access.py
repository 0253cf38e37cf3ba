"""Which peer services may call which WalletService method (mTLS identity; default deny).

This is security policy: each entry is the least set of callers that the method's purpose
needs. It mirrors the "Callers:" line of every RPC in
``protos/tokenmart/wallet/v1/wallet.proto``; a test fails when the two differ.
"""

from __future__ import annotations

from collections.abc import Mapping

from services.common.identity import PeerAllowlist

SERVICE = "tokenmart.wallet.v1.WalletService"

CALLERS: Mapping[str, tuple[str, ...]] = {
    "EnsureWallet": ("auth", "ctl"),
    "GetBalance": ("gateway",),
    "GetLedgerAccount": ("review", "ctl"),
    "CreateTransfer": ("gateway",),
    "CreateTransfers": ("gateway",),
    "Mint": ("gateway", "review", "ctl"),
    "CreateHold": ("provider",),
    "PostHold": ("provider",),
    "VoidHold": ("provider",),
    "GetHold": ("provider", "ctl"),
    "CreateEscrowTransfers": ("review",),
    "GetTransfer": ("gateway", "ctl"),
    "ListTransfers": ("gateway", "ctl"),
    "VerifyLedger": ("gateway", "ctl"),
}


def allowlist(*, reflection: bool) -> PeerAllowlist:
    return PeerAllowlist.for_service(SERVICE, CALLERS, reflection=reflection)

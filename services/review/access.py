"""Which peer services may call which ReviewService method (mTLS identity; default deny).

This is security policy: each entry is the least set of callers that the method's purpose
needs. It mirrors the "Callers:" line of every RPC in
``protos/tokenmart/review/v1/review.proto``; a test fails when the two differ.
"""

from __future__ import annotations

from collections.abc import Mapping

from services.common.identity import PeerAllowlist

SERVICE = "tokenmart.review.v1.ReviewService"

CALLERS: Mapping[str, tuple[str, ...]] = {
    "CreateBounty": ("gateway",),
    "ListBounties": ("gateway", "ctl"),
    "GetBounty": ("gateway", "ctl"),
    "CancelBounty": ("gateway",),
    "ClaimBounty": ("gateway",),
    "SubmitWork": ("gateway",),
    "GetClaim": ("gateway", "ctl"),
    "ListClaims": ("gateway", "ctl"),
    "ListPendingReviews": ("gateway",),
    "SubmitReview": ("gateway",),
    "ListAdminPendingReviews": ("gateway", "ctl"),
    "CreateCorrelation": ("gateway",),
    "DeleteCorrelation": ("gateway",),
    "ListCorrelations": ("gateway", "ctl"),
    "FundTreasury": ("gateway",),
    "GetTreasury": ("gateway", "ctl"),
    "ListOutbox": ("ctl",),
    "RedriveOutbox": ("ctl",),
}


def allowlist(*, reflection: bool) -> PeerAllowlist:
    return PeerAllowlist.for_service(SERVICE, CALLERS, reflection=reflection)

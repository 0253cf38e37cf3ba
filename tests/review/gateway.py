"""An in-process gateway in front of the real auth, wallet and review servers."""

from __future__ import annotations

from tests.conftest import AuthServerHandle, ReviewServerHandle, WalletServerHandle
from tests.edge import Gateway, MakeGateway

BOUNTIES = "/api/v1/admin/bounties"


def review_gateway(
    make_gateway: MakeGateway,
    *,
    auth: AuthServerHandle,
    wallet: WalletServerHandle,
    review_server: ReviewServerHandle,
    **variables: str,
) -> Gateway:
    return make_gateway(
        ports={"auth": auth.port, "wallet": wallet.port, "review": review_server.port},
        **variables,
    )

"""Opening wallets: an account or agent never exists without its wallet.

Registration (RegisterAccount, CreateAdminAccount, RegisterAgent) calls
``WalletService.EnsureWallet`` inside its database transaction, before committing: if the wallet
cannot be opened, the registration rolls back and answers UNAVAILABLE (WALLET_UNAVAILABLE), so
nothing is kept and the client retries with the same request_id. EnsureWallet is idempotent by
owner (and our request id is derived from the owner), so a retry after a lost answer, or after a
commit that failed once the wallet existed, opens nothing twice; a wallet whose registration then
rolled back stays empty and unreachable (its owner id was never published).

Auth calls wallet with a service token it signs itself (subject ``service:auth``, audience
``tokenmart.wallet``), over the mTLS channel with the ``auth`` certificate.
"""

from __future__ import annotations

import logging
import uuid
from typing import Protocol

import grpc
from tokenmart.wallet.v1 import wallet_pb2, wallet_pb2_grpc

from services.auth import errors
from services.auth.domain.principal import Audience, CredentialFamily, Principal, scopes_for

logger = logging.getLogger("tokenmart.auth.wallets")

_REQUEST_NAMESPACE = uuid.UUID("7f2d3c1a-9b4e-4c6f-8a2d-5e1f0c3b7a94")
WALLET_TIMEOUT_S = 5.0


class TokenIssuer(Protocol):
    async def __call__(self, principal: Principal, audiences: list[Audience]) -> str: ...


class WalletOpener(Protocol):
    async def open(
        self, *, agent_id: uuid.UUID | None = None, account_id: uuid.UUID | None = None
    ) -> str:
        """Open (or find) the wallet of exactly one owner; its wallet id."""
        ...


class GrpcWalletOpener:
    def __init__(self, channel: grpc.aio.Channel, issue: TokenIssuer) -> None:
        self._stub = wallet_pb2_grpc.WalletServiceStub(channel)
        self._issue = issue
        self._principal = Principal(
            family=CredentialFamily.SERVICE,
            scopes=scopes_for(CredentialFamily.SERVICE, service_name="auth"),
            service_name="auth",
        )

    async def open(
        self, *, agent_id: uuid.UUID | None = None, account_id: uuid.UUID | None = None
    ) -> str:
        assert (agent_id is None) != (account_id is None), "exactly one owner"
        owner = f"agent:{agent_id}" if agent_id else f"account:{account_id}"
        request = wallet_pb2.EnsureWalletRequest(
            request_id=str(uuid.uuid5(_REQUEST_NAMESPACE, owner))
        )
        if agent_id is not None:
            request.agent_id = str(agent_id)
        else:
            request.account_id = str(account_id)
        token = await self._issue(self._principal, [Audience.WALLET])
        try:
            response = await self._stub.EnsureWallet(
                request,
                metadata=(("authorization", f"Bearer {token}"),),
                timeout=WALLET_TIMEOUT_S,
            )
        except grpc.aio.AioRpcError as error:
            # Only the code: details may name internal addresses.
            logger.warning("wallet not opened", extra={"owner": owner, "code": error.code().name})
            raise errors.WalletUnavailable() from None
        wallet_id: str = response.wallet.ledger_account_id
        return wallet_id

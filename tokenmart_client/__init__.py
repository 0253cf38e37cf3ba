"""A typed Python client for TokenMart Core's internal gRPC services (auth, wallet, provider,
review), and a testing helper that starts the whole of TokenMart Core for integration tests.

::

    from tokenmart_client import TlsFiles, connect

    async with connect(
        targets={"auth": "auth:50051", "wallet": "wallet:50052"},
        tls=TlsFiles(ca_file=..., cert_file=..., key_file=...),
        credential=session_token,
    ) as client:
        balance = await client.wallet.get_balance()

See README.md in this directory.
"""

from __future__ import annotations

from tokenmart_client.apis import ALL_AUDIENCES, AuthApi, ProviderApi, ReviewApi, WalletApi
from tokenmart_client.client import TokenMartClient, connect
from tokenmart_client.config import AttemptRecord, CallRecord, ClientConfig, TlsFiles
from tokenmart_client.errors import CLIENT_DOMAIN, ClientConfigError, TokenMartError
from tokenmart_client.policy import NO_RETRIES, RetryClass, RetryPolicy
from tokenmart_client.tokens import (
    CachingTokenSource,
    CredentialTokens,
    ServiceTokens,
    StaticToken,
    TokenSource,
)

__all__ = [
    "ALL_AUDIENCES",
    "CLIENT_DOMAIN",
    "NO_RETRIES",
    "AttemptRecord",
    "AuthApi",
    "CachingTokenSource",
    "CallRecord",
    "ClientConfig",
    "ClientConfigError",
    "CredentialTokens",
    "ProviderApi",
    "RetryClass",
    "RetryPolicy",
    "ReviewApi",
    "ServiceTokens",
    "StaticToken",
    "TlsFiles",
    "TokenMartClient",
    "TokenMartError",
    "TokenSource",
    "WalletApi",
    "connect",
]

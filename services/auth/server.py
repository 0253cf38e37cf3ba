"""Putting the auth service together: the runtime, the servicer registration, the pre-flight.

Used by ``__main__`` (production) and by the test fixtures (an in-process server on port 0), so
both run exactly the same wiring.
"""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from cryptography.exceptions import InvalidTag
from sqlalchemy.ext.asyncio import AsyncEngine
from tokenmart.auth.v1 import auth_pb2_grpc

from services.auth.api import AuthApi
from services.auth.domain.credentials import CredentialDigester
from services.auth.domain.pagination import PageTokens
from services.auth.domain.passwords import Argon2Parameters, PasswordHasher
from services.auth.domain.principal import Audience, Principal
from services.auth.domain.signing_keys import KeyEncryption
from services.auth.operations.authenticate import issue_token
from services.auth.operations.keyring import Keyring
from services.auth.operations.runtime import Clock, Passwords, Runtime, system_clock
from services.auth.operations.wallets import GrpcWalletOpener, WalletOpener
from services.auth.settings import AuthSettings
from services.auth.store.database import Database
from services.common.client import open_channel
from services.common.db import create_engine
from services.common.metrics import GrpcClientMetrics
from services.common.server import Registration


def build_runtime(
    settings: AuthSettings,
    engine: AsyncEngine,
    *,
    clock: Clock = system_clock,
    wallets: WalletOpener | None = None,
    client_metrics: GrpcClientMetrics | None = None,
) -> Runtime:
    """The runtime; without ``wallets``, a channel to the configured wallet peer is opened (so
    this must run on the serving event loop), its calls recorded in ``client_metrics``."""
    database = Database(engine)
    digester = CredentialDigester(settings.pepper.reveal())
    password_settings = settings.passwords
    hasher = PasswordHasher(
        Argon2Parameters(
            time_cost=password_settings.time_cost,
            memory_kib=password_settings.memory_kib,
            parallelism=password_settings.parallelism,
        )
    )
    # The wallet opener signs its service tokens with this runtime's keyring, so it reaches the
    # runtime through a cell filled once the runtime exists.
    built: list[Runtime] = []

    async def issue(principal: Principal, audiences: list[Audience]) -> str:
        return (await issue_token(built[0], principal, audiences)).token

    if wallets is None:
        channel = open_channel(
            settings.common.peers["wallet"],
            settings.common.tls,
            full_service_name="tokenmart.wallet.v1.WalletService",
            idempotent_methods=("EnsureWallet",),
            metrics=client_metrics,
        )
        wallets = GrpcWalletOpener(channel, issue)
    runtime = Runtime(
        settings=settings,
        database=database,
        digester=digester,
        passwords=Passwords(hasher, max_concurrent=password_settings.max_concurrent),
        keyring=Keyring(
            database=database,
            encryption=key_encryption(settings),
            settings=settings.tokens,
            clock=clock,
        ),
        wallets=wallets,
        page_tokens=PageTokens(digester.subkey("page-tokens")),
        clock=clock,
    )
    built.append(runtime)
    return runtime


def key_encryption(settings: AuthSettings) -> KeyEncryption:
    """Seals under SIGNING_KEK; opens under it or, during a KEK change, SIGNING_KEK_PREVIOUS."""
    previous = settings.signing_kek_previous
    return KeyEncryption(
        settings.signing_kek.reveal(),
        previous_kek=previous.reveal() if previous is not None else None,
    )


def registrations(runtime: Runtime) -> Iterable[Registration]:
    servicer = AuthApi(runtime)

    def register(server: grpc.aio.Server) -> None:
        auth_pb2_grpc.add_AuthServiceServicer_to_server(servicer, server)

    return (register,)


async def preflight(settings: AuthSettings) -> None:
    """Before serving: reach the schema, create the first signing key if there is none, and
    decrypt the live keys (a wrong SIGNING_KEK fails here, not on the first request). Each key
    may open under SIGNING_KEK or, during a KEK change, SIGNING_KEK_PREVIOUS."""
    engine = create_engine(settings.common.database, application_name="tokenmart-auth-preflight")
    try:
        await build_runtime(settings, engine).keyring.start()
    except InvalidTag:
        # The one likely cause, said plainly (the KEKs themselves are never logged).
        tried = "TOKENMART_AUTH_SIGNING_KEK"
        if settings.signing_kek_previous is not None:
            tried += " or TOKENMART_AUTH_SIGNING_KEK_PREVIOUS"
        raise SystemExit(
            f"auth: the stored signing keys cannot be decrypted with {tried} "
            "(a different key-encryption key than the one that sealed them); start auth with "
            "the original KEK"
        ) from None
    finally:
        await engine.dispose()

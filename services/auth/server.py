"""Putting the auth service together: the runtime, the servicer registration, the pre-flight.

Used by ``__main__`` (production) and by the test fixtures (an in-process server on port 0), so
both run exactly the same wiring.
"""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from sqlalchemy.ext.asyncio import AsyncEngine
from tokenmart.auth.v1 import auth_pb2_grpc

from services.auth.api import AuthApi
from services.auth.domain.credentials import CredentialDigester
from services.auth.domain.pagination import PageTokens
from services.auth.domain.passwords import Argon2Parameters, PasswordHasher
from services.auth.domain.signing_keys import KeyEncryption
from services.auth.operations.keyring import Keyring
from services.auth.operations.runtime import Clock, Passwords, Runtime, system_clock
from services.auth.settings import AuthSettings
from services.auth.store.database import Database
from services.common.db import create_engine
from services.common.server import Registration


def build_runtime(
    settings: AuthSettings, engine: AsyncEngine, *, clock: Clock = system_clock
) -> Runtime:
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
    return Runtime(
        settings=settings,
        database=database,
        digester=digester,
        passwords=Passwords(hasher, max_concurrent=password_settings.max_concurrent),
        keyring=Keyring(
            database=database,
            encryption=KeyEncryption(settings.signing_kek.reveal()),
            settings=settings.tokens,
            clock=clock,
        ),
        page_tokens=PageTokens(digester.subkey("page-tokens")),
        clock=clock,
    )


def registrations(runtime: Runtime) -> Iterable[Registration]:
    servicer = AuthApi(runtime)

    def register(server: grpc.aio.Server) -> None:
        auth_pb2_grpc.add_AuthServiceServicer_to_server(servicer, server)

    return (register,)


async def preflight(settings: AuthSettings) -> None:
    """Before serving: reach the schema, create the first signing key if there is none, and
    decrypt the live keys (a wrong SIGNING_KEK fails here, not on the first request)."""
    engine = create_engine(settings.common.database, application_name="tokenmart-auth-preflight")
    try:
        await build_runtime(settings, engine).keyring.start()
    finally:
        await engine.dispose()

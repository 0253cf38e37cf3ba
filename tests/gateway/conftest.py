"""Shared fixtures for the gateway: real backends on port 0 and an in-process gateway.

The backends are the production :class:`GrpcServer` (mTLS with the dev PKI's certificates, the
real interceptors and allowlists); the gateway is built by the production ``create_app`` from
settings read by ``GatewaySettings.from_env``, and driven through ``httpx.ASGITransport``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping

import grpc
import pytest_asyncio

from ops.pki import IssuedFiles
from services.common import errors as common_errors
from services.common.identity import PeerAllowlist
from services.common.logging import current_request_id
from services.common.server import GrpcServer, Registration
from services.gateway.backends import BACKEND_SERVICES
from services.gateway.settings import BACKEND_NAMES
from tests.edge import Gateway, MakeGateway
from tests.grpc_helpers import server_settings, tls_of

WALLET = BACKEND_SERVICES["wallet"]


class InsufficientFunds(common_errors.FailedPrecondition):
    reason = "INSUFFICIENT_FUNDS"
    default_message = "the wallet holds fewer credits than the transfer needs"


# What the test wallet's Fail method raises, by the name sent as its (raw) request body.
FAILURES: Mapping[str, Exception] = {
    "invalid_argument": common_errors.InvalidArgument("amount_micros must be positive"),
    "unauthenticated": common_errors.Unauthenticated(),
    "permission_denied": common_errors.PermissionDenied(),
    "not_found": common_errors.NotFound("no such wallet"),
    "already_exists": common_errors.AlreadyExists(),
    "request_id_conflict": common_errors.RequestIdConflict(),
    "aborted": common_errors.Aborted(),
    "failed_precondition": common_errors.FailedPrecondition("the wallet is frozen"),
    "insufficient_funds": InsufficientFunds(),
    "resource_exhausted": common_errors.ResourceExhausted(),
    "unavailable": common_errors.Unavailable(),
    "unexpected": RuntimeError("database password is hunter2"),
}


def _test_wallet_registration() -> Registration:
    """Two test-only WalletService methods: Fail (raises by name) and Echo (the request id)."""

    async def fail(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        name = request.decode()
        if name == "raw_deadline":
            # A status with no ErrorInfo and an internal-looking message, as gRPC itself makes.
            await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline at 10.1.2.3:50052")
        raise FAILURES[name]

    async def echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return current_request_id().encode()

    handler = grpc.method_handlers_generic_handler(
        WALLET,
        {
            "Fail": grpc.unary_unary_rpc_method_handler(fail),
            "Echo": grpc.unary_unary_rpc_method_handler(echo),
        },
    )

    def register(server: grpc.aio.Server) -> None:
        server.add_generic_rpc_handlers((handler,))

    return register


StartBackend = Callable[..., Awaitable[GrpcServer]]


@pytest_asyncio.fixture
async def start_backend(pki: dict[str, IssuedFiles]) -> AsyncIterator[StartBackend]:
    """Start a real backend ``name`` on 127.0.0.1:0; stopped at the end of the test."""
    servers: list[GrpcServer] = []

    async def start(
        name: str,
        *,
        rules: Mapping[str, Iterable[str]] | None = None,
        registrations: Iterable[Registration] = (),
    ) -> GrpcServer:
        server = GrpcServer(
            service=name,
            settings=server_settings(),
            tls=tls_of(pki[name]),
            # Health is open to every certified peer whatever the rules say.
            allowlist=PeerAllowlist.for_service(BACKEND_SERVICES[name], rules or {}),
            registrations=registrations,
        )
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop(0)


@pytest_asyncio.fixture
async def all_backends(start_backend: StartBackend) -> dict[str, GrpcServer]:
    """All four backends, running; wallet also serves the test methods Fail and Echo."""
    started: dict[str, GrpcServer] = {}
    for name in BACKEND_NAMES:
        if name == "wallet":
            started[name] = await start_backend(
                name,
                rules={"Fail": ("gateway",), "Echo": ("gateway",)},
                registrations=(_test_wallet_registration(),),
            )
        else:
            started[name] = await start_backend(name)
    return started


@pytest_asyncio.fixture
async def gateway(make_gateway: MakeGateway) -> Gateway:
    """A gateway with the default limits whose backends are all unreachable."""
    return make_gateway()


@pytest_asyncio.fixture
async def gateway_with_backends(
    make_gateway: MakeGateway, all_backends: dict[str, GrpcServer]
) -> Gateway:
    return make_gateway(ports={name: server.port for name, server in all_backends.items()})

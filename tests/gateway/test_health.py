"""/healthz against real backends over mTLS: every state, and the bound on its duration."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from grpc_health.v1 import health_pb2

from services.common.server import GrpcServer
from services.gateway.settings import BACKEND_NAMES
from tests.edge import Gateway, MakeGateway

pytestmark = pytest.mark.timeout(60)


@pytest.mark.asyncio
async def test_all_backends_serving_is_200_ok(gateway_with_backends: Gateway) -> None:
    response = await gateway_with_backends.client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "backends": {name: "SERVING" for name in BACKEND_NAMES},
    }
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.asyncio
async def test_a_stopped_backend_is_503_degraded_and_unreachable(
    gateway_with_backends: Gateway, all_backends: dict[str, GrpcServer]
) -> None:
    assert (await gateway_with_backends.client.get("/healthz")).status_code == 200

    await all_backends["provider"].stop(0)
    response = await gateway_with_backends.client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "degraded",
        "backends": {
            "auth": "SERVING",
            "wallet": "SERVING",
            "provider": "UNREACHABLE",
            "review": "SERVING",
        },
    }


@pytest.mark.asyncio
async def test_livez_stays_200_while_a_backend_is_down(
    gateway_with_backends: Gateway, all_backends: dict[str, GrpcServer]
) -> None:
    # Liveness must not restart gateways for a backend outage; readiness (/healthz) reports it.
    await all_backends["wallet"].stop(0)

    assert (await gateway_with_backends.client.get("/healthz")).status_code == 503
    response = await gateway_with_backends.client.get("/livez")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.asyncio
async def test_a_backend_reporting_not_serving_is_503(
    gateway_with_backends: Gateway, all_backends: dict[str, GrpcServer]
) -> None:
    await all_backends["review"].health.set("", health_pb2.HealthCheckResponse.NOT_SERVING)

    response = await gateway_with_backends.client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["status"] == "degraded"
    assert response.json()["backends"]["review"] == "NOT_SERVING"
    assert response.json()["backends"]["auth"] == "SERVING"


@pytest.mark.asyncio
async def test_no_backends_at_all_is_503_with_every_backend_unreachable(
    gateway: Gateway,
) -> None:
    response = await gateway.client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "degraded",
        "backends": {name: "UNREACHABLE" for name in BACKEND_NAMES},
    }


@pytest_asyncio.fixture
async def silent_port() -> AsyncIterator[int]:
    """A port that accepts TCP connections and never says a word (a hung backend)."""
    connections: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in connections:
        writer.close()
    server.close()
    await server.wait_closed()


@pytest.mark.asyncio
async def test_a_hung_backend_is_unreachable_within_the_health_timeout(
    make_gateway: MakeGateway, all_backends: dict[str, GrpcServer], silent_port: int
) -> None:
    ports = {name: server.port for name, server in all_backends.items()}
    ports["auth"] = silent_port
    gateway = make_gateway(ports=ports, HEALTH_TIMEOUT_S="0.3")

    started = time.monotonic()
    response = await gateway.client.get("/healthz")
    elapsed_s = time.monotonic() - started

    assert response.status_code == 503
    assert response.json()["backends"]["auth"] == "UNREACHABLE"
    assert response.json()["backends"]["wallet"] == "SERVING"
    # A correctness bound (the checks run at once, each within its deadline), not a benchmark.
    assert elapsed_s < 5


@pytest.mark.asyncio
async def test_concurrent_health_requests_share_one_round_of_checks(
    gateway_with_backends: Gateway,
) -> None:
    responses = await asyncio.gather(
        *(gateway_with_backends.client.get("/healthz") for _ in range(20))
    )

    assert {response.status_code for response in responses} == {200}
    assert len({response.headers["x-request-id"] for response in responses}) == 20


@pytest.mark.asyncio
async def test_application_shutdown_closes_the_backend_channels(
    gateway_with_backends: Gateway,
) -> None:
    app = gateway_with_backends.app
    async with app.router.lifespan_context(app):
        assert (await gateway_with_backends.backends.health())["auth"] == "SERVING"

    # The servers still run: only closed channels explain UNREACHABLE now.
    health = await gateway_with_backends.backends.health()
    assert health == {name: "UNREACHABLE" for name in BACKEND_NAMES}

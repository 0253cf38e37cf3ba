"""Backend gRPC statuses become HTTP through the one table, end to end over mTLS.

The test wallet (see conftest) raises real ``TokenMartError``s through the production server
interceptor, so each status arrives with the ``ErrorInfo`` a real service would attach. A
test-only route calls it through the gateway's own channel and lets the error propagate.
"""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from fastapi import Request

from services.common.server import GrpcServer
from services.gateway.errors import GRPC_TO_HTTP, REASON_TO_HTTP, describe_rpc_error
from tests.edge import Gateway, MakeGateway
from tests.gateway.conftest import WALLET

pytestmark = pytest.mark.timeout(60)


def add_backend_routes(gateway: Gateway) -> None:
    @gateway.app.post("/api/v1/test/fail/{name}")
    async def fail(name: str, request: Request) -> None:
        call = request.app.state.backends.channel("wallet").unary_unary(f"/{WALLET}/Fail")
        await call(name.encode())

    @gateway.app.post("/api/v1/test/call/{method}")
    async def call_method(method: str, request: Request) -> dict[str, Any]:
        call = request.app.state.backends.channel("wallet").unary_unary(f"/{WALLET}/{method}")
        response: bytes = await call(b"")
        return {"backend_saw": response.decode()}


@pytest.fixture
def wired(gateway_with_backends: Gateway) -> Gateway:
    add_backend_routes(gateway_with_backends)
    return gateway_with_backends


@pytest.mark.parametrize(
    ("failure", "status", "reason", "message"),
    [
        ("invalid_argument", 400, "INVALID_ARGUMENT", "amount_micros must be positive"),
        ("unauthenticated", 401, "UNAUTHENTICATED", "authentication required"),
        ("permission_denied", 403, "PERMISSION_DENIED", "permission denied"),
        ("not_found", 404, "NOT_FOUND", "no such wallet"),
        ("already_exists", 409, "ALREADY_EXISTS", "already exists"),
        (
            "request_id_conflict",
            409,
            "REQUEST_ID_CONFLICT",
            "request_id was already used with different fields",
        ),
        ("aborted", 409, "ABORTED", "aborted by a concurrent change; retry"),
        ("failed_precondition", 409, "FAILED_PRECONDITION", "the wallet is frozen"),
        (
            "insufficient_funds",
            402,
            "INSUFFICIENT_FUNDS",
            "the wallet holds fewer credits than the transfer needs",
        ),
        ("resource_exhausted", 429, "RESOURCE_EXHAUSTED", "resource exhausted"),
        ("unavailable", 503, "UNAVAILABLE", "a dependency is unavailable"),
        ("unexpected", 500, "INTERNAL", "internal error"),
    ],
)
@pytest.mark.asyncio
async def test_backend_error_maps_to_http(
    wired: Gateway, failure: str, status: int, reason: str, message: str
) -> None:
    response = await wired.client.post(f"/api/v1/test/fail/{failure}")

    assert response.status_code == status
    assert response.json() == {"error": {"code": status, "message": message, "reason": reason}}
    assert "hunter2" not in response.text


@pytest.mark.asyncio
async def test_401_carries_a_bearer_challenge(wired: Gateway) -> None:
    response = await wired.client.post("/api/v1/test/fail/unauthenticated")

    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.asyncio
async def test_status_without_error_info_gets_a_fixed_message(wired: Gateway) -> None:
    response = await wired.client.post("/api/v1/test/fail/raw_deadline")

    assert response.status_code == 504
    assert response.json()["error"] == {
        "code": 504,
        "message": "a backend service did not answer in time",
        "reason": "DEADLINE_EXCEEDED",
    }
    assert "10.1.2.3" not in response.text


@pytest.mark.asyncio
async def test_listed_but_unimplemented_method_is_501(
    make_gateway: MakeGateway, start_backend: Any
) -> None:
    wallet: GrpcServer = await start_backend("wallet", rules={"Later": ("gateway",)})
    gateway = make_gateway(ports={"wallet": wallet.port})
    add_backend_routes(gateway)

    response = await gateway.client.post("/api/v1/test/call/Later")

    assert response.status_code == 501
    assert response.json()["error"]["reason"] == "UNIMPLEMENTED"


@pytest.mark.asyncio
async def test_backend_refusing_the_gateway_is_500_not_403(
    make_gateway: MakeGateway, start_backend: Any
) -> None:
    # Only review may call this method: the gateway's own identity is refused.
    wallet: GrpcServer = await start_backend("wallet", rules={"Payout": ("review",)})
    gateway = make_gateway(ports={"wallet": wallet.port})
    add_backend_routes(gateway)

    response = await gateway.client.post("/api/v1/test/call/Payout")

    assert response.status_code == 500
    assert response.json()["error"] == {
        "code": 500,
        "message": "internal error",
        "reason": "INTERNAL",
    }


@pytest.mark.asyncio
async def test_backend_down_is_503_unavailable_without_addresses(gateway: Gateway) -> None:
    add_backend_routes(gateway)

    response = await gateway.client.post("/api/v1/test/fail/not_found")

    assert response.status_code == 503
    assert response.json()["error"] == {
        "code": 503,
        "message": "a backend service is unavailable; retry later",
        "reason": "UNAVAILABLE",
    }
    assert "127.0.0.1" not in response.text


@pytest.mark.asyncio
async def test_request_id_travels_to_the_backend(wired: Gateway) -> None:
    response = await wired.client.post(
        "/api/v1/test/call/Echo", headers={"X-Request-Id": "trace-me-42"}
    )

    assert response.status_code == 200
    assert response.json() == {"backend_saw": "trace-me-42"}
    assert response.headers["x-request-id"] == "trace-me-42"


def test_table_covers_the_codes_the_spec_names() -> None:
    assert {code.name: status for code, status in GRPC_TO_HTTP.items()} == {
        "INVALID_ARGUMENT": 400,
        "UNAUTHENTICATED": 401,
        "PERMISSION_DENIED": 403,
        "NOT_FOUND": 404,
        "ALREADY_EXISTS": 409,
        "ABORTED": 409,
        "FAILED_PRECONDITION": 409,
        "RESOURCE_EXHAUSTED": 429,
        "UNAVAILABLE": 503,
        "DEADLINE_EXCEEDED": 504,
        "UNIMPLEMENTED": 501,
    }
    assert REASON_TO_HTTP["INSUFFICIENT_FUNDS"] == 402


@pytest.mark.parametrize(
    "code", [grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS]
)
def test_every_other_code_is_500_internal_without_details(code: grpc.StatusCode) -> None:
    error = grpc.aio.AioRpcError(
        code=code,
        initial_metadata=grpc.aio.Metadata(),
        trailing_metadata=grpc.aio.Metadata(),
        details="psycopg: relation wallet.transfers at 10.0.0.5",
    )

    assert tuple(describe_rpc_error(error)) == (500, "INTERNAL", "internal error")

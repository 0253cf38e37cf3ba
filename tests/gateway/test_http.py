"""The edge behaviour of every route: envelopes, request ids, limits, headers, CORS, OpenAPI.

Routes that only tests need (a body to validate, an exception to throw) are added to the app
instance a test builds, never to production code.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Body, FastAPI, Query
from pydantic import BaseModel, ConfigDict, Field

from tests.edge import Gateway, MakeGateway

pytestmark = pytest.mark.timeout(60)

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
SMALL_LIMIT = 1024


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=8)
    amount_micros: int


def add_test_routes(app: FastAPI) -> None:
    @app.post("/api/v1/test/items")
    async def create_item(
        item: Item, page_size: Annotated[int, Query(le=100)] = 10
    ) -> dict[str, str]:
        return {"name": item.name}

    @app.post("/api/v1/test/anything")
    async def take_anything(payload: Annotated[Any, Body()] = None) -> dict[str, bool]:
        return {"ok": True}

    @app.post("/test/outside-api")
    async def outside_api(item: Item) -> dict[str, str]:
        return {"name": item.name}

    @app.get("/api/v1/test/explode")
    async def explode() -> None:
        raise RuntimeError("database password is hunter2, key sk-live1234567890abcdef")


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "reason"}
    assert body["error"]["code"] == response.status_code
    error: dict[str, Any] = body["error"]
    return error


@pytest.fixture
def small(make_gateway: MakeGateway) -> Gateway:
    """A gateway with the smallest body limit and the test routes."""
    gateway = make_gateway(MAX_BODY_BYTES=str(SMALL_LIMIT))
    add_test_routes(gateway.app)
    return gateway


# ---- envelopes ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_unknown_route_is_404_not_found(gateway: Gateway) -> None:
    response = await gateway.client.get("/api/v1/nope")

    assert response.status_code == 404
    assert error_of(response)["reason"] == "NOT_FOUND"


@pytest.mark.asyncio
async def test_wrong_method_is_405_method_not_allowed_with_allow(gateway: Gateway) -> None:
    response = await gateway.client.post("/healthz")

    assert response.status_code == 405
    assert error_of(response)["reason"] == "METHOD_NOT_ALLOWED"
    assert response.headers["allow"] == "GET"


@pytest.mark.asyncio
async def test_unexpected_exception_is_500_internal_without_detail(
    small: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    response = await small.client.get("/api/v1/test/explode", headers={"X-Request-Id": "boom-1"})

    assert response.status_code == 500
    assert error_of(response) == {"code": 500, "message": "internal error", "reason": "INTERNAL"}
    assert "hunter2" not in response.text
    assert "sk-live" not in response.text
    assert response.headers["x-request-id"] == "boom-1"
    assert response.headers["cache-control"] == "no-store"
    logged = [record for record in caplog.records if record.name == "tokenmart.gateway"]
    assert any(record.exc_info for record in logged), "the cause is logged"


# ---- request validation -------------------------------------------------------------------


@pytest.mark.asyncio
async def test_validation_error_is_400_naming_fields_but_not_values(small: Gateway) -> None:
    response = await small.client.post(
        "/api/v1/test/items",
        json={"name": "tokenmart_supersecret42", "amount_micros": "sk-notanumber1234567"},
    )

    assert response.status_code == 400
    error = error_of(response)
    assert error["reason"] == "INVALID_ARGUMENT"
    assert "body.name" in error["message"]
    assert "body.amount_micros" in error["message"]
    assert "supersecret" not in response.text
    assert "notanumber" not in response.text


@pytest.mark.asyncio
async def test_unknown_field_names_are_not_echoed_either(small: Gateway) -> None:
    response = await small.client.post(
        "/api/v1/test/items",
        json={"name": "ok", "amount_micros": 1, "password=hunter2": "x"},
    )

    assert response.status_code == 400
    assert "hunter2" not in response.text
    assert "body.<key>" in error_of(response)["message"]


@pytest.mark.asyncio
async def test_query_validation_error_is_400_too(small: Gateway) -> None:
    response = await small.client.post(
        "/api/v1/test/items?page_size=secret-value", json={"name": "ok", "amount_micros": 1}
    )

    assert response.status_code == 400
    assert "query.page_size" in error_of(response)["message"]
    assert "secret-value" not in response.text


@pytest.mark.asyncio
async def test_valid_request_passes_every_check(small: Gateway) -> None:
    response = await small.client.post(
        "/api/v1/test/items", json={"name": "ok", "amount_micros": 1}
    )

    assert response.status_code == 200
    assert response.json() == {"name": "ok"}


# ---- JSON bodies --------------------------------------------------------------------------


def nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.asyncio
async def test_json_nested_at_the_limit_is_accepted(small: Gateway) -> None:
    response = await small.client.post(
        "/api/v1/test/anything",
        content=nested(32),
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 200


@pytest.mark.asyncio
async def test_json_nested_past_the_limit_is_400_json_too_deep(small: Gateway) -> None:
    response = await small.client.post(
        "/api/v1/test/anything",
        content=nested(33),
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert error_of(response)["reason"] == "JSON_TOO_DEEP"


@pytest.mark.asyncio
async def test_hostile_nesting_is_refused_without_recursion(make_gateway: MakeGateway) -> None:
    gateway = make_gateway()
    add_test_routes(gateway.app)
    body = "[" * 200_000 + "]" * 200_000

    response = await gateway.client.post(
        "/api/v1/test/anything", content=body, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert error_of(response)["reason"] == "JSON_TOO_DEEP"


@pytest.mark.asyncio
async def test_malformed_json_is_400_invalid_json(small: Gateway) -> None:
    response = await small.client.post(
        "/api/v1/test/items",
        content=b'{"name": "tokenmart_secretvalue", ',
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert error_of(response)["reason"] == "INVALID_JSON"
    assert "secretvalue" not in response.text


@pytest.mark.asyncio
async def test_malformed_json_outside_api_is_400_invalid_json_too(small: Gateway) -> None:
    response = await small.client.post(
        "/test/outside-api", content=b"{nope", headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert error_of(response)["reason"] == "INVALID_JSON"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
@pytest.mark.asyncio
async def test_a_body_that_is_not_json_is_415(small: Gateway, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}

    response = await small.client.post(
        "/api/v1/test/items", content=b'{"name": "ok", "amount_micros": 1}', headers=headers
    )

    assert response.status_code == 415
    assert error_of(response)["reason"] == "UNSUPPORTED_MEDIA_TYPE"


@pytest.mark.asyncio
async def test_json_with_a_charset_is_accepted(small: Gateway) -> None:
    response = await small.client.post(
        "/api/v1/test/items",
        content=b'{"name": "ok", "amount_micros": 1}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )

    assert response.status_code == 200


# ---- body size ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_declared_oversized_body_is_413_before_any_route(small: Gateway) -> None:
    response = await small.client.post(
        "/api/v1/test/anything",
        content=b"[" + b"1," * SMALL_LIMIT + b"1]",
        headers={"Content-Type": "application/json", "X-Request-Id": "big-1"},
    )

    assert response.status_code == 413
    assert error_of(response)["reason"] == "BODY_TOO_LARGE"
    assert response.headers["x-request-id"] == "big-1"


@pytest.mark.asyncio
async def test_declared_oversized_body_is_413_even_for_unknown_routes(small: Gateway) -> None:
    response = await small.client.post("/api/v1/nope", content=b"x" * (SMALL_LIMIT + 1))

    assert response.status_code == 413
    assert error_of(response)["reason"] == "BODY_TOO_LARGE"


async def chunks(count: int, size: int) -> AsyncIterator[bytes]:
    for _ in range(count):
        yield b" " * size


@pytest.mark.asyncio
async def test_chunked_body_growing_past_the_limit_is_413(small: Gateway) -> None:
    response = await small.client.post(
        "/api/v1/test/anything",
        content=chunks(4, 400),
        headers={"Content-Type": "application/json", "X-Request-Id": "chunked-1"},
    )

    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert error_of(response)["reason"] == "BODY_TOO_LARGE"
    assert response.headers["x-request-id"] == "chunked-1"


@pytest.mark.asyncio
async def test_chunked_body_past_the_limit_is_413_when_fastapi_reads_it(small: Gateway) -> None:
    # Outside /api/ no JSON check reads the body first: FastAPI's own reader meets the limit.
    response = await small.client.post(
        "/test/outside-api", content=chunks(4, 400), headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 413
    assert error_of(response)["reason"] == "BODY_TOO_LARGE"


@pytest.mark.asyncio
async def test_body_exactly_at_the_limit_is_accepted(small: Gateway) -> None:
    body = b'{"a": "' + b"x" * (SMALL_LIMIT - 9) + b'"}'
    assert len(body) == SMALL_LIMIT

    response = await small.client.post(
        "/api/v1/test/anything", content=body, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 200


# ---- request ids --------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_well_formed_request_id_is_echoed(gateway: Gateway) -> None:
    response = await gateway.client.get("/healthz", headers={"X-Request-Id": "client.req:42-a_b"})

    assert response.headers["x-request-id"] == "client.req:42-a_b"


@pytest.mark.parametrize("candidate", ["has spaces in it", "x" * 500, "semi;colon", "", "ünïcode"])
@pytest.mark.asyncio
async def test_malformed_request_id_is_replaced(gateway: Gateway, candidate: str) -> None:
    response = await gateway.client.get(
        "/api/v1/nope", headers=[(b"X-Request-Id", candidate.encode())]
    )

    assert response.status_code == 404
    returned = response.headers["x-request-id"]
    assert returned != candidate
    assert REQUEST_ID.match(returned)


@pytest.mark.asyncio
async def test_request_id_is_minted_when_absent_and_unique(gateway: Gateway) -> None:
    first = await gateway.client.get("/api/v1/nope")
    second = await gateway.client.get("/api/v1/nope")

    assert REQUEST_ID.match(first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


# ---- headers ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/nope", "/openapi.json", "/nope"])
@pytest.mark.asyncio
async def test_security_headers_on_every_response(gateway: Gateway, path: str) -> None:
    response = await gateway.client.get(path)

    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "x-request-id" in response.headers
    assert "server" not in response.headers


@pytest.mark.asyncio
async def test_api_responses_are_never_cached(gateway: Gateway) -> None:
    assert (await gateway.client.get("/api/v1/nope")).headers["cache-control"] == "no-store"
    assert "no-store" not in (await gateway.client.get("/openapi.json")).headers.get(
        "cache-control", ""
    )


@pytest.mark.asyncio
async def test_no_cors_without_an_allowlist(gateway: Gateway) -> None:
    response = await gateway.client.get("/healthz", headers={"Origin": "https://evil.example"})

    assert "access-control-allow-origin" not in response.headers


@pytest.mark.asyncio
async def test_cors_only_for_listed_origins(make_gateway: MakeGateway) -> None:
    gateway = make_gateway(CORS_ORIGINS="https://app.example.com, http://localhost:3000")
    preflight = {"Access-Control-Request-Method": "POST"}

    allowed = await gateway.client.options(
        "/api/v1/x", headers={"Origin": "https://app.example.com", **preflight}
    )
    refused = await gateway.client.options(
        "/api/v1/x", headers={"Origin": "https://evil.example", **preflight}
    )
    simple = await gateway.client.get("/healthz", headers={"Origin": "http://localhost:3000"})

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in allowed.headers
    assert "access-control-allow-origin" not in refused.headers
    assert simple.headers["access-control-allow-origin"] == "http://localhost:3000"
    exposed = {
        name.strip().lower() for name in simple.headers["access-control-expose-headers"].split(",")
    }
    assert exposed == {
        "x-request-id",
        "traceparent",
        "retry-after",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-generation-id",
    }
    assert "x-request-id" in refused.headers


# ---- access log ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_one_access_log_line_per_request(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="tokenmart.http")

    await gateway.client.get("/api/v1/nope?token=secret", headers={"X-Request-Id": "log-1"})

    lines = [record for record in caplog.records if record.name == "tokenmart.http"]
    assert len(lines) == 1
    line = lines[0].__dict__
    assert line["method"] == "GET"
    assert line["path"] == "/api/v1/nope"
    assert line["status"] == 404
    assert line["client_ip"] == "203.0.113.7"
    assert isinstance(line["duration_ms"], float)


@pytest.mark.asyncio
async def test_forwarded_for_is_believed_only_from_trusted_proxies(
    make_gateway: MakeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="tokenmart.http")
    trusting = make_gateway(TRUSTED_PROXIES="203.0.113.0/24")
    untrusting = make_gateway(TRUSTED_PROXIES="")
    forwarded = {"X-Forwarded-For": "198.51.100.1, 192.0.2.9"}

    await trusting.client.get("/healthz", headers=forwarded)
    await untrusting.client.get("/healthz", headers=forwarded)

    lines = [record for record in caplog.records if record.name == "tokenmart.http"]
    assert [line.__dict__["client_ip"] for line in lines] == ["192.0.2.9", "203.0.113.7"]


# ---- OpenAPI ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_openapi_document_is_served(small: Gateway) -> None:
    response = await small.client.get("/openapi.json")

    assert response.status_code == 200
    document = response.json()
    assert document["info"]["title"] == "TokenMart Core"
    assert document["info"]["version"] == "1.0.0"
    assert document["info"]["description"]
    health = document["paths"]["/healthz"]["get"]["responses"]
    assert {"200", "503"} <= set(health)
    assert "PlatformErrorEnvelope" in document["components"]["schemas"]


@pytest.mark.asyncio
async def test_openapi_documents_the_envelope_not_422_for_validation(small: Gateway) -> None:
    document = (await small.client.get("/openapi.json")).json()

    responses = document["paths"]["/api/v1/test/items"]["post"]["responses"]
    assert "422" not in responses
    assert responses["default"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PlatformErrorEnvelope"
    }
    assert "HTTPValidationError" not in document["components"]["schemas"]


@pytest.mark.asyncio
async def test_docs_are_served(gateway: Gateway) -> None:
    response = await gateway.client.get("/docs")

    assert response.status_code == 200
    assert "swagger" in response.text.lower()

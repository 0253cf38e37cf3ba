"""The gateway's metrics and trace context, with the production ``create_app`` over the session's
real auth, wallet and provider servers (and Redis for rate limits).

* requests are counted by route *template*, method and status, errors by reason, rate-limit
  decisions by bucket and store, credential checks by cache result, backend calls by method;
* nothing a client put in a path (ids, secret-looking strings) reaches the metrics;
* a ``traceparent`` sent to the gateway comes back with the same trace id, and arrives with it in
  the logs of provider and of wallet, two gRPC hops away.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest_asyncio

from ops.pki import IssuedFiles
from services.common.tracing import Trace, parse_traceparent
from services.gateway.app import create_app
from services.gateway.backends import Backends
from services.gateway.metrics import GatewayMetrics
from services.gateway.settings import GatewaySettings
from tests.conftest import AuthServerHandle, ProviderServerHandle, WalletServerHandle
from tests.edge import CLIENT_IP, Gateway, gateway_environ
from tests.flows import PASSWORD, Api, AuthRows, bearer, some_client_ip
from tests.observability.conftest import CapturedLogs, Scrape, scrape_registry
from tests.security.conftest import Edge
from tests.security.test_wallet_edge import funded_agent

MINI = "openai/gpt-4o-mini"
GENERATION_ROUTE = "/api/v1/tokenhall/generation/{generation_id}"


@dataclass
class Observed:
    edge: Edge
    metrics: GatewayMetrics

    @property
    def client(self) -> httpx.AsyncClient:
        return self.edge.api.client

    def scrape(self) -> Scrape:
        return scrape_registry(self.metrics.service.registry)


@pytest_asyncio.fixture
async def observed(
    pki: dict[str, IssuedFiles],
    redis_url: str,
    auth_server: AuthServerHandle,
    wallet_server: WalletServerHandle,
    provider_server: ProviderServerHandle,
) -> AsyncIterator[Observed]:
    """A gateway as ``python -m services.gateway`` builds it: one registry for its requests and
    its backend channels."""
    settings = GatewaySettings.from_env(
        gateway_environ(
            pki,
            ports={
                "auth": auth_server.port,
                "wallet": wallet_server.port,
                "provider": provider_server.port,
            },
            TRUSTED_PROXIES=f"{CLIENT_IP}/32",
            REDIS_URL=redis_url,
            RATE_LIMIT_KEY=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        )
    )
    metrics = GatewayMetrics()
    backends = Backends.open(settings, metrics=metrics.service.client)
    app = create_app(settings, backends, metrics=metrics)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(CLIENT_IP, 40000)),
        base_url="http://testserver",
        headers={"X-Forwarded-For": some_client_ip()},
    )
    gateway = Gateway(settings=settings, backends=backends, app=app, client=client)
    try:
        yield Observed(
            edge=Edge(
                gateway=gateway,
                api=Api(client),
                auth=auth_server,
                rows=AuthRows(auth_server.owner_url),
            ),
            metrics=metrics,
        )
    finally:
        await client.aclose()
        await backends.close()


async def test_requests_are_counted_by_route_template_with_error_reasons_and_no_secrets(
    observed: Observed,
) -> None:
    api = observed.edge.api
    email = await api.register_account()
    refused = await observed.client.post(
        "/api/v1/auth/login", json={"email": email, "password": PASSWORD + "-wrong"}
    )
    assert refused.status_code == 401
    wrong_password_reason = refused.json()["error"]["reason"]
    session = await api.login(email)
    before = observed.scrape().total("tokenmart_auth_cache_lookups_total")
    for _ in range(2):
        listed = await observed.client.get("/api/v1/auth/sessions", headers=session.headers())
        assert listed.status_code == 200, listed.text
    after = observed.scrape()
    assert after.total("tokenmart_auth_cache_lookups_total") - before == 2
    assert after.value("tokenmart_auth_cache_lookups_total", result="miss")

    secret_key = "th_" + secrets.token_hex(20)
    secret_id = "gen-" + secrets.token_hex(16)
    in_url = await observed.client.get(f"/api/v1/tokenhall/generation/{secret_key}")
    assert in_url.json()["error"]["reason"] == "CREDENTIAL_IN_URL"
    unknown = await observed.client.get(f"/api/v1/nothing-here/{secret_id}")
    assert unknown.status_code == 404
    odd_method = await observed.client.request("PROPFIND", f"/healthz?{secret_id}")
    assert odd_method.status_code == 405

    scraped = observed.scrape()
    requests = "tokenmart_http_requests_total"
    assert scraped.value(requests, route="/api/v1/auth/register", method="POST", status="201") == 1
    assert scraped.value(requests, route="/api/v1/auth/login", method="POST", status="401") == 1
    assert scraped.value(requests, route="/api/v1/auth/sessions", method="GET", status="200") == 2
    assert scraped.value(requests, route=GENERATION_ROUTE, method="GET", status="400") == 1
    assert scraped.value(requests, route="unmatched", method="GET", status="404") == 1
    assert scraped.value(requests, route="/healthz", method="OTHER", status="405") == 1
    assert scraped.value("tokenmart_http_errors_total", reason=wrong_password_reason) == 1
    assert scraped.value("tokenmart_http_errors_total", reason="CREDENTIAL_IN_URL") == 1
    assert scraped.value("tokenmart_http_errors_total", reason="NOT_FOUND") == 1
    assert scraped.value(
        "tokenmart_http_latency_seconds_count", route="/api/v1/auth/sessions", method="GET"
    )
    # Rate limits were decided in Redis, which answers: no fallback.
    decisions = "tokenmart_ratelimit_decisions_total"
    assert scraped.value(decisions, bucket="account_reg_ip", decision="allowed", source="redis")
    assert scraped.value(decisions, bucket="ip_flood", decision="allowed", source="redis")
    assert scraped.value("tokenmart_ratelimit_fallback_active") == 0
    # The backend calls those requests made, from the gateway's side.
    authenticate = "/tokenmart.auth.v1.AuthService/Authenticate"
    client_requests = "tokenmart_grpc_client_requests_total"
    assert scraped.value(client_requests, service="gateway", method=authenticate, code="OK")
    # Nothing a client chose, no credential and no id, is in the metrics.
    routes = scraped.label_values(requests, "route")
    assert routes <= set(observed.edge.gateway.app.openapi()["paths"]) | {"unmatched"}
    for secret in (secret_key, secret_id, email, session.session_token, session.account_id):
        assert secret not in scraped.text


async def test_the_gateway_answers_with_the_callers_trace_or_a_new_one(observed: Observed) -> None:
    sent = Trace.mint()
    kept = await observed.client.get("/healthz", headers={"traceparent": sent.traceparent})
    answered = parse_traceparent(kept.headers["traceparent"])
    assert answered is not None
    assert answered.trace_id == sent.trace_id and answered.span_id != sent.span_id

    malformed = sent.traceparent.upper()
    fresh = await observed.client.get("/healthz", headers={"traceparent": malformed})
    minted = parse_traceparent(fresh.headers["traceparent"])
    assert minted is not None and minted.trace_id != sent.trace_id

    both = await observed.client.get(
        "/healthz",
        headers=[("traceparent", sent.traceparent), ("traceparent", Trace.mint().traceparent)],
    )
    ambiguous = parse_traceparent(both.headers["traceparent"])
    assert ambiguous is not None and ambiguous.trace_id != sent.trace_id


async def test_a_traceparent_sent_to_the_gateway_reaches_provider_and_wallet_logs(
    observed: Observed, captured_logs: CapturedLogs
) -> None:
    edge = observed.edge
    admin = await edge.admin_session()
    owner, agent = await funded_agent(edge, admin, 5_000_000)
    key = (await edge.api.create_key(owner.headers(), agent_id=agent.agent_id))["raw_key"]

    sent = Trace.mint()
    request_id = f"obs-{secrets.token_hex(6)}"
    completion = await observed.client.post(
        "/api/v1/tokenhall/chat/completions",
        json={"model": MINI, "messages": [{"role": "user", "content": "Hello."}], "max_tokens": 8},
        headers={**bearer(key), "traceparent": sent.traceparent, "x-request-id": request_id},
    )
    assert completion.status_code == 200, completion.text
    streamed = await observed.client.post(
        "/api/v1/tokenhall/chat/completions",
        json={
            "model": MINI,
            "messages": [{"role": "user", "content": "Count."}],
            "max_tokens": 8,
            "stream": True,
        },
        headers=bearer(key),
    )
    assert streamed.status_code == 200 and "[DONE]" in streamed.text

    rpc_lines = [entry for entry in captured_logs.entries() if entry.get("msg") == "rpc"]
    traced = [entry for entry in rpc_lines if entry.get("trace_id") == sent.trace_id]
    methods = {entry["method"] for entry in traced}
    # Hop 1: gateway → provider. Hop 2: provider → wallet (the hold before the upstream call).
    assert "/tokenmart.provider.v1.ProviderService/ChatCompletion" in methods
    assert "/tokenmart.wallet.v1.WalletService/CreateHold" in methods
    assert all(entry["request_id"] == request_id for entry in traced)
    http_lines = [entry for entry in captured_logs.entries() if entry.get("msg") == "http"]
    (chat,) = [entry for entry in http_lines if entry.get("trace_id") == sent.trace_id]
    assert chat["route"] == "/api/v1/tokenhall/chat/completions"

    # The gateway's client side counted both calls, the stream once it ended.
    name = "tokenmart_grpc_client_requests_total"
    stream_method = "/tokenmart.provider.v1.ProviderService/StreamChatCompletion"
    for _ in range(100):
        scraped = observed.scrape()
        if scraped.value(name, method=stream_method):
            break
        await asyncio.sleep(0.01)
    assert scraped.value(name, method=stream_method, code="OK") == 1
    chat_method = "/tokenmart.provider.v1.ProviderService/ChatCompletion"
    assert scraped.value(name, method=chat_method, code="OK") == 1
    assert key not in scraped.text and agent.agent_id not in scraped.text

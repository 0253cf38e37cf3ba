"""The provider's and review's domain metrics against the real schemas and the stand-in upstream.

The scrape-time gauges run as each service's runtime role (its grants must allow them) and must
agree with what the schema owner sees; upstream calls are counted by provider and outcome, with
refusals and broken streams under their UPSTREAM_* reasons.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import psycopg
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db import create_engine
from services.common.metrics import ServiceMetrics
from services.common.settings import DatabaseSettings
from services.provider.domain.registry import UpstreamProvider
from services.provider.errors import UpstreamRateLimited
from services.provider.metrics import ProviderMetrics, UpstreamMetrics
from services.provider.upstream.adapters import PreparedCall, Upstreams, UpstreamStreamBroken
from services.provider.upstream.http import create_session
from services.review.metrics import ReviewMetrics
from tests.conftest import PROVIDER_PLATFORM_KEYS, ProviderServerHandle, ReviewServerHandle
from tests.observability.conftest import scrape_registry


def _runtime_engine(url: str, name: str) -> AsyncEngine:
    settings = DatabaseSettings(url=url, pool_size=1, max_overflow=0, statement_timeout_ms=5000)
    return create_engine(settings, application_name=f"tokenmart-{name}-metrics-test")


def _owner_value(owner_url: str, query: str) -> float:
    with psycopg.connect(owner_url, autocommit=True) as connection:
        row = connection.execute(query).fetchone()
    assert row is not None
    return float(row[0])


@pytest_asyncio.fixture
async def provider_engine(provider_server: ProviderServerHandle) -> AsyncIterator[AsyncEngine]:
    engine = _runtime_engine(provider_server.settings.common.database.url, "provider")
    yield engine
    await engine.dispose()


async def test_the_settlement_backlog_is_read_at_scrape_time_as_the_runtime_role(
    provider_server: ProviderServerHandle, provider_engine: AsyncEngine
) -> None:
    metrics = ServiceMetrics("provider")
    ProviderMetrics(metrics, provider_engine)
    await metrics.refresh()
    scraped = scrape_registry(metrics.registry)
    assert scraped.value("tokenmart_metrics_refresh_ok", source="provider_settlement") == 1
    backlog = _owner_value(
        provider_server.owner_url,
        "SELECT count(*) FROM provider.generations "
        "WHERE settlement_status = 'pending' AND status <> 'in_progress'",
    )
    assert scraped.value("tokenmart_provider_settlement_backlog") == backlog
    assert scraped.value("tokenmart_provider_settlement_backlog_oldest_age_seconds") is not None
    assert scraped.value("tokenmart_provider_generations_in_progress") is not None


async def test_a_failing_refresh_is_reported_and_never_fails_the_scrape() -> None:
    metrics = ServiceMetrics("provider")
    # Nothing listens on port 1: every connection attempt fails.
    engine = _runtime_engine("postgresql://nobody@127.0.0.1:1/nothing", "unreachable")
    try:
        ProviderMetrics(metrics, engine)
        await metrics.refresh()
    finally:
        await engine.dispose()
    scraped = scrape_registry(metrics.registry)
    assert scraped.value("tokenmart_metrics_refresh_ok", source="provider_settlement") == 0
    assert scraped.value("tokenmart_provider_settlement_backlog") == 0


async def test_the_payout_outbox_is_read_at_scrape_time_as_the_runtime_role(
    review_server: ReviewServerHandle,
) -> None:
    engine = _runtime_engine(review_server.settings.common.database.url, "review")
    metrics = ServiceMetrics("review")
    try:
        ReviewMetrics(metrics, engine)
        await metrics.refresh()
    finally:
        await engine.dispose()
    scraped = scrape_registry(metrics.registry)
    assert scraped.value("tokenmart_metrics_refresh_ok", source="review_outbox") == 1
    for status, name in (
        ("pending", "tokenmart_review_outbox_pending"),
        ("stuck", "tokenmart_review_outbox_stuck"),
    ):
        expected = _owner_value(
            review_server.owner_url,
            f"SELECT count(*) FROM review.outbox_entries WHERE status = '{status}'",
        )
        assert scraped.value(name) == expected


def _body(text: str, *, stream: bool = False) -> dict[str, object]:
    return {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": text}],
        "max_tokens": 8,
        "stream": stream,
    }


async def _drain(upstreams: Upstreams, call: PreparedCall) -> None:
    async with upstreams.stream(call) as stream:
        async for _ in stream.chunks():
            pass


async def test_upstream_calls_are_counted_by_provider_and_outcome(
    provider_server: ProviderServerHandle,
) -> None:
    metrics = ServiceMetrics("provider")
    settings = provider_server.settings
    upstreams = Upstreams(settings, create_session(settings.http), metrics=UpstreamMetrics(metrics))
    key = PROVIDER_PLATFORM_KEYS["openai"]
    openai = UpstreamProvider.OPENAI
    tag = f"[standin:marker={secrets.token_hex(6)}]"
    try:
        answered = upstreams.prepare(openai, api_key=key, body=_body(tag))
        status, _ = await upstreams.complete(answered)
        assert status == 200
        refused = upstreams.prepare(openai, api_key=key, body=_body(f"{tag} [standin:error=429]"))
        with pytest.raises(UpstreamRateLimited):
            await upstreams.complete(refused)
        cut = upstreams.prepare(
            openai, api_key=key, body=_body(f"{tag} [standin:disconnect_after=2]", stream=True)
        )
        with pytest.raises(UpstreamStreamBroken):
            await _drain(upstreams, cut)
    finally:
        await upstreams.close()

    scraped = scrape_registry(metrics.registry)
    requests = "tokenmart_provider_upstream_requests_total"
    assert scraped.value(requests, provider="openai", stream="false", outcome="ok") == 1
    assert (
        scraped.value(requests, provider="openai", stream="false", outcome="UPSTREAM_RATE_LIMITED")
        == 1
    )
    assert scraped.value(requests, provider="openai", stream="true", outcome="ok") == 1
    errors = "tokenmart_provider_upstream_errors_total"
    assert scraped.value(errors, provider="openai", reason="UPSTREAM_RATE_LIMITED") == 1
    assert scraped.value(errors, provider="openai", reason="UPSTREAM_UNAVAILABLE") == 1
    latency = "tokenmart_provider_upstream_latency_seconds_count"
    assert scraped.value(latency, provider="openai", stream="false") == 2
    assert key not in scraped.text

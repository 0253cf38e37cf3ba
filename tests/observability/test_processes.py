"""Every process of TokenMart Core, started as ``python -m services.<name>``, serves Prometheus
``/metrics`` on its own plaintext listener (``TOKENMART_<SVC>_METRICS_LISTEN``) and stops cleanly
on SIGTERM, listener included."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from ops.database import ServiceDatabase
from ops.pki import IssuedFiles
from tests.conftest import (
    AUTH_FAST_ENV,
    AuthServerHandle,
    StandinHandle,
    WalletServerHandle,
    provider_test_environ,
    review_test_environ,
)
from tests.edge import gateway_environ
from tests.observability.conftest import ServiceProcess, scrape

pytestmark = pytest.mark.slow

HEALTH_CHECK = "/grpc.health.v1.Health/Check"

# What each process reports besides the standard process metrics.
EXPECTED = {
    "auth": ("tokenmart_grpc_server_requests_total",),
    "provider": (
        "tokenmart_grpc_server_requests_total",
        "tokenmart_provider_settlement_backlog",
        "tokenmart_provider_settlement_backlog_oldest_age_seconds",
    ),
    "review": (
        "tokenmart_grpc_server_requests_total",
        "tokenmart_review_outbox_pending",
        "tokenmart_review_outbox_stuck",
    ),
    "gateway": ("tokenmart_http_requests_total", "tokenmart_ratelimit_fallback_active"),
}


def _environment(
    name: str,
    *,
    databases: dict[str, ServiceDatabase],
    pki: dict[str, IssuedFiles],
    auth: AuthServerHandle,
    wallet: WalletServerHandle,
    standin: StandinHandle,
) -> dict[str, str]:
    if name == "auth":
        return {
            "TOKENMART_AUTH_DATABASE_URL": databases["auth"].runtime_url,
            "TOKENMART_AUTH_WALLET_TARGET": f"127.0.0.1:{wallet.port}",
            "TOKENMART_AUTH_DATABASE_POOL_SIZE": "2",
            **{f"TOKENMART_AUTH_{key}": value for key, value in AUTH_FAST_ENV.items()},
        }
    if name == "provider":
        return provider_test_environ(
            databases["provider"].runtime_url,
            pki["provider"],
            auth_port=auth.port,
            wallet_port=wallet.port,
            standin=standin,
        )
    if name == "review":
        return review_test_environ(
            databases["review"].runtime_url,
            pki["review"],
            auth_port=auth.port,
            wallet_port=wallet.port,
        )
    assert name == "gateway"
    return gateway_environ(pki, ports={"auth": auth.port, "wallet": wallet.port})


@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_each_process_serves_metrics_and_stops_cleanly_on_sigterm(
    name: str,
    service_databases: dict[str, ServiceDatabase],
    pki: dict[str, IssuedFiles],
    auth_server: AuthServerHandle,
    wallet_server: WalletServerHandle,
    standin_upstream: StandinHandle,
    tmp_path: Path,
) -> None:
    environment = _environment(
        name,
        databases=service_databases,
        pki=pki,
        auth=auth_server,
        wallet=wallet_server,
        standin=standin_upstream,
    )
    process = ServiceProcess(name, environment, tmp_path / f"{name}.log", pki)
    try:
        await process.start()
        scraped = await scrape(process.metrics_url)
        for metric in EXPECTED[name]:
            assert metric in scraped.text, metric
        assert scraped.value("process_start_time_seconds") is not None
        if name == "gateway":
            # The /healthz the harness waited on, under its route, and the health checks it
            # made to the backends, from the client side.
            assert scraped.total("tokenmart_http_requests_total", route="/healthz") >= 1
            assert scraped.total("tokenmart_grpc_client_requests_total", method=HEALTH_CHECK) >= 1
        else:
            # The health checks the harness waited on, counted by the server.
            assert (
                scraped.total(
                    "tokenmart_grpc_server_requests_total", service=name, method=HEALTH_CHECK
                )
                >= 1
            )
        async with httpx.AsyncClient() as client:
            other = await client.get(f"http://127.0.0.1:{process.metrics_port}/", timeout=5)
            openmetrics = await client.get(
                process.metrics_url,
                headers={"Accept": "application/openmetrics-text; version=1.0.0"},
                timeout=5,
            )
        assert other.status_code == 404
        assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
        assert openmetrics.text.rstrip().endswith("# EOF")
        status = process.terminate()
        # uvicorn re-raises the SIGTERM it handled once its graceful shutdown is done.
        assert status == (-signal.SIGTERM if name == "gateway" else 0), process.log.read_text()
        messages = [entry.get("msg") for entry in process.log_entries()]
        assert "metrics listener stopped" in messages
        with pytest.raises(httpx.ConnectError):
            async with httpx.AsyncClient() as client:
                await client.get(process.metrics_url, timeout=5)
    finally:
        process.kill()

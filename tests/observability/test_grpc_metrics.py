"""The common server and client interceptors over real mTLS: what they count, under which labels,
and the trace context they carry from one hop to the next.

A real :class:`GrpcServer` (the production interceptors and allowlist) serves three test methods
of WalletService: ``Echo`` answers the request id and trace the server bound, ``Fail`` raises a
TokenMartError with a reason, ``Count`` streams. A second server (``Relay``) calls the first
through :func:`services.common.client.open_channel`, so one call crosses two hops.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
import pytest_asyncio

from ops.pki import IssuedFiles
from services.common.client import open_channel
from services.common.errors import InvalidArgument
from services.common.identity import PeerAllowlist
from services.common.logging import current_request_id
from services.common.metrics import ServiceMetrics
from services.common.server import GrpcServer
from services.common.settings import PeerTarget
from services.common.tracing import Trace, current_trace, parse_traceparent
from tests.grpc_helpers import mtls_channel, server_settings, tls_of
from tests.observability.conftest import scrape_registry

WALLET = "tokenmart.wallet.v1.WalletService"
REVIEW = "tokenmart.review.v1.ReviewService"


class AmountNegative(InvalidArgument):
    reason = "AMOUNT_NEGATIVE"


def _bound() -> bytes:
    trace = current_trace()
    assert trace is not None
    return f"{current_request_id()} {trace.trace_id} {trace.span_id}".encode()


def _wallet_handler() -> grpc.GenericRpcHandler:
    async def echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return _bound()

    async def fail(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        raise AmountNegative()

    async def count(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        for index in range(int(request.decode() or "0")):
            yield str(index).encode()

    return grpc.method_handlers_generic_handler(
        WALLET,
        {
            "Echo": grpc.unary_unary_rpc_method_handler(echo),
            "Fail": grpc.unary_unary_rpc_method_handler(fail),
            "Count": grpc.unary_stream_rpc_method_handler(count),
        },
    )


class Servers:
    def __init__(self, pki: dict[str, IssuedFiles]) -> None:
        self.pki = pki
        self.wallet_metrics = ServiceMetrics("wallet")
        self.review_metrics = ServiceMetrics("review")
        self.wallet = GrpcServer(
            service="wallet",
            settings=server_settings(),
            tls=tls_of(pki["wallet"]),
            allowlist=PeerAllowlist.for_service(
                WALLET, {"Echo": ("gateway", "review"), "Fail": ("gateway",), "Count": ("gateway",)}
            ),
            registrations=(lambda server: server.add_generic_rpc_handlers((_wallet_handler(),)),),
            metrics=self.wallet_metrics,
        )
        self.review: GrpcServer | None = None
        self.relay_channel: grpc.aio.Channel | None = None

    async def start(self) -> None:
        await self.wallet.start()
        # Review relays to wallet over the production channel (client interceptors, metrics).
        self.relay_channel = open_channel(
            PeerTarget("wallet", f"127.0.0.1:{self.wallet.port}", default_timeout_s=5),
            tls_of(self.pki["review"]),
            full_service_name=WALLET,
            metrics=self.review_metrics.client,
        )
        echo = self.relay_channel.unary_unary(f"/{WALLET}/Echo")

        async def relay(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            downstream: bytes = await echo(b"")
            return _bound() + b"|" + downstream

        handler = grpc.method_handlers_generic_handler(
            REVIEW, {"Relay": grpc.unary_unary_rpc_method_handler(relay)}
        )
        self.review = GrpcServer(
            service="review",
            settings=server_settings(),
            tls=tls_of(self.pki["review"]),
            allowlist=PeerAllowlist.for_service(REVIEW, {"Relay": ("gateway",)}),
            registrations=(lambda server: server.add_generic_rpc_handlers((handler,)),),
            metrics=self.review_metrics,
        )
        await self.review.start()

    async def stop(self) -> None:
        if self.relay_channel is not None:
            await self.relay_channel.close()
        if self.review is not None:
            await self.review.stop(0)
        await self.wallet.stop(0)

    def channel(self, server: GrpcServer, name: str, peer: str = "gateway") -> grpc.aio.Channel:
        return mtls_channel(
            server.port, ca_file=self.pki[peer].ca_file, cert=self.pki[peer], expect_name=name
        )


@pytest_asyncio.fixture
async def servers(pki: dict[str, IssuedFiles]) -> AsyncIterator[Servers]:
    started = Servers(pki)
    await started.start()
    try:
        yield started
    finally:
        await started.stop()


async def test_the_server_counts_each_rpc_by_method_and_code_and_errors_by_reason(
    servers: Servers,
) -> None:
    async with servers.channel(servers.wallet, "wallet") as channel:
        await channel.unary_unary(f"/{WALLET}/Echo")(b"", timeout=5)
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await channel.unary_unary(f"/{WALLET}/Fail")(b"", timeout=5)
        assert failed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        # A method nobody serves: refused, and its caller-chosen name is never a label.
        with pytest.raises(grpc.aio.AioRpcError):
            await channel.unary_unary("/evil.Service/tm_secret_0123456789abcdef")(b"", timeout=5)
        streamed = [item async for item in channel.unary_stream(f"/{WALLET}/Count")(b"3")]
        assert streamed == [b"0", b"1", b"2"]
    async with servers.channel(servers.wallet, "wallet", peer="provider") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await channel.unary_unary(f"/{WALLET}/Fail")(b"", timeout=5)
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED

    scraped = scrape_registry(servers.wallet_metrics.registry)
    requests = "tokenmart_grpc_server_requests_total"
    errors = "tokenmart_grpc_server_errors_total"
    echo, fail, count = (f"/{WALLET}/{name}" for name in ("Echo", "Fail", "Count"))
    assert scraped.value(requests, service="wallet", method=echo, code="OK") == 1
    assert scraped.value(requests, service="wallet", method=fail, code="INVALID_ARGUMENT") == 1
    assert scraped.value(requests, service="wallet", method=fail, code="PERMISSION_DENIED") == 1
    assert scraped.value(requests, service="wallet", method=count, code="OK") == 1
    assert scraped.value(errors, method=fail, reason="AMOUNT_NEGATIVE") == 1
    assert scraped.value(errors, method=fail, reason="PEER_NOT_ALLOWED") == 1
    assert scraped.value(requests, method="unknown", code="PERMISSION_DENIED") == 1
    assert scraped.value(errors, method="unknown", reason="PEER_NOT_ALLOWED") == 1
    assert scraped.value(errors, method=echo) is None
    assert scraped.value("tokenmart_grpc_server_latency_seconds_count", method=fail) == 2
    assert scraped.value("tokenmart_grpc_server_latency_seconds_count", method=echo) == 1
    assert "tm_secret_0123456789abcdef" not in scraped.text
    assert "evil.Service" not in scraped.text


async def test_trace_and_request_id_cross_two_hops_with_a_new_span_each(servers: Servers) -> None:
    assert servers.review is not None
    sent = Trace.mint()
    async with servers.channel(servers.review, "review") as channel:
        answer: bytes = await channel.unary_unary(f"/{REVIEW}/Relay")(
            b"", timeout=5, metadata=(("traceparent", sent.traceparent), ("x-request-id", "hop-1"))
        )
    review_seen, wallet_seen = (part.decode().split() for part in answer.split(b"|"))
    # Same request id and trace id on both hops; every hop its own span, none the caller's.
    assert review_seen[:2] == wallet_seen[:2] == ["hop-1", sent.trace_id]
    assert len({sent.span_id, review_seen[2], wallet_seen[2]}) == 3

    # The relaying service counted its own outgoing call.
    client = scrape_registry(servers.review_metrics.registry)
    assert (
        client.value(
            "tokenmart_grpc_client_requests_total",
            service="review",
            method=f"/{WALLET}/Echo",
            code="OK",
        )
        == 1
    )
    assert client.value("tokenmart_grpc_client_latency_seconds_count", method=f"/{WALLET}/Echo")


@pytest.mark.parametrize(
    "traceparent",
    [
        None,
        "",
        "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01",  # upper case
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",  # zero trace id
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",  # zero parent id
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  # forbidden version
        "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  # not version 00
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
        "tokenmart_" + "A" * 45,
    ],
)
async def test_a_server_starts_a_new_trace_for_a_missing_or_malformed_traceparent(
    servers: Servers, traceparent: str | None
) -> None:
    metadata = (("traceparent", traceparent),) if traceparent is not None else ()
    async with servers.channel(servers.wallet, "wallet") as channel:
        answer: bytes = await channel.unary_unary(f"/{WALLET}/Echo")(
            b"", timeout=5, metadata=metadata
        )
    _, trace_id, span_id = answer.decode().split()
    minted = parse_traceparent(f"00-{trace_id}-{span_id}-01")
    assert minted is not None
    assert traceparent is None or trace_id not in traceparent.lower()


async def test_a_streaming_call_is_counted_once_it_is_done(servers: Servers) -> None:
    channel = open_channel(
        PeerTarget("wallet", f"127.0.0.1:{servers.wallet.port}", default_timeout_s=5),
        tls_of(servers.pki["gateway"]),
        full_service_name=WALLET,
        metrics=servers.review_metrics.client,
    )
    async with channel:
        call = channel.unary_stream(f"/{WALLET}/Count")(b"2")
        assert [item async for item in call] == [b"0", b"1"]
        with pytest.raises(grpc.aio.AioRpcError):
            await channel.unary_unary(f"/{WALLET}/Fail")(b"")
    name = "tokenmart_grpc_client_requests_total"
    for _ in range(100):  # a stream's status is recorded by a callback just after it ends
        scraped = scrape_registry(servers.review_metrics.registry)
        if scraped.value(name, method=f"/{WALLET}/Count"):
            break
        await asyncio.sleep(0.01)
    assert scraped.value(name, method=f"/{WALLET}/Count", code="OK") == 1
    assert scraped.value(name, method=f"/{WALLET}/Fail", code="INVALID_ARGUMENT") == 1

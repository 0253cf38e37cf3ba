"""Channels balance calls over every address their target resolves to (a headless Kubernetes
Service resolves to every ready pod), and keep serving through the replicas left when one goes.
"""

from __future__ import annotations

import grpc
import pytest

from ops.pki import IssuedFiles
from services.common.client import open_channel
from services.common.identity import PeerAllowlist
from services.common.server import GrpcServer
from services.common.settings import PeerTarget
from tests.grpc_helpers import server_settings, tls_of

SERVICE = "tokenmart.review.v1.ReviewService"


class Counter:
    """A replica's one method, counting the calls it answers."""

    def __init__(self) -> None:
        self.calls = 0

    async def probe(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        self.calls += 1
        return b""


async def _replica(pki: dict[str, IssuedFiles]) -> tuple[GrpcServer, Counter]:
    counter = Counter()
    handler = grpc.method_handlers_generic_handler(
        SERVICE, {"Probe": grpc.unary_unary_rpc_method_handler(counter.probe)}
    )
    server = GrpcServer(
        service="review",
        settings=server_settings(),
        tls=tls_of(pki["review"]),
        allowlist=PeerAllowlist.for_service(SERVICE, {"Probe": ("gateway",)}),
        registrations=[lambda s: s.add_generic_rpc_handlers((handler,))],
    )
    await server.start()
    return server, counter


async def _probe(channel: grpc.aio.Channel) -> None:
    call = channel.unary_unary(f"/{SERVICE}/Probe")
    assert await call(b"", wait_for_ready=True) == b""


@pytest.mark.asyncio
async def test_calls_spread_over_every_replica_and_survive_losing_one(
    pki: dict[str, IssuedFiles],
) -> None:
    replicas = [await _replica(pki) for _ in range(2)]
    addresses = ",".join(f"127.0.0.1:{server.port}" for server, _ in replicas)
    channel = open_channel(
        # The ipv4: scheme names several addresses, as DNS does for a headless Service.
        PeerTarget(service="review", target=f"ipv4:{addresses}", default_timeout_s=5.0),
        tls_of(pki["gateway"]),
        full_service_name=SERVICE,
    )
    try:
        for _ in range(20):
            await _probe(channel)
        calls = [counter.calls for _, counter in replicas]
        assert sum(calls) == 20
        assert min(calls) >= 5, f"calls were not balanced: {calls}"

        await replicas[0][0].stop(0)
        before = replicas[1][1].calls
        for _ in range(10):
            await _probe(channel)
        assert replicas[1][1].calls == before + 10
    finally:
        await channel.close()
        for server, _ in replicas:
            await server.stop(0)

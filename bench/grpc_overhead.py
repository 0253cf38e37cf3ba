"""What the common server plumbing costs per call.

Runs grpc.health.v1 Check over loopback with mTLS against (a) a bare grpc.aio server and (b) a
:class:`services.common.server.GrpcServer` (peer allowlist, error mapping, request ids, access
log), with the same certificates, concurrency and call count, and prints both side by side.

    .venv/bin/python -m bench.grpc_overhead [--calls 20000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio

from ops.pki import IssuedFiles, ensure_pki
from services.common.identity import PeerAllowlist, channel_credentials, server_credentials
from services.common.logging import configure_logging
from services.common.server import GrpcServer
from services.common.settings import GrpcServerSettings, TlsSettings


def _tls(files: IssuedFiles) -> TlsSettings:
    return TlsSettings(ca_file=files.ca_file, cert_file=files.cert_file, key_file=files.key_file)


async def _load(
    port: int, client: TlsSettings, *, calls: int, concurrency: int
) -> tuple[float, list[float]]:
    channel = grpc.aio.secure_channel(
        f"127.0.0.1:{port}",
        channel_credentials(client),
        options=[("grpc.ssl_target_name_override", "wallet")],
    )
    stub = health_pb2_grpc.HealthStub(channel)
    request = health_pb2.HealthCheckRequest()
    await stub.Check(request, timeout=5)  # connect and warm up
    latencies: list[float] = []
    remaining = calls

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            await stub.Check(request, timeout=5)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await channel.close()
    return calls / elapsed, latencies


def _row(name: str, rate: float, latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[int(len(ordered) * 0.99) - 1] * 1000
    return f"{name:<34} {rate:>10,.0f} calls/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms"


async def main(calls: int, concurrency: int) -> None:
    configure_logging("bench", "WARNING")
    logging.getLogger("tokenmart.rpc").setLevel(logging.WARNING)
    pki = ensure_pki(Path(tempfile.mkdtemp()) / "pki")
    server_tls, client_tls = _tls(pki["wallet"]), _tls(pki["gateway"])

    bare = grpc.aio.server()
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, bare)
    bare_port = bare.add_secure_port("127.0.0.1:0", server_credentials(server_tls))
    await bare.start()
    ours = GrpcServer(
        service="wallet",
        settings=GrpcServerSettings("127.0.0.1:0", None, False, 0.0, 4 << 20, 10_000),
        tls=server_tls,
        allowlist=PeerAllowlist.for_service("tokenmart.wallet.v1.WalletService", {}),
    )
    await ours.start()
    print(f"{calls} health checks, {concurrency} concurrent, one mTLS channel, loopback")
    bare_rate, bare_latencies = await _load(
        bare_port, client_tls, calls=calls, concurrency=concurrency
    )
    our_rate, our_latencies = await _load(
        ours.port, client_tls, calls=calls, concurrency=concurrency
    )
    print(_row("baseline: bare grpc.aio + mTLS", bare_rate, bare_latencies))
    print(_row("TokenMart GrpcServer + mTLS", our_rate, our_latencies))
    print(f"ratio (ours / baseline): {our_rate / bare_rate:.2f}")
    await ours.stop(0)
    await bare.stop(0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=32)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.calls, arguments.concurrency))

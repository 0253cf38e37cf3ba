"""I10: a process without a service certificate, or with the wrong one, is refused.

Real servers built by the production bootstrap (:class:`GrpcServer`) with each service's real
allowlist, real certificates from the dev PKI, real gRPC clients.
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from grpc_health.v1 import health_pb2

from ops.pki import IssuedFiles, issue
from services.auth import access as auth_access
from services.common.identity import PeerAllowlist
from services.common.server import GrpcServer
from services.common.status import error_reason
from services.provider import access as provider_access
from services.review import access as review_access
from services.wallet import access as wallet_access
from tests.grpc_helpers import mtls_channel, raw_call, server_settings, tls_of

ACCESS = {
    "auth": auth_access,
    "wallet": wallet_access,
    "provider": provider_access,
    "review": review_access,
}
HEALTH_CHECK = "/grpc.health.v1.Health/Check"


@pytest.fixture
async def start_server(pki: dict[str, IssuedFiles]) -> AsyncIterator[Callable[..., object]]:
    servers: list[GrpcServer] = []

    async def start(
        service: str, *, cert_of: str | None = None, allowlist: PeerAllowlist | None = None
    ) -> GrpcServer:
        server = GrpcServer(
            service=service,
            settings=server_settings(),
            tls=tls_of(pki[cert_of or service]),
            allowlist=allowlist or ACCESS[service].allowlist(reflection=False),
        )
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop(0)


def _foreign_identity(tmp_path: Path, name: str) -> IssuedFiles:
    """A certificate named like one of ours but issued by a CA we never trusted."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rogue CA")])
    now = datetime.datetime.now(datetime.UTC)
    ca = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem, key_pem = issue(common_name=name, ca_cert=ca, ca_key=key)
    directory = tmp_path / "rogue"
    directory.mkdir()
    (directory / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (directory / f"{name}.pem").write_bytes(cert_pem)
    (directory / f"{name}-key.pem").write_bytes(key_pem)
    return IssuedFiles(
        directory / "ca.pem", directory / f"{name}.pem", directory / f"{name}-key.pem"
    )


async def _health(channel: grpc.aio.Channel) -> int:
    response = await raw_call(
        channel, HEALTH_CHECK, health_pb2.HealthCheckRequest().SerializeToString()
    )
    return health_pb2.HealthCheckResponse.FromString(response).status


@pytest.mark.parametrize("service", sorted(ACCESS))
async def test_a_certified_peer_is_served(
    service: str, pki: dict[str, IssuedFiles], start_server
) -> None:
    server = await start_server(service)
    async with mtls_channel(
        server.port, ca_file=pki["gateway"].ca_file, cert=pki["gateway"], expect_name=service
    ) as channel:
        assert await _health(channel) == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize("service", sorted(ACCESS))
async def test_a_caller_without_a_certificate_is_refused_at_the_tls_layer(
    service: str, pki: dict[str, IssuedFiles], start_server
) -> None:
    server = await start_server(service)
    async with mtls_channel(
        server.port, ca_file=pki["gateway"].ca_file, cert=None, expect_name=service
    ) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await _health(channel)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_a_plaintext_caller_is_refused(start_server) -> None:
    server = await start_server("wallet")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await _health(channel)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_a_certificate_from_another_ca_is_refused(
    tmp_path: Path, pki: dict[str, IssuedFiles], start_server
) -> None:
    server = await start_server("wallet")
    rogue = _foreign_identity(tmp_path, "gateway")
    async with mtls_channel(
        server.port, ca_file=pki["gateway"].ca_file, cert=rogue, expect_name="wallet"
    ) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await _health(channel)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_a_server_with_another_services_certificate_is_not_trusted(
    pki: dict[str, IssuedFiles], start_server
) -> None:
    # An impostor listening where wallet should be, with auth's (valid) certificate.
    impostor = await start_server("wallet", cert_of="auth")
    async with mtls_channel(
        impostor.port, ca_file=pki["gateway"].ca_file, cert=pki["gateway"], expect_name="wallet"
    ) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await _health(channel)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


def _forbidden_pairs() -> list[tuple[str, str, str]]:
    """(service, method, peer) for every listed method and every certified peer it excludes."""
    pairs = []
    peers = ("auth", "wallet", "provider", "review", "gateway", "ctl")
    for service, module in sorted(ACCESS.items()):
        for method, callers in sorted(module.CALLERS.items()):
            for peer in peers:
                if peer not in callers:
                    pairs.append((service, f"/{module.SERVICE}/{method}", peer))
    return pairs


FORBIDDEN = _forbidden_pairs()


async def test_every_service_refuses_peers_outside_each_methods_allowlist(
    pki: dict[str, IssuedFiles], start_server
) -> None:
    assert len(FORBIDDEN) > 50, "the allowlists should exclude many (method, peer) pairs"
    servers = {service: await start_server(service) for service in ACCESS}
    channels: dict[tuple[str, str], grpc.aio.Channel] = {}
    try:
        for service, method, peer in FORBIDDEN:
            key = (service, peer)
            if key not in channels:
                channels[key] = mtls_channel(
                    servers[service].port,
                    ca_file=pki[peer].ca_file,
                    cert=pki[peer],
                    expect_name=service,
                )
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await raw_call(channels[key], method)
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED, (
                service,
                method,
                peer,
            )
            assert error_reason(refused.value) == "PEER_NOT_ALLOWED", (service, method, peer)
    finally:
        for channel in channels.values():
            await channel.close()


async def test_a_specific_refusal_auth_may_not_move_money(
    pki: dict[str, IssuedFiles], start_server
) -> None:
    server = await start_server("wallet")
    method = f"/{wallet_access.SERVICE}/CreateTransfers"
    assert "auth" not in wallet_access.CALLERS["CreateTransfers"]
    async with mtls_channel(
        server.port, ca_file=pki["auth"].ca_file, cert=pki["auth"], expect_name="wallet"
    ) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await raw_call(channel, method)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_reason(refused.value) == "PEER_NOT_ALLOWED"


async def test_unlisted_methods_are_refused_to_everyone(
    pki: dict[str, IssuedFiles], start_server
) -> None:
    server = await start_server("wallet")
    async with mtls_channel(
        server.port, ca_file=pki["ctl"].ca_file, cert=pki["ctl"], expect_name="wallet"
    ) as channel:
        for method in (f"/{wallet_access.SERVICE}/NoSuchMethod", "/some.Other/Thing"):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await raw_call(channel, method)
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert error_reason(refused.value) == "PEER_NOT_ALLOWED"


async def test_an_allowed_peer_passes_authorization(
    pki: dict[str, IssuedFiles], start_server
) -> None:
    # No servicer is registered in this server: an allowed caller gets past the allowlist and
    # reaches the (absent) handler, which is the only difference from a refused caller.
    server = await start_server("wallet")
    method, callers = next(iter(sorted(wallet_access.CALLERS.items())))
    peer = sorted(callers)[0]
    async with mtls_channel(
        server.port, ca_file=pki[peer].ca_file, cert=pki[peer], expect_name="wallet"
    ) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as reached:
            await raw_call(channel, f"/{wallet_access.SERVICE}/{method}")
    assert reached.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_reflection_is_off_unless_configured(
    pki: dict[str, IssuedFiles], start_server
) -> None:
    server = await start_server("wallet")
    async with mtls_channel(
        server.port, ca_file=pki["ctl"].ca_file, cert=pki["ctl"], expect_name="wallet"
    ) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await raw_call(
                channel, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
            )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED

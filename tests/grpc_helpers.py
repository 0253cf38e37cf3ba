"""Helpers for tests that talk gRPC to real servers: raw calls, certificates, settings."""

from __future__ import annotations

from pathlib import Path

import grpc

from ops.pki import IssuedFiles
from services.common.settings import GrpcServerSettings, TlsSettings


def tls_of(files: IssuedFiles) -> TlsSettings:
    return TlsSettings(ca_file=files.ca_file, cert_file=files.cert_file, key_file=files.key_file)


def server_settings(
    *, reflection: bool = False, health_listen: str | None = None
) -> GrpcServerSettings:
    return GrpcServerSettings(
        listen="127.0.0.1:0",
        health_listen=health_listen,
        reflection=reflection,
        shutdown_grace_s=0.0,
        max_message_bytes=4 * 1024 * 1024,
        max_concurrent_rpcs=100,
    )


def mtls_channel(
    port: int, *, ca_file: Path, cert: IssuedFiles | None, expect_name: str
) -> grpc.aio.Channel:
    """A channel presenting ``cert`` (or none) and expecting the server to be ``expect_name``."""
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca_file.read_bytes(),
        private_key=cert.key_file.read_bytes() if cert else None,
        certificate_chain=cert.cert_file.read_bytes() if cert else None,
    )
    return grpc.aio.secure_channel(
        f"127.0.0.1:{port}",
        credentials,
        options=[("grpc.ssl_target_name_override", expect_name)],
    )


async def raw_call(
    channel: grpc.aio.Channel, method: str, payload: bytes = b"", **kwargs: object
) -> bytes:
    """Call ``method`` with an already-serialized request (empty = all defaults)."""
    call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
    response: bytes = await call(payload, timeout=5, **kwargs)
    return response

"""Service identity: mTLS credentials and who is calling.

Every gRPC hop is mutual TLS with certificates from one CA. A service certificate's common name
is the service's name (``auth``, ``wallet``, ``provider``, ``review``, ``gateway``, or ``ctl``
for the operator CLI); servers require a client certificate, and clients pin the server's name
(``ssl_target_name_override``) so a certificate of another service cannot impersonate the one
being called.

Which peer may call which method is a :class:`PeerAllowlist`, checked by the server interceptor
before any handler runs. Methods not listed are refused for everyone (default deny).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from services.common.settings import TlsSettings

PEER_NAMES = frozenset({"auth", "wallet", "provider", "review", "gateway", "ctl"})
"""Every identity the dev PKI issues; an allowlist may name only these."""

ANY_PEER = "*"

HEALTH_METHODS = (
    "/grpc.health.v1.Health/Check",
    "/grpc.health.v1.Health/Watch",
)
REFLECTION_METHODS = (
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
)


@dataclass(frozen=True)
class PeerAllowlist:
    """Full method name (``/pkg.Service/Method``) → the peer services allowed to call it."""

    methods: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for method, peers in self.methods.items():
            assert method.startswith("/") and method.count("/") == 2, method
            unknown = set(peers) - PEER_NAMES - {ANY_PEER}
            assert not unknown, f"{method}: unknown peers {sorted(unknown)}"

    @classmethod
    def for_service(
        cls,
        full_service_name: str,
        rules: Mapping[str, Iterable[str]],
        *,
        reflection: bool = False,
    ) -> PeerAllowlist:
        """Build the allowlist of one service from ``{"Method": ("gateway", ...)}``.

        Health is open to every peer holding a valid certificate; reflection only when enabled.
        """
        methods: dict[str, frozenset[str]] = {
            f"/{full_service_name}/{method}": frozenset(peers) for method, peers in rules.items()
        }
        for method in HEALTH_METHODS:
            methods[method] = frozenset({ANY_PEER})
        if reflection:
            for method in REFLECTION_METHODS:
                methods[method] = frozenset({ANY_PEER})
        return cls(methods)

    def allows(self, method: str, peer: str | None) -> bool:
        allowed = self.methods.get(method)
        if not allowed or peer is None:
            return False
        return ANY_PEER in allowed or peer in allowed

    def callers_of(self, method: str) -> frozenset[str]:
        return self.methods.get(method, frozenset())


def peer_service(context: grpc.aio.ServicerContext) -> str | None:
    """The service name in the verified client certificate, or None without one."""
    auth_context = context.auth_context()
    names = auth_context.get("x509_common_name") or []
    if len(names) != 1:
        return None
    name = names[0].decode("ascii", errors="replace")
    return name if name in PEER_NAMES else None


def _read(path: Path) -> bytes:
    return path.read_bytes()


def server_credentials(tls: TlsSettings) -> grpc.ServerCredentials:
    """Server side of mTLS: present our certificate, require and verify the client's."""
    return grpc.ssl_server_credentials(
        [(_read(tls.key_file), _read(tls.cert_file))],
        root_certificates=_read(tls.ca_file),
        require_client_auth=True,
    )


def channel_credentials(tls: TlsSettings) -> grpc.ChannelCredentials:
    """Client side of mTLS: trust only our CA and present our own certificate."""
    return grpc.ssl_channel_credentials(
        root_certificates=_read(tls.ca_file),
        private_key=_read(tls.key_file),
        certificate_chain=_read(tls.cert_file),
    )

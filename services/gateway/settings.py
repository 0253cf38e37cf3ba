"""The gateway's settings, read once from ``TOKENMART_GATEWAY_*`` in ``__main__``.

- ``HOST`` / ``PORT``: where the HTTP listener binds (``127.0.0.1`` / ``8080``).
- ``TLS_CA_FILE``, ``TLS_CERT_FILE``, ``TLS_KEY_FILE``: the gateway's identity for mTLS to the
  backends (required).
- ``<BACKEND>_TARGET`` / ``<BACKEND>_TIMEOUT_S`` for ``AUTH``, ``WALLET``, ``PROVIDER``,
  ``REVIEW``: each backend's ``host:port`` (loopback default ports) and default call deadline.
- ``REDIS_URL``: the rate-limit store (optional).
- ``MAX_BODY_BYTES``: the largest request body accepted (1 MiB).
- ``MAX_JSON_DEPTH``: the deepest JSON nesting accepted (32).
- ``CORS_ORIGINS``: comma-separated exact origins allowed by CORS (none: no CORS at all).
- ``TRUSTED_PROXIES``: comma-separated IPs/CIDRs whose ``X-Forwarded-For`` is believed (none).
- ``HEALTH_TIMEOUT_S``: the deadline of each backend health check behind /healthz (1 s).
- ``METRICS_LISTEN``: ``host:port`` of a separate plaintext listener serving Prometheus
  ``/metrics`` (none: no listener).
- ``LOG_LEVEL``: ``DEBUG``, ``INFO``, ``WARNING``, ``ERROR`` or ``CRITICAL`` (``INFO``).

A missing or malformed value fails fast with :class:`SettingsError`.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from services.common.settings import (
    DEFAULT_GRPC_PORTS,
    Env,
    PeerTarget,
    SettingsError,
    TlsSettings,
    metrics_listen,
    service_env,
)

BACKEND_NAMES = ("auth", "wallet", "provider", "review")
"""The domain services behind the gateway, in the order /healthz reports them."""

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

MAX_BODY_BYTES_DEFAULT = 1024 * 1024
# Inference requests carry whole conversations; beyond 16 MiB a body is abuse, not a prompt.
MAX_BODY_BYTES_LIMIT = 16 * 1024 * 1024
MAX_JSON_DEPTH_DEFAULT = 32
MAX_JSON_DEPTH_LIMIT = 256

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class GatewaySettings:
    host: str
    port: int
    tls: TlsSettings
    peers: Mapping[str, PeerTarget]
    """Backend name (``auth``, ``wallet``, ``provider``, ``review``) → how to reach it."""
    redis_url: str | None
    max_body_bytes: int
    max_json_depth: int
    cors_origins: tuple[str, ...]
    trusted_proxies: tuple[IpNetwork, ...]
    health_timeout_s: float
    log_level: str
    rate_limit_key: bytes
    """Keys the hash of rate-limited identities in Redis; the same on every replica."""
    ip_flood_per_minute: int
    """Every route's ceiling per client IP (raise it behind NAT-heavy or benchmark traffic)."""
    auth_cache_ms: int
    """How long an Authenticate answer may be reused (0..1000 ms; auth's cache_for caps it)."""
    metrics_listen: str | None = None
    """``host:port`` of the plaintext Prometheus ``/metrics`` listener (None: no listener)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> GatewaySettings:
        env = service_env("gateway", environ)
        return cls(
            host=env.str("HOST", "127.0.0.1"),
            port=env.int("PORT", 8080, minimum=0, maximum=65535),
            tls=TlsSettings.from_env(env),
            peers={
                name: PeerTarget.from_env(env, name, default_port=DEFAULT_GRPC_PORTS[name])
                for name in BACKEND_NAMES
            },
            redis_url=_redis_url(env),
            max_body_bytes=env.int(
                "MAX_BODY_BYTES",
                MAX_BODY_BYTES_DEFAULT,
                minimum=1024,
                maximum=MAX_BODY_BYTES_LIMIT,
            ),
            max_json_depth=env.int(
                "MAX_JSON_DEPTH",
                MAX_JSON_DEPTH_DEFAULT,
                minimum=1,
                maximum=MAX_JSON_DEPTH_LIMIT,
            ),
            cors_origins=_cors_origins(env),
            trusted_proxies=_trusted_proxies(env),
            health_timeout_s=env.float("HEALTH_TIMEOUT_S", 1.0, minimum=0.05, maximum=30.0),
            log_level=_log_level(env),
            rate_limit_key=_rate_limit_key(env, shared=_redis_url(env) is not None),
            auth_cache_ms=env.int("AUTH_CACHE_MS", 1000, minimum=0, maximum=1000),
            ip_flood_per_minute=env.int("IP_FLOOD_PER_MINUTE", 1200, minimum=1, maximum=10_000_000),
            metrics_listen=metrics_listen(env),
        )

    def __repr__(self) -> str:
        # The Redis URL may carry a password and the rate-limit key is a secret; the rest is
        # safe to print.
        redis = "<redacted>" if self.redis_url else None
        return (
            f"GatewaySettings(host={self.host!r}, port={self.port}, "
            f"peers={ {name: peer.target for name, peer in self.peers.items()} }, "
            f"redis_url={redis}, max_body_bytes={self.max_body_bytes}, "
            f"max_json_depth={self.max_json_depth}, cors_origins={self.cors_origins}, "
            f"trusted_proxies={tuple(str(net) for net in self.trusted_proxies)}, "
            f"health_timeout_s={self.health_timeout_s}, log_level={self.log_level!r}, "
            f"metrics_listen={self.metrics_listen!r})"
        )

    __str__ = __repr__


def _cors_origins(env: Env) -> tuple[str, ...]:
    """Exact origins only: a wildcard or ``null`` would let any page call the API."""
    origins = env.csv("CORS_ORIGINS")
    for origin in origins:
        if not _is_exact_origin(origin):
            raise SettingsError(
                f"{env.name('CORS_ORIGINS')} must list origins like https://app.example.com "
                "(scheme, host and optional port; no wildcard, path or trailing slash)"
            )
    return origins


def _is_exact_origin(origin: str) -> bool:
    try:
        parts = urlsplit(origin)
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and "*" not in origin
        and port_ok
        and parts.username is None
        and parts.path == ""
        and not parts.query
        and not parts.fragment
        and origin == f"{parts.scheme}://{parts.netloc}"
    )


def _trusted_proxies(env: Env) -> tuple[IpNetwork, ...]:
    networks: list[IpNetwork] = []
    for item in env.csv("TRUSTED_PROXIES"):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise SettingsError(
                f"{env.name('TRUSTED_PROXIES')} must list IP addresses or CIDR networks"
            ) from None
    return tuple(networks)


def _redis_url(env: Env) -> str | None:
    url = env.optional_str("REDIS_URL")
    if url is not None and urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        # Never echo the value: it may carry a password.
        raise SettingsError(f"{env.name('REDIS_URL')} must be a redis://, rediss:// or unix:// URL")
    return url


def _log_level(env: Env) -> str:
    level = env.str("LOG_LEVEL", "INFO").upper()
    if level not in LOG_LEVELS:
        raise SettingsError(f"{env.name('LOG_LEVEL')} must be one of {', '.join(LOG_LEVELS)}")
    return level


def _rate_limit_key(env: Env, *, shared: bool) -> bytes:
    """``RATE_LIMIT_KEY`` (base64, at least 16 bytes). Required with Redis, where every replica
    must hash identities alike; without Redis a per-process random key serves the local limiter.
    """
    raw = env.optional_str("RATE_LIMIT_KEY")
    if raw is None:
        if shared:
            raise SettingsError(f"{env.name('RATE_LIMIT_KEY')} is required when REDIS_URL is set")
        return secrets.token_bytes(32)
    try:
        key = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except (ValueError, binascii.Error):
        raise SettingsError(f"{env.name('RATE_LIMIT_KEY')} must be base64") from None
    if len(key) < 16:
        raise SettingsError(f"{env.name('RATE_LIMIT_KEY')} must decode to at least 16 bytes")
    return key

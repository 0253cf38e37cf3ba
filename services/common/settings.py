"""Reading settings from the environment, once, at start-up.

Every service builds one frozen settings dataclass from ``TOKENMART_<SVC>_*`` variables in its
``__main__`` and passes it down explicitly. This module holds the typed readers and the pieces
that every service's settings share (gRPC listener, TLS files, peers, database).

A missing or malformed variable fails fast with :class:`SettingsError`, naming the variable but
never echoing a value (values may be secrets).
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SERVICE_NAMES = ("auth", "wallet", "provider", "review", "gateway")
"""Every process of TokenMart Core; also the names in service certificates."""

_MISSING = object()
_LISTEN = re.compile(
    r"(?:\[(?P<ipv6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9.-]+)):(?P<port>[0-9]{1,5})"
)


class SettingsError(ValueError):
    """A required setting is missing or malformed."""


class Env:
    """Typed access to the variables under one prefix, e.g. ``TOKENMART_WALLET_``."""

    def __init__(self, prefix: builtins.str, environ: Mapping[str, str]) -> None:
        self.prefix = prefix
        self._environ = environ

    def name(self, key: builtins.str) -> builtins.str:
        return f"{self.prefix}{key}"

    def _raw(self, key: builtins.str) -> builtins.str | None:
        value = self._environ.get(self.name(key))
        if value is None or value.strip() == "":
            return None
        return value.strip()

    def str(self, key: builtins.str, default: object = _MISSING) -> builtins.str:
        value = self._raw(key)
        if value is None:
            if default is _MISSING:
                raise SettingsError(f"{self.name(key)} is required")
            assert isinstance(default, str)
            return default
        return value

    def optional_str(self, key: builtins.str) -> builtins.str | None:
        return self._raw(key)

    def int(
        self,
        key: builtins.str,
        default: builtins.int,
        *,
        minimum: builtins.int,
        maximum: builtins.int,
    ) -> builtins.int:
        value = self._raw(key)
        if value is None:
            return default
        try:
            parsed = builtins.int(value, 10)
        except ValueError:
            raise SettingsError(f"{self.name(key)} must be an integer") from None
        if not minimum <= parsed <= maximum:
            raise SettingsError(f"{self.name(key)} must be between {minimum} and {maximum}")
        return parsed

    def float(
        self,
        key: builtins.str,
        default: builtins.float,
        *,
        minimum: builtins.float,
        maximum: builtins.float,
    ) -> builtins.float:
        value = self._raw(key)
        if value is None:
            return default
        try:
            parsed = builtins.float(value)
        except ValueError:
            raise SettingsError(f"{self.name(key)} must be a number") from None
        if not minimum <= parsed <= maximum:
            raise SettingsError(f"{self.name(key)} must be between {minimum} and {maximum}")
        return parsed

    def bool(self, key: builtins.str, default: builtins.bool) -> builtins.bool:
        value = self._raw(key)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{self.name(key)} must be true or false")

    def path(
        self, key: builtins.str, default: object = _MISSING, *, must_exist: builtins.bool = True
    ) -> Path:
        path = Path(self.str(key, default))
        if must_exist and not path.exists():
            raise SettingsError(f"{self.name(key)} names a file that does not exist")
        return path

    def csv(
        self, key: builtins.str, default: tuple[builtins.str, ...] = ()
    ) -> tuple[builtins.str, ...]:
        value = self._raw(key)
        if value is None:
            return default
        return tuple(item.strip() for item in value.split(",") if item.strip())


def service_env(service: str, environ: Mapping[str, str]) -> Env:
    assert service in SERVICE_NAMES, service
    return Env(f"TOKENMART_{service.upper()}_", environ)


@dataclass(frozen=True)
class TlsSettings:
    """This process's identity: the CA that signs every service, and its own certificate."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    @classmethod
    def from_env(cls, env: Env) -> TlsSettings:
        return cls(
            ca_file=env.path("TLS_CA_FILE"),
            cert_file=env.path("TLS_CERT_FILE"),
            key_file=env.path("TLS_KEY_FILE"),
        )


@dataclass(frozen=True)
class GrpcServerSettings:
    """Where and how a service serves gRPC."""

    listen: str
    """host:port for the mTLS listener (port 0 picks a free port)."""
    health_listen: str | None
    """Optional plaintext listener that serves only grpc.health.v1 (for orchestrator probes)."""
    reflection: bool
    shutdown_grace_s: float
    max_message_bytes: int
    max_concurrent_rpcs: int
    metrics_listen: str | None = None
    """Optional plaintext HTTP listener (host:port) that serves Prometheus ``/metrics``."""

    @classmethod
    def from_env(cls, env: Env, *, default_port: int) -> GrpcServerSettings:
        return cls(
            listen=env.str("GRPC_LISTEN", f"127.0.0.1:{default_port}"),
            health_listen=env.optional_str("HEALTH_LISTEN"),
            reflection=env.bool("REFLECTION", False),
            shutdown_grace_s=env.float("SHUTDOWN_GRACE_S", 5.0, minimum=0.0, maximum=120.0),
            max_message_bytes=env.int(
                "MAX_MESSAGE_BYTES", 4 * 1024 * 1024, minimum=1024, maximum=64 * 1024 * 1024
            ),
            max_concurrent_rpcs=env.int("MAX_CONCURRENT_RPCS", 1000, minimum=1, maximum=100_000),
            metrics_listen=metrics_listen(env),
        )


def parse_listen(value: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` for IPv6) → (host, port); ValueError when malformed."""
    match = _LISTEN.fullmatch(value.strip())
    if match is None:
        raise ValueError("must be host:port, e.g. 0.0.0.0:9464 or [::]:9464")
    port = int(match.group("port"))
    if port > 65535:
        raise ValueError("must name a port between 0 and 65535")
    return match.group("ipv6") or match.group("host"), port


def metrics_listen(env: Env) -> str | None:
    """``METRICS_LISTEN`` (``host:port``, ``[v6]:port``), or None: no metrics listener."""
    value = env.optional_str("METRICS_LISTEN")
    if value is not None:
        try:
            parse_listen(value)
        except ValueError as error:
            raise SettingsError(f"{env.name('METRICS_LISTEN')} {error}") from None
    return value


@dataclass(frozen=True)
class PeerTarget:
    """How to reach another service: its address and the name its certificate must carry."""

    service: str
    target: str
    default_timeout_s: float

    @classmethod
    def from_env(cls, env: Env, service: str, *, default_port: int) -> PeerTarget:
        key = service.upper()
        return cls(
            service=service,
            target=env.str(f"{key}_TARGET", f"127.0.0.1:{default_port}"),
            default_timeout_s=env.float(f"{key}_TIMEOUT_S", 5.0, minimum=0.05, maximum=600.0),
        )


@dataclass(frozen=True)
class DatabaseSettings:
    """The service's runtime-role connection; the role reaches only its own schema."""

    url: str
    pool_size: int
    max_overflow: int
    statement_timeout_ms: int

    @classmethod
    def from_env(cls, env: Env) -> DatabaseSettings:
        return cls(
            url=env.str("DATABASE_URL"),
            pool_size=env.int("DATABASE_POOL_SIZE", 10, minimum=1, maximum=200),
            max_overflow=env.int("DATABASE_MAX_OVERFLOW", 10, minimum=0, maximum=200),
            statement_timeout_ms=env.int(
                "DATABASE_STATEMENT_TIMEOUT_MS", 10_000, minimum=100, maximum=600_000
            ),
        )

    def __repr__(self) -> str:  # the URL may carry a password
        return f"DatabaseSettings(url=<redacted>, pool_size={self.pool_size})"


DEFAULT_GRPC_PORTS = {"auth": 50051, "wallet": 50052, "provider": 50053, "review": 50054}
"""Loopback ports used when nothing else is configured (``make run``)."""


@dataclass(frozen=True)
class ServiceSettings:
    """What every gRPC domain service needs, whatever its domain."""

    name: str
    server: GrpcServerSettings
    tls: TlsSettings
    database: DatabaseSettings
    peers: Mapping[str, PeerTarget]
    log_level: str

    @classmethod
    def from_env(
        cls, name: str, environ: Mapping[str, str], *, peers: tuple[str, ...] = ()
    ) -> ServiceSettings:
        env = service_env(name, environ)
        return cls(
            name=name,
            server=GrpcServerSettings.from_env(env, default_port=DEFAULT_GRPC_PORTS[name]),
            tls=TlsSettings.from_env(env),
            database=DatabaseSettings.from_env(env),
            peers={
                peer: PeerTarget.from_env(env, peer, default_port=DEFAULT_GRPC_PORTS[peer])
                for peer in peers
            },
            log_level=env.str("LOG_LEVEL", "INFO").upper(),
        )

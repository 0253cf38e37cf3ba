"""Settings of the provider service, read once from ``TOKENMART_PROVIDER_*``.

Secrets (never echoed, never in a repr):

* ``KEK_<n>`` (n = 1, 2, ...): the key-encryption keys that wrap BYOK data keys, base64 or
  urlsafe base64 of exactly 32 bytes. At least one is required. ``KEK_PRIMARY`` names the version
  new secrets are wrapped under (default: the highest configured). To rotate: add ``KEK_<n+1>``,
  restart, run ``tokenmartctl provider rotate-kek`` until nothing remains, then remove the old one.
* ``OPENAI_API_KEY`` / ``ANTHROPIC_API_KEY`` / ``OPENROUTER_API_KEY``: the platform keys (each
  optional; without one, only BYOK keys reach that provider).

Upstreams: ``OPENAI_BASE_URL`` (default ``https://api.openai.com/v1``), ``ANTHROPIC_BASE_URL``
(``https://api.anthropic.com/v1``), ``OPENROUTER_BASE_URL`` (``https://openrouter.ai/api/v1``);
``make run`` points all three at the local stand-in.

Everything else has a production default; see README.md for the table.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from services.common.settings import Env, ServiceSettings, SettingsError, service_env

PEERS: tuple[str, ...] = ("auth", "wallet")
"""The services provider calls."""

KEK_BYTES = 32
KEK_VERSION_MAX = 1_000_000
_KEK_VARIABLE = re.compile(r"^TOKENMART_PROVIDER_KEK_([1-9][0-9]{0,6})$")
_URLSAFE_ALPHABET = re.compile(r"^[A-Za-z0-9_-]*={0,2}$")
_SECRET_SHAPE = re.compile(r"^[\x21-\x7e]{8,512}$")
MIB = 1024 * 1024
DAY_S = 86_400
GRPC_ENVELOPE_BYTES = 64 * 1024
"""Room left in a gRPC message for the fields around a request or response body."""


class Secret:
    """A string that never appears in a repr, a log line or an error."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret(<redacted>)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(
            other._value.encode(), self._value.encode()
        )

    def __hash__(self) -> int:
        return hash(self._value)


def _decode_base64(raw: str) -> bytes | None:
    """Standard or urlsafe base64 (padding optional), or None; never a partial decode."""
    padded = raw + "=" * (-len(raw) % 4)
    try:
        return base64.b64decode(padded.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        pass
    if not _URLSAFE_ALPHABET.match(padded):
        return None
    try:
        return base64.urlsafe_b64decode(padded.encode("ascii"))
    except (binascii.Error, ValueError):
        return None


@dataclass(frozen=True)
class KekRing:
    """The configured key-encryption keys by version, and the one new secrets use."""

    keys: Mapping[int, bytes] = field(repr=False)
    primary_version: int

    def __post_init__(self) -> None:
        assert self.keys, "at least one KEK"
        assert self.primary_version in self.keys
        assert all(len(key) == KEK_BYTES for key in self.keys.values())

    @property
    def versions(self) -> tuple[int, ...]:
        return tuple(sorted(self.keys))

    def __repr__(self) -> str:
        return f"KekRing(versions={self.versions}, primary_version={self.primary_version})"

    @classmethod
    def from_env(cls, env: Env, environ: Mapping[str, str]) -> KekRing:
        keys: dict[int, bytes] = {}
        for name, value in environ.items():
            match = _KEK_VARIABLE.match(name)
            if match is None or not value.strip():
                continue
            decoded = _decode_base64(value.strip())
            if decoded is None or len(decoded) != KEK_BYTES:
                raise SettingsError(f"{name} must be base64 of exactly {KEK_BYTES} bytes")
            keys[int(match.group(1))] = decoded
        if not keys:
            raise SettingsError(f"{env.name('KEK_1')} (at least one KEK_<n>) is required")
        primary = env.int("KEK_PRIMARY", max(keys), minimum=1, maximum=KEK_VERSION_MAX)
        if primary not in keys:
            raise SettingsError(f"{env.name('KEK_PRIMARY')} names a KEK version not configured")
        return cls(keys=keys, primary_version=primary)


@dataclass(frozen=True)
class Upstream:
    """One upstream API: where it is and the platform key for it (None: BYOK only)."""

    name: str
    base_url: str
    platform_key: Secret | None = field(repr=False)

    @classmethod
    def from_env(cls, env: Env, name: str, default_url: str) -> Upstream:
        key = name.upper()
        url = env.str(f"{key}_BASE_URL", default_url).rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            raise SettingsError(f"{env.name(f'{key}_BASE_URL')} must be an http(s) URL")
        raw_key = env.optional_str(f"{key}_API_KEY")
        if raw_key is not None and not _SECRET_SHAPE.match(raw_key):
            raise SettingsError(f"{env.name(f'{key}_API_KEY')} must be 8 to 512 visible characters")
        return cls(
            name=name, base_url=url, platform_key=Secret(raw_key) if raw_key is not None else None
        )


@dataclass(frozen=True)
class HttpSettings:
    """The one pooled HTTP client every upstream call shares."""

    max_connections: int
    max_connections_per_host: int
    connect_timeout_s: float
    response_timeout_s: float
    """Time for upstream to send the response headers (streams) or the whole body (non-stream)."""
    stream_idle_timeout_s: float
    """Longest silence between two stream events before the stream counts as dead."""
    stream_max_duration_s: float
    keepalive_timeout_s: float
    max_response_bytes: int
    """Largest non-streaming response body (and largest single stream event) accepted."""


@dataclass(frozen=True)
class BillingSettings:
    byok_fee_bps: int
    """Platform fee on BYOK requests, in basis points of the registry price (0 = free)."""
    hold_timeout_s: int
    """After this, wallet voids an unsettled hold by itself (must outlast any request)."""
    bytes_per_token_estimate: int
    """Input is estimated as UTF-8 bytes / this (rounded up); 3 over-counts typical text."""
    image_token_estimate: int
    """Tokens reserved per input image."""
    message_token_overhead: int
    """Tokens reserved per message for role and framing."""


@dataclass(frozen=True)
class SettlementSettings:
    interval_s: float
    """How often the re-driver looks for unsettled generations."""
    grace_s: float
    """How long a finished generation is left to the process serving it before re-driving."""
    retry_max_s: float
    """Ceiling of the exponential back-off between failed settlement attempts."""
    heartbeat_interval_s: float
    orphan_after_s: float
    """A process whose heartbeat is older than this is dead: its in-flight generations are
    settled by others (capturing the hold, since their usage is unknown)."""
    batch_size: int


@dataclass(frozen=True)
class ProviderSettings:
    common: ServiceSettings
    keks: KekRing
    openai: Upstream
    anthropic: Upstream
    openrouter: Upstream
    anthropic_version: str
    openrouter_referer: str
    openrouter_title: str
    http: HttpSettings
    billing: BillingSettings
    settlement: SettlementSettings
    max_body_bytes: int

    def __post_init__(self) -> None:
        # A hold must outlive the longest request plus its settlement, or wallet's sweeper would
        # void it while the request still runs (the cost is then charged as overage, bounded).
        assert self.billing.hold_timeout_s >= self.http.stream_max_duration_s + 60
        assert self.billing.hold_timeout_s >= self.http.response_timeout_s + 60
        assert self.settlement.orphan_after_s > 2 * self.settlement.heartbeat_interval_s

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ProviderSettings:
        env = service_env("provider", environ)
        common = ServiceSettings.from_env("provider", environ, peers=PEERS)
        # Bodies and responses travel inside gRPC messages, whose size is capped by the server.
        message_room = common.server.max_message_bytes - GRPC_ENVELOPE_BYTES
        http = HttpSettings(
            max_connections=env.int("HTTP_MAX_CONNECTIONS", 2000, minimum=1, maximum=100_000),
            max_connections_per_host=env.int(
                "HTTP_MAX_CONNECTIONS_PER_HOST", 0, minimum=0, maximum=100_000
            ),
            connect_timeout_s=env.float(
                "UPSTREAM_CONNECT_TIMEOUT_S", 10.0, minimum=0.1, maximum=120.0
            ),
            response_timeout_s=env.float(
                "UPSTREAM_RESPONSE_TIMEOUT_S", 300.0, minimum=0.1, maximum=3600.0
            ),
            stream_idle_timeout_s=env.float(
                "STREAM_IDLE_TIMEOUT_S", 120.0, minimum=0.1, maximum=3600.0
            ),
            stream_max_duration_s=env.float(
                "STREAM_MAX_DURATION_S", 900.0, minimum=1.0, maximum=3 * 3600.0
            ),
            keepalive_timeout_s=env.float("HTTP_KEEPALIVE_S", 60.0, minimum=1.0, maximum=3600.0),
            max_response_bytes=env.int(
                "UPSTREAM_MAX_RESPONSE_BYTES",
                min(3 * MIB, message_room),
                minimum=64 * 1024,
                maximum=max(message_room, 64 * 1024),
            ),
        )
        billing = BillingSettings(
            byok_fee_bps=env.int("BYOK_FEE_BPS", 0, minimum=0, maximum=10_000),
            hold_timeout_s=env.int("HOLD_TIMEOUT_S", 1800, minimum=60, maximum=3600),
            bytes_per_token_estimate=env.int("BYTES_PER_TOKEN_ESTIMATE", 3, minimum=1, maximum=8),
            image_token_estimate=env.int("IMAGE_TOKEN_ESTIMATE", 2000, minimum=1, maximum=100_000),
            message_token_overhead=env.int("MESSAGE_TOKEN_OVERHEAD", 8, minimum=0, maximum=1000),
        )
        if billing.hold_timeout_s < http.stream_max_duration_s + 60:
            raise SettingsError(
                f"{env.name('HOLD_TIMEOUT_S')} must exceed "
                f"{env.name('STREAM_MAX_DURATION_S')} by at least 60 s"
            )
        if billing.hold_timeout_s < http.response_timeout_s + 60:
            raise SettingsError(
                f"{env.name('HOLD_TIMEOUT_S')} must exceed "
                f"{env.name('UPSTREAM_RESPONSE_TIMEOUT_S')} by at least 60 s"
            )
        settlement = SettlementSettings(
            interval_s=env.float("SETTLEMENT_INTERVAL_S", 5.0, minimum=0.05, maximum=3600.0),
            grace_s=env.float("SETTLEMENT_GRACE_S", 30.0, minimum=0.0, maximum=3600.0),
            retry_max_s=env.float("SETTLEMENT_RETRY_MAX_S", 300.0, minimum=0.1, maximum=DAY_S),
            heartbeat_interval_s=env.float(
                "HEARTBEAT_INTERVAL_S", 5.0, minimum=0.05, maximum=600.0
            ),
            orphan_after_s=env.float("ORPHAN_AFTER_S", 30.0, minimum=0.2, maximum=DAY_S),
            batch_size=env.int("SETTLEMENT_BATCH_SIZE", 100, minimum=1, maximum=1000),
        )
        if settlement.orphan_after_s <= 2 * settlement.heartbeat_interval_s:
            raise SettingsError(
                f"{env.name('ORPHAN_AFTER_S')} must exceed twice {env.name('HEARTBEAT_INTERVAL_S')}"
            )
        anthropic_version = env.str("ANTHROPIC_VERSION", "2023-06-01")
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", anthropic_version):
            raise SettingsError(f"{env.name('ANTHROPIC_VERSION')} must be a date (YYYY-MM-DD)")
        max_body_bytes = env.int(
            "MAX_BODY_BYTES",
            min(4 * MIB, message_room),
            minimum=1024,
            maximum=max(message_room, 1024),
        )
        return cls(
            common=common,
            keks=KekRing.from_env(env, environ),
            openai=Upstream.from_env(env, "openai", "https://api.openai.com/v1"),
            anthropic=Upstream.from_env(env, "anthropic", "https://api.anthropic.com/v1"),
            openrouter=Upstream.from_env(env, "openrouter", "https://openrouter.ai/api/v1"),
            anthropic_version=anthropic_version,
            openrouter_referer=env.str("OPENROUTER_REFERER", "https://tokenmart.dev"),
            openrouter_title=env.str("OPENROUTER_TITLE", "TokenMart"),
            http=http,
            billing=billing,
            settlement=settlement,
            max_body_bytes=max_body_bytes,
        )

"""The client's settings and what it reports about each call."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import grpc

from tokenmart_client.errors import ClientConfigError
from tokenmart_client.policy import RetryPolicy

DEFAULT_METHOD_TIMEOUTS_S: Mapping[str, float] = MappingProxyType(
    {
        # An LLM call is as slow as the upstream model; provider bounds it on its side too.
        "provider.ChatCompletion": 300.0,
        "provider.StreamChatCompletion": 600.0,
        # Re-reads the whole ledger on one snapshot (wallet.proto: "may take minutes").
        "wallet.VerifyLedger": 600.0,
        "provider.RotateKek": 300.0,
        "provider.SettlePending": 120.0,
        "review.RedriveOutbox": 120.0,
    }
)


@dataclass(frozen=True)
class TlsFiles:
    """The PEM files of the caller's identity: the CA that issued every TokenMart certificate,
    and the caller's own certificate and private key. The certificate's common name (gateway,
    provider, review, ctl ...) is who the services think is calling."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def read(self) -> tuple[bytes, bytes, bytes]:
        """(CA, certificate chain, private key) bytes; ClientConfigError naming an unreadable
        file (never its contents)."""
        contents: list[bytes] = []
        for label, path in (("CA", self.ca_file), ("cert", self.cert_file), ("key", self.key_file)):
            try:
                contents.append(Path(path).read_bytes())
            except OSError:
                raise ClientConfigError(
                    "TLS_FILE_UNREADABLE", f"the TLS {label} file {path} cannot be read"
                ) from None
        return contents[0], contents[1], contents[2]


@dataclass(frozen=True)
class ClientConfig:
    """How the client talks to the services (every value has a working default)."""

    default_timeout_s: float = 10.0
    """Deadline of a call (all its attempts together) unless the call or the method says
    otherwise."""
    method_timeouts_s: Mapping[str, float] = field(
        default_factory=lambda: DEFAULT_METHOD_TIMEOUTS_S
    )
    """Per-method deadlines, keyed ``service.Method``."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    keepalive_time_s: float = 30.0
    """Ping an idle-but-busy connection this often (servers accept one ping per 10 s)."""
    keepalive_timeout_s: float = 10.0
    max_message_bytes: int = 8 * 1024 * 1024
    """Largest message sent or received (provider accepts 4 MiB bodies plus framing)."""
    reconnect_backoff_initial_s: float = 0.2
    reconnect_backoff_max_s: float = 5.0
    """A restarted service is found again within this long (gRPC's default is 120 s)."""
    token_refresh_before_s: float = 30.0

    def __post_init__(self) -> None:
        for name, value in (
            ("default_timeout_s", self.default_timeout_s),
            ("keepalive_time_s", self.keepalive_time_s),
            ("keepalive_timeout_s", self.keepalive_timeout_s),
            ("reconnect_backoff_initial_s", self.reconnect_backoff_initial_s),
            ("reconnect_backoff_max_s", self.reconnect_backoff_max_s),
            *self.method_timeouts_s.items(),
        ):
            if not (math.isfinite(value) and value > 0):
                raise ClientConfigError("CONFIG_INVALID", f"{name} must be a positive number")
        if self.reconnect_backoff_initial_s > self.reconnect_backoff_max_s:
            raise ClientConfigError(
                "CONFIG_INVALID", "reconnect_backoff_initial_s exceeds reconnect_backoff_max_s"
            )
        if self.keepalive_time_s < 10:
            # Servers refuse pings more often than every 10 s and would close the connection.
            raise ClientConfigError("CONFIG_INVALID", "keepalive_time_s must be at least 10")
        if self.max_message_bytes < 1024:
            raise ClientConfigError("CONFIG_INVALID", "max_message_bytes is implausibly small")
        if not self.token_refresh_before_s >= 0:
            raise ClientConfigError("CONFIG_INVALID", "token_refresh_before_s must be >= 0")

    def timeout_for(self, method_key: str) -> float:
        return self.method_timeouts_s.get(method_key, self.default_timeout_s)


@dataclass(frozen=True)
class AttemptRecord:
    """One sending of a call: its outcome code and the server's reason, if any."""

    code: grpc.StatusCode
    reason: str | None


@dataclass(frozen=True)
class CallRecord:
    """One logical call as the client made it, for metrics and debugging (no secrets)."""

    method: str
    """The full method name, e.g. ``/tokenmart.wallet.v1.WalletService/CreateTransfer``."""
    correlation_id: str
    """Sent as ``x-request-id`` on every attempt; the servers log it with each line."""
    trace_id: str
    """The W3C trace id sent in ``traceparent`` (one per logical call, a span per attempt)."""
    idempotency_key: str | None
    """The request's ``request_id``, the same on every attempt; None for requests without one."""
    attempts: tuple[AttemptRecord, ...]
    duration_s: float

    @property
    def code(self) -> grpc.StatusCode:
        return self.attempts[-1].code if self.attempts else grpc.StatusCode.UNKNOWN

"""Channels to other services: mTLS with the callee's name pinned, deadlines, and retries.

Every call gets the peer's default deadline unless the caller sets one, and carries the request
id and trace context of the work it is part of; with ``metrics``, its status and latency are
recorded (:mod:`services.common.metrics`). Only methods the caller
names as idempotent are retried (on UNAVAILABLE, with bounded exponential backoff), through
gRPC's own retry policy, so a retry is transparent and bounded. Calls are balanced round-robin
over every address the target's name resolves to (see ``service_config``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import grpc

from services.common.identity import channel_credentials
from services.common.interceptors import client_interceptors
from services.common.metrics import GrpcClientMetrics
from services.common.settings import PeerTarget, TlsSettings

MAX_ATTEMPTS = 4
RECONNECT_BACKOFF_MAX_MS = 1_000
"""gRPC's default reconnect backoff grows to 120 s: a peer restarted after a crash would stay
unreachable from here long after it is serving again. Our peers are few, local to the cluster
and cheap to dial, so retry a lost connection at least once a second."""


def service_config(full_service_name: str, idempotent_methods: Iterable[str]) -> str:
    method_configs: list[dict[str, object]] = []
    retried = sorted(set(idempotent_methods))
    if retried:
        method_configs.append(
            {
                "name": [{"service": full_service_name, "method": name} for name in retried],
                "retryPolicy": {
                    "maxAttempts": MAX_ATTEMPTS,
                    "initialBackoff": "0.05s",
                    "maxBackoff": "1s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        )
    method_configs.append(
        {
            "name": [{"service": "grpc.health.v1.Health"}],
            "retryPolicy": {
                "maxAttempts": 2,
                "initialBackoff": "0.05s",
                "maxBackoff": "0.2s",
                "backoffMultiplier": 2,
                "retryableStatusCodes": ["UNAVAILABLE"],
            },
        }
    )
    # round_robin: a connection to every address the name resolves to (a headless Kubernetes
    # Service resolves to every ready pod), requests spread across them; with one address it
    # behaves like pick_first.
    return json.dumps(
        {"loadBalancingConfig": [{"round_robin": {}}], "methodConfig": method_configs}
    )


def open_channel(
    peer: PeerTarget,
    tls: TlsSettings,
    *,
    full_service_name: str,
    idempotent_methods: Iterable[str] = (),
    metrics: GrpcClientMetrics | None = None,
) -> grpc.aio.Channel:
    """An mTLS channel to ``peer`` that accepts only a certificate issued to ``peer.service``."""
    options = [
        ("grpc.ssl_target_name_override", peer.service),
        ("grpc.default_authority", peer.service),
        ("grpc.enable_retries", 1),
        ("grpc.service_config", service_config(full_service_name, idempotent_methods)),
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.min_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", RECONNECT_BACKOFF_MAX_MS),
    ]
    return grpc.aio.secure_channel(
        peer.target,
        channel_credentials(tls),
        options=options,
        interceptors=client_interceptors(peer.default_timeout_s, metrics),
    )

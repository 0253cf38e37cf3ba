"""The gateway's channels to the four domain services, and their health.

One long-lived mTLS channel per backend (:func:`services.common.client.open_channel`): each pins
the backend's certificate name, puts a deadline on every call and forwards the request id bound
for the HTTP request being served. gRPC multiplexes every concurrent call over it.

:meth:`Backends.health` asks every backend's ``grpc.health.v1.Health/Check`` (service ``""``, the
overall status) at once, each within ``health_timeout_s``, and never raises: a backend is
``SERVING``, ``NOT_SERVING`` (it answered, but not with SERVING, or refused the check) or
``UNREACHABLE`` (no answer in time). Concurrent callers share one round of checks, so a flood of
/healthz requests costs the backends no more than one check each at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.common.client import open_channel
from services.common.metrics import GrpcClientMetrics
from services.gateway.settings import BACKEND_NAMES, GatewaySettings

logger = logging.getLogger("tokenmart.gateway.backends")

BACKEND_SERVICES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "auth": "tokenmart.auth.v1.AuthService",
        "wallet": "tokenmart.wallet.v1.WalletService",
        "provider": "tokenmart.provider.v1.ProviderService",
        "review": "tokenmart.review.v1.ReviewService",
    }
)
"""Backend name → the full proto name of the service it serves."""

SERVING: Final = "SERVING"
NOT_SERVING: Final = "NOT_SERVING"
UNREACHABLE: Final = "UNREACHABLE"

# No answer within the deadline, or no connection at all: the backend is not there for us.
_UNREACHABLE_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
# The gRPC deadline bounds the call itself; this margin bounds everything around it as well.
_OUTER_TIMEOUT_MARGIN_S = 0.5


class Backends:
    def __init__(
        self, channels: Mapping[str, grpc.aio.Channel], *, health_timeout_s: float
    ) -> None:
        assert set(channels) <= set(BACKEND_NAMES), sorted(channels)
        assert health_timeout_s > 0, health_timeout_s
        self._channels = dict(channels)
        self._health_timeout_s = health_timeout_s
        self._health_round: asyncio.Future[dict[str, str]] | None = None
        self._last_health: dict[str, str] = {}

    @classmethod
    def open(
        cls, settings: GatewaySettings, *, metrics: GrpcClientMetrics | None = None
    ) -> Backends:
        """Open one channel per backend; must be called with the serving event loop running.
        With ``metrics``, every backend call's status and latency are recorded there."""
        channels = {
            name: open_channel(
                settings.peers[name],
                settings.tls,
                full_service_name=BACKEND_SERVICES[name],
                metrics=metrics,
            )
            for name in BACKEND_NAMES
        }
        return cls(channels, health_timeout_s=settings.health_timeout_s)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._channels)

    def channel(self, name: str) -> grpc.aio.Channel:
        """The channel to backend ``name`` (``auth``, ``wallet``, ``provider`` or ``review``)."""
        return self._channels[name]

    async def health(self) -> dict[str, str]:
        """Backend name → ``SERVING``, ``NOT_SERVING`` or ``UNREACHABLE``; never raises."""
        if self._health_round is None or self._health_round.done():
            self._health_round = asyncio.ensure_future(self._check_all())
        # Shielded: one impatient caller going away must not cancel the round for the others.
        return dict(await asyncio.shield(self._health_round))

    async def close(self) -> None:
        """Close every channel; calls still in flight fail with CANCELLED. Idempotent."""
        if self._health_round is not None and not self._health_round.done():
            self._health_round.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._health_round
        await asyncio.gather(*(channel.close() for channel in self._channels.values()))

    async def _check_all(self) -> dict[str, str]:
        names = tuple(self._channels)
        results = await asyncio.gather(*(self._check(name) for name in names))
        health = dict(zip(names, results, strict=True))
        for name, state in health.items():
            previous = self._last_health.get(name)
            if state != previous:
                log = logger.info if state == SERVING else logger.warning
                log("backend health changed", extra={"backend": name, "health": state})
        self._last_health = health
        return health

    async def _check(self, name: str) -> str:
        stub = health_pb2_grpc.HealthStub(self._channels[name])
        request = health_pb2.HealthCheckRequest(service="")
        try:
            async with asyncio.timeout(self._health_timeout_s + _OUTER_TIMEOUT_MARGIN_S):
                response = await stub.Check(request, timeout=self._health_timeout_s)
        except grpc.aio.AioRpcError as error:
            # Only the code is logged: details may name internal addresses.
            logger.debug("health check failed", extra={"backend": name, "code": error.code().name})
            return UNREACHABLE if error.code() in _UNREACHABLE_CODES else NOT_SERVING
        except TimeoutError:
            logger.debug("health check timed out", extra={"backend": name})
            return UNREACHABLE
        except Exception:  # a health check reports, it never raises
            logger.warning(
                "health check failed unexpectedly", extra={"backend": name}, exc_info=True
            )
            return UNREACHABLE
        if response.status == health_pb2.HealthCheckResponse.SERVING:
            return SERVING
        return NOT_SERVING

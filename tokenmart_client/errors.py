"""What the client raises.

::

    TokenMartError          a call failed: the gRPC code, and the server's google.rpc.ErrorInfo
                            (reason, domain, metadata) when it sent one
    ClientConfigError       (a ValueError) the client was set up wrongly, before any call was sent

Every TokenMart server answers a refusal with ``google.rpc.Status`` in the trailing metadata key
``grpc-status-details-bin``, carrying one ``ErrorInfo`` whose ``reason`` is a stable UPPER_SNAKE
string and whose ``domain`` names the service (``tokenmart.wallet`` ...). Branch on ``reason``,
never on the message. A failure with no ``ErrorInfo`` (``reason is None``) did not come from
TokenMart code: the connection failed, TLS refused us, or the deadline passed.

Errors never carry the credential or the access token: neither is part of any message the
server sends, and the client never puts its own metadata into an error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

CLIENT_DOMAIN = "tokenmart.client"
"""The ErrorInfo domain of errors the client itself decides (no server answered)."""


class ClientConfigError(ValueError):
    """The client was configured wrongly (a missing target, an unreadable TLS file ...).

    ``reason`` is stable (``TARGET_NOT_CONFIGURED``, ``TLS_FILE_UNREADABLE``,
    ``CONFLICTING_CREDENTIALS``, ``UNKNOWN_METHOD``, ``IDENTITY_UNKNOWN``); the message names the
    setting, never a secret.
    """

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


class TokenMartError(Exception):
    """A call that failed, after whatever retries its retry class allowed.

    ``code`` is the gRPC status code; ``reason``, ``domain`` and ``metadata`` come from the
    server's ErrorInfo (``None``/empty when there was none). ``method`` is the full method name,
    ``attempts`` how many times it was sent, ``correlation_id`` the ``x-request-id`` the servers
    logged it under, and ``idempotency_key`` the ``request_id`` it carried (if it has one), which
    is what to resend with to retry it safely yourself.
    """

    def __init__(
        self,
        *,
        code: grpc.StatusCode,
        message: str,
        reason: str | None = None,
        domain: str | None = None,
        metadata: Mapping[str, str] | None = None,
        method: str = "",
        attempts: int = 1,
        correlation_id: str = "",
        idempotency_key: str | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.reason = reason
        self.domain = domain
        self.metadata: dict[str, str] = dict(metadata or {})
        self.method = method
        self.attempts = attempts
        self.correlation_id = correlation_id
        self.idempotency_key = idempotency_key
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = f"{self.method}: " if self.method else ""
        why = f" ({self.reason})" if self.reason else ""
        tries = f" after {self.attempts} attempts" if self.attempts > 1 else ""
        return f"{where}{self.code.name}{why}{tries}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"TokenMartError(code={self.code.name}, reason={self.reason!r}, "
            f"domain={self.domain!r}, method={self.method!r}, attempts={self.attempts})"
        )

    @property
    def retry_after_s(self) -> float | None:
        """The server's ``retry_after_s`` hint (RESOURCE_EXHAUSTED lockouts and rate limits)."""
        raw = self.metadata.get("retry_after_s")
        if raw is None:
            return None
        try:
            value = float(raw)
        except ValueError:
            return None
        return value if math.isfinite(value) and value >= 0 else None

    @classmethod
    def from_rpc_error(
        cls,
        error: grpc.aio.AioRpcError,
        *,
        method: str,
        attempts: int,
        correlation_id: str,
        idempotency_key: str | None,
    ) -> TokenMartError:
        """The error for a failed call, with the ErrorInfo from ``grpc-status-details-bin``."""
        code = error.code()
        details = error.details() or ""
        info = error_info(error)
        return cls(
            code=code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.UNKNOWN,
            message=details,
            reason=info.reason if info is not None else None,
            domain=info.domain if info is not None else None,
            metadata=dict(info.metadata) if info is not None else None,
            method=method,
            attempts=attempts,
            correlation_id=correlation_id,
            idempotency_key=idempotency_key,
        )


def error_info(error: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo | None:
    """The ErrorInfo in a failed call's rich status, if it carries a consistent one.

    ``grpc_status`` rejects a status whose code or message disagrees with the call's own; such a
    status is not trusted for its reason either (a proxy may have rewritten the call's status).
    """
    try:
        status: status_pb2.Status | None = rpc_status.from_call(error)
    except ValueError:
        return None
    if status is None:
        return None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info
    return None

"""The base of every service's error tree.

::

    TokenMartError                    (code, reason, message)
    ├── InvalidArgument               INVALID_ARGUMENT / INVALID_ARGUMENT
    ├── Unauthenticated               UNAUTHENTICATED / UNAUTHENTICATED
    ├── PermissionDenied              PERMISSION_DENIED / PERMISSION_DENIED
    │   └── PeerNotAllowed            PERMISSION_DENIED / PEER_NOT_ALLOWED
    ├── NotFound                      NOT_FOUND / NOT_FOUND
    ├── AlreadyExists                 ALREADY_EXISTS / ALREADY_EXISTS
    │   ├── RequestIdConflict         ALREADY_EXISTS / REQUEST_ID_CONFLICT
    │   └── SecretAlreadyIssued       ALREADY_EXISTS / SECRET_ALREADY_ISSUED
    ├── FailedPrecondition            FAILED_PRECONDITION / FAILED_PRECONDITION
    ├── Aborted                       ABORTED / ABORTED
    ├── ResourceExhausted             RESOURCE_EXHAUSTED / RESOURCE_EXHAUSTED
    └── Unavailable                   UNAVAILABLE / UNAVAILABLE

Each service's ``errors.py`` subclasses these with its own reasons. The server interceptor is the
one place where an error becomes a gRPC status with ``google.rpc.ErrorInfo(reason, domain)``;
anything that is not a :class:`TokenMartError` is logged and answered as INTERNAL with no detail.

Messages are shown to callers: they must never contain a secret, SQL, or a stack trace.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import grpc


class TokenMartError(Exception):
    code: ClassVar[grpc.StatusCode] = grpc.StatusCode.INTERNAL
    reason: ClassVar[str] = "INTERNAL"
    default_message: ClassVar[str] = "internal error"

    def __init__(self, message: str | None = None, *, metadata: Mapping[str, str] | None = None):
        self.message = message or self.default_message
        self.metadata: dict[str, str] = dict(metadata or {})
        super().__init__(self.message)


class InvalidArgument(TokenMartError):
    code = grpc.StatusCode.INVALID_ARGUMENT
    reason = "INVALID_ARGUMENT"
    default_message = "invalid argument"


class Unauthenticated(TokenMartError):
    code = grpc.StatusCode.UNAUTHENTICATED
    reason = "UNAUTHENTICATED"
    default_message = "authentication required"


class PermissionDenied(TokenMartError):
    code = grpc.StatusCode.PERMISSION_DENIED
    reason = "PERMISSION_DENIED"
    default_message = "permission denied"


class PeerNotAllowed(PermissionDenied):
    reason = "PEER_NOT_ALLOWED"
    default_message = "the calling service may not call this method"


class NotFound(TokenMartError):
    code = grpc.StatusCode.NOT_FOUND
    reason = "NOT_FOUND"
    default_message = "not found"


class AlreadyExists(TokenMartError):
    code = grpc.StatusCode.ALREADY_EXISTS
    reason = "ALREADY_EXISTS"
    default_message = "already exists"


class RequestIdConflict(AlreadyExists):
    reason = "REQUEST_ID_CONFLICT"
    default_message = "request_id was already used with different fields"


class SecretAlreadyIssued(AlreadyExists):
    reason = "SECRET_ALREADY_ISSUED"
    default_message = (
        "this request_id already created a secret, which is never shown twice; "
        "start over with a new request_id"
    )


class FailedPrecondition(TokenMartError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "FAILED_PRECONDITION"
    default_message = "failed precondition"


class Aborted(TokenMartError):
    code = grpc.StatusCode.ABORTED
    reason = "ABORTED"
    default_message = "aborted by a concurrent change; retry"


class ResourceExhausted(TokenMartError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = "RESOURCE_EXHAUSTED"
    default_message = "resource exhausted"


class Unavailable(TokenMartError):
    code = grpc.StatusCode.UNAVAILABLE
    reason = "UNAVAILABLE"
    default_message = "a dependency is unavailable"

"""Replay protection for mutating RPCs: the first answer to a ``request_id`` is the answer.

Every service's schema has a ``request_log`` table (insert-only for the runtime role). A mutating
RPC runs through :func:`run_once` in the same database transaction as its effects:

1. take a transaction-scoped advisory lock on (caller, method, request_id), so two concurrent
   copies of one request are serialized instead of both running;
2. if a row exists: the same request digest returns the stored response; a different digest
   is :class:`RequestIdReused` (the caller reused an id for a different request);
3. otherwise run the mutation and insert the row with its serialized response.

Because the row commits or rolls back with the mutation, a request's effects happen at most
once, and a retry after a crash either replays the answer or runs for the first time.
Only successful answers are stored: a request that failed with an error changed nothing and may
be retried with the same id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

from google.protobuf.message import Message
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.errors import InvalidArgument, RequestIdReused

REQUEST_ID_MAX_LENGTH = 128
ResponseT = TypeVar("ResponseT", bound=Message)


def request_digest(request: Message) -> bytes:
    """A digest of the request's fields, excluding nothing: same id + same fields = same digest."""
    return hashlib.sha256(request.SerializeToString(deterministic=True)).digest()


def validate_request_id(request_id: str) -> None:
    if not request_id or len(request_id) > REQUEST_ID_MAX_LENGTH or not request_id.isprintable():
        raise InvalidArgument(
            f"request_id must be 1 to {REQUEST_ID_MAX_LENGTH} printable characters",
            metadata={"field": "request_id"},
        )


async def run_once(
    connection: AsyncConnection,
    *,
    schema: str,
    caller: str,
    method: str,
    request_id: str,
    request: Message,
    response_type: type[ResponseT],
    mutate: Callable[[], Awaitable[ResponseT]],
) -> ResponseT:
    """Run ``mutate`` once per (caller, method, request_id); must be inside a transaction."""
    validate_request_id(request_id)
    assert connection.in_transaction(), "run_once must share the mutation's transaction"
    digest = request_digest(request)
    lock_key = f"{schema}|{caller}|{method}|{request_id}"
    await connection.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": lock_key}
    )
    existing = (
        await connection.execute(
            text(
                f'SELECT request_digest, response FROM "{schema}".request_log '
                "WHERE caller = :caller AND method = :method AND request_id = :request_id"
            ),
            {"caller": caller, "method": method, "request_id": request_id},
        )
    ).first()
    if existing is not None:
        if bytes(existing.request_digest) != digest:
            raise RequestIdReused(metadata={"request_id": request_id})
        return response_type.FromString(bytes(existing.response))
    response = await mutate()
    await connection.execute(
        text(
            f'INSERT INTO "{schema}".request_log '
            "(caller, method, request_id, request_digest, response) "
            "VALUES (:caller, :method, :request_id, :digest, :response)"
        ),
        {
            "caller": caller,
            "method": method,
            "request_id": request_id,
            "digest": digest,
            "response": response.SerializeToString(deterministic=True),
        },
    )
    return response

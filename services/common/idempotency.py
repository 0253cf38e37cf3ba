"""Replay protection for mutating RPCs: the first answer to a ``request_id`` is the answer.

Every service's schema has a ``request_log`` table (insert-only for the runtime role). A mutating
RPC runs through :func:`run_once` in the same database transaction as its effects:

1. take a transaction-scoped advisory lock on (caller, method, request_id), so two concurrent
   copies of one request are serialized instead of both running (the second waits for the
   first and then replays its answer, rather than failing with REQUEST_IN_PROGRESS);
2. if a row exists: the same request digest returns the stored response; a different digest
   is :class:`RequestIdConflict` (the caller reused an id for a different request);
3. otherwise run the mutation and insert the row with its serialized response.

Because the row commits or rolls back with the mutation, a request's effects happen at most
once, and a retry after a crash either replays the answer or runs for the first time.
Only successful answers are stored: a request that failed with an error changed nothing and may
be retried with the same id.

Responses that carry a secret (raw keys, session tokens, claim codes) are never stored: pass
``secret_resource_id`` and only the id of what was created is kept; a replay then fails with
:class:`SecretAlreadyIssued` naming that id in the ErrorInfo metadata key ``resource_id``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from typing import TypeVar

from google.protobuf.message import Message
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.errors import InvalidArgument, RequestIdConflict, SecretAlreadyIssued

_CANONICAL_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ResponseT = TypeVar("ResponseT", bound=Message)


def request_digest(request: Message) -> bytes:
    """A digest of the request's fields, excluding nothing: same id + same fields = same digest."""
    return hashlib.sha256(request.SerializeToString(deterministic=True)).digest()


class RequestIdInvalid(InvalidArgument):
    reason = "REQUEST_ID_INVALID"
    default_message = "request_id must be a UUID in canonical lowercase form"


def validate_request_id(request_id: str) -> None:
    """Request ids are client-generated UUIDs (canonical lowercase 8-4-4-4-12)."""
    if not _CANONICAL_UUID.match(request_id):
        raise RequestIdInvalid(metadata={"field": "request_id"})


def request_lock_key(*, schema: str, caller: str, method: str, request_id: str) -> str:
    """The advisory-lock key that serialises calls of one request (schema-qualified, so
    services sharing a database never contend). SQL functions that replay requests take the
    same key, so they and :func:`run_once` exclude each other."""
    return f"{schema}|{caller}|{method}|{request_id}"


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
    secret_resource_id: Callable[[ResponseT], str] | None = None,
) -> ResponseT:
    """Run ``mutate`` once per (caller, method, request_id); must be inside a transaction."""
    validate_request_id(request_id)
    # The lock key includes the schema so services sharing a database never contend.
    assert connection.in_transaction(), "run_once must share the mutation's transaction"
    digest = request_digest(request)
    lock_key = request_lock_key(schema=schema, caller=caller, method=method, request_id=request_id)
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
            raise RequestIdConflict(metadata={"request_id": request_id})
        if secret_resource_id is not None:
            raise SecretAlreadyIssued(metadata={"resource_id": bytes(existing.response).decode()})
        return response_type.FromString(bytes(existing.response))
    response = await mutate()
    stored = (
        secret_resource_id(response).encode()
        if secret_resource_id is not None
        else response.SerializeToString(deterministic=True)
    )
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
            "response": stored,
        },
    )
    return response

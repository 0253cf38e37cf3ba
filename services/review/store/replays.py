"""A read of the replay log before a mutation whose first effect is outside this database.

CreateBounty and FundTreasury move credits through wallet before they write anything here. A
replay of a request that already succeeded must return its first answer without touching wallet
again, and a reuse of its request id with other fields must be refused before wallet is asked to
move anything. The write itself still goes through ``services.common.idempotency.run_once`` in
the transaction that records the result, which also settles two copies racing each other.
"""

from __future__ import annotations

from typing import TypeVar

from google.protobuf.message import Message
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.errors import RequestIdConflict
from services.common.idempotency import request_digest, validate_request_id
from services.review.store import models

ResponseT = TypeVar("ResponseT", bound=Message)


async def stored_answer(
    tx: AsyncSession,
    *,
    caller: str,
    method: str,
    request: Message,
    request_id: str,
    response_type: type[ResponseT],
) -> ResponseT | None:
    validate_request_id(request_id)
    log = models.request_log
    row = (
        await tx.execute(
            select(log.c.request_digest, log.c.response).where(
                log.c.caller == caller, log.c.method == method, log.c.request_id == request_id
            )
        )
    ).first()
    if row is None:
        return None
    if bytes(row.request_digest) != request_digest(request):
        raise RequestIdConflict(metadata={"request_id": request_id})
    return response_type.FromString(bytes(row.response))

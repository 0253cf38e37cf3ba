"""A mutating request runs once per request id, even when copies race; a reused id with other
fields is refused. Against the real database as a service's runtime role."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from google.protobuf import wrappers_pb2
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from ops.database import ServiceDatabase
from services.common.db import async_url
from services.common.errors import InvalidArgument, RequestIdConflict, SecretAlreadyIssued
from services.common.idempotency import run_once


@pytest.fixture
async def engine(service_databases: dict[str, ServiceDatabase]):
    engine = create_async_engine(async_url(service_databases["review"].runtime_url), pool_size=12)
    yield engine
    await engine.dispose()


async def _attempt(engine, *, request_id: str, value: str, effects: list[str]) -> str:
    async with engine.begin() as connection:

        async def mutate() -> wrappers_pb2.StringValue:
            effects.append(value)
            await asyncio.sleep(0.01)  # widen the race window
            return wrappers_pb2.StringValue(value=f"done:{value}")

        response = await run_once(
            connection,
            schema="review",
            caller="gateway",
            method="Probe",
            request_id=request_id,
            request=wrappers_pb2.StringValue(value=value),
            response_type=wrappers_pb2.StringValue,
            mutate=mutate,
        )
        return response.value


async def test_concurrent_copies_of_a_request_run_once(engine) -> None:
    request_id = str(uuid.uuid4())
    effects: list[str] = []
    answers = await asyncio.gather(
        *(_attempt(engine, request_id=request_id, value="a", effects=effects) for _ in range(10))
    )
    assert effects == ["a"]
    assert answers == ["done:a"] * 10


async def test_a_reused_id_with_different_fields_is_refused(engine) -> None:
    request_id = str(uuid.uuid4())
    effects: list[str] = []
    assert await _attempt(engine, request_id=request_id, value="a", effects=effects) == "done:a"
    with pytest.raises(RequestIdConflict) as refused:
        await _attempt(engine, request_id=request_id, value="b", effects=effects)
    assert refused.value.reason == "REQUEST_ID_CONFLICT"
    assert effects == ["a"]


async def test_a_secret_bearing_answer_is_never_stored_or_replayed(engine) -> None:
    request_id = str(uuid.uuid4())

    async def issue() -> wrappers_pb2.StringValue:
        async with engine.begin() as connection:

            async def mutate() -> wrappers_pb2.StringValue:
                return wrappers_pb2.StringValue(value="key-id-1|tokenmart_SECRET")

            return await run_once(
                connection,
                schema="review",
                caller="gateway",
                method="ProbeSecret",
                request_id=request_id,
                request=wrappers_pb2.StringValue(value="create"),
                response_type=wrappers_pb2.StringValue,
                mutate=mutate,
                secret_resource_id=lambda response: response.value.split("|")[0],
            )

    assert (await issue()).value.endswith("SECRET")
    with pytest.raises(SecretAlreadyIssued) as replayed:
        await issue()
    assert replayed.value.metadata == {"resource_id": "key-id-1"}
    async with engine.connect() as connection:
        stored = await connection.scalar(
            text("SELECT response FROM review.request_log WHERE request_id = :id"),
            {"id": request_id},
        )
    assert bytes(stored) == b"key-id-1"


async def test_a_failed_mutation_leaves_no_record(engine) -> None:
    request_id = str(uuid.uuid4())

    async def failing() -> None:
        async with engine.begin() as connection:

            async def mutate() -> wrappers_pb2.StringValue:
                raise InvalidArgument("nope")

            await run_once(
                connection,
                schema="review",
                caller="gateway",
                method="Probe",
                request_id=request_id,
                request=wrappers_pb2.StringValue(value="x"),
                response_type=wrappers_pb2.StringValue,
                mutate=mutate,
            )

    with pytest.raises(InvalidArgument):
        await failing()
    async with engine.connect() as connection:
        count = await connection.scalar(
            text("SELECT count(*) FROM review.request_log WHERE request_id = :id"),
            {"id": request_id},
        )
    assert count == 0
    assert await _attempt(engine, request_id=request_id, value="x", effects=[]) == "done:x"


@pytest.mark.parametrize(
    "request_id",
    ["", "x" * 129, "tab\there", "6F9619FF-8B86-D011-B42D-00C04FC964FF", "not-a-uuid", "{" * 36],
)
async def test_malformed_request_ids_are_refused(engine, request_id: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        await _attempt(engine, request_id=request_id, value="a", effects=[])
    assert refused.value.reason == "REQUEST_ID_INVALID"
    assert refused.value.metadata == {"field": "request_id"}

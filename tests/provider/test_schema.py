"""The provider schema holds its invariants by itself: constraints and guard triggers refuse what
the rules forbid, whoever writes (the schema owner included), and the runtime role may delete
nothing."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import errors as pg_errors

from tests.conftest import ProviderServerHandle
from tests.provider.helpers import CREDIT, MINI, Lab, ProviderRows, openai_body, rid

TABLES = ("models", "provider_keys", "generations", "instances", "request_log")


def test_the_runtime_role_can_delete_nothing(provider_server: ProviderServerHandle) -> None:
    url = provider_server.settings.common.database.url
    with psycopg.connect(url, autocommit=True) as connection:
        for table in TABLES:
            with pytest.raises(pg_errors.InsufficientPrivilege):
                connection.execute(f"DELETE FROM provider.{table} WHERE false")
            with pytest.raises(pg_errors.InsufficientPrivilege):
                connection.execute(f"TRUNCATE provider.{table}")
        with pytest.raises(pg_errors.InsufficientPrivilege):
            connection.execute("UPDATE provider.request_log SET response = ''")


async def test_a_settled_generation_and_its_outcome_are_final(lab: Lab, rows: ProviderRows) -> None:
    agent = await lab.agent(funds=CREDIT)
    response = await lab.chat(agent, openai_body("x"))
    generation_id = response.generation_id
    for change in (
        "charged_micros = charged_micros + 1",
        "settlement_status = 'pending', settled_at = NULL, next_settlement_at = now()",
        "status = 'failed'",
        "output_tokens = 0",
        "input_price_micros = 1",
        "agent_id = gen_random_uuid()",
        "hold_id = NULL, held_micros = 0",
    ):
        with pytest.raises(pg_errors.CheckViolation):
            rows.execute(f"UPDATE generations SET {change} WHERE id = %s", generation_id)


def test_generation_constraints(rows: ProviderRows) -> None:
    def insert(**change: object) -> None:
        values: dict[str, object] = {
            "id": uuid.uuid4(),
            "request_id": rid(),
            "caller": "agent:test",
            "agent_id": uuid.uuid4(),
            "key_id": uuid.uuid4(),
            "dialect": "openai_chat_completions",
            "streamed": False,
            "model_requested": MINI,
            "model_served": "",
            "provider": "openai",
            "upstream_model": "gpt-4o-mini",
            "key_source": "platform",
            "provider_key_id": None,
            "upstream_attempts": 1,
            "input_price_micros": 1,
            "output_price_micros": 1,
            "fee_bps": 0,
            "estimate_input_tokens": 1,
            "max_output_tokens": 1,
            "hold_id": uuid.uuid4(),
            "held_micros": 5,
            "status": "in_progress",
            "upstream_status": 0,
            "price_micros": 0,
            "charge_micros": 0,
            "charged_micros": 0,
            "shortfall_micros": 0,
            "settlement_status": "pending",
            "settlement_attempts": 0,
            "instance_id": uuid.uuid4(),
            "created_at": "now()",
            **change,
        }
        placeholders = ", ".join("now()" if value == "now()" else "%s" for value in values.values())
        rows.execute(
            f"INSERT INTO generations ({', '.join(values)}) VALUES ({placeholders})",
            *(value for value in values.values() if value != "now()"),
        )

    insert()  # the baseline row is valid
    for change in (
        {"input_price_micros": 0},  # a zero price is never recorded either
        {"hold_id": None},  # a pending settlement always has a hold
        {
            "held_micros": 0,
            "hold_id": None,
            "settlement_status": "not_required",
            "charge_micros": 3,
        },
        {"key_source": "byok_agent"},  # a BYOK generation names its key
        {"settlement_status": "settled"},  # settled has a time
        {"status": "succeeded"},  # finished has a time
        {"error_reason": "lower case"},
        {"fee_bps": 10_001},
    ):
        with pytest.raises(pg_errors.CheckViolation):
            insert(**change)


async def test_a_deleted_key_stays_deleted_and_a_key_keeps_its_owner(
    lab: Lab, rows: ProviderRows
) -> None:
    from tokenmart.provider.v1 import provider_pb2

    agent = await lab.agent()
    metadata = await lab.token(await lab.management_key(agent))
    created = await lab.provider.CreateProviderKey(
        provider_pb2.CreateProviderKeyRequest(
            request_id=rid(),
            provider=provider_pb2.UPSTREAM_PROVIDER_OPENAI,
            secret="sk-schema-test-0123456789",
            scope=provider_pb2.PROVIDER_KEY_SCOPE_AGENT,
        ),
        metadata=metadata,
    )
    key_id = created.provider_key.provider_key_id
    for change in ("agent_id = gen_random_uuid()", "last4 = 'abcd'", "provider = 'anthropic'"):
        with pytest.raises(pg_errors.CheckViolation):
            rows.execute(f"UPDATE provider_keys SET {change} WHERE id = %s", key_id)
    with pytest.raises(pg_errors.CheckViolation):  # both owners at once
        rows.execute(
            "UPDATE provider_keys SET account_id = gen_random_uuid() WHERE id = %s", key_id
        )
    await lab.provider.DeleteProviderKey(
        provider_pb2.DeleteProviderKeyRequest(request_id=rid(), provider_key_id=key_id),
        metadata=metadata,
    )
    for change in ("deleted_at = NULL", "label = 'back'"):
        with pytest.raises(pg_errors.CheckViolation):
            rows.execute(f"UPDATE provider_keys SET {change} WHERE id = %s", key_id)


def test_a_model_revision_grows_by_one_per_change(rows: ProviderRows) -> None:
    revision = rows.value("SELECT revision FROM models WHERE model_id = %s", MINI)
    for change in (f"revision = {revision}", f"revision = {revision + 2}", "model_id = 'x/y'"):
        with pytest.raises(pg_errors.CheckViolation):
            rows.execute(f"UPDATE models SET {change} WHERE model_id = %s", MINI)

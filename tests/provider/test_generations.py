"""The generation log (who may read a record, what it holds and never holds), per-key usage, and
the operator's settlement levers: a settlement wallet could not take stays pending, is listed,
and is settled later, once."""

from __future__ import annotations

import asyncio
import datetime
import secrets
from collections.abc import AsyncIterator, Callable

import grpc
import pytest
from google.protobuf import duration_pb2, timestamp_pb2
from tokenmart.provider.v1 import provider_pb2

from tests.conftest import ProviderServerHandle, ServiceDatabase, StandinHandle
from tests.provider.helpers import (
    ANTHROPIC,
    CREDIT,
    HAIKU,
    Lab,
    ProviderRows,
    anthropic_body,
    lab_for,
    openai_body,
    refused,
    rid,
)
from tests.provider.proxy import TcpProxy

StartProvider = Callable[..., ProviderServerHandle]


async def _get(lab: Lab, metadata: object, generation_id: str) -> provider_pb2.Generation:
    response = await lab.provider.GetGeneration(
        provider_pb2.GetGenerationRequest(generation_id=generation_id), metadata=metadata
    )
    return response.generation


async def test_a_generation_is_visible_to_its_agent_its_owner_admins_and_ctl(lab: Lab) -> None:
    agent = await lab.agent(funds=CREDIT)
    assert agent.owner is not None
    secret_words = f"my private prompt {secrets.token_hex(4)}"
    response = await lab.chat(agent, anthropic_body(secret_words), dialect=ANTHROPIC)
    viewers = [
        await lab.token(agent.inference_key),
        await lab.token(await lab.management_key(agent)),
        await lab.token(agent.owner.session_token, audiences=()),
        await lab.token(agent.owner.session_token, agent_id=agent.agent_id),
        await lab.token((await lab.auth.admin_session()).session_token, audiences=()),
    ]
    for metadata in viewers:
        for spelled in (response.generation_id, f"gen-{response.generation_id}"):
            generation = await _get(lab, metadata, spelled)
            assert generation.generation_id == response.generation_id
    generation = await lab.generation(response.generation_id)  # ctl
    assert generation.agent_id == agent.agent_id and generation.key_id == agent.key_id
    assert generation.owner_account_id == agent.owner.account_id
    assert generation.dialect == provider_pb2.API_DIALECT_ANTHROPIC_MESSAGES
    assert (generation.model_requested, generation.model_served) == (
        HAIKU,
        "claude-3-5-haiku-20241022",
    )
    assert generation.provider == provider_pb2.UPSTREAM_PROVIDER_ANTHROPIC
    assert generation.status == provider_pb2.GENERATION_STATUS_SUCCEEDED
    assert generation.upstream_status == 200 and generation.upstream_attempts == 1
    assert generation.usage.total_tokens == response.usage.total_tokens
    assert generation.charged_micros == response.charged_micros == generation.price_micros
    assert generation.latency.ToTimedelta() > datetime.timedelta(0)
    assert generation.HasField("time_to_first_token") and generation.HasField("settled_at")
    assert secret_words not in str(generation)  # never prompt or completion text


async def test_anyone_else_gets_the_same_answer_as_for_a_missing_generation(lab: Lab) -> None:
    agent = await lab.agent(funds=CREDIT)
    response = await lab.chat(agent, openai_body("x"))
    stranger = await lab.agent()
    assert stranger.owner is not None
    for metadata in (
        await lab.token(stranger.inference_key),
        await lab.token(stranger.owner.session_token, audiences=()),
    ):
        for generation_id in (response.generation_id, rid()):
            await refused(
                _get(lab, metadata, generation_id),
                grpc.StatusCode.NOT_FOUND,
                "GENERATION_NOT_FOUND",
            )
    for malformed in ("", "gen-", "gen-xyz", response.generation_id.upper()):
        await refused(
            _get(lab, await lab.token(agent.inference_key), malformed),
            grpc.StatusCode.INVALID_ARGUMENT,
            "GENERATION_ID_INVALID",
        )


async def test_key_usage_counts_the_callers_own_generations(lab: Lab) -> None:
    agent = await lab.agent(funds=CREDIT)
    assert agent.owner is not None
    started = datetime.datetime.now(datetime.UTC)
    charged = 0
    for body in (openai_body("one"), openai_body("two [standin:tokens=7]")):
        charged += (await lab.chat(agent, body)).charged_micros
    with pytest.raises(grpc.aio.AioRpcError):
        await lab.chat(agent, openai_body("[standin:error=500]"))

    async def usage(metadata: object, **fields: object) -> provider_pb2.GetKeyUsageResponse:
        response: provider_pb2.GetKeyUsageResponse = await lab.provider.GetKeyUsage(
            provider_pb2.GetKeyUsageRequest(key_id=agent.key_id, **fields), metadata=metadata
        )
        return response

    mine = await usage(await lab.token(agent.inference_key))
    assert (mine.requests, mine.succeeded, mine.failed) == (3, 2, 1)
    assert mine.output_tokens == 12 + 7 and mine.charged_micros == charged
    assert mine.HasField("last_generation_at")
    owner = await usage(await lab.token(agent.owner.session_token, audiences=()))
    assert owner.requests == 3
    stranger = await lab.agent()
    nothing = await usage(await lab.token(stranger.inference_key))
    assert (nothing.requests, nothing.charged_micros) == (0, 0)
    later = timestamp_pb2.Timestamp()
    later.FromDatetime(datetime.datetime.now(datetime.UTC).replace(tzinfo=None))
    assert (await usage(await lab.token(agent.inference_key), since=later)).requests == 0
    earlier = timestamp_pb2.Timestamp()
    earlier.FromDatetime(started.replace(tzinfo=None) - datetime.timedelta(seconds=5))
    assert (await usage(await lab.token(agent.inference_key), since=earlier)).requests == 3
    future = timestamp_pb2.Timestamp()
    future.FromDatetime(datetime.datetime.now().replace(tzinfo=None) + datetime.timedelta(days=1))
    await refused(
        usage(await lab.token(agent.inference_key), since=future),
        grpc.StatusCode.INVALID_ARGUMENT,
        "TIME_RANGE_INVALID",
    )
    await refused(
        lab.provider.GetKeyUsage(
            provider_pb2.GetKeyUsageRequest(key_id="key-1"),
            metadata=await lab.token(agent.inference_key),
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "KEY_ID_INVALID",
    )


# -- settlement that has to wait ------------------------------------------------------------------


@pytest.fixture
async def wallet_proxy(lab: Lab) -> AsyncIterator[TcpProxy]:
    proxy = await TcpProxy(lab.server_wallet.port).start()
    try:
        yield proxy
    finally:
        await proxy.close()


async def _wait_recorded(standin: StandinHandle, tag: str) -> None:
    for _ in range(200):
        if standin.recorded(tag):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("upstream never got the request")


async def test_a_settlement_wallet_cannot_take_stays_pending_and_is_settled_later_once(
    fresh_provider_database: ServiceDatabase,  # before the servers: torn down after them
    start_provider_server: StartProvider,
    lab: Lab,
    standin_upstream: StandinHandle,
    wallet_proxy: TcpProxy,
) -> None:
    # A provider of its own (its own schema: no other process re-drives behind the test's back)
    # whose link to wallet the test cuts after the hold is placed.
    proxied = start_provider_server(
        database=fresh_provider_database,
        env={"WALLET_TARGET": f"127.0.0.1:{wallet_proxy.port}", "SETTLEMENT_INTERVAL_S": "3600"},
    )
    rows = ProviderRows(proxied.owner_url)
    agent = await lab.agent(funds=CREDIT)
    tag = secrets.token_hex(8)
    async with lab_for(proxied, lab.server_auth, lab.server_wallet) as other:
        call = asyncio.create_task(
            other.chat(agent, openai_body(f"[standin:marker={tag}] [standin:delay_ms=800]"))
        )
        await _wait_recorded(standin_upstream, tag)  # the hold is placed
        wallet_proxy.refuse = True  # wallet is down from now on
        wallet_proxy.drop_connections()
        response = await call
        # The answer is served; its billing is pending, with nothing charged yet.
        assert response.settlement_status == provider_pb2.SETTLEMENT_STATUS_PENDING
        assert response.charged_micros == 0
        record = rows.generation(response.generation_id)
        assert record["status"] == "succeeded" and record["settlement_status"] == "pending"
        assert record["settlement_attempts"] == 1 and record["last_settlement_error"]
        assert await lab.pending(agent) == record["held_micros"]
        listed = await other.provider_ctl.ListUnsettled(
            provider_pb2.ListUnsettledRequest(page_size=200), metadata=await other.operator()
        )
        assert [item.generation_id for item in listed.generations] == [response.generation_id]
        assert listed.total_unsettled == 1
        assert listed.generations[0].settlement_attempts == 1
        older = await other.provider_ctl.ListUnsettled(
            provider_pb2.ListUnsettledRequest(older_than=duration_pb2.Duration(seconds=3600)),
            metadata=await other.operator(),
        )
        assert list(older.generations) == [] and older.total_unsettled == 1
        # While wallet is still down, a forced re-drive changes nothing and says why.
        still_down = await other.provider_ctl.SettlePending(
            provider_pb2.SettlePendingRequest(request_id=rid()), metadata=await other.operator()
        )
        assert still_down.remaining_unsettled == 1
        assert still_down.outcomes[0].settlement_status == provider_pb2.SETTLEMENT_STATUS_PENDING
        assert still_down.outcomes[0].error_reason
        # Wallet is back; ctl forces the re-drive (until provider's channel has reconnected).
        wallet_proxy.refuse = False
        for _ in range(100):
            settled = await other.provider_ctl.SettlePending(
                provider_pb2.SettlePendingRequest(
                    request_id=rid(), generation_ids=[response.generation_id]
                ),
                metadata=await other.operator(),
            )
            assert [item.generation_id for item in settled.outcomes] == [response.generation_id]
            if settled.outcomes[0].settlement_status == provider_pb2.SETTLEMENT_STATUS_SETTLED:
                break
            await asyncio.sleep(0.2)
        assert settled.remaining_unsettled == 0
        charge = record["charge_micros"]
        assert settled.outcomes[0].charged_micros == charge > 0
        assert await lab.available(agent) == CREDIT - charge
        assert await lab.pending(agent) == 0
        again = await other.provider_ctl.SettlePending(
            provider_pb2.SettlePendingRequest(
                request_id=rid(), generation_ids=[response.generation_id]
            ),
            metadata=await other.operator(),
        )
        assert again.outcomes[0].charged_micros == charge
    assert await lab.available(agent) == CREDIT - charge
    assert rows.generation(response.generation_id)["settlement_attempts"] >= 3


async def test_a_generation_still_being_served_is_left_alone(
    lab: Lab, rows: ProviderRows, standin_upstream: StandinHandle
) -> None:
    agent = await lab.agent(funds=CREDIT)
    tag = secrets.token_hex(8)
    call = asyncio.create_task(
        lab.chat(agent, openai_body(f"[standin:marker={tag}] [standin:delay_ms=1500]"))
    )
    await _wait_recorded(standin_upstream, tag)
    running = rows.rows("SELECT id FROM generations WHERE agent_id = %s", agent.agent_id)[0][0]
    forced = await lab.provider_ctl.SettlePending(
        provider_pb2.SettlePendingRequest(request_id=rid(), generation_ids=[str(running)]),
        metadata=await lab.operator(),
    )
    assert forced.outcomes[0].error_reason == "GENERATION_IN_PROGRESS"
    assert forced.outcomes[0].settlement_status == provider_pb2.SETTLEMENT_STATUS_PENDING
    response = await call
    assert response.settlement_status == provider_pb2.SETTLEMENT_STATUS_SETTLED
    assert await lab.available(agent) == CREDIT - response.charged_micros


async def test_operator_levers_refuse_bad_input_and_other_callers(lab: Lab) -> None:
    operator = await lab.operator()
    await refused(
        lab.provider_ctl.ListUnsettled(
            provider_pb2.ListUnsettledRequest(older_than=duration_pb2.Duration(seconds=-1)),
            metadata=operator,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "OLDER_THAN_INVALID",
    )
    await refused(
        lab.provider_ctl.SettlePending(
            provider_pb2.SettlePendingRequest(request_id=rid(), limit=-1), metadata=operator
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "LIMIT_INVALID",
    )
    await refused(
        lab.provider_ctl.SettlePending(
            provider_pb2.SettlePendingRequest(request_id=rid(), generation_ids=["nope"]),
            metadata=operator,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "GENERATION_ID_INVALID",
    )
    unknown = rid()
    answer = await lab.provider_ctl.SettlePending(
        provider_pb2.SettlePendingRequest(request_id=rid(), generation_ids=[unknown]),
        metadata=operator,
    )
    assert [(item.generation_id, item.error_reason) for item in answer.outcomes] == [
        (unknown, "GENERATION_NOT_FOUND")
    ]
    admin = await lab.auth.admin_session()
    await refused(
        lab.provider_ctl.ListUnsettled(
            provider_pb2.ListUnsettledRequest(),
            metadata=await lab.token(admin.session_token, audiences=()),
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "SCOPE_MISSING",
    )
    await refused(
        lab.provider.SettlePending(
            provider_pb2.SettlePendingRequest(request_id=rid()), metadata=operator
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "PEER_NOT_ALLOWED",
    )

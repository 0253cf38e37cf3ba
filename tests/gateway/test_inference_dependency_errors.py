"""The inference routes' 424 and 503 answers, over HTTP and through the official SDKs: the
gateway in process → real auth, wallet and provider servers → the stand-in upstream.

* 424 ``NO_PROVIDER_KEY``: the model's provider has no platform key and the agent no BYOK key.
* 424 ``BYOK_DECRYPTION_FAILED``: the agent's BYOK key cannot be opened by the serving provider
  (its KEK is not the one the key was sealed under) — an error, never the platform key.
* 503 ``WALLET_UNAVAILABLE``: the wallet service is stopped when a platform-paid call must hold.

Each case is asked on ``/chat/completions`` (OpenAI envelope, the reason in ``code``) and on
``/messages`` and ``/anthropic/v1/messages`` (Anthropic envelope, which has no field for a
reason: the provider's stable message stands in for it), streamed and not, and each ends by
proving nothing happened: upstream was never called, the wallet holds what it held with nothing
pending, and no generation was charged.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anthropic
import httpx
import openai
import psycopg
import pytest

from ops.database import ServiceDatabase
from ops.pki import IssuedFiles
from services.common.errors import TokenMartError
from services.provider import errors as provider_errors
from tests.conftest import (
    AuthServerHandle,
    ProviderServerHandle,
    WalletServerHandle,
    _start_wallet,
    _ThreadedWalletServer,
)
from tests.edge import CLIENT_IP, MakeGateway
from tests.flows import Api, AuthRows, bearer, some_client_ip
from tests.gateway.test_inference_routes import (
    FUNDS,
    HAIKU,
    MINI,
    Caller,
    anthropic_client,
    inference_caller,
    openai_client,
)
from tests.provider.helpers import ProviderRows
from tests.security.conftest import Edge
from tests.security.test_wallet_edge import assert_ledger_ok

StartProvider = Callable[..., ProviderServerHandle]

CHAT = "/api/v1/tokenhall/chat/completions"
MESSAGES = "/api/v1/tokenhall/messages"
ANTHROPIC_MESSAGES = "/api/v1/tokenhall/anthropic/v1/messages"
NO_PLATFORM_KEYS = {"OPENAI_API_KEY": "", "ANTHROPIC_API_KEY": "", "OPENROUTER_API_KEY": ""}
# Not the session provider's KEK_1: keys sealed by the session provider cannot be opened with it.
OTHER_KEK = base64.b64encode(b"a-different-key-encryption-key!!").decode()
# Bounds the wait for the settlement re-driver (it runs every 0.2 s in tests, retries within 1 s).
SETTLE_POLLS = 300
SETTLE_POLL_S = 0.1


@asynccontextmanager
async def edge_for(
    make_gateway: MakeGateway,
    auth: AuthServerHandle,
    *,
    wallet_port: int,
    provider_port: int,
) -> AsyncIterator[Edge]:
    """A gateway over the given wallet and provider, its requests from an address of its own
    (as ``hall`` does), so per-address limits other tests spent are not what is measured."""
    gateway = make_gateway(
        ports={"auth": auth.port, "wallet": wallet_port, "provider": provider_port}
    )
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gateway.app, client=(CLIENT_IP, 40000)),
        base_url="http://testserver",
        headers={"X-Forwarded-For": some_client_ip()},
    )
    try:
        yield Edge(gateway=gateway, api=Api(client), auth=auth, rows=AuthRows(auth.owner_url))
    finally:
        await client.aclose()


def chat_body(text: str, *, model: str = MINI, stream: bool = False) -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": 20,
        "stream": stream,
        "messages": [{"role": "user", "content": text}],
    }


def assert_openai_error(response: httpx.Response, *, status: int, kind: str, reason: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "x-generation-id" not in response.headers
    body = response.json()
    assert body == {
        "error": {
            "message": body["error"]["message"],
            "type": kind,
            "code": reason.lower(),
            "param": None,
        }
    }


def assert_anthropic_error(
    response: httpx.Response, *, status: int, kind: str, message: str
) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "x-generation-id" not in response.headers
    assert response.json() == {"type": "error", "error": {"type": kind, "message": message}}


async def assert_every_route_refuses(
    edge: Edge,
    caller: Caller,
    error: type[TokenMartError],
    *,
    status: int,
    openai_type: str,
    anthropic_type: str,
    tag: str,
) -> None:
    """Both dialects' routes, streamed and not, answer ``error`` in their own envelope."""
    for stream in (False, True):
        text = f"hi [standin:marker={tag}]"
        response = await edge.api.client.post(
            CHAT, json=chat_body(text, stream=stream), headers=bearer(caller.th_key)
        )
        assert_openai_error(response, status=status, kind=openai_type, reason=error.reason)
        assert response.json()["error"]["message"] == error.default_message
        for path in (MESSAGES, ANTHROPIC_MESSAGES):
            response = await edge.api.client.post(
                path,
                json=chat_body(text, model=HAIKU, stream=stream),
                headers={"x-api-key": caller.th_key, "anthropic-version": "2023-06-01"},
            )
            assert_anthropic_error(
                response, status=status, kind=anthropic_type, message=error.default_message
            )


def generations_of(rows: ProviderRows, caller: Caller) -> list[dict[str, Any]]:
    found = rows.rows(
        "SELECT id FROM generations WHERE agent_id = %s ORDER BY created_at",
        caller.agent.agent_id,
    )
    return [rows.generation(str(item[0])) for item in found]


def live_holds(wallet: WalletServerHandle, caller: Caller) -> list[tuple[Any, ...]]:
    """The agent's holds that still reserve or have taken credits."""
    with psycopg.connect(wallet.owner_url, autocommit=True) as connection:
        return connection.execute(
            "SELECT id, status FROM wallet.holds WHERE agent_id = %s"
            " AND status IN ('pending', 'posted')",
            (caller.agent.agent_id,),
        ).fetchall()


async def credits(edge: Edge, caller: Caller) -> dict[str, int]:
    response = await edge.api.client.get("/api/v1/tokenhall/credits", headers=bearer(caller.th_key))
    assert response.status_code == 200, response.text
    body = response.json()
    return {
        name: int(body[name])
        for name in ("balance_micros", "pending_micros", "posted_balance_micros")
    }


async def assert_untouched(edge: Edge, caller: Caller, wallet: WalletServerHandle) -> None:
    assert await credits(edge, caller) == {
        "balance_micros": FUNDS,
        "pending_micros": 0,
        "posted_balance_micros": FUNDS,
    }
    assert live_holds(wallet, caller) == []


async def create_byok_key(edge: Edge, caller: Caller, provider: str) -> dict[str, Any]:
    response = await edge.api.client.post(
        "/api/v1/tokenhall/provider-keys",
        json={"provider": provider, "secret": f"sk-byok-{secrets.token_hex(12)}"},
        headers=caller.owner.headers(caller.agent.agent_id),
    )
    assert response.status_code == 201, response.text
    key: dict[str, Any] = response.json()["provider_key"]
    return key


# -- 424 NO_PROVIDER_KEY ------------------------------------------------------------------------


async def test_no_provider_key_is_424_in_both_dialects_and_charges_nothing(
    make_gateway: MakeGateway,
    auth_server: AuthServerHandle,
    wallet_server: WalletServerHandle,
    start_provider_server: StartProvider,
    standin_upstream: Any,
) -> None:
    keyless = start_provider_server(env=NO_PLATFORM_KEYS)
    rows = ProviderRows(keyless.owner_url)
    async with edge_for(
        make_gateway, auth_server, wallet_port=wallet_server.port, provider_port=keyless.port
    ) as edge:
        caller = await inference_caller(edge)
        tag = secrets.token_hex(8)
        messages: Any = [{"role": "user", "content": f"hi [standin:marker={tag}]"}]
        for stream in (False, True):
            with pytest.raises(openai.APIStatusError) as refused:
                await openai_client(edge, caller.th_key).chat.completions.create(
                    model=MINI, messages=messages, max_tokens=20, stream=stream
                )
            # 424 has no class of its own in the SDK: the base class, not a 4xx look-alike.
            assert type(refused.value) is openai.APIStatusError
            assert refused.value.status_code == 424
            assert refused.value.code == "no_provider_key"
            assert refused.value.type == "invalid_request_error"
            with pytest.raises(anthropic.APIStatusError) as also:
                await anthropic_client(edge, caller.th_key).messages.create(
                    model=HAIKU, max_tokens=20, messages=messages, stream=stream
                )
            assert type(also.value) is anthropic.APIStatusError
            assert also.value.status_code == 424
            assert also.value.body == {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "message": provider_errors.NoProviderKey.default_message,
                },
            }
        await assert_every_route_refuses(
            edge,
            caller,
            provider_errors.NoProviderKey,
            status=424,
            openai_type="invalid_request_error",
            anthropic_type="invalid_request_error",
            tag=tag,
        )
        assert standin_upstream.recorded(tag) == []
        await assert_untouched(edge, caller, wallet_server)
        # Refused while planning, before the generation (and so its hold) is recorded.
        assert generations_of(rows, caller) == []
        # The missing key is the whole cause: the agent's own key serves the same request,
        # and a BYOK request at a fee of 0 holds and charges nothing.
        await create_byok_key(edge, caller, "openai")
        served = await edge.api.client.post(
            CHAT, json=chat_body(f"hi [standin:marker={tag}]"), headers=bearer(caller.th_key)
        )
        assert served.status_code == 200, served.text
        (record,) = generations_of(rows, caller)
        assert record["id"] == uuid.UUID(served.headers["x-generation-id"].removeprefix("gen-"))
        assert record["key_source"] == "byok_agent" and record["charged_micros"] == 0
        assert len(standin_upstream.recorded(tag)) == 1
        await assert_untouched(edge, caller, wallet_server)


# -- 424 BYOK_DECRYPTION_FAILED -----------------------------------------------------------------


async def test_an_undecryptable_byok_key_is_424_never_the_platform_key(
    make_gateway: MakeGateway,
    auth_server: AuthServerHandle,
    wallet_server: WalletServerHandle,
    provider_server: ProviderServerHandle,
    start_provider_server: StartProvider,
    standin_upstream: Any,
) -> None:
    # This provider has every platform key: falling back to one would be possible, and wrong.
    wrong_kek = start_provider_server(env={"KEK_1": OTHER_KEK})
    rows = ProviderRows(wrong_kek.owner_url)
    async with (
        edge_for(
            make_gateway,
            auth_server,
            wallet_port=wallet_server.port,
            provider_port=provider_server.port,
        ) as sealing,
        edge_for(
            make_gateway, auth_server, wallet_port=wallet_server.port, provider_port=wrong_kek.port
        ) as edge,
    ):
        caller = await inference_caller(sealing)
        keys = [await create_byok_key(sealing, caller, name) for name in ("openai", "anthropic")]
        tag = secrets.token_hex(8)
        messages: Any = [{"role": "user", "content": f"hi [standin:marker={tag}]"}]
        with pytest.raises(openai.APIStatusError) as refused:
            await openai_client(edge, caller.th_key).chat.completions.create(
                model=MINI, messages=messages, max_tokens=20
            )
        assert type(refused.value) is openai.APIStatusError
        assert refused.value.status_code == 424
        assert refused.value.code == "byok_decryption_failed"
        with pytest.raises(anthropic.APIStatusError) as also:
            await anthropic_client(edge, caller.th_key).messages.create(
                model=HAIKU, max_tokens=20, messages=messages
            )
        assert type(also.value) is anthropic.APIStatusError
        assert also.value.status_code == 424
        await assert_every_route_refuses(
            edge,
            caller,
            provider_errors.ByokDecryptionFailed,
            status=424,
            openai_type="invalid_request_error",
            anthropic_type="invalid_request_error",
            tag=tag,
        )
        # Neither the BYOK key nor the platform key reached upstream, and nothing was held.
        assert standin_upstream.recorded(tag) == []
        await assert_untouched(edge, caller, wallet_server)
        generations = generations_of(rows, caller)
        assert len(generations) == 8  # 2 SDK calls, then 3 routes, streamed and not
        for generation in generations:
            assert generation["error_reason"] == "BYOK_DECRYPTION_FAILED"
            assert generation["status"] == "failed"
            assert generation["key_source"] == "byok_agent"
            assert str(generation["provider_key_id"]) in {key["id"] for key in keys}
            assert generation["charged_micros"] == 0 and generation["hold_id"] is None
        # The key itself is sound: the provider that sealed it serves with it, still as BYOK.
        served = await sealing.api.client.post(
            CHAT, json=chat_body(f"hi [standin:marker={tag}]"), headers=bearer(caller.th_key)
        )
        assert served.status_code == 200, served.text
        record = rows.generation(served.headers["x-generation-id"].removeprefix("gen-"))
        assert record["key_source"] == "byok_agent" and record["charged_micros"] == 0
        assert len(standin_upstream.recorded(tag)) == 1
        await assert_untouched(edge, caller, wallet_server)


# -- 503 WALLET_UNAVAILABLE ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RestartableWallet:
    """A wallet server of the test's own on the session's wallet schema, on a fixed port, so it
    can be stopped and started again where provider and gateway expect it (the session wallet
    serves every other test and must stay up)."""

    def __init__(
        self,
        database: ServiceDatabase,
        pki: dict[str, IssuedFiles],
        auth: AuthServerHandle,
    ) -> None:
        self._database = database
        self._pki = pki
        self._auth = auth
        self.port = free_port()
        self._running: _ThreadedWalletServer | None = None

    def start(self) -> WalletServerHandle:
        assert self._running is None
        self._running, handle = _start_wallet(
            self._database,
            self._pki,
            auth=self._auth,
            env={"GRPC_LISTEN": f"127.0.0.1:{self.port}"},
            clock=None,
            sweeper=False,
        )
        return handle

    def stop(self) -> None:
        if self._running is not None:
            self._running.stop()
            self._running = None


@pytest.fixture
def restartable_wallet(
    service_databases: dict[str, ServiceDatabase],
    pki: dict[str, IssuedFiles],
    auth_server: AuthServerHandle,
) -> Iterator[RestartableWallet]:
    wallet = RestartableWallet(service_databases["wallet"], pki, auth_server)
    try:
        yield wallet
    finally:
        wallet.stop()


async def settled_generations(rows: ProviderRows, caller: Caller) -> list[dict[str, Any]]:
    """The agent's generations once the re-driver has settled every one (bounded wait)."""
    generations: list[dict[str, Any]] = []
    for _ in range(SETTLE_POLLS):
        generations = generations_of(rows, caller)
        if all(item["settlement_status"] == "settled" for item in generations):
            return generations
        await asyncio.sleep(SETTLE_POLL_S)
    raise AssertionError(f"generations never settled: {generations}")


async def test_wallet_down_is_503_and_nothing_is_billed_once_it_is_back(
    make_gateway: MakeGateway,
    auth_server: AuthServerHandle,
    restartable_wallet: RestartableWallet,
    start_provider_server: StartProvider,
    standin_upstream: Any,
) -> None:
    wallet = restartable_wallet.start()
    provider = start_provider_server(wallet=wallet)
    rows = ProviderRows(provider.owner_url)
    async with edge_for(
        make_gateway, auth_server, wallet_port=wallet.port, provider_port=provider.port
    ) as edge:
        caller = await inference_caller(edge)
        admin = await edge.admin_session()
        await assert_untouched(edge, caller, wallet)
        restartable_wallet.stop()

        tag = secrets.token_hex(8)
        messages: Any = [{"role": "user", "content": f"hi [standin:marker={tag}]"}]
        with pytest.raises(openai.InternalServerError) as refused:
            await openai_client(edge, caller.th_key).chat.completions.create(
                model=MINI, messages=messages, max_tokens=20
            )
        assert refused.value.status_code == 503
        assert refused.value.code == "wallet_unavailable"
        assert refused.value.type == "api_error"
        with pytest.raises(anthropic.ServiceUnavailableError) as also:
            await anthropic_client(edge, caller.th_key).messages.create(
                model=HAIKU, max_tokens=20, messages=messages
            )
        assert also.value.status_code == 503
        assert also.value.body == {
            "type": "error",
            "error": {
                "type": "overloaded_error",
                "message": provider_errors.WalletUnavailable.default_message,
            },
        }
        await assert_every_route_refuses(
            edge,
            caller,
            provider_errors.WalletUnavailable,
            status=503,
            openai_type="api_error",
            anthropic_type="overloaded_error",
            tag=tag,
        )
        # No hold could be placed, so upstream was never called.
        assert standin_upstream.recorded(tag) == []

        # Wallet back where it was: the holds whose creation had no answer are released, not
        # captured, and the wallet is exactly as it was before the outage.
        wallet = restartable_wallet.start()
        generations = await settled_generations(rows, caller)
        assert len(generations) == 8  # 2 SDK calls, then 3 routes, streamed and not
        for generation in generations:
            assert generation["status"] == "failed"
            assert generation["error_reason"] == "WALLET_UNAVAILABLE"
            assert generation["key_source"] == "platform"
            assert generation["charged_micros"] == 0
        await assert_untouched(edge, caller, wallet)
        await assert_ledger_ok(edge, admin)

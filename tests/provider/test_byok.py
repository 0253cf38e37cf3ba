"""BYOK keys over the real servers: who may manage which key (THREATS D7), which key serves a
request (agent -> account -> platform, "always use", fallback), that a secret never leaves
provider (D6: responses, errors, logs and every provider table), and KEK rotation."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import secrets
from collections.abc import Callable
from typing import Any

import grpc
import psycopg
import pytest
from tokenmart.provider.v1 import provider_pb2

from ops import ctl
from services.common.logging import JsonFormatter
from services.common.status import error_info
from tests.conftest import (
    PROVIDER_PLATFORM_KEYS,
    PROVIDER_TEST_KEK,
    ProviderServerHandle,
    ServiceDatabase,
    StandinHandle,
)
from tests.provider.helpers import (
    CREDIT,
    HAIKU,
    Agent,
    Lab,
    ProviderRows,
    lab_for,
    marker,
    openai_body,
    refused,
    rid,
)

StartProvider = Callable[..., ProviderServerHandle]
OPENAI_P = provider_pb2.UPSTREAM_PROVIDER_OPENAI
ANTHROPIC_P = provider_pb2.UPSTREAM_PROVIDER_ANTHROPIC
AGENT_SCOPE = provider_pb2.PROVIDER_KEY_SCOPE_AGENT
ACCOUNT_SCOPE = provider_pb2.PROVIDER_KEY_SCOPE_ACCOUNT
KEK_2 = base64.b64encode(b"provider-test-kek-version-two-32").decode()


def _secret(kind: str = "good") -> str:
    return f"sk-byok-{kind}-{secrets.token_hex(16)}"


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


async def _create(
    lab: Lab,
    metadata: tuple[tuple[str, str], ...],
    *,
    secret: str,
    scope: int = AGENT_SCOPE,
    provider: int = OPENAI_P,
    request_id: str | None = None,
    **fields: Any,
) -> provider_pb2.CreateProviderKeyResponse:
    response: provider_pb2.CreateProviderKeyResponse = await lab.provider.CreateProviderKey(
        provider_pb2.CreateProviderKeyRequest(
            request_id=request_id or rid(),
            provider=provider,
            secret=secret,
            scope=scope,
            **fields,
        ),
        metadata=metadata,
    )
    return response


async def _manager(lab: Lab, agent: Agent) -> tuple[tuple[str, str], ...]:
    """The token of a new thm_ key of ``agent``."""
    return await lab.token(await lab.management_key(agent))


async def _session(lab: Lab, agent: Agent, *, acting: bool) -> tuple[tuple[str, str], ...]:
    assert agent.owner is not None
    return await lab.token(agent.owner.session_token, agent_id=agent.agent_id if acting else "")


# -- managing keys ------------------------------------------------------------------------------


async def test_an_agent_stores_its_key_and_sees_only_the_last_four(
    lab: Lab, rows: ProviderRows
) -> None:
    agent = await lab.agent()
    secret = _secret()
    created = await _create(lab, await _manager(lab, agent), secret=secret, label="mine")
    key = created.provider_key
    assert (key.scope, key.agent_id, key.account_id) == (AGENT_SCOPE, agent.agent_id, "")
    assert key.last4 == secret[-4:] and key.kek_version == 1 and key.label == "mine"
    assert secret not in str(created) and created.replaced_provider_key_id == ""
    stored = rows.rows(
        "SELECT last4, kek_version, octet_length(wrapped_key), octet_length(secret_ciphertext) "
        "FROM provider_keys WHERE id = %s",
        key.provider_key_id,
    )
    assert stored == [(secret[-4:], 1, 60, len(secret) + 16)]


async def test_only_an_account_session_manages_account_keys(lab: Lab) -> None:
    """THREATS D7: an agent's thm_ key never touches the account-wide key."""
    agent = await lab.agent()
    await refused(
        _create(lab, await _manager(lab, agent), secret=_secret(), scope=ACCOUNT_SCOPE),
        grpc.StatusCode.PERMISSION_DENIED,
        "ACCOUNT_SESSION_REQUIRED",
    )
    account_key = await _create(
        lab, await _session(lab, agent, acting=False), secret=_secret(), scope=ACCOUNT_SCOPE
    )
    assert account_key.provider_key.account_id == agent.owner.account_id  # type: ignore[union-attr]
    delete = provider_pb2.DeleteProviderKeyRequest(
        request_id=rid(), provider_key_id=account_key.provider_key.provider_key_id
    )
    await refused(
        lab.provider.DeleteProviderKey(delete, metadata=await _manager(lab, agent)),
        grpc.StatusCode.NOT_FOUND,
        "PROVIDER_KEY_NOT_FOUND",
    )
    await refused(
        lab.provider.DeleteProviderKey(delete, metadata=await lab.token(agent.agent_key)),
        grpc.StatusCode.PERMISSION_DENIED,
        "SCOPE_MISSING",
    )
    listed = await lab.provider.ListProviderKeys(
        provider_pb2.ListProviderKeysRequest(), metadata=await _manager(lab, agent)
    )
    assert account_key.provider_key.provider_key_id not in {
        item.provider_key_id for item in listed.provider_keys
    }


async def test_agent_keys_need_an_acting_agent_and_a_managing_credential(lab: Lab) -> None:
    agent = await lab.agent()
    await refused(
        _create(lab, await _session(lab, agent, acting=False), secret=_secret()),
        grpc.StatusCode.FAILED_PRECONDITION,
        "AGENT_REQUIRED",
    )
    for credential in (agent.inference_key, agent.agent_key):
        await refused(
            _create(lab, await lab.token(credential), secret=_secret()),
            grpc.StatusCode.PERMISSION_DENIED,
            "SCOPE_MISSING",
        )
    via_session = await _create(lab, await _session(lab, agent, acting=True), secret=_secret())
    assert via_session.provider_key.agent_id == agent.agent_id


@pytest.mark.parametrize(
    ("fields", "code", "reason"),
    [
        ({"secret": "short"}, grpc.StatusCode.INVALID_ARGUMENT, "SECRET_INVALID"),
        ({"secret": "sk-has whitespace-0000"}, grpc.StatusCode.INVALID_ARGUMENT, "SECRET_INVALID"),
        ({"label": "x" * 101}, grpc.StatusCode.INVALID_ARGUMENT, "LABEL_INVALID"),
        ({"label": "bell\x07"}, grpc.StatusCode.INVALID_ARGUMENT, "LABEL_INVALID"),
        (
            {"provider": provider_pb2.UPSTREAM_PROVIDER_UNSPECIFIED},
            grpc.StatusCode.INVALID_ARGUMENT,
            "ENUM_VALUE_UNSPECIFIED",
        ),
        (
            {"scope": provider_pb2.PROVIDER_KEY_SCOPE_UNSPECIFIED},
            grpc.StatusCode.INVALID_ARGUMENT,
            "ENUM_VALUE_UNSPECIFIED",
        ),
    ],
)
async def test_create_refuses_bad_fields_without_echoing_them(
    lab: Lab, fields: dict[str, Any], code: grpc.StatusCode, reason: str
) -> None:
    agent = await lab.agent()
    request: dict[str, Any] = {"secret": _secret(), **fields}
    error = await refused(_create(lab, await _manager(lab, agent), **request), code, reason)
    assert request["secret"] not in (error.details() or "")


async def test_one_key_per_owner_and_provider_unless_replaced(lab: Lab, rows: ProviderRows) -> None:
    agent = await lab.agent()
    manager = await _manager(lab, agent)
    first = await _create(lab, manager, secret=_secret())
    error = await refused(
        _create(lab, manager, secret=_secret()),
        grpc.StatusCode.ALREADY_EXISTS,
        "PROVIDER_KEY_EXISTS",
    )
    info = error_info(error)
    assert info is not None
    assert info.metadata["provider_key_id"] == first.provider_key.provider_key_id
    other_provider = await _create(lab, manager, secret=_secret(), provider=ANTHROPIC_P)
    assert other_provider.provider_key.provider == ANTHROPIC_P
    replaced = await _create(lab, manager, secret=_secret(), replace_existing=True)
    assert replaced.replaced_provider_key_id == first.provider_key.provider_key_id
    gone = rows.rows(
        "SELECT deleted_at IS NOT NULL, wrapped_key, secret_ciphertext FROM provider_keys "
        "WHERE id = %s",
        first.provider_key.provider_key_id,
    )
    assert gone == [(True, None, None)]


async def test_a_replayed_create_returns_the_first_answer_and_stores_one_key(
    lab: Lab, rows: ProviderRows
) -> None:
    agent = await lab.agent()
    manager = await _manager(lab, agent)
    request_id, secret = rid(), _secret()
    first = await _create(lab, manager, secret=secret, request_id=request_id)
    again = await _create(lab, manager, secret=secret, request_id=request_id)
    assert again == first
    await refused(
        _create(lab, manager, secret=_secret(), request_id=request_id),
        grpc.StatusCode.ALREADY_EXISTS,
        "REQUEST_ID_CONFLICT",
    )
    count = rows.value("SELECT count(*) FROM provider_keys WHERE agent_id = %s", agent.agent_id)
    assert count == 1


async def test_listing_shows_what_the_caller_manages_newest_first(lab: Lab) -> None:
    agent = await lab.agent()
    manager = await _manager(lab, agent)
    agent_keys = [
        await _create(lab, manager, secret=_secret(), provider=provider)
        for provider in (OPENAI_P, ANTHROPIC_P, provider_pb2.UPSTREAM_PROVIDER_OPENROUTER)
    ]
    account_key = await _create(
        lab, await _session(lab, agent, acting=False), secret=_secret(), scope=ACCOUNT_SCOPE
    )
    mine = await lab.provider.ListProviderKeys(
        provider_pb2.ListProviderKeysRequest(page_size=2), metadata=manager
    )
    rest = await lab.provider.ListProviderKeys(
        provider_pb2.ListProviderKeysRequest(page_size=2, page_token=mine.next_page_token),
        metadata=manager,
    )
    listed = [item.provider_key_id for item in [*mine.provider_keys, *rest.provider_keys]]
    assert listed == [item.provider_key.provider_key_id for item in reversed(agent_keys)]
    assert rest.next_page_token == ""
    both = await lab.provider.ListProviderKeys(
        provider_pb2.ListProviderKeysRequest(), metadata=await _session(lab, agent, acting=True)
    )
    assert {item.provider_key_id for item in both.provider_keys} == {
        *listed,
        account_key.provider_key.provider_key_id,
    }
    only_account = await lab.provider.ListProviderKeys(
        provider_pb2.ListProviderKeysRequest(scope=ACCOUNT_SCOPE),
        metadata=await _session(lab, agent, acting=True),
    )
    assert [item.provider_key_id for item in only_account.provider_keys] == [
        account_key.provider_key.provider_key_id
    ]
    assert all(item.last4 and len(item.last4) == 4 for item in both.provider_keys)


async def test_deleting_is_final_idempotent_and_only_for_the_owner(lab: Lab) -> None:
    agent, stranger = await lab.agent(), await lab.agent()
    manager = await _manager(lab, agent)
    created = await _create(lab, manager, secret=_secret())
    key_id = created.provider_key.provider_key_id
    await refused(
        lab.provider.DeleteProviderKey(
            provider_pb2.DeleteProviderKeyRequest(request_id=rid(), provider_key_id=key_id),
            metadata=await _manager(lab, stranger),
        ),
        grpc.StatusCode.NOT_FOUND,
        "PROVIDER_KEY_NOT_FOUND",
    )
    deleted = await lab.provider.DeleteProviderKey(
        provider_pb2.DeleteProviderKeyRequest(request_id=rid(), provider_key_id=key_id),
        metadata=manager,
    )
    again = await lab.provider.DeleteProviderKey(
        provider_pb2.DeleteProviderKeyRequest(request_id=rid(), provider_key_id=key_id),
        metadata=manager,
    )
    assert again.deleted_at == deleted.deleted_at
    await refused(
        lab.provider.DeleteProviderKey(
            provider_pb2.DeleteProviderKeyRequest(request_id=rid(), provider_key_id="nope"),
            metadata=manager,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "FIELD_INVALID",
    )
    # Deleted means deleted: the next request of the agent goes to the platform key.
    funded = await lab.agent(funds=CREDIT)
    funded_manager = await _manager(lab, funded)
    byok = await _create(lab, funded_manager, secret=_secret())
    await lab.provider.DeleteProviderKey(
        provider_pb2.DeleteProviderKeyRequest(
            request_id=rid(), provider_key_id=byok.provider_key.provider_key_id
        ),
        metadata=funded_manager,
    )
    response = await lab.chat(funded, openai_body("x"))
    assert response.key_source == provider_pb2.KEY_SOURCE_PLATFORM


# -- which key serves a request -----------------------------------------------------------------


async def test_priority_is_agent_then_account_then_platform(
    lab: Lab, standin_upstream: StandinHandle, rows: ProviderRows
) -> None:
    owner = await lab.auth.new_session()
    agent = await lab.agent(funds=CREDIT, owner=owner)
    sibling = await lab.agent(funds=CREDIT, owner=owner)
    stranger = await lab.agent(funds=CREDIT)
    agent_secret, account_secret = _secret(), _secret()
    agent_key = await _create(lab, await _manager(lab, agent), secret=agent_secret)
    account_key = await _create(
        lab,
        await lab.token(owner.session_token, audiences=()),
        secret=account_secret,
        scope=ACCOUNT_SCOPE,
    )
    expectations = [
        (agent, agent_secret, provider_pb2.KEY_SOURCE_BYOK_AGENT, agent_key),
        (sibling, account_secret, provider_pb2.KEY_SOURCE_BYOK_ACCOUNT, account_key),
        # THREATS D7: another owner's agent never reaches either key.
        (stranger, PROVIDER_PLATFORM_KEYS["openai"], provider_pb2.KEY_SOURCE_PLATFORM, None),
    ]
    for who, secret, source, stored in expectations:
        tag = marker()
        response = await lab.chat(who, openai_body(f"[standin:marker={tag}]"))
        assert response.key_source == source
        assert standin_upstream.recorded(tag)[0]["key_sha256"] == _sha(secret)
        record = rows.generation(response.generation_id)
        expected_id = stored.provider_key.provider_key_id if stored else None
        assert (
            str(record["provider_key_id"]) if record["provider_key_id"] else None
        ) == expected_id
    # Anthropic models have no BYOK key here: the platform key serves them.
    response = await lab.chat(agent, openai_body("x", model=HAIKU))
    assert response.key_source == provider_pb2.KEY_SOURCE_PLATFORM


async def test_a_refused_byok_key_falls_back_to_the_next_key(
    lab: Lab, standin_upstream: StandinHandle, rows: ProviderRows
) -> None:
    agent = await lab.agent(funds=CREDIT)
    bad = _secret("invalid")
    await _create(lab, await _manager(lab, agent), secret=bad)
    tag = marker()
    response = await lab.chat(agent, openai_body(f"[standin:marker={tag}]"))
    assert response.key_source == provider_pb2.KEY_SOURCE_PLATFORM
    calls = standin_upstream.recorded(tag)
    assert [call["key_sha256"] for call in calls] == [
        _sha(bad),
        _sha(PROVIDER_PLATFORM_KEYS["openai"]),
    ]
    record = rows.generation(response.generation_id)
    assert record["upstream_attempts"] == 2 and record["key_source"] == "platform"
    assert response.charged_micros == record["price_micros"] > 0
    assert await lab.available(agent) == CREDIT - response.charged_micros
    assert await lab.pending(agent) == 0


async def test_an_always_use_key_never_falls_back(
    lab: Lab, standin_upstream: StandinHandle
) -> None:
    agent = await lab.agent(funds=CREDIT)
    await _create(lab, await _manager(lab, agent), secret=_secret("invalid"), always_use=True)
    tag = marker()
    await refused(
        lab.chat(agent, openai_body(f"[standin:marker={tag}]")),
        grpc.StatusCode.FAILED_PRECONDITION,
        "UPSTREAM_AUTH_FAILED",
    )
    assert len(standin_upstream.recorded(tag)) == 1
    assert await lab.available(agent) == CREDIT


async def test_a_fallback_that_cannot_be_paid_answers_with_the_byok_keys_error(
    lab: Lab, standin_upstream: StandinHandle
) -> None:
    agent = await lab.agent(funds=0)
    await _create(lab, await _manager(lab, agent), secret=_secret("ratelimited"))
    tag = marker()
    await refused(
        lab.chat(agent, openai_body(f"[standin:marker={tag}]")),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "UPSTREAM_RATE_LIMITED",
    )
    assert len(standin_upstream.recorded(tag)) == 1  # the platform key was never called
    assert await lab.available(agent) == 0


async def test_key_use_is_stamped(lab: Lab, rows: ProviderRows) -> None:
    agent = await lab.agent()
    created = await _create(lab, await _manager(lab, agent), secret=_secret())
    key_id = created.provider_key.provider_key_id
    assert rows.value("SELECT last_used_at FROM provider_keys WHERE id = %s", key_id) is None
    await lab.chat(agent, openai_body("x"))
    assert rows.value("SELECT last_used_at FROM provider_keys WHERE id = %s", key_id) is not None


# -- D6: a secret never leaves provider ---------------------------------------------------------


def _every_value(url: str) -> list[str]:
    """Every value of every column of every provider table, as text, hex and base64."""
    found: list[str] = []
    with psycopg.connect(url, autocommit=True) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'provider'"
            )
        ]
        for table in tables:
            for row in connection.execute(f"SELECT * FROM provider.{table}"):
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        raw = bytes(value)
                        found += [raw.decode("latin-1"), raw.hex(), base64.b64encode(raw).decode()]
                    elif value is not None:
                        found.append(str(value))
    return found


async def _answer(lab: Lab, agent: Agent, body: dict[str, Any]) -> list[Any]:
    if body.get("stream"):
        call = lab.stream_call(body, await lab.token(agent.inference_key))
        return [message async for message in call]
    return [await lab.chat(agent, body)]


async def test_d6_a_secret_never_appears_in_responses_errors_logs_or_tables(
    lab: Lab, provider_server: ProviderServerHandle, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    agent = await lab.agent(funds=CREDIT)
    manager = await _manager(lab, agent)
    secret = _secret("invalid")  # upstream refuses it, and echoes it back in its error
    seen: list[str] = []
    created = await _create(lab, manager, secret=secret, always_use=True, label="leak test")
    seen.append(str(created))
    seen.append(
        str(
            await lab.provider.ListProviderKeys(
                provider_pb2.ListProviderKeysRequest(), metadata=manager
            )
        )
    )
    for body in (
        openai_body("[standin:echo_key_in_error]"),
        openai_body("[standin:echo_key_in_error] [standin:error=500]"),
        {**openai_body("[standin:echo_key_in_error]"), "stream": True},
    ):
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await _answer(lab, agent, body)
        error = failed.value
        info = error_info(error)
        assert info is not None and info.reason == "UPSTREAM_AUTH_FAILED"
        assert "[redacted]" in info.metadata["upstream_message"]
        seen += [error.details() or "", str(info), str(error.trailing_metadata())]
    deleted = await lab.provider.DeleteProviderKey(
        provider_pb2.DeleteProviderKeyRequest(
            request_id=rid(), provider_key_id=created.provider_key.provider_key_id
        ),
        metadata=manager,
    )
    seen.append(str(deleted))
    formatter = JsonFormatter("provider")
    seen += [formatter.format(record) for record in caplog.records]
    seen += _every_value(provider_server.owner_url)
    for text in seen:
        assert secret not in text
        assert secret[4:] not in text  # not even without its prefix
    # Only ever the last four characters.
    assert created.provider_key.last4 == secret[-4:]


# -- KEK rotation -------------------------------------------------------------------------------


def _ctl_environ(server: ProviderServerHandle, lab: Lab) -> dict[str, str]:
    files = server.pki["ctl"]
    return {
        **os.environ,
        "TOKENMART_CTL_TLS_CA_FILE": str(files.ca_file),
        "TOKENMART_CTL_TLS_CERT_FILE": str(files.cert_file),
        "TOKENMART_CTL_TLS_KEY_FILE": str(files.key_file),
        "TOKENMART_CTL_AUTH_TARGET": f"127.0.0.1:{lab.server_auth.port}",
        "TOKENMART_CTL_PROVIDER_TARGET": f"127.0.0.1:{server.port}",
    }


async def test_rotate_kek_rewraps_every_key_resumably_and_the_old_kek_can_go(
    fresh_provider_database: ServiceDatabase,  # before the servers: torn down after them
    start_provider_server: StartProvider,
    lab: Lab,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = start_provider_server(database=fresh_provider_database)
    agents = [await lab.agent(funds=CREDIT) for _ in range(3)]
    async with lab_for(before, lab.server_auth, lab.server_wallet) as old:
        for agent in agents:
            await _create(old, await _manager(old, agent), secret=_secret())
    during = start_provider_server(
        database=fresh_provider_database, env={"KEK_1": PROVIDER_TEST_KEK, "KEK_2": KEK_2}
    )
    rows = ProviderRows(during.owner_url)
    assert rows.value("SELECT count(*) FROM provider_keys WHERE kek_version = 1") == 3
    async with lab_for(during, lab.server_auth, lab.server_wallet) as rotating:
        operator = await rotating.operator()
        for field, value, reason in (
            ("target_kek_version", 9, "KEK_VERSION_UNKNOWN"),
            ("max_keys", -1, "MAX_KEYS_INVALID"),
        ):
            await refused(
                rotating.provider_ctl.RotateKek(
                    provider_pb2.RotateKekRequest(request_id=rid(), **{field: value}),
                    metadata=operator,
                ),
                grpc.StatusCode.FAILED_PRECONDITION
                if reason == "KEK_VERSION_UNKNOWN"
                else grpc.StatusCode.INVALID_ARGUMENT,
                reason,
            )
        partial = await rotating.provider_ctl.RotateKek(
            provider_pb2.RotateKekRequest(request_id=rid(), max_keys=1), metadata=operator
        )
        assert (partial.target_kek_version, partial.rewrapped, partial.remaining) == (2, 1, 2)
        # New keys are sealed under the primary (newest) KEK already.
        newcomer = await rotating.agent(funds=CREDIT)
        fresh_key = await _create(rotating, await _manager(rotating, newcomer), secret=_secret())
        assert fresh_key.provider_key.kek_version == 2
        # The agent whose key is still on version 1 is served during the rotation.
        served = await rotating.chat(agents[2], openai_body("mid-rotation"))
        assert served.key_source == provider_pb2.KEY_SOURCE_BYOK_AGENT
    status = await asyncio.to_thread(
        ctl.main, ["provider", "rotate-kek"], _ctl_environ(during, lab)
    )
    assert status == 0
    assert "remaining 0" in capsys.readouterr().out
    assert rows.rows("SELECT DISTINCT kek_version FROM provider_keys WHERE deleted_at IS NULL") == [
        (2,)
    ]
    # Idempotent: nothing left to do.
    async with lab_for(during, lab.server_auth, lab.server_wallet) as rotating:
        again = await rotating.provider_ctl.RotateKek(
            provider_pb2.RotateKekRequest(request_id=rid()), metadata=await rotating.operator()
        )
    assert (again.rewrapped, again.remaining, again.already_current) == (0, 0, 4)
    assert [(item.kek_version, item.key_count) for item in again.keys_by_version] == [(2, 4)]
    # KEK 1 replaced by an unrelated key: every key still opens, with KEK 2 alone.
    unrelated = base64.b64encode(os.urandom(32)).decode()
    after = start_provider_server(
        database=fresh_provider_database, env={"KEK_1": unrelated, "KEK_2": KEK_2}
    )
    async with lab_for(after, lab.server_auth, lab.server_wallet) as rotated:
        for agent in agents:
            response = await rotated.chat(agent, openai_body("after rotation"))
            assert response.key_source == provider_pb2.KEY_SOURCE_BYOK_AGENT
    # And the process that only knows the old KEK can no longer open them (no silent switch).
    async with lab_for(before, lab.server_auth, lab.server_wallet) as old:
        await refused(
            old.chat(agents[0], openai_body("x")),
            grpc.StatusCode.FAILED_PRECONDITION,
            "BYOK_DECRYPTION_FAILED",
        )


async def test_only_ctl_rotates(lab: Lab) -> None:
    admin = await lab.auth.admin_session()
    await refused(
        lab.provider_ctl.RotateKek(
            provider_pb2.RotateKekRequest(request_id=rid()),
            metadata=await lab.token(admin.session_token, audiences=()),
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "SCOPE_MISSING",
    )
    await refused(
        lab.provider.RotateKek(
            provider_pb2.RotateKekRequest(request_id=rid()), metadata=await lab.operator()
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "PEER_NOT_ALLOWED",
    )

"""THREATS I3 for inference, and the inference edge's other promises, over the real servers:
only th_ keys infer (tokenmart_, thm_ and sessions are 403 in the route's own envelope, and
nothing is billed); upstream refusing the platform's key never looks like the caller's own 401 or
402; generations are visible only to their agent; BYOK secrets are never echoed."""

from __future__ import annotations

import pytest

from tests.flows import bearer
from tests.gateway.test_inference_routes import (
    FUNDS,
    HAIKU,
    MINI,
    hall,  # noqa: F401  (the fixture)
    inference_caller,
    openai_client,
)
from tests.security.conftest import Edge
from tests.security.test_wallet_edge import balance

ROUTES = (
    ("/api/v1/tokenhall/chat/completions", MINI, "openai"),
    ("/api/v1/tokenhall/messages", HAIKU, "anthropic"),
    ("/api/v1/tokenhall/anthropic/v1/messages", HAIKU, "anthropic"),
)


def body_for(model: str, *, stream: bool = False, text: str = "hi") -> dict[str, object]:
    return {
        "model": model,
        "max_tokens": 20,
        "stream": stream,
        "messages": [{"role": "user", "content": text}],
    }


def assert_envelope(dialect: str, payload: dict[str, object], error_type: str) -> None:
    error = payload["error"]
    assert isinstance(error, dict)
    assert error["type"] == error_type, payload
    if dialect == "openai":
        assert set(error) == {"message", "type", "code", "param"}
    else:
        assert payload["type"] == "error" and set(error) == {"type", "message"}


async def test_i3_only_inference_keys_may_infer(hall: Edge) -> None:  # noqa: F811
    caller = await inference_caller(hall)
    management = await hall.api.create_key(
        caller.owner.headers(), agent_id=caller.agent.agent_id, is_management_key=True
    )
    credentials = {
        "tokenmart_": bearer(caller.agent.api_key),
        "thm_": bearer(management["raw_key"]),
        "session": caller.owner.headers(caller.agent.agent_id),
        "tokenmart_ as x-api-key": {"x-api-key": caller.agent.api_key},
    }
    for label, headers in credentials.items():
        for path, model, dialect in ROUTES:
            for stream in (False, True):
                response = await hall.api.client.post(
                    path, json=body_for(model, stream=stream), headers=headers
                )
                assert response.status_code == 403, (label, path, stream, response.text)
                assert_envelope(dialect, response.json(), "permission_error")
    assert await balance(hall, bearer(caller.th_key)) == FUNDS


@pytest.mark.parametrize("upstream_status", [401, 402, 500])
async def test_upstream_refusals_never_look_like_our_own_401_or_402(
    hall: Edge,  # noqa: F811
    upstream_status: int,
) -> None:
    caller = await inference_caller(hall)
    for path, model, dialect in ROUTES:
        for stream in (False, True):
            response = await hall.api.client.post(
                path,
                json=body_for(model, stream=stream, text=f"[standin:error={upstream_status}]"),
                headers=bearer(caller.th_key),
            )
            assert response.status_code == 502, (path, stream, response.text)
            assert_envelope(dialect, response.json(), "api_error")
            assert "sk-" not in response.text
    assert await balance(hall, bearer(caller.th_key)) == FUNDS


async def test_a_generation_is_visible_only_to_its_agent(hall: Edge) -> None:  # noqa: F811
    alice = await inference_caller(hall)
    mallory = await inference_caller(hall)
    completion = await openai_client(hall, alice.th_key).chat.completions.create(
        model=MINI, messages=[{"role": "user", "content": "hi"}], max_tokens=5
    )
    path = f"/api/v1/tokenhall/generation/{completion.id}"
    assert (await hall.api.client.get(path, headers=bearer(alice.th_key))).status_code == 200
    assert (await hall.api.client.get(path, headers=alice.owner.headers())).status_code == 200
    for headers in (bearer(mallory.th_key), mallory.owner.headers()):
        response = await hall.api.client.get(path, headers=headers)
        assert response.status_code == 404, response.text
        assert response.json()["error"]["reason"] == "GENERATION_NOT_FOUND"


async def test_byok_secrets_are_never_echoed_and_th_keys_cannot_manage_them(
    hall: Edge,  # noqa: F811
) -> None:
    caller = await inference_caller(hall, amount=0)
    secret = "sk-test-byok-secret-9f3e7d1c5b"
    route = "/api/v1/tokenhall/provider-keys"
    refused = await hall.api.client.post(
        route, json={"provider": "openai", "secret": secret}, headers=bearer(caller.th_key)
    )
    assert refused.status_code == 403
    assert (await hall.api.client.get(route, headers=bearer(caller.th_key))).status_code == 403
    session = caller.owner.headers(caller.agent.agent_id)
    created = await hall.api.client.post(
        route,
        json={"provider": "openai", "secret": secret, "scope": "agent", "label": "mine"},
        headers=session,
    )
    assert created.status_code == 201, created.text
    assert secret not in created.text and secret[:-4] not in created.text
    key = created.json()["provider_key"]
    assert key["last4"] == secret[-4:]
    assert key["provider"] == "openai" and key["scope"] == "agent"
    listed = await hall.api.client.get(route, headers=session)
    assert listed.status_code == 200
    assert secret not in listed.text
    assert key["id"] in [item["id"] for item in listed.json()["provider_keys"]]
    deleted = await hall.api.client.delete(f"{route}/{key['id']}", headers=session)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["deleted"] is True
    listed = await hall.api.client.get(route, headers=session)
    assert key["id"] not in [item["id"] for item in listed.json()["provider_keys"]]

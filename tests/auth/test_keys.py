"""API keys: creation and its limits, a thm_ key's authority bounded by its own limits (THREATS
D10), no un-revoke, no self-revoke, 404 for keys that are not the caller's."""

from __future__ import annotations

import datetime

import grpc
import pytest
from google.protobuf import duration_pb2, timestamp_pb2
from tokenmart.auth.v1 import auth_pb2

from tests.auth.helpers import AuthClient, Database, client_for, metadata_of, refused, rid

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
DENIED = grpc.StatusCode.PERMISSION_DENIED


def _days(days: int) -> duration_pb2.Duration:
    duration = duration_pb2.Duration()
    duration.FromTimedelta(datetime.timedelta(days=days))
    return duration


def _at(delta: datetime.timedelta) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(datetime.datetime.now(datetime.UTC) + delta)
    return stamp


async def _owner_with_agent(client: AuthClient):  # type: ignore[no-untyped-def]
    owner = await client.new_session()
    return owner, await client.owned_agent(owner)


async def test_a_session_mints_keys_for_its_agents(client: AuthClient, db: Database) -> None:
    owner, agent = await _owner_with_agent(client)
    created = await client.create_key(
        owner.session_token,
        agent_id=agent.agent_id,
        name="ci",
        credit_limit_micros=10_000_000,
        rate_limit_rpm=120,
        expires_in=_days(30),
        allowed_models=["gpt-4o", "claude-sonnet"],
    )
    key = created.key
    assert created.raw_key.startswith("th_") and key.key_prefix == created.raw_key[:11]
    assert key.family == auth_pb2.KEY_FAMILY_INFERENCE
    assert key.status == auth_pb2.KEY_STATUS_ACTIVE
    assert key.limits.credit_limit_micros == 10_000_000 and key.limits.rate_limit_rpm == 120
    assert list(key.limits.allowed_models) == ["gpt-4o", "claude-sonnet"]
    assert key.created_by_account_id == owner.account_id and key.created_by_key_id == ""
    assert db.audit(subject_key_id=key.key_id) == [("key_created", "success", None)]
    # Acting as the agent through X-Agent-Id works too, and agent_id may then be omitted.
    acting = await client.create_key(owner.session_token, acting_agent=agent.agent_id)
    assert acting.key.agent_id == agent.agent_id


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"name": ""}, "KEY_NAME_INVALID"),
        ({"name": "n" * 101}, "KEY_NAME_INVALID"),
        ({"family": auth_pb2.KEY_FAMILY_AGENT}, "KEY_FAMILY_NOT_CREATABLE"),
        ({"family": auth_pb2.KEY_FAMILY_UNSPECIFIED}, "ENUM_VALUE_UNSPECIFIED"),
        ({"credit_limit_micros": -1}, "CREDIT_LIMIT_INVALID"),
        ({"credit_limit_micros": 10**15 + 1}, "CREDIT_LIMIT_INVALID"),
        ({"rate_limit_rpm": 0}, "RATE_LIMIT_INVALID"),
        ({"rate_limit_rpm": 100_001}, "RATE_LIMIT_INVALID"),
        ({"expires_in": duration_pb2.Duration(seconds=0)}, "EXPIRY_INVALID"),
        ({"expires_in": _days(366)}, "EXPIRY_INVALID"),
        ({"allowed_models": ["Bad Model"]}, "ALLOWED_MODELS_INVALID"),
        ({"allowed_models": ["a", "a"]}, "ALLOWED_MODELS_INVALID"),
        ({"allowed_models": [f"m{n}" for n in range(101)]}, "ALLOWED_MODELS_INVALID"),
    ],
)
async def test_invalid_keys_are_refused_and_nothing_is_minted(
    client: AuthClient, db: Database, fields: dict[str, object], reason: str
) -> None:
    owner, agent = await _owner_with_agent(client)
    token = await client.token(owner.session_token)
    before = db.snapshot()
    values = {"request_id": rid(), "agent_id": agent.agent_id, "name": "k"}
    values.setdefault("family", auth_pb2.KEY_FAMILY_INFERENCE)
    await refused(
        client.stub.CreateKey(auth_pb2.CreateKeyRequest(**{**values, **fields}), metadata=token),  # type: ignore[arg-type]
        INVALID,
        reason,
    )
    assert db.snapshot() == before


async def test_keys_for_agents_the_caller_may_not_manage_are_not_found(client: AuthClient) -> None:
    owner, _ = await _owner_with_agent(client)
    _, foreign = await _owner_with_agent(client)
    unclaimed = await client.register_agent()
    for agent_id in (foreign.agent_id, unclaimed.agent_id, "00000000-0000-4000-8000-000000000000"):
        await refused(
            client.create_key(owner.session_token, agent_id=agent_id), NOT_FOUND, "AGENT_NOT_FOUND"
        )


async def test_a_key_needs_an_agent(client: AuthClient) -> None:
    owner = await client.new_session()
    await refused(
        client.create_key(owner.session_token),
        grpc.StatusCode.FAILED_PRECONDITION,
        "AGENT_REQUIRED",
    )


async def test_agent_and_inference_keys_cannot_manage_keys(client: AuthClient) -> None:
    owner, agent = await _owner_with_agent(client)
    inference = await client.create_key(owner.session_token, agent_id=agent.agent_id)
    for credential in (agent.api_key, inference.raw_key):
        error = await refused(client.create_key(credential), DENIED, "SCOPE_MISSING")
        assert metadata_of(error) == {"scope": "keys:manage"}


async def test_the_number_of_live_keys_per_agent_is_bounded(start_auth_server) -> None:
    server = start_auth_server(env={"MAX_KEYS_PER_AGENT": "3"})
    async with client_for(server) as client:
        owner, agent = await _owner_with_agent(client)  # the tokenmart_ key is the first
        first = await client.create_key(owner.session_token, agent_id=agent.agent_id)
        await client.create_key(owner.session_token, agent_id=agent.agent_id)
        await refused(
            client.create_key(owner.session_token, agent_id=agent.agent_id),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "KEY_COUNT_EXCEEDED",
        )
        await client.stub.RevokeKey(
            auth_pb2.RevokeKeyRequest(request_id=rid(), key_id=first.key.key_id),
            metadata=await client.token(owner.session_token),
        )
        await client.create_key(owner.session_token, agent_id=agent.agent_id)


# -- management keys: within their own limits (D10) ---------------------------------------------


async def _limited_manager(client: AuthClient):  # type: ignore[no-untyped-def]
    owner, agent = await _owner_with_agent(client)
    manager = await client.create_key(
        owner.session_token,
        agent_id=agent.agent_id,
        family=auth_pb2.KEY_FAMILY_MANAGEMENT,
        credit_limit_micros=1_000,
        rate_limit_rpm=30,
        expires_in=_days(10),
        allowed_models=["model-a", "model-b"],
    )
    return owner, agent, manager


@pytest.mark.parametrize(
    ("fields", "limit"),
    [
        (
            {"rate_limit_rpm": 10, "expires_in": _days(1), "allowed_models": ["model-a"]},
            "credit_limit_micros",
        ),
        (
            {
                "credit_limit_micros": 1_001,
                "rate_limit_rpm": 10,
                "expires_in": _days(1),
                "allowed_models": ["model-a"],
            },
            "credit_limit_micros",
        ),
        (
            {
                "credit_limit_micros": 5,
                "rate_limit_rpm": 31,
                "expires_in": _days(1),
                "allowed_models": ["model-a"],
            },
            "rate_limit_rpm",
        ),
        (
            {"credit_limit_micros": 5, "expires_in": _days(1), "allowed_models": ["model-a"]},
            "rate_limit_rpm",
        ),
        (
            {"credit_limit_micros": 5, "rate_limit_rpm": 10, "allowed_models": ["model-a"]},
            "expires_at",
        ),
        (
            {
                "credit_limit_micros": 5,
                "rate_limit_rpm": 10,
                "expires_in": _days(11),
                "allowed_models": ["model-a"],
            },
            "expires_at",
        ),
        (
            {"credit_limit_micros": 5, "rate_limit_rpm": 10, "expires_in": _days(1)},
            "allowed_models",
        ),
        (
            {
                "credit_limit_micros": 5,
                "rate_limit_rpm": 10,
                "expires_in": _days(1),
                "allowed_models": ["model-c"],
            },
            "allowed_models",
        ),
    ],
)
async def test_a_management_key_cannot_mint_beyond_its_own_limits(
    client: AuthClient, db: Database, fields: dict[str, object], limit: str
) -> None:
    _, _, manager = await _limited_manager(client)
    token = await client.token(manager.raw_key)
    before = db.snapshot()
    error = await refused(
        client.stub.CreateKey(
            auth_pb2.CreateKeyRequest(
                request_id=rid(),
                family=auth_pb2.KEY_FAMILY_INFERENCE,
                name="child",
                **fields,  # type: ignore[arg-type]
            ),
            metadata=token,
        ),
        DENIED,
        "LIMIT_EXCEEDS_CALLER",
    )
    assert metadata_of(error) == {"limit": limit}
    assert db.snapshot() == before


async def test_a_management_key_mints_within_its_limits_for_its_own_agent_only(
    client: AuthClient,
) -> None:
    _, agent, manager = await _limited_manager(client)
    child = await client.create_key(
        manager.raw_key,
        credit_limit_micros=1_000,
        rate_limit_rpm=30,
        expires_in=_days(9),
        allowed_models=["model-b"],
    )
    assert child.key.agent_id == agent.agent_id
    assert child.key.created_by_key_id == manager.key.key_id
    assert child.key.created_by_account_id == ""
    _, other = await _owner_with_agent(client)
    await refused(
        client.create_key(manager.raw_key, agent_id=other.agent_id), NOT_FOUND, "AGENT_NOT_FOUND"
    )


async def test_an_unlimited_manager_mints_freely(client: AuthClient) -> None:
    owner, agent = await _owner_with_agent(client)
    manager = await client.create_key(
        owner.session_token, agent_id=agent.agent_id, family=auth_pb2.KEY_FAMILY_MANAGEMENT
    )
    child = await client.create_key(manager.raw_key, family=auth_pb2.KEY_FAMILY_MANAGEMENT)
    assert child.raw_key.startswith("thm_") and not child.key.limits.HasField("credit_limit_micros")


# -- update, revoke, read -----------------------------------------------------------------------


async def _update(
    client: AuthClient, credential: str, key_id: str, **fields: object
) -> auth_pb2.UpdateKeyResponse:
    response: auth_pb2.UpdateKeyResponse = await client.stub.UpdateKey(
        auth_pb2.UpdateKeyRequest(request_id=rid(), key_id=key_id, **fields),  # type: ignore[arg-type]
        metadata=await client.token(credential),
    )
    return response


async def test_updating_a_key(client: AuthClient, db: Database) -> None:
    owner, agent = await _owner_with_agent(client)
    key = (await client.create_key(owner.session_token, agent_id=agent.agent_id)).key
    updated = (
        await _update(
            client,
            owner.session_token,
            key.key_id,
            name="renamed",
            credit_limit=auth_pb2.CreditLimitUpdate(credit_limit_micros=5),
            rate_limit=auth_pb2.RateLimitUpdate(rate_limit_rpm=5),
            allowed_models=auth_pb2.AllowedModelsUpdate(model_ids=["m"]),
            expiry=auth_pb2.ExpiryUpdate(expires_at=_at(datetime.timedelta(days=1))),
        )
    ).key
    assert updated.name == "renamed"
    assert (updated.limits.credit_limit_micros, updated.limits.rate_limit_rpm) == (5, 5)
    assert list(updated.limits.allowed_models) == ["m"] and updated.limits.HasField("expires_at")
    # Unset values inside an update clear the limit.
    cleared = (
        await _update(
            client,
            owner.session_token,
            key.key_id,
            credit_limit=auth_pb2.CreditLimitUpdate(),
            rate_limit=auth_pb2.RateLimitUpdate(),
            expiry=auth_pb2.ExpiryUpdate(),
        )
    ).key
    assert not cleared.limits.HasField("credit_limit_micros")
    assert cleared.limits.rate_limit_rpm == 60 and not cleared.limits.HasField("expires_at")
    assert len(db.audit(subject_key_id=key.key_id, event_type="key_updated")) == 2


async def test_update_errors(client: AuthClient) -> None:
    owner, agent = await _owner_with_agent(client)
    key = (await client.create_key(owner.session_token, agent_id=agent.agent_id)).key
    cases = [
        ({}, INVALID, "NO_FIELDS_TO_UPDATE"),
        ({"name": ""}, INVALID, "KEY_NAME_INVALID"),
        (
            {"credit_limit": auth_pb2.CreditLimitUpdate(credit_limit_micros=-1)},
            INVALID,
            "CREDIT_LIMIT_INVALID",
        ),
        ({"rate_limit": auth_pb2.RateLimitUpdate(rate_limit_rpm=0)}, INVALID, "RATE_LIMIT_INVALID"),
        (
            {"allowed_models": auth_pb2.AllowedModelsUpdate(model_ids=["NO"])},
            INVALID,
            "ALLOWED_MODELS_INVALID",
        ),
        (
            {"expiry": auth_pb2.ExpiryUpdate(expires_at=_at(-datetime.timedelta(minutes=1)))},
            INVALID,
            "EXPIRY_INVALID",
        ),
    ]
    for fields, code, reason in cases:
        await refused(_update(client, owner.session_token, key.key_id, **fields), code, reason)
    # tokenmart_ keys take a rate limit and an expiry, never spend limits.
    await refused(
        _update(
            client,
            owner.session_token,
            agent.key_id,
            credit_limit=auth_pb2.CreditLimitUpdate(credit_limit_micros=5),
        ),
        INVALID,
        "LIMITS_NOT_APPLICABLE",
    )
    await _update(
        client,
        owner.session_token,
        agent.key_id,
        rate_limit=auth_pb2.RateLimitUpdate(rate_limit_rpm=5),
    )
    await refused(
        _update(client, owner.session_token, "00000000-0000-4000-8000-000000000000", name="x"),
        NOT_FOUND,
        "KEY_NOT_FOUND",
    )


async def test_a_revoked_key_cannot_be_updated_or_unrevoked(
    client: AuthClient, db: Database
) -> None:
    owner, agent = await _owner_with_agent(client)
    key = (await client.create_key(owner.session_token, agent_id=agent.agent_id)).key
    await client.stub.RevokeKey(
        auth_pb2.RevokeKeyRequest(request_id=rid(), key_id=key.key_id, reason="leaked"),
        metadata=await client.token(owner.session_token),
    )
    await refused(
        _update(client, owner.session_token, key.key_id, name="back"),
        grpc.StatusCode.FAILED_PRECONDITION,
        "KEY_REVOKED",
    )
    # Not even the database lets a revoked key come back (THREATS D10).
    import psycopg

    with pytest.raises(psycopg.errors.CheckViolation):
        db.rows("UPDATE api_keys SET revoked_at = NULL WHERE id = %s", key.key_id)


async def test_a_concurrent_change_holding_the_key_aborts_the_update(
    client: AuthClient, db: Database
) -> None:
    import psycopg

    owner, agent = await _owner_with_agent(client)
    key = (await client.create_key(owner.session_token, agent_id=agent.agent_id)).key
    token = await client.token(owner.session_token)
    with psycopg.connect(db.url) as holder:
        holder.execute("SELECT 1 FROM auth.api_keys WHERE id = %s FOR UPDATE", (key.key_id,))
        await refused(
            client.stub.UpdateKey(
                auth_pb2.UpdateKeyRequest(request_id=rid(), key_id=key.key_id, name="x"),
                metadata=token,
            ),
            grpc.StatusCode.ABORTED,
            "KEY_UPDATE_CONFLICT",
        )
        holder.rollback()
    # Re-read and retry succeeds.
    assert (await _update(client, owner.session_token, key.key_id, name="x")).key.name == "x"


async def test_a_manager_cannot_raise_limits_beyond_its_own(client: AuthClient) -> None:
    owner, agent, manager = await _limited_manager(client)
    sibling = (await client.create_key(owner.session_token, agent_id=agent.agent_id)).key
    error = await refused(
        _update(client, manager.raw_key, sibling.key_id, name="still unlimited"),
        DENIED,
        "LIMIT_EXCEEDS_CALLER",
    )
    assert metadata_of(error) == {"limit": "credit_limit_micros"}
    # Nor raise its own: the limits of a manager bound what it may set, itself included.
    await refused(
        _update(
            client,
            manager.raw_key,
            manager.key.key_id,
            credit_limit=auth_pb2.CreditLimitUpdate(credit_limit_micros=2_000),
        ),
        DENIED,
        "LIMIT_EXCEEDS_CALLER",
    )
    lowered = await _update(
        client,
        manager.raw_key,
        manager.key.key_id,
        credit_limit=auth_pb2.CreditLimitUpdate(credit_limit_micros=10),
    )
    assert lowered.key.limits.credit_limit_micros == 10


async def test_revoking_keys(client: AuthClient, db: Database) -> None:
    owner, agent = await _owner_with_agent(client)
    manager = await client.create_key(
        owner.session_token, agent_id=agent.agent_id, family=auth_pb2.KEY_FAMILY_MANAGEMENT
    )
    child = await client.create_key(manager.raw_key)
    manager_token = await client.token(manager.raw_key)
    revoked = await client.stub.RevokeKey(
        auth_pb2.RevokeKeyRequest(request_id=rid(), key_id=child.key.key_id, reason="rotating"),
        metadata=manager_token,
    )
    assert revoked.key.status == auth_pb2.KEY_STATUS_REVOKED
    assert revoked.key.revocation_reason == "rotating"
    again = await client.stub.RevokeKey(
        auth_pb2.RevokeKeyRequest(request_id=rid(), key_id=child.key.key_id),
        metadata=manager_token,
    )
    assert again.key == revoked.key
    assert db.audit(subject_key_id=child.key.key_id, event_type="key_revoked") == [
        ("key_revoked", "success", None)
    ]
    await refused(
        client.stub.RevokeKey(
            auth_pb2.RevokeKeyRequest(request_id=rid(), key_id=manager.key.key_id),
            metadata=manager_token,
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "CANNOT_REVOKE_CURRENT_KEY",
    )
    # A manager never touches the agent's tokenmart_ key: that is the owner's.
    await refused(
        client.stub.RevokeKey(
            auth_pb2.RevokeKeyRequest(request_id=rid(), key_id=agent.key_id), metadata=manager_token
        ),
        NOT_FOUND,
        "KEY_NOT_FOUND",
    )
    await refused(
        client.stub.RevokeKey(
            auth_pb2.RevokeKeyRequest(request_id=rid(), key_id=child.key.key_id, reason="r" * 501),
            metadata=manager_token,
        ),
        INVALID,
        "REASON_INVALID",
    )
    owner_revoke = await client.stub.RevokeKey(
        auth_pb2.RevokeKeyRequest(request_id=rid(), key_id=agent.key_id),
        metadata=await client.token(owner.session_token),
    )
    assert owner_revoke.key.status == auth_pb2.KEY_STATUS_REVOKED


async def test_other_peoples_keys_are_not_found(client: AuthClient, db: Database) -> None:
    owner, agent = await _owner_with_agent(client)
    key = (await client.create_key(owner.session_token, agent_id=agent.agent_id)).key
    stranger, stranger_agent = await _owner_with_agent(client)
    stranger_manager = await client.create_key(
        stranger.session_token,
        agent_id=stranger_agent.agent_id,
        family=auth_pb2.KEY_FAMILY_MANAGEMENT,
    )
    for credential in (stranger.session_token, stranger_manager.raw_key):
        token = await client.token(credential)
        before = db.snapshot()
        await refused(
            client.stub.GetKey(auth_pb2.GetKeyRequest(key_id=key.key_id), metadata=token),
            NOT_FOUND,
            "KEY_NOT_FOUND",
        )
        await refused(
            client.stub.RevokeKey(
                auth_pb2.RevokeKeyRequest(request_id=rid(), key_id=key.key_id), metadata=token
            ),
            NOT_FOUND,
            "KEY_NOT_FOUND",
        )
        await refused(
            client.stub.UpdateKey(
                auth_pb2.UpdateKeyRequest(request_id=rid(), key_id=key.key_id, name="mine now"),
                metadata=token,
            ),
            NOT_FOUND,
            "KEY_NOT_FOUND",
        )
        await refused(
            client.stub.ListKeys(auth_pb2.ListKeysRequest(agent_id=agent.agent_id), metadata=token),
            NOT_FOUND,
            "AGENT_NOT_FOUND",
        )
        assert db.snapshot() == before
    # The owner's key is untouched and still works.
    assert (await client.authenticate(agent.api_key)).principal.agent_id == agent.agent_id


async def test_listing_and_reading_keys(client: AuthClient) -> None:
    owner = await client.new_session()
    first = await client.owned_agent(owner)
    second = await client.owned_agent(owner)
    keys = [
        (await client.create_key(owner.session_token, agent_id=agent.agent_id)).key
        for agent in (first, second, first)
    ]
    token = await client.token(owner.session_token)
    everything = await client.stub.ListKeys(auth_pb2.ListKeysRequest(), metadata=token)
    listed = [key.key_id for key in everything.keys]
    assert listed[:3] == [key.key_id for key in reversed(keys)]
    assert set(listed) == {key.key_id for key in keys} | {first.key_id, second.key_id}
    only_first = await client.stub.ListKeys(
        auth_pb2.ListKeysRequest(agent_id=first.agent_id, families=[auth_pb2.KEY_FAMILY_INFERENCE]),
        metadata=token,
    )
    assert [key.key_id for key in only_first.keys] == [keys[2].key_id, keys[0].key_id]
    await client.stub.RevokeKey(
        auth_pb2.RevokeKeyRequest(request_id=rid(), key_id=keys[0].key_id), metadata=token
    )
    live = await client.stub.ListKeys(
        auth_pb2.ListKeysRequest(agent_id=first.agent_id), metadata=token
    )
    assert keys[0].key_id not in {key.key_id for key in live.keys}
    with_inactive = await client.stub.ListKeys(
        auth_pb2.ListKeysRequest(agent_id=first.agent_id, include_inactive=True), metadata=token
    )
    assert keys[0].key_id in {key.key_id for key in with_inactive.keys}
    page = await client.stub.ListKeys(auth_pb2.ListKeysRequest(page_size=2), metadata=token)
    assert len(page.keys) == 2 and page.next_page_token
    rest = await client.stub.ListKeys(
        auth_pb2.ListKeysRequest(page_size=2, page_token=page.next_page_token), metadata=token
    )
    assert {key.key_id for key in rest.keys}.isdisjoint({key.key_id for key in page.keys})
    got = await client.stub.GetKey(auth_pb2.GetKeyRequest(key_id=keys[1].key_id), metadata=token)
    assert got.key.key_id == keys[1].key_id
    # A management key sees its own agent's keys, the tokenmart_ key included.
    manager = await client.create_key(
        owner.session_token, agent_id=second.agent_id, family=auth_pb2.KEY_FAMILY_MANAGEMENT
    )
    seen = await client.stub.ListKeys(
        auth_pb2.ListKeysRequest(), metadata=await client.token(manager.raw_key)
    )
    assert {key.agent_id for key in seen.keys} == {second.agent_id}
    assert second.key_id in {key.key_id for key in seen.keys}


async def test_get_current_key(client: AuthClient) -> None:
    owner, agent = await _owner_with_agent(client)
    current = await client.stub.GetCurrentKey(
        auth_pb2.GetCurrentKeyRequest(), metadata=await client.token(agent.api_key)
    )
    assert current.key.key_id == agent.key_id and current.key.family == auth_pb2.KEY_FAMILY_AGENT
    await refused(
        client.stub.GetCurrentKey(
            auth_pb2.GetCurrentKeyRequest(), metadata=await client.token(owner.session_token)
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "NOT_A_KEY_CREDENTIAL",
    )


async def test_a_revoked_keys_live_token_stops_at_auth_at_once(client: AuthClient) -> None:
    owner, agent = await _owner_with_agent(client)
    manager = await client.create_key(
        owner.session_token, agent_id=agent.agent_id, family=auth_pb2.KEY_FAMILY_MANAGEMENT
    )
    token = await client.token(manager.raw_key)
    await client.stub.RevokeKey(
        auth_pb2.RevokeKeyRequest(request_id=rid(), key_id=manager.key.key_id),
        metadata=await client.token(owner.session_token),
    )
    await refused(
        client.stub.CreateKey(
            auth_pb2.CreateKeyRequest(
                request_id=rid(), family=auth_pb2.KEY_FAMILY_INFERENCE, name="x"
            ),
            metadata=token,
        ),
        grpc.StatusCode.UNAUTHENTICATED,
        "CREDENTIAL_REVOKED",
    )


async def test_a_manager_of_an_unclaimed_agent_is_refused_even_if_such_a_key_existed(
    client: AuthClient, db: Database, auth_server
) -> None:
    """Defence in depth: no API path mints a thm_ key for an unclaimed agent (CreateKey needs a
    claimed agent, claims are final), so plant one in the database as if by a bug, and check
    that CreateKey still refuses to act for the unclaimed agent."""
    import uuid as uuid_module

    from services.auth.domain import credentials
    from services.auth.domain.credentials import CredentialKind

    agent = await client.register_agent()
    planted = credentials.generate(CredentialKind.MANAGEMENT_KEY)
    digest = auth_server.runtime.digester.digest(planted)
    with db.connect() as connection:
        connection.execute(
            "INSERT INTO api_keys (id, agent_id, family, name, secret_hash, key_prefix,"
            " allowed_models, created_at, updated_at) VALUES (%s, %s, 'management', 'planted',"
            " %s, %s, '{}', now(), now())",
            (uuid_module.uuid4(), agent.agent_id, digest, planted.display_prefix),
        )
    await refused(
        client.create_key(planted.raw),
        grpc.StatusCode.FAILED_PRECONDITION,
        "AGENT_NOT_CLAIMED",
    )

"""The model registry over the real server: reads for everyone, changes for admins and ctl, and
a model outside the active registry (or priced zero) is never served (THREATS D5)."""

from __future__ import annotations

import secrets
from typing import Any

import grpc
import psycopg
import pytest
from psycopg import errors as pg_errors
from tokenmart.provider.v1 import provider_pb2

from tests.provider.helpers import (
    CREDIT,
    MINI,
    Lab,
    ProviderRows,
    bearer,
    openai_body,
    refused,
    rid,
)


def _model(**change: Any) -> provider_pb2.Model:
    values: dict[str, Any] = {
        "model_id": f"testlab/model-{secrets.token_hex(4)}",
        "display_name": "Test model",
        "description": "A model made by a test.",
        "provider": provider_pb2.UPSTREAM_PROVIDER_OPENAI,
        "upstream_model": "gpt-4o-mini",
        "price_per_million_input_tokens_micros": 200_000,
        "price_per_million_output_tokens_micros": 800_000,
        "context_length": 32_000,
        "max_output_tokens": 4_000,
        "supports_streaming": True,
        "supports_tools": True,
        "supports_vision": False,
        "active": True,
        **change,
    }
    return provider_pb2.Model(**values)


async def _upsert(lab: Lab, model: provider_pb2.Model, **fields: Any) -> Any:
    return await lab.provider_ctl.UpsertModel(
        provider_pb2.UpsertModelRequest(
            request_id=fields.pop("request_id", rid()), model=model, **fields
        ),
        metadata=await lab.operator(),
    )


async def test_the_seeded_catalogue_is_listed_in_model_id_order(lab: Lab) -> None:
    agent = await lab.agent()
    response = await lab.provider.ListModels(
        provider_pb2.ListModelsRequest(page_size=200), metadata=await lab.token(agent.inference_key)
    )
    ids = [model.model_id for model in response.models]
    assert ids == sorted(ids)
    for expected in (
        "openai/gpt-4o-mini",
        "openai/gpt-4o",
        "anthropic/claude-3-5-haiku",
        "anthropic/claude-sonnet-4",
        "meta-llama/llama-3.3-70b-instruct",
    ):
        assert expected in ids
    mini = next(model for model in response.models if model.model_id == MINI)
    assert mini.price_per_million_input_tokens_micros == 150_000
    assert mini.price_per_million_output_tokens_micros == 600_000
    assert mini.provider == provider_pb2.UPSTREAM_PROVIDER_OPENAI
    assert all(model.active for model in response.models)


async def test_lists_page_with_tokens_bound_to_the_filter(lab: Lab) -> None:
    session = await lab.auth.new_session()
    metadata = await lab.token(session.session_token, audiences=())
    first = await lab.provider.ListModels(
        provider_pb2.ListModelsRequest(page_size=2), metadata=metadata
    )
    assert len(first.models) == 2 and first.next_page_token
    second = await lab.provider.ListModels(
        provider_pb2.ListModelsRequest(page_size=2, page_token=first.next_page_token),
        metadata=metadata,
    )
    assert second.models[0].model_id > first.models[-1].model_id
    await refused(
        lab.provider.ListModels(
            provider_pb2.ListModelsRequest(
                page_size=2,
                page_token=first.next_page_token,
                provider=provider_pb2.UPSTREAM_PROVIDER_ANTHROPIC,
            ),
            metadata=metadata,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "PAGE_TOKEN_INVALID",
    )
    await refused(
        lab.provider.ListModels(provider_pb2.ListModelsRequest(page_size=-1), metadata=metadata),
        grpc.StatusCode.INVALID_ARGUMENT,
        "PAGE_SIZE_INVALID",
    )
    anthropic = await lab.provider.ListModels(
        provider_pb2.ListModelsRequest(provider=provider_pb2.UPSTREAM_PROVIDER_ANTHROPIC),
        metadata=metadata,
    )
    assert {model.provider for model in anthropic.models} == {
        provider_pb2.UPSTREAM_PROVIDER_ANTHROPIC
    }


async def test_inactive_models_are_for_admins_and_ctl_only(lab: Lab) -> None:
    hidden = (await _upsert(lab, _model(active=False))).model
    session = await lab.auth.new_session()
    user = await lab.token(session.session_token, audiences=())
    await refused(
        lab.provider.ListModels(
            provider_pb2.ListModelsRequest(include_inactive=True), metadata=user
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "SCOPE_MISSING",
    )
    await refused(
        lab.provider.GetModel(
            provider_pb2.GetModelRequest(model_id=hidden.model_id), metadata=user
        ),
        grpc.StatusCode.NOT_FOUND,
        "MODEL_NOT_FOUND",
    )
    admin = await lab.auth.admin_session()
    admin_token = await lab.token(admin.session_token, audiences=())
    listed = await lab.provider.ListModels(
        provider_pb2.ListModelsRequest(include_inactive=True, page_size=200), metadata=admin_token
    )
    assert hidden.model_id in {model.model_id for model in listed.models}
    shown = await lab.provider_ctl.GetModel(
        provider_pb2.GetModelRequest(model_id=hidden.model_id), metadata=await lab.operator()
    )
    assert not shown.model.active


async def test_upsert_creates_then_replaces_with_revisions(lab: Lab) -> None:
    model = _model()
    created = await _upsert(lab, model, expected_revision=0)
    assert created.created and created.model.revision == 1
    assert created.model.created_at.seconds > 0
    model.price_per_million_output_tokens_micros = 900_000
    updated = await _upsert(lab, model, expected_revision=1)
    assert not updated.created and updated.model.revision == 2
    assert updated.model.price_per_million_output_tokens_micros == 900_000
    unchanged = await _upsert(lab, model)
    assert unchanged.model.revision == 2  # nothing changed, nothing written
    await refused(
        _upsert(lab, model, expected_revision=1),
        grpc.StatusCode.ABORTED,
        "MODEL_REVISION_MISMATCH",
    )
    await refused(
        _upsert(lab, _model(), expected_revision=3),
        grpc.StatusCode.ABORTED,
        "MODEL_REVISION_MISMATCH",
    )


async def test_an_admin_session_may_upsert_and_a_replay_returns_the_first_answer(lab: Lab) -> None:
    admin = await lab.auth.admin_session()
    metadata = await lab.token(admin.session_token, audiences=())
    request = provider_pb2.UpsertModelRequest(request_id=rid(), model=_model())
    first = await lab.provider.UpsertModel(request, metadata=metadata)
    replay = await lab.provider.UpsertModel(request, metadata=metadata)
    assert replay == first
    changed = provider_pb2.UpsertModelRequest()
    changed.CopyFrom(request)
    changed.model.display_name = "Another name"
    await refused(
        lab.provider.UpsertModel(changed, metadata=metadata),
        grpc.StatusCode.ALREADY_EXISTS,
        "REQUEST_ID_CONFLICT",
    )


async def test_only_admins_and_ctl_change_the_registry(lab: Lab) -> None:
    # An agent of an admin-owned account never carries account authority (SPEC §1).
    admin = await lab.auth.admin_session()
    agent = await lab.agent(owner=admin)
    user = await lab.auth.new_session()
    for credential in (agent.inference_key, user.session_token):
        metadata = await lab.token(credential)
        await refused(
            lab.provider.UpsertModel(
                provider_pb2.UpsertModelRequest(request_id=rid(), model=_model()),
                metadata=metadata,
            ),
            grpc.StatusCode.PERMISSION_DENIED,
            "SCOPE_MISSING",
        )
        await refused(
            lab.provider.SetModelActive(
                provider_pb2.SetModelActiveRequest(request_id=rid(), model_id=MINI, active=False),
                metadata=metadata,
            ),
            grpc.StatusCode.PERMISSION_DENIED,
            "SCOPE_MISSING",
        )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"model_id": "Not/A-Valid-Id"}, "MODEL_ID_INVALID"),
        ({"display_name": ""}, "DISPLAY_NAME_INVALID"),
        ({"display_name": "x" * 201}, "DISPLAY_NAME_INVALID"),
        ({"upstream_model": ""}, "UPSTREAM_MODEL_REQUIRED"),
        ({"price_per_million_input_tokens_micros": 0}, "PRICE_NOT_POSITIVE"),
        ({"price_per_million_output_tokens_micros": 0}, "PRICE_NOT_POSITIVE"),
        ({"price_per_million_input_tokens_micros": -1}, "PRICE_NOT_POSITIVE"),
        ({"price_per_million_output_tokens_micros": 10**12 + 1}, "PRICE_TOO_LARGE"),
        ({"context_length": 0}, "CONTEXT_LENGTH_INVALID"),
        ({"context_length": 10_000_001}, "CONTEXT_LENGTH_INVALID"),
        ({"max_output_tokens": 0}, "MAX_OUTPUT_TOKENS_INVALID"),
        ({"max_output_tokens": 40_000}, "MAX_OUTPUT_TOKENS_INVALID"),
        ({"description": "x" * 1001}, "FIELD_INVALID"),
        ({"provider": provider_pb2.UPSTREAM_PROVIDER_UNSPECIFIED}, "ENUM_VALUE_UNSPECIFIED"),
    ],
)
async def test_upsert_refuses_each_bad_field(
    lab: Lab, rows: ProviderRows, change: dict[str, Any], reason: str
) -> None:
    model = _model(**change)
    await refused(_upsert(lab, model), grpc.StatusCode.INVALID_ARGUMENT, reason)
    assert rows.rows("SELECT 1 FROM models WHERE model_id = %s", model.model_id) == []


async def test_set_model_active_unknown_model(lab: Lab) -> None:
    await refused(
        lab.provider_ctl.SetModelActive(
            provider_pb2.SetModelActiveRequest(
                request_id=rid(), model_id="nobody/none", active=True
            ),
            metadata=await lab.operator(),
        ),
        grpc.StatusCode.NOT_FOUND,
        "MODEL_NOT_FOUND",
    )


async def test_a_deactivated_model_is_refused_at_once_and_served_again_when_active(
    lab: Lab,
) -> None:
    model = (await _upsert(lab, _model())).model
    agent = await lab.agent(funds=CREDIT)
    served = await lab.chat(agent, openai_body("first", model=model.model_id))
    assert served.charged_micros > 0
    await lab.provider_ctl.SetModelActive(
        provider_pb2.SetModelActiveRequest(request_id=rid(), model_id=model.model_id, active=False),
        metadata=await lab.operator(),
    )
    before = await lab.available(agent)
    await refused(
        lab.chat(agent, openai_body("second", model=model.model_id)),
        grpc.StatusCode.NOT_FOUND,
        "MODEL_NOT_FOUND",
    )
    assert await lab.available(agent) == before
    reactivated = await lab.provider_ctl.SetModelActive(
        provider_pb2.SetModelActiveRequest(request_id=rid(), model_id=model.model_id, active=True),
        metadata=await lab.operator(),
    )
    assert reactivated.model.active and reactivated.model.revision == 3
    again = await lab.chat(agent, openai_body("third", model=model.model_id))
    assert again.charged_micros > 0


async def test_a_model_not_in_the_registry_is_refused_and_costs_nothing(lab: Lab) -> None:
    """D5: the original priced unknown models at 0 and served them for free."""
    agent = await lab.agent(funds=CREDIT)
    before = await lab.available(agent)
    for name in ("openai/gpt-5-imaginary", "gpt-4o-mini", "anthropic/claude-3-5-haiku-x"):
        await refused(
            lab.chat(agent, openai_body("free tokens please", model=name)),
            grpc.StatusCode.NOT_FOUND,
            "MODEL_NOT_FOUND",
        )
    assert await lab.available(agent) == before


def test_the_database_refuses_a_zero_price_even_to_the_schema_owner(rows: ProviderRows) -> None:
    """D5, the third line of defence: the CHECK constraint, whatever the code does."""
    for input_price, output_price in ((0, 1), (1, 0), (-3, 5)):
        with pytest.raises(pg_errors.CheckViolation):
            rows.execute(
                "INSERT INTO models VALUES (%s, 'x', '', 'openai', 'gpt-4o', %s, %s, 10, 5, "
                "true, true, true, true, 1, now(), now())",
                f"testlab/zero-{secrets.token_hex(3)}",
                input_price,
                output_price,
            )
    with pytest.raises(pg_errors.CheckViolation):
        rows.execute("UPDATE models SET input_price_micros = 0 WHERE model_id = %s", MINI)


async def test_registry_reads_need_a_token(lab: Lab) -> None:
    await refused(
        lab.provider.ListModels(provider_pb2.ListModelsRequest()),
        grpc.StatusCode.UNAUTHENTICATED,
        "ACCESS_TOKEN_MISSING",
    )
    await refused(
        lab.provider.ListModels(provider_pb2.ListModelsRequest(), metadata=bearer("a.b.c")),
        grpc.StatusCode.UNAUTHENTICATED,
        "ACCESS_TOKEN_INVALID",
    )


def test_runtime_role_cannot_delete_models(provider_server: Any) -> None:
    from tests.conftest import ServiceDatabase  # noqa: F401  (documented type of the fixture)

    url = provider_server.settings.common.database.url
    with (
        psycopg.connect(url, autocommit=True) as connection,
        pytest.raises(pg_errors.InsufficientPrivilege),
    ):
        connection.execute("DELETE FROM provider.models WHERE model_id = 'nobody/none'")

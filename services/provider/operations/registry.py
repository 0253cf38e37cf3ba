"""The model registry: read by everyone, changed by admins and operators."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.tokens import Scope, ScopeMissing
from services.provider import errors
from services.provider.domain import pagination
from services.provider.domain.registry import Model, ModelSpec, UpstreamProvider
from services.provider.operations.access import Caller
from services.provider.operations.runtime import Runtime
from services.provider.store import registry as store


@dataclass(frozen=True)
class ModelPage:
    models: list[Model]
    next_page_token: str


async def list_models(
    tx: AsyncConnection,
    runtime: Runtime,
    caller: Caller,
    *,
    requested_page_size: int,
    page_token: str,
    include_inactive: bool,
    provider: UpstreamProvider | None,
) -> ModelPage:
    if include_inactive and not caller.is_privileged:
        raise ScopeMissing(Scope.ADMIN)
    size = pagination.page_size(requested_page_size)
    filters = {"inactive": include_inactive, "provider": provider.value if provider else ""}
    position = runtime.page_tokens.decode(page_token, list_name="models", filters=filters, width=1)
    rows = await store.list_models(
        tx,
        after_model_id=position[0] if position else None,
        limit=size + 1,
        include_inactive=include_inactive,
        provider=provider,
    )
    next_token = ""
    if len(rows) > size:
        rows = rows[:size]
        next_token = runtime.page_tokens.encode(
            list_name="models", filters=filters, position=(rows[-1].model_id,)
        )
    return ModelPage(models=rows, next_page_token=next_token)


async def get_model(tx: AsyncConnection, caller: Caller, *, model_id: str) -> Model:
    model = await store.model_by_id(tx, model_id)
    if model is None or (not model.spec.active and not caller.is_privileged):
        raise errors.ModelNotFound()
    return model


async def upsert_model(
    tx: AsyncConnection,
    runtime: Runtime,
    caller: Caller,
    *,
    spec: ModelSpec,
    expected_revision: int | None,
) -> tuple[Model, bool]:
    """(the stored model, whether it was created)."""
    caller.require(Scope.ADMIN, Scope.OPERATOR)
    now = runtime.now()
    existing = await store.model_by_id(tx, spec.model_id, for_update=True)
    if existing is None:
        if expected_revision not in (None, 0):
            raise errors.ModelRevisionMismatch()
        created = await store.insert_model(tx, spec, now=now)
        if created is None:  # created concurrently since the read: the caller re-reads
            raise errors.ModelRevisionMismatch()
        return created, True
    if expected_revision is not None and expected_revision != existing.revision:
        raise errors.ModelRevisionMismatch()
    if existing.spec == spec:
        return existing, False
    return await store.replace_model(tx, spec, revision=existing.revision, now=now), False


async def set_active(
    tx: AsyncConnection, runtime: Runtime, caller: Caller, *, model_id: str, active: bool
) -> Model:
    caller.require(Scope.ADMIN, Scope.OPERATOR)
    existing = await store.model_by_id(tx, model_id, for_update=True)
    if existing is None:
        raise errors.ModelNotFound()
    if existing.spec.active == active:
        return existing
    spec = dataclasses.replace(existing.spec, active=active)
    return await store.replace_model(tx, spec, revision=existing.revision, now=runtime.now())

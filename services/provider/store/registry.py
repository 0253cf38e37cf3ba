"""Queries on ``provider.models``."""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import Row, Table, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.provider.domain.registry import Model, ModelSpec, UpstreamProvider
from services.provider.store.models import ModelRow

models: Table = ModelRow.__table__  # type: ignore[assignment]


def _model(row: Row[Any]) -> Model:
    return Model(
        spec=ModelSpec(
            model_id=row.model_id,
            display_name=row.display_name,
            description=row.description,
            provider=UpstreamProvider(row.provider),
            upstream_model=row.upstream_model,
            input_price_micros=row.input_price_micros,
            output_price_micros=row.output_price_micros,
            context_length=row.context_length,
            max_output_tokens=row.max_output_tokens,
            supports_streaming=row.supports_streaming,
            supports_tools=row.supports_tools,
            supports_vision=row.supports_vision,
            active=row.active,
        ),
        revision=row.revision,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _values(spec: ModelSpec) -> dict[str, Any]:
    return {
        "display_name": spec.display_name,
        "description": spec.description,
        "provider": spec.provider.value,
        "upstream_model": spec.upstream_model,
        "input_price_micros": spec.input_price_micros,
        "output_price_micros": spec.output_price_micros,
        "context_length": spec.context_length,
        "max_output_tokens": spec.max_output_tokens,
        "supports_streaming": spec.supports_streaming,
        "supports_tools": spec.supports_tools,
        "supports_vision": spec.supports_vision,
        "active": spec.active,
    }


_BY_ID = select(models).where(models.c.model_id == bindparam("p_model_id"))
_BY_ID_LOCKED = _BY_ID.with_for_update()


async def model_by_id(
    tx: AsyncConnection, model_id: str, *, for_update: bool = False
) -> Model | None:
    query = _BY_ID_LOCKED if for_update else _BY_ID
    row = (await tx.execute(query, {"p_model_id": model_id})).first()
    return _model(row) if row is not None else None


async def list_models(
    tx: AsyncConnection,
    *,
    after_model_id: str | None,
    limit: int,
    include_inactive: bool,
    provider: UpstreamProvider | None,
) -> list[Model]:
    query = select(models).order_by(models.c.model_id).limit(limit)
    if after_model_id is not None:
        query = query.where(models.c.model_id > after_model_id)
    if not include_inactive:
        query = query.where(models.c.active.is_(True))
    if provider is not None:
        query = query.where(models.c.provider == provider.value)
    return [_model(row) for row in (await tx.execute(query)).all()]


async def insert_model(
    tx: AsyncConnection, spec: ModelSpec, *, now: datetime.datetime
) -> Model | None:
    """Insert a new model; None when one with that id exists (a concurrent create won)."""
    statement = (
        insert(models)
        .values(
            model_id=spec.model_id,
            revision=1,
            created_at=now,
            updated_at=now,
            **_values(spec),
        )
        .on_conflict_do_nothing(index_elements=[models.c.model_id])
        .returning(*models.c)
    )
    row = (await tx.execute(statement)).first()
    return _model(row) if row is not None else None


async def replace_model(
    tx: AsyncConnection, spec: ModelSpec, *, revision: int, now: datetime.datetime
) -> Model:
    """Replace a locked model's settable fields; its revision grows by one."""
    statement = (
        update(models)
        .where(models.c.model_id == spec.model_id, models.c.revision == revision)
        .values(revision=revision + 1, updated_at=now, **_values(spec))
        .returning(*models.c)
    )
    row = (await tx.execute(statement)).one()
    return _model(row)

"""TokenHall keys: mint, list, read, change limits and revoke ``th_``/``thm_`` keys.

Managed by a ``thm_`` management key (its own agent, within its own limits) or by an account
session (any agent it owns; ``X-Agent-Id`` or ``agent_id`` picks one). Inference keys (``th_``)
and agent keys (``tokenmart_``) are refused here (403). Keys that are not the caller's answer 404,
so key ids are no existence oracle. Revocation is final: PATCH has no ``revoked`` field.
"""

from __future__ import annotations

import datetime
from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response
from tokenmart.auth.v1 import auth_pb2

from services.gateway.authn import AGENT_KEY, INFERENCE_KEY, MANAGEMENT_KEY, SESSION, Caller
from services.gateway.routes.accounts import UUID_PATTERN
from services.gateway.routes.common import Body, Edge, json_response
from services.gateway.views import key_view, request_id_for

AUTH = (auth_pb2.AUDIENCE_AUTH,)
MANAGERS = (MANAGEMENT_KEY, SESSION)
MODEL_ID = r"^[a-z0-9._/-]{1,128}$"
CREDIT_LIMIT_MAX = 10**15
EXPIRY_MAX_S = 365 * 24 * 3600

ModelId = Annotated[str, Field(pattern=MODEL_ID)]


class CreateKeyBody(Body):
    name: str = Field(min_length=1, max_length=100)
    agent_id: str | None = Field(default=None, pattern=UUID_PATTERN)
    credit_limit_micros: int | None = Field(default=None, ge=0, le=CREDIT_LIMIT_MAX)
    rate_limit_rpm: int | None = Field(default=None, ge=1, le=100_000)
    is_management_key: bool = False
    expires_in_s: int | None = Field(default=None, ge=1, le=EXPIRY_MAX_S)
    allowed_models: list[ModelId] = Field(default_factory=list, max_length=100)


class UpdateKeyBody(Body):
    """Only the fields present change; ``null`` clears a limit (unlimited, default, never)."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    credit_limit_micros: int | None = Field(default=None, ge=0, le=CREDIT_LIMIT_MAX)
    rate_limit_rpm: int | None = Field(default=None, ge=1, le=100_000)
    allowed_models: list[ModelId] | None = Field(default=None, max_length=100)
    expires_in_s: int | None = Field(default=None, ge=1, le=EXPIRY_MAX_S)


def _scope(caller: Caller) -> str:
    return caller.principal.key_id or caller.principal.session_id


def router(edge: Edge) -> APIRouter:
    api = APIRouter(prefix="/api/v1/tokenhall", tags=["keys"])

    async def manager(request: Request) -> Caller:
        return await edge.authenticator.authenticate(request, families=MANAGERS, audiences=AUTH)

    @api.post("/keys", status_code=HTTPStatus.CREATED, summary="Mint a th_ or thm_ key")
    async def create_key(body: CreateKeyBody, request: Request) -> Response:
        caller = await manager(request)
        create = auth_pb2.CreateKeyRequest(
            request_id=request_id_for(request, scope=None),
            agent_id=body.agent_id or "",
            family=(
                auth_pb2.KEY_FAMILY_MANAGEMENT
                if body.is_management_key
                else auth_pb2.KEY_FAMILY_INFERENCE
            ),
            name=body.name,
            allowed_models=body.allowed_models,
        )
        if body.credit_limit_micros is not None:
            create.credit_limit_micros = body.credit_limit_micros
        if body.rate_limit_rpm is not None:
            create.rate_limit_rpm = body.rate_limit_rpm
        if body.expires_in_s is not None:
            create.expires_in.FromTimedelta(datetime.timedelta(seconds=body.expires_in_s))
        response = await edge.auth.CreateKey(create, metadata=caller.metadata)
        return json_response(
            {
                "key": {**key_view(response.key), "raw_key": response.raw_key},
                "important": "raw_key is shown once; store it now.",
            },
            HTTPStatus.CREATED,
        )

    @api.get("/keys", summary="List the keys the caller manages, newest first")
    async def list_keys(
        request: Request,
        agent_id: Annotated[str | None, Query(pattern=UUID_PATTERN)] = None,
        include_inactive: bool = False,
        page_size: Annotated[int, Query(ge=0, le=200)] = 50,
        page_token: Annotated[str, Query(max_length=512)] = "",
    ) -> Response:
        caller = await manager(request)
        response = await edge.auth.ListKeys(
            auth_pb2.ListKeysRequest(
                page_size=page_size,
                page_token=page_token,
                agent_id=agent_id or "",
                include_inactive=include_inactive,
            ),
            metadata=caller.metadata,
        )
        return json_response(
            {
                "keys": [key_view(key) for key in response.keys],
                "next_page_token": response.next_page_token or None,
            }
        )

    @api.get("/keys/{key_id}", summary="One key's metadata")
    async def get_key(
        request: Request, key_id: Annotated[str, Path(pattern=UUID_PATTERN)]
    ) -> Response:
        caller = await manager(request)
        response = await edge.auth.GetKey(
            auth_pb2.GetKeyRequest(key_id=key_id), metadata=caller.metadata
        )
        return json_response({"key": key_view(response.key)})

    @api.patch("/keys/{key_id}", summary="Change a key's name or limits (never its revocation)")
    async def update_key(
        body: UpdateKeyBody, request: Request, key_id: Annotated[str, Path(pattern=UUID_PATTERN)]
    ) -> Response:
        caller = await manager(request)
        present = body.model_fields_set
        update = auth_pb2.UpdateKeyRequest(
            request_id=request_id_for(request, scope=_scope(caller)), key_id=key_id
        )
        if "name" in present and body.name is not None:
            update.name = body.name
        if "credit_limit_micros" in present:
            update.credit_limit.SetInParent()
            if body.credit_limit_micros is not None:
                update.credit_limit.credit_limit_micros = body.credit_limit_micros
        if "rate_limit_rpm" in present:
            update.rate_limit.SetInParent()
            if body.rate_limit_rpm is not None:
                update.rate_limit.rate_limit_rpm = body.rate_limit_rpm
        if "allowed_models" in present:
            update.allowed_models.SetInParent()
            update.allowed_models.model_ids.extend(body.allowed_models or [])
        if "expires_in_s" in present:
            update.expiry.SetInParent()
            if body.expires_in_s is not None:
                expires_at = datetime.datetime.now(datetime.UTC) + datetime.timedelta(
                    seconds=body.expires_in_s
                )
                update.expiry.expires_at.FromDatetime(expires_at)
        response = await edge.auth.UpdateKey(update, metadata=caller.metadata)
        return json_response({"key": key_view(response.key)})

    @api.delete("/keys/{key_id}", summary="Revoke a key, finally")
    async def revoke_key(
        request: Request, key_id: Annotated[str, Path(pattern=UUID_PATTERN)]
    ) -> Response:
        caller = await manager(request)
        response = await edge.auth.RevokeKey(
            auth_pb2.RevokeKeyRequest(
                request_id=request_id_for(request, scope=_scope(caller)), key_id=key_id
            ),
            metadata=caller.metadata,
        )
        return json_response({"key": key_view(response.key), "id": key_id, "revoked": True})

    @api.get("/key", summary="The key the request authenticated with")
    async def current_key(request: Request) -> Response:
        caller = await edge.authenticator.authenticate(
            request, families=(AGENT_KEY, INFERENCE_KEY, MANAGEMENT_KEY), audiences=AUTH
        )
        response = await edge.auth.GetCurrentKey(
            auth_pb2.GetCurrentKeyRequest(), metadata=caller.metadata
        )
        return json_response({"key": key_view(response.key)})

    return api

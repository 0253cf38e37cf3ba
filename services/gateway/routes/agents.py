"""Agents: registration, claim, who-am-I, rekey and identity tokens ("Sign in with TokenMart")."""

from __future__ import annotations

import datetime
from http import HTTPStatus

from fastapi import APIRouter
from google.protobuf.duration_pb2 import Duration
from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response
from tokenmart.auth.v1 import auth_pb2

from services.gateway.authn import AGENT_KEY, SESSION, client_ip_of
from services.gateway.errors import NotFound
from services.gateway.routes.accounts import UUID_PATTERN
from services.gateway.routes.common import Body, Edge, json_response
from services.gateway.views import agent_view, enum_name, request_id_for, timestamp

AUTH = (auth_pb2.AUDIENCE_AUTH,)


class RegisterAgentBody(Body):
    name: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_-]{2,64}$")
    description: str | None = Field(default=None, max_length=500)
    harness: str | None = Field(default=None, max_length=32, pattern=r"^[a-z0-9_-]{0,32}$")


class ClaimBody(Body):
    claim_code: str = Field(min_length=1, max_length=128)


class RekeyBody(Body):
    agent_id: str = Field(pattern=UUID_PATTERN)


class IdentityTokenBody(Body):
    audience: str = Field(min_length=1, max_length=255)
    ttl_s: int | None = Field(default=None, ge=30, le=600)


class IdentityCheckBody(Body):
    identity_token: str = Field(min_length=1, max_length=256)
    audience: str = Field(min_length=1, max_length=255)


class NoAgent(NotFound):
    reason = "AGENT_NOT_FOUND"
    default_message = "no agent acts for this request; send an agent key or X-Agent-Id"


def router(edge: Edge) -> APIRouter:
    api = APIRouter(prefix="/api/v1", tags=["agents"])

    @api.post("/agents/register", status_code=HTTPStatus.CREATED, summary="Register an agent")
    async def register_agent(body: RegisterAgentBody, request: Request) -> Response:
        await edge.limits.ip(request, "agent_register")
        response = await edge.auth.RegisterAgent(
            auth_pb2.RegisterAgentRequest(
                request_id=request_id_for(request, scope=None),
                name=body.name,
                description=body.description or "",
                harness=body.harness or "",
                client_ip=client_ip_of(request),
                user_agent=(request.headers.get("user-agent") or "")[:512],
            )
        )
        return json_response(
            {
                "agent_id": response.agent.agent_id,
                "agent_name": response.agent.name,
                "lifecycle_state": enum_name(
                    response.agent.lifecycle, "AGENT_LIFECYCLE_", auth_pb2.AgentLifecycle
                ),
                "api_key": response.api_key,
                "key_id": response.key_id,
                "key_prefix": response.key_prefix,
                "claim_code": response.claim_code,
                "claim_code_expires_at": timestamp(response.claim_code_expires_at),
                "important": "api_key and claim_code are shown once; store them now.",
            },
            HTTPStatus.CREATED,
        )

    @api.post("/auth/claim", summary="Claim an agent for the session's account")
    async def claim(body: ClaimBody, request: Request) -> Response:
        await edge.limits.ip(request, "claim")
        caller = await edge.authenticator.authenticate(request, families=(SESSION,), audiences=AUTH)
        await edge.limits.claim_account(caller.principal.account_id)
        response = await edge.auth.ClaimAgent(
            auth_pb2.ClaimAgentRequest(
                request_id=request_id_for(request, scope=caller.principal.account_id),
                claim_code=body.claim_code,
                client_ip=client_ip_of(request),
            ),
            metadata=caller.metadata,
        )
        return json_response(
            {
                "agent_id": response.agent.agent_id,
                "agent_name": response.agent.name,
                "claimed": response.agent.lifecycle == auth_pb2.AGENT_LIFECYCLE_CLAIMED,
                "owner_account_id": response.agent.owner_account_id,
            }
        )

    @api.get("/agents/me", summary="The acting agent (agent key, or session + X-Agent-Id)")
    async def me(request: Request) -> Response:
        caller = await edge.authenticator.authenticate(
            request, families=(AGENT_KEY, SESSION), audiences=AUTH
        )
        response = await edge.auth.GetMe(auth_pb2.GetMeRequest(), metadata=caller.metadata)
        if not response.HasField("agent"):
            raise NoAgent()
        return json_response(agent_view(response.agent))

    @api.post("/agents/rekey", summary="Replace the agent's tokenmart_ key (owner session)")
    async def rekey(body: RekeyBody, request: Request) -> Response:
        caller = await edge.authenticator.authenticate(request, families=(SESSION,), audiences=AUTH)
        response = await edge.auth.RekeyAgent(
            auth_pb2.RekeyAgentRequest(
                request_id=request_id_for(request, scope=caller.principal.account_id),
                agent_id=body.agent_id,
            ),
            metadata=caller.metadata,
        )
        return json_response(
            {
                "agent_id": response.agent_id,
                "api_key": response.api_key,
                "key_id": response.key_id,
                "key_prefix": response.key_prefix,
                "revoked_key_ids": list(response.revoked_key_ids),
            }
        )

    @api.post("/agents/verify-identity", summary="Create a single-use identity token")
    async def create_identity_token(body: IdentityTokenBody, request: Request) -> Response:
        caller = await edge.authenticator.authenticate(
            request, families=(AGENT_KEY, SESSION), audiences=AUTH
        )
        ttl = Duration()
        if body.ttl_s is not None:
            ttl.FromTimedelta(datetime.timedelta(seconds=body.ttl_s))
        response = await edge.auth.CreateIdentityToken(
            auth_pb2.CreateIdentityTokenRequest(
                request_id=request_id_for(request, scope=None),
                audience=body.audience,
                ttl=ttl if body.ttl_s is not None else None,
            ),
            metadata=caller.metadata,
        )
        return json_response(
            {
                "identity_token": response.identity_token,
                "audience": response.audience,
                "expires_at": timestamp(response.expires_at),
                "agent": _identity_view(response.agent),
            }
        )

    @api.post("/agents/verify-identity/check", summary="Verify and consume an identity token")
    async def check_identity_token(body: IdentityCheckBody, request: Request) -> Response:
        await edge.limits.ip(request, "identity_check")
        response = await edge.auth.VerifyIdentityToken(
            auth_pb2.VerifyIdentityTokenRequest(
                request_id=request_id_for(request, scope=None),
                identity_token=body.identity_token,
                audience=body.audience,
                client_ip=client_ip_of(request),
            )
        )
        return json_response(
            {
                "valid": response.valid,
                "reason": enum_name(
                    response.invalid_reason,
                    "IDENTITY_TOKEN_INVALID_REASON_",
                    auth_pb2.IdentityTokenInvalidReason,
                ),
                "agent": _identity_view(response.agent) if response.valid else None,
                "verified_at": timestamp(response.verified_at),
            }
        )

    return api


def _identity_view(agent: auth_pb2.AgentIdentity) -> dict[str, object]:
    return {
        "id": agent.agent_id,
        "name": agent.name,
        "description": agent.description or None,
        "lifecycle_state": enum_name(agent.lifecycle, "AGENT_LIFECYCLE_", auth_pb2.AgentLifecycle),
        "status": enum_name(agent.status, "AGENT_STATUS_", auth_pb2.AgentStatus),
        "trust_tier": agent.trust_tier,
        "created_at": timestamp(agent.created_at),
    }

"""Accounts and sessions: register, login, refresh, logout, list and revoke sessions.

Credential responses carry ``Cache-Control: no-store`` (every ``/api/`` response does). Login is
rate-limited per client IP and per account (normalised email) before auth is asked at all, on top
of auth's own lockout with backoff.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response
from tokenmart.auth.v1 import auth_pb2

from services.gateway.authn import SESSION, client_ip_of
from services.gateway.routes.common import Body, Edge, json_response
from services.gateway.views import account_view, request_id_for, session_view, timestamp

UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
AUTH = (auth_pb2.AUDIENCE_AUTH,)


class RegisterBody(Body):
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1024)
    display_name: str | None = Field(default=None, max_length=100)


class LoginBody(Body):
    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


class RefreshBody(Body):
    refresh_token: str = Field(min_length=1, max_length=256)


def router(edge: Edge) -> APIRouter:
    api = APIRouter(prefix="/api/v1/auth", tags=["accounts"])

    @api.post("/register", status_code=HTTPStatus.CREATED, summary="Create an account")
    async def register(body: RegisterBody, request: Request) -> Response:
        await edge.limits.ip(request, "register")
        response = await edge.auth.RegisterAccount(
            auth_pb2.RegisterAccountRequest(
                # Keyed by the email: two clients reusing a key can never see each other's answer.
                request_id=request_id_for(request, scope=f"email:{body.email.strip().lower()}"),
                email=body.email,
                password=body.password,
                display_name=body.display_name or "",
                client_ip=client_ip_of(request),
                user_agent=(request.headers.get("user-agent") or "")[:512],
            )
        )
        return json_response(
            {"account_id": response.account.account_id, "email": response.account.email},
            HTTPStatus.CREATED,
        )

    @api.post("/login", summary="Start a session (tms_ session token + tmr_ refresh token)")
    async def login(body: LoginBody, request: Request) -> Response:
        await edge.limits.ip(request, "login")
        await edge.limits.login_account(body.email)
        response = await edge.auth.Login(
            auth_pb2.LoginRequest(
                request_id=request_id_for(request, scope=None),
                email=body.email,
                password=body.password,
                client_ip=client_ip_of(request),
                user_agent=(request.headers.get("user-agent") or "")[:512],
            )
        )
        return json_response(
            {
                "account": account_view(response.account),
                "session_id": response.session_id,
                "session_token": response.session_token,
                "refresh_token": response.refresh_token,
                "expires_at": timestamp(response.session_token_expires_at),
                "refresh_expires_at": timestamp(response.refresh_token_expires_at),
            }
        )

    @api.post("/refresh", summary="Trade a refresh token for a new pair (rotation)")
    async def refresh(body: RefreshBody, request: Request) -> Response:
        await edge.limits.ip(request, "refresh")
        response = await edge.auth.RefreshSession(
            auth_pb2.RefreshSessionRequest(
                request_id=request_id_for(request, scope=None),
                refresh_token=body.refresh_token,
                client_ip=client_ip_of(request),
                user_agent=(request.headers.get("user-agent") or "")[:512],
            )
        )
        return json_response(
            {
                "session_id": response.session_id,
                "session_token": response.session_token,
                "refresh_token": response.refresh_token,
                "expires_at": timestamp(response.session_token_expires_at),
                "refresh_expires_at": timestamp(response.refresh_token_expires_at),
            }
        )

    @api.post("/logout", summary="End the current session")
    async def logout(request: Request) -> Response:
        caller = await edge.authenticator.authenticate(request, families=(SESSION,), audiences=AUTH)
        response = await edge.auth.Logout(
            auth_pb2.LogoutRequest(
                request_id=request_id_for(request, scope=caller.principal.session_id)
            ),
            metadata=caller.metadata,
        )
        return json_response({"session": session_view(response.session)})

    @api.get("/sessions", summary="List the account's sessions, newest first")
    async def list_sessions(
        request: Request,
        page_size: Annotated[int, Query(ge=0, le=200)] = 50,
        page_token: Annotated[str, Query(max_length=512)] = "",
        include_ended: bool = False,
    ) -> Response:
        caller = await edge.authenticator.authenticate(request, families=(SESSION,), audiences=AUTH)
        response = await edge.auth.ListSessions(
            auth_pb2.ListSessionsRequest(
                page_size=page_size, page_token=page_token, include_ended=include_ended
            ),
            metadata=caller.metadata,
        )
        return json_response(
            {
                "sessions": [session_view(session) for session in response.sessions],
                "next_page_token": response.next_page_token or None,
            }
        )

    @api.delete("/sessions/{session_id}", summary="Revoke one of the account's sessions")
    async def revoke_session(
        request: Request, session_id: Annotated[str, Path(pattern=UUID_PATTERN)]
    ) -> Response:
        caller = await edge.authenticator.authenticate(request, families=(SESSION,), audiences=AUTH)
        response = await edge.auth.RevokeSession(
            auth_pb2.RevokeSessionRequest(
                request_id=request_id_for(request, scope=caller.principal.account_id),
                session_id=session_id,
            ),
            metadata=caller.metadata,
        )
        return json_response({"session": session_view(response.session)})

    return api

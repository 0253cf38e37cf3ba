"""Proto messages as the JSON the HTTP API documents (snake_case, short enum names, ISO times).

Views are explicit per resource so a field added to a proto never reaches clients by accident,
and so no secret-bearing field can leak through a generic conversion.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from google.protobuf.timestamp_pb2 import Timestamp
from starlette.requests import Request
from tokenmart.auth.v1 import auth_pb2

from services.gateway.errors import InvalidArgument

IDEMPOTENCY_HEADER: Final = "idempotency-key"
IDEMPOTENCY_KEY_MAX_LENGTH: Final = 255
_IDEMPOTENCY_NAMESPACE: Final = uuid.UUID("5d0c3c43-6c8f-4b8e-9a4e-4f7a9a1b2c3d")


class IdempotencyKeyInvalid(InvalidArgument):
    reason = "IDEMPOTENCY_KEY_INVALID"
    default_message = (
        f"Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} visible ASCII characters"
    )


def idempotency_key(request: Request) -> str | None:
    """The client's Idempotency-Key header, checked, or None when it sent none."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX_LENGTH or not (key.isascii() and key.isprintable()):
        raise IdempotencyKeyInvalid()
    return key


def request_id_for(request: Request, *, scope: str | None) -> str:
    """The backend request_id: derived from the client's Idempotency-Key when it sent one.

    Deriving (UUIDv5 of route, caller scope and key) rather than passing the key through means
    two callers who pick the same key never collide, and a retry of the same HTTP request by
    the same caller replays instead of acting twice. Without the header, or with no caller
    scope (anonymous calls whose answers carry a secret), every request is new.
    """
    key = idempotency_key(request)
    if key is None or scope is None:
        return str(uuid.uuid4())
    name = f"{request.method} {request.url.path}\x00{scope}\x00{key}"
    return str(uuid.uuid5(_IDEMPOTENCY_NAMESPACE, name))


def timestamp(value: Timestamp, *, present: bool = True) -> str | None:
    if not present or (value.seconds == 0 and value.nanos == 0):
        return None
    return value.ToDatetime().strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def enum_name(value: int, prefix: str, enum: Any) -> str | None:
    """``AGENT_LIFECYCLE_CLAIMED`` → ``claimed``; unspecified → None."""
    name: str = enum.Name(value)
    if name.endswith("_UNSPECIFIED"):
        return None
    return name.removeprefix(prefix).lower()


def account_view(account: auth_pb2.Account) -> dict[str, Any]:
    return {
        "id": account.account_id,
        "email": account.email,
        "display_name": account.display_name or None,
        "role": enum_name(account.role, "ACCOUNT_ROLE_", auth_pb2.AccountRole),
        "created_at": timestamp(account.created_at),
        "last_login_at": timestamp(account.last_login_at),
    }


def agent_view(agent: auth_pb2.Agent) -> dict[str, Any]:
    return {
        "id": agent.agent_id,
        "name": agent.name,
        "description": agent.description or None,
        "harness": agent.harness or None,
        "lifecycle_state": enum_name(agent.lifecycle, "AGENT_LIFECYCLE_", auth_pb2.AgentLifecycle),
        "status": enum_name(agent.status, "AGENT_STATUS_", auth_pb2.AgentStatus),
        "owner_account_id": agent.owner_account_id or None,
        "trust_tier": agent.trust_tier,
        "created_at": timestamp(agent.created_at),
        "claimed_at": timestamp(agent.claimed_at),
        "suspended_at": timestamp(agent.suspended_at),
    }


def limits_view(limits: auth_pb2.KeyLimits) -> dict[str, Any]:
    return {
        "credit_limit_micros": (
            limits.credit_limit_micros if limits.HasField("credit_limit_micros") else None
        ),
        "rate_limit_rpm": limits.rate_limit_rpm,
        "allowed_models": list(limits.allowed_models),
        "expires_at": timestamp(limits.expires_at, present=limits.HasField("expires_at")),
    }


def key_view(key: auth_pb2.ApiKey) -> dict[str, Any]:
    return {
        "id": key.key_id,
        "name": key.name,
        "family": enum_name(key.family, "KEY_FAMILY_", auth_pb2.KeyFamily),
        "prefix": key.key_prefix,
        "is_management_key": key.family == auth_pb2.KEY_FAMILY_MANAGEMENT,
        "agent_id": key.agent_id,
        **limits_view(key.limits),
        "status": enum_name(key.status, "KEY_STATUS_", auth_pb2.KeyStatus),
        "created_at": timestamp(key.created_at),
        "last_used_at": timestamp(key.last_used_at),
        "revoked_at": timestamp(key.revoked_at),
        "revocation_reason": key.revocation_reason or None,
        "created_by_key_id": key.created_by_key_id or None,
    }


def session_view(session: auth_pb2.Session) -> dict[str, Any]:
    return {
        "id": session.session_id,
        "created_at": timestamp(session.created_at),
        "last_refreshed_at": timestamp(session.last_refreshed_at),
        "expires_at": timestamp(session.expires_at),
        "client_ip": session.client_ip or None,
        "user_agent": session.user_agent or None,
        "current": session.current,
        "revoked_at": timestamp(session.revoked_at),
        "revocation_reason": enum_name(
            session.revocation_reason,
            "SESSION_REVOCATION_REASON_",
            auth_pb2.SessionRevocationReason,
        ),
    }

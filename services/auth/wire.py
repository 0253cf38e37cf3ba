"""Protobuf <-> domain: enums, messages and times, for :mod:`services.auth.api`.

Requests carrying an UNSPECIFIED enum where a value is required are refused with
ENUM_VALUE_UNSPECIFIED; an enum number this server does not know is FIELD_INVALID.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar, cast

from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2
from tokenmart.auth.v1 import auth_pb2

from services.auth import errors
from services.auth.domain import accounts, agents, audit, keys, principal, signing_keys
from services.auth.domain.access_tokens import IssuedToken

D = TypeVar("D")
P = TypeVar("P", bound=int)

CREDENTIAL_FAMILIES: Mapping[principal.CredentialFamily, auth_pb2.CredentialFamily] = {
    principal.CredentialFamily.AGENT_KEY: auth_pb2.CREDENTIAL_FAMILY_AGENT_KEY,
    principal.CredentialFamily.INFERENCE_KEY: auth_pb2.CREDENTIAL_FAMILY_INFERENCE_KEY,
    principal.CredentialFamily.MANAGEMENT_KEY: auth_pb2.CREDENTIAL_FAMILY_MANAGEMENT_KEY,
    principal.CredentialFamily.SESSION: auth_pb2.CREDENTIAL_FAMILY_SESSION,
    principal.CredentialFamily.SERVICE: auth_pb2.CREDENTIAL_FAMILY_SERVICE,
}
KEY_FAMILIES: Mapping[keys.KeyFamily, auth_pb2.KeyFamily] = {
    keys.KeyFamily.AGENT: auth_pb2.KEY_FAMILY_AGENT,
    keys.KeyFamily.INFERENCE: auth_pb2.KEY_FAMILY_INFERENCE,
    keys.KeyFamily.MANAGEMENT: auth_pb2.KEY_FAMILY_MANAGEMENT,
}
KEY_STATUSES: Mapping[keys.KeyStatus, auth_pb2.KeyStatus] = {
    keys.KeyStatus.ACTIVE: auth_pb2.KEY_STATUS_ACTIVE,
    keys.KeyStatus.REVOKED: auth_pb2.KEY_STATUS_REVOKED,
    keys.KeyStatus.EXPIRED: auth_pb2.KEY_STATUS_EXPIRED,
}
ROLES: Mapping[principal.AccountRole, auth_pb2.AccountRole] = {
    principal.AccountRole.USER: auth_pb2.ACCOUNT_ROLE_USER,
    principal.AccountRole.ADMIN: auth_pb2.ACCOUNT_ROLE_ADMIN,
    principal.AccountRole.SUPER_ADMIN: auth_pb2.ACCOUNT_ROLE_SUPER_ADMIN,
}
LIFECYCLES: Mapping[principal.AgentLifecycle, auth_pb2.AgentLifecycle] = {
    principal.AgentLifecycle.REGISTERED_UNCLAIMED: auth_pb2.AGENT_LIFECYCLE_REGISTERED_UNCLAIMED,
    principal.AgentLifecycle.CLAIMED: auth_pb2.AGENT_LIFECYCLE_CLAIMED,
}
AGENT_STATUSES: Mapping[principal.AgentStatus, auth_pb2.AgentStatus] = {
    principal.AgentStatus.ACTIVE: auth_pb2.AGENT_STATUS_ACTIVE,
    principal.AgentStatus.SUSPENDED: auth_pb2.AGENT_STATUS_SUSPENDED,
}
SCOPES: Mapping[principal.Scope, auth_pb2.Scope] = {
    principal.Scope.AGENT_READ: auth_pb2.SCOPE_AGENT_READ,
    principal.Scope.AGENT_WRITE: auth_pb2.SCOPE_AGENT_WRITE,
    principal.Scope.INFERENCE: auth_pb2.SCOPE_INFERENCE,
    principal.Scope.KEYS_MANAGE: auth_pb2.SCOPE_KEYS_MANAGE,
    principal.Scope.ACCOUNT: auth_pb2.SCOPE_ACCOUNT,
    principal.Scope.ADMIN: auth_pb2.SCOPE_ADMIN,
    principal.Scope.SUPER_ADMIN: auth_pb2.SCOPE_SUPER_ADMIN,
    principal.Scope.SERVICE: auth_pb2.SCOPE_SERVICE,
    principal.Scope.OPERATOR: auth_pb2.SCOPE_OPERATOR,
}
AUDIENCES: Mapping[principal.Audience, auth_pb2.Audience] = {
    principal.Audience.AUTH: auth_pb2.AUDIENCE_AUTH,
    principal.Audience.WALLET: auth_pb2.AUDIENCE_WALLET,
    principal.Audience.PROVIDER: auth_pb2.AUDIENCE_PROVIDER,
    principal.Audience.REVIEW: auth_pb2.AUDIENCE_REVIEW,
}
REVOCATION_REASONS: Mapping[accounts.RevocationReason, auth_pb2.SessionRevocationReason] = {
    accounts.RevocationReason.LOGOUT: auth_pb2.SESSION_REVOCATION_REASON_LOGOUT,
    accounts.RevocationReason.USER_REVOKED: auth_pb2.SESSION_REVOCATION_REASON_USER_REVOKED,
    accounts.RevocationReason.REFRESH_REUSE: auth_pb2.SESSION_REVOCATION_REASON_REFRESH_REUSE,
    accounts.RevocationReason.ADMIN: auth_pb2.SESSION_REVOCATION_REASON_ADMIN,
}
IDENTITY_OUTCOMES: Mapping[agents.IdentityOutcome, auth_pb2.IdentityTokenInvalidReason] = {
    agents.IdentityOutcome.VALID: auth_pb2.IDENTITY_TOKEN_INVALID_REASON_UNSPECIFIED,
    agents.IdentityOutcome.EXPIRED: auth_pb2.IDENTITY_TOKEN_INVALID_REASON_EXPIRED,
    agents.IdentityOutcome.AUDIENCE_MISMATCH: (
        auth_pb2.IDENTITY_TOKEN_INVALID_REASON_AUDIENCE_MISMATCH
    ),
    agents.IdentityOutcome.AGENT_SUSPENDED: auth_pb2.IDENTITY_TOKEN_INVALID_REASON_AGENT_SUSPENDED,
}
SIGNING_KEY_STATUSES: Mapping[signing_keys.SigningKeyStatus, auth_pb2.SigningKeyStatus] = {
    signing_keys.SigningKeyStatus.NEXT: auth_pb2.SIGNING_KEY_STATUS_NEXT,
    signing_keys.SigningKeyStatus.ACTIVE: auth_pb2.SIGNING_KEY_STATUS_ACTIVE,
    signing_keys.SigningKeyStatus.RETIRED: auth_pb2.SIGNING_KEY_STATUS_RETIRED,
}
EVENT_TYPES: Mapping[audit.EventType, auth_pb2.AuditEventType] = {
    # The proto names every event AUDIT_EVENT_TYPE_<NAME>; a missing one fails at import.
    event: cast(
        auth_pb2.AuditEventType, auth_pb2.AuditEventType.Value(f"AUDIT_EVENT_TYPE_{event.name}")
    )
    for event in audit.EventType
}
OUTCOMES: Mapping[audit.Outcome, auth_pb2.AuditOutcome] = {
    audit.Outcome.SUCCESS: auth_pb2.AUDIT_OUTCOME_SUCCESS,
    audit.Outcome.FAILURE: auth_pb2.AUDIT_OUTCOME_FAILURE,
}


def from_wire(value: int, mapping: Mapping[D, Any], *, field: str) -> D:
    """The domain value of a required enum field."""
    if value == 0:
        raise errors.EnumValueUnspecified(field)
    for domain_value, wire_value in mapping.items():
        if wire_value == value:
            return domain_value
    raise errors.FieldInvalid(field)


def optional_from_wire(value: int, mapping: Mapping[D, Any], *, field: str) -> D | None:
    """The domain value of an enum filter where UNSPECIFIED means "any"."""
    return None if value == 0 else from_wire(value, mapping, field=field)


def set_from_wire(values: Iterable[int], mapping: Mapping[D, Any], *, field: str) -> frozenset[D]:
    return frozenset(from_wire(value, mapping, field=field) for value in values)


def timestamp(value: datetime.datetime) -> timestamp_pb2.Timestamp:
    message = timestamp_pb2.Timestamp()
    message.FromDatetime(value.astimezone(datetime.UTC))
    return message


def timestamp_s(value: int) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=value)


def optional_time(message: Any, field: str) -> datetime.datetime | None:
    """The datetime of an optional Timestamp field, or None when unset."""
    if not message.HasField(field):
        return None
    value: timestamp_pb2.Timestamp = getattr(message, field)
    return value.ToDatetime(tzinfo=datetime.UTC)


def optional_duration(message: Any, field: str) -> datetime.timedelta | None:
    if not message.HasField(field):
        return None
    value: duration_pb2.Duration = getattr(message, field)
    return value.ToTimedelta()


def duration_ms(milliseconds: int) -> duration_pb2.Duration:
    message = duration_pb2.Duration()
    message.FromMilliseconds(milliseconds)
    return message


def _text(value: object | None) -> str:
    return "" if value is None else str(value)


def account(value: accounts.Account) -> auth_pb2.Account:
    message = auth_pb2.Account(
        account_id=str(value.id),
        email=value.email,
        display_name=value.display_name,
        role=ROLES[value.role],
        created_at=timestamp(value.created_at),
    )
    if value.last_login_at is not None:
        message.last_login_at.CopyFrom(timestamp(value.last_login_at))
    return message


def agent(value: accounts.Agent, *, show_suspension_reason: bool) -> auth_pb2.Agent:
    message = auth_pb2.Agent(
        agent_id=str(value.id),
        name=value.name,
        description=value.description,
        harness=value.harness,
        lifecycle=LIFECYCLES[value.lifecycle],
        status=AGENT_STATUSES[value.status],
        owner_account_id=_text(value.owner_account_id),
        trust_tier=value.trust_tier,
        created_at=timestamp(value.created_at),
        updated_at=timestamp(value.updated_at),
        suspension_reason=(value.suspension_reason or "") if show_suspension_reason else "",
    )
    if value.claimed_at is not None:
        message.claimed_at.CopyFrom(timestamp(value.claimed_at))
    if value.suspended_at is not None:
        message.suspended_at.CopyFrom(timestamp(value.suspended_at))
    return message


def agent_identity(value: accounts.Agent) -> auth_pb2.AgentIdentity:
    return auth_pb2.AgentIdentity(
        agent_id=str(value.id),
        name=value.name,
        description=value.description,
        lifecycle=LIFECYCLES[value.lifecycle],
        status=AGENT_STATUSES[value.status],
        trust_tier=value.trust_tier,
        created_at=timestamp(value.created_at),
    )


def key_limits(limits: keys.Limits, *, default_rpm: int, is_management: bool) -> auth_pb2.KeyLimits:
    message = auth_pb2.KeyLimits(
        rate_limit_rpm=limits.effective_rpm(default_rpm),
        allowed_models=list(limits.allowed_models),
        is_management=is_management,
    )
    if limits.credit_limit_micros is not None:
        message.credit_limit_micros = limits.credit_limit_micros
    if limits.expires_at is not None:
        message.expires_at.CopyFrom(timestamp(limits.expires_at))
    return message


def api_key(value: keys.ApiKey, *, now: datetime.datetime, default_rpm: int) -> auth_pb2.ApiKey:
    message = auth_pb2.ApiKey(
        key_id=str(value.id),
        family=KEY_FAMILIES[value.family],
        name=value.name,
        key_prefix=value.key_prefix,
        agent_id=str(value.agent_id),
        limits=key_limits(
            value.limits,
            default_rpm=default_rpm,
            is_management=value.family is keys.KeyFamily.MANAGEMENT,
        ),
        status=KEY_STATUSES[value.status(now)],
        created_at=timestamp(value.created_at),
        revocation_reason=value.revocation_reason or "",
        created_by_key_id=_text(value.created_by_key_id),
        created_by_account_id=_text(value.created_by_account_id),
    )
    if value.last_used_at is not None:
        message.last_used_at.CopyFrom(timestamp(value.last_used_at))
    if value.revoked_at is not None:
        message.revoked_at.CopyFrom(timestamp(value.revoked_at))
    return message


def principal_message(value: principal.Principal) -> auth_pb2.Principal:
    message = auth_pb2.Principal(
        credential_family=CREDENTIAL_FAMILIES[value.family],
        account_id=_text(value.account_id),
        agent_id=_text(value.agent_id),
        key_id=_text(value.key_id),
        session_id=_text(value.session_id),
        role=ROLES[value.role] if value.role else auth_pb2.ACCOUNT_ROLE_UNSPECIFIED,
        agent_lifecycle=(
            LIFECYCLES[value.agent_lifecycle]
            if value.agent_lifecycle
            else auth_pb2.AGENT_LIFECYCLE_UNSPECIFIED
        ),
        agent_status=(
            AGENT_STATUSES[value.agent_status]
            if value.agent_status
            else auth_pb2.AGENT_STATUS_UNSPECIFIED
        ),
        agent_owner_account_id=_text(value.agent_owner_account_id),
        scopes=sorted(SCOPES[scope] for scope in value.scopes),
        service_name=value.service_name or "",
    )
    limits = value.key_limits
    if limits is not None:
        message.key_limits.rate_limit_rpm = limits.rate_limit_rpm
        message.key_limits.allowed_models.extend(limits.allowed_models)
        message.key_limits.is_management = limits.is_management
        if limits.credit_limit_micros is not None:
            message.key_limits.credit_limit_micros = limits.credit_limit_micros
        if limits.expires_at_s is not None:
            message.key_limits.expires_at.CopyFrom(timestamp_s(limits.expires_at_s))
    return message


def session(value: accounts.Session, *, current_session_id: object | None) -> auth_pb2.Session:
    message = auth_pb2.Session(
        session_id=str(value.id),
        created_at=timestamp(value.created_at),
        expires_at=timestamp(value.expires_at),
        client_ip=value.client_ip or "",
        user_agent=value.user_agent,
        current=value.id == current_session_id,
    )
    if value.last_refreshed_at is not None:
        message.last_refreshed_at.CopyFrom(timestamp(value.last_refreshed_at))
    if value.revoked_at is not None and value.revocation_reason is not None:
        message.revoked_at.CopyFrom(timestamp(value.revoked_at))
        message.revocation_reason = REVOCATION_REASONS[value.revocation_reason]
    return message


def public_key(value: signing_keys.SigningKey, *, show_not_after: bool) -> auth_pb2.PublicKey:
    message = auth_pb2.PublicKey(
        key_id=value.key_id,
        algorithm=auth_pb2.SIGNING_ALGORITHM_ED25519,
        public_key=value.public_key,
        not_before=timestamp(value.not_before),
        status=SIGNING_KEY_STATUSES[value.status],
    )
    if value.not_after is not None and show_not_after:
        message.not_after.CopyFrom(timestamp(value.not_after))
    return message


def audit_event(value: audit.AuditEvent) -> auth_pb2.AuditEvent:
    details = struct_pb2.Struct()
    details.update(dict(value.details))
    return auth_pb2.AuditEvent(
        event_id=str(value.id),
        event_type=EVENT_TYPES[value.event_type],
        outcome=OUTCOMES[value.outcome],
        failure_reason=value.failure_reason or "",
        occurred_at=timestamp(value.occurred_at),
        actor_account_id=_text(value.actor.account_id),
        actor_agent_id=_text(value.actor.agent_id),
        actor_key_id=_text(value.actor.key_id),
        actor_service=value.actor.service or "",
        subject_account_id=_text(value.subject_account_id),
        subject_agent_id=_text(value.subject_agent_id),
        subject_key_id=_text(value.subject_key_id),
        subject_session_id=_text(value.subject_session_id),
        client_ip=value.request.client_ip or "",
        user_agent=value.request.user_agent or "",
        request_id=value.request.request_id or "",
        details=details,
    )


def token_expiry(token: IssuedToken) -> timestamp_pb2.Timestamp:
    return timestamp_s(token.expires_at_s)

import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CredentialFamily(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CREDENTIAL_FAMILY_UNSPECIFIED: _ClassVar[CredentialFamily]
    CREDENTIAL_FAMILY_AGENT_KEY: _ClassVar[CredentialFamily]
    CREDENTIAL_FAMILY_INFERENCE_KEY: _ClassVar[CredentialFamily]
    CREDENTIAL_FAMILY_MANAGEMENT_KEY: _ClassVar[CredentialFamily]
    CREDENTIAL_FAMILY_SESSION: _ClassVar[CredentialFamily]
    CREDENTIAL_FAMILY_SERVICE: _ClassVar[CredentialFamily]

class KeyFamily(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    KEY_FAMILY_UNSPECIFIED: _ClassVar[KeyFamily]
    KEY_FAMILY_AGENT: _ClassVar[KeyFamily]
    KEY_FAMILY_INFERENCE: _ClassVar[KeyFamily]
    KEY_FAMILY_MANAGEMENT: _ClassVar[KeyFamily]

class KeyStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    KEY_STATUS_UNSPECIFIED: _ClassVar[KeyStatus]
    KEY_STATUS_ACTIVE: _ClassVar[KeyStatus]
    KEY_STATUS_REVOKED: _ClassVar[KeyStatus]
    KEY_STATUS_EXPIRED: _ClassVar[KeyStatus]

class AccountRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCOUNT_ROLE_UNSPECIFIED: _ClassVar[AccountRole]
    ACCOUNT_ROLE_USER: _ClassVar[AccountRole]
    ACCOUNT_ROLE_ADMIN: _ClassVar[AccountRole]
    ACCOUNT_ROLE_SUPER_ADMIN: _ClassVar[AccountRole]

class AgentLifecycle(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AGENT_LIFECYCLE_UNSPECIFIED: _ClassVar[AgentLifecycle]
    AGENT_LIFECYCLE_REGISTERED_UNCLAIMED: _ClassVar[AgentLifecycle]
    AGENT_LIFECYCLE_CLAIMED: _ClassVar[AgentLifecycle]

class AgentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AGENT_STATUS_UNSPECIFIED: _ClassVar[AgentStatus]
    AGENT_STATUS_ACTIVE: _ClassVar[AgentStatus]
    AGENT_STATUS_SUSPENDED: _ClassVar[AgentStatus]

class Scope(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCOPE_UNSPECIFIED: _ClassVar[Scope]
    SCOPE_AGENT_READ: _ClassVar[Scope]
    SCOPE_AGENT_WRITE: _ClassVar[Scope]
    SCOPE_INFERENCE: _ClassVar[Scope]
    SCOPE_KEYS_MANAGE: _ClassVar[Scope]
    SCOPE_ACCOUNT: _ClassVar[Scope]
    SCOPE_ADMIN: _ClassVar[Scope]
    SCOPE_SUPER_ADMIN: _ClassVar[Scope]
    SCOPE_SERVICE: _ClassVar[Scope]
    SCOPE_OPERATOR: _ClassVar[Scope]

class Audience(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUDIENCE_UNSPECIFIED: _ClassVar[Audience]
    AUDIENCE_AUTH: _ClassVar[Audience]
    AUDIENCE_WALLET: _ClassVar[Audience]
    AUDIENCE_PROVIDER: _ClassVar[Audience]
    AUDIENCE_REVIEW: _ClassVar[Audience]

class SessionRevocationReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SESSION_REVOCATION_REASON_UNSPECIFIED: _ClassVar[SessionRevocationReason]
    SESSION_REVOCATION_REASON_LOGOUT: _ClassVar[SessionRevocationReason]
    SESSION_REVOCATION_REASON_USER_REVOKED: _ClassVar[SessionRevocationReason]
    SESSION_REVOCATION_REASON_REFRESH_REUSE: _ClassVar[SessionRevocationReason]
    SESSION_REVOCATION_REASON_ADMIN: _ClassVar[SessionRevocationReason]

class IdentityTokenInvalidReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IDENTITY_TOKEN_INVALID_REASON_UNSPECIFIED: _ClassVar[IdentityTokenInvalidReason]
    IDENTITY_TOKEN_INVALID_REASON_UNKNOWN: _ClassVar[IdentityTokenInvalidReason]
    IDENTITY_TOKEN_INVALID_REASON_EXPIRED: _ClassVar[IdentityTokenInvalidReason]
    IDENTITY_TOKEN_INVALID_REASON_ALREADY_USED: _ClassVar[IdentityTokenInvalidReason]
    IDENTITY_TOKEN_INVALID_REASON_AUDIENCE_MISMATCH: _ClassVar[IdentityTokenInvalidReason]
    IDENTITY_TOKEN_INVALID_REASON_AGENT_SUSPENDED: _ClassVar[IdentityTokenInvalidReason]

class SigningAlgorithm(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIGNING_ALGORITHM_UNSPECIFIED: _ClassVar[SigningAlgorithm]
    SIGNING_ALGORITHM_ED25519: _ClassVar[SigningAlgorithm]

class SigningKeyStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIGNING_KEY_STATUS_UNSPECIFIED: _ClassVar[SigningKeyStatus]
    SIGNING_KEY_STATUS_NEXT: _ClassVar[SigningKeyStatus]
    SIGNING_KEY_STATUS_ACTIVE: _ClassVar[SigningKeyStatus]
    SIGNING_KEY_STATUS_RETIRED: _ClassVar[SigningKeyStatus]

class AuditEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUDIT_EVENT_TYPE_UNSPECIFIED: _ClassVar[AuditEventType]
    AUDIT_EVENT_TYPE_ACCOUNT_REGISTERED: _ClassVar[AuditEventType]
    AUDIT_EVENT_TYPE_LOGIN_SUCCEEDED: _ClassVar[AuditEventType]
    AUDIT_EVENT_TYPE_LOGIN_FAILED: _ClassVar[AuditEventType]
    AUDIT_EVENT_TYPE_LOGIN_LOCKED_OUT: _ClassVar[AuditEventType]
    AUDIT_EVENT_TYPE_SESSION_REFRESHED: _ClassVar[AuditEventType]
    AUDIT_EVENT_TYPE_SESSION_REFRESH_REUSED: _ClassVar[AuditEventType]
    AUDIT_EVENT_TYPE_SESSION_LOGGED_OUT: _ClassVar[AuditEventType]
    AUDIT_EVENT_TYPE_SESSION_REVOKED: _ClassVar[AuditEventType]
    AUDIT_EVENT_TYPE_AGENT_REGISTERED: _ClassVar[AuditEventType]
    AUDIT_EVENT_TYPE_AGENT_CLAIMED: _ClassVar[AuditEventType]
    AUDIT_EVENT_TYPE_AGENT_CLAIM_FAILED: _ClassVar[AuditEventType]
    AUDIT_EVENT_TYPE_CLAIM_CODE_RENEWED: _ClassVar[AuditEventType]
    AUDIT_EVENT_TYPE_AGENT_REKEYED: _ClassVar[AuditEventType]
    AUDIT_EVENT_TYPE_AGENT_SUSPENDED: _ClassVar[AuditEventType]
    AUDIT_EVENT_TYPE_AGENT_REACTIVATED: _ClassVar[AuditEventType]
    AUDIT_EVENT_TYPE_AGENT_ACCESS_DENIED: _ClassVar[AuditEventType]
    AUDIT_EVENT_TYPE_KEY_CREATED: _ClassVar[AuditEventType]
    AUDIT_EVENT_TYPE_KEY_UPDATED: _ClassVar[AuditEventType]
    AUDIT_EVENT_TYPE_KEY_REVOKED: _ClassVar[AuditEventType]
    AUDIT_EVENT_TYPE_ROLE_CHANGED: _ClassVar[AuditEventType]
    AUDIT_EVENT_TYPE_TRUST_TIER_CHANGED: _ClassVar[AuditEventType]
    AUDIT_EVENT_TYPE_IDENTITY_TOKEN_CREATED: _ClassVar[AuditEventType]
    AUDIT_EVENT_TYPE_IDENTITY_TOKEN_VERIFIED: _ClassVar[AuditEventType]
    AUDIT_EVENT_TYPE_IDENTITY_TOKEN_REJECTED: _ClassVar[AuditEventType]
    AUDIT_EVENT_TYPE_ADMIN_ACCOUNT_CREATED: _ClassVar[AuditEventType]
    AUDIT_EVENT_TYPE_SIGNING_KEY_ROTATED: _ClassVar[AuditEventType]
    AUDIT_EVENT_TYPE_SIGNING_KEYS_RESEALED: _ClassVar[AuditEventType]

class AuditOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUDIT_OUTCOME_UNSPECIFIED: _ClassVar[AuditOutcome]
    AUDIT_OUTCOME_SUCCESS: _ClassVar[AuditOutcome]
    AUDIT_OUTCOME_FAILURE: _ClassVar[AuditOutcome]
CREDENTIAL_FAMILY_UNSPECIFIED: CredentialFamily
CREDENTIAL_FAMILY_AGENT_KEY: CredentialFamily
CREDENTIAL_FAMILY_INFERENCE_KEY: CredentialFamily
CREDENTIAL_FAMILY_MANAGEMENT_KEY: CredentialFamily
CREDENTIAL_FAMILY_SESSION: CredentialFamily
CREDENTIAL_FAMILY_SERVICE: CredentialFamily
KEY_FAMILY_UNSPECIFIED: KeyFamily
KEY_FAMILY_AGENT: KeyFamily
KEY_FAMILY_INFERENCE: KeyFamily
KEY_FAMILY_MANAGEMENT: KeyFamily
KEY_STATUS_UNSPECIFIED: KeyStatus
KEY_STATUS_ACTIVE: KeyStatus
KEY_STATUS_REVOKED: KeyStatus
KEY_STATUS_EXPIRED: KeyStatus
ACCOUNT_ROLE_UNSPECIFIED: AccountRole
ACCOUNT_ROLE_USER: AccountRole
ACCOUNT_ROLE_ADMIN: AccountRole
ACCOUNT_ROLE_SUPER_ADMIN: AccountRole
AGENT_LIFECYCLE_UNSPECIFIED: AgentLifecycle
AGENT_LIFECYCLE_REGISTERED_UNCLAIMED: AgentLifecycle
AGENT_LIFECYCLE_CLAIMED: AgentLifecycle
AGENT_STATUS_UNSPECIFIED: AgentStatus
AGENT_STATUS_ACTIVE: AgentStatus
AGENT_STATUS_SUSPENDED: AgentStatus
SCOPE_UNSPECIFIED: Scope
SCOPE_AGENT_READ: Scope
SCOPE_AGENT_WRITE: Scope
SCOPE_INFERENCE: Scope
SCOPE_KEYS_MANAGE: Scope
SCOPE_ACCOUNT: Scope
SCOPE_ADMIN: Scope
SCOPE_SUPER_ADMIN: Scope
SCOPE_SERVICE: Scope
SCOPE_OPERATOR: Scope
AUDIENCE_UNSPECIFIED: Audience
AUDIENCE_AUTH: Audience
AUDIENCE_WALLET: Audience
AUDIENCE_PROVIDER: Audience
AUDIENCE_REVIEW: Audience
SESSION_REVOCATION_REASON_UNSPECIFIED: SessionRevocationReason
SESSION_REVOCATION_REASON_LOGOUT: SessionRevocationReason
SESSION_REVOCATION_REASON_USER_REVOKED: SessionRevocationReason
SESSION_REVOCATION_REASON_REFRESH_REUSE: SessionRevocationReason
SESSION_REVOCATION_REASON_ADMIN: SessionRevocationReason
IDENTITY_TOKEN_INVALID_REASON_UNSPECIFIED: IdentityTokenInvalidReason
IDENTITY_TOKEN_INVALID_REASON_UNKNOWN: IdentityTokenInvalidReason
IDENTITY_TOKEN_INVALID_REASON_EXPIRED: IdentityTokenInvalidReason
IDENTITY_TOKEN_INVALID_REASON_ALREADY_USED: IdentityTokenInvalidReason
IDENTITY_TOKEN_INVALID_REASON_AUDIENCE_MISMATCH: IdentityTokenInvalidReason
IDENTITY_TOKEN_INVALID_REASON_AGENT_SUSPENDED: IdentityTokenInvalidReason
SIGNING_ALGORITHM_UNSPECIFIED: SigningAlgorithm
SIGNING_ALGORITHM_ED25519: SigningAlgorithm
SIGNING_KEY_STATUS_UNSPECIFIED: SigningKeyStatus
SIGNING_KEY_STATUS_NEXT: SigningKeyStatus
SIGNING_KEY_STATUS_ACTIVE: SigningKeyStatus
SIGNING_KEY_STATUS_RETIRED: SigningKeyStatus
AUDIT_EVENT_TYPE_UNSPECIFIED: AuditEventType
AUDIT_EVENT_TYPE_ACCOUNT_REGISTERED: AuditEventType
AUDIT_EVENT_TYPE_LOGIN_SUCCEEDED: AuditEventType
AUDIT_EVENT_TYPE_LOGIN_FAILED: AuditEventType
AUDIT_EVENT_TYPE_LOGIN_LOCKED_OUT: AuditEventType
AUDIT_EVENT_TYPE_SESSION_REFRESHED: AuditEventType
AUDIT_EVENT_TYPE_SESSION_REFRESH_REUSED: AuditEventType
AUDIT_EVENT_TYPE_SESSION_LOGGED_OUT: AuditEventType
AUDIT_EVENT_TYPE_SESSION_REVOKED: AuditEventType
AUDIT_EVENT_TYPE_AGENT_REGISTERED: AuditEventType
AUDIT_EVENT_TYPE_AGENT_CLAIMED: AuditEventType
AUDIT_EVENT_TYPE_AGENT_CLAIM_FAILED: AuditEventType
AUDIT_EVENT_TYPE_CLAIM_CODE_RENEWED: AuditEventType
AUDIT_EVENT_TYPE_AGENT_REKEYED: AuditEventType
AUDIT_EVENT_TYPE_AGENT_SUSPENDED: AuditEventType
AUDIT_EVENT_TYPE_AGENT_REACTIVATED: AuditEventType
AUDIT_EVENT_TYPE_AGENT_ACCESS_DENIED: AuditEventType
AUDIT_EVENT_TYPE_KEY_CREATED: AuditEventType
AUDIT_EVENT_TYPE_KEY_UPDATED: AuditEventType
AUDIT_EVENT_TYPE_KEY_REVOKED: AuditEventType
AUDIT_EVENT_TYPE_ROLE_CHANGED: AuditEventType
AUDIT_EVENT_TYPE_TRUST_TIER_CHANGED: AuditEventType
AUDIT_EVENT_TYPE_IDENTITY_TOKEN_CREATED: AuditEventType
AUDIT_EVENT_TYPE_IDENTITY_TOKEN_VERIFIED: AuditEventType
AUDIT_EVENT_TYPE_IDENTITY_TOKEN_REJECTED: AuditEventType
AUDIT_EVENT_TYPE_ADMIN_ACCOUNT_CREATED: AuditEventType
AUDIT_EVENT_TYPE_SIGNING_KEY_ROTATED: AuditEventType
AUDIT_EVENT_TYPE_SIGNING_KEYS_RESEALED: AuditEventType
AUDIT_OUTCOME_UNSPECIFIED: AuditOutcome
AUDIT_OUTCOME_SUCCESS: AuditOutcome
AUDIT_OUTCOME_FAILURE: AuditOutcome

class Account(_message.Message):
    __slots__ = ("account_id", "email", "display_name", "role", "created_at", "last_login_at")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_LOGIN_AT_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    email: str
    display_name: str
    role: AccountRole
    created_at: _timestamp_pb2.Timestamp
    last_login_at: _timestamp_pb2.Timestamp
    def __init__(self, account_id: _Optional[str] = ..., email: _Optional[str] = ..., display_name: _Optional[str] = ..., role: _Optional[_Union[AccountRole, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_login_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Agent(_message.Message):
    __slots__ = ("agent_id", "name", "description", "harness", "lifecycle", "status", "owner_account_id", "trust_tier", "created_at", "claimed_at", "updated_at", "suspended_at", "suspension_reason")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    HARNESS_FIELD_NUMBER: _ClassVar[int]
    LIFECYCLE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OWNER_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    TRUST_TIER_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    CLAIMED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    SUSPENDED_AT_FIELD_NUMBER: _ClassVar[int]
    SUSPENSION_REASON_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    name: str
    description: str
    harness: str
    lifecycle: AgentLifecycle
    status: AgentStatus
    owner_account_id: str
    trust_tier: int
    created_at: _timestamp_pb2.Timestamp
    claimed_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    suspended_at: _timestamp_pb2.Timestamp
    suspension_reason: str
    def __init__(self, agent_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., harness: _Optional[str] = ..., lifecycle: _Optional[_Union[AgentLifecycle, str]] = ..., status: _Optional[_Union[AgentStatus, str]] = ..., owner_account_id: _Optional[str] = ..., trust_tier: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., claimed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., suspended_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., suspension_reason: _Optional[str] = ...) -> None: ...

class AgentIdentity(_message.Message):
    __slots__ = ("agent_id", "name", "description", "lifecycle", "status", "trust_tier", "created_at")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LIFECYCLE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TRUST_TIER_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    name: str
    description: str
    lifecycle: AgentLifecycle
    status: AgentStatus
    trust_tier: int
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, agent_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., lifecycle: _Optional[_Union[AgentLifecycle, str]] = ..., status: _Optional[_Union[AgentStatus, str]] = ..., trust_tier: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class KeyLimits(_message.Message):
    __slots__ = ("credit_limit_micros", "rate_limit_rpm", "allowed_models", "expires_at", "is_management")
    CREDIT_LIMIT_MICROS_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMIT_RPM_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_MODELS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    IS_MANAGEMENT_FIELD_NUMBER: _ClassVar[int]
    credit_limit_micros: int
    rate_limit_rpm: int
    allowed_models: _containers.RepeatedScalarFieldContainer[str]
    expires_at: _timestamp_pb2.Timestamp
    is_management: bool
    def __init__(self, credit_limit_micros: _Optional[int] = ..., rate_limit_rpm: _Optional[int] = ..., allowed_models: _Optional[_Iterable[str]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., is_management: _Optional[bool] = ...) -> None: ...

class Principal(_message.Message):
    __slots__ = ("credential_family", "account_id", "agent_id", "key_id", "session_id", "role", "agent_lifecycle", "agent_status", "agent_owner_account_id", "scopes", "key_limits", "service_name")
    CREDENTIAL_FAMILY_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    AGENT_LIFECYCLE_FIELD_NUMBER: _ClassVar[int]
    AGENT_STATUS_FIELD_NUMBER: _ClassVar[int]
    AGENT_OWNER_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    KEY_LIMITS_FIELD_NUMBER: _ClassVar[int]
    SERVICE_NAME_FIELD_NUMBER: _ClassVar[int]
    credential_family: CredentialFamily
    account_id: str
    agent_id: str
    key_id: str
    session_id: str
    role: AccountRole
    agent_lifecycle: AgentLifecycle
    agent_status: AgentStatus
    agent_owner_account_id: str
    scopes: _containers.RepeatedScalarFieldContainer[Scope]
    key_limits: KeyLimits
    service_name: str
    def __init__(self, credential_family: _Optional[_Union[CredentialFamily, str]] = ..., account_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., key_id: _Optional[str] = ..., session_id: _Optional[str] = ..., role: _Optional[_Union[AccountRole, str]] = ..., agent_lifecycle: _Optional[_Union[AgentLifecycle, str]] = ..., agent_status: _Optional[_Union[AgentStatus, str]] = ..., agent_owner_account_id: _Optional[str] = ..., scopes: _Optional[_Iterable[_Union[Scope, str]]] = ..., key_limits: _Optional[_Union[KeyLimits, _Mapping]] = ..., service_name: _Optional[str] = ...) -> None: ...

class Session(_message.Message):
    __slots__ = ("session_id", "created_at", "last_refreshed_at", "expires_at", "client_ip", "user_agent", "current", "revoked_at", "revocation_reason")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_REFRESHED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    CLIENT_IP_FIELD_NUMBER: _ClassVar[int]
    USER_AGENT_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    REVOCATION_REASON_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    created_at: _timestamp_pb2.Timestamp
    last_refreshed_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    client_ip: str
    user_agent: str
    current: bool
    revoked_at: _timestamp_pb2.Timestamp
    revocation_reason: SessionRevocationReason
    def __init__(self, session_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_refreshed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., client_ip: _Optional[str] = ..., user_agent: _Optional[str] = ..., current: _Optional[bool] = ..., revoked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revocation_reason: _Optional[_Union[SessionRevocationReason, str]] = ...) -> None: ...

class ApiKey(_message.Message):
    __slots__ = ("key_id", "family", "name", "key_prefix", "agent_id", "limits", "status", "created_at", "last_used_at", "revoked_at", "revocation_reason", "created_by_key_id", "created_by_account_id")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KEY_PREFIX_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_AT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    REVOCATION_REASON_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    family: KeyFamily
    name: str
    key_prefix: str
    agent_id: str
    limits: KeyLimits
    status: KeyStatus
    created_at: _timestamp_pb2.Timestamp
    last_used_at: _timestamp_pb2.Timestamp
    revoked_at: _timestamp_pb2.Timestamp
    revocation_reason: str
    created_by_key_id: str
    created_by_account_id: str
    def __init__(self, key_id: _Optional[str] = ..., family: _Optional[_Union[KeyFamily, str]] = ..., name: _Optional[str] = ..., key_prefix: _Optional[str] = ..., agent_id: _Optional[str] = ..., limits: _Optional[_Union[KeyLimits, _Mapping]] = ..., status: _Optional[_Union[KeyStatus, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_used_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revocation_reason: _Optional[str] = ..., created_by_key_id: _Optional[str] = ..., created_by_account_id: _Optional[str] = ...) -> None: ...

class PublicKey(_message.Message):
    __slots__ = ("key_id", "algorithm", "public_key", "not_before", "not_after", "status")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    NOT_BEFORE_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    algorithm: SigningAlgorithm
    public_key: bytes
    not_before: _timestamp_pb2.Timestamp
    not_after: _timestamp_pb2.Timestamp
    status: SigningKeyStatus
    def __init__(self, key_id: _Optional[str] = ..., algorithm: _Optional[_Union[SigningAlgorithm, str]] = ..., public_key: _Optional[bytes] = ..., not_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., not_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[_Union[SigningKeyStatus, str]] = ...) -> None: ...

class AuditEvent(_message.Message):
    __slots__ = ("event_id", "event_type", "outcome", "failure_reason", "occurred_at", "actor_account_id", "actor_agent_id", "actor_key_id", "actor_service", "subject_account_id", "subject_agent_id", "subject_key_id", "subject_session_id", "client_ip", "user_agent", "request_id", "details")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_SERVICE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_IP_FIELD_NUMBER: _ClassVar[int]
    USER_AGENT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    event_type: AuditEventType
    outcome: AuditOutcome
    failure_reason: str
    occurred_at: _timestamp_pb2.Timestamp
    actor_account_id: str
    actor_agent_id: str
    actor_key_id: str
    actor_service: str
    subject_account_id: str
    subject_agent_id: str
    subject_key_id: str
    subject_session_id: str
    client_ip: str
    user_agent: str
    request_id: str
    details: _struct_pb2.Struct
    def __init__(self, event_id: _Optional[str] = ..., event_type: _Optional[_Union[AuditEventType, str]] = ..., outcome: _Optional[_Union[AuditOutcome, str]] = ..., failure_reason: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor_account_id: _Optional[str] = ..., actor_agent_id: _Optional[str] = ..., actor_key_id: _Optional[str] = ..., actor_service: _Optional[str] = ..., subject_account_id: _Optional[str] = ..., subject_agent_id: _Optional[str] = ..., subject_key_id: _Optional[str] = ..., subject_session_id: _Optional[str] = ..., client_ip: _Optional[str] = ..., user_agent: _Optional[str] = ..., request_id: _Optional[str] = ..., details: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class RegisterAccountRequest(_message.Message):
    __slots__ = ("request_id", "email", "password", "display_name", "client_ip", "user_agent")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    CLIENT_IP_FIELD_NUMBER: _ClassVar[int]
    USER_AGENT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    email: str
    password: str
    display_name: str
    client_ip: str
    user_agent: str
    def __init__(self, request_id: _Optional[str] = ..., email: _Optional[str] = ..., password: _Optional[str] = ..., display_name: _Optional[str] = ..., client_ip: _Optional[str] = ..., user_agent: _Optional[str] = ...) -> None: ...

class RegisterAccountResponse(_message.Message):
    __slots__ = ("account", "wallet_id")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    WALLET_ID_FIELD_NUMBER: _ClassVar[int]
    account: Account
    wallet_id: str
    def __init__(self, account: _Optional[_Union[Account, _Mapping]] = ..., wallet_id: _Optional[str] = ...) -> None: ...

class LoginRequest(_message.Message):
    __slots__ = ("request_id", "email", "password", "client_ip", "user_agent")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    CLIENT_IP_FIELD_NUMBER: _ClassVar[int]
    USER_AGENT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    email: str
    password: str
    client_ip: str
    user_agent: str
    def __init__(self, request_id: _Optional[str] = ..., email: _Optional[str] = ..., password: _Optional[str] = ..., client_ip: _Optional[str] = ..., user_agent: _Optional[str] = ...) -> None: ...

class LoginResponse(_message.Message):
    __slots__ = ("account", "session_id", "session_token", "session_token_expires_at", "refresh_token", "refresh_token_expires_at")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SESSION_TOKEN_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    account: Account
    session_id: str
    session_token: str
    session_token_expires_at: _timestamp_pb2.Timestamp
    refresh_token: str
    refresh_token_expires_at: _timestamp_pb2.Timestamp
    def __init__(self, account: _Optional[_Union[Account, _Mapping]] = ..., session_id: _Optional[str] = ..., session_token: _Optional[str] = ..., session_token_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., refresh_token: _Optional[str] = ..., refresh_token_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RefreshSessionRequest(_message.Message):
    __slots__ = ("request_id", "refresh_token", "client_ip", "user_agent")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CLIENT_IP_FIELD_NUMBER: _ClassVar[int]
    USER_AGENT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    refresh_token: str
    client_ip: str
    user_agent: str
    def __init__(self, request_id: _Optional[str] = ..., refresh_token: _Optional[str] = ..., client_ip: _Optional[str] = ..., user_agent: _Optional[str] = ...) -> None: ...

class RefreshSessionResponse(_message.Message):
    __slots__ = ("session_id", "session_token", "session_token_expires_at", "refresh_token", "refresh_token_expires_at")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SESSION_TOKEN_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    session_token: str
    session_token_expires_at: _timestamp_pb2.Timestamp
    refresh_token: str
    refresh_token_expires_at: _timestamp_pb2.Timestamp
    def __init__(self, session_id: _Optional[str] = ..., session_token: _Optional[str] = ..., session_token_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., refresh_token: _Optional[str] = ..., refresh_token_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class LogoutRequest(_message.Message):
    __slots__ = ("request_id",)
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    def __init__(self, request_id: _Optional[str] = ...) -> None: ...

class LogoutResponse(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: Session
    def __init__(self, session: _Optional[_Union[Session, _Mapping]] = ...) -> None: ...

class ListSessionsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "include_ended")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_ENDED_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    include_ended: bool
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., include_ended: _Optional[bool] = ...) -> None: ...

class ListSessionsResponse(_message.Message):
    __slots__ = ("sessions", "next_page_token")
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    sessions: _containers.RepeatedCompositeFieldContainer[Session]
    next_page_token: str
    def __init__(self, sessions: _Optional[_Iterable[_Union[Session, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RevokeSessionRequest(_message.Message):
    __slots__ = ("request_id", "session_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    session_id: str
    def __init__(self, request_id: _Optional[str] = ..., session_id: _Optional[str] = ...) -> None: ...

class RevokeSessionResponse(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: Session
    def __init__(self, session: _Optional[_Union[Session, _Mapping]] = ...) -> None: ...

class RegisterAgentRequest(_message.Message):
    __slots__ = ("request_id", "name", "description", "harness", "client_ip", "user_agent")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    HARNESS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_IP_FIELD_NUMBER: _ClassVar[int]
    USER_AGENT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    description: str
    harness: str
    client_ip: str
    user_agent: str
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., harness: _Optional[str] = ..., client_ip: _Optional[str] = ..., user_agent: _Optional[str] = ...) -> None: ...

class RegisterAgentResponse(_message.Message):
    __slots__ = ("agent", "key_id", "api_key", "key_prefix", "claim_code", "claim_code_expires_at", "wallet_id")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    KEY_PREFIX_FIELD_NUMBER: _ClassVar[int]
    CLAIM_CODE_FIELD_NUMBER: _ClassVar[int]
    CLAIM_CODE_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    WALLET_ID_FIELD_NUMBER: _ClassVar[int]
    agent: Agent
    key_id: str
    api_key: str
    key_prefix: str
    claim_code: str
    claim_code_expires_at: _timestamp_pb2.Timestamp
    wallet_id: str
    def __init__(self, agent: _Optional[_Union[Agent, _Mapping]] = ..., key_id: _Optional[str] = ..., api_key: _Optional[str] = ..., key_prefix: _Optional[str] = ..., claim_code: _Optional[str] = ..., claim_code_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., wallet_id: _Optional[str] = ...) -> None: ...

class RenewClaimCodeRequest(_message.Message):
    __slots__ = ("request_id",)
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    def __init__(self, request_id: _Optional[str] = ...) -> None: ...

class RenewClaimCodeResponse(_message.Message):
    __slots__ = ("claim_code", "claim_code_expires_at")
    CLAIM_CODE_FIELD_NUMBER: _ClassVar[int]
    CLAIM_CODE_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    claim_code: str
    claim_code_expires_at: _timestamp_pb2.Timestamp
    def __init__(self, claim_code: _Optional[str] = ..., claim_code_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ClaimAgentRequest(_message.Message):
    __slots__ = ("request_id", "claim_code", "client_ip")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CLAIM_CODE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_IP_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    claim_code: str
    client_ip: str
    def __init__(self, request_id: _Optional[str] = ..., claim_code: _Optional[str] = ..., client_ip: _Optional[str] = ...) -> None: ...

class ClaimAgentResponse(_message.Message):
    __slots__ = ("agent",)
    AGENT_FIELD_NUMBER: _ClassVar[int]
    agent: Agent
    def __init__(self, agent: _Optional[_Union[Agent, _Mapping]] = ...) -> None: ...

class GetMeRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetMeResponse(_message.Message):
    __slots__ = ("principal", "account", "agent")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    principal: Principal
    account: Account
    agent: Agent
    def __init__(self, principal: _Optional[_Union[Principal, _Mapping]] = ..., account: _Optional[_Union[Account, _Mapping]] = ..., agent: _Optional[_Union[Agent, _Mapping]] = ...) -> None: ...

class GetAgentRequest(_message.Message):
    __slots__ = ("agent_id",)
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    def __init__(self, agent_id: _Optional[str] = ...) -> None: ...

class GetAgentResponse(_message.Message):
    __slots__ = ("agent",)
    AGENT_FIELD_NUMBER: _ClassVar[int]
    agent: Agent
    def __init__(self, agent: _Optional[_Union[Agent, _Mapping]] = ...) -> None: ...

class ListAgentsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "owner_account_id", "lifecycle", "status", "min_trust_tier", "updated_after")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    OWNER_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    LIFECYCLE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MIN_TRUST_TIER_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AFTER_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    owner_account_id: str
    lifecycle: AgentLifecycle
    status: AgentStatus
    min_trust_tier: int
    updated_after: _timestamp_pb2.Timestamp
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., owner_account_id: _Optional[str] = ..., lifecycle: _Optional[_Union[AgentLifecycle, str]] = ..., status: _Optional[_Union[AgentStatus, str]] = ..., min_trust_tier: _Optional[int] = ..., updated_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListAgentsResponse(_message.Message):
    __slots__ = ("agents", "next_page_token")
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    agents: _containers.RepeatedCompositeFieldContainer[Agent]
    next_page_token: str
    def __init__(self, agents: _Optional[_Iterable[_Union[Agent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RekeyAgentRequest(_message.Message):
    __slots__ = ("request_id", "agent_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    agent_id: str
    def __init__(self, request_id: _Optional[str] = ..., agent_id: _Optional[str] = ...) -> None: ...

class RekeyAgentResponse(_message.Message):
    __slots__ = ("agent_id", "key_id", "api_key", "key_prefix", "revoked_key_ids")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    KEY_PREFIX_FIELD_NUMBER: _ClassVar[int]
    REVOKED_KEY_IDS_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    key_id: str
    api_key: str
    key_prefix: str
    revoked_key_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, agent_id: _Optional[str] = ..., key_id: _Optional[str] = ..., api_key: _Optional[str] = ..., key_prefix: _Optional[str] = ..., revoked_key_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class SuspendAgentRequest(_message.Message):
    __slots__ = ("request_id", "agent_id", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    agent_id: str
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class SuspendAgentResponse(_message.Message):
    __slots__ = ("agent",)
    AGENT_FIELD_NUMBER: _ClassVar[int]
    agent: Agent
    def __init__(self, agent: _Optional[_Union[Agent, _Mapping]] = ...) -> None: ...

class ReactivateAgentRequest(_message.Message):
    __slots__ = ("request_id", "agent_id", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    agent_id: str
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ReactivateAgentResponse(_message.Message):
    __slots__ = ("agent",)
    AGENT_FIELD_NUMBER: _ClassVar[int]
    agent: Agent
    def __init__(self, agent: _Optional[_Union[Agent, _Mapping]] = ...) -> None: ...

class SetAccountRoleRequest(_message.Message):
    __slots__ = ("request_id", "account_id", "role", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    account_id: str
    role: AccountRole
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., account_id: _Optional[str] = ..., role: _Optional[_Union[AccountRole, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class SetAccountRoleResponse(_message.Message):
    __slots__ = ("account", "previous_role")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_ROLE_FIELD_NUMBER: _ClassVar[int]
    account: Account
    previous_role: AccountRole
    def __init__(self, account: _Optional[_Union[Account, _Mapping]] = ..., previous_role: _Optional[_Union[AccountRole, str]] = ...) -> None: ...

class SetTrustTierRequest(_message.Message):
    __slots__ = ("request_id", "agent_id", "trust_tier", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    TRUST_TIER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    agent_id: str
    trust_tier: int
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., trust_tier: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class SetTrustTierResponse(_message.Message):
    __slots__ = ("agent", "previous_trust_tier")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_TRUST_TIER_FIELD_NUMBER: _ClassVar[int]
    agent: Agent
    previous_trust_tier: int
    def __init__(self, agent: _Optional[_Union[Agent, _Mapping]] = ..., previous_trust_tier: _Optional[int] = ...) -> None: ...

class GetTrustTierRequest(_message.Message):
    __slots__ = ("agent_id",)
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    def __init__(self, agent_id: _Optional[str] = ...) -> None: ...

class GetTrustTierResponse(_message.Message):
    __slots__ = ("agent_id", "trust_tier", "lifecycle", "status", "owner_account_id")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    TRUST_TIER_FIELD_NUMBER: _ClassVar[int]
    LIFECYCLE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OWNER_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    trust_tier: int
    lifecycle: AgentLifecycle
    status: AgentStatus
    owner_account_id: str
    def __init__(self, agent_id: _Optional[str] = ..., trust_tier: _Optional[int] = ..., lifecycle: _Optional[_Union[AgentLifecycle, str]] = ..., status: _Optional[_Union[AgentStatus, str]] = ..., owner_account_id: _Optional[str] = ...) -> None: ...

class CreateAdminAccountRequest(_message.Message):
    __slots__ = ("request_id", "email", "password", "display_name", "role")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    email: str
    password: str
    display_name: str
    role: AccountRole
    def __init__(self, request_id: _Optional[str] = ..., email: _Optional[str] = ..., password: _Optional[str] = ..., display_name: _Optional[str] = ..., role: _Optional[_Union[AccountRole, str]] = ...) -> None: ...

class CreateAdminAccountResponse(_message.Message):
    __slots__ = ("account", "wallet_id")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    WALLET_ID_FIELD_NUMBER: _ClassVar[int]
    account: Account
    wallet_id: str
    def __init__(self, account: _Optional[_Union[Account, _Mapping]] = ..., wallet_id: _Optional[str] = ...) -> None: ...

class AuthenticateRequest(_message.Message):
    __slots__ = ("credential", "agent_id", "client_ip", "user_agent", "audiences", "accepted_families")
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_IP_FIELD_NUMBER: _ClassVar[int]
    USER_AGENT_FIELD_NUMBER: _ClassVar[int]
    AUDIENCES_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FAMILIES_FIELD_NUMBER: _ClassVar[int]
    credential: str
    agent_id: str
    client_ip: str
    user_agent: str
    audiences: _containers.RepeatedScalarFieldContainer[Audience]
    accepted_families: _containers.RepeatedScalarFieldContainer[CredentialFamily]
    def __init__(self, credential: _Optional[str] = ..., agent_id: _Optional[str] = ..., client_ip: _Optional[str] = ..., user_agent: _Optional[str] = ..., audiences: _Optional[_Iterable[_Union[Audience, str]]] = ..., accepted_families: _Optional[_Iterable[_Union[CredentialFamily, str]]] = ...) -> None: ...

class AuthenticateResponse(_message.Message):
    __slots__ = ("principal", "access_token", "access_token_expires_at", "cache_for")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    CACHE_FOR_FIELD_NUMBER: _ClassVar[int]
    principal: Principal
    access_token: str
    access_token_expires_at: _timestamp_pb2.Timestamp
    cache_for: _duration_pb2.Duration
    def __init__(self, principal: _Optional[_Union[Principal, _Mapping]] = ..., access_token: _Optional[str] = ..., access_token_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cache_for: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class IssueServiceTokenRequest(_message.Message):
    __slots__ = ("audiences",)
    AUDIENCES_FIELD_NUMBER: _ClassVar[int]
    audiences: _containers.RepeatedScalarFieldContainer[Audience]
    def __init__(self, audiences: _Optional[_Iterable[_Union[Audience, str]]] = ...) -> None: ...

class IssueServiceTokenResponse(_message.Message):
    __slots__ = ("access_token", "expires_at")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, access_token: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetPublicKeysRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetPublicKeysResponse(_message.Message):
    __slots__ = ("keys", "issuer", "refresh_after")
    KEYS_FIELD_NUMBER: _ClassVar[int]
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    REFRESH_AFTER_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[PublicKey]
    issuer: str
    refresh_after: _duration_pb2.Duration
    def __init__(self, keys: _Optional[_Iterable[_Union[PublicKey, _Mapping]]] = ..., issuer: _Optional[str] = ..., refresh_after: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class RotateSigningKeyRequest(_message.Message):
    __slots__ = ("request_id", "compromised", "activate_after")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    COMPROMISED_FIELD_NUMBER: _ClassVar[int]
    ACTIVATE_AFTER_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    compromised: bool
    activate_after: _duration_pb2.Duration
    def __init__(self, request_id: _Optional[str] = ..., compromised: _Optional[bool] = ..., activate_after: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class RotateSigningKeyResponse(_message.Message):
    __slots__ = ("new_key", "previous_key", "activates_at")
    NEW_KEY_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_KEY_FIELD_NUMBER: _ClassVar[int]
    ACTIVATES_AT_FIELD_NUMBER: _ClassVar[int]
    new_key: PublicKey
    previous_key: PublicKey
    activates_at: _timestamp_pb2.Timestamp
    def __init__(self, new_key: _Optional[_Union[PublicKey, _Mapping]] = ..., previous_key: _Optional[_Union[PublicKey, _Mapping]] = ..., activates_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ResealSigningKeysRequest(_message.Message):
    __slots__ = ("request_id",)
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    def __init__(self, request_id: _Optional[str] = ...) -> None: ...

class ResealSigningKeysResponse(_message.Message):
    __slots__ = ("resealed", "already_current", "failed_key_ids")
    RESEALED_FIELD_NUMBER: _ClassVar[int]
    ALREADY_CURRENT_FIELD_NUMBER: _ClassVar[int]
    FAILED_KEY_IDS_FIELD_NUMBER: _ClassVar[int]
    resealed: int
    already_current: int
    failed_key_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, resealed: _Optional[int] = ..., already_current: _Optional[int] = ..., failed_key_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateIdentityTokenRequest(_message.Message):
    __slots__ = ("request_id", "audience", "ttl")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    audience: str
    ttl: _duration_pb2.Duration
    def __init__(self, request_id: _Optional[str] = ..., audience: _Optional[str] = ..., ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class CreateIdentityTokenResponse(_message.Message):
    __slots__ = ("identity_token", "identity_token_id", "audience", "expires_at", "agent")
    IDENTITY_TOKEN_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    identity_token: str
    identity_token_id: str
    audience: str
    expires_at: _timestamp_pb2.Timestamp
    agent: AgentIdentity
    def __init__(self, identity_token: _Optional[str] = ..., identity_token_id: _Optional[str] = ..., audience: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., agent: _Optional[_Union[AgentIdentity, _Mapping]] = ...) -> None: ...

class VerifyIdentityTokenRequest(_message.Message):
    __slots__ = ("request_id", "identity_token", "audience", "client_ip")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_TOKEN_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_IP_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    identity_token: str
    audience: str
    client_ip: str
    def __init__(self, request_id: _Optional[str] = ..., identity_token: _Optional[str] = ..., audience: _Optional[str] = ..., client_ip: _Optional[str] = ...) -> None: ...

class VerifyIdentityTokenResponse(_message.Message):
    __slots__ = ("valid", "invalid_reason", "agent", "verified_at")
    VALID_FIELD_NUMBER: _ClassVar[int]
    INVALID_REASON_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_AT_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    invalid_reason: IdentityTokenInvalidReason
    agent: AgentIdentity
    verified_at: _timestamp_pb2.Timestamp
    def __init__(self, valid: _Optional[bool] = ..., invalid_reason: _Optional[_Union[IdentityTokenInvalidReason, str]] = ..., agent: _Optional[_Union[AgentIdentity, _Mapping]] = ..., verified_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreditLimitUpdate(_message.Message):
    __slots__ = ("credit_limit_micros",)
    CREDIT_LIMIT_MICROS_FIELD_NUMBER: _ClassVar[int]
    credit_limit_micros: int
    def __init__(self, credit_limit_micros: _Optional[int] = ...) -> None: ...

class RateLimitUpdate(_message.Message):
    __slots__ = ("rate_limit_rpm",)
    RATE_LIMIT_RPM_FIELD_NUMBER: _ClassVar[int]
    rate_limit_rpm: int
    def __init__(self, rate_limit_rpm: _Optional[int] = ...) -> None: ...

class AllowedModelsUpdate(_message.Message):
    __slots__ = ("model_ids",)
    MODEL_IDS_FIELD_NUMBER: _ClassVar[int]
    model_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, model_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ExpiryUpdate(_message.Message):
    __slots__ = ("expires_at",)
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateKeyRequest(_message.Message):
    __slots__ = ("request_id", "agent_id", "family", "name", "credit_limit_micros", "rate_limit_rpm", "expires_in", "allowed_models")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREDIT_LIMIT_MICROS_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMIT_RPM_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_MODELS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    agent_id: str
    family: KeyFamily
    name: str
    credit_limit_micros: int
    rate_limit_rpm: int
    expires_in: _duration_pb2.Duration
    allowed_models: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, request_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., family: _Optional[_Union[KeyFamily, str]] = ..., name: _Optional[str] = ..., credit_limit_micros: _Optional[int] = ..., rate_limit_rpm: _Optional[int] = ..., expires_in: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., allowed_models: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateKeyResponse(_message.Message):
    __slots__ = ("key", "raw_key")
    KEY_FIELD_NUMBER: _ClassVar[int]
    RAW_KEY_FIELD_NUMBER: _ClassVar[int]
    key: ApiKey
    raw_key: str
    def __init__(self, key: _Optional[_Union[ApiKey, _Mapping]] = ..., raw_key: _Optional[str] = ...) -> None: ...

class ListKeysRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "agent_id", "families", "include_inactive")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    FAMILIES_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_INACTIVE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    agent_id: str
    families: _containers.RepeatedScalarFieldContainer[KeyFamily]
    include_inactive: bool
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., agent_id: _Optional[str] = ..., families: _Optional[_Iterable[_Union[KeyFamily, str]]] = ..., include_inactive: _Optional[bool] = ...) -> None: ...

class ListKeysResponse(_message.Message):
    __slots__ = ("keys", "next_page_token")
    KEYS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[ApiKey]
    next_page_token: str
    def __init__(self, keys: _Optional[_Iterable[_Union[ApiKey, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetKeyRequest(_message.Message):
    __slots__ = ("key_id",)
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    def __init__(self, key_id: _Optional[str] = ...) -> None: ...

class GetKeyResponse(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: ApiKey
    def __init__(self, key: _Optional[_Union[ApiKey, _Mapping]] = ...) -> None: ...

class UpdateKeyRequest(_message.Message):
    __slots__ = ("request_id", "key_id", "name", "credit_limit", "rate_limit", "allowed_models", "expiry")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREDIT_LIMIT_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_MODELS_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    key_id: str
    name: str
    credit_limit: CreditLimitUpdate
    rate_limit: RateLimitUpdate
    allowed_models: AllowedModelsUpdate
    expiry: ExpiryUpdate
    def __init__(self, request_id: _Optional[str] = ..., key_id: _Optional[str] = ..., name: _Optional[str] = ..., credit_limit: _Optional[_Union[CreditLimitUpdate, _Mapping]] = ..., rate_limit: _Optional[_Union[RateLimitUpdate, _Mapping]] = ..., allowed_models: _Optional[_Union[AllowedModelsUpdate, _Mapping]] = ..., expiry: _Optional[_Union[ExpiryUpdate, _Mapping]] = ...) -> None: ...

class UpdateKeyResponse(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: ApiKey
    def __init__(self, key: _Optional[_Union[ApiKey, _Mapping]] = ...) -> None: ...

class RevokeKeyRequest(_message.Message):
    __slots__ = ("request_id", "key_id", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    key_id: str
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., key_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RevokeKeyResponse(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: ApiKey
    def __init__(self, key: _Optional[_Union[ApiKey, _Mapping]] = ...) -> None: ...

class GetCurrentKeyRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetCurrentKeyResponse(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: ApiKey
    def __init__(self, key: _Optional[_Union[ApiKey, _Mapping]] = ...) -> None: ...

class ListAuditEventsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "account_id", "agent_id", "key_id", "event_types", "since", "until")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    account_id: str
    agent_id: str
    key_id: str
    event_types: _containers.RepeatedScalarFieldContainer[AuditEventType]
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., account_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., key_id: _Optional[str] = ..., event_types: _Optional[_Iterable[_Union[AuditEventType, str]]] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListAuditEventsResponse(_message.Message):
    __slots__ = ("events", "next_page_token")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[AuditEvent]
    next_page_token: str
    def __init__(self, events: _Optional[_Iterable[_Union[AuditEvent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

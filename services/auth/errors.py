"""The auth service's errors: one class per reason named in auth.proto's Errors lines.

::

    TokenMartError (services.common.errors)
    ├── InvalidArgument
    │   ├── FieldInvalid                FIELD_INVALID (metadata "field")
    │   ├── EnumValueUnspecified        ENUM_VALUE_UNSPECIFIED (metadata "field")
    │   ├── PageSizeInvalid             PAGE_SIZE_INVALID
    │   ├── PageTokenInvalid            PAGE_TOKEN_INVALID
    │   ├── EmailInvalid                EMAIL_INVALID
    │   ├── PasswordInvalid             PASSWORD_INVALID
    │   ├── DisplayNameInvalid          DISPLAY_NAME_INVALID
    │   ├── ClientIpInvalid             CLIENT_IP_INVALID
    │   ├── AgentNameInvalid            AGENT_NAME_INVALID
    │   ├── DescriptionInvalid          DESCRIPTION_INVALID
    │   ├── HarnessInvalid              HARNESS_INVALID
    │   ├── ClaimCodeMalformed          CLAIM_CODE_MALFORMED
    │   ├── TrustTierInvalid            TRUST_TIER_INVALID
    │   ├── ReasonRequired              REASON_REQUIRED
    │   ├── ReasonInvalid               REASON_INVALID
    │   ├── RoleInvalid                 ROLE_INVALID
    │   ├── AgentIdInvalid              AGENT_ID_INVALID
    │   ├── AudienceInvalid             AUDIENCE_INVALID
    │   ├── ActivateAfterInvalid        ACTIVATE_AFTER_INVALID
    │   ├── TtlInvalid                  TTL_INVALID
    │   ├── IdentityTokenRequired       IDENTITY_TOKEN_REQUIRED
    │   ├── KeyNameInvalid              KEY_NAME_INVALID
    │   ├── KeyFamilyNotCreatable       KEY_FAMILY_NOT_CREATABLE
    │   ├── CreditLimitInvalid          CREDIT_LIMIT_INVALID
    │   ├── RateLimitInvalid            RATE_LIMIT_INVALID
    │   ├── ExpiryInvalid               EXPIRY_INVALID
    │   ├── AllowedModelsInvalid        ALLOWED_MODELS_INVALID
    │   ├── NoFieldsToUpdate            NO_FIELDS_TO_UPDATE
    │   ├── LimitsNotApplicable         LIMITS_NOT_APPLICABLE
    │   └── TimeRangeInvalid            TIME_RANGE_INVALID
    ├── Unauthenticated
    │   ├── AccessTokenMissing          ACCESS_TOKEN_MISSING
    │   ├── AccessTokenInvalid          ACCESS_TOKEN_INVALID
    │   ├── AccessTokenExpired          ACCESS_TOKEN_EXPIRED
    │   ├── InvalidCredentials          INVALID_CREDENTIALS
    │   ├── RefreshTokenInvalid         REFRESH_TOKEN_INVALID
    │   ├── RefreshTokenExpired         REFRESH_TOKEN_EXPIRED
    │   ├── RefreshTokenReused          REFRESH_TOKEN_REUSED
    │   ├── SessionRevoked              SESSION_REVOKED
    │   ├── CredentialMissing           CREDENTIAL_MISSING
    │   ├── CredentialMalformed         CREDENTIAL_MALFORMED
    │   ├── CredentialChecksumInvalid   CREDENTIAL_CHECKSUM_INVALID
    │   ├── CredentialNotBearer         CREDENTIAL_NOT_BEARER
    │   ├── CredentialNotFound          CREDENTIAL_NOT_FOUND
    │   ├── CredentialRevoked           CREDENTIAL_REVOKED
    │   ├── CredentialExpired           CREDENTIAL_EXPIRED
    │   └── AgentSuspendedCredential    AGENT_SUSPENDED   (a key of a suspended agent)
    ├── PermissionDenied
    │   ├── ScopeMissing                SCOPE_MISSING (metadata "scope")
    │   ├── CredentialFamilyNotAccepted CREDENTIAL_FAMILY_NOT_ACCEPTED
    │   ├── AgentNotOwned               AGENT_NOT_OWNED
    │   ├── AgentHeaderMismatch         AGENT_HEADER_MISMATCH
    │   ├── AgentSuspendedActing        AGENT_SUSPENDED   (a session naming a suspended agent)
    │   ├── OwnerFilterNotAllowed       OWNER_FILTER_NOT_ALLOWED
    │   └── LimitExceedsCaller          LIMIT_EXCEEDS_CALLER (metadata "limit")
    ├── NotFound
    │   ├── SessionNotFound             SESSION_NOT_FOUND
    │   ├── ClaimCodeInvalid            CLAIM_CODE_INVALID
    │   ├── AgentNotFound               AGENT_NOT_FOUND
    │   ├── AccountNotFound             ACCOUNT_NOT_FOUND
    │   └── KeyNotFound                 KEY_NOT_FOUND
    ├── AlreadyExists
    │   ├── EmailTaken                  EMAIL_TAKEN
    │   └── AgentNameTaken              AGENT_NAME_TAKEN
    ├── FailedPrecondition
    │   ├── NotASession                 NOT_A_SESSION
    │   ├── AgentAlreadyClaimed         AGENT_ALREADY_CLAIMED
    │   ├── AgentRequired               AGENT_REQUIRED
    │   ├── AgentSuspended              AGENT_SUSPENDED   (claim, rekey)
    │   ├── AgentNotClaimed             AGENT_NOT_CLAIMED
    │   ├── LastSuperAdmin              LAST_SUPER_ADMIN
    │   ├── RotationInProgress          ROTATION_IN_PROGRESS
    │   ├── KeyRevoked                  KEY_REVOKED
    │   ├── CannotRevokeCurrentKey      CANNOT_REVOKE_CURRENT_KEY
    │   └── NotAKeyCredential           NOT_A_KEY_CREDENTIAL
    ├── Aborted
    │   ├── RefreshRaceLost             REFRESH_RACE_LOST
    │   └── KeyUpdateConflict           KEY_UPDATE_CONFLICT
    ├── ResourceExhausted               (each with metadata "retry_after_s" where it applies)
    │   ├── LoginLockedOut              LOGIN_LOCKED_OUT
    │   ├── RegistrationRateLimited     REGISTRATION_RATE_LIMITED
    │   ├── ClaimCodeRateLimited        CLAIM_CODE_RATE_LIMITED
    │   ├── ClaimAttemptsExceeded       CLAIM_ATTEMPTS_EXCEEDED
    │   └── KeyCountExceeded            KEY_COUNT_EXCEEDED
    └── Unavailable
        ├── WalletUnavailable           WALLET_UNAVAILABLE
        └── DatabaseUnavailable         DATABASE_UNAVAILABLE

AGENT_SUSPENDED appears under three codes because the proto gives it three meanings: a key that
cannot authenticate (UNAUTHENTICATED), a session that may not act as the agent
(PERMISSION_DENIED), and an operation the agent's state forbids (FAILED_PRECONDITION).

Messages are fixed texts: they never contain a value the caller sent (it might be a secret).
"""

from __future__ import annotations

from services.common.errors import (
    Aborted,
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    TokenMartError,
    Unauthenticated,
    Unavailable,
)

# -- INVALID_ARGUMENT ---------------------------------------------------------------------------


class FieldInvalid(InvalidArgument):
    reason = "FIELD_INVALID"
    default_message = "a field has an invalid format"

    def __init__(self, field: str, message: str | None = None) -> None:
        super().__init__(message or f"{field} has an invalid format", metadata={"field": field})


class EnumValueUnspecified(InvalidArgument):
    reason = "ENUM_VALUE_UNSPECIFIED"
    default_message = "an enum field is unspecified"

    def __init__(self, field: str) -> None:
        super().__init__(f"{field} must not be UNSPECIFIED", metadata={"field": field})


class PageSizeInvalid(InvalidArgument):
    reason = "PAGE_SIZE_INVALID"
    default_message = "page_size must not be negative"


class PageTokenInvalid(InvalidArgument):
    reason = "PAGE_TOKEN_INVALID"
    default_message = "page_token does not come from the previous page of this same list"


class EmailInvalid(InvalidArgument):
    reason = "EMAIL_INVALID"
    default_message = "email must be a single address of at most 254 characters"


class PasswordInvalid(InvalidArgument):
    reason = "PASSWORD_INVALID"
    default_message = "password must have 12 to 1024 characters"


class DisplayNameInvalid(InvalidArgument):
    reason = "DISPLAY_NAME_INVALID"
    default_message = "display_name must have at most 100 characters and no control characters"


class ClientIpInvalid(InvalidArgument):
    reason = "CLIENT_IP_INVALID"
    default_message = "client_ip must be an IPv4 or IPv6 address"


class AgentNameInvalid(InvalidArgument):
    reason = "AGENT_NAME_INVALID"
    default_message = "name must match ^[A-Za-z0-9_-]{2,64}$"


class DescriptionInvalid(InvalidArgument):
    reason = "DESCRIPTION_INVALID"
    default_message = "description must have at most 500 characters"


class HarnessInvalid(InvalidArgument):
    reason = "HARNESS_INVALID"
    default_message = "harness must match ^[a-z0-9_-]{0,32}$"


class ClaimCodeMalformed(InvalidArgument):
    reason = "CLAIM_CODE_MALFORMED"
    default_message = "the claim code is malformed or mistyped"


class TrustTierInvalid(InvalidArgument):
    reason = "TRUST_TIER_INVALID"
    default_message = "trust tiers are 0 to 3"


class ReasonRequired(InvalidArgument):
    reason = "REASON_REQUIRED"
    default_message = "a reason of 1 to 500 characters is required"


class ReasonInvalid(InvalidArgument):
    reason = "REASON_INVALID"
    default_message = "reason must have at most 500 characters"


class RoleInvalid(InvalidArgument):
    reason = "ROLE_INVALID"
    default_message = "role must be ACCOUNT_ROLE_ADMIN or ACCOUNT_ROLE_SUPER_ADMIN"


class AgentIdInvalid(InvalidArgument):
    reason = "AGENT_ID_INVALID"
    default_message = "agent_id must be a UUID"


class AudienceInvalid(InvalidArgument):
    reason = "AUDIENCE_INVALID"
    default_message = "the audience is empty, repeated, too long or has whitespace"


class ActivateAfterInvalid(InvalidArgument):
    reason = "ACTIVATE_AFTER_INVALID"
    default_message = "activate_after must be between 0 and one hour"


class TtlInvalid(InvalidArgument):
    reason = "TTL_INVALID"
    default_message = "ttl must be between 30 seconds and 10 minutes"


class IdentityTokenRequired(InvalidArgument):
    reason = "IDENTITY_TOKEN_REQUIRED"
    default_message = "identity_token is required"


class KeyNameInvalid(InvalidArgument):
    reason = "KEY_NAME_INVALID"
    default_message = "name must have 1 to 100 characters"


class KeyFamilyNotCreatable(InvalidArgument):
    reason = "KEY_FAMILY_NOT_CREATABLE"
    default_message = "tokenmart_ keys come only from agent registration and rekey"


class CreditLimitInvalid(InvalidArgument):
    reason = "CREDIT_LIMIT_INVALID"
    default_message = "credit_limit_micros must be between 0 and 10^15"


class RateLimitInvalid(InvalidArgument):
    reason = "RATE_LIMIT_INVALID"
    default_message = "rate_limit_rpm must be between 1 and 100000"


class ExpiryInvalid(InvalidArgument):
    reason = "EXPIRY_INVALID"
    default_message = "the expiry must be in the future and at most 365 days away"


class AllowedModelsInvalid(InvalidArgument):
    reason = "ALLOWED_MODELS_INVALID"
    default_message = "allowed_models takes at most 100 distinct ids matching ^[a-z0-9._/-]{1,128}$"


class NoFieldsToUpdate(InvalidArgument):
    reason = "NO_FIELDS_TO_UPDATE"
    default_message = "set at least one field to update"


class LimitsNotApplicable(InvalidArgument):
    reason = "LIMITS_NOT_APPLICABLE"
    default_message = "tokenmart_ keys take only a rate limit and an expiry"


class TimeRangeInvalid(InvalidArgument):
    reason = "TIME_RANGE_INVALID"
    default_message = "since must not be after until"


# -- UNAUTHENTICATED ----------------------------------------------------------------------------


class AccessTokenMissing(Unauthenticated):
    reason = "ACCESS_TOKEN_MISSING"
    default_message = "an access token is required"


class AccessTokenInvalid(Unauthenticated):
    reason = "ACCESS_TOKEN_INVALID"
    default_message = "the access token is invalid"


class AccessTokenExpired(Unauthenticated):
    reason = "ACCESS_TOKEN_EXPIRED"
    default_message = "the access token has expired"


class InvalidCredentials(Unauthenticated):
    reason = "INVALID_CREDENTIALS"
    default_message = "invalid email or password"


class RefreshTokenInvalid(Unauthenticated):
    reason = "REFRESH_TOKEN_INVALID"
    default_message = "the refresh token is invalid"


class RefreshTokenExpired(Unauthenticated):
    reason = "REFRESH_TOKEN_EXPIRED"
    default_message = "the refresh token has expired; log in again"


class RefreshTokenReused(Unauthenticated):
    reason = "REFRESH_TOKEN_REUSED"
    default_message = "the refresh token was already used; the session has been revoked"


class SessionRevoked(Unauthenticated):
    reason = "SESSION_REVOKED"
    default_message = "the session has been revoked; log in again"


class CredentialMissing(Unauthenticated):
    reason = "CREDENTIAL_MISSING"
    default_message = "a credential is required"


class CredentialMalformed(Unauthenticated):
    reason = "CREDENTIAL_MALFORMED"
    default_message = "the credential is malformed"


class CredentialChecksumInvalid(Unauthenticated):
    reason = "CREDENTIAL_CHECKSUM_INVALID"
    default_message = "the credential is mistyped (checksum mismatch)"


class CredentialNotBearer(Unauthenticated):
    reason = "CREDENTIAL_NOT_BEARER"
    default_message = "this kind of token cannot authenticate a request"


class CredentialNotFound(Unauthenticated):
    reason = "CREDENTIAL_NOT_FOUND"
    default_message = "the credential is not valid"


class CredentialRevoked(Unauthenticated):
    reason = "CREDENTIAL_REVOKED"
    default_message = "the credential has been revoked"


class CredentialExpired(Unauthenticated):
    reason = "CREDENTIAL_EXPIRED"
    default_message = "the credential has expired"


class AgentSuspendedCredential(Unauthenticated):
    reason = "AGENT_SUSPENDED"
    default_message = "the agent is suspended"


# -- PERMISSION_DENIED --------------------------------------------------------------------------


class ScopeMissing(PermissionDenied):
    reason = "SCOPE_MISSING"
    default_message = "the access token lacks the required scope"

    def __init__(self, scope: str) -> None:
        super().__init__(f"the access token lacks the scope {scope}", metadata={"scope": scope})


class CredentialFamilyNotAccepted(PermissionDenied):
    reason = "CREDENTIAL_FAMILY_NOT_ACCEPTED"
    default_message = "this route does not accept this kind of credential"


class AgentNotOwned(PermissionDenied):
    reason = "AGENT_NOT_OWNED"
    default_message = "X-Agent-Id names an agent this account does not own"


class AgentHeaderMismatch(PermissionDenied):
    reason = "AGENT_HEADER_MISMATCH"
    default_message = "X-Agent-Id differs from the key's own agent"


class AgentSuspendedActing(PermissionDenied):
    reason = "AGENT_SUSPENDED"
    default_message = "the agent is suspended"


class OwnerFilterNotAllowed(PermissionDenied):
    reason = "OWNER_FILTER_NOT_ALLOWED"
    default_message = "only admins may list another account's agents"


class LimitExceedsCaller(PermissionDenied):
    reason = "LIMIT_EXCEEDS_CALLER"
    default_message = "a management key may only grant limits within its own"

    def __init__(self, limit: str) -> None:
        super().__init__(
            f"{limit} exceeds the calling management key's own limit", metadata={"limit": limit}
        )


# -- NOT_FOUND ----------------------------------------------------------------------------------


class SessionNotFound(NotFound):
    reason = "SESSION_NOT_FOUND"
    default_message = "no such session"


class ClaimCodeInvalid(NotFound):
    reason = "CLAIM_CODE_INVALID"
    default_message = "the claim code is unknown, expired or already used"


class AgentNotFound(NotFound):
    reason = "AGENT_NOT_FOUND"
    default_message = "no such agent"


class AccountNotFound(NotFound):
    reason = "ACCOUNT_NOT_FOUND"
    default_message = "no such account"


class KeyNotFound(NotFound):
    reason = "KEY_NOT_FOUND"
    default_message = "no such key"


# -- ALREADY_EXISTS -----------------------------------------------------------------------------


class EmailTaken(AlreadyExists):
    reason = "EMAIL_TAKEN"
    default_message = "this email is already registered"


class AgentNameTaken(AlreadyExists):
    reason = "AGENT_NAME_TAKEN"
    default_message = "this agent name is taken"


# -- FAILED_PRECONDITION ------------------------------------------------------------------------


class NotASession(FailedPrecondition):
    reason = "NOT_A_SESSION"
    default_message = "the access token does not come from a session"


class AgentAlreadyClaimed(FailedPrecondition):
    reason = "AGENT_ALREADY_CLAIMED"
    default_message = "the agent already has an owner"


class AgentRequired(FailedPrecondition):
    reason = "AGENT_REQUIRED"
    default_message = "the access token acts as no agent"


class AgentSuspended(FailedPrecondition):
    reason = "AGENT_SUSPENDED"
    default_message = "the agent is suspended"


class AgentNotClaimed(FailedPrecondition):
    reason = "AGENT_NOT_CLAIMED"
    default_message = "the agent has not been claimed"


class LastSuperAdmin(FailedPrecondition):
    reason = "LAST_SUPER_ADMIN"
    default_message = "the change would leave no super_admin"


class RotationInProgress(FailedPrecondition):
    reason = "ROTATION_IN_PROGRESS"
    default_message = "a published signing key has not started signing yet"


class KeyRevoked(FailedPrecondition):
    reason = "KEY_REVOKED"
    default_message = "the key is revoked"


class CannotRevokeCurrentKey(FailedPrecondition):
    reason = "CANNOT_REVOKE_CURRENT_KEY"
    default_message = "a key cannot revoke itself"


class NotAKeyCredential(FailedPrecondition):
    reason = "NOT_A_KEY_CREDENTIAL"
    default_message = "the access token does not come from an API key"


# -- ABORTED ------------------------------------------------------------------------------------


class RefreshRaceLost(Aborted):
    reason = "REFRESH_RACE_LOST"
    default_message = "a concurrent refresh with the same token won; the session has been revoked"


class KeyUpdateConflict(Aborted):
    reason = "KEY_UPDATE_CONFLICT"
    default_message = "a concurrent change to the key won; re-read and retry"


# -- RESOURCE_EXHAUSTED -------------------------------------------------------------------------


class _RetryLater(ResourceExhausted):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(metadata={"retry_after_s": str(retry_after_s)})
        self.retry_after_s = retry_after_s


class LoginLockedOut(_RetryLater):
    reason = "LOGIN_LOCKED_OUT"
    default_message = "too many failed logins; try again later"


class RegistrationRateLimited(_RetryLater):
    reason = "REGISTRATION_RATE_LIMITED"
    default_message = "too many agents registered from this address; try again later"


class ClaimCodeRateLimited(_RetryLater):
    reason = "CLAIM_CODE_RATE_LIMITED"
    default_message = "claim codes were renewed too often; try again later"


class ClaimAttemptsExceeded(_RetryLater):
    reason = "CLAIM_ATTEMPTS_EXCEEDED"
    default_message = "too many claim attempts; try again later"


class KeyCountExceeded(ResourceExhausted):
    reason = "KEY_COUNT_EXCEEDED"
    default_message = "the agent already has the maximum number of unrevoked keys"


# -- UNAVAILABLE --------------------------------------------------------------------------------


class WalletUnavailable(Unavailable):
    reason = "WALLET_UNAVAILABLE"
    default_message = (
        "the wallet could not be opened; nothing was kept, retry with the same request_id"
    )


class DatabaseUnavailable(Unavailable):
    reason = "DATABASE_UNAVAILABLE"
    default_message = "the database is unavailable; retry with the same request_id"


_INVALID_BY_REASON: dict[str, type[InvalidArgument]] = {
    cls.reason: cls
    for cls in (
        PageSizeInvalid,
        PageTokenInvalid,
        EmailInvalid,
        PasswordInvalid,
        DisplayNameInvalid,
        ClientIpInvalid,
        AgentNameInvalid,
        DescriptionInvalid,
        HarnessInvalid,
        ClaimCodeMalformed,
        TrustTierInvalid,
        ReasonRequired,
        ReasonInvalid,
        RoleInvalid,
        AgentIdInvalid,
        AudienceInvalid,
        ActivateAfterInvalid,
        TtlInvalid,
        IdentityTokenRequired,
        KeyNameInvalid,
        KeyFamilyNotCreatable,
        CreditLimitInvalid,
        RateLimitInvalid,
        ExpiryInvalid,
        AllowedModelsInvalid,
        NoFieldsToUpdate,
        LimitsNotApplicable,
        TimeRangeInvalid,
    )
}


def invalid(reason: str, field: str) -> TokenMartError:
    """The INVALID_ARGUMENT error of a domain validation failure (``FIELD_INVALID`` if generic)."""
    error_class = _INVALID_BY_REASON.get(reason)
    if error_class is None:
        assert reason == FieldInvalid.reason, f"no error class for reason {reason}"
        return FieldInvalid(field)
    error = error_class()
    error.metadata.setdefault("field", field)
    return error

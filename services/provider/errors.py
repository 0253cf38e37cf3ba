"""The provider service's errors: one class per reason named in provider.proto's Errors lines.

::

    TokenMartError (services.common.errors)
    ├── InvalidArgument
    │   ├── FieldInvalid                FIELD_INVALID (metadata "field")
    │   ├── EnumValueUnspecified        ENUM_VALUE_UNSPECIFIED (metadata "field")
    │   ├── PageSizeInvalid             PAGE_SIZE_INVALID
    │   ├── PageTokenInvalid            PAGE_TOKEN_INVALID
    │   ├── ModelIdInvalid              MODEL_ID_INVALID
    │   ├── DisplayNameInvalid          DISPLAY_NAME_INVALID
    │   ├── UpstreamModelRequired       UPSTREAM_MODEL_REQUIRED
    │   ├── PriceNotPositive            PRICE_NOT_POSITIVE (metadata "field")
    │   ├── PriceTooLarge               PRICE_TOO_LARGE (metadata "field")
    │   ├── ContextLengthInvalid        CONTEXT_LENGTH_INVALID
    │   ├── MaxOutputTokensInvalid      MAX_OUTPUT_TOKENS_INVALID
    │   ├── BodyTooLarge                BODY_TOO_LARGE
    │   ├── BodyInvalid                 BODY_INVALID (metadata "field" when one is to blame)
    │   ├── ModelMismatch               MODEL_MISMATCH
    │   ├── StreamFlagMismatch          STREAM_FLAG_MISMATCH
    │   ├── CapabilityNotSupported      CAPABILITY_NOT_SUPPORTED (metadata "capability")
    │   ├── MaxTokensInvalid            MAX_TOKENS_INVALID
    │   ├── ContextLengthExceeded       CONTEXT_LENGTH_EXCEEDED
    │   ├── UpstreamBadRequest          UPSTREAM_BAD_REQUEST (upstream metadata)
    │   ├── GenerationIdInvalid         GENERATION_ID_INVALID
    │   ├── KeyIdInvalid                KEY_ID_INVALID
    │   ├── TimeRangeInvalid            TIME_RANGE_INVALID
    │   ├── SecretInvalid               SECRET_INVALID
    │   ├── LabelInvalid                LABEL_INVALID
    │   ├── MaxKeysInvalid              MAX_KEYS_INVALID
    │   ├── OlderThanInvalid            OLDER_THAN_INVALID
    │   └── LimitInvalid                LIMIT_INVALID
    ├── PermissionDenied
    │   ├── ModelNotAllowed             MODEL_NOT_ALLOWED
    │   └── AccountSessionRequired      ACCOUNT_SESSION_REQUIRED
    ├── NotFound
    │   ├── ModelNotFound               MODEL_NOT_FOUND
    │   ├── GenerationNotFound          GENERATION_NOT_FOUND
    │   └── ProviderKeyNotFound         PROVIDER_KEY_NOT_FOUND
    ├── AlreadyExists
    │   ├── GenerationExists            GENERATION_EXISTS (metadata "generation_id")
    │   └── ProviderKeyExists           PROVIDER_KEY_EXISTS (metadata "provider_key_id")
    ├── FailedPrecondition
    │   ├── InsufficientFunds           INSUFFICIENT_FUNDS
    │   ├── KeyBudgetExceeded           KEY_BUDGET_EXCEEDED
    │   ├── WalletNotFound              WALLET_NOT_FOUND
    │   ├── NoProviderKey               NO_PROVIDER_KEY
    │   ├── ByokDecryptionFailed        BYOK_DECRYPTION_FAILED
    │   ├── UpstreamAuthFailed          UPSTREAM_AUTH_FAILED (upstream metadata)
    │   ├── UpstreamPaymentRequired     UPSTREAM_PAYMENT_REQUIRED (upstream metadata)
    │   ├── AgentRequired               AGENT_REQUIRED
    │   └── KekVersionUnknown           KEK_VERSION_UNKNOWN
    ├── Aborted
    │   └── ModelRevisionMismatch       MODEL_REVISION_MISMATCH
    ├── ResourceExhausted
    │   └── UpstreamRateLimited         UPSTREAM_RATE_LIMITED (upstream metadata)
    ├── Unavailable
    │   ├── UpstreamUnavailable         UPSTREAM_UNAVAILABLE (upstream metadata)
    │   ├── WalletUnavailable           WALLET_UNAVAILABLE
    │   └── DatabaseUnavailable         DATABASE_UNAVAILABLE
    └── DeadlineExceeded
        └── UpstreamTimeout             UPSTREAM_TIMEOUT (upstream metadata)

Upstream errors keep upstream's meaning but never its status code as ours: an upstream 401 is
UPSTREAM_AUTH_FAILED (FAILED_PRECONDITION), never UNAUTHENTICATED, and an upstream 402 is
UPSTREAM_PAYMENT_REQUIRED, never INSUFFICIENT_FUNDS. Their ErrorInfo metadata carries
``upstream_status``, ``upstream_type`` and ``upstream_message`` (sanitised: the provider secret
that was sent and anything shaped like a credential are removed, and it is cut to 500
characters).

Messages are fixed texts: they never contain a value the caller sent (it might be a secret).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import grpc

from services.common.errors import (
    Aborted,
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    TokenMartError,
    Unavailable,
)


class DeadlineExceeded(TokenMartError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED
    reason = "DEADLINE_EXCEEDED"
    default_message = "the deadline passed"


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


class ModelIdInvalid(InvalidArgument):
    reason = "MODEL_ID_INVALID"
    default_message = "model_id must match ^[a-z0-9][a-z0-9._-]{0,63}/[a-z0-9][a-z0-9._:-]{0,127}$"


class DisplayNameInvalid(InvalidArgument):
    reason = "DISPLAY_NAME_INVALID"
    default_message = "display_name must have 1 to 200 characters and no control characters"


class UpstreamModelRequired(InvalidArgument):
    reason = "UPSTREAM_MODEL_REQUIRED"
    default_message = "upstream_model must have 1 to 200 characters and no whitespace"


class PriceNotPositive(InvalidArgument):
    reason = "PRICE_NOT_POSITIVE"
    default_message = "prices must be positive: no model is free by mistake"

    def __init__(self, field: str) -> None:
        super().__init__(f"{field} must be positive", metadata={"field": field})


class PriceTooLarge(InvalidArgument):
    reason = "PRICE_TOO_LARGE"
    default_message = "prices must be at most 10^12 micro-credits per million tokens"

    def __init__(self, field: str) -> None:
        super().__init__(f"{field} must be at most 10^12", metadata={"field": field})


class ContextLengthInvalid(InvalidArgument):
    reason = "CONTEXT_LENGTH_INVALID"
    default_message = "context_length must be between 1 and 10,000,000"


class MaxOutputTokensInvalid(InvalidArgument):
    reason = "MAX_OUTPUT_TOKENS_INVALID"
    default_message = "max_output_tokens must be between 1 and context_length"


class BodyTooLarge(InvalidArgument):
    reason = "BODY_TOO_LARGE"
    default_message = "the request body is too large"


class BodyInvalid(InvalidArgument):
    reason = "BODY_INVALID"
    default_message = "the request body is invalid"

    def __init__(self, message: str | None = None, *, field: str | None = None) -> None:
        super().__init__(message, metadata={"field": field} if field else None)


class ModelMismatch(InvalidArgument):
    reason = "MODEL_MISMATCH"
    default_message = "model must equal the model named in the body"


class StreamFlagMismatch(InvalidArgument):
    reason = "STREAM_FLAG_MISMATCH"
    default_message = "the body's stream flag does not match the RPC"


class CapabilityNotSupported(InvalidArgument):
    reason = "CAPABILITY_NOT_SUPPORTED"
    default_message = "the model does not support what the request needs"

    def __init__(self, capability: str) -> None:
        super().__init__(
            f"the model does not support {capability}", metadata={"capability": capability}
        )


class MaxTokensInvalid(InvalidArgument):
    reason = "MAX_TOKENS_INVALID"
    default_message = "the requested output limit must be a positive integer"


class ContextLengthExceeded(InvalidArgument):
    reason = "CONTEXT_LENGTH_EXCEEDED"
    default_message = "the input is longer than the model's context"


class GenerationIdInvalid(InvalidArgument):
    reason = "GENERATION_ID_INVALID"
    default_message = 'generation_id must be a UUID or "gen-" followed by a UUID'


class KeyIdInvalid(InvalidArgument):
    reason = "KEY_ID_INVALID"
    default_message = "key_id must be a UUID"


class TimeRangeInvalid(InvalidArgument):
    reason = "TIME_RANGE_INVALID"
    default_message = "since must not be in the future"


class SecretInvalid(InvalidArgument):
    reason = "SECRET_INVALID"
    default_message = "the secret must have 8 to 512 characters without whitespace or controls"


class LabelInvalid(InvalidArgument):
    reason = "LABEL_INVALID"
    default_message = "label must have at most 100 characters and no control characters"


class MaxKeysInvalid(InvalidArgument):
    reason = "MAX_KEYS_INVALID"
    default_message = "max_keys must not be negative"


class OlderThanInvalid(InvalidArgument):
    reason = "OLDER_THAN_INVALID"
    default_message = "older_than must not be negative"


class LimitInvalid(InvalidArgument):
    reason = "LIMIT_INVALID"
    default_message = "limit must not be negative"


# -- PERMISSION_DENIED --------------------------------------------------------------------------


class ModelNotAllowed(PermissionDenied):
    reason = "MODEL_NOT_ALLOWED"
    default_message = "this key may not use that model"


class AccountSessionRequired(PermissionDenied):
    reason = "ACCOUNT_SESSION_REQUIRED"
    default_message = "only an account session manages account-scoped provider keys"


# -- NOT_FOUND ----------------------------------------------------------------------------------


class ModelNotFound(NotFound):
    reason = "MODEL_NOT_FOUND"
    default_message = "no such model in the active registry"


class GenerationNotFound(NotFound):
    reason = "GENERATION_NOT_FOUND"
    default_message = "no such generation"


class ProviderKeyNotFound(NotFound):
    reason = "PROVIDER_KEY_NOT_FOUND"
    default_message = "no such provider key"


# -- ALREADY_EXISTS -----------------------------------------------------------------------------


class GenerationExists(AlreadyExists):
    reason = "GENERATION_EXISTS"
    default_message = (
        "this request_id already started a generation; it is neither repeated nor charged again"
    )

    def __init__(self, generation_id: str) -> None:
        super().__init__(metadata={"generation_id": generation_id})


class ProviderKeyExists(AlreadyExists):
    reason = "PROVIDER_KEY_EXISTS"
    default_message = "a key for this provider exists; set replace_existing to replace it"

    def __init__(self, provider_key_id: str) -> None:
        super().__init__(metadata={"provider_key_id": provider_key_id})


# -- FAILED_PRECONDITION ------------------------------------------------------------------------


class InsufficientFunds(FailedPrecondition):
    reason = "INSUFFICIENT_FUNDS"
    default_message = "the wallet cannot cover the worst-case cost of this request"


class KeyBudgetExceeded(FailedPrecondition):
    reason = "KEY_BUDGET_EXCEEDED"
    default_message = "the key's credit limit cannot cover the worst-case cost of this request"


class WalletNotFound(FailedPrecondition):
    reason = "WALLET_NOT_FOUND"
    default_message = "the agent has no wallet"


class NoProviderKey(FailedPrecondition):
    reason = "NO_PROVIDER_KEY"
    default_message = "no provider key is available for this model's provider"


class ByokDecryptionFailed(FailedPrecondition):
    reason = "BYOK_DECRYPTION_FAILED"
    default_message = (
        "the provider key stored for this request cannot be decrypted; it was not replaced by "
        "another key"
    )


class AgentRequired(FailedPrecondition):
    reason = "AGENT_REQUIRED"
    default_message = "an agent-scoped key needs an acting agent"


class KekVersionUnknown(FailedPrecondition):
    reason = "KEK_VERSION_UNKNOWN"
    default_message = "that key-encryption key version is not configured"


# -- ABORTED ------------------------------------------------------------------------------------


class ModelRevisionMismatch(Aborted):
    reason = "MODEL_REVISION_MISMATCH"
    default_message = "the model changed since it was read; re-read and retry"


# -- UNAVAILABLE --------------------------------------------------------------------------------


class WalletUnavailable(Unavailable):
    reason = "WALLET_UNAVAILABLE"
    default_message = "the wallet service cannot be reached; nothing was charged, retry later"


class DatabaseUnavailable(Unavailable):
    reason = "DATABASE_UNAVAILABLE"
    default_message = "the database is unavailable; retry with the same request_id"


# -- upstream failures --------------------------------------------------------------------------


@dataclass(frozen=True)
class UpstreamFailure:
    """What upstream said when it refused, already sanitised (see the module docstring)."""

    status: int
    """The upstream HTTP status; 0 when upstream was not reached."""
    type: str
    message: str

    def metadata(self) -> dict[str, str]:
        return {
            "upstream_status": str(self.status),
            "upstream_type": self.type,
            "upstream_message": self.message,
        }


class UpstreamError(TokenMartError):
    """Base of the errors that say "upstream refused"; not raised itself."""

    fallback_allowed: ClassVar[bool] = False
    """Whether the next key in priority order may be tried after this failure."""

    def __init__(self, failure: UpstreamFailure, message: str | None = None) -> None:
        super().__init__(message, metadata=failure.metadata())
        self.failure = failure


class UpstreamBadRequest(UpstreamError, InvalidArgument):
    reason = "UPSTREAM_BAD_REQUEST"
    default_message = "the upstream provider rejected the request"


class UpstreamAuthFailed(UpstreamError, FailedPrecondition):
    reason = "UPSTREAM_AUTH_FAILED"
    default_message = "the upstream provider rejected the provider key"
    fallback_allowed = True


class UpstreamPaymentRequired(UpstreamError, FailedPrecondition):
    reason = "UPSTREAM_PAYMENT_REQUIRED"
    default_message = "the upstream provider account is out of funds"
    fallback_allowed = True


class UpstreamRateLimited(UpstreamError, ResourceExhausted):
    reason = "UPSTREAM_RATE_LIMITED"
    default_message = "the upstream provider is rate limiting; retry later"
    fallback_allowed = True


class UpstreamUnavailable(UpstreamError, Unavailable):
    reason = "UPSTREAM_UNAVAILABLE"
    default_message = "the upstream provider is unavailable; retry later"
    fallback_allowed = True


class UpstreamTimeout(UpstreamError, DeadlineExceeded):
    reason = "UPSTREAM_TIMEOUT"
    default_message = "the upstream provider did not answer in time"
    fallback_allowed = True


def upstream_error_for(failure: UpstreamFailure) -> UpstreamError:
    """The error for an upstream HTTP status (0: not reached) as provider.proto maps it."""
    status = failure.status
    if status in (401, 403):
        return UpstreamAuthFailed(failure)
    if status == 402:
        return UpstreamPaymentRequired(failure)
    if status == 429:
        return UpstreamRateLimited(failure)
    if status in (408, 504):
        return UpstreamTimeout(failure)
    if 400 <= status < 500:
        return UpstreamBadRequest(failure)
    return UpstreamUnavailable(failure)


def reasons() -> Mapping[str, type[TokenMartError]]:
    """Every reason this module defines → its class (for the contract test)."""
    found: dict[str, type[TokenMartError]] = {}
    pending: list[type[TokenMartError]] = [TokenMartError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__ == __name__ and cls not in (UpstreamError, DeadlineExceeded):
            found[cls.reason] = cls
    return found


_REASONS: dict[str, type[TokenMartError]] = {}


def from_invalid(reason: str, message: str | None, metadata: Mapping[str, str]) -> TokenMartError:
    """The error for a domain rule broken with ``reason`` (see ``domain/validation.py``)."""
    if not _REASONS:
        _REASONS.update(reasons())
    cls = _REASONS[reason]
    error = cls.__new__(cls)
    TokenMartError.__init__(error, message, metadata=metadata)
    return error

"""Input rules of auth.proto, as pure checks that name the reason a violation answers with.

Each check returns the normalised value or raises :class:`Invalid` carrying the UPPER_SNAKE reason
of the proto's Errors line and the offending field; the API layer turns it into the matching
INVALID_ARGUMENT error. Values are never echoed in the message.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
import unicodedata
import uuid

EMAIL_MAX_CHARS = 254
DISPLAY_NAME_MAX_CHARS = 100
DESCRIPTION_MAX_CHARS = 500
REASON_MAX_CHARS = 500
USER_AGENT_MAX_CHARS = 512
AUDIENCE_MAX_CHARS = 255
KEY_NAME_MAX_CHARS = 100
ALLOWED_MODELS_MAX = 100
CREDIT_LIMIT_MAX_MICROS = 10**15
RATE_LIMIT_MAX_RPM = 100_000
KEY_LIFETIME_MAX = datetime.timedelta(days=365)
TRUST_TIER_MAX = 3

_LOCAL_PART = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}$")
_DOMAIN_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_AGENT_NAME = re.compile(r"^[A-Za-z0-9_-]{2,64}$")
_HARNESS = re.compile(r"^[a-z0-9_-]{0,32}$")
_MODEL_ID = re.compile(r"^[a-z0-9._/-]{1,128}$")
_CANONICAL_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class Invalid(ValueError):
    """A field breaks its rule; ``reason`` is the proto's UPPER_SNAKE reason."""

    def __init__(self, reason: str, field: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.reason = reason
        self.field = field


def has_control_characters(text: str) -> bool:
    return any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in text)


def normalise_email(raw: str) -> str:
    """Trimmed and lowercased; one address, ``local@domain.tld``, at most 254 characters."""
    email = raw.strip().lower()
    if not email or len(email) > EMAIL_MAX_CHARS or not email.isascii():
        raise Invalid("EMAIL_INVALID", "email")
    local, at, domain = email.rpartition("@")
    labels = domain.split(".")
    if (
        not at
        or not _LOCAL_PART.match(local)
        or local.startswith(".")
        or local.endswith(".")
        or ".." in local
        or len(labels) < 2
        or not all(_DOMAIN_LABEL.match(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise Invalid("EMAIL_INVALID", "email")
    return email


def login_email(raw: str) -> str:
    """An email presented at login: only emptiness and length are refused (no format oracle)."""
    email = raw.strip().lower()
    if not email or len(email) > EMAIL_MAX_CHARS:
        raise Invalid("EMAIL_INVALID", "email")
    return email


def display_name(raw: str) -> str:
    if len(raw) > DISPLAY_NAME_MAX_CHARS or has_control_characters(raw):
        raise Invalid("DISPLAY_NAME_INVALID", "display_name")
    return raw


def client_ip(raw: str) -> str | None:
    """An IPv4 or IPv6 address in canonical form; empty means the gateway could not tell."""
    if not raw:
        return None
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        raise Invalid("CLIENT_IP_INVALID", "client_ip") from None


def user_agent(raw: str) -> str:
    """Truncated to 512 characters, control characters removed (it is only recorded)."""
    cleaned = "".join(char for char in raw if not has_control_characters(char))
    return cleaned[:USER_AGENT_MAX_CHARS]


def agent_name(raw: str) -> str:
    if not _AGENT_NAME.match(raw):
        raise Invalid("AGENT_NAME_INVALID", "name")
    return raw


def description(raw: str) -> str:
    if len(raw) > DESCRIPTION_MAX_CHARS or has_control_characters(raw.replace("\n", " ")):
        raise Invalid("DESCRIPTION_INVALID", "description")
    return raw


def harness(raw: str) -> str:
    if not _HARNESS.match(raw):
        raise Invalid("HARNESS_INVALID", "harness")
    return raw


def required_reason(raw: str) -> str:
    """An operator's reason: 1..500 characters, not blank."""
    if not raw.strip() or len(raw) > REASON_MAX_CHARS or has_control_characters(raw):
        raise Invalid("REASON_REQUIRED", "reason")
    return raw


def optional_reason(raw: str) -> str:
    if len(raw) > REASON_MAX_CHARS or has_control_characters(raw):
        raise Invalid("REASON_INVALID", "reason")
    return raw


def audience(raw: str) -> str:
    """A third party's name: 1..255 printable characters without whitespace."""
    if (
        not raw
        or len(raw) > AUDIENCE_MAX_CHARS
        or any(char.isspace() for char in raw)
        or has_control_characters(raw)
        or not raw.isprintable()
    ):
        raise Invalid("AUDIENCE_INVALID", "audience")
    return raw


def uuid_field(raw: str, *, field: str, reason: str = "FIELD_INVALID") -> uuid.UUID:
    """A UUID in canonical lowercase form."""
    if not _CANONICAL_UUID.match(raw):
        raise Invalid(reason, field)
    return uuid.UUID(raw)


def optional_uuid_field(raw: str, *, field: str, reason: str = "FIELD_INVALID") -> uuid.UUID | None:
    return uuid_field(raw, field=field, reason=reason) if raw else None


def key_name(raw: str) -> str:
    if not raw.strip() or len(raw) > KEY_NAME_MAX_CHARS or has_control_characters(raw):
        raise Invalid("KEY_NAME_INVALID", "name")
    return raw


def credit_limit(raw: int | None) -> int | None:
    if raw is not None and not 0 <= raw <= CREDIT_LIMIT_MAX_MICROS:
        raise Invalid("CREDIT_LIMIT_INVALID", "credit_limit_micros")
    return raw


def rate_limit(raw: int | None) -> int | None:
    if raw is not None and not 1 <= raw <= RATE_LIMIT_MAX_RPM:
        raise Invalid("RATE_LIMIT_INVALID", "rate_limit_rpm")
    return raw


def allowed_models(raw: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    models = tuple(raw)
    if (
        len(models) > ALLOWED_MODELS_MAX
        or len(set(models)) != len(models)
        or not all(_MODEL_ID.match(model) for model in models)
    ):
        raise Invalid("ALLOWED_MODELS_INVALID", "allowed_models")
    return models


def key_expiry(
    *, expires_at: datetime.datetime | None, now: datetime.datetime, field: str
) -> datetime.datetime | None:
    """In the future and at most 365 days away; None means never."""
    if expires_at is not None and not now < expires_at <= now + KEY_LIFETIME_MAX:
        raise Invalid("EXPIRY_INVALID", field)
    return expires_at


def trust_tier(raw: int) -> int:
    if not 0 <= raw <= TRUST_TIER_MAX:
        raise Invalid("TRUST_TIER_INVALID", "trust_tier")
    return raw

"""Input rules of wallet.proto as pure checks naming the reason a violation answers with.

:class:`Invalid` carries the proto's UPPER_SNAKE reason and the offending field; the API turns it
into INVALID_ARGUMENT. Per-transfer checks of the batch RPCs return a :class:`Result` instead, so
one bad transfer does not fail its batch. Values are never echoed in messages.
"""

from __future__ import annotations

import re
import unicodedata
import uuid

from services.wallet.domain.ledger import AMOUNT_MAX_MICROS, MEMO_MAX_CHARS, REFERENCE_MAX_CHARS
from services.wallet.domain.results import Result

_CANONICAL_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
REASON_MAX_CHARS = 500


class Invalid(ValueError):
    """A field breaks its rule; ``reason`` is the proto's UPPER_SNAKE reason."""

    def __init__(self, reason: str, field: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.reason = reason
        self.field = field


def parse_uuid(value: str) -> uuid.UUID | None:
    """The UUID in canonical lowercase 8-4-4-4-12 form, or None for anything else."""
    return uuid.UUID(value) if _CANONICAL_UUID.match(value) else None


def require_uuid(value: str, *, field: str, reason: str = "FIELD_INVALID") -> uuid.UUID:
    parsed = parse_uuid(value)
    if parsed is None:
        raise Invalid(reason, field)
    return parsed


def has_control_characters(text: str) -> bool:
    return any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in text)


def amount_result(amount_micros: int, *, maximum: int = AMOUNT_MAX_MICROS) -> Result | None:
    """The result an amount fails with, or None (1..maximum micro-credits)."""
    assert 1 <= maximum <= AMOUNT_MAX_MICROS
    if amount_micros <= 0:
        return Result.AMOUNT_MUST_BE_POSITIVE
    if amount_micros > maximum:
        return Result.AMOUNT_TOO_LARGE
    return None


def storable(text: str) -> bool:
    """PostgreSQL text cannot hold NUL; a request carrying one is malformed (FIELD_INVALID)."""
    return "\x00" not in text


def memo_result(memo: str) -> Result | None:
    return Result.MEMO_TOO_LONG if len(memo) > MEMO_MAX_CHARS else None


def reference_result(reference: str) -> Result | None:
    if len(reference) > REFERENCE_MAX_CHARS or has_control_characters(reference):
        return Result.REFERENCE_TOO_LONG
    return None


def require_reason(reason: str) -> str:
    """A mint's reason: 1..500 characters, stored as the memo."""
    if not reason.strip() or len(reason) > REASON_MAX_CHARS:
        raise Invalid("REASON_REQUIRED", "reason")
    return reason

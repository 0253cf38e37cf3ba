"""Input rules as pure checks that name the reason a violation answers with.

A check raises :class:`Invalid` carrying the UPPER_SNAKE reason of provider.proto's Errors line,
the offending field (if one is to blame) and a fixed message; the API layer turns it into the
matching error (``services.provider.errors.from_invalid``). Values the caller sent are never
echoed: they might be secrets.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Mapping

_CANONICAL_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class Invalid(ValueError):
    """A rule is broken; ``reason`` is the proto's UPPER_SNAKE reason."""

    def __init__(
        self,
        reason: str,
        field: str | None = None,
        *,
        message: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{field or '-'}: {reason}")
        self.reason = reason
        self.field = field
        self.message = message
        extra = dict(metadata or {})
        if field is not None:
            extra.setdefault("field", field)
        self.metadata = extra


def has_control_characters(text: str) -> bool:
    return any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in text)


def canonical_uuid(raw: str, *, reason: str, field: str) -> uuid.UUID:
    """A UUID in canonical lowercase form, or :class:`Invalid` with ``reason``."""
    if not _CANONICAL_UUID.match(raw):
        raise Invalid(reason, field)
    return uuid.UUID(raw)


def generation_id(raw: str) -> uuid.UUID:
    """A generation id as a UUID, or as clients see it: ``gen-<uuid>``."""
    return canonical_uuid(
        raw.removeprefix("gen-"), reason="GENERATION_ID_INVALID", field="generation_id"
    )

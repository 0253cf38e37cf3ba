"""List paging: clamped page sizes and opaque page tokens bound to their list and filter.

A page token carries the keyset position of the last row returned and a fingerprint of the list
and filter it belongs to; a token from another list or filter is refused (PAGE_TOKEN_INVALID).
Unlike auth's tokens these carry no MAC, on purpose: a position grants nothing. Every query
applies the caller's visibility rules itself, so a forged position can only start a page
somewhere else among rows the caller may already see.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from services.review.domain.validation import Invalid

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_PAGE_TOKEN_CHARS = 1024


def page_size(requested: int) -> int:
    if requested < 0:
        raise Invalid("PAGE_SIZE_INVALID", "page_size")
    if requested == 0:
        return DEFAULT_PAGE_SIZE
    return min(requested, MAX_PAGE_SIZE)


def _fingerprint(list_name: str, filters: Mapping[str, Any]) -> str:
    canonical = json.dumps([list_name, filters], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def encode(*, list_name: str, filters: Mapping[str, Any], position: Sequence[str]) -> str:
    body = json.dumps(
        {"f": _fingerprint(list_name, filters), "p": list(position)}, separators=(",", ":")
    )
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def decode(
    token: str, *, list_name: str, filters: Mapping[str, Any], width: int
) -> tuple[str, ...] | None:
    """The position after which the next page starts, or None for the first page."""
    if not token:
        return None
    invalid = Invalid("PAGE_TOKEN_INVALID", "page_token")
    if len(token) > MAX_PAGE_TOKEN_CHARS:
        raise invalid
    try:
        content = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError):
        raise invalid from None
    position = content.get("p") if isinstance(content, dict) else None
    if (
        not isinstance(content, dict)
        or content.get("f") != _fingerprint(list_name, filters)
        or not isinstance(position, list)
        or len(position) != width
        or not all(isinstance(item, str) and len(item) <= 64 for item in position)
    ):
        raise invalid
    return tuple(position)

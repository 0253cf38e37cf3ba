"""List paging: clamped page sizes and opaque, tamper-proof page tokens bound to their filter.

A page token carries the keyset position of the last row returned and a fingerprint of the
filter it belongs to, authenticated with HMAC-SHA-256 under a key derived from the primary KEK.
A token from another filter, another list or another deployment is refused (PAGE_TOKEN_INVALID);
so is one issued before a KEK rotation (the client starts the list again).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Any

from services.provider.domain.validation import Invalid

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_PAGE_TOKEN_CHARS = 1024
_MAC_BYTES = 16


def page_size(requested: int) -> int:
    if requested < 0:
        raise Invalid("PAGE_SIZE_INVALID", "page_size")
    if requested == 0:
        return DEFAULT_PAGE_SIZE
    return min(requested, MAX_PAGE_SIZE)


def _fingerprint(list_name: str, filters: Mapping[str, Any]) -> str:
    canonical = json.dumps([list_name, filters], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


class PageTokens:
    """Encodes and checks page tokens with one secret key."""

    def __init__(self, key: bytes) -> None:
        assert len(key) >= 32
        self._key = key

    def encode(self, *, list_name: str, filters: Mapping[str, Any], position: Sequence[str]) -> str:
        body = json.dumps(
            {"f": _fingerprint(list_name, filters), "p": list(position)}, separators=(",", ":")
        ).encode()
        mac = hmac.new(self._key, body, hashlib.sha256).digest()[:_MAC_BYTES]
        return base64.urlsafe_b64encode(mac + body).decode().rstrip("=")

    def decode(
        self, token: str, *, list_name: str, filters: Mapping[str, Any], width: int
    ) -> tuple[str, ...] | None:
        """The position after which the next page starts, or None for the first page."""
        if not token:
            return None
        invalid = Invalid("PAGE_TOKEN_INVALID", "page_token")
        if len(token) > MAX_PAGE_TOKEN_CHARS:
            raise invalid
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise invalid from None
        mac, body = raw[:_MAC_BYTES], raw[_MAC_BYTES:]
        expected = hmac.new(self._key, body, hashlib.sha256).digest()[:_MAC_BYTES]
        if not hmac.compare_digest(mac, expected):
            raise invalid
        try:
            content = json.loads(body)
        except ValueError:
            raise invalid from None
        position = content.get("p") if isinstance(content, dict) else None
        if (
            content.get("f") != _fingerprint(list_name, filters)
            or not isinstance(position, list)
            or len(position) != width
            or not all(isinstance(item, str) for item in position)
        ):
            raise invalid
        return tuple(position)

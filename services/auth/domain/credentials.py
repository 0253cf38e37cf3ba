"""Credential formats: generation, offline parsing, and storage digests.

Every credential is ``<prefix><random><checksum>``:

* ``random``: 43 base62 characters drawn with :mod:`secrets`, i.e. 43 x log2(62) = 256.03 bits;
* ``checksum``: CRC32 of ``prefix + random``, written as 6 base62 characters (zero-padded), so a
  scanner recognises a credential offline and a typo is rejected before any database lookup.

The CRC is not a security measure (anyone can compute it); the 256 random bits are. A credential
is stored only as HMAC-SHA-256 under the pepper (:class:`CredentialDigester`), never in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import zlib
from dataclasses import dataclass, field
from enum import Enum

BASE62_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BASE62_SET = frozenset(BASE62_ALPHABET)
RANDOM_LENGTH = 43
CHECKSUM_LENGTH = 6
DISPLAY_RANDOM_CHARS = 8
DIGEST_BYTES = 32
MAX_CREDENTIAL_LENGTH = 64
"""Longer than any family's credential; longer input is rejected before any work."""

assert RANDOM_LENGTH * 5.954 >= 256, "at least 256 random bits"
assert 62**CHECKSUM_LENGTH > 2**32, "the checksum holds any CRC32"


class CredentialKind(Enum):
    """Every credential family, by prefix."""

    AGENT_KEY = "tokenmart_"
    INFERENCE_KEY = "th_"
    MANAGEMENT_KEY = "thm_"
    SESSION = "tms_"
    REFRESH = "tmr_"
    IDENTITY = "tmid_"
    CLAIM_CODE = "tmc_"

    @property
    def prefix(self) -> str:
        return self.value

    @property
    def length(self) -> int:
        return len(self.value) + RANDOM_LENGTH + CHECKSUM_LENGTH

    @property
    def is_bearer(self) -> bool:
        """Whether Authenticate accepts it as the bearer credential of an HTTP request."""
        return self in BEARER_KINDS

    @property
    def is_key(self) -> bool:
        return self in KEY_KINDS


BEARER_KINDS = frozenset(
    {
        CredentialKind.AGENT_KEY,
        CredentialKind.INFERENCE_KEY,
        CredentialKind.MANAGEMENT_KEY,
        CredentialKind.SESSION,
    }
)
KEY_KINDS = frozenset(
    {CredentialKind.AGENT_KEY, CredentialKind.INFERENCE_KEY, CredentialKind.MANAGEMENT_KEY}
)
_BY_PREFIX = {kind.prefix: kind for kind in CredentialKind}
assert all("_" not in prefix[:-1] for prefix in _BY_PREFIX), "one underscore, at the end"
assert "_" not in BASE62_ALPHABET


class CredentialFormatError(ValueError):
    """The text is not a well-formed credential; ``problem`` says which check failed."""

    MALFORMED = "malformed"
    CHECKSUM = "checksum"

    def __init__(self, problem: str) -> None:
        assert problem in (self.MALFORMED, self.CHECKSUM)
        super().__init__(problem)
        self.problem = problem


@dataclass(frozen=True)
class Credential:
    """A well-formed credential (format and checksum verified; existence not yet)."""

    kind: CredentialKind
    raw: str = field(repr=False)

    def __post_init__(self) -> None:
        assert len(self.raw) == self.kind.length and self.raw.startswith(self.kind.prefix)

    @property
    def display_prefix(self) -> str:
        """The non-secret prefix shown to users: the family prefix plus 8 characters."""
        return self.raw[: len(self.kind.prefix) + DISPLAY_RANDOM_CHARS]

    def __str__(self) -> str:
        return f"{self.kind.prefix}<redacted>"


def _base62(number: int, width: int) -> str:
    assert number >= 0
    digits = []
    while number:
        number, digit = divmod(number, 62)
        digits.append(BASE62_ALPHABET[digit])
    text = "".join(reversed(digits)) or "0"
    assert len(text) <= width
    return text.rjust(width, "0")


def checksum(body: str) -> str:
    """The 6-character base62 CRC32 of ``prefix + random``."""
    return _base62(zlib.crc32(body.encode("ascii")), CHECKSUM_LENGTH)


def generate(kind: CredentialKind) -> Credential:
    """A fresh credential of ``kind`` with 256 bits from the operating system's CSPRNG."""
    random_part = "".join(secrets.choice(BASE62_ALPHABET) for _ in range(RANDOM_LENGTH))
    body = kind.prefix + random_part
    return Credential(kind=kind, raw=body + checksum(body))


def parse(text: str) -> Credential:
    """Check prefix, length, alphabet and checksum, in that order, without any lookup.

    Raises :class:`CredentialFormatError` (``MALFORMED`` for an unknown prefix, a wrong length or
    a character outside base62; ``CHECKSUM`` for a checksum mismatch).
    """
    if not text or len(text) > MAX_CREDENTIAL_LENGTH or not text.isascii():
        raise CredentialFormatError(CredentialFormatError.MALFORMED)
    underscore = text.find("_")
    kind = _BY_PREFIX.get(text[: underscore + 1]) if underscore > 0 else None
    if kind is None or len(text) != kind.length:
        raise CredentialFormatError(CredentialFormatError.MALFORMED)
    rest = text[len(kind.prefix) :]
    if not set(rest) <= _BASE62_SET:
        raise CredentialFormatError(CredentialFormatError.MALFORMED)
    body, given = text[:-CHECKSUM_LENGTH], text[-CHECKSUM_LENGTH:]
    if not hmac.compare_digest(checksum(body), given):
        raise CredentialFormatError(CredentialFormatError.CHECKSUM)
    return Credential(kind=kind, raw=text)


class CredentialDigester:
    """HMAC-SHA-256 under the pepper: how credentials are stored and looked up.

    A lookup by digest reveals nothing usable through timing: the digest of a guess is unrelated
    to the digest of any stored credential. Where two digests are compared in code, the
    comparison is constant-time (:func:`digests_equal`).
    """

    def __init__(self, pepper: bytes) -> None:
        assert len(pepper) >= 32, "the pepper must carry at least 256 bits"
        self._pepper = pepper

    def digest(self, credential: Credential) -> bytes:
        return hmac.new(self._pepper, credential.raw.encode("ascii"), hashlib.sha256).digest()

    def subkey(self, label: str) -> bytes:
        """An independent key for another purpose (page tokens, counter subjects)."""
        return hmac.new(self._pepper, b"tokenmart-auth/" + label.encode(), hashlib.sha256).digest()

    def digest_text(self, *, label: str, text: str) -> bytes:
        """A keyed digest of non-credential text, e.g. an email address for lockout counters."""
        return hmac.new(self.subkey(label), text.encode("utf-8"), hashlib.sha256).digest()

    def __repr__(self) -> str:
        return "CredentialDigester(<pepper redacted>)"


def digests_equal(first: bytes, second: bytes) -> bool:
    return hmac.compare_digest(first, second)

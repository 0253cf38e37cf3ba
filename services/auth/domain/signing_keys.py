"""Access-token signing keys: encryption at rest, rotation, and which key signs and verifies.

Each key is an Ed25519 key pair. The private half is stored only encrypted with AES-256-GCM under
the key-encryption key from settings, with the key id as associated data, so a ciphertext moved to
another row does not decrypt. Statuses: ``next`` (published ahead of use), ``active`` (signs),
``retired`` (verifies until ``not_after``). At most one key is ``next`` and one ``active`` (also a
unique partial index).

Normal rotation publishes a ``next`` key whose ``not_before`` lies ``activate_after`` ahead; from
then on every replica signs with it (the choice is by time, so replicas agree without talking to
each other), and the old key verifies until ``not_before`` + token lifetime + slack. A compromised
rotation retires every current key at once and signs with the new key immediately.
"""

from __future__ import annotations

import datetime
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.auth.domain.access_tokens import SigningMaterial, VerificationKey

NONCE_BYTES = 12
PRIVATE_KEY_BYTES = 32
PUBLIC_KEY_BYTES = 32
CIPHERTEXT_BYTES = PRIVATE_KEY_BYTES + 16
ACTIVATE_AFTER_MAX = datetime.timedelta(hours=1)


class SigningKeyStatus(StrEnum):
    NEXT = "next"
    ACTIVE = "active"
    RETIRED = "retired"


@dataclass(frozen=True)
class SigningKey:
    id: uuid.UUID
    public_key: bytes
    private_key_nonce: bytes = field(repr=False)
    private_key_ciphertext: bytes = field(repr=False)
    status: SigningKeyStatus
    not_before: datetime.datetime
    not_after: datetime.datetime | None
    created_at: datetime.datetime

    def __post_init__(self) -> None:
        assert len(self.public_key) == PUBLIC_KEY_BYTES
        assert len(self.private_key_nonce) == NONCE_BYTES
        assert len(self.private_key_ciphertext) == CIPHERTEXT_BYTES
        assert self.status is not SigningKeyStatus.RETIRED or self.not_after is not None

    @property
    def key_id(self) -> str:
        return str(self.id)

    def verifies(self, now: datetime.datetime) -> bool:
        """Whether tokens signed with it are accepted now (NEXT keys only from not_before)."""
        if self.not_after is not None and now >= self.not_after:
            return False
        return self.status is not SigningKeyStatus.NEXT or self.not_before <= now

    def published(self, now: datetime.datetime) -> bool:
        """Listed by GetPublicKeys: NEXT, ACTIVE, or RETIRED but not past not_after."""
        return self.not_after is None or now < self.not_after


class SealedUnder(StrEnum):
    """Which key-encryption key opens a stored key."""

    PRIMARY = "primary"
    PREVIOUS = "previous"
    NEITHER = "neither"


class KeyEncryption:
    """AES-256-GCM under the KEK, with the key id as associated data.

    During a KEK change a previous KEK is configured too: it opens keys that are not yet
    re-sealed, but nothing is ever sealed under it.
    """

    def __init__(self, kek: bytes, *, previous_kek: bytes | None = None) -> None:
        assert len(kek) == 32, "AES-256 needs a 32-byte key"
        assert previous_kek is None or len(previous_kek) == 32, "AES-256 needs a 32-byte key"
        assert previous_kek != kek, "the previous KEK must differ from the primary one"
        self._aead = AESGCM(kek)
        self._previous = AESGCM(previous_kek) if previous_kek is not None else None

    def seal(self, *, key_id: str, private_key: Ed25519PrivateKey) -> tuple[bytes, bytes]:
        """Seal under the primary KEK with a fresh nonce."""
        raw = private_key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        nonce = os.urandom(NONCE_BYTES)
        return nonce, self._aead.encrypt(nonce, raw, key_id.encode("ascii"))

    def open(self, key: SigningKey) -> SigningMaterial:
        """Decrypt under the primary KEK, else the previous one; raises
        ``cryptography.exceptions.InvalidTag`` when neither opens it (a wrong KEK or AAD)."""
        sealed_under, material = self._open(key)
        if material is None:
            assert sealed_under is SealedUnder.NEITHER
            raise InvalidTag()
        return material

    def sealed_under(self, key: SigningKey) -> SealedUnder:
        return self._open(key)[0]

    def reseal(self, key: SigningKey) -> tuple[SealedUnder, tuple[bytes, bytes] | None]:
        """Where ``key`` is sealed now, and for a key under the previous KEK its (nonce,
        ciphertext) sealed under the primary one; None for keys to leave as they are."""
        sealed_under, material = self._open(key)
        if sealed_under is not SealedUnder.PREVIOUS:
            return sealed_under, None
        assert material is not None
        return sealed_under, self.seal(key_id=key.key_id, private_key=material.private_key)

    def _open(self, key: SigningKey) -> tuple[SealedUnder, SigningMaterial | None]:
        candidates = [(SealedUnder.PRIMARY, self._aead)]
        if self._previous is not None:
            candidates.append((SealedUnder.PREVIOUS, self._previous))
        for sealed_under, aead in candidates:
            try:
                raw = aead.decrypt(
                    key.private_key_nonce, key.private_key_ciphertext, key.key_id.encode("ascii")
                )
            except InvalidTag:
                continue
            private_key = Ed25519PrivateKey.from_private_bytes(raw)
            assert public_bytes(private_key.public_key()) == key.public_key, "key pair mismatch"
            return sealed_under, SigningMaterial(key_id=key.key_id, private_key=private_key)
        return SealedUnder.NEITHER, None

    def __repr__(self) -> str:
        return "KeyEncryption(<keks redacted>)"


def public_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True)
class NewKey:
    """A freshly generated key, sealed, ready to insert."""

    key: SigningKey
    material: SigningMaterial


def new_key(
    encryption: KeyEncryption,
    *,
    status: SigningKeyStatus,
    not_before: datetime.datetime,
    now: datetime.datetime,
) -> NewKey:
    assert status is not SigningKeyStatus.RETIRED
    key_id = uuid.uuid4()
    private_key = Ed25519PrivateKey.generate()
    nonce, ciphertext = encryption.seal(key_id=str(key_id), private_key=private_key)
    key = SigningKey(
        id=key_id,
        public_key=public_bytes(private_key.public_key()),
        private_key_nonce=nonce,
        private_key_ciphertext=ciphertext,
        status=status,
        # Whole seconds: JWT times are whole seconds and iat must not precede not_before.
        not_before=not_before.replace(microsecond=0),
        not_after=None,
        created_at=now,
    )
    return NewKey(key=key, material=SigningMaterial(key_id=str(key_id), private_key=private_key))


def signing_key(keys: Iterable[SigningKey], now: datetime.datetime) -> SigningKey | None:
    """The key to sign with now: the newest non-retired key whose not_before has come."""
    candidates = [
        key
        for key in keys
        if key.status is not SigningKeyStatus.RETIRED
        and key.not_before <= now
        and (key.not_after is None or now < key.not_after)
    ]
    return max(candidates, key=lambda key: key.not_before, default=None)


def verification_keys(
    keys: Iterable[SigningKey], now: datetime.datetime
) -> dict[str, VerificationKey]:
    return {
        key.key_id: VerificationKey(
            key_id=key.key_id,
            public_key=Ed25519PublicKey.from_public_bytes(key.public_key),
            not_before_s=key.not_before.timestamp(),
            not_after_s=key.not_after.timestamp() if key.not_after else None,
        )
        for key in keys
        if key.published(now)
    }


def retirement_time(
    *, replaced_at: datetime.datetime, token_ttl_s: int, slack_s: int
) -> datetime.datetime:
    """When a replaced key stops verifying: after the last token it may have signed expires."""
    return replaced_at + datetime.timedelta(seconds=token_ttl_s + slack_s)

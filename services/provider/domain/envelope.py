"""Envelope encryption of BYOK secrets.

Each secret gets its own random 256-bit data key (DEK). The secret is sealed with AES-256-GCM
under the DEK; the DEK is sealed ("wrapped") with AES-256-GCM under a key-encryption key (KEK)
that only provider holds, and the KEK's version is stored next to it. Both seals carry associated
data that binds them to the key's id, scope, owner and provider (and, for the wrapped DEK, to the
KEK version), so a ciphertext copied to another row, owner or provider, or relabelled with
another KEK version, fails to open instead of yielding a secret for the wrong party.

Rotating the KEK re-wraps the DEK only: the secret itself is never decrypted for a rotation.
Nonces are 96 random bits per seal; a DEK seals exactly one message, and a KEK seals one DEK per
key and rotation, far below GCM's random-nonce bound.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
WRAPPED_KEY_BYTES = NONCE_BYTES + KEY_BYTES + TAG_BYTES
_AAD_PREFIX = b"tokenmart.provider.byok.v1"


class DecryptionFailed(Exception):
    """A sealed secret cannot be opened: unknown KEK version, wrong binding, or tampering."""


@dataclass(frozen=True)
class SecretBinding:
    """What a sealed secret is bound to (its associated data)."""

    provider_key_id: uuid.UUID
    scope: str
    owner_id: uuid.UUID
    provider: str

    def associated_data(self, purpose: bytes) -> bytes:
        return b"|".join(
            (
                _AAD_PREFIX,
                purpose,
                str(self.provider_key_id).encode(),
                self.scope.encode(),
                str(self.owner_id).encode(),
                self.provider.encode(),
            )
        )


@dataclass(frozen=True)
class SealedSecret:
    kek_version: int
    wrapped_key: bytes
    """nonce || AES-256-GCM(KEK, DEK) with its tag."""
    secret_nonce: bytes
    secret_ciphertext: bytes
    """AES-256-GCM(DEK, secret) with its tag."""

    def __post_init__(self) -> None:
        assert len(self.wrapped_key) == WRAPPED_KEY_BYTES
        assert len(self.secret_nonce) == NONCE_BYTES
        assert len(self.secret_ciphertext) > TAG_BYTES


class Envelope:
    """Seals, opens and re-wraps secrets with a ring of versioned KEKs."""

    def __init__(self, keks: Mapping[int, bytes], *, primary_version: int) -> None:
        assert keks and primary_version in keks
        assert all(len(key) == KEY_BYTES for key in keks.values())
        self._keks = {version: AESGCM(key) for version, key in keks.items()}
        self.primary_version = primary_version
        # Sub-keys for other uses, derived so that no KEK byte is ever used for two purposes.
        self._subkey_root = hashlib.sha256(b"tokenmart.provider.subkeys|" + keks[primary_version])

    @property
    def versions(self) -> tuple[int, ...]:
        return tuple(sorted(self._keks))

    def subkey(self, purpose: str) -> bytes:
        """A 32-byte key for ``purpose`` (page tokens, request digests), derived from the KEK."""
        root = self._subkey_root.copy().digest()
        return hmac.new(root, purpose.encode(), hashlib.sha256).digest()

    def seal(self, secret: str, binding: SecretBinding) -> SealedSecret:
        data_key = AESGCM.generate_key(bit_length=256)
        secret_nonce = os.urandom(NONCE_BYTES)
        ciphertext = AESGCM(data_key).encrypt(
            secret_nonce, secret.encode(), binding.associated_data(b"secret")
        )
        return SealedSecret(
            kek_version=self.primary_version,
            wrapped_key=self._wrap(data_key, binding, self.primary_version),
            secret_nonce=secret_nonce,
            secret_ciphertext=ciphertext,
        )

    def open(self, sealed: SealedSecret, binding: SecretBinding) -> str:
        data_key = self._unwrap(sealed, binding)
        try:
            plain = AESGCM(data_key).decrypt(
                sealed.secret_nonce, sealed.secret_ciphertext, binding.associated_data(b"secret")
            )
        except InvalidTag:
            raise DecryptionFailed("secret") from None
        return plain.decode()

    def rewrap(self, sealed: SealedSecret, binding: SecretBinding, *, version: int) -> SealedSecret:
        """The same secret with its data key wrapped under KEK ``version``."""
        if version not in self._keks:
            raise DecryptionFailed("target KEK version not configured")
        data_key = self._unwrap(sealed, binding)
        return SealedSecret(
            kek_version=version,
            wrapped_key=self._wrap(data_key, binding, version),
            secret_nonce=sealed.secret_nonce,
            secret_ciphertext=sealed.secret_ciphertext,
        )

    def _wrap(self, data_key: bytes, binding: SecretBinding, version: int) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        aad = binding.associated_data(b"data-key|kek-" + str(version).encode())
        return nonce + self._keks[version].encrypt(nonce, data_key, aad)

    def _unwrap(self, sealed: SealedSecret, binding: SecretBinding) -> bytes:
        kek = self._keks.get(sealed.kek_version)
        if kek is None:
            raise DecryptionFailed("KEK version not configured")
        aad = binding.associated_data(b"data-key|kek-" + str(sealed.kek_version).encode())
        nonce, wrapped = sealed.wrapped_key[:NONCE_BYTES], sealed.wrapped_key[NONCE_BYTES:]
        try:
            return kek.decrypt(nonce, wrapped, aad)
        except InvalidTag:
            raise DecryptionFailed("data key") from None

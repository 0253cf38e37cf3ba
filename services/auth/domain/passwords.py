"""Passwords: the policy, and Argon2id hashing with a dummy hash for unknown emails.

Hashes are PHC strings (``$argon2id$v=19$m=...,t=...,p=...$salt$hash``) from argon2-cffi with
the configured cost. :attr:`PasswordHasher.dummy_hash` is a hash of a random password with the
same parameters: a login for an unknown email verifies against it, so both paths do the same
work and take the same time (SPEC §1, THREATS I11).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

PASSWORD_MIN_CHARS = 12
PASSWORD_MAX_CHARS = 1024
PHC_PREFIX = "$argon2id$"


@dataclass(frozen=True)
class Argon2Parameters:
    time_cost: int
    memory_kib: int
    parallelism: int

    def __post_init__(self) -> None:
        assert self.time_cost >= 1 and self.parallelism >= 1
        assert self.memory_kib >= 8 * self.parallelism, "argon2 needs 8 KiB per lane"


def password_acceptable(password: str) -> bool:
    """A new password: 12..1024 characters (no composition rules; length is what counts)."""
    return PASSWORD_MIN_CHARS <= len(password) <= PASSWORD_MAX_CHARS


def password_presentable(password: str) -> bool:
    """A password presented at login: non-empty and within the maximum length."""
    return 0 < len(password) <= PASSWORD_MAX_CHARS


class PasswordHasher:
    """Argon2id with fixed parameters. CPU-bound: call from a worker thread."""

    def __init__(self, parameters: Argon2Parameters) -> None:
        self.parameters = parameters
        self._hasher = argon2.PasswordHasher(
            time_cost=parameters.time_cost,
            memory_cost=parameters.memory_kib,
            parallelism=parameters.parallelism,
            type=argon2.Type.ID,
        )
        self.dummy_hash = self._hasher.hash(secrets.token_urlsafe(32))

    def hash(self, password: str) -> str:
        encoded = self._hasher.hash(password)
        assert encoded.startswith(PHC_PREFIX)
        return encoded

    def verify(self, encoded: str, password: str) -> bool:
        """Whether ``password`` matches; a malformed hash never matches."""
        try:
            return self._hasher.verify(encoded, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, encoded: str) -> bool:
        return self._hasher.check_needs_rehash(encoded)

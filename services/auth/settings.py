"""Settings of the auth service, read once from ``TOKENMART_AUTH_*``.

Two secrets are required and fail fast when missing or malformed (their values are never echoed):

* ``PEPPER``: the HMAC-SHA-256 key under which every credential is stored (base64 or urlsafe
  base64, at least 32 bytes). Only auth holds it; a leaked database without it gives an attacker
  no way to test guessed credentials offline.
* ``SIGNING_KEK``: the AES-256-GCM key that encrypts the access-token signing keys at rest
  (base64 or urlsafe base64, exactly 32 bytes).

One secret is optional, for replacing the KEK: ``SIGNING_KEK_PREVIOUS`` (same format, and it must
differ from ``SIGNING_KEK``) also opens stored signing keys, so auth starts with keys sealed under
either while ``ResealSigningKeys`` moves them to ``SIGNING_KEK``. New keys are always sealed under
``SIGNING_KEK``.

Everything else has a default fit for production; tests lower the Argon2 cost.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from services.common.settings import Env, ServiceSettings, SettingsError, service_env

PEERS: tuple[str, ...] = ("wallet",)
"""The services auth calls: wallet, to open the wallet of every account and agent it creates."""

PEPPER_MIN_BYTES = 32
KEK_BYTES = 32
ACCESS_TOKEN_MAX_TTL_S = 300
IDENTITY_TOKEN_MAX_TTL_S = 600
DAY_S = 86_400


class Secret:
    """Bytes that never appear in a repr, a log line or an error."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes) -> None:
        self._value = value

    def reveal(self) -> bytes:
        return self._value

    def __repr__(self) -> str:
        return "Secret(<redacted>)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(other._value, self._value)

    def __hash__(self) -> int:
        return hash(self._value)


_URLSAFE_ALPHABET = re.compile(r"^[A-Za-z0-9_-]*={0,2}$")


def _decode_base64(raw: str) -> bytes | None:
    """Standard or urlsafe base64 (padding optional), or None; never a partial decode."""
    padded = raw + "=" * (-len(raw) % 4)
    try:
        return base64.b64decode(padded.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        pass
    # urlsafe_b64decode silently drops characters outside its alphabet, so check first.
    if not _URLSAFE_ALPHABET.match(padded):
        return None
    try:
        return base64.urlsafe_b64decode(padded.encode("ascii"))
    except (binascii.Error, ValueError):
        return None


def decode_secret(env: Env, key: str, *, minimum: int, maximum: int) -> Secret:
    """A required base64 or urlsafe-base64 secret of ``minimum..maximum`` bytes."""
    decoded = _decode_base64(env.str(key))
    if decoded is None:
        raise SettingsError(f"{env.name(key)} must be base64 or urlsafe base64")
    if not minimum <= len(decoded) <= maximum:
        raise SettingsError(f"{env.name(key)} must decode to {minimum}..{maximum} bytes")
    return Secret(decoded)


def decode_optional_secret(env: Env, key: str, *, minimum: int, maximum: int) -> Secret | None:
    """Like :func:`decode_secret`, but unset (or blank) means None."""
    if env.optional_str(key) is None:
        return None
    return decode_secret(env, key, minimum=minimum, maximum=maximum)


def read_signing_keks(env: Env) -> tuple[Secret, Secret | None]:
    """``SIGNING_KEK`` and the optional ``SIGNING_KEK_PREVIOUS``, which must differ from it (the
    same key twice would hide a half-finished KEK change, and re-sealing would do nothing)."""
    primary = decode_secret(env, "SIGNING_KEK", minimum=KEK_BYTES, maximum=KEK_BYTES)
    previous = decode_optional_secret(
        env, "SIGNING_KEK_PREVIOUS", minimum=KEK_BYTES, maximum=KEK_BYTES
    )
    if previous is not None and previous == primary:
        raise SettingsError(
            f"{env.name('SIGNING_KEK_PREVIOUS')} must differ from {env.name('SIGNING_KEK')} "
            f"(unset it once the stored keys are re-sealed)"
        )
    return primary, previous


@dataclass(frozen=True)
class PasswordSettings:
    """Argon2id cost; the dummy hash for unknown emails uses the same parameters."""

    time_cost: int
    memory_kib: int
    parallelism: int
    max_concurrent: int
    """Hashes computed at once; each holds ``memory_kib`` of memory."""


@dataclass(frozen=True)
class SessionSettings:
    session_token_ttl_s: int
    """Lifetime of one tms_ session token (15 minutes by default)."""
    refresh_token_ttl_s: int
    """Lifetime of one tmr_ refresh token, never past the session's absolute end."""
    absolute_ttl_s: int
    """The session's absolute lifetime; refreshes cannot extend it (30 days by default)."""


@dataclass(frozen=True)
class LockoutSettings:
    """Login lockout: per normalised email and per client IP, with exponential backoff."""

    email_threshold: int
    ip_threshold: int
    window_s: int
    base_s: int
    max_s: int


@dataclass(frozen=True)
class AgentSettings:
    claim_code_ttl_s: int
    claim_attempts_per_account: int
    claim_attempts_per_ip: int
    claim_attempt_window_s: int
    claim_renewals_max: int
    claim_renewal_window_s: int
    registrations_per_ip: int
    registration_window_s: int


@dataclass(frozen=True)
class KeySettings:
    default_rate_limit_rpm: int
    max_keys_per_agent: int
    last_used_resolution_s: int
    """``last_used_at`` is written at most this often per key, so authentication stays read-only."""


@dataclass(frozen=True)
class TokenSettings:
    access_token_ttl_s: int
    identity_token_ttl_s: int
    authenticate_cache_ms: int
    """How long the gateway may reuse an Authenticate answer (at most one second)."""
    public_keys_refresh_s: int
    """How long verifiers may cache GetPublicKeys."""
    keyring_reload_s: int
    """How often each auth replica re-reads the signing keys (to follow another's rotation)."""
    clock_skew_s: int


@dataclass(frozen=True)
class AuthSettings:
    common: ServiceSettings
    pepper: Secret = field(repr=False)
    signing_kek: Secret = field(repr=False)
    signing_kek_previous: Secret | None = field(repr=False)
    """The KEK being replaced: opens stored keys until they are re-sealed; never seals."""
    passwords: PasswordSettings
    sessions: SessionSettings
    lockout: LockoutSettings
    agents: AgentSettings
    keys: KeySettings
    tokens: TokenSettings

    def __post_init__(self) -> None:
        assert len(self.pepper.reveal()) >= PEPPER_MIN_BYTES
        assert len(self.signing_kek.reveal()) == KEK_BYTES
        assert self.signing_kek_previous is None or (
            len(self.signing_kek_previous.reveal()) == KEK_BYTES
            and self.signing_kek_previous != self.signing_kek
        )
        assert self.tokens.access_token_ttl_s <= ACCESS_TOKEN_MAX_TTL_S
        assert self.tokens.authenticate_cache_ms <= 1000
        assert self.sessions.session_token_ttl_s <= self.sessions.absolute_ttl_s

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> AuthSettings:
        env = service_env("auth", environ)
        signing_kek, signing_kek_previous = read_signing_keks(env)
        return cls(
            common=ServiceSettings.from_env("auth", environ, peers=PEERS),
            pepper=decode_secret(env, "PEPPER", minimum=PEPPER_MIN_BYTES, maximum=1024),
            signing_kek=signing_kek,
            signing_kek_previous=signing_kek_previous,
            passwords=PasswordSettings(
                time_cost=env.int("ARGON2_TIME_COST", 3, minimum=1, maximum=20),
                memory_kib=env.int("ARGON2_MEMORY_KIB", 65_536, minimum=8, maximum=4_194_304),
                parallelism=env.int("ARGON2_PARALLELISM", 4, minimum=1, maximum=16),
                max_concurrent=env.int("ARGON2_MAX_CONCURRENT", 4, minimum=1, maximum=256),
            ),
            sessions=SessionSettings(
                session_token_ttl_s=env.int("SESSION_TOKEN_TTL_S", 900, minimum=60, maximum=DAY_S),
                refresh_token_ttl_s=env.int(
                    "REFRESH_TOKEN_TTL_S", 7 * DAY_S, minimum=300, maximum=90 * DAY_S
                ),
                absolute_ttl_s=env.int(
                    "SESSION_ABSOLUTE_TTL_S", 30 * DAY_S, minimum=3600, maximum=365 * DAY_S
                ),
            ),
            lockout=LockoutSettings(
                email_threshold=env.int("LOCKOUT_EMAIL_THRESHOLD", 5, minimum=1, maximum=1000),
                ip_threshold=env.int("LOCKOUT_IP_THRESHOLD", 50, minimum=1, maximum=100_000),
                window_s=env.int("LOCKOUT_WINDOW_S", 900, minimum=1, maximum=DAY_S),
                base_s=env.int("LOCKOUT_BASE_S", 30, minimum=1, maximum=DAY_S),
                max_s=env.int("LOCKOUT_MAX_S", 3600, minimum=1, maximum=7 * DAY_S),
            ),
            agents=AgentSettings(
                claim_code_ttl_s=env.int(
                    "CLAIM_CODE_TTL_S", 7 * DAY_S, minimum=60, maximum=90 * DAY_S
                ),
                claim_attempts_per_account=env.int(
                    "CLAIM_ATTEMPTS_PER_ACCOUNT", 10, minimum=1, maximum=10_000
                ),
                claim_attempts_per_ip=env.int(
                    "CLAIM_ATTEMPTS_PER_IP", 50, minimum=1, maximum=100_000
                ),
                claim_attempt_window_s=env.int(
                    "CLAIM_ATTEMPT_WINDOW_S", 3600, minimum=1, maximum=7 * DAY_S
                ),
                claim_renewals_max=env.int("CLAIM_RENEWALS_MAX", 5, minimum=1, maximum=1000),
                claim_renewal_window_s=env.int(
                    "CLAIM_RENEWAL_WINDOW_S", 3600, minimum=1, maximum=7 * DAY_S
                ),
                registrations_per_ip=env.int(
                    "REGISTRATIONS_PER_IP", 20, minimum=1, maximum=1_000_000
                ),
                registration_window_s=env.int(
                    "REGISTRATION_WINDOW_S", 3600, minimum=1, maximum=7 * DAY_S
                ),
            ),
            keys=KeySettings(
                default_rate_limit_rpm=env.int(
                    "DEFAULT_RATE_LIMIT_RPM", 60, minimum=1, maximum=100_000
                ),
                max_keys_per_agent=env.int("MAX_KEYS_PER_AGENT", 100, minimum=1, maximum=10_000),
                last_used_resolution_s=env.int(
                    "KEY_LAST_USED_RESOLUTION_S", 60, minimum=1, maximum=DAY_S
                ),
            ),
            tokens=TokenSettings(
                access_token_ttl_s=env.int(
                    "ACCESS_TOKEN_TTL_S",
                    ACCESS_TOKEN_MAX_TTL_S,
                    minimum=10,
                    maximum=ACCESS_TOKEN_MAX_TTL_S,
                ),
                identity_token_ttl_s=env.int(
                    "IDENTITY_TOKEN_TTL_S",
                    IDENTITY_TOKEN_MAX_TTL_S,
                    minimum=30,
                    maximum=IDENTITY_TOKEN_MAX_TTL_S,
                ),
                authenticate_cache_ms=env.int(
                    "AUTHENTICATE_CACHE_MS", 1000, minimum=0, maximum=1000
                ),
                public_keys_refresh_s=env.int(
                    "PUBLIC_KEYS_REFRESH_S", 60, minimum=10, maximum=3600
                ),
                keyring_reload_s=env.int("KEYRING_RELOAD_S", 5, minimum=1, maximum=60),
                clock_skew_s=env.int("CLOCK_SKEW_S", 5, minimum=0, maximum=60),
            ),
        )

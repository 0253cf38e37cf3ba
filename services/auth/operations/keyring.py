"""The signing keys of this replica: bootstrap, signing, verification, rotation.

Every replica keeps the live keys in memory (private halves decrypted) and re-reads them every
``keyring_reload_s``, and at once (at most once a second) when a token names an unknown kid, so
it follows a rotation made by another replica. Which key signs is decided by time
(:func:`~services.auth.domain.signing_keys.signing_key`), so all replicas switch together when a
``next`` key's ``not_before`` arrives; the status columns catch up lazily (:meth:`_promote_due`).

Bootstrap is race-safe: key creation runs under a transaction-scoped advisory lock, and a unique
partial index allows at most one ``active`` and one ``next`` key, so two replicas starting at once
never both create an active key.
"""

from __future__ import annotations

import asyncio
import datetime
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.domain.access_tokens import (
    SigningMaterial,
    UnknownKeyId,
    VerifiedToken,
    verify,
)
from services.auth.domain.principal import Audience
from services.auth.domain.signing_keys import (
    KeyEncryption,
    SealedUnder,
    SigningKey,
    SigningKeyStatus,
    new_key,
    retirement_time,
    signing_key,
    verification_keys,
)
from services.auth.settings import TokenSettings
from services.auth.store import signing_keys as store
from services.auth.store.database import Database

FORCED_RELOAD_INTERVAL_S = 1.0


class NoSigningKey(RuntimeError):
    """No key can sign now (the keyring was never bootstrapped); a bug or a broken database."""


@dataclass(frozen=True)
class Rotation:
    new_key: SigningKey
    previous_key: SigningKey
    activates_at: datetime.datetime


@dataclass(frozen=True)
class Reseal:
    """What re-sealing did: key ids moved to the primary KEK, the count already there, and the
    ids neither KEK opens (left untouched); each list in id order."""

    resealed: tuple[str, ...]
    already_current: int
    failed: tuple[str, ...]


class RotationNotAllowed(Exception):
    """A published key has not started signing yet (ROTATION_IN_PROGRESS)."""


class Keyring:
    def __init__(
        self,
        *,
        database: Database,
        encryption: KeyEncryption,
        settings: TokenSettings,
        clock: Callable[[], datetime.datetime],
    ) -> None:
        self._database = database
        self._encryption = encryption
        self._settings = settings
        self._clock = clock
        self._keys: tuple[SigningKey, ...] = ()
        self._materials: dict[str, SigningMaterial] = {}
        self._loaded_at: float | None = None
        self._forced_at = 0.0
        self._lock = asyncio.Lock()

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the first key if there is none, then load. Fails fast under a wrong KEK."""
        async with self._lock:
            await self._load()

    async def _bootstrap(self) -> None:
        async with self._database.transaction() as tx:
            await store.lock_rotation(tx)
            now = self._clock()
            keys = await store.live_keys(tx, now=now)
            if signing_key(keys, now) is None and not any(
                key.status is SigningKeyStatus.NEXT for key in keys
            ):
                created = new_key(
                    self._encryption, status=SigningKeyStatus.ACTIVE, not_before=now, now=now
                )
                await store.insert_key(tx, created.key)

    async def reload(self) -> None:
        """Re-read the keys now (after a rotation, or for an unknown kid)."""
        async with self._lock:
            await self._load()

    async def _load(self) -> None:
        if self._loaded_at is None:
            await self._bootstrap()
        await self._promote_due()
        async with self._database.transaction() as tx:
            keys = await store.live_keys(tx, now=self._clock())
        self._install(keys)

    def _install(self, keys: Iterable[SigningKey]) -> None:
        keys = tuple(keys)
        materials = {}
        for key in keys:
            if key.status is not SigningKeyStatus.RETIRED:
                material = self._materials.get(key.key_id) or self._encryption.open(key)
                materials[key.key_id] = material
        self._keys = keys
        self._materials = materials
        self._loaded_at = time.monotonic()

    async def _promote_due(self) -> None:
        """Bookkeeping: a ``next`` key whose time has come becomes ``active``; its predecessor
        ``retired`` (its ``not_after`` was fixed at rotation)."""
        now = self._clock()
        if not any(
            key.status is SigningKeyStatus.NEXT and key.not_before <= now for key in self._keys
        ):
            return
        async with self._database.transaction() as tx:
            await store.lock_rotation(tx)
            await promote_due(tx, now=now, slack_s=self._slack_s, ttl_s=self._ttl_s)

    async def refresh_if_stale(self) -> None:
        seen = self._loaded_at
        stale = seen is None or time.monotonic() - seen >= self._settings.keyring_reload_s
        if not stale and not self._promotion_due():
            return
        async with self._lock:
            if self._loaded_at == seen:  # nobody reloaded while we waited
                await self._load()

    def _promotion_due(self) -> bool:
        now = self._clock()
        return any(
            key.status is SigningKeyStatus.NEXT and key.not_before <= now for key in self._keys
        )

    # -- use -----------------------------------------------------------------------------------

    @property
    def _ttl_s(self) -> int:
        return self._settings.access_token_ttl_s

    @property
    def _slack_s(self) -> int:
        # A replica may sign with the old key until its next reload, and verifiers' clocks skew.
        return self._settings.keyring_reload_s + self._settings.clock_skew_s

    async def signing_material(self) -> SigningMaterial:
        await self.refresh_if_stale()
        key = signing_key(self._keys, self._clock())
        if key is None:
            raise NoSigningKey("no signing key is usable now")
        return self._materials[key.key_id]

    async def published(self) -> tuple[SigningKey, ...]:
        await self.refresh_if_stale()
        now = self._clock()
        return tuple(key for key in self._keys if key.published(now))

    async def verify(self, token: str, *, audience: Audience) -> VerifiedToken:
        await self.refresh_if_stale()
        try:
            return self._verify(token, audience)
        except UnknownKeyId:
            if time.monotonic() - self._forced_at < FORCED_RELOAD_INTERVAL_S:
                raise
            self._forced_at = time.monotonic()
            await self.reload()
        return self._verify(token, audience)

    def _verify(self, token: str, audience: Audience) -> VerifiedToken:
        now = self._clock()
        keys = verification_keys((key for key in self._keys if key.verifies(now)), now)
        return verify(
            token,
            keys=keys,
            audience=audience,
            now_s=now.timestamp(),
            leeway_s=self._settings.clock_skew_s,
        )

    # -- rotation ------------------------------------------------------------------------------

    async def rotate(
        self,
        tx: AsyncSession,
        *,
        compromised: bool,
        activate_after: datetime.timedelta,
    ) -> Rotation:
        """Rotate inside the caller's transaction (call :meth:`reload` after it commits)."""
        await store.lock_rotation(tx)
        now = self._clock()
        await promote_due(tx, now=now, slack_s=self._slack_s, ttl_s=self._ttl_s)
        keys = await store.live_keys(tx, now=now)
        current = signing_key(keys, now)
        pending = [key for key in keys if key.status is SigningKeyStatus.NEXT]
        assert current is not None, "the keyring was bootstrapped at start"
        if compromised:
            # Retire every key that could still sign, at once; the new key signs immediately.
            retired = None
            for key in keys:
                if key.status is not SigningKeyStatus.RETIRED:
                    # A key published for a routine rotation but not yet signing gets an empty
                    # window [not_before, not_before]: it never verifies anything.
                    updated = await store.set_state(
                        tx,
                        key.id,
                        status=SigningKeyStatus.RETIRED,
                        not_after=max(now, key.not_before),
                    )
                    if key.id == current.id:
                        retired = updated
            assert retired is not None
            created = new_key(
                self._encryption, status=SigningKeyStatus.ACTIVE, not_before=now, now=now
            )
            inserted = await store.insert_key(tx, created.key)
            return Rotation(
                new_key=inserted, previous_key=retired, activates_at=inserted.not_before
            )
        if pending:
            raise RotationNotAllowed()
        created = new_key(
            self._encryption,
            status=SigningKeyStatus.NEXT,
            not_before=now + activate_after,
            now=now,
        )
        inserted = await store.insert_key(tx, created.key)
        previous = await store.set_state(
            tx,
            current.id,
            status=current.status,
            not_after=retirement_time(
                replaced_at=inserted.not_before, token_ttl_s=self._ttl_s, slack_s=self._slack_s
            ),
        )
        return Rotation(new_key=inserted, previous_key=previous, activates_at=inserted.not_before)

    async def reseal(self, tx: AsyncSession) -> Reseal:
        """Inside the caller's transaction: re-seal under the primary KEK every stored key that
        opens only under the previous one (every status; retired keys too, so no key ever
        needs the previous KEK again). Holds the rotation lock, then every row's lock in id
        order, so it serializes with rotation, bootstrap, promotion and itself; a concurrent
        second run waits, then finds every key current. Keys are few (one per rotation), so one
        transaction keeps the change all-or-nothing."""
        await store.lock_rotation(tx)
        resealed: list[str] = []
        failed: list[str] = []
        already_current = 0
        for key in await store.every_key_for_update(tx):
            sealed_under, sealed = self._encryption.reseal(key)
            if sealed_under is SealedUnder.PRIMARY:
                already_current += 1
            elif sealed_under is SealedUnder.NEITHER:
                failed.append(key.key_id)
            else:
                assert sealed is not None
                nonce, ciphertext = sealed
                await store.set_sealed(tx, key.id, nonce=nonce, ciphertext=ciphertext)
                resealed.append(key.key_id)
        return Reseal(
            resealed=tuple(resealed), already_current=already_current, failed=tuple(failed)
        )


async def promote_due(
    tx: AsyncSession, *, now: datetime.datetime, slack_s: int, ttl_s: int
) -> None:
    """Under the rotation lock: move statuses to where time has taken them."""
    keys = await store.live_keys(tx, now=now)
    due = [key for key in keys if key.status is SigningKeyStatus.NEXT and key.not_before <= now]
    if not due:
        return
    (successor,) = due
    for key in keys:
        if key.status is SigningKeyStatus.ACTIVE:
            not_after = key.not_after or retirement_time(
                replaced_at=successor.not_before, token_ttl_s=ttl_s, slack_s=slack_s
            )
            await store.set_state(tx, key.id, status=SigningKeyStatus.RETIRED, not_after=not_after)
    await store.set_state(tx, successor.id, status=SigningKeyStatus.ACTIVE, not_after=None)

"""Queries on access-token signing keys."""

from __future__ import annotations

import datetime
import uuid

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.domain.signing_keys import SigningKey, SigningKeyStatus
from services.auth.store import convert, models

BOOTSTRAP_LOCK = "auth.signing_keys.bootstrap"


async def lock_rotation(tx: AsyncSession) -> None:
    """Serialize key bootstrap and rotation across every auth replica (transaction-scoped)."""
    await tx.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": BOOTSTRAP_LOCK}
    )


async def live_keys(tx: AsyncSession, *, now: datetime.datetime) -> list[SigningKey]:
    """Every key that is not retired, or retired but still verifying (a key retired before it
    ever signed has an empty window and verifies nothing)."""
    rows = await tx.execute(
        select(models.SigningKey)
        .where(
            (models.SigningKey.status != SigningKeyStatus.RETIRED.value)
            | (
                (models.SigningKey.not_after > now)
                & (models.SigningKey.not_after > models.SigningKey.not_before)
            )
        )
        .order_by(models.SigningKey.not_before, models.SigningKey.id)
        .execution_options(populate_existing=True)
    )
    return [convert.signing_key(row) for row in rows.scalars()]


async def insert_key(tx: AsyncSession, key: SigningKey) -> SigningKey:
    row = models.SigningKey(
        id=key.id,
        algorithm="ed25519",
        public_key=key.public_key,
        private_key_nonce=key.private_key_nonce,
        private_key_ciphertext=key.private_key_ciphertext,
        status=key.status.value,
        not_before=key.not_before,
        not_after=key.not_after,
        created_at=key.created_at,
    )
    tx.add(row)
    await tx.flush()
    return convert.signing_key(row)


async def set_state(
    tx: AsyncSession,
    key_id: uuid.UUID,
    *,
    status: SigningKeyStatus,
    not_after: datetime.datetime | None,
) -> SigningKey:
    row = (
        await tx.execute(
            update(models.SigningKey)
            .where(models.SigningKey.id == key_id)
            .values(status=status.value, not_after=not_after)
            .returning(models.SigningKey)
        )
    ).scalar_one()
    return convert.signing_key(row)


async def every_key_for_update(tx: AsyncSession) -> list[SigningKey]:
    """Every stored key, whatever its status, row-locked in id order (one order for every
    locker, so two re-seals cannot deadlock)."""
    rows = await tx.execute(
        select(models.SigningKey)
        .order_by(models.SigningKey.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return [convert.signing_key(row) for row in rows.scalars()]


async def set_sealed(
    tx: AsyncSession, key_id: uuid.UUID, *, nonce: bytes, ciphertext: bytes
) -> None:
    """Replace a key's sealed private half, and nothing else (``guard_signing_keys`` holds
    every other column still in the same statement)."""
    await tx.execute(
        update(models.SigningKey)
        .where(models.SigningKey.id == key_id)
        .values(private_key_nonce=nonce, private_key_ciphertext=ciphertext)
    )

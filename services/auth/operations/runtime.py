"""Everything an operation needs, built once per process and passed down explicitly."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.domain.audit import Actor, AuditEvent, EventType, Outcome, RequestFacts
from services.auth.domain.credentials import CredentialDigester
from services.auth.domain.pagination import PageTokens
from services.auth.domain.passwords import PasswordHasher
from services.auth.domain.principal import Principal
from services.auth.operations.keyring import Keyring
from services.auth.operations.wallets import WalletOpener
from services.auth.settings import AuthSettings
from services.auth.store import audit as audit_store
from services.auth.store.database import Database
from services.common.logging import current_request_id

Clock = Callable[[], datetime.datetime]
"""Returns the current time, timezone-aware UTC. Every rule reads time from here, never SQL."""


def system_clock() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


_HOLDING_SLOT: contextvars.ContextVar[bool] = contextvars.ContextVar("argon2_slot", default=False)


class Passwords:
    """Argon2id off the event loop, with a bound on concurrent hashes (each holds its memory).

    Login verifies inside its database transaction (so lockout counting is exact); it takes its
    slot with :meth:`slot` *before* opening the transaction, so logins waiting for a slot never
    hold database connections that Authenticate needs.
    """

    def __init__(self, hasher: PasswordHasher, *, max_concurrent: int) -> None:
        self.hasher = hasher
        self._slots = asyncio.Semaphore(max_concurrent)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one hashing slot for the enclosed work (hashes inside reuse it)."""
        if _HOLDING_SLOT.get():
            yield
            return
        async with self._slots:
            token = _HOLDING_SLOT.set(True)
            try:
                yield
            finally:
                _HOLDING_SLOT.reset(token)

    async def hash(self, password: str) -> str:
        async with self.slot():
            return await asyncio.to_thread(self.hasher.hash, password)

    async def verify(self, encoded: str | None, password: str) -> bool:
        """Verify against ``encoded``, or against the dummy hash when there is no account.

        Both paths run exactly one Argon2id verification with the same parameters, so an unknown
        email costs the same time as a wrong password; the dummy path never succeeds.
        """
        async with self.slot():
            matched = await asyncio.to_thread(
                self.hasher.verify, encoded or self.hasher.dummy_hash, password
            )
        return matched and encoded is not None

    def needs_rehash(self, encoded: str) -> bool:
        return self.hasher.needs_rehash(encoded)


@dataclass(frozen=True)
class Runtime:
    settings: AuthSettings
    database: Database
    digester: CredentialDigester
    passwords: Passwords
    keyring: Keyring
    wallets: WalletOpener
    page_tokens: PageTokens
    clock: Clock

    def now(self) -> datetime.datetime:
        now = self.clock()
        assert now.tzinfo is not None, "the clock must be timezone-aware"
        return now


@dataclass(frozen=True)
class Caller:
    """The verified principal of an RPC and the peer service that forwarded it."""

    principal: Principal
    peer: str

    @property
    def idempotency_key(self) -> str:
        """(principal) in the replay log: the subject and the agent it acts as."""
        agent = self.principal.agent_id
        return f"{self.principal.subject}|{agent}" if agent else self.principal.subject

    @property
    def actor(self) -> Actor:
        principal = self.principal
        if principal.is_service:
            return Actor(service=principal.service_name)
        return Actor(
            account_id=principal.account_id, agent_id=principal.agent_id, key_id=principal.key_id
        )


def peer_key(peer: str) -> str:
    """The replay-log caller of an RPC that takes no access token."""
    return f"peer:{peer}"


async def record(
    tx: AsyncSession,
    runtime: Runtime,
    event_type: EventType,
    *,
    failure_reason: str | None = None,
    actor: Actor | None = None,
    subject_account_id: uuid.UUID | None = None,
    subject_agent_id: uuid.UUID | None = None,
    subject_key_id: uuid.UUID | None = None,
    subject_session_id: uuid.UUID | None = None,
    client_ip: str | None = None,
    user_agent: str | None = None,
    details: dict[str, object] | None = None,
) -> None:
    """Append one audit entry in the caller's transaction."""
    await audit_store.insert_event(
        tx,
        AuditEvent(
            id=uuid.uuid4(),
            event_type=event_type,
            outcome=Outcome.FAILURE if failure_reason else Outcome.SUCCESS,
            failure_reason=failure_reason,
            occurred_at=runtime.now(),
            actor=actor or Actor(),
            subject_account_id=subject_account_id,
            subject_agent_id=subject_agent_id,
            subject_key_id=subject_key_id,
            subject_session_id=subject_session_id,
            request=RequestFacts(
                client_ip=client_ip,
                user_agent=user_agent or None,
                request_id=current_request_id() or None,
            ),
            details=details or {},
        ),
    )

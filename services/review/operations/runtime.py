"""Everything an operation needs, built once per process and passed down explicitly."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from services.common.tokens import AccessTokenVerifier, VerifiedPrincipal
from services.review.peers import AuthDirectory, Wallet
from services.review.settings import ReviewSettings
from services.review.store.database import Database

Clock = Callable[[], datetime.datetime]
"""Returns the current time, timezone-aware UTC. Every rule reads time from here, never SQL."""


def system_clock() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class PayoutKicks:
    """Where a transaction that wrote a payout says so after it commits (the dispatcher, when
    it sends payouts right away; nobody otherwise, and the worker's sweep finds them)."""

    def __init__(self) -> None:
        self._listener: Callable[[uuid.UUID], None] | None = None

    def listen(self, listener: Callable[[uuid.UUID], None] | None) -> None:
        self._listener = listener

    def written(self, entry_id: uuid.UUID) -> None:
        if self._listener is not None:
            self._listener(entry_id)


@dataclass(frozen=True)
class Runtime:
    settings: ReviewSettings
    database: Database
    verifier: AccessTokenVerifier
    auth: AuthDirectory
    wallet: Wallet
    clock: Clock
    kicks: PayoutKicks

    def now(self) -> datetime.datetime:
        now = self.clock()
        assert now.tzinfo is not None, "the clock must be timezone-aware"
        return now


@dataclass(frozen=True)
class Caller:
    """The verified principal of an RPC and the peer service that forwarded it."""

    principal: VerifiedPrincipal
    peer: str

    @property
    def idempotency_key(self) -> str:
        """(principal) in the replay log: the subject and the agent it acts as."""
        agent = self.principal.agent_id
        return f"{self.principal.subject}|{agent}" if agent else self.principal.subject

    @property
    def agent_id(self) -> uuid.UUID | None:
        agent = self.principal.agent_id
        return uuid.UUID(agent) if agent else None

    @property
    def account_id(self) -> uuid.UUID | None:
        account = self.principal.account_id
        return uuid.UUID(account) if account else None

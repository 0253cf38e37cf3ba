"""Everything an operation needs, built once per process and passed down explicitly."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass

from services.common.tokens import AccessTokenVerifier
from services.wallet.operations.directory import AccountDirectory
from services.wallet.settings import WalletSettings
from services.wallet.store.database import Database

Clock = Callable[[], datetime.datetime]
"""The ledger's clock: timezone-aware UTC. Transfer times and hold expiries come from here,
never from SQL ``now()``, so every replica and the sweeper agree on one notion of time (and tests
can move it)."""


def system_clock() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass(frozen=True)
class Runtime:
    settings: WalletSettings
    database: Database
    tokens: AccessTokenVerifier
    directory: AccountDirectory
    clock: Clock

    def now(self) -> datetime.datetime:
        now = self.clock()
        assert now.tzinfo is not None, "the clock must be timezone-aware"
        return now

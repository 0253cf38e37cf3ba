"""Settings of the wallet service, read once from ``TOKENMART_WALLET_*``.

Besides the common ones (``services/common/settings.py``, including ``AUTH_TARGET`` /
``AUTH_TIMEOUT_S`` for the channel that fetches auth's public keys):

| variable | default | meaning |
|---|---|---|
| ``MINT_MAX_MICROS`` | 10^13 | largest single Mint (10 million credits) |
| ``SWEEP_INTERVAL_S`` | 1.0 | how often the sweeper looks for expired holds |
| ``SWEEP_BATCH_SIZE`` | 100 | holds voided per sweeper transaction |
| ``SWEEP_MAX_BATCHES`` | 20 | transactions per sweep before yielding to the next tick |
| ``HOLD_OVERDUE_GRACE_S`` | 60 | VerifyLedger reports a hold unresolved this long past expiry |
| ``PUBLIC_KEYS_REFRESH_S`` | 60 | how long auth's public keys are cached |
| ``CLOCK_SKEW_S`` | 5 | leeway when checking access-token times |
| ``ACCOUNT_CACHE_SIZE`` | 100000 | account identities kept in memory (they never change) |
| ``TRANSACTION_RETRIES`` | 5 | retries of a transaction that lost a deadlock or id race |
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.common.settings import ServiceSettings, service_env
from services.wallet.domain.ledger import AMOUNT_MAX_MICROS

PEERS: tuple[str, ...] = ("auth",)
"""The services wallet calls."""


@dataclass(frozen=True)
class SweeperSettings:
    interval_s: float
    batch_size: int
    max_batches: int
    overdue_grace_s: float
    """VerifyLedger's HOLD_OVERDUE threshold: comfortably above the sweeper's interval."""


@dataclass(frozen=True)
class TokenSettings:
    public_keys_refresh_s: float
    clock_skew_s: float


@dataclass(frozen=True)
class WalletSettings:
    common: ServiceSettings
    mint_max_micros: int
    sweeper: SweeperSettings
    tokens: TokenSettings
    account_cache_size: int
    transaction_retries: int

    def __post_init__(self) -> None:
        assert 1 <= self.mint_max_micros <= AMOUNT_MAX_MICROS
        assert self.sweeper.overdue_grace_s >= 2 * self.sweeper.interval_s
        assert "auth" in self.common.peers

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> WalletSettings:
        env = service_env("wallet", environ)
        interval_s = env.float("SWEEP_INTERVAL_S", 1.0, minimum=0.05, maximum=300.0)
        return cls(
            common=ServiceSettings.from_env("wallet", environ, peers=PEERS),
            mint_max_micros=env.int(
                "MINT_MAX_MICROS", 10**13, minimum=1, maximum=AMOUNT_MAX_MICROS
            ),
            sweeper=SweeperSettings(
                interval_s=interval_s,
                batch_size=env.int("SWEEP_BATCH_SIZE", 100, minimum=1, maximum=1000),
                max_batches=env.int("SWEEP_MAX_BATCHES", 20, minimum=1, maximum=1000),
                overdue_grace_s=env.float(
                    "HOLD_OVERDUE_GRACE_S", 60.0, minimum=2 * interval_s, maximum=86_400.0
                ),
            ),
            tokens=TokenSettings(
                public_keys_refresh_s=env.float(
                    "PUBLIC_KEYS_REFRESH_S", 60.0, minimum=10.0, maximum=3600.0
                ),
                clock_skew_s=env.float("CLOCK_SKEW_S", 5.0, minimum=0.0, maximum=60.0),
            ),
            account_cache_size=env.int(
                "ACCOUNT_CACHE_SIZE", 100_000, minimum=100, maximum=10_000_000
            ),
            transaction_retries=env.int("TRANSACTION_RETRIES", 5, minimum=0, maximum=20),
        )

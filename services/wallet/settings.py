"""Settings of the wallet service, read once from ``TOKENMART_WALLET_*``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.common.settings import ServiceSettings

PEERS: tuple[str, ...] = ("auth",)
"""The services wallet calls."""


@dataclass(frozen=True)
class WalletSettings:
    common: ServiceSettings

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> WalletSettings:
        return cls(common=ServiceSettings.from_env("wallet", environ, peers=PEERS))

"""Settings of the provider service, read once from ``TOKENMART_PROVIDER_*``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.common.settings import ServiceSettings

PEERS: tuple[str, ...] = ("auth", "wallet")
"""The services provider calls."""


@dataclass(frozen=True)
class ProviderSettings:
    common: ServiceSettings

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ProviderSettings:
        return cls(common=ServiceSettings.from_env("provider", environ, peers=PEERS))

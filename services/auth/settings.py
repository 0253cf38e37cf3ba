"""Settings of the auth service, read once from ``TOKENMART_AUTH_*``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.common.settings import ServiceSettings

PEERS: tuple[str, ...] = ()
"""The services auth calls."""


@dataclass(frozen=True)
class AuthSettings:
    common: ServiceSettings

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> AuthSettings:
        return cls(common=ServiceSettings.from_env("auth", environ, peers=PEERS))

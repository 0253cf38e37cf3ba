"""Settings of the review service, read once from ``TOKENMART_REVIEW_*``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.common.settings import ServiceSettings

PEERS: tuple[str, ...] = ("auth", "wallet")
"""The services review calls."""


@dataclass(frozen=True)
class ReviewSettings:
    common: ServiceSettings

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ReviewSettings:
        return cls(common=ServiceSettings.from_env("review", environ, peers=PEERS))

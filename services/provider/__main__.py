"""``python -m services.provider``: build the settings from the environment and serve."""

from __future__ import annotations

import os

from services.common.main import run_service
from services.provider import access
from services.provider.settings import ProviderSettings


def main() -> None:
    settings = ProviderSettings.from_env(os.environ)
    run_service(
        settings.common,
        allowlist=access.allowlist(reflection=settings.common.server.reflection),
        # The ProviderService servicer is registered here by the issue that implements it;
        # until then every ProviderService method answers UNIMPLEMENTED to allowed peers.
        registrations=lambda engine: (),
        served_names=(),
    )


if __name__ == "__main__":
    main()

"""``python -m services.wallet``: build the settings from the environment and serve."""

from __future__ import annotations

import os

from services.common.main import run_service
from services.wallet import access
from services.wallet.settings import WalletSettings


def main() -> None:
    settings = WalletSettings.from_env(os.environ)
    run_service(
        settings.common,
        allowlist=access.allowlist(reflection=settings.common.server.reflection),
        # The WalletService servicer is registered here by the issue that implements it;
        # until then every WalletService method answers UNIMPLEMENTED to allowed peers.
        registrations=lambda engine: (),
        served_names=(),
    )


if __name__ == "__main__":
    main()

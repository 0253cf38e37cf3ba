"""``python -m services.wallet``: build the settings from the environment and serve."""

from __future__ import annotations

import asyncio
import os

from services.wallet import server
from services.wallet.settings import WalletSettings


def main() -> None:
    settings = WalletSettings.from_env(os.environ)
    server.configure(settings)
    asyncio.run(server.serve(settings))


if __name__ == "__main__":
    main()

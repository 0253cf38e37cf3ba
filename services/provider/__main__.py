"""``python -m services.provider``: build the settings from the environment and serve."""

from __future__ import annotations

import asyncio
import os

from services.common.logging import configure_logging
from services.provider import server
from services.provider.settings import ProviderSettings


def main() -> None:
    settings = ProviderSettings.from_env(os.environ)
    configure_logging(settings.common.name, settings.common.log_level)
    asyncio.run(server.serve(settings))


if __name__ == "__main__":
    main()

"""``python -m services.review``: build the settings from the environment and serve."""

from __future__ import annotations

import asyncio
import os

from services.common.logging import configure_logging
from services.review import server
from services.review.settings import ReviewSettings


def main() -> None:
    settings = ReviewSettings.from_env(os.environ)
    configure_logging(settings.common.name, settings.common.log_level)
    asyncio.run(server.serve(settings))


if __name__ == "__main__":
    main()

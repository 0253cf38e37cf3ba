"""``python -m services.review``: build the settings from the environment and serve."""

from __future__ import annotations

import os

from services.common.main import run_service
from services.review import access
from services.review.settings import ReviewSettings


def main() -> None:
    settings = ReviewSettings.from_env(os.environ)
    run_service(
        settings.common,
        allowlist=access.allowlist(reflection=settings.common.server.reflection),
        # The ReviewService servicer is registered here by the issue that implements it;
        # until then every ReviewService method answers UNIMPLEMENTED to allowed peers.
        registrations=lambda engine: (),
        served_names=(),
    )


if __name__ == "__main__":
    main()

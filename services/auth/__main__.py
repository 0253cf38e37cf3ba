"""``python -m services.auth``: build the settings from the environment and serve."""

from __future__ import annotations

import os

from services.auth import access
from services.auth.settings import AuthSettings
from services.common.main import run_service


def main() -> None:
    settings = AuthSettings.from_env(os.environ)
    run_service(
        settings.common,
        allowlist=access.allowlist(reflection=settings.common.server.reflection),
        # The AuthService servicer is registered here by the issue that implements it;
        # until then every AuthService method answers UNIMPLEMENTED to allowed peers.
        registrations=lambda engine: (),
        served_names=(),
    )


if __name__ == "__main__":
    main()

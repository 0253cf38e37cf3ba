"""``python -m services.auth``: build the settings from the environment and serve."""

from __future__ import annotations

import asyncio
import os

from services.auth import access, server
from services.auth.settings import AuthSettings
from services.common.main import run_service


def main() -> None:
    settings = AuthSettings.from_env(os.environ)
    # Fail fast (before reporting SERVING) on an unreachable schema or a wrong signing KEK.
    asyncio.run(server.preflight(settings))
    run_service(
        settings.common,
        allowlist=access.allowlist(reflection=settings.common.server.reflection),
        registrations=lambda engine, metrics: server.registrations(
            server.build_runtime(settings, engine, client_metrics=metrics.client)
        ),
        served_names=(access.SERVICE,),
    )


if __name__ == "__main__":
    main()

"""The gateway with authentication taken out: the baseline of ``bench/auth_gateway.py``.

Identical to ``python -m services.gateway`` (same settings, routes, middleware, backend calls)
except that it asks auth to authenticate a credential once a minute and reuses that answer for
every request in between. Benchmark use only: it would ignore revocations for a minute.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterable

import uvicorn
from starlette.requests import Request

from services.common.logging import configure_logging
from services.gateway.app import create_app
from services.gateway.authn import Audience, Authenticator, Caller, Family
from services.gateway.backends import Backends
from services.gateway.settings import GatewaySettings

REUSE_S = 60.0


class Preauthenticated(Authenticator):
    _answer: tuple[float, Caller] | None = None

    async def authenticate(
        self, request: Request, *, families: Iterable[Family], audiences: Iterable[Audience]
    ) -> Caller:
        if self._answer is None or time.monotonic() - self._answer[0] > REUSE_S:
            caller = await super().authenticate(request, families=families, audiences=audiences)
            self._answer = (time.monotonic(), caller)
        return self._answer[1]


async def serve(settings: GatewaySettings) -> None:
    backends = Backends.open(settings)
    app = create_app(settings, backends, authenticator_class=Preauthenticated)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_config=None, access_log=False
    )
    await uvicorn.Server(config).serve()


if __name__ == "__main__":
    gateway_settings = GatewaySettings.from_env(os.environ)
    configure_logging("gateway-bench", gateway_settings.log_level)
    asyncio.run(serve(gateway_settings))

"""``python -m services.gateway``: build the settings from the environment and serve HTTP.

uvicorn runs inside our own ``asyncio.run`` rather than ``uvicorn.run`` so that the backend
channels are opened on the very loop that serves requests (a grpc.aio channel belongs to the loop
it was created on) and so that loop is the standard asyncio one grpc.aio supports. uvicorn
handles SIGINT and SIGTERM: it stops accepting, lets requests in flight finish within the grace
period, runs the application's shutdown (which closes the channels and the Prometheus listener
of ``METRICS_LISTEN``), then exits.
"""

from __future__ import annotations

import asyncio
import os

import uvicorn

from services.common.logging import configure_logging
from services.gateway.app import create_app
from services.gateway.backends import Backends
from services.gateway.metrics import GatewayMetrics
from services.gateway.settings import GatewaySettings

SHUTDOWN_GRACE_S = 5


async def serve(settings: GatewaySettings) -> None:
    # One registry for the requests and the backend channels' calls.
    metrics = GatewayMetrics()
    backends = Backends.open(settings, metrics=metrics.service.client)
    try:
        app = create_app(settings, backends, metrics=metrics)
        config = uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            # Our JSON logging is already configured; uvicorn's own would replace it.
            log_config=None,
            # One access line per request comes from the application, with the request id.
            access_log=False,
            # Forwarded headers are believed only from TRUSTED_PROXIES, by the application.
            proxy_headers=False,
            server_header=False,
            lifespan="on",
            timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        )
        await uvicorn.Server(config).serve()
    finally:
        # The lifespan has normally closed them already; this covers a failed start-up.
        await backends.close()


def main() -> None:
    settings = GatewaySettings.from_env(os.environ)
    configure_logging("gateway", settings.log_level)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()

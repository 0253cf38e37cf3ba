"""An in-process gateway for tests: the production ``create_app`` over real mTLS channels.

``make_gateway`` (a fixture, registered for the whole suite in ``tests/conftest.py``) builds a
gateway from settings read by ``GatewaySettings.from_env`` and drives it through
``httpx.ASGITransport`` as client ``203.0.113.7``. Backends it is not given a port for point at a
port where nothing listens.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass

import httpx
import pytest_asyncio
from fastapi import FastAPI

from ops.pki import IssuedFiles
from services.gateway.app import create_app
from services.gateway.backends import Backends
from services.gateway.settings import BACKEND_NAMES, GatewaySettings

# A port nothing listens on: channels are lazy, so a gateway pointed here starts fine and
# finds the backend unreachable only when it calls it.
NOWHERE_PORT = 1
CLIENT_IP = "203.0.113.7"


def gateway_environ(
    pki: Mapping[str, IssuedFiles], *, ports: Mapping[str, int], **variables: str
) -> dict[str, str]:
    """``TOKENMART_GATEWAY_*`` for a gateway using the PKI's gateway certificate."""
    files = pki["gateway"]
    environ = {
        "TOKENMART_GATEWAY_TLS_CA_FILE": str(files.ca_file),
        "TOKENMART_GATEWAY_TLS_CERT_FILE": str(files.cert_file),
        "TOKENMART_GATEWAY_TLS_KEY_FILE": str(files.key_file),
    }
    for name in BACKEND_NAMES:
        port = ports.get(name, NOWHERE_PORT)
        environ[f"TOKENMART_GATEWAY_{name.upper()}_TARGET"] = f"127.0.0.1:{port}"
    environ.update({f"TOKENMART_GATEWAY_{key}": value for key, value in variables.items()})
    return environ


@dataclass(frozen=True)
class Gateway:
    settings: GatewaySettings
    backends: Backends
    app: FastAPI
    client: httpx.AsyncClient


MakeGateway = Callable[..., Gateway]


@pytest_asyncio.fixture
async def make_gateway(pki: dict[str, IssuedFiles]) -> AsyncIterator[MakeGateway]:
    """Build an in-process gateway (call it inside a test, on the test's running loop).

    ``ports`` maps the running backends to their ports; keyword variables override settings,
    e.g. ``make_gateway(MAX_BODY_BYTES="1024")``.
    """
    made: list[Gateway] = []

    def make(*, ports: Mapping[str, int] | None = None, **variables: str) -> Gateway:
        # The test client stands behind a trusted proxy, so tests can speak for other addresses.
        variables.setdefault("TRUSTED_PROXIES", f"{CLIENT_IP}/32")
        settings = GatewaySettings.from_env(gateway_environ(pki, ports=ports or {}, **variables))
        backends = Backends.open(settings)
        app = create_app(settings, backends)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(CLIENT_IP, 40000)),
            base_url="http://testserver",
        )
        gateway = Gateway(settings=settings, backends=backends, app=app, client=client)
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        await gateway.client.aclose()
        await gateway.backends.close()

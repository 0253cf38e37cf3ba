"""Fixtures for the attack tests: a gateway wired to a real auth server, and the auth rows."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from ops import ctl
from ops.pki import IssuedFiles
from tests.conftest import AuthServerHandle
from tests.edge import Gateway, MakeGateway
from tests.flows import PASSWORD, Api, AuthRows, Session, unique_email


@dataclass
class Edge:
    gateway: Gateway
    api: Api
    auth: AuthServerHandle
    rows: AuthRows

    async def admin_session(self) -> Session:
        """An admin, created the only way there is: ``tokenmartctl admin create``."""
        email = unique_email()
        environ = {
            **os.environ,
            "TOKENMART_CTL_TLS_CA_FILE": str(self.auth.pki["ctl"].ca_file),
            "TOKENMART_CTL_TLS_CERT_FILE": str(self.auth.pki["ctl"].cert_file),
            "TOKENMART_CTL_TLS_KEY_FILE": str(self.auth.pki["ctl"].key_file),
            "TOKENMART_CTL_AUTH_TARGET": f"127.0.0.1:{self.auth.port}",
        }
        status = await asyncio.to_thread(
            ctl.main, ["admin", "create", "--email", email, "--password", PASSWORD], environ
        )
        assert status == 0
        session = await self.api.login(email)
        assert session.role == "admin"
        return session


MakeEdge = Callable[..., Edge]


@pytest.fixture
def make_edge(make_gateway: MakeGateway, auth_server: AuthServerHandle) -> MakeEdge:
    def make(auth: AuthServerHandle | None = None, wallet: Any = None, **variables: str) -> Edge:
        server = auth or auth_server
        ports = {"auth": server.port}
        if wallet is not None:
            ports["wallet"] = wallet.port
        gateway = make_gateway(ports=ports, **variables)
        return Edge(
            gateway=gateway, api=Api(gateway.client), auth=server, rows=AuthRows(server.owner_url)
        )

    return make


@pytest.fixture
def edge(make_edge: MakeEdge) -> Edge:
    return make_edge()


@pytest.fixture
def ctl_files(pki: dict[str, IssuedFiles]) -> IssuedFiles:
    return pki["ctl"]

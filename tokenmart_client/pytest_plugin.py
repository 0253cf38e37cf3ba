"""A pytest plugin with a session-scoped ``tokenmart_core`` fixture (opt-in).

Enable it in your top-level ``conftest.py``::

    pytest_plugins = ["tokenmart_client.pytest_plugin"]

or on the command line with ``-p tokenmart_client.pytest_plugin``. Then::

    async def test_my_integration(tokenmart_core):
        async with tokenmart_core.client("gateway", credential=...) as client:
            ...

The stack starts once per test session (see :mod:`tokenmart_client.testing` for how), on first
use of the fixture. Options: ``--tokenmart-core-mode=auto|docker|local`` (default:
``TOKENMART_CORE_MODE``, else ``auto``) and ``--tokenmart-core-log-dir=DIR`` to keep each
process's output (local mode). To add variables to a process's environment, override the
``tokenmart_core_service_env`` fixture in your conftest.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import cast

import pytest

from tokenmart_client.testing import Mode, TokenMartCore, start_tokenmart_core


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tokenmart-core", "TokenMart Core for integration tests")
    group.addoption(
        "--tokenmart-core-mode",
        choices=("auto", "docker", "local"),
        default=None,
        help="how to start TokenMart Core (default: $TOKENMART_CORE_MODE, else auto)",
    )
    group.addoption(
        "--tokenmart-core-log-dir",
        default=None,
        help="directory for each TokenMart Core process's output (local mode)",
    )


@pytest.fixture(scope="session")
def tokenmart_core_service_env() -> Mapping[str, Mapping[str, str]]:
    """Extra environment variables per process (override to change settings)."""
    return {}


@pytest.fixture(scope="session")
def tokenmart_core(
    request: pytest.FixtureRequest,
    tokenmart_core_service_env: Mapping[str, Mapping[str, str]],
) -> Iterator[TokenMartCore]:
    """A running TokenMart Core, shared by the whole test session."""
    # getoption's default covers a conftest that imports this fixture without the plugin hooks.
    mode = cast(Mode | None, request.config.getoption("--tokenmart-core-mode", default=None))
    log_dir_option = request.config.getoption("--tokenmart-core-log-dir", default=None)
    log_dir = Path(log_dir_option) if log_dir_option else None
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
    with start_tokenmart_core(
        mode=mode, service_env=tokenmart_core_service_env, log_dir=log_dir
    ) as core:
        yield core

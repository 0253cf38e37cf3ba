"""The opt-in pytest plugin, as another team would use it: a separate pytest run whose test
takes the ``tokenmart_core`` fixture and talks to the stack over gRPC and HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]

CONSUMER_TEST = """
from __future__ import annotations

import httpx

from tokenmart_client.testing import TokenMartCore


async def test_consumer(tokenmart_core: TokenMartCore) -> None:
    assert tokenmart_core.mode == "local"
    assert httpx.get(f"{tokenmart_core.gateway_url}/healthz").status_code == 200
    async with tokenmart_core.client("gateway") as client:
        keys = await client.auth.get_public_keys()
    assert keys.issuer == "tokenmart-auth"
"""


def test_the_fixture_starts_tokenmart_core_for_a_consumer_suite(tmp_path: Path) -> None:
    (tmp_path / "test_consumer.py").write_text(CONSUMER_TEST)
    logs = tmp_path / "logs"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tokenmart_client.pytest_plugin",
            "--tokenmart-core-mode=local",
            f"--tokenmart-core-log-dir={logs}",
            "-o",
            "asyncio_mode=auto",
            "-p",
            "no:cacheprovider",
            "-q",
            str(tmp_path / "test_consumer.py"),
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert "1 passed" in completed.stdout
    # The stack's processes wrote their output where the option said.
    assert {"auth.log", "wallet.log", "gateway.log"} <= {path.name for path in logs.iterdir()}

"""The fault-injection soak, short: ``python -m bench.soak`` as one command, against the real
servers, with every process killed with SIGKILL once, Redis restarted once and PostgreSQL
connections dropped once while mixed load runs; afterwards every invariant must hold.

The run is bounded by its fault plan, not by a clock: the load lasts until every injected fault
has recovered (each bounded), so a slow machine makes it longer, never flaky. ``make soak``
runs the longer version.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SERVICES = ("auth", "wallet", "provider", "review", "gateway")
INVARIANTS = {
    "ledger-verifies",
    "conservation",
    "no-negative-balance",
    "transfers-exactly-once",
    "grants-exactly-once",
    "inference-billed-once",
    "no-pending-holds",
    "spend-within-limits",
    "agent-key-not-admin",
    "agent-balances",
    "bounties-paid-exactly-once",
    "credentials-survive",
    "no-internals-leaked",
    "served-without-redis",
    "faults-injected",
    "every-answer-definite",
    "load-flowed",
}


# Seven process restarts (Python start-up, reconnects) dominate; on a busy 2-core machine each
# can take half a minute, so the bound is generous while the run itself is short.
@pytest.mark.timeout(600)
def test_a_short_soak_keeps_every_invariant_through_every_fault(
    server_admin_url: str, repo_root: Path, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TOKENMART_")}
    environment["TOKENMART_DATABASE_URL"] = server_admin_url
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.soak",
            "--duration",
            "20",
            "--seed",
            "11",
            "--rounds",
            "1",
            "--report",
            str(report),
            "--log-dir",
            str(tmp_path / "soak"),
        ],
        cwd=repo_root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=570,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-6000:]
    result = json.loads(report.read_text())
    assert result["ok"] is True
    invariants = {item["name"]: item for item in result["invariants"]}
    assert set(invariants) == INVARIANTS
    assert all(item["ok"] for item in invariants.values()), output[-6000:]

    # At least one kill of each service, one Redis restart, one drop of the connections, each
    # recovered; and the printed summary says so.
    done = [item["fault"] for item in result["injections"] if item["ok"]]
    for fault in (*SERVICES, "redis", "postgres"):
        assert fault in done, result["injections"]
    for service in SERVICES:
        assert f"INJECT kill -9 {service} (pid" in completed.stdout
    assert "INVARIANT D8/D9 transfers-exactly-once: OK" in completed.stdout
    assert "RESULT: OK" in completed.stdout

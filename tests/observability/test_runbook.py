"""``docs/operations.md`` cites only what exists: every ``tokenmartctl`` command it shows parses
with tokenmartctl's own parser, every ``auth_rpc.py`` call names an AuthService RPC that ctl may
call with a request that parses, and the ``auth_rpc.py`` script it gives works against a real
auth server (suspend, audit, reactivate)."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from google.protobuf import json_format
from tokenmart.auth.v1 import auth_pb2

from ops import ctl
from ops.pki import IssuedFiles
from services.auth import access as auth_access
from tests.auth.helpers import client_for
from tests.conftest import AuthServerHandle
from tests.edge import MakeGateway

RUNBOOK = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
AUTH_SERVICE = "tokenmart.auth.v1.AuthService"
_FENCE = re.compile(r"```(\w*)\n(.*?)```", re.DOTALL)
_INLINE = re.compile(r"`([^`]+)`")
_RPC_CALL = re.compile(r"auth_rpc\.py ([A-Z][a-z]\w*) '([^']*)'")  # METHOD is the placeholder


def _text() -> str:
    return RUNBOOK.read_text()


def _tokenmartctl_commands() -> list[str]:
    """Every ``tokenmartctl …`` in a code block line or an inline code span, arguments only."""
    text = _text()
    found: list[str] = []
    for _, block in _FENCE.findall(text):
        for line in block.splitlines():
            if "tokenmartctl " in line:
                found.append(line.split("tokenmartctl ", 1)[1])
    for span in _INLINE.findall(_FENCE.sub("", text)):
        if "tokenmartctl " in span:
            found.append(span.split("tokenmartctl ", 1)[1])
    # Shell redirections and comments are not arguments; "tokenmartctl -- …" names the operator
    # pod in a kubectl command, not the CLI.
    commands = [re.split(r"\s[>#|<]", command)[0].strip() for command in found]
    return [command for command in commands if not command.startswith("--")]


def _auth_rpc_script() -> str:
    (script,) = [
        block
        for language, block in _FENCE.findall(_text())
        if language == "python" and block.startswith("# auth_rpc.py")
    ]
    return script


def test_every_tokenmartctl_command_in_the_runbook_exists() -> None:
    commands = [command for command in _tokenmartctl_commands() if command]
    assert len(commands) >= 10
    parser = ctl._parser()
    for command in commands:
        try:
            parser.parse_args(shlex.split(command))
        except SystemExit as refused:  # argparse's way of saying no
            raise AssertionError(f"tokenmartctl {command!r} is not a command") from refused


def test_every_auth_rpc_call_in_the_runbook_is_an_rpc_ctl_may_call() -> None:
    calls = _RPC_CALL.findall(_text())
    methods = {method for method, _ in calls}
    assert {"SuspendAgent", "ReactivateAgent", "SetAccountRole", "RotateSigningKey"} <= methods
    allowlist = auth_access.allowlist(reflection=False)
    for method, fields in calls:
        assert "ctl" in allowlist.callers_of(f"/{AUTH_SERVICE}/{method}"), method
        request = getattr(auth_pb2, f"{method}Request")()
        json_format.Parse(fields, request)


async def _run(script: Path, environ: dict[str, str], *arguments: str) -> dict[str, object]:
    completed = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(script), *arguments],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    answer: dict[str, object] = json.loads(completed.stdout)
    return answer


async def test_the_runbooks_auth_rpc_script_suspends_audits_and_reactivates_an_agent(
    auth_server: AuthServerHandle, pki: dict[str, IssuedFiles], tmp_path: Path
) -> None:
    script = tmp_path / "auth_rpc.py"
    script.write_text(_auth_rpc_script())
    files = pki["ctl"]
    environ = {
        "PATH": "/usr/bin:/bin",
        "TOKENMART_CTL_TLS_CA_FILE": str(files.ca_file),
        "TOKENMART_CTL_TLS_CERT_FILE": str(files.cert_file),
        "TOKENMART_CTL_TLS_KEY_FILE": str(files.key_file),
        "TOKENMART_CTL_AUTH_TARGET": f"127.0.0.1:{auth_server.port}",
    }
    async with client_for(auth_server) as auth:
        agent = await auth.register_agent()
        suspended = await _run(
            script,
            environ,
            "SuspendAgent",
            json.dumps({"agent_id": agent.agent_id, "reason": "INC-1 runbook test"}),
        )
        assert suspended["agent"]["status"] == "AGENT_STATUS_SUSPENDED"  # type: ignore[index]
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await auth.authenticate(agent.api_key)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED

        audit = await _run(
            script, environ, "ListAuditEvents", json.dumps({"agent_id": agent.agent_id})
        )
        assert audit["events"]

        reactivated = await _run(
            script,
            environ,
            "ReactivateAgent",
            json.dumps({"agent_id": agent.agent_id, "reason": "INC-1 resolved"}),
        )
        assert reactivated["agent"]["status"] == "AGENT_STATUS_ACTIVE"  # type: ignore[index]
        assert (await auth.authenticate(agent.api_key)).principal.agent_id == agent.agent_id


async def test_every_http_route_in_the_runbook_exists(make_gateway: MakeGateway) -> None:
    # /metrics is served by the metrics listener, not the application (test_processes.py).
    cited = [
        (method, path)
        for method, path in re.findall(r"`(GET|POST|DELETE|PATCH|PUT) (/[^`\s]+)`", _text())
        if path != "/metrics"
    ]
    assert len(cited) >= 8
    paths = make_gateway().app.openapi()["paths"]
    for method, path in cited:
        template = re.sub(r"\{[^}]+\}", "{}", path)
        served = {
            re.sub(r"\{[^}]+\}", "{}", candidate): set(operations)
            for candidate, operations in paths.items()
        }
        assert method.lower() in served.get(template, set()), f"{method} {path}"

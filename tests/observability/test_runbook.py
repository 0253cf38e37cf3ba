"""``docs/operations.md`` cites only what exists: every ``tokenmartctl`` command it shows parses
with tokenmartctl's own parser, its ``tokenmartctl auth`` commands cover the containment calls
of an incident and call RPCs that ctl may call, and its suspend, audit and reactivate lines,
run as written, work against a real auth server."""

from __future__ import annotations

import asyncio
import re
import shlex
from pathlib import Path

import grpc
import pytest

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
# The AuthService RPC behind each ``tokenmartctl auth`` command.
_AUTH_RPCS = {
    "suspend-agent": "SuspendAgent",
    "reactivate-agent": "ReactivateAgent",
    "set-role": "SetAccountRole",
    "rotate-signing-key": "RotateSigningKey",
    "reseal-signing-keys": "ResealSigningKeys",
    "audit": "ListAuditEvents",
}


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


def _auth_commands() -> list[list[str]]:
    return [
        shlex.split(command) for command in _tokenmartctl_commands() if command.startswith("auth ")
    ]


def test_every_tokenmartctl_command_in_the_runbook_exists() -> None:
    commands = [command for command in _tokenmartctl_commands() if command]
    assert len(commands) >= 10
    parser = ctl._parser()
    for command in commands:
        try:
            parser.parse_args(shlex.split(command))
        except SystemExit as refused:  # argparse's way of saying no
            raise AssertionError(f"tokenmartctl {command!r} is not a command") from refused


def test_the_runbooks_auth_commands_cover_containment_and_call_rpcs_ctl_may_call() -> None:
    commands = _auth_commands()
    assert set(_AUTH_RPCS) <= {argv[1] for argv in commands}
    assert ["auth", "rotate-signing-key", "--compromised"] in commands
    assert ["auth", "reseal-signing-keys"] in commands  # replacing a leaked SIGNING_KEK
    assert "auth_rpc" not in _text()  # the script these commands replace is gone
    allowlist = auth_access.allowlist(reflection=False)
    parser = ctl._parser()
    for argv in commands:
        arguments = parser.parse_args(argv)
        method = _AUTH_RPCS[arguments.command]
        assert "ctl" in allowlist.callers_of(f"/{AUTH_SERVICE}/{method}"), method


def _runbook_line(command: str, option: str, **placeholders: str) -> list[str]:
    """The runbook's one ``tokenmartctl auth COMMAND …`` line that has ``option``, with its
    placeholders filled in."""
    (argv,) = [argv for argv in _auth_commands() if argv[1] == command and option in argv]
    return [placeholders.get(argument, argument) for argument in argv]


async def test_the_runbooks_suspend_audit_and_reactivate_lines_work_as_written(
    auth_server: AuthServerHandle, pki: dict[str, IssuedFiles], capsys: pytest.CaptureFixture[str]
) -> None:
    files = pki["ctl"]
    environ = {
        "TOKENMART_CTL_TLS_CA_FILE": str(files.ca_file),
        "TOKENMART_CTL_TLS_CERT_FILE": str(files.cert_file),
        "TOKENMART_CTL_TLS_KEY_FILE": str(files.key_file),
        "TOKENMART_CTL_AUTH_TARGET": f"127.0.0.1:{auth_server.port}",
    }

    async def run(argv: list[str]) -> str:
        # ctl.main runs its own event loop, so it runs in a thread, as in its own process.
        status = await asyncio.to_thread(ctl.main, argv, environ)
        captured = capsys.readouterr()
        assert status == 0, captured.err
        return captured.out

    async with client_for(auth_server) as auth:
        agent = await auth.register_agent()
        out = await run(_runbook_line("suspend-agent", "--reason", AGENT_ID=agent.agent_id))
        assert f"{agent.agent_id} {agent.name} status=suspended" in out
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await auth.authenticate(agent.api_key)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED

        out = await run(_runbook_line("audit", "--agent-id", AGENT_ID=agent.agent_id))
        assert "AUDIT_EVENT_TYPE_AGENT_SUSPENDED" in out

        out = await run(_runbook_line("reactivate-agent", "--reason", AGENT_ID=agent.agent_id))
        assert f"{agent.agent_id} {agent.name} status=active" in out
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

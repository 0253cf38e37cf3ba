"""``tokenmartctl auth ...`` run as an operator runs it (``ops.ctl.main``) against real auth
servers: suspend and reactivate an agent, change a role, read the audit log, rotate the signing
key; bad arguments exit 2 before any call, refusals exit 1 with auth's reason."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import socket
import threading
import uuid
from collections.abc import Callable, Iterator

import grpc
import jwt
import psycopg
import pytest
from tokenmart.auth.v1 import auth_pb2

from ops import ctl, ctl_auth
from ops.database import ServiceDatabase
from ops.pki import IssuedFiles
from tests.auth.helpers import AuthClient, client_for, refused
from tests.conftest import AuthServerHandle

UNKNOWN = "00000000-0000-4000-8000-000000000000"


def _environ(files: IssuedFiles, target: str) -> dict[str, str]:
    """Only what tokenmartctl needs: the ctl certificate and auth's address."""
    return {
        "TOKENMART_CTL_TLS_CA_FILE": str(files.ca_file),
        "TOKENMART_CTL_TLS_CERT_FILE": str(files.cert_file),
        "TOKENMART_CTL_TLS_KEY_FILE": str(files.key_file),
        "TOKENMART_CTL_AUTH_TARGET": target,
    }


def _main(argv: list[str], environ: dict[str, str]) -> int:
    """tokenmartctl's exit status, including argparse's own refusals (SystemExit)."""
    try:
        return ctl.main(argv, environ)
    except SystemExit as exited:  # argparse exits 2 itself
        return int(str(exited.code))


async def _ctl(
    server: AuthServerHandle, capsys: pytest.CaptureFixture[str], *argv: str
) -> tuple[int, str, str]:
    # ctl.main runs its own event loop, so it runs in a thread, as it would in its own process.
    environ = _environ(server.pki["ctl"], f"127.0.0.1:{server.port}")
    status = await asyncio.to_thread(_main, ["auth", *argv], environ)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


# -- suspension, the audit log ------------------------------------------------------------------


async def test_a_suspended_agents_key_stops_authenticating_until_it_is_reactivated(
    auth_server: AuthServerHandle, client: AuthClient, capsys: pytest.CaptureFixture[str]
) -> None:
    agent = await client.register_agent()
    assert (await client.authenticate(agent.api_key)).principal.agent_id == agent.agent_id

    status, out, err = await _ctl(
        auth_server, capsys, "suspend-agent", agent.agent_id, "--reason", "INC-7 key leaked"
    )
    assert (status, err) == (0, "")
    assert "suspended: its keys and the sessions acting as it no longer authenticate" in out
    assert f"agent {agent.agent_id} {agent.name} status=suspended" in out
    assert "reason='INC-7 key leaked'" in out
    assert agent.api_key not in out
    # As the gateway asks on every request: the key no longer authenticates.
    await refused(
        client.authenticate(agent.api_key), grpc.StatusCode.UNAUTHENTICATED, "AGENT_SUSPENDED"
    )

    status, out, _ = await _ctl(
        auth_server, capsys, "reactivate-agent", agent.agent_id, "--reason", "INC-7 resolved"
    )
    assert status == 0
    assert f"agent {agent.agent_id} {agent.name} status=active" in out
    assert (await client.authenticate(agent.api_key)).principal.agent_id == agent.agent_id

    # The audit log, newest first: registered, suspended (by ctl, with the reason), reactivated.
    status, out, _ = await _ctl(auth_server, capsys, "audit", "--agent-id", agent.agent_id)
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == f"audit events of agent {agent.agent_id}, newest first: 3"
    kinds = [line.split()[1] for line in lines[1:]]
    assert kinds == ["agent_reactivated", "agent_suspended", "agent_registered"]
    suspension = lines[2]
    assert "success actor_service=ctl" in suspension
    assert f"agent={agent.agent_id}" in suspension
    assert 'details={"reason":"INC-7 key leaked"}' in suspension

    status, out, _ = await _ctl(
        auth_server, capsys, "audit", "--agent-id", agent.agent_id, "--json"
    )
    listing = json.loads(out)
    assert [event["event_type"] for event in listing["events"]] == [
        "AUDIT_EVENT_TYPE_AGENT_REACTIVATED",
        "AUDIT_EVENT_TYPE_AGENT_SUSPENDED",
        "AUDIT_EVENT_TYPE_AGENT_REGISTERED",
    ]
    assert "next_page_token" not in listing


async def test_audit_shows_one_page_unless_all_follows_the_page_tokens(
    auth_server: AuthServerHandle, client: AuthClient, capsys: pytest.CaptureFixture[str]
) -> None:
    agent = await client.register_agent()
    for verb in ("suspend-agent", "reactivate-agent", "suspend-agent"):
        status, _, _ = await _ctl(auth_server, capsys, verb, agent.agent_id, "--reason", "drill")
        assert status == 0

    status, out, _ = await _ctl(
        auth_server, capsys, "audit", "--agent-id", agent.agent_id, "--page-size", "1"
    )
    assert status == 0
    lines = out.splitlines()
    assert lines[0].endswith("newest first: 1")
    assert lines[1].split()[1] == "agent_suspended"
    assert lines[-1] == "  (more events: add --all)"

    status, out, _ = await _ctl(
        auth_server, capsys, "audit", "--agent-id", agent.agent_id, "--page-size", "1", "--all"
    )
    assert status == 0
    lines = out.splitlines()
    assert [line.split()[1] for line in lines[1:]] == [
        "agent_suspended",
        "agent_reactivated",
        "agent_suspended",
        "agent_registered",
    ]

    status, out, _ = await _ctl(
        auth_server, capsys, "audit", "--agent-id", agent.agent_id, "--page-size", "2", "--json"
    )
    page = json.loads(out)
    assert len(page["events"]) == 2
    assert page["next_page_token"]  # tells a script that more events exist


# -- roles --------------------------------------------------------------------------------------


async def test_set_role_changes_the_role_the_next_access_token_carries(
    auth_server: AuthServerHandle, client: AuthClient, capsys: pytest.CaptureFixture[str]
) -> None:
    session = await client.new_session()
    role = (await client.authenticate(session.session_token)).principal.role
    assert role == auth_pb2.ACCOUNT_ROLE_USER

    status, out, err = await _ctl(
        auth_server,
        capsys,
        "set-role",
        session.account_id,
        "--role",
        "admin",
        "--reason",
        "INC-8 on-call admin",
    )
    assert (status, err) == (0, "")
    assert f"account {session.account_id} <" in out
    assert "role user -> admin" in out
    role = (await client.authenticate(session.session_token)).principal.role
    assert role == auth_pb2.ACCOUNT_ROLE_ADMIN

    status, out, _ = await _ctl(
        auth_server,
        capsys,
        "set-role",
        session.account_id,
        "--role",
        "user",
        "--reason",
        "INC-8 compromised admin",
        "--json",
    )
    assert status == 0
    answer = json.loads(out)
    assert answer["previous_role"] == "ACCOUNT_ROLE_ADMIN"
    assert answer["account"]["role"] == "ACCOUNT_ROLE_USER"
    role = (await client.authenticate(session.session_token)).principal.role
    assert role == auth_pb2.ACCOUNT_ROLE_USER

    status, out, _ = await _ctl(auth_server, capsys, "audit", "--account-id", session.account_id)
    assert status == 0
    changes = [line for line in out.splitlines() if " role_changed " in line]
    assert len(changes) == 2
    assert '"previous_role":"admin"' in changes[0]
    assert '"reason":"INC-8 compromised admin"' in changes[0]


def test_the_role_choices_are_every_account_role_but_unspecified() -> None:
    roles = {
        number
        for number in auth_pb2.AccountRole.values()
        if number != auth_pb2.ACCOUNT_ROLE_UNSPECIFIED
    }
    assert set(ctl_auth.ACCOUNT_ROLES.values()) == roles
    for name, number in ctl_auth.ACCOUNT_ROLES.items():
        assert auth_pb2.AccountRole.Name(number) == f"ACCOUNT_ROLE_{name.upper()}"


# -- refusals -----------------------------------------------------------------------------------


async def test_a_refused_call_exits_1_with_auths_reason(
    auth_server: AuthServerHandle, client: AuthClient, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = await _ctl(
        auth_server, capsys, "suspend-agent", UNKNOWN, "--reason", "INC-9"
    )
    assert (status, out) == (1, "")
    assert err.startswith("tokenmartctl: refused: AGENT_NOT_FOUND: ")
    assert "tokenmartctl: request id " in err

    status, _, err = await _ctl(
        auth_server, capsys, "set-role", UNKNOWN, "--role", "admin", "--reason", "INC-9"
    )
    assert status == 1
    assert err.startswith("tokenmartctl: refused: ACCOUNT_NOT_FOUND: ")

    # The printed request id repeats a call exactly; reused for a different call, auth refuses.
    agent = await client.register_agent()
    request_id = str(uuid.uuid4())
    first = await _ctl(
        auth_server,
        capsys,
        "suspend-agent",
        agent.agent_id,
        "--reason",
        "INC-9",
        "--request-id",
        request_id,
    )
    again = await _ctl(
        auth_server,
        capsys,
        "suspend-agent",
        agent.agent_id,
        "--reason",
        "INC-9",
        "--request-id",
        request_id,
    )
    assert first[0] == again[0] == 0
    assert first[1] == again[1]
    assert f"(request id {request_id})" in first[1]
    status, _, err = await _ctl(
        auth_server,
        capsys,
        "suspend-agent",
        agent.agent_id,
        "--reason",
        "INC-9 other",
        "--request-id",
        request_id,
    )
    assert status == 1
    assert err.startswith("tokenmartctl: refused: REQUEST_ID_CONFLICT: ")


class _Listener:
    """A TCP port standing in for auth that counts connections and closes each at once."""

    def __init__(self) -> None:
        self.connections = 0
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.1)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self._socket.getsockname()[1]}"

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(5)
        self._socket.close()


@pytest.fixture
def listener() -> Iterator[_Listener]:
    opened = _Listener()
    yield opened
    opened.close()


_AGENT = "3f0c1b52-9d8e-4c1a-b6f7-2a4d5e6f7a8b"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["suspend-agent", "agent-7", "--reason", "x"], "AGENT_ID must be a UUID"),
        (["suspend-agent", _AGENT[:-1], "--reason", "x"], "AGENT_ID must be a UUID"),
        (["reactivate-agent", _AGENT, "--reason", "   "], "--reason must not be blank"),
        (["suspend-agent", _AGENT, "--reason", "x" * 501], "at most 500 characters"),
        (["suspend-agent", _AGENT, "--reason", "two\nlines"], "control characters"),
        (["suspend-agent", _AGENT], "the following arguments are required: --reason"),
        (["set-role", "42", "--role", "admin", "--reason", "x"], "ACCOUNT_ID must be a UUID"),
        (["set-role", _AGENT, "--role", "root", "--reason", "x"], "invalid choice: 'root'"),
        (["rotate-signing-key", "--activate-after-s", "3601"], "between 0 and 3600"),
        (["rotate-signing-key", "--activate-after-s", "-1"], "between 0 and 3600"),
        (["rotate-signing-key", "--compromised", "--activate-after-s", "0"], "not allowed"),
        (["rotate-signing-key", "--request-id", "again"], "--request-id must be a UUID"),
        (["reseal-signing-keys", "--request-id", "again"], "--request-id must be a UUID"),
        (["reseal-signing-keys", "--compromised"], "unrecognized arguments: --compromised"),
        (["audit"], "one of the arguments --account-id --agent-id is required"),
        (["audit", "--agent-id", _AGENT, "--account-id", _AGENT], "not allowed with"),
        (["audit", "--agent-id", "nobody"], "--agent-id must be a UUID"),
        (["audit", "--account-id", _AGENT, "--page-size", "0"], "between 1 and 200"),
        (["audit", "--account-id", _AGENT, "--page-size", "201"], "between 1 and 200"),
    ],
)
def test_bad_arguments_exit_2_before_any_call(
    argv: list[str],
    message: str,
    pki: dict[str, IssuedFiles],
    listener: _Listener,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _main(["auth", *argv], _environ(pki["ctl"], listener.target)) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.out == ""
    assert listener.connections == 0


def test_a_well_formed_command_does_reach_the_listener(
    pki: dict[str, IssuedFiles], listener: _Listener, capsys: pytest.CaptureFixture[str]
) -> None:
    # The control for the test above: the same target does see a call that passes the checks.
    environ = _environ(pki["ctl"], listener.target)
    assert _main(["auth", "audit", "--agent-id", _AGENT.upper()], environ) == 1
    assert "tokenmartctl: refused: UNAVAILABLE" in capsys.readouterr().err
    assert listener.connections >= 1


# -- signing-key rotation -----------------------------------------------------------------------


async def test_rotation_prints_the_new_kid_and_what_happens_to_old_tokens(
    start_auth_server: Callable[..., AuthServerHandle],
    fresh_auth_database: ServiceDatabase,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A server on a database of its own: rotating the session server's key would change the
    # keys every other test's tokens are signed and verified with.
    server = start_auth_server(database=fresh_auth_database)
    async with client_for(server) as client:

        async def published() -> list[auth_pb2.PublicKey]:
            answer = await client.stub.GetPublicKeys(auth_pb2.GetPublicKeysRequest())
            return list(answer.keys)

        (first,) = await published()
        status, out, _ = await _ctl(server, capsys, "rotate-signing-key", "--compromised", "--json")
        assert status == 0
        answer = json.loads(out)
        assert answer["previous_key"]["key_id"] == first.key_id
        assert answer["new_key"]["status"] == "SIGNING_KEY_STATUS_ACTIVE"

        (old,) = await published()
        status, out, err = await _ctl(server, capsys, "rotate-signing-key", "--compromised")
        assert (status, err) == (0, "")
        (signing,) = await published()
        assert signing.status == auth_pb2.SIGNING_KEY_STATUS_ACTIVE
        assert signing.key_id != old.key_id
        assert f"new signing key {signing.key_id}: signing now" in out
        assert f"previous key {old.key_id}: retired at " in out
        assert "stop verifying at each service's next public-key refresh" in out
        session = await client.new_session()
        token = (await client.authenticate(session.session_token)).access_token
        assert jwt.get_unverified_header(token)["kid"] == signing.key_id

        status, out, err = await _ctl(
            server, capsys, "rotate-signing-key", "--activate-after-s", "600"
        )
        assert (status, err) == (0, "")
        keys = {key.status: key for key in await published()}
        new = keys[auth_pb2.SIGNING_KEY_STATUS_NEXT]
        assert keys[auth_pb2.SIGNING_KEY_STATUS_ACTIVE].key_id == signing.key_id
        assert (
            f"new signing key {new.key_id}: published now, signs from "
            f"{new.not_before.ToJsonString()}"
        ) in out
        assert f"previous key {signing.key_id}: signs until then and keeps verifying" in out

        # A second routine rotation before the first key signs is refused, with the reason.
        status, out, err = await _ctl(server, capsys, "rotate-signing-key")
        assert (status, out) == (1, "")
        assert err.startswith("tokenmartctl: refused: ROTATION_IN_PROGRESS: ")


# -- re-sealing the signing keys under a new KEK ------------------------------------------------

_KEK_OLD = base64.b64encode(b"old-key-encryption-key-32-bytes!").decode()
_KEK_NEW = base64.b64encode(b"new-key-encryption-key-32-bytes!").decode()


def _sealed(database: ServiceDatabase) -> dict[str, tuple[bytes, bytes]]:
    with psycopg.connect(database.owner_url) as connection:
        rows = connection.execute(
            "SELECT id, private_key_nonce, private_key_ciphertext FROM auth.signing_keys"
        ).fetchall()
    return {str(row[0]): (bytes(row[1]), bytes(row[2])) for row in rows}


async def test_reseal_moves_the_keys_then_finds_them_current(
    start_auth_server: Callable[..., AuthServerHandle],
    fresh_auth_database: ServiceDatabase,
    capsys: pytest.CaptureFixture[str],
) -> None:
    old = start_auth_server(env={"SIGNING_KEK": _KEK_OLD}, database=fresh_auth_database)
    status, _, _ = await _ctl(old, capsys, "rotate-signing-key", "--compromised")
    assert status == 0
    server = start_auth_server(
        env={"SIGNING_KEK": _KEK_NEW, "SIGNING_KEK_PREVIOUS": _KEK_OLD},
        database=fresh_auth_database,
    )
    status, out, err = await _ctl(server, capsys, "reseal-signing-keys")
    assert (status, err) == (0, "")
    assert "re-sealed 2 signing keys under SIGNING_KEK; already current 0; failed 0" in out
    assert "SIGNING_KEK_PREVIOUS can go" in out
    assert re.search(r"\(request id [0-9a-f-]{36}\)", out)
    status, out, err = await _ctl(server, capsys, "reseal-signing-keys", "--json")
    assert (status, err) == (0, "")
    assert json.loads(out) == {"already_current": 2}  # proto3 JSON leaves out zeros and empties
    for nonce, ciphertext in _sealed(fresh_auth_database).values():
        assert len(nonce) == 12 and len(ciphertext) == 48
    for secret in (_KEK_OLD, _KEK_NEW):
        assert secret not in out


async def test_reseal_exits_3_and_names_the_keys_no_kek_opens(
    start_auth_server: Callable[..., AuthServerHandle],
    fresh_auth_database: ServiceDatabase,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A KEK change that was never finished: the first key, sealed under KEK U, was retired but
    # never re-sealed; the active key is under OLD. Auth now runs with NEW and previous OLD.
    unknown = base64.b64encode(b"a-kek-that-nobody-configured-!!!").decode()
    start_auth_server(env={"SIGNING_KEK": unknown}, database=fresh_auth_database)
    ((stranded, _),) = _sealed(fresh_auth_database).items()
    middle = start_auth_server(
        env={"SIGNING_KEK": _KEK_OLD, "SIGNING_KEK_PREVIOUS": unknown},
        database=fresh_auth_database,
    )
    status, _, _ = await _ctl(middle, capsys, "rotate-signing-key", "--compromised")
    assert status == 0
    server = start_auth_server(
        env={"SIGNING_KEK": _KEK_NEW, "SIGNING_KEK_PREVIOUS": _KEK_OLD},
        database=fresh_auth_database,
    )
    before = _sealed(fresh_auth_database)
    request_id = str(uuid.uuid4())
    status, out, err = await _ctl(server, capsys, "reseal-signing-keys", "--request-id", request_id)
    assert (status, err) == (3, "")
    assert "re-sealed 1 signing keys under SIGNING_KEK; already current 0; failed 1" in out
    assert f"  FAILED {stranded}: opens under neither SIGNING_KEK nor SIGNING_KEK_PREVIOUS" in out
    assert "keep SIGNING_KEK_PREVIOUS" in out
    assert f"(request id {request_id})" in out
    after = _sealed(fresh_auth_database)
    assert after[stranded] == before[stranded]  # byte for byte
    assert len(after) == 2 and all(after[key] != before[key] for key in after if key != stranded)
    status, out, _ = await _ctl(server, capsys, "reseal-signing-keys", "--json")
    assert status == 3
    assert json.loads(out) == {"already_current": 1, "failed_key_ids": [stranded]}

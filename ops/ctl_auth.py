"""``tokenmartctl auth ...``: the containment calls of the incident runbook (docs/operations.md
§4.1): suspend and reactivate agents, change account roles, rotate the access-token signing key,
re-seal the stored signing keys under a new key-encryption key, and read the audit log. Hooked
into :mod:`ops.ctl` by ``add_commands`` and ``run``.

    tokenmartctl auth suspend-agent AGENT_ID --reason TEXT [--request-id UUID] [--json]
    tokenmartctl auth reactivate-agent AGENT_ID --reason TEXT [--request-id UUID] [--json]
    tokenmartctl auth set-role ACCOUNT_ID --role user|admin|super_admin --reason TEXT
        [--request-id UUID] [--json]
    tokenmartctl auth rotate-signing-key [--compromised | --activate-after-s N]
        [--request-id UUID] [--json]
    tokenmartctl auth reseal-signing-keys [--request-id UUID] [--json]
    tokenmartctl auth audit (--account-id ID | --agent-id ID) [--page-size N] [--all] [--json]

Ids are UUIDs (8-4-4-4-12 hex). A reason is 1..500 characters, not blank, without control
characters; it is recorded in the audit log (and, for a suspension, shown to the agent's owner).
Arguments are checked here, before anything is sent, so a typo never reaches auth.

Every mutating command sends a fresh request id (printed) unless ``--request-id`` repeats one:
auth answers a repeated request id with the first answer, so after a timeout or a lost answer
the same command with the printed ``--request-id`` is safe to run again (for a compromised
rotation, a second rotation would also retire the key the first one made).

``reseal-signing-keys`` re-seals under auth's ``SIGNING_KEK`` every stored signing key that
opens only under ``SIGNING_KEK_PREVIOUS`` (the KEK change of docs/operations.md §4.1 step 4). It
is idempotent: running it again reports every key as already current. Keys that neither KEK
opens are printed and left alone.

``audit`` prints one page (newest first) unless ``--all``, which follows the page tokens for at
most ``PAGES_MAX`` pages and says so when it stopped early.

Each command authenticates like every ctl command: the ``ctl`` certificate, and a service token
(scope ``operator``) that auth issues to it; auth's address is ``TOKENMART_CTL_AUTH_TARGET``
(default ``127.0.0.1:$TOKENMART_AUTH_PORT`` or 50051).

Exit status: 0 on success, 1 when auth refused (the reason is printed), 2 for bad usage, 3 when
``reseal-signing-keys`` left keys that neither KEK opens (so ``SIGNING_KEK_PREVIOUS`` cannot go).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
import uuid
from collections.abc import Mapping
from typing import Any

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from tokenmart.auth.v1 import auth_pb2, auth_pb2_grpc

from ops import ctl
from services.common.status import error_reason

# Every AccountRole but UNSPECIFIED, by its JWT tm_role name (a test holds it to the enum).
ACCOUNT_ROLES = {
    "user": auth_pb2.ACCOUNT_ROLE_USER,
    "admin": auth_pb2.ACCOUNT_ROLE_ADMIN,
    "super_admin": auth_pb2.ACCOUNT_ROLE_SUPER_ADMIN,
}
REASON_MAX_CHARS = 500
ACTIVATE_AFTER_MAX_S = 3600
PAGE_SIZE_DEFAULT = 50
PAGE_SIZE_MAX = 200
PAGES_MAX = 50  # --all reads at most 50 x 200 = 10,000 events
INCOMPLETE = 3  # as tokenmartctl provider rotate-kek: some keys could not be re-sealed
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_MUTATING = (
    "suspend-agent",
    "reactivate-agent",
    "set-role",
    "rotate-signing-key",
    "reseal-signing-keys",
)
Metadata = tuple[tuple[str, str], ...]


def add_commands(subparsers: Any) -> None:
    """Add ``auth`` and its commands to tokenmartctl's top-level subparsers."""
    auth = subparsers.add_parser(
        "auth", help="suspensions, roles, signing-key rotation and re-sealing, the audit log"
    )
    commands = auth.add_subparsers(dest="command", required=True)

    for verb, effect in (
        ("suspend-agent", "stop every credential of an agent at once"),
        ("reactivate-agent", "lift a suspension (revoked credentials stay revoked)"),
    ):
        status = commands.add_parser(verb, help=effect)
        status.add_argument("agent_id")
        status.add_argument("--reason", required=True, help="1..500 characters, audited")
        _mutation_options(status)

    role = commands.add_parser("set-role", help="change an account's role (audited)")
    role.add_argument("account_id")
    role.add_argument("--role", required=True, choices=list(ACCOUNT_ROLES))
    role.add_argument("--reason", required=True, help="1..500 characters, audited")
    _mutation_options(role)

    rotate = commands.add_parser(
        "rotate-signing-key", help="generate a new access-token signing key"
    )
    how = rotate.add_mutually_exclusive_group()
    how.add_argument(
        "--compromised",
        action="store_true",
        help="retire the current key at once and sign with the new one immediately",
    )
    how.add_argument(
        "--activate-after-s",
        type=int,
        default=None,
        help="publish now, sign after this many seconds (0..3600; default: twice the "
        "services' public-key refresh interval)",
    )
    _mutation_options(rotate)

    reseal = commands.add_parser(
        "reseal-signing-keys",
        help="re-seal every stored signing key under SIGNING_KEK (after a KEK change); "
        "exit 3 if some key opens under neither KEK",
    )
    _mutation_options(reseal)

    audit = commands.add_parser("audit", help="audit events of an account or agent, newest first")
    subject = audit.add_mutually_exclusive_group(required=True)
    subject.add_argument("--account-id", help="events whose actor or subject is this account")
    subject.add_argument("--agent-id", help="events whose actor or subject is this agent")
    audit.add_argument(
        "--page-size", type=int, default=PAGE_SIZE_DEFAULT, help="events per page, 1..200"
    )
    audit.add_argument(
        "--all", action="store_true", help=f"follow every page (at most {PAGES_MAX})"
    )
    audit.add_argument("--json", action="store_true")


def _mutation_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--request-id", default=None, help="repeat a call that may have happened")
    command.add_argument("--json", action="store_true", help="print the full answer as JSON")


async def run(arguments: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """Run one ``auth`` command; returns the exit status."""
    request_id = ""
    try:
        _check(arguments)
        if arguments.command in _MUTATING:
            request_id = arguments.request_id or str(uuid.uuid4())
        metadata = await ctl._operator_token(environ, audience="auth")
        async with ctl._channel(environ, "auth") as channel:
            stub = auth_pb2_grpc.AuthServiceStub(channel)
            if arguments.command in ("suspend-agent", "reactivate-agent"):
                return await _set_status(stub, metadata, arguments, request_id)
            if arguments.command == "set-role":
                return await _set_role(stub, metadata, arguments, request_id)
            if arguments.command == "rotate-signing-key":
                return await _rotate(stub, metadata, arguments, request_id)
            if arguments.command == "reseal-signing-keys":
                return await _reseal(stub, metadata, arguments, request_id)
            if arguments.command == "audit":
                return await _audit(stub, metadata, arguments)
    except ctl.Usage as problem:
        print(f"tokenmartctl: {problem}", file=sys.stderr)
        return 2
    except grpc.aio.AioRpcError as error:
        reason = error_reason(error) or error.code().name
        print(f"tokenmartctl: refused: {reason}: {error.details()}", file=sys.stderr)
        if request_id:
            # A timeout or an outage may have hidden a success; the same request id is exact.
            print(f"tokenmartctl: request id {request_id}", file=sys.stderr)
        return 1
    raise AssertionError(f"unknown auth command {arguments.command!r}")


# -- plumbing -----------------------------------------------------------------------------------


def _check(arguments: argparse.Namespace) -> None:
    """Refuse bad arguments before anything is sent (exit 2)."""
    command = arguments.command
    if command in ("suspend-agent", "reactivate-agent"):
        arguments.agent_id = _uuid(arguments.agent_id, "AGENT_ID")
    if command == "set-role":
        arguments.account_id = _uuid(arguments.account_id, "ACCOUNT_ID")
    if command in ("suspend-agent", "reactivate-agent", "set-role"):
        _reason(arguments.reason)
    if command in _MUTATING and arguments.request_id is not None:
        arguments.request_id = _uuid(arguments.request_id, "--request-id")
    if (
        command == "rotate-signing-key"
        and arguments.activate_after_s is not None
        and not 0 <= arguments.activate_after_s <= ACTIVATE_AFTER_MAX_S
    ):
        raise ctl.Usage(f"--activate-after-s must be between 0 and {ACTIVATE_AFTER_MAX_S}")
    if command == "audit":
        if arguments.account_id is not None:
            arguments.account_id = _uuid(arguments.account_id, "--account-id")
        if arguments.agent_id is not None:
            arguments.agent_id = _uuid(arguments.agent_id, "--agent-id")
        if not 1 <= arguments.page_size <= PAGE_SIZE_MAX:
            raise ctl.Usage(f"--page-size must be between 1 and {PAGE_SIZE_MAX}")


def _uuid(raw: str, what: str) -> str:
    """The id in auth's canonical form (lowercase 8-4-4-4-12), or :class:`ctl.Usage`."""
    canonical = raw.strip().lower()
    if not _UUID.match(canonical):
        raise ctl.Usage(f"{what} must be a UUID (8-4-4-4-12 hex digits), not {raw!r}")
    return canonical


def _reason(raw: str) -> None:
    # The same rule as auth's (REASON_REQUIRED), so the operator learns it before the call.
    if not raw.strip():
        raise ctl.Usage("--reason must not be blank")
    if len(raw) > REASON_MAX_CHARS:
        raise ctl.Usage(f"--reason must be at most {REASON_MAX_CHARS} characters")
    if any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in raw):
        raise ctl.Usage("--reason must not contain control characters (newlines, tabs, ...)")


def _json(message: Message) -> str:
    return json.dumps(
        json_format.MessageToDict(message, preserving_proto_field_name=True), indent=2
    )


def _name(enum: Any, value: int, prefix: str) -> str:
    return str(enum.Name(value)).removeprefix(prefix).lower()


def _time(message: Message, field: str) -> str:
    if not message.HasField(field):
        return "-"
    stamp: Timestamp = getattr(message, field)
    return stamp.ToJsonString()


def _agent_line(agent: auth_pb2.Agent) -> str:
    line = (
        f"agent {agent.agent_id} {agent.name} "
        f"status={_name(auth_pb2.AgentStatus, agent.status, 'AGENT_STATUS_')} "
        f"lifecycle={_name(auth_pb2.AgentLifecycle, agent.lifecycle, 'AGENT_LIFECYCLE_')} "
        f"owner={agent.owner_account_id or '-'}"
    )
    if agent.status == auth_pb2.AGENT_STATUS_SUSPENDED:
        line += f" suspended_at={_time(agent, 'suspended_at')} reason={agent.suspension_reason!r}"
    return line


def _event_line(event: auth_pb2.AuditEvent) -> str:
    kind = _name(auth_pb2.AuditEventType, event.event_type, "AUDIT_EVENT_TYPE_")
    outcome = _name(auth_pb2.AuditOutcome, event.outcome, "AUDIT_OUTCOME_")
    if event.failure_reason:
        outcome += f"({event.failure_reason})"
    parts = [_time(event, "occurred_at"), kind, outcome]
    for label, value in (
        ("actor_account", event.actor_account_id),
        ("actor_agent", event.actor_agent_id),
        ("actor_key", event.actor_key_id),
        ("actor_service", event.actor_service),
        ("account", event.subject_account_id),
        ("agent", event.subject_agent_id),
        ("key", event.subject_key_id),
        ("session", event.subject_session_id),
        ("ip", event.client_ip),
        ("request", event.request_id),
    ):
        if value:
            parts.append(f"{label}={value}")
    if event.HasField("details") and event.details.fields:
        # Details never hold a secret (auth's contract); compact JSON keeps one event per line.
        details = json_format.MessageToDict(event.details)
        parts.append(f"details={json.dumps(details, sort_keys=True, separators=(',', ':'))}")
    return "  " + " ".join(parts)


# -- commands -----------------------------------------------------------------------------------


async def _set_status(
    stub: auth_pb2_grpc.AuthServiceStub,
    metadata: Metadata,
    arguments: argparse.Namespace,
    request_id: str,
) -> int:
    agent: auth_pb2.Agent
    if arguments.command == "suspend-agent":
        suspended = await stub.SuspendAgent(
            auth_pb2.SuspendAgentRequest(
                request_id=request_id, agent_id=arguments.agent_id, reason=arguments.reason
            ),
            metadata=metadata,
        )
        if arguments.json:
            print(_json(suspended))
            return 0
        agent = suspended.agent
        effect = "suspended: its keys and the sessions acting as it no longer authenticate"
    else:
        reactivated = await stub.ReactivateAgent(
            auth_pb2.ReactivateAgentRequest(
                request_id=request_id, agent_id=arguments.agent_id, reason=arguments.reason
            ),
            metadata=metadata,
        )
        if arguments.json:
            print(_json(reactivated))
            return 0
        agent = reactivated.agent
        effect = "active: its credentials that were not revoked authenticate again"
    print(f"{effect} (request id {request_id})\n{_agent_line(agent)}")
    return 0


async def _set_role(
    stub: auth_pb2_grpc.AuthServiceStub,
    metadata: Metadata,
    arguments: argparse.Namespace,
    request_id: str,
) -> int:
    response = await stub.SetAccountRole(
        auth_pb2.SetAccountRoleRequest(
            request_id=request_id,
            account_id=arguments.account_id,
            role=ACCOUNT_ROLES[arguments.role],
            reason=arguments.reason,
        ),
        metadata=metadata,
    )
    if arguments.json:
        print(_json(response))
        return 0
    account = response.account
    before = _name(auth_pb2.AccountRole, response.previous_role, "ACCOUNT_ROLE_")
    after = _name(auth_pb2.AccountRole, account.role, "ACCOUNT_ROLE_")
    print(
        f"account {account.account_id} <{account.email}>: role {before} -> {after}; "
        f"every access token issued from now on carries it (request id {request_id})"
    )
    return 0


async def _rotate(
    stub: auth_pb2_grpc.AuthServiceStub,
    metadata: Metadata,
    arguments: argparse.Namespace,
    request_id: str,
) -> int:
    request = auth_pb2.RotateSigningKeyRequest(
        request_id=request_id, compromised=arguments.compromised
    )
    if arguments.activate_after_s is not None:
        request.activate_after.FromSeconds(arguments.activate_after_s)
    response = await stub.RotateSigningKey(request, metadata=metadata)
    if arguments.json:
        print(_json(response))
        return 0
    new, previous = response.new_key, response.previous_key
    if arguments.compromised:
        lines = [
            f"new signing key {new.key_id}: signing now",
            f"previous key {previous.key_id}: retired at {_time(previous, 'not_after')}; "
            "tokens it signed stop verifying at each service's next public-key refresh",
        ]
    else:
        lines = [
            f"new signing key {new.key_id}: published now, signs from "
            f"{_time(response, 'activates_at')}",
            f"previous key {previous.key_id}: signs until then and keeps verifying the tokens "
            f"it signed until {_time(previous, 'not_after')}",
        ]
    lines.append(f"(request id {request_id})")
    print("\n".join(lines))
    return 0


async def _reseal(
    stub: auth_pb2_grpc.AuthServiceStub,
    metadata: Metadata,
    arguments: argparse.Namespace,
    request_id: str,
) -> int:
    response = await stub.ResealSigningKeys(
        auth_pb2.ResealSigningKeysRequest(request_id=request_id), metadata=metadata
    )
    status = INCOMPLETE if response.failed_key_ids else 0
    if arguments.json:
        print(_json(response))
        return status
    lines = [
        f"re-sealed {response.resealed} signing keys under SIGNING_KEK; "
        f"already current {response.already_current}; failed {len(response.failed_key_ids)}"
    ]
    for key_id in response.failed_key_ids:
        lines.append(
            f"  FAILED {key_id}: opens under neither SIGNING_KEK nor SIGNING_KEK_PREVIOUS "
            "(left unchanged)"
        )
    if response.failed_key_ids:
        lines.append("keep SIGNING_KEK_PREVIOUS until these keys are dealt with")
    else:
        lines.append("every stored key opens under SIGNING_KEK: SIGNING_KEK_PREVIOUS can go")
    lines.append(f"(request id {request_id})")
    print("\n".join(lines))
    return status


async def _audit(
    stub: auth_pb2_grpc.AuthServiceStub, metadata: Metadata, arguments: argparse.Namespace
) -> int:
    request = auth_pb2.ListAuditEventsRequest(
        page_size=arguments.page_size,
        account_id=arguments.account_id or "",
        agent_id=arguments.agent_id or "",
    )
    events: list[auth_pb2.AuditEvent] = []
    pages = 0
    while True:
        page = await stub.ListAuditEvents(request, metadata=metadata)
        pages += 1
        events.extend(page.events)
        request.page_token = page.next_page_token
        if not page.next_page_token or not arguments.all or pages >= PAGES_MAX:
            break
    remaining = request.page_token
    if arguments.json:
        # next_page_token is non-empty exactly when more events exist than were printed.
        print(_json(auth_pb2.ListAuditEventsResponse(events=events, next_page_token=remaining)))
        return 0
    if arguments.account_id:
        subject = f"account {arguments.account_id}"
    else:
        subject = f"agent {arguments.agent_id}"
    print(f"audit events of {subject}, newest first: {len(events)}")
    for event in events:
        print(_event_line(event))
    if remaining:
        hint = f"stopped after {PAGES_MAX} pages" if arguments.all else "more events: add --all"
        print(f"  ({hint})")
    return 0

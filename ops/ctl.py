"""``tokenmartctl``: the operator CLI. It talks to the services over gRPC with the ``ctl``
certificate and a service access token (scope ``operator``) that auth issues to that certificate.

    tokenmartctl admin create --email E [--password P | --password-stdin] [--role super_admin]
    tokenmartctl ledger verify [--max-failures N] [--json]
    tokenmartctl review ...      (bounties and the payout outbox; see ``tokenmartctl review -h``)
    tokenmartctl provider ...   (models, rotate-kek, unsettled, settle, generation; see
                                 ops/ctl_provider.py)
    tokenmartctl auth ...       (suspend-agent, reactivate-agent, set-role, rotate-signing-key,
                                 reseal-signing-keys, audit; see ops/ctl_auth.py)

Connection settings (defaults fit a ``make run`` stack on this machine):

* ``TOKENMART_CTL_TLS_CA_FILE`` / ``_CERT_FILE`` / ``_KEY_FILE`` — default: the ``ctl`` files of the
  dev PKI in ``$TOKENMART_STATE_DIR/pki`` (``.tokenmart/pki`` in the repository);
* ``TOKENMART_CTL_<SERVICE>_TARGET`` — default ``127.0.0.1:<port>``, the port being
  ``TOKENMART_<SERVICE>_PORT`` if set, else the ``make run`` default (auth 50051, wallet 50052).

Exit status: 0 on success, 1 when the service refused (the reason is printed), 2 for bad usage,
3 when ``ledger verify`` found the ledger inconsistent (every failure is printed).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

import grpc
from google.protobuf import json_format
from tokenmart.auth.v1 import auth_pb2, auth_pb2_grpc
from tokenmart.wallet.v1 import wallet_pb2, wallet_pb2_grpc

from ops import ctl_auth, ctl_provider, ctl_review
from ops.database import REPO_ROOT
from services.common.client import open_channel
from services.common.settings import PeerTarget, TlsSettings
from services.common.status import error_reason

ROLES = {"admin": auth_pb2.ACCOUNT_ROLE_ADMIN, "super_admin": auth_pb2.ACCOUNT_ROLE_SUPER_ADMIN}


class Usage(Exception):
    """Bad usage: printed, exit status 2."""


def _tls(environ: Mapping[str, str]) -> TlsSettings:
    state = Path(environ.get("TOKENMART_STATE_DIR") or REPO_ROOT / ".tokenmart")
    pki = state / "pki"
    files = TlsSettings(
        ca_file=Path(environ.get("TOKENMART_CTL_TLS_CA_FILE") or pki / "ca.pem"),
        cert_file=Path(environ.get("TOKENMART_CTL_TLS_CERT_FILE") or pki / "ctl.pem"),
        key_file=Path(environ.get("TOKENMART_CTL_TLS_KEY_FILE") or pki / "ctl-key.pem"),
    )
    for path in (files.ca_file, files.cert_file, files.key_file):
        if not path.is_file():
            raise Usage(f"certificate file {path} not found; run `make run` (or `make pki`) first")
    return files


DEFAULT_PORTS = {"auth": 50051, "wallet": 50052, "provider": 50053, "review": 50054}
FULL_NAMES = {
    "auth": "tokenmart.auth.v1.AuthService",
    "wallet": "tokenmart.wallet.v1.WalletService",
}
AUDIENCES = {"auth": auth_pb2.AUDIENCE_AUTH, "wallet": auth_pb2.AUDIENCE_WALLET}
LEDGER_INCONSISTENT = 3


def _target(environ: Mapping[str, str], service: str, *, timeout_s: float = 10.0) -> PeerTarget:
    port = environ.get(f"TOKENMART_{service.upper()}_PORT", str(DEFAULT_PORTS[service]))
    return PeerTarget(
        service=service,
        target=environ.get(f"TOKENMART_CTL_{service.upper()}_TARGET") or f"127.0.0.1:{port}",
        default_timeout_s=timeout_s,
    )


def _channel(
    environ: Mapping[str, str], service: str, *, timeout_s: float = 10.0
) -> grpc.aio.Channel:
    return open_channel(
        _target(environ, service, timeout_s=timeout_s),
        _tls(environ),
        full_service_name=FULL_NAMES[service],
    )


async def _operator_token(
    environ: Mapping[str, str], *, audience: str
) -> tuple[tuple[str, str], ...]:
    """A service token (scope operator) that auth issues to the ctl certificate."""
    async with _channel(environ, "auth") as channel:
        issued = await auth_pb2_grpc.AuthServiceStub(channel).IssueServiceToken(
            auth_pb2.IssueServiceTokenRequest(audiences=[AUDIENCES[audience]])
        )
    return (("authorization", f"Bearer {issued.access_token}"),)


async def admin_create(
    *, environ: Mapping[str, str], email: str, password: str, role: str, display_name: str
) -> str:
    metadata = await _operator_token(environ, audience="auth")
    async with _channel(environ, "auth") as channel:
        response = await auth_pb2_grpc.AuthServiceStub(channel).CreateAdminAccount(
            auth_pb2.CreateAdminAccountRequest(
                request_id=str(uuid.uuid4()),
                email=email,
                password=password,
                display_name=display_name,
                role=ROLES[role],
            ),
            metadata=metadata,
        )
    account = response.account
    return f"created {role} account {account.account_id} <{account.email}>"


async def ledger_verify(
    *, environ: Mapping[str, str], max_failures: int, as_json: bool
) -> tuple[int, str]:
    """Verify the whole ledger; (exit status, what to print)."""
    metadata = await _operator_token(environ, audience="wallet")
    async with _channel(environ, "wallet", timeout_s=600.0) as channel:
        response = await wallet_pb2_grpc.WalletServiceStub(channel).VerifyLedger(
            wallet_pb2.VerifyLedgerRequest(max_failures=max_failures), metadata=metadata
        )
    status = 0 if response.ok else LEDGER_INCONSISTENT
    if as_json:
        return status, json.dumps(
            json_format.MessageToDict(response, preserving_proto_field_name=True), indent=2
        )
    lines = [
        f"ledger {'OK' if response.ok else 'INCONSISTENT'}: "
        f"{response.accounts_checked} accounts, {response.transfers_checked} transfers checked"
    ]
    for totals in response.totals:
        lines.append(
            f"  {wallet_pb2.Ledger.Name(totals.ledger)}: debits posted "
            f"{totals.debits_posted_micros} = credits posted {totals.credits_posted_micros}; "
            f"pending {totals.debits_pending_micros} / {totals.credits_pending_micros}"
        )
    for failure in response.failures:
        lines.append(
            f"  FAILURE {wallet_pb2.VerificationFailureKind.Name(failure.kind)} "
            f"account={failure.ledger_account_id or '-'} transfer={failure.transfer_id or '-'} "
            f"{failure.field or ''} expected={failure.expected or '-'} "
            f"actual={failure.actual or '-'} {failure.detail or ''}".rstrip()
        )
    if response.failures_truncated:
        lines.append("  (more failures not shown; raise --max-failures)")
    return status, "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tokenmartctl", description="Operate TokenMart Core.")
    commands = parser.add_subparsers(dest="area", required=True)
    admin = commands.add_parser("admin", help="administrator accounts")
    admin_commands = admin.add_subparsers(dest="command", required=True)
    create = admin_commands.add_parser("create", help="create an admin account")
    create.add_argument("--email", required=True)
    secret = create.add_mutually_exclusive_group()
    secret.add_argument("--password", help="the password (visible in the process list)")
    secret.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    create.add_argument("--role", choices=sorted(ROLES), default="admin")
    create.add_argument("--display-name", default="")
    ledger = commands.add_parser("ledger", help="the wallet's ledger")
    ledger_commands = ledger.add_subparsers(dest="command", required=True)
    verify = ledger_commands.add_parser(
        "verify", help="recompute every chain and balance; exit 3 if anything is off"
    )
    verify.add_argument("--max-failures", type=int, default=100)
    verify.add_argument("--json", action="store_true", help="print the full report as JSON")
    ctl_provider.add_commands(commands)
    ctl_review.add_commands(commands)
    ctl_auth.add_commands(commands)
    return parser


def _password(arguments: argparse.Namespace) -> str:
    if arguments.password is not None:
        return str(arguments.password)
    if arguments.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        raise Usage("give --password or --password-stdin")
    return getpass.getpass("password: ")


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    environment = os.environ if environ is None else environ
    if arguments.area == "provider":
        return asyncio.run(ctl_provider.run(arguments, environment))
    if arguments.area == "auth":
        return asyncio.run(ctl_auth.run(arguments, environment))
    try:
        if arguments.area == "admin" and arguments.command == "create":
            print(
                asyncio.run(
                    admin_create(
                        environ=environment,
                        email=arguments.email,
                        password=_password(arguments),
                        role=arguments.role,
                        display_name=arguments.display_name,
                    )
                )
            )
            return 0
        if arguments.area == "review":
            return asyncio.run(ctl_review.run(arguments, environment))
        if arguments.area == "ledger" and arguments.command == "verify":
            if arguments.max_failures < 0:
                raise Usage("--max-failures must be at least 0")
            status, report = asyncio.run(
                ledger_verify(
                    environ=environment,
                    max_failures=arguments.max_failures,
                    as_json=arguments.json,
                )
            )
            print(report)
            return status
    except Usage as problem:
        print(f"tokenmartctl: {problem}", file=sys.stderr)
        return 2
    except grpc.aio.AioRpcError as error:
        reason = error_reason(error) or error.code().name
        print(f"tokenmartctl: refused: {reason}: {error.details()}", file=sys.stderr)
        return 1
    raise AssertionError("argparse admits only known commands")


if __name__ == "__main__":
    sys.exit(main())

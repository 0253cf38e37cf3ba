"""``tokenmartctl``: the operator CLI. It talks to the services over gRPC with the ``ctl``
certificate and a service access token (scope ``operator``) that auth issues to that certificate.

    tokenmartctl admin create --email E [--password P | --password-stdin] [--role super_admin]

Connection settings (defaults fit a ``make run`` stack on this machine):

* ``TOKENMART_CTL_TLS_CA_FILE`` / ``_CERT_FILE`` / ``_KEY_FILE`` — default: the ``ctl`` files of the
  dev PKI in ``$TOKENMART_STATE_DIR/pki`` (``.tokenmart/pki`` in the repository);
* ``TOKENMART_CTL_AUTH_TARGET`` — default ``127.0.0.1:50051`` (``TOKENMART_AUTH_PORT`` if set).

Exit status: 0 on success, 1 when the service refused (the reason is printed), 2 for bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

import grpc
from tokenmart.auth.v1 import auth_pb2, auth_pb2_grpc

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


def _auth_target(environ: Mapping[str, str]) -> PeerTarget:
    default = f"127.0.0.1:{environ.get('TOKENMART_AUTH_PORT', '50051')}"
    return PeerTarget(
        service="auth",
        target=environ.get("TOKENMART_CTL_AUTH_TARGET") or default,
        default_timeout_s=10.0,
    )


async def _operator_token(stub: auth_pb2_grpc.AuthServiceStub) -> tuple[tuple[str, str], ...]:
    issued = await stub.IssueServiceToken(
        auth_pb2.IssueServiceTokenRequest(audiences=[auth_pb2.AUDIENCE_AUTH])
    )
    return (("authorization", f"Bearer {issued.access_token}"),)


async def admin_create(
    *, environ: Mapping[str, str], email: str, password: str, role: str, display_name: str
) -> str:
    channel = open_channel(
        _auth_target(environ), _tls(environ), full_service_name="tokenmart.auth.v1.AuthService"
    )
    async with channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        metadata = await _operator_token(stub)
        response = await stub.CreateAdminAccount(
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

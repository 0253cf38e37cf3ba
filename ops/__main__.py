"""``python -m ops <command>``: the operations behind the Makefile and the deployment images.

Commands:
  run         prepare and run the whole stack in the foreground (``make run``)
  pki DIR     create or refresh the development PKI in DIR
  proto       regenerate gen/ from protos/ (``make proto``)
  migrate     provision roles and schemas and migrate every service (the deployment's one-off
              job); reads the variables below, never prints a secret

``migrate`` reads:
  TOKENMART_DATABASE_URL               a superuser URL that names the database (required)
  TOKENMART_ROLE_PREFIX                prefix of the role names (default ``tokenmart``)
  TOKENMART_DB_PASSWORD_<SVC>_OWNER    password of ``<prefix>_<svc>_owner`` (runs migrations)
  TOKENMART_DB_PASSWORD_<SVC>          password of ``<prefix>_<svc>``, the runtime role whose
                                       URL is that service's ``TOKENMART_<SVC>_DATABASE_URL``
for SVC in AUTH, WALLET, PROVIDER, REVIEW. Each may instead be given as ``<NAME>_FILE``, the
path of a file holding the value (Docker and Kubernetes secret files). Exit status: 0 done,
1 the database refused, 2 a setting is missing or malformed.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

PASSWORD_MIN_CHARS = 16
_ROLE_PREFIX = re.compile(r"^[a-z][a-z0-9_]{0,30}$")


class SettingError(ValueError):
    """A setting of ``ops migrate`` is missing or malformed (the message names it, no value)."""


def _secret(environ: Mapping[str, str], name: str) -> str:
    """``name`` from the environment, or from the file that ``<name>_FILE`` names."""
    value = environ.get(name, "").strip()
    path = environ.get(f"{name}_FILE", "").strip()
    if value and path:
        raise SettingError(f"set {name} or {name}_FILE, not both")
    if path:
        try:
            value = Path(path).read_text().strip()
        except OSError:
            raise SettingError(f"{name}_FILE names a file that cannot be read") from None
    if not value:
        raise SettingError(f"{name} (or {name}_FILE) is required")
    return value


def migrate_settings(environ: Mapping[str, str]) -> tuple[str, str, dict[str, str]]:
    """(admin URL, role prefix, role → password) for ``ops migrate``; SettingError if unusable."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from ops.database import DOMAIN_SERVICES

    admin_url = _secret(environ, "TOKENMART_DATABASE_URL")
    try:
        parsed = make_url(admin_url)
    except ArgumentError:
        raise SettingError("TOKENMART_DATABASE_URL is not a database URL") from None
    if not parsed.drivername.startswith("postgresql") or not parsed.database:
        raise SettingError("TOKENMART_DATABASE_URL must be a postgresql:// URL naming a database")
    prefix = environ.get("TOKENMART_ROLE_PREFIX", "").strip() or "tokenmart"
    if not _ROLE_PREFIX.match(prefix):
        raise SettingError(
            "TOKENMART_ROLE_PREFIX must be 1-31 lowercase letters, digits or _, "
            "starting with a letter"
        )
    passwords: dict[str, str] = {}
    for service in DOMAIN_SERVICES:
        for suffix, role in (("_OWNER", f"{prefix}_{service}_owner"), ("", f"{prefix}_{service}")):
            name = f"TOKENMART_DB_PASSWORD_{service.upper()}{suffix}"
            password = _secret(environ, name)
            if len(password) < PASSWORD_MIN_CHARS:
                raise SettingError(f"{name} must be at least {PASSWORD_MIN_CHARS} characters")
            passwords[role] = password
    return admin_url, prefix, passwords


def _redact(text: str, secrets: list[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def migrate_command(environ: Mapping[str, str]) -> int:
    try:
        admin_url, prefix, passwords = migrate_settings(environ)
    except SettingError as error:
        print(f"ops migrate: {error}", file=sys.stderr)
        return 2
    import psycopg
    from alembic.util import CommandError
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from ops.database import head_revision, migrate_all

    secrets = [value for value in (*passwords.values(), make_url(admin_url).password) if value]
    try:
        databases = migrate_all(admin_url, prefix=prefix, passwords=passwords)
    except (psycopg.Error, SQLAlchemyError, CommandError) as error:
        # Driver messages name hosts and roles, not passwords; redact them all the same.
        reason = _redact(" ".join(str(error).split()), [str(s) for s in secrets])
        print(f"ops migrate: failed: {type(error).__name__}: {reason}", file=sys.stderr)
        return 1
    for item in databases.values():
        print(
            f"{item.service}: schema {item.schema} at {head_revision(item)} "
            f"(owner {item.owner_role}, runtime role {item.runtime_role})",
            flush=True,
        )
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["run"]:
        from ops.stack import run

        return run(os.environ)
    if argv[:1] == ["pki"] and len(argv) == 2:
        from ops.pki import ensure_pki

        for name, files in ensure_pki(Path(argv[1])).items():
            print(f"{name}: {files.cert_file}")
        return 0
    if argv[:1] == ["proto"]:
        from ops.protogen import GEN_ROOT, generate

        for proto in generate(GEN_ROOT):
            print(f"generated {proto.name}")
        return 0
    if argv == ["migrate"]:
        return migrate_command(os.environ)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""``python -m ops migrate``, the migrate Job and compose one-shot, against the real PostgreSQL:
it provisions every role and schema and migrates each to head from a superuser URL and per-role
passwords (variables or ``*_FILE``), is idempotent and safe to run twice at once, refuses bad
settings with exit 2 and database failures with exit 1, and never prints a secret.

It runs as the image runs it: ``tests.deploy.image_python`` hides the packages the runtime image
drops, so a migration that needed a build or test tool would fail here.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from ops.__main__ import SettingError, migrate_command, migrate_settings
from ops.database import (
    DOMAIN_SERVICES,
    create_database,
    drop_database,
    head_revision,
    service_databases,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def database(server_admin_url: str) -> Iterator[tuple[str, str]]:
    """(superuser URL of a fresh database, role prefix); both dropped afterwards."""
    name = f"tmm_{secrets.token_hex(4)}"
    create_database(server_admin_url, name)
    try:
        yield (
            make_url(server_admin_url).set(database=name).render_as_string(hide_password=False),
            name,
        )
    finally:
        drop_database(server_admin_url, name, prefix=name)


def _passwords() -> dict[str, str]:
    return {
        f"TOKENMART_DB_PASSWORD_{service.upper()}{suffix}": secrets.token_urlsafe(24)
        for service in DOMAIN_SERVICES
        for suffix in ("", "_OWNER")
    }


def _environment(
    admin_url: str, prefix: str, passwords: dict[str, str], tmp_path: Path
) -> dict[str, str]:
    """Half the passwords as variables, half as files (as Docker and Kubernetes secrets)."""
    environ = {"PATH": "/usr/bin:/bin", "TOKENMART_ROLE_PREFIX": prefix}
    url_file = tmp_path / "database-url"
    url_file.write_text(admin_url + "\n")
    environ["TOKENMART_DATABASE_URL_FILE"] = str(url_file)
    for index, (name, value) in enumerate(sorted(passwords.items())):
        if index % 2:
            path = tmp_path / name.lower()
            path.write_text(value)
            environ[f"{name}_FILE"] = str(path)
        else:
            environ[name] = value
    return environ


def _start(environ: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.deploy.image_python", "-m", "ops", "migrate"],
        cwd=REPO_ROOT,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    stdout, stderr = process.communicate(timeout=170)
    return process.returncode, stdout, stderr


def test_migrate_provisions_every_service_and_runs_again_safely(
    database: tuple[str, str], tmp_path: Path
) -> None:
    admin_url, prefix = database
    passwords = _passwords()
    environ = _environment(admin_url, prefix, passwords, tmp_path)
    status, stdout, stderr = _finish(_start(environ))
    assert status == 0, stderr
    roles = {
        f"{prefix}_{s}{suffix.lower()}": passwords[f"TOKENMART_DB_PASSWORD_{s.upper()}{suffix}"]
        for s in DOMAIN_SERVICES
        for suffix in ("", "_OWNER")
    }
    items = service_databases(admin_url, prefix=prefix, passwords=roles)
    for service, item in items.items():
        head = head_revision(item)
        assert head is not None
        assert f"{service}: schema {service} at {head} " in stdout
        # The runtime role logs in with the password given for it, and the owner's schema
        # carries the newest revision.
        with psycopg.connect(make_url(item.runtime_url).render_as_string(False)) as connection:
            assert connection.execute("SELECT current_user").fetchone() == (item.runtime_role,)
        with psycopg.connect(make_url(item.owner_url).render_as_string(False)) as connection:
            version = connection.execute(f'SELECT version_num FROM "{service}".alembic_version')
            assert version.fetchall() == [(head,)]
    for value in [*passwords.values(), make_url(admin_url).password]:
        if value:
            assert value not in stdout + stderr
    # Again, twice at once (a retried Job overlapping a slow one): both succeed, nothing changes.
    first, second = _start(environ), _start(environ)
    for process in (first, second):
        status, again, stderr = _finish(process)
        assert status == 0, stderr
        assert again == stdout


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"TOKENMART_DATABASE_URL": None},
            "TOKENMART_DATABASE_URL (or TOKENMART_DATABASE_URL_FILE)",
        ),
        ({"TOKENMART_DATABASE_URL": "not a url"}, "TOKENMART_DATABASE_URL is not a database URL"),
        ({"TOKENMART_DATABASE_URL": "mysql://u:p@h/db"}, "must be a postgresql:// URL"),
        ({"TOKENMART_DATABASE_URL": "postgresql://u:p@h"}, "naming a database"),
        ({"TOKENMART_DB_PASSWORD_WALLET": None}, "TOKENMART_DB_PASSWORD_WALLET (or"),
        ({"TOKENMART_DB_PASSWORD_REVIEW_OWNER": "short-secret"}, "at least 16 characters"),
        (
            {"TOKENMART_DB_PASSWORD_AUTH_FILE": "/nonexistent/file"},
            "set TOKENMART_DB_PASSWORD_AUTH or",
        ),
        ({"TOKENMART_ROLE_PREFIX": "Bad-Prefix"}, "TOKENMART_ROLE_PREFIX must be"),
    ],
)
def test_bad_settings_are_refused_by_name_without_their_value(
    change: dict[str, str | None], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    environ: dict[str, str] = {
        "TOKENMART_DATABASE_URL": "postgresql://postgres:admin-secret-0@db:5432/tokenmart",
        **_passwords(),
    }
    for key, value in change.items():
        if value is None:
            environ.pop(key)
        else:
            environ[key] = value
    with pytest.raises(SettingError) as raised:
        migrate_settings(environ)
    assert message in str(raised.value)
    assert migrate_command(environ) == 2
    printed = capsys.readouterr().err
    assert message in printed
    for key, value in environ.items():
        if key.startswith("TOKENMART_DB_PASSWORD") or key == "TOKENMART_DATABASE_URL":
            assert value not in printed


def test_an_unreadable_password_file_is_refused(tmp_path: Path) -> None:
    environ = {"TOKENMART_DATABASE_URL": "postgresql://u:p@h/db", **_passwords()}
    environ["TOKENMART_DB_PASSWORD_AUTH_FILE"] = str(tmp_path / "missing")
    del environ["TOKENMART_DB_PASSWORD_AUTH"]
    with pytest.raises(SettingError, match="TOKENMART_DB_PASSWORD_AUTH_FILE names a file"):
        migrate_settings(environ)


def test_a_database_failure_exits_1_without_secrets(
    server_admin_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    admin_password = "admin-" + secrets.token_hex(8)
    missing = make_url(server_admin_url).set(
        database=f"tmm_missing_{secrets.token_hex(4)}", password=admin_password
    )
    passwords = _passwords()
    environ = {
        "TOKENMART_DATABASE_URL": missing.render_as_string(hide_password=False),
        **passwords,
    }
    assert migrate_command(environ) == 1
    printed = capsys.readouterr()
    assert "ops migrate: failed:" in printed.err
    for value in [admin_password, *passwords.values()]:
        assert value not in printed.err + printed.out

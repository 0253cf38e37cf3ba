"""Development secrets for ``deploy/compose.yaml`` and the Kubernetes dev overlay.

    python deploy/dev_secrets.py [DIR] [--kubernetes] [--database-host HOST:PORT]
                                 [--redis-url URL]

Writes, into DIR (default ``deploy/secrets``, git-ignored), everything the compose file reads
and nothing is committed:

* ``pki/``: the development CA and one certificate per identity (``ops.pki``, as ``make pki``);
* ``postgres_password``: the superuser password of the compose PostgreSQL;
* ``<svc>.env`` for auth, wallet, provider, review, gateway: that process's secrets only
  (database URL of its runtime role, pepper and signing KEK, KEK_1, rate-limit key);
* ``migrate.env``: the superuser URL and every role's password, for ``python -m ops migrate``.

With ``--kubernetes`` it also writes ``kubernetes/<name>-secrets.yaml``: the Secrets the
manifests declare (``deploy/k8s/base``), with the same values, the database at
``--database-host`` (default ``postgres:5432``, the compose service; for the cluster e.g.
``postgresql.databases:5432``) and the gateway's Redis at ``--redis-url``, for
``kubectl create -f``. Provider gets the stand-in's fixed platform keys (the dev overlay points
it at the stand-in).

Values are random, created once and kept (``secrets.json``), so running it again changes
nothing and a restarted stack keeps its data. The directory is 0700; the files the containers
mount (certificates, keys, the postgres password) are made readable by any uid, because compose
bind-mounts them into containers that run as uid 10001 (ours) and 999 (postgres) - which is
why these are development secrets only. Production brings its own through its orchestrator.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from ops.database import DOMAIN_SERVICES, service_databases  # noqa: E402
from ops.pki import IDENTITIES, IssuedFiles, ensure_pki  # noqa: E402
from ops.stack import STANDIN_PLATFORM_KEYS  # noqa: E402
from ops.state import dev_passwords, dev_secrets, state_dir  # noqa: E402

ROLE_PREFIX = "tokenmart"
DATABASE = "tokenmart"
POSTGRES_HOST = "postgres:5432"
REDIS_URL = "redis://redis:6379/0"
SECRET_NAMES = (
    "postgres_password",
    "auth_pepper",
    "auth_signing_kek",
    "provider_kek_1",
    "gateway_rate_limit_key",
)


def _write(path: Path, text: str, mode: int) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, mode)
    tmp.replace(path)


def _env_file(values: dict[str, str]) -> str:
    # compose env files take the rest of the line literally: no quoting, no expansion.
    for key, value in values.items():
        assert "\n" not in value and not value.startswith((" ", '"', "'")), key
    return "".join(f"{key}={value}\n" for key, value in values.items())


def _tls(files: IssuedFiles) -> dict[str, str]:
    return {
        "ca.pem": files.ca_file.read_text(),
        "cert.pem": files.cert_file.read_text(),
        "key.pem": files.key_file.read_text(),
    }


def generate(
    directory: Path,
    *,
    kubernetes: bool = False,
    database_host: str = POSTGRES_HOST,
    redis_url: str = REDIS_URL,
) -> dict[str, Path]:
    """Create or refresh every dev secret in ``directory``; name → the file written."""
    directory = state_dir(directory)
    secrets = dev_secrets(directory, list(SECRET_NAMES))
    passwords = dev_passwords(directory, prefix=ROLE_PREFIX)
    admin_url = f"postgresql://postgres:{secrets['postgres_password']}@{database_host}/{DATABASE}"
    databases = service_databases(admin_url, prefix=ROLE_PREFIX, passwords=passwords)
    pki = ensure_pki(directory / "pki")
    for identity in IDENTITIES:
        files = pki[identity]
        for path in (files.ca_file, files.cert_file, files.key_file):
            os.chmod(path, 0o644)
    written: dict[str, Path] = {}
    password_file = directory / "postgres_password"
    _write(password_file, secrets["postgres_password"], 0o644)
    written["postgres_password"] = password_file
    env_files: dict[str, dict[str, str]] = {
        service: {f"TOKENMART_{service.upper()}_DATABASE_URL": databases[service].runtime_url}
        for service in DOMAIN_SERVICES
    }
    env_files["auth"]["TOKENMART_AUTH_PEPPER"] = secrets["auth_pepper"]
    env_files["auth"]["TOKENMART_AUTH_SIGNING_KEK"] = secrets["auth_signing_kek"]
    env_files["provider"]["TOKENMART_PROVIDER_KEK_1"] = secrets["provider_kek_1"]
    env_files["gateway"] = {"TOKENMART_GATEWAY_RATE_LIMIT_KEY": secrets["gateway_rate_limit_key"]}
    env_files["migrate"] = {"TOKENMART_DATABASE_URL": admin_url}
    for service in DOMAIN_SERVICES:
        item = databases[service]
        env_files["migrate"][f"TOKENMART_DB_PASSWORD_{service.upper()}_OWNER"] = passwords[
            item.owner_role
        ]
        env_files["migrate"][f"TOKENMART_DB_PASSWORD_{service.upper()}"] = passwords[
            item.runtime_role
        ]
    for name, values in env_files.items():
        path = directory / f"{name}.env"
        _write(path, _env_file(values), 0o600)
        written[name] = path
    if kubernetes:
        manifests = state_dir(directory / "kubernetes")
        data: dict[str, dict[str, str]] = {
            service: {**_tls(pki[service]), "database-url": databases[service].runtime_url}
            for service in DOMAIN_SERVICES
        }
        data["auth"]["pepper"] = secrets["auth_pepper"]
        data["auth"]["signing-kek"] = secrets["auth_signing_kek"]
        data["provider"]["kek-1"] = secrets["provider_kek_1"]
        for upstream, key in STANDIN_PLATFORM_KEYS.items():
            data["provider"][f"{upstream}-api-key"] = key
        data["gateway"] = {
            **_tls(pki["gateway"]),
            "redis-url": redis_url,
            "rate-limit-key": secrets["gateway_rate_limit_key"],
        }
        data["migrate"] = {"database-url": admin_url}
        for service in DOMAIN_SERVICES:
            item = databases[service]
            data["migrate"][f"password-{service}-owner"] = passwords[item.owner_role]
            data["migrate"][f"password-{service}"] = passwords[item.runtime_role]
        for name, values in data.items():
            secret = {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": f"{name}-secrets",
                    "labels": {
                        "app.kubernetes.io/name": name,
                        "app.kubernetes.io/part-of": "tokenmart",
                    },
                },
                "type": "Opaque",
                "stringData": values,
            }
            path = manifests / f"{name}-secrets.yaml"
            # JSON is YAML, and kubectl reads either.
            _write(path, json.dumps(secret, indent=2) + "\n", 0o600)
            written[f"kubernetes/{name}"] = path
    return written


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="dev_secrets.py", description=__doc__.split("\n")[0])
    parser.add_argument(
        "directory", nargs="?", type=Path, default=Path(__file__).resolve().parent / "secrets"
    )
    parser.add_argument("--kubernetes", action="store_true", help="also write Secret manifests")
    parser.add_argument("--database-host", default=POSTGRES_HOST, help="HOST:PORT of PostgreSQL")
    parser.add_argument("--redis-url", default=REDIS_URL, help="the gateway's Redis URL")
    arguments = parser.parse_args(argv)
    written = generate(
        arguments.directory,
        kubernetes=arguments.kubernetes,
        database_host=arguments.database_host,
        redis_url=arguments.redis_url,
    )
    for name, path in written.items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

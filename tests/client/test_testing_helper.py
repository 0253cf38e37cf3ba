"""The testing helper's pieces that need no running stack: choosing the mode, and the container
environments, checked against what ``make run`` and ``ops migrate`` actually read so the Docker
path cannot drift from them even where Docker cannot run (as here)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ops.__main__ import migrate_settings
from ops.database import REPO_ROOT, role_names
from ops.stack import DEV_SECRETS, PROCESSES
from tokenmart_client import ClientConfigError
from tokenmart_client.testing import (
    CONTAINER_GRPC_PORTS,
    IMAGE_TARGETS,
    ROLE_PREFIX,
    container_environments,
    docker_available,
    migrate_environment,
    resolve_mode,
)

ADMIN_URL = "postgresql://tokenmart:admin-password-123@postgres:5432/tokenmart"
PASSWORDS = {role: f"password-of-{role}-0123456789" for role in role_names(ROLE_PREFIX)}


def _environments() -> dict[str, dict[str, str]]:
    return container_environments(
        database_admin_url=ADMIN_URL,
        role_passwords=PASSWORDS,
        redis_url="redis://redis:6379/0",
        secrets_by_name={name: f"secret-{name}" for name in DEV_SECRETS},
        standin_origin="http://standin:8090",
        service_env={"auth": {"TOKENMART_AUTH_ACCESS_TOKEN_TTL_S": "10"}},
    )


def test_container_environments_use_the_network_not_loopback() -> None:
    environments = _environments()
    assert set(environments) == set(PROCESSES)
    for name, environment in environments.items():
        prefix = f"TOKENMART_{name.upper()}_"
        assert all(key.startswith(prefix) for key in environment), name
        assert not any("127.0.0.1" in value for value in environment.values()), name
        # Each process is given only its own identity's files.
        assert environment[f"{prefix}TLS_CERT_FILE"] == f"/pki/{name}.pem"
        assert environment[f"{prefix}TLS_KEY_FILE"] == f"/pki/{name}-key.pem"
        assert environment[f"{prefix}TLS_CA_FILE"] == "/pki/ca.pem"
        for peer, port in CONTAINER_GRPC_PORTS.items():
            target = environment.get(f"{prefix}{peer.upper()}_TARGET")
            assert target in (None, f"{peer}:{port}")
    for name, port in CONTAINER_GRPC_PORTS.items():
        environment = environments[name]
        assert environment[f"TOKENMART_{name.upper()}_GRPC_LISTEN"] == f"0.0.0.0:{port}"
        url = environment[f"TOKENMART_{name.upper()}_DATABASE_URL"]
        assert f"{ROLE_PREFIX}_{name}:" in url and "@postgres:5432/tokenmart" in url
    gateway = environments["gateway"]
    assert gateway["TOKENMART_GATEWAY_HOST"] == "0.0.0.0"
    assert gateway["TOKENMART_GATEWAY_REDIS_URL"] == "redis://redis:6379/0"
    assert environments["auth"]["TOKENMART_AUTH_ACCESS_TOKEN_TTL_S"] == "10"
    assert any("standin:8090" in value for value in environments["provider"].values())


def test_the_migrate_job_gets_exactly_what_ops_migrate_reads() -> None:
    environment = migrate_environment(database_admin_url=ADMIN_URL, role_passwords=PASSWORDS)
    admin_url, prefix, passwords = migrate_settings(environment)
    assert (admin_url, prefix, passwords) == (ADMIN_URL, ROLE_PREFIX, PASSWORDS)
    # The services then log in with the very passwords the job set.
    environments = _environments()
    for service in CONTAINER_GRPC_PORTS:
        url = environments[service][f"TOKENMART_{service.upper()}_DATABASE_URL"]
        assert PASSWORDS[f"{ROLE_PREFIX}_{service}"] in url


def test_every_image_target_exists_in_the_dockerfile() -> None:
    dockerfile = (REPO_ROOT / "deploy" / "Dockerfile").read_text()
    stages = set(re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)\s*$", dockerfile, re.MULTILINE | re.I))
    assert set(IMAGE_TARGETS) <= stages


def test_no_daemon_means_no_docker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # A socket path with nothing listening, like a docker CLI without its daemon.
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'docker.sock'}")
    assert docker_available(timeout_s=1) is False
    assert resolve_mode("auto") == "local"
    assert resolve_mode(None, {"TOKENMART_CORE_MODE": "local"}) == "local"
    with pytest.raises(ClientConfigError) as raised:
        resolve_mode("docker")
    assert raised.value.reason == "DOCKER_UNAVAILABLE"
    with pytest.raises(ClientConfigError) as raised:
        resolve_mode(None, {"TOKENMART_CORE_MODE": "kubernetes"})
    assert raised.value.reason == "MODE_INVALID"

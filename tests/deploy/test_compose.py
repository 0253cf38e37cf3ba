"""deploy/compose.yaml, offline. The docker CLI here has no compose plugin and no daemon, so
``docker compose config`` cannot run: the file is validated against the Compose Specification
schema instead (``compose_spec.json``, vendored unmodified from the docker-compose 1.29.2 wheel
on PyPI, ``compose/config/compose_spec.json``, Apache-2.0), plus what a schema cannot know:
images come from real Dockerfile targets, each process gets exactly the settings it needs (with
the dev secrets ``deploy/dev_secrets.py`` generates), start-up order, networks, hardening, and
the healthcheck commands themselves, run against real listeners.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import grpc
import jsonschema
import pytest
import yaml
from cryptography import x509
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from sqlalchemy.engine import make_url

from ops.__main__ import migrate_settings
from ops.database import DOMAIN_SERVICES
from ops.stack import PEERS, PROCESSES, STANDIN_PLATFORM_KEYS
from services.provider.standin.app import base_urls
from tests.deploy import envcheck
from tests.deploy.dockerfile import stage, stages

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
SCHEMA = Path(__file__).with_name("compose_spec.json")
SCHEMA_SHA256 = "0dc04bd346dcfee1b1419628fff79937bbf076925f298f272a2b490e2b112bac"
OURS = (*PROCESSES, "migrate", "standin")
SECRETS_MOUNT = "/run/secrets"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def dev_secrets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What ``deploy/dev_secrets.py`` writes, in a directory of the test's own."""
    directory = tmp_path_factory.mktemp("compose") / "secrets"
    completed = subprocess.run(
        [sys.executable, str(DEPLOY / "dev_secrets.py"), str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    return directory


def _local(path: str, dev_secrets: Path) -> Path:
    """A compose-relative path under ``secrets/`` mapped to the test's secrets directory."""
    relative = Path(path)
    assert relative.parts[0] in ("secrets", ".") and "secrets" in relative.parts, path
    return dev_secrets.joinpath(*relative.parts[relative.parts.index("secrets") + 1 :])


def _env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    return values


def test_the_vendored_schema_is_the_published_file() -> None:
    assert hashlib.sha256(SCHEMA.read_bytes()).hexdigest() == SCHEMA_SHA256


def test_the_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    validator = jsonschema.Draft201909Validator(json.loads(SCHEMA.read_text()))
    assert [error.message for error in validator.iter_errors(compose)] == []
    # The schema is strict enough to notice a misspelt key.
    broken = json.loads(json.dumps(compose))
    broken["services"]["auth"]["readonly"] = True
    assert list(validator.iter_errors(broken))


def test_our_services_build_from_dockerfile_targets(compose: dict[str, Any]) -> None:
    targets = {item.name for item in stages()}
    built = {}
    for name, service in compose["services"].items():
        if "build" not in service:
            continue
        build = service["build"]
        assert (DEPLOY / build["context"]).resolve() == REPO_ROOT
        assert (REPO_ROOT / build["dockerfile"]).resolve() == (DEPLOY / "Dockerfile").resolve()
        assert build["target"] in targets
        assert service["image"] == f"tokenmart/{build['target']}:dev"
        built[name] = build["target"]
    assert built == {name: name for name in OURS}
    assert compose["services"]["postgres"]["image"].split(":")[1].startswith("15")
    assert compose["services"]["redis"]["image"].split(":")[1].startswith("7")


@pytest.mark.parametrize("name", OURS)
def test_our_containers_are_hardened(compose: dict[str, Any], name: str) -> None:
    service = compose["services"][name]
    assert service["read_only"] is True
    assert service["cap_drop"] == ["ALL"]
    assert "cap_add" not in service and not service.get("privileged")
    assert "no-new-privileges:true" in service["security_opt"]
    (user,) = stage("runtime").all("USER")
    assert service["user"] == user
    assert any(entry.split(":")[0] == "/tmp" for entry in service["tmpfs"])
    if name == "gateway":
        assert [p.rsplit(":", 2)[0] for p in service["ports"]] == ["127.0.0.1"]
    else:
        assert "ports" not in service, "only the gateway is published"


def test_start_up_order(compose: dict[str, Any]) -> None:
    services = compose["services"]

    def conditions(name: str) -> dict[str, str]:
        return {k: v["condition"] for k, v in services[name].get("depends_on", {}).items()}

    for name in services:
        for dependency, condition in conditions(name).items():
            assert dependency in services
            if condition == "service_healthy":
                assert "healthcheck" in services[dependency], dependency
    assert conditions("migrate") == {"postgres": "service_healthy"}
    assert services["migrate"]["restart"] == "no"
    for name in DOMAIN_SERVICES:
        assert conditions(name)["migrate"] == "service_completed_successfully"
    assert conditions("provider")["standin"] == "service_healthy"
    gateway = conditions("gateway")
    assert gateway == {peer: "service_healthy" for peer in (*PEERS["gateway"], "redis")}
    for name in services:
        if name != "migrate":
            assert "healthcheck" in services[name], f"{name} needs a healthcheck"
    # No cycles: a topological order exists.
    remaining = set(services)
    while remaining:
        ready = {n for n in remaining if not set(conditions(n)) & remaining}
        assert ready, f"dependency cycle among {sorted(remaining)}"
        remaining -= ready


def test_networks_mirror_the_trust_boundaries(compose: dict[str, Any]) -> None:
    networks = compose["networks"]
    internal = {name for name, spec in networks.items() if (spec or {}).get("internal")}
    outside = {}
    for name, service in compose["services"].items():
        attached = set(service["networks"])
        assert "backend" in attached and "backend" in internal
        outside[name] = attached - internal
    # The gateway's network exists for its published port; provider's for the LLM APIs.
    assert {name: nets for name, nets in outside.items() if nets} == {
        "gateway": {"edge"},
        "provider": {"egress"},
    }


def _environment(
    compose: dict[str, Any], name: str, dev_secrets: Path
) -> tuple[dict[str, str], dict[str, Path]]:
    """The container's variables (environment + env files) and its mounted secret files."""
    service = compose["services"][name]
    environ = {key: str(value) for key, value in service.get("environment", {}).items()}
    for path in service.get("env_file", []):
        for key, value in _env_file(_local(path, dev_secrets)).items():
            assert key not in environ, f"{name}: {key} set twice"
            environ[key] = value
    mounted = {}
    for entry in service.get("secrets", []):
        if isinstance(entry, str):
            source = target = entry
        else:
            source, target = entry["source"], entry["target"]
        file = compose["secrets"][source]["file"]
        mounted[f"{SECRETS_MOUNT}/{target}"] = _local(file, dev_secrets)
    return environ, mounted


def _common_name(path: Path) -> str:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return str(cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value)


@pytest.mark.parametrize("process", PROCESSES)
def test_each_process_gets_exactly_its_settings(
    compose: dict[str, Any], dev_secrets: Path, process: str
) -> None:
    environ, mounted = _environment(compose, process, dev_secrets)
    prefix = f"TOKENMART_{process.upper()}_"
    assert [name for name in environ if not name.startswith(prefix)] == []
    required = envcheck.required_variables(process, standin=True)
    assert required <= set(environ), f"missing: {sorted(required - set(environ))}"
    # The TLS files are this process's certificate from the dev PKI, mounted as secrets.
    files = {part: mounted[environ[f"{prefix}TLS_{part}_FILE"]] for part in ("CA", "CERT", "KEY")}
    assert _common_name(files["CERT"]) == process
    assert files["CA"].name == "ca.pem"
    assert files["KEY"].name == f"{process}-key.pem"
    local = {**environ, **{f"{prefix}TLS_{part}_FILE": str(path) for part, path in files.items()}}
    read = envcheck.parse(process, local)
    assert envcheck.unread(process, local, read) == set()
    for peer in PEERS[process]:
        host, _, port = environ[f"{prefix}{peer.upper()}_TARGET"].partition(":")
        assert host == peer
        peer_env, _ = _environment(compose, peer, dev_secrets)
        assert peer_env[f"TOKENMART_{peer.upper()}_GRPC_LISTEN"] == f"0.0.0.0:{port}"


def test_provider_calls_the_stand_in(compose: dict[str, Any], dev_secrets: Path) -> None:
    environ, _ = _environment(compose, "provider", dev_secrets)
    arguments = stage("standin").exec_form("CMD")
    assert arguments is not None
    port = arguments[arguments.index("--port") + 1]
    for upstream, url in base_urls(f"http://standin:{port}").items():
        assert environ[f"TOKENMART_PROVIDER_{upstream.upper()}_BASE_URL"] == url
        assert (
            environ[f"TOKENMART_PROVIDER_{upstream.upper()}_API_KEY"]
            == (STANDIN_PLATFORM_KEYS[upstream])
        )


def test_migrate_provisions_the_roles_the_services_log_in_as(
    compose: dict[str, Any], dev_secrets: Path
) -> None:
    environ, _ = _environment(compose, "migrate", dev_secrets)
    recording = envcheck.RecordingEnviron(environ)
    admin_url, prefix, passwords = migrate_settings(recording)
    assert set(environ) <= recording.read
    postgres = compose["services"]["postgres"]
    admin = make_url(admin_url)
    assert (admin.host, admin.port) == ("postgres", 5432)
    assert admin.database == postgres["environment"]["POSTGRES_DB"]
    assert admin.username == postgres["environment"]["POSTGRES_USER"]
    assert admin.password == (dev_secrets / "postgres_password").read_text()
    for service in DOMAIN_SERVICES:
        service_env, _ = _environment(compose, service, dev_secrets)
        runtime = make_url(service_env[f"TOKENMART_{service.upper()}_DATABASE_URL"])
        assert runtime.username == f"{prefix}_{service}"
        assert runtime.password == passwords[f"{prefix}_{service}"]
        assert (runtime.host, runtime.port, runtime.database) == (
            admin.host,
            admin.port,
            admin.database,
        )


def test_dev_secrets_are_kept_and_private(dev_secrets: Path) -> None:
    before = {p.name: p.read_bytes() for p in dev_secrets.rglob("*") if p.is_file()}
    completed = subprocess.run(
        [sys.executable, str(DEPLOY / "dev_secrets.py"), str(dev_secrets)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    after = {p.name: p.read_bytes() for p in dev_secrets.rglob("*") if p.is_file()}
    assert after == before
    assert stat.S_IMODE(dev_secrets.stat().st_mode) == 0o700
    for path in dev_secrets.glob("*.env"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    assert stat.S_IMODE((dev_secrets / "pki" / "ca-key.pem").stat().st_mode) == 0o600
    # Nothing secret is printed, only where it went.
    for value in _env_file(dev_secrets / "migrate.env").values():
        assert value not in completed.stdout


# --- the healthcheck commands, run against real listeners -------------------------------------


def _command(compose: dict[str, Any], name: str) -> list[str]:
    test = compose["services"][name]["healthcheck"]["test"]
    assert test[0] == "CMD"
    return list(test[1:])


def _run(command: list[str], old: str, new: str) -> int:
    assert command[0] == "python"
    code = command[-1]
    assert old in code, f"the healthcheck does not target {old}"
    return subprocess.run(
        [sys.executable, *command[1:-1], code.replace(old, new)],
        capture_output=True,
        timeout=60,
    ).returncode


@pytest.fixture
def health_server() -> Iterator[tuple[int, health.HealthServicer]]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield port, servicer
    finally:
        server.stop(0)


def test_grpc_healthchecks_ask_each_health_listener(
    compose: dict[str, Any],
    dev_secrets: Path,
    health_server: tuple[int, health.HealthServicer],
) -> None:
    commands = {name: _command(compose, name) for name in DOMAIN_SERVICES}
    for name, command in commands.items():
        environ, _ = _environment(compose, name, dev_secrets)
        assert f"'{environ[f'TOKENMART_{name.upper()}_HEALTH_LISTEN']}'" in command[-1], name
    # One command for all four (a YAML anchor); run it against a real grpc.health.v1 server.
    (command,) = {tuple(command) for command in commands.values()}
    listen = compose["services"]["auth"]["environment"]["TOKENMART_AUTH_HEALTH_LISTEN"]
    port, servicer = health_server
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    assert _run(list(command), listen, f"127.0.0.1:{port}") == 0
    servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    assert _run(list(command), listen, f"127.0.0.1:{port}") != 0


class _Status(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@pytest.mark.parametrize("name", ["gateway", "standin"])
def test_http_healthchecks_follow_healthz(
    compose: dict[str, Any], dev_secrets: Path, name: str
) -> None:
    command = _command(compose, name)
    url = next(word for word in command[-1].split("'") if word.startswith("http://"))
    if name == "gateway":
        environ, _ = _environment(compose, name, dev_secrets)
        assert urlsplit(url).port == int(environ["TOKENMART_GATEWAY_PORT"])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Status)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    origin = f"{urlsplit(url).scheme}://{urlsplit(url).netloc}"
    local = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        _Status.status = 200
        assert _run(command, origin, local) == 0
        _Status.status = 503
        assert _run(command, origin, local) != 0
    finally:
        server.shutdown()
        server.server_close()
        _Status.status = 200


def test_no_secret_is_written_into_the_compose_file(compose: dict[str, Any]) -> None:
    """Secrets reach containers from deploy/secrets/ (env files, secret files), never from the
    committed file; the stand-in's platform keys are fixed dev values, not secrets."""
    secret_names = ("PEPPER", "KEK", "RATE_LIMIT_KEY", "DATABASE_URL", "PASSWORD")
    for name, service in compose["services"].items():
        for key in service.get("environment", {}):
            if key.endswith("_FILE"):
                continue
            assert not any(part in key for part in secret_names), f"{name}: {key}"
            if key.endswith("_API_KEY"):
                assert service["environment"][key] in STANDIN_PLATFORM_KEYS.values()
    tracked = subprocess.run(
        ["git", "ls-files", "deploy"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert not [path for path in tracked if path.startswith("deploy/secrets/")]
    assert "/secrets/" in (DEPLOY / ".gitignore").read_text().split()

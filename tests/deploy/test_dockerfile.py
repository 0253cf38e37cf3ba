"""deploy/Dockerfile and .dockerignore, offline (no Docker daemon here): every target exists and
runs exactly what ``make run`` runs, as a non-root uid, from hash-checked dependencies, with
generated code built from the protos and no secret in the build context; and the runtime image,
which drops the build and test tools, still imports every entrypoint.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from ops.stack import PROCESSES, STANDIN_MODULE
from tests.deploy.dockerfile import (
    ancestry,
    blocked_modules,
    dockerignore_excludes,
    stage,
    stages,
    uninstalled_packages,
)

RUNTIME = "runtime"
TARGETS = {
    **{name: ["python", "-m", f"services.{name}"] for name in PROCESSES},
    "migrate": ["python", "-m", "ops", "migrate"],
    "standin": ["python", "-m", STANDIN_MODULE],
}
"""Each target's entrypoint: the modules ops/stack.py spawns, and the migration job."""
ALLOWED_COPY_SOURCES = {"requirements.lock", "pyproject.toml", "protos/", "ops/", "services/"}
_SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|PEPPER|KEK|API_KEY|PRIVATE", re.I)


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_each_target_runs_what_make_run_runs(target: str) -> None:
    chain = ancestry(target)
    assert chain[1].name == RUNTIME, f"{target} must build FROM the runtime stage"
    assert chain[0].exec_form("ENTRYPOINT") == TARGETS[target]
    # Nothing between the runtime stage and the target may switch users.
    assert chain[0].all("USER") == []


def test_the_migrate_target_is_a_command_of_ops() -> None:
    from ops.__main__ import main

    # "migrate" is dispatched (exit 2: its settings are missing), not the usage text (also 2):
    # tell them apart by the message.
    completed = subprocess.run(
        [sys.executable, "-m", "ops", "migrate"],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 2
    assert "TOKENMART_DATABASE_URL" in completed.stderr
    assert "ops migrate:" in completed.stderr
    assert main(["no-such-command"]) == 2


def test_runtime_stage_is_slim_python_as_a_numeric_non_root_user() -> None:
    runtime = stage(RUNTIME)
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", runtime.base), runtime.base
    assert stage("build").base == runtime.base
    (user,) = runtime.all("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) >= 1000, "USER must be a numeric uid (runAsNonRoot)"
    assert not gid or gid.isdigit()
    env = " ".join(runtime.all("ENV"))
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    # Every stage a container can run from is the runtime stage or built on it.
    for item in stages():
        if item.name in TARGETS:
            assert RUNTIME in {s.name for s in ancestry(item.name)}


def test_dependencies_are_installed_from_the_lock_with_hashes() -> None:
    installs = [
        command
        for item in stages()
        for run in item.all("RUN")
        for command in run.split("&&")
        if re.search(r"\bpip install\b", command)
    ]
    assert installs, "no pip install"
    for command in installs:
        assert "--require-hashes" in command and "--no-deps" in command, command
        assert "-r requirements.lock" in command, command


def test_generated_code_is_built_from_the_protos() -> None:
    runs = " ".join(stage("build").all("RUN"))
    assert "ops.protogen" in runs and "generate(GEN_ROOT)" in runs
    assert dockerignore_excludes("gen/tokenmart/auth/v1/auth_pb2.py"), "never ship a stale gen/"


def test_no_secret_enters_the_image() -> None:
    for item in stages():
        for instruction in ("ARG", "ENV"):
            for args in item.all(instruction):
                names = re.findall(r"(\w+)=", args) or [args.split()[0]]
                assert not any(_SECRET_NAME.search(n) for n in names), f"{instruction} {args}"
        for args in item.all("COPY"):
            if args.startswith("--from="):
                continue
            *sources, _destination = args.split()
            assert set(sources) <= ALLOWED_COPY_SOURCES, args
    for private in (
        ".tokenmart/secrets.json",
        ".tokenmart/pki/ca-key.pem",
        "deploy/secrets/auth.env",
        "deploy/secrets/pki/gateway-key.pem",
        ".venv/bin/python",
        ".git/config",
        "tests/conftest.py",
        "services/auth/__pycache__/server.cpython-311.pyc",
    ):
        assert dockerignore_excludes(private), private
    for needed in (
        "requirements.lock",
        "pyproject.toml",
        "protos/tokenmart/auth/v1/auth.proto",
        "ops/__main__.py",
        "services/auth/migrations/versions/0001_baseline.py",
    ):
        assert not dockerignore_excludes(needed), needed


def test_the_packages_the_image_drops_are_in_the_lock(repo_root: Path) -> None:
    locked = {
        re.sub(r"[-_.]+", "-", line.split("==")[0]).lower()
        for line in (repo_root / "requirements.lock").read_text().splitlines()
        if "==" in line and not line.startswith((" ", "#"))
    }
    for name in uninstalled_packages():
        assert re.sub(r"[-_.]+", "-", name).lower() in locked, name
    assert {"pytest", "grpc_tools", "pgserver"} <= blocked_modules()


def test_every_entrypoint_imports_without_the_dropped_packages(repo_root: Path) -> None:
    modules = [
        *(f"services.{name}.__main__" for name in PROCESSES),
        *(f"services.{name}.server" for name in PROCESSES if name != "gateway"),
        *(f"services.{name}.store.models" for name in PROCESSES if name != "gateway"),
        "services.gateway.app",
        f"{STANDIN_MODULE}.__main__",
        "ops.__main__",
        "ops.database",
        "ops.ctl",
        "psycopg",
        "alembic.command",
    ]
    code = "import importlib\nfor name in NAMES:\n    importlib.import_module(name)\nprint('ok')"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.deploy.image_python",
            "-c",
            code.replace("NAMES", repr(modules)),
        ],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.strip() == "ok"


def test_the_import_check_can_fail(repo_root: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "tests.deploy.image_python", "-c", "import grpc_tools"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode != 0
    assert "not in the image" in completed.stderr

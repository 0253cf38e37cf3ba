"""What the code says about ``TOKENMART_*`` variables: which each process requires, which it
reads, and whether a given environment parses. The manifests and the compose file are checked
against these, so a renamed or new setting fails the deployment tests until they follow.

* required: the keys ``ops/stack.py`` ``service_environments()`` gives each process (what
  ``make run`` proves sufficient), plus the container-only listeners (health, metrics).
* read: every variable the process's settings actually look up while parsing an environment
  (recorded), plus every variable named by a literal in the process's code (for settings read
  outside the settings classes).
"""

from __future__ import annotations

import ast
import base64
import re
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from ops.database import service_databases
from ops.pki import IssuedFiles
from ops.stack import DEFAULT_PORTS, DEV_SECRETS, PROCESSES, service_environments
from services.auth.settings import AuthSettings
from services.common.settings import SettingsError
from services.gateway.settings import GatewaySettings
from services.provider.settings import ProviderSettings
from services.review.settings import ReviewSettings
from services.wallet.settings import WalletSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
SETTINGS: dict[str, Callable[[Mapping[str, str]], object]] = {
    "auth": AuthSettings.from_env,
    "wallet": WalletSettings.from_env,
    "provider": ProviderSettings.from_env,
    "review": ReviewSettings.from_env,
    "gateway": GatewaySettings.from_env,
}
GRPC_SERVICES = tuple(name for name in PROCESSES if name != "gateway")
CONTAINER_ONLY = {
    # Plaintext grpc.health.v1 for orchestrator probes (the main port is mTLS).
    **{name: {f"TOKENMART_{name.upper()}_HEALTH_LISTEN"} for name in GRPC_SERVICES},
    "gateway": set(),
}
METRICS = {name: f"TOKENMART_{name.upper()}_METRICS_LISTEN" for name in PROCESSES}
# Provider reads every TOKENMART_PROVIDER_KEK_<n> by scanning the environment.
_PROVIDER_KEK = re.compile(r"^TOKENMART_PROVIDER_KEK_[1-9][0-9]{0,6}$")
_ENV_METHODS = {"str", "int", "float", "bool", "path", "csv", "optional_str", "name"}
_UPPER = re.compile(r"^[A-Z][A-Z0-9_]*$")

_KEY32 = base64.b64encode(b"k" * 32).decode()
DUMMY_SECRETS: dict[str, str] = {
    # Values of the right shape for each secret key the manifests use; never real.
    "database-url": "postgresql://tokenmart_svc:password@postgresql:5432/tokenmart",
    "pepper": _KEY32,
    "signing-kek": _KEY32,
    # A KEK being replaced must differ from signing-kek (auth refuses the same key twice).
    "signing-kek-previous": base64.b64encode(b"p" * 32).decode(),
    "kek-1": _KEY32,
    "rate-limit-key": _KEY32,
    "redis-url": "redis://redis:6379/0",
    "openai-api-key": "sk-test-openai-000",
    "anthropic-api-key": "sk-ant-test-000",
    "openrouter-api-key": "sk-or-test-000",
}


def required_variables(process: str, *, standin: bool) -> set[str]:
    """The variables ``process`` must be given in a container."""
    dummy = IssuedFiles(Path("ca.pem"), Path("cert.pem"), Path("key.pem"))
    passwords = {role: "x" for role in _roles()}
    environments = service_environments(
        pki={name: dummy for name in PROCESSES},
        databases=service_databases(
            "postgresql://postgres@localhost/tokenmart", prefix="tokenmart", passwords=passwords
        ),
        redis_url="redis://localhost:6379/0",
        ports=DEFAULT_PORTS,
        gateway_host="0.0.0.0",
        gateway_port=8080,
        secrets={name: "x" for name in DEV_SECRETS},
        standin_origin="http://standin:8090" if standin else None,
    )
    return set(environments[process]) | CONTAINER_ONLY[process] | {METRICS[process]}


def _roles() -> list[str]:
    from ops.database import role_names

    return role_names("tokenmart")


class RecordingEnviron(Mapping[str, str]):
    """An environment that remembers every variable looked up by name."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return self._values[key]

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.read.add(key)
        return key in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def items(self) -> Any:
        # Scanning the whole environment reads nothing in particular (provider's KEK ring).
        return self._values.items()


def parse(process: str, environ: Mapping[str, str]) -> set[str]:
    """Build ``process``'s settings from ``environ`` (SettingsError if it refuses them) and
    return the variables it looked up."""
    recording = RecordingEnviron(environ)
    SETTINGS[process](recording)
    return recording.read


@cache
def _literal_patterns(process: str) -> tuple[frozenset[str], tuple[re.Pattern[str], ...]]:
    """Setting keys (``GRPC_LISTEN``) and full-name patterns named in the process's code."""
    keys: set[str] = set()
    patterns: list[re.Pattern[str]] = []
    package = "provider" if process == "standin" else process
    sources = [
        *(REPO_ROOT / "services" / "common").rglob("*.py"),
        *(REPO_ROOT / "services" / package).rglob("*.py"),
    ]
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in _ENV_METHODS
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
                and _UPPER.match(node.args[0].value)
            ):
                keys.add(node.args[0].value)
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value.startswith("TOKENMART_")
            ):
                patterns.append(re.compile(re.escape(node.value)))
            elif isinstance(node, ast.JoinedStr):
                parts = [
                    re.escape(part.value)
                    if isinstance(part, ast.Constant) and isinstance(part.value, str)
                    else "[A-Za-z0-9_]+"
                    for part in node.values
                ]
                regex = "".join(parts)
                if regex.startswith("TOKENMART_"):
                    patterns.append(re.compile(regex))
    return frozenset(keys), tuple(patterns)


def named_in_code(process: str, variable: str) -> bool:
    keys, patterns = _literal_patterns(process)
    prefix = f"TOKENMART_{process.upper()}_"
    if variable.startswith(prefix) and variable.removeprefix(prefix) in keys:
        return True
    return any(pattern.fullmatch(variable) for pattern in patterns)


def unread(process: str, environ: Mapping[str, str], read: set[str]) -> set[str]:
    """The ``TOKENMART_*`` variables in ``environ`` that ``process`` never reads."""
    return {
        name
        for name in environ
        if name.startswith("TOKENMART_")
        and name not in read
        and not (process == "provider" and _PROVIDER_KEK.match(name))
        and not named_in_code(process, name)
    }


__all__ = [
    "DUMMY_SECRETS",
    "GRPC_SERVICES",
    "METRICS",
    "SETTINGS",
    "RecordingEnviron",
    "SettingsError",
    "named_in_code",
    "parse",
    "required_variables",
    "unread",
]

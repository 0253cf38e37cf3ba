"""The local state directory (``.tokenmart/``, git-ignored): PKI, embedded data, dev secrets.

Dev secrets (database role passwords) are generated once with ``secrets`` and kept in
``secrets.json`` (mode 0600) so restarts reuse them. Production supplies its own through the
``TOKENMART_<SVC>_*`` environment.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from ops.database import role_names


def state_dir(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    return directory


def dev_secrets(directory: Path, names: list[str], *, nbytes: int = 32) -> dict[str, str]:
    """``name`` → a random urlsafe-base64 secret of ``nbytes``, created once and kept."""
    path = directory / "secrets.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = [name for name in names if name not in stored]
    for name in missing:
        stored[name] = secrets.token_urlsafe(nbytes)
    if missing:
        fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(stored, handle, indent=2, sort_keys=True)
        path.with_suffix(".tmp").replace(path)
    return {name: stored[name] for name in names}


def dev_passwords(directory: Path, *, prefix: str) -> dict[str, str]:
    return dev_secrets(directory, role_names(prefix))

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


def dev_passwords(directory: Path, *, prefix: str) -> dict[str, str]:
    path = directory / "secrets.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    changed = False
    for role in role_names(prefix):
        if role not in stored:
            stored[role] = secrets.token_urlsafe(32)
            changed = True
    if changed:
        fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(stored, handle, indent=2, sort_keys=True)
        path.with_suffix(".tmp").replace(path)
    return stored

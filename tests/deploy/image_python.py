"""Run Python as the runtime image would: without the packages deploy/Dockerfile uninstalls.

    python -m tests.deploy.image_python -m MODULE [ARGS...]
    python -m tests.deploy.image_python -c CODE

An import of a module that only those packages provide fails with ModuleNotFoundError, as it
would in the container, so tests can run the images' entrypoints here.
"""

from __future__ import annotations

import importlib.abc
import runpy
import sys
from collections.abc import Sequence
from types import ModuleType

from tests.deploy.dockerfile import blocked_modules


class _Absent(importlib.abc.MetaPathFinder):
    def __init__(self, names: frozenset[str]) -> None:
        self.names = names

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> None:
        if fullname.split(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {fullname!r} (not in the image)")
        return None


def main() -> None:
    blocked = blocked_modules()
    for name in list(sys.modules):
        if name.split(".")[0] in blocked:
            raise SystemExit(f"{name} was imported before the blocker was installed")
    sys.meta_path.insert(0, _Absent(blocked))
    mode, target, *rest = sys.argv[1:]
    if mode == "-m":
        sys.argv = [target, *rest]
        runpy.run_module(target, run_name="__main__", alter_sys=True)
    elif mode == "-c":
        sys.argv = ["-c", *rest]
        exec(compile(target, "<image_python>", "exec"), {"__name__": "__main__"})
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()

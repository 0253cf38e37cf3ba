"""Read ``deploy/Dockerfile`` and ``.dockerignore`` as Docker does, enough to check them offline.

:func:`stages` splits the Dockerfile into build stages with their instructions (continuation
lines joined, comments dropped); :func:`dockerignore_excludes` applies ``.dockerignore`` rules
(last match wins, ``!`` re-includes, a rule matching a parent directory matches everything in
it); :func:`uninstalled_packages` is the list the build removes from the runtime image, and
:func:`blocked_modules` the top-level modules those distributions provide.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO_ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)
    """(INSTRUCTION, arguments), in order."""

    def all(self, instruction: str) -> list[str]:
        return [args for name, args in self.instructions if name == instruction]

    def exec_form(self, instruction: str) -> list[str] | None:
        found = self.all(instruction)
        if not found:
            return None
        value = json.loads(found[-1])
        assert isinstance(value, list), f"{instruction} must use the exec (JSON) form"
        return [str(item) for item in value]


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return lines


@cache
def stages(path: Path = DOCKERFILE) -> tuple[Stage, ...]:
    args: dict[str, str] = {}
    result: list[Stage] = []
    for line in _logical_lines(path.read_text()):
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        rest = rest.strip()
        if instruction == "FROM":
            words = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            result.append(Stage(base=base, name=name))
        elif not result:
            assert instruction == "ARG", f"{instruction} before the first FROM"
            key, _, default = rest.partition("=")
            args[key] = default
        else:
            result[-1].instructions.append((instruction, rest))
    return tuple(result)


def stage(name: str) -> Stage:
    matches = [s for s in stages() if s.name == name]
    assert len(matches) == 1, f"stage {name}: {len(matches)} found"
    return matches[0]


def ancestry(name: str) -> list[Stage]:
    """The stage and the stages it is built FROM, nearest first."""
    chain = [stage(name)]
    names = {s.name for s in stages()}
    while chain[-1].base in names:
        chain.append(stage(chain[-1].base))
    return chain


def uninstalled_packages() -> list[str]:
    for item in stage("build").all("RUN"):
        for command in item.split("&&"):
            words = shlex.split(command)
            if words[:3] == ["pip", "uninstall", "-y"]:
                return words[3:]
    raise AssertionError("the build stage uninstalls nothing")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@cache
def blocked_modules() -> frozenset[str]:
    """Top-level modules provided only by the distributions the image uninstalls."""
    removed = {_normalise(name) for name in uninstalled_packages()}
    return frozenset(
        module
        for module, distributions in packages_distributions().items()
        if {_normalise(d) for d in distributions} <= removed
    )


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    regex = ""
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**", index):
            regex += ".*"
            index += 2
            if pattern.startswith("/", index):
                regex += "/?"
                index += 1
            continue
        regex += {"*": "[^/]*", "?": "[^/]"}.get(char, re.escape(char))
        index += 1
    return re.compile(regex)


def dockerignore_excludes(relative_path: str, path: Path = DOCKERIGNORE) -> bool:
    """Whether the build context leaves out ``relative_path`` (a path under the repo root)."""
    parts = relative_path.strip("/").split("/")
    candidates = ["/".join(parts[: index + 1]) for index in range(len(parts))]
    excluded = False
    for raw in path.read_text().splitlines():
        rule = raw.strip()
        if not rule or rule.startswith("#"):
            continue
        negate = rule.startswith("!")
        rule = rule.lstrip("!").strip("/")
        regex = _pattern_regex(rule)
        if any(regex.fullmatch(candidate) for candidate in candidates):
            excluded = not negate
    return excluded

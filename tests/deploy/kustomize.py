"""A small, strict kustomize renderer, so the manifests validate with no kustomize binary.

It follows ``resources:`` (files and directories with a ``kustomization.yaml``) and applies the
fields our kustomizations use, in kustomize's order: ``patches`` (JSON 6902 only, with a
``target``), ``images`` and ``namespace``. Any other field, or a strategic-merge patch, raises
:class:`Unsupported` instead of being ignored, so a kustomization this renderer cannot render
faithfully fails the tests rather than validating something kubectl would not apply.
``test_manifests`` also compares this output with ``kubectl kustomize`` where kubectl exists.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

Resource = dict[str, Any]

SUPPORTED_FIELDS = {"apiVersion", "kind", "resources", "namespace", "images", "patches"}
CLUSTER_SCOPED_KINDS = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
}
POD_TEMPLATE_PATHS = {
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "Pod": ("spec",),
}


class Unsupported(ValueError):
    """The kustomization uses something this renderer does not implement."""


def load_documents(path: Path) -> list[Resource]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def render(directory: Path) -> list[Resource]:
    """Every resource of the kustomization in ``directory``, transformed."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - SUPPORTED_FIELDS
    if unknown:
        raise Unsupported(f"{directory}: unsupported kustomization fields {sorted(unknown)}")
    resources: list[Resource] = []
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        if path.is_dir():
            resources.extend(render(path))
        else:
            resources.extend(load_documents(path))
    for patch in kustomization.get("patches", []):
        _apply_patch(resources, patch, directory)
    for image in kustomization.get("images", []):
        _set_image(resources, image)
    if "namespace" in kustomization:
        for resource in resources:
            if resource["kind"] not in CLUSTER_SCOPED_KINDS:
                resource.setdefault("metadata", {})["namespace"] = kustomization["namespace"]
    _check_unique(resources)
    return resources


def pod_spec(resource: Resource) -> Resource | None:
    path = POD_TEMPLATE_PATHS.get(resource["kind"])
    if path is None:
        return None
    node: Any = resource
    for key in path:
        node = node[key]
    assert isinstance(node, dict)
    return node


def _check_unique(resources: list[Resource]) -> None:
    seen: set[tuple[str, str, str | None, str]] = set()
    for resource in resources:
        key = (
            resource["apiVersion"],
            resource["kind"],
            resource["metadata"].get("namespace"),
            resource["metadata"]["name"],
        )
        if key in seen:
            raise ValueError(f"duplicate resource {key}")
        seen.add(key)


def _matches_target(resource: Resource, target: dict[str, str]) -> bool:
    unknown = set(target) - {"group", "version", "kind", "name"}
    if unknown:
        raise Unsupported(f"unsupported patch target fields {sorted(unknown)}")
    group, _, version = resource["apiVersion"].rpartition("/")
    checks = {
        "group": group,
        "version": version,
        "kind": resource["kind"],
        "name": resource["metadata"]["name"],
    }
    # kustomize matches each given field as an anchored regular expression.
    return all(re.fullmatch(pattern, checks[field]) for field, pattern in target.items())


def _apply_patch(resources: list[Resource], patch: dict[str, Any], directory: Path) -> None:
    if set(patch) - {"target", "patch", "path"} or "target" not in patch:
        raise Unsupported(f"only JSON 6902 patches with a target are supported: {patch}")
    text = patch["patch"] if "patch" in patch else (directory / patch["path"]).read_text()
    operations = yaml.safe_load(text)
    if not isinstance(operations, list):
        raise Unsupported("strategic-merge patches are not supported; use JSON 6902 operations")
    matched = [r for r in resources if _matches_target(r, patch["target"])]
    if not matched:
        raise ValueError(f"patch target {patch['target']} matches no resource")
    for resource in matched:
        for operation in operations:
            apply_json_patch_operation(resource, operation)


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise ValueError(f"bad JSON pointer {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def apply_json_patch_operation(document: Resource, operation: dict[str, Any]) -> None:
    """RFC 6902 add, replace and remove (the operations our overlays use)."""
    op = operation["op"]
    if op not in ("add", "replace", "remove"):
        raise Unsupported(f"JSON patch operation {op!r}")
    *parents, last = _pointer(operation["path"])
    node: Any = document
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    value = copy.deepcopy(operation.get("value"))
    if isinstance(node, list):
        if op == "add":
            node.insert(len(node) if last == "-" else int(last), value)
        elif op == "replace":
            node[int(last)] = value
        else:
            del node[int(last)]
        return
    if op in ("replace", "remove") and last not in node:
        raise ValueError(f"{operation['path']} does not exist")
    if op == "remove":
        del node[last]
    else:
        node[last] = value


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """(name, tag, digest) of an image reference."""
    name, _, digest_part = image.partition("@")
    digest = digest_part or None
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = None
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
    return name, tag, digest


def _set_image(resources: list[Resource], image: dict[str, str]) -> None:
    unknown = set(image) - {"name", "newName", "newTag", "digest"}
    if unknown:
        raise Unsupported(f"unsupported image fields {sorted(unknown)}")
    for resource in resources:
        spec = pod_spec(resource)
        if spec is None:
            continue
        for container in spec.get("initContainers", []) + spec.get("containers", []):
            name, tag, digest = split_image(container["image"])
            if name != image["name"]:
                continue
            new = image.get("newName", name)
            if "digest" in image:
                container["image"] = f"{new}@{image['digest']}"
            elif "newTag" in image:
                container["image"] = f"{new}:{image['newTag']}"
            else:
                suffix = f"@{digest}" if digest else (f":{tag}" if tag else "")
                container["image"] = new + suffix

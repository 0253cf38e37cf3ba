"""The rendered manifests as a tiny cluster: workloads, their pods, and the world around them.

Shared by the manifest tests: the dev overlay and the base are rendered once per session, and
each workload becomes a :class:`netpol.Endpoint` so NetworkPolicies can be evaluated between
any two of them (or an address outside the cluster).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from services.auth import access as auth_access
from services.provider import access as provider_access
from services.review import access as review_access
from services.wallet import access as wallet_access
from tests.deploy.kustomize import Resource, load_documents, pod_spec, render
from tests.deploy.netpol import Endpoint

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "deploy"
K8S = DEPLOY / "k8s"
OVERLAYS = {"base": K8S / "base", "dev": K8S / "overlays" / "dev"}
TOOLS = K8S / "tools"
BASE_NAMESPACE = "default"
"""Where the base would land when applied as is (``kubectl apply -k base`` uses the context's)."""
CTL_WORKLOAD = "tokenmartctl"
"""The pod label of the operator CLI, the "ctl" identity of the allowlists."""
ACCESS: dict[str, ModuleType] = {
    "auth": auth_access,
    "wallet": wallet_access,
    "provider": provider_access,
    "review": review_access,
}
NAME_LABEL = "app.kubernetes.io/name"


@cache
def rendered(overlay: str) -> tuple[Resource, ...]:
    return tuple(render(OVERLAYS[overlay]))


@cache
def tool_resources() -> tuple[Resource, ...]:
    return tuple(
        resource for path in sorted(TOOLS.glob("*.yaml")) for resource in load_documents(path)
    )


def find(resources: tuple[Resource, ...], kind: str, name: str) -> Resource:
    matches = [r for r in resources if r["kind"] == kind and r["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind}/{name}, found {len(matches)}"
    return matches[0]


def of_kind(resources: tuple[Resource, ...], kind: str) -> list[Resource]:
    return [r for r in resources if r["kind"] == kind]


def namespace_of(resource: Resource) -> str:
    return str(resource["metadata"].get("namespace") or BASE_NAMESPACE)


def container(resource: Resource) -> dict[str, Any]:
    spec = pod_spec(resource)
    assert spec is not None and len(spec["containers"]) == 1, resource["metadata"]["name"]
    return dict(spec["containers"][0])


def callers(service: str) -> set[str]:
    """Every peer identity the service's allowlist admits to any method, read now (so a test
    that changes an allowlist sees the change); ``ctl`` is the tokenmartctl pod."""
    names: set[str] = set()
    for allowed in ACCESS[service].CALLERS.values():
        names.update(allowed)
    return {CTL_WORKLOAD if name == "ctl" else name for name in names}


def network_policies(overlay: str) -> list[dict[str, Any]]:
    policies = []
    for policy in of_kind(rendered(overlay), "NetworkPolicy"):
        copy = {**policy, "metadata": {**policy["metadata"], "namespace": namespace_of(policy)}}
        policies.append(copy)
    return policies


@dataclass(frozen=True)
class World:
    """Every endpoint a policy question can name, keyed by a short name."""

    workloads: Mapping[str, Endpoint]
    """Our pods, by app.kubernetes.io/name (including tokenmartctl from tools/)."""
    others: Mapping[str, Endpoint]
    """Pods of other namespaces, a stranger in ours, and addresses outside the cluster."""

    def __getitem__(self, name: str) -> Endpoint:
        return self.workloads[name] if name in self.workloads else self.others[name]


def _pod_endpoint(resource: Resource, namespace: str, index: int) -> Endpoint:
    spec = pod_spec(resource)
    assert spec is not None
    labels = (
        resource["metadata"]["labels"]
        if resource["kind"] == "Pod"
        else resource["spec"]["template"]["metadata"]["labels"]
    )
    ports = {
        port["name"]: (port["containerPort"], port.get("protocol", "TCP"))
        for item in spec["containers"]
        for port in item.get("ports", [])
        if "name" in port
    }
    return Endpoint(
        name=labels[NAME_LABEL],
        ip=f"10.244.1.{index}",
        namespace=namespace,
        namespace_labels={"kubernetes.io/metadata.name": namespace},
        labels=dict(labels),
        ports=ports,
    )


def _foreign(name: str, namespace: str, labels: dict[str, str], index: int) -> Endpoint:
    return Endpoint(
        name=name,
        ip=f"10.244.2.{index}",
        namespace=namespace,
        namespace_labels={"kubernetes.io/metadata.name": namespace},
        labels=labels,
        ports={},
    )


@cache
def world(overlay: str) -> World:
    resources = rendered(overlay)
    pods = [r for r in resources if r["kind"] in ("Deployment", "Job")]
    namespace = namespace_of(pods[0])
    workloads: dict[str, Endpoint] = {}
    for index, resource in enumerate([*pods, *of_kind(tool_resources(), "Pod")], start=1):
        endpoint = _pod_endpoint(resource, namespace, index)
        workloads[endpoint.name] = endpoint
    part_of = {"app.kubernetes.io/part-of": "tokenmart"}
    others = {
        "postgresql": Endpoint(
            name="postgresql",
            ip="10.244.3.1",
            namespace="databases",
            namespace_labels={"kubernetes.io/metadata.name": "databases"},
            labels={NAME_LABEL: "postgresql"},
            ports={"postgresql": (5432, "TCP")},
        ),
        "redis": Endpoint(
            name="redis",
            ip="10.244.3.2",
            namespace="databases",
            namespace_labels={"kubernetes.io/metadata.name": "databases"},
            labels={NAME_LABEL: "redis"},
            ports={"redis": (6379, "TCP")},
        ),
        "kube-dns": Endpoint(
            name="kube-dns",
            ip="10.96.0.10",
            namespace="kube-system",
            namespace_labels={"kubernetes.io/metadata.name": "kube-system"},
            labels={"k8s-app": "kube-dns"},
            ports={"dns": (53, "UDP"), "dns-tcp": (53, "TCP")},
        ),
        "prometheus": _foreign("prometheus", "monitoring", {NAME_LABEL: "prometheus"}, 1),
        "ingress-controller": _foreign(
            "ingress-controller", "ingress-nginx", {NAME_LABEL: "ingress-nginx"}, 2
        ),
        # Our labels in someone else's namespace must not pass for our pods.
        "impostor-gateway": _foreign(
            "impostor-gateway", "other", {NAME_LABEL: "gateway", **part_of}, 3
        ),
        # A pod in our namespace that is none of our workloads.
        "stranger": _foreign("stranger", namespace, {NAME_LABEL: "stranger"}, 4),
        "internet": Endpoint(name="internet", ip="93.184.216.34"),
        "internet-v6": Endpoint(name="internet-v6", ip="2606:4700::1111"),
        "cloud-metadata": Endpoint(name="cloud-metadata", ip="169.254.169.254"),
        "private-host": Endpoint(name="private-host", ip="10.0.0.1"),
    }
    return World(workloads=workloads, others=others)

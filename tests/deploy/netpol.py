"""Evaluate Kubernetes NetworkPolicies (networking.k8s.io/v1) for a given connection.

The semantics follow the API reference: a pod is isolated for a direction once any policy of
that type selects it, and then a connection is allowed only if some rule of such a policy
matches both the peer and the port; an unisolated pod allows everything. A connection between
two pods needs the sender's egress and the receiver's ingress. Named ports resolve against the
destination pod's container ports (for ingress too: the receiving pod is the destination).
ipBlock is matched against the peer's IP, pod IPs included (what most CNIs do; the strictest
reading for "who can reach the internet" questions).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Policy = dict[str, Any]


@dataclass(frozen=True)
class Endpoint:
    """A pod (namespace set) or an address outside the cluster (namespace None)."""

    name: str
    ip: str
    namespace: str | None = None
    namespace_labels: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    ports: Mapping[str, tuple[int, str]] = field(default_factory=dict)
    """Named container ports: name → (number, protocol)."""


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A metav1.LabelSelector; an empty selector matches everything."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
        if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise ValueError(f"unknown selector operator {operator}")
    return True


def _peer_matches(peer: Mapping[str, Any], policy_namespace: str, endpoint: Endpoint) -> bool:
    if "ipBlock" in peer:
        block = peer["ipBlock"]
        address = ipaddress.ip_address(endpoint.ip)
        network = ipaddress.ip_network(block["cidr"])
        if address.version != network.version or address not in network:
            return False
        return not any(
            address in ipaddress.ip_network(excluded)
            for excluded in block.get("except", [])
            if ipaddress.ip_network(excluded).version == address.version
        )
    if endpoint.namespace is None:
        return False
    if "namespaceSelector" in peer:
        if not selector_matches(peer["namespaceSelector"], endpoint.namespace_labels):
            return False
    elif endpoint.namespace != policy_namespace:
        return False
    return "podSelector" not in peer or selector_matches(peer["podSelector"], endpoint.labels)


def _port_matches(
    ports: Iterable[Mapping[str, Any]] | None, number: int, protocol: str, destination: Endpoint
) -> bool:
    ports = list(ports or [])
    if not ports:
        return True
    for entry in ports:
        if entry.get("protocol", "TCP") != protocol:
            continue
        port = entry.get("port")
        if port is None:
            return True
        if isinstance(port, str):
            named = destination.ports.get(port)
            if named is not None and named == (number, protocol):
                return True
            continue
        if port <= number <= entry.get("endPort", port):
            return True
    return False


def _policy_types(policy: Policy) -> list[str]:
    spec = policy["spec"]
    if "policyTypes" in spec:
        return list(spec["policyTypes"])
    return ["Ingress", *(["Egress"] if "egress" in spec else [])]


def _selecting(policies: Iterable[Policy], pod: Endpoint, direction: str) -> list[Policy]:
    return [
        policy
        for policy in policies
        if policy["metadata"]["namespace"] == pod.namespace
        and direction in _policy_types(policy)
        and selector_matches(policy["spec"].get("podSelector"), pod.labels)
    ]


def ingress_allowed(
    policies: Iterable[Policy], *, destination: Endpoint, source: Endpoint, port: int, protocol: str
) -> bool:
    """Whether ``destination``'s ingress policies admit ``source`` on ``port``/``protocol``."""
    assert destination.namespace is not None, "ingress is evaluated at a pod"
    applicable = _selecting(policies, destination, "Ingress")
    if not applicable:
        return True
    for policy in applicable:
        for rule in policy["spec"].get("ingress") or []:
            if not _port_matches(rule.get("ports"), port, protocol, destination):
                continue
            peers = rule.get("from")
            if not peers or any(
                _peer_matches(peer, policy["metadata"]["namespace"], source) for peer in peers
            ):
                return True
    return False


def egress_allowed(
    policies: Iterable[Policy], *, source: Endpoint, destination: Endpoint, port: int, protocol: str
) -> bool:
    """Whether ``source``'s egress policies let it reach ``destination`` on ``port``."""
    assert source.namespace is not None, "egress is evaluated at a pod"
    applicable = _selecting(policies, source, "Egress")
    if not applicable:
        return True
    for policy in applicable:
        for rule in policy["spec"].get("egress") or []:
            if not _port_matches(rule.get("ports"), port, protocol, destination):
                continue
            peers = rule.get("to")
            if not peers or any(
                _peer_matches(peer, policy["metadata"]["namespace"], destination) for peer in peers
            ):
                return True
    return False


def connection_allowed(
    policies: Iterable[Policy], *, source: Endpoint, destination: Endpoint, port: int, protocol: str
) -> bool:
    """Both ends agree: the sender's egress (if a pod) and the receiver's ingress (if a pod)."""
    policies = list(policies)
    if source.namespace is not None and not egress_allowed(
        policies, source=source, destination=destination, port=port, protocol=protocol
    ):
        return False
    return destination.namespace is None or ingress_allowed(
        policies, destination=destination, source=source, port=port, protocol=protocol
    )

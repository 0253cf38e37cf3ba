"""Each service's allowlist is exactly what its proto documents, for every RPC it declares."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tokenmart.auth.v1 import auth_pb2
from tokenmart.provider.v1 import provider_pb2
from tokenmart.review.v1 import review_pb2
from tokenmart.wallet.v1 import wallet_pb2

from services.auth import access as auth_access
from services.provider import access as provider_access
from services.review import access as review_access
from services.wallet import access as wallet_access

CASES = {
    "auth": (auth_access, auth_pb2),
    "wallet": (wallet_access, wallet_pb2),
    "provider": (provider_access, provider_pb2),
    "review": (review_access, review_pb2),
}
_RPC = re.compile(r"^\s*rpc (\w+)\(")
_CALLERS = re.compile(r"^\s*// Callers: (.+)\.$")


def documented_callers(proto: Path) -> dict[str, tuple[str, ...]]:
    callers: dict[str, tuple[str, ...]] = {}
    pending: tuple[str, ...] | None = None
    for line in proto.read_text().splitlines():
        if match := _CALLERS.match(line):
            pending = tuple(name.strip() for name in match.group(1).split(","))
        elif match := _RPC.match(line):
            assert pending is not None, f"{proto.name}: rpc {match.group(1)} has no Callers line"
            callers[match.group(1)] = pending
            pending = None
        elif not line.strip().startswith("//"):
            pending = None
    return callers


@pytest.mark.parametrize("service", sorted(CASES))
def test_allowlist_matches_the_proto(service: str, repo_root: Path) -> None:
    access, module = CASES[service]
    proto = repo_root / "protos" / "tokenmart" / service / "v1" / f"{service}.proto"
    descriptor = module.DESCRIPTOR.services_by_name[access.SERVICE.rsplit(".", 1)[1]]
    assert descriptor.full_name == access.SERVICE
    declared = {method.name for method in descriptor.methods}
    assert set(access.CALLERS) == declared
    assert {name: tuple(peers) for name, peers in access.CALLERS.items()} == documented_callers(
        proto
    )


@pytest.mark.parametrize("service", sorted(CASES))
def test_no_service_may_call_itself_and_only_known_peers_are_named(service: str) -> None:
    access, _ = CASES[service]
    for method, peers in access.CALLERS.items():
        assert peers, method
        assert service not in peers, method
        assert set(peers) <= {"auth", "wallet", "provider", "review", "gateway", "ctl"}, method

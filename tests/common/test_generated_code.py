"""The committed ``gen/`` is exactly what ``make proto`` produces from ``protos/``."""

from __future__ import annotations

from pathlib import Path

from ops.protogen import GEN_ROOT, generate, tree


def test_generated_code_is_fresh(tmp_path: Path) -> None:
    fresh = tmp_path / "gen"
    protos = generate(fresh)
    assert {p.parent.parent.name for p in protos} >= {"auth", "wallet", "provider", "review"}
    committed, regenerated = tree(GEN_ROOT), tree(fresh)
    stale = sorted(
        name
        for name in committed.keys() | regenerated.keys()
        if committed.get(name) != regenerated.get(name)
    )
    assert not stale, f"gen/ is stale; run `make proto` and commit. Differs: {stale}"


def test_every_service_has_messages_and_stubs() -> None:
    for service in ("auth", "wallet", "provider", "review"):
        base = GEN_ROOT / "tokenmart" / service / "v1"
        for suffix in ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi"):
            assert (base / f"{service}{suffix}").is_file(), f"{service}{suffix}"

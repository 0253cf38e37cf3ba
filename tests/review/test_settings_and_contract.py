"""Settings fail fast and default sensibly; the servicer covers the whole contract: every RPC,
every error reason its Errors lines name, every enum value."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tokenmart.review.v1 import review_pb2

from ops.pki import IssuedFiles
from services.common.errors import TokenMartError
from services.common.settings import SettingsError
from services.review import errors, wire
from services.review.api import ReviewApi
from services.review.settings import ReviewSettings

PROTO = Path(__file__).resolve().parents[2] / "protos/tokenmart/review/v1/review.proto"

# Reasons raised by the shared library rather than by review's own error tree.
COMMON_REASONS = {
    "ACCESS_TOKEN_MISSING",
    "ACCESS_TOKEN_INVALID",
    "ACCESS_TOKEN_EXPIRED",
    "SCOPE_MISSING",
    "PEER_NOT_ALLOWED",
    "REQUEST_ID_INVALID",
    "REQUEST_ID_CONFLICT",
    "REQUEST_IN_PROGRESS",
}


def _environ(pki: dict[str, IssuedFiles], **overrides: str) -> dict[str, str]:
    files = pki["review"]
    environ = {
        "TOKENMART_REVIEW_DATABASE_URL": "postgresql://review:hunter2@db/tokenmart",
        "TOKENMART_REVIEW_TLS_CA_FILE": str(files.ca_file),
        "TOKENMART_REVIEW_TLS_CERT_FILE": str(files.cert_file),
        "TOKENMART_REVIEW_TLS_KEY_FILE": str(files.key_file),
    }
    environ.update({f"TOKENMART_REVIEW_{key}": value for key, value in overrides.items()})
    return environ


def test_defaults_are_the_documented_ones(pki: dict[str, IssuedFiles]) -> None:
    settings = ReviewSettings.from_env(_environ(pki))
    assert (settings.quorum.reviewers_per_claim, settings.quorum.votes_to_decide) == (3, 2)
    assert settings.bounties.reviewer_reward_bps == 200
    assert settings.bounties.default_deadline_s == 7 * 86_400
    assert settings.bounties.max_live_claims_per_agent == 5
    assert settings.bounties.review_due_s == 2 * 86_400
    assert settings.bounties.reviewer_min_trust_tier == 0
    assert settings.worker.enabled and settings.worker.dispatch_on_finalize
    assert settings.worker.outbox_max_attempts == 20
    assert set(settings.common.peers) == {"auth", "wallet"}
    assert "hunter2" not in repr(settings)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"VOTES_TO_DECIDE": "4"}, "TOKENMART_REVIEW_VOTES_TO_DECIDE must not exceed"),
        ({"REVIEWERS_PER_CLAIM": "10"}, "TOKENMART_REVIEW_REVIEWERS_PER_CLAIM must be between"),
        ({"VOTES_TO_DECIDE": "0"}, "TOKENMART_REVIEW_VOTES_TO_DECIDE must be between"),
        ({"REVIEWER_REWARD_BPS": "10001"}, "TOKENMART_REVIEW_REVIEWER_REWARD_BPS must be"),
        ({"DEFAULT_DEADLINE_S": "60"}, "TOKENMART_REVIEW_DEFAULT_DEADLINE_S must be between"),
        ({"REVIEWER_MIN_TRUST_TIER": "4"}, "TOKENMART_REVIEW_REVIEWER_MIN_TRUST_TIER must be"),
        (
            {"OUTBOX_BACKOFF_BASE_S": "10", "OUTBOX_BACKOFF_MAX_S": "1"},
            "TOKENMART_REVIEW_OUTBOX_BACKOFF_MAX_S must be at least",
        ),
        ({"WORKER_ENABLED": "maybe"}, "TOKENMART_REVIEW_WORKER_ENABLED must be true or false"),
    ],
)
def test_bad_settings_fail_fast(
    pki: dict[str, IssuedFiles], overrides: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        ReviewSettings.from_env(_environ(pki, **overrides))


def test_a_missing_database_url_fails_fast(pki: dict[str, IssuedFiles]) -> None:
    environ = _environ(pki)
    del environ["TOKENMART_REVIEW_DATABASE_URL"]
    with pytest.raises(SettingsError, match="TOKENMART_REVIEW_DATABASE_URL is required"):
        ReviewSettings.from_env(environ)


def test_every_rpc_of_the_contract_is_implemented() -> None:
    rpcs = re.findall(r"^\s*rpc (\w+)\(", PROTO.read_text(), flags=re.MULTILINE)
    assert len(rpcs) == 18
    for rpc in rpcs:
        assert rpc in ReviewApi.__dict__, f"{rpc} is not implemented"


def _reasons_in_errors_lines() -> set[str]:
    text = PROTO.read_text()
    reasons: set[str] = set()
    for block in re.findall(r"// Errors:(.*?)// Callers:", text, flags=re.DOTALL):
        for group in re.findall(r"\(([A-Z_, ]+?)(?:, metadata[^)]*)?\)", block):
            reasons |= {item.strip() for item in group.split(",") if item.strip()}
    # The conventions before the service name the reasons any RPC may answer.
    header = re.sub(r"\s*\n\s*//\s*", " ", text.split("service ReviewService")[0])
    reasons |= set(re.findall(r"(?<![a-z_])reason ([A-Z][A-Z_]+)", header))
    for group in re.findall(r"\(([A-Z][A-Z_, ]+?)(?:, metadata[^)]*)?\)", header):
        reasons |= {item.strip() for item in group.split(",") if item.strip()}
    return reasons


def _reasons_raised_by_review() -> set[str]:
    found: set[str] = set()
    stack: list[type[TokenMartError]] = [TokenMartError]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__ == errors.__name__:
            found.add(cls.reason)
    return found


def test_every_reason_the_contract_names_has_an_error_class() -> None:
    named = _reasons_in_errors_lines()
    assert len(named) > 40
    assert not named - _reasons_raised_by_review() - COMMON_REASONS
    # ... and every error class of review answers a reason the contract names.
    assert not _reasons_raised_by_review() - named - {"INVALID_ARGUMENT"}


def test_every_enum_mapping_covers_its_proto_enum() -> None:
    pairs = [
        (wire.BOUNTY_TYPES, review_pb2.BountyType),
        (wire.BOUNTY_STATUSES, review_pb2.BountyStatus),
        (wire.CLAIM_STATUSES, review_pb2.ClaimStatus),
        (wire.REVIEW_STATUSES, review_pb2.ReviewStatus),
        (wire.DECISIONS, review_pb2.ReviewDecision),
        (wire.OUTBOX_KINDS, review_pb2.OutboxKind),
        (wire.OUTBOX_STATUSES, review_pb2.OutboxStatus),
        (wire.RECIPIENTS, review_pb2.PayoutRecipient),
        (wire.PAYOUT_STATUSES, review_pb2.PayoutStatus),
    ]
    for mapping, enum in pairs:
        assert set(mapping.values()) == set(enum.values()) - {0}, enum

"""Settings of the review service, read once from ``TOKENMART_REVIEW_*``.

Review holds no secrets of its own: it proves who it is with its mTLS certificate, gets its
service token from auth, and verifies callers' access tokens with auth's public keys.

Quorum, rewards, deadlines and limits below apply to bounties created while they are in force;
a bounty records its reviewers-per-claim and votes-to-decide at creation, so changing them never
changes how an existing bounty is decided.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.common.settings import Env, ServiceSettings, SettingsError, service_env

PEERS: tuple[str, ...] = ("auth", "wallet")
"""The services review calls."""

DAY_S = 86_400
REVIEWERS_MAX = 9
BASIS_POINTS = 10_000


@dataclass(frozen=True)
class QuorumSettings:
    reviewers_per_claim: int
    """Reviewers assigned to every submission (default 3)."""
    votes_to_decide: int
    """Approvals that approve a claim (default 2); rejected once they can no longer be reached."""

    def __post_init__(self) -> None:
        assert 1 <= self.votes_to_decide <= self.reviewers_per_claim <= REVIEWERS_MAX


@dataclass(frozen=True)
class BountySettings:
    reviewer_reward_bps: int
    """A reviewer's reward as a share of the bounty reward when the admin names none (200 = 2%)."""
    default_deadline_s: int
    """Deadline of a bounty created without one (7 days)."""
    max_live_claims_per_agent: int
    """Claims an agent may hold unsubmitted at once (5)."""
    review_due_s: int
    """Time a reviewer has to vote before being replaced (2 days)."""
    reviewer_min_trust_tier: int
    """The lowest trust tier a reviewer may have (0: any claimed, active agent)."""


@dataclass(frozen=True)
class WorkerSettings:
    """The background worker: agent mirror, reviewer assignment, expiry and payout dispatch."""

    enabled: bool
    """Run the worker in this process (tests drive it by hand instead)."""
    interval_s: float
    """Pause between two passes of the worker."""
    agent_sync_interval_s: float
    """How often the agent mirror pulls changes from auth."""
    dispatch_on_finalize: bool
    """Dispatch a payout right after the vote that finalized its claim commits."""
    batch_size: int
    """Rows each step of a pass handles at most (claims to staff, bounties to close, entries)."""
    outbox_max_attempts: int
    """Failed dispatch attempts before an entry is STUCK and waits for an operator."""
    outbox_backoff_base_s: float
    outbox_backoff_max_s: float
    outbox_lease_s: float
    """How long one dispatcher owns an entry it is sending (others skip it meanwhile)."""


@dataclass(frozen=True)
class ReviewSettings:
    common: ServiceSettings
    quorum: QuorumSettings
    bounties: BountySettings
    worker: WorkerSettings

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ReviewSettings:
        env = service_env("review", environ)
        return cls(
            common=ServiceSettings.from_env("review", environ, peers=PEERS),
            quorum=_quorum(env),
            bounties=BountySettings(
                reviewer_reward_bps=env.int(
                    "REVIEWER_REWARD_BPS", 200, minimum=0, maximum=BASIS_POINTS
                ),
                default_deadline_s=env.int(
                    "DEFAULT_DEADLINE_S", 7 * DAY_S, minimum=3600, maximum=365 * DAY_S
                ),
                max_live_claims_per_agent=env.int(
                    "MAX_LIVE_CLAIMS_PER_AGENT", 5, minimum=1, maximum=1000
                ),
                review_due_s=env.int("REVIEW_DUE_S", 2 * DAY_S, minimum=60, maximum=30 * DAY_S),
                reviewer_min_trust_tier=env.int("REVIEWER_MIN_TRUST_TIER", 0, minimum=0, maximum=3),
            ),
            worker=_worker(env),
        )


def _quorum(env: Env) -> QuorumSettings:
    reviewers = env.int("REVIEWERS_PER_CLAIM", 3, minimum=1, maximum=REVIEWERS_MAX)
    votes = env.int("VOTES_TO_DECIDE", 2, minimum=1, maximum=REVIEWERS_MAX)
    if votes > reviewers:
        raise SettingsError(
            f"{env.name('VOTES_TO_DECIDE')} must not exceed {env.name('REVIEWERS_PER_CLAIM')}"
        )
    return QuorumSettings(reviewers_per_claim=reviewers, votes_to_decide=votes)


def _worker(env: Env) -> WorkerSettings:
    base = env.float("OUTBOX_BACKOFF_BASE_S", 1.0, minimum=0.01, maximum=3600.0)
    ceiling = env.float("OUTBOX_BACKOFF_MAX_S", 300.0, minimum=0.01, maximum=86_400.0)
    if ceiling < base:
        raise SettingsError(
            f"{env.name('OUTBOX_BACKOFF_MAX_S')} must be at least "
            f"{env.name('OUTBOX_BACKOFF_BASE_S')}"
        )
    return WorkerSettings(
        enabled=env.bool("WORKER_ENABLED", True),
        interval_s=env.float("WORKER_INTERVAL_S", 5.0, minimum=0.05, maximum=3600.0),
        agent_sync_interval_s=env.float("AGENT_SYNC_INTERVAL_S", 5.0, minimum=0.05, maximum=3600.0),
        dispatch_on_finalize=env.bool("DISPATCH_ON_FINALIZE", True),
        batch_size=env.int("WORKER_BATCH_SIZE", 100, minimum=1, maximum=10_000),
        outbox_max_attempts=env.int("OUTBOX_MAX_ATTEMPTS", 20, minimum=1, maximum=1000),
        outbox_backoff_base_s=base,
        outbox_backoff_max_s=ceiling,
        outbox_lease_s=env.float("OUTBOX_LEASE_S", 30.0, minimum=1.0, maximum=3600.0),
    )

"""Who may review a claim, and how reviewers are drawn.

A reviewer is eligible for a claim when it is claimed and active, meets the minimum reviewer
tier, is not the submitter, is not owned by the submitter's owner or by the bounty creator's
account, has no correlation flag with the submitter, and was never assigned to this claim. The
store runs that predicate in SQL over the agent mirror; :func:`conflict` is the same rule for one
agent, used again at vote time with facts read fresh from auth.

The panel of one claim must also be diverse: its reviewers have distinct owners and no flag
between any two of them, so one owner (or one flagged pair) can never make up a quorum.
:func:`draw` shuffles the eligible candidates with a CSPRNG and takes, in that order, each
candidate that keeps the panel diverse.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from services.review.domain.model import AgentFacts, ordered_pair

_CSPRNG = random.SystemRandom()
"""Backed by os.urandom; never the seeded Mersenne Twister."""


class Ineligible(StrEnum):
    """Why an agent may not review a claim."""

    NOT_CLAIMED = "not_claimed"
    SUSPENDED = "suspended"
    TIER_TOO_LOW = "tier_too_low"
    SUBMITTER = "submitter"
    SAME_OWNER = "same_owner"
    CREATOR = "creator"
    CORRELATED = "correlated"


@dataclass(frozen=True)
class Conflicts:
    """What a reviewer of one claim must not be related to."""

    submitter_agent_id: uuid.UUID
    submitter_owner_account_id: uuid.UUID
    creator_account_id: uuid.UUID
    correlated_with_submitter: frozenset[uuid.UUID]
    min_trust_tier: int


def conflict(reviewer: AgentFacts, conflicts: Conflicts) -> Ineligible | None:
    """Why ``reviewer`` may not review the claim, or None when it may."""
    if not reviewer.claimed:
        return Ineligible.NOT_CLAIMED
    if not reviewer.active:
        return Ineligible.SUSPENDED
    if reviewer.trust_tier < conflicts.min_trust_tier:
        return Ineligible.TIER_TOO_LOW
    if reviewer.agent_id == conflicts.submitter_agent_id:
        return Ineligible.SUBMITTER
    if reviewer.owner_account_id == conflicts.submitter_owner_account_id:
        return Ineligible.SAME_OWNER
    if reviewer.owner_account_id == conflicts.creator_account_id:
        return Ineligible.CREATOR
    if reviewer.agent_id in conflicts.correlated_with_submitter:
        return Ineligible.CORRELATED
    return None


@dataclass(frozen=True)
class Candidate:
    agent_id: uuid.UUID
    owner_account_id: uuid.UUID


def draw(
    candidates: Sequence[Candidate],
    *,
    wanted: int,
    panel: Collection[Candidate],
    flagged_pairs: Iterable[tuple[uuid.UUID, uuid.UUID]],
) -> list[Candidate]:
    """Up to ``wanted`` candidates, drawn at random, that keep ``panel`` diverse.

    ``candidates`` are already eligible for the claim; ``panel`` are the reviewers it has now;
    ``flagged_pairs`` are the correlation flags among all of them (in id order).
    """
    assert wanted >= 0
    flagged = {ordered_pair(*pair) for pair in flagged_pairs}
    order = list(candidates)
    _CSPRNG.shuffle(order)
    chosen: list[Candidate] = []
    members = list(panel)
    for candidate in order:
        if len(chosen) == wanted:
            break
        if any(_clash(candidate, member, flagged) for member in members):
            continue
        chosen.append(candidate)
        members.append(candidate)
    return chosen


def _clash(first: Candidate, second: Candidate, flagged: set[tuple[uuid.UUID, uuid.UUID]]) -> bool:
    if first.agent_id == second.agent_id or first.owner_account_id == second.owner_account_id:
        return True
    return ordered_pair(first.agent_id, second.agent_id) in flagged

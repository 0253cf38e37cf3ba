"""When a claim is decided: the quorum rule, and deciding early once the outcome is certain.

A claim has ``reviewers`` reviewer slots and needs ``votes_to_decide`` approvals. It is approved
the moment that many approvals are in, and rejected the moment they can no longer be reached
(the rejections leave too few slots for the missing approvals). With the default 2 of 3 this is
"two approvals approve, two rejections reject", and the third reviewer is not waited for.
Because every slot is counted whether or not its reviewer has been assigned yet, a claim short
of reviewers is never decided by fewer votes than a full panel would need.
"""

from __future__ import annotations

from services.review.domain.model import Decision


def decide(
    *, approvals: int, rejections: int, reviewers: int, votes_to_decide: int
) -> Decision | None:
    """The outcome if it is certain now, else None."""
    assert 1 <= votes_to_decide <= reviewers
    assert approvals >= 0 and rejections >= 0 and approvals + rejections <= reviewers
    if approvals >= votes_to_decide:
        return Decision.APPROVE
    if approvals + (reviewers - approvals - rejections) < votes_to_decide:
        return Decision.REJECT
    return None

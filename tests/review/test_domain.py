"""The pure rules: quorum, payout plans and their derived ids, reviewer draws, bounty terms,
page tokens and the dispatcher's reading of wallet's answers."""

from __future__ import annotations

import datetime
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.review.domain import outbox, pagination, payouts, validation
from services.review.domain.eligibility import Candidate, Conflicts, Ineligible, conflict, draw
from services.review.domain.model import (
    AgentFacts,
    AgentLifecycle,
    AgentStatus,
    BountyType,
    Decision,
    Recipient,
    TransferCode,
)
from services.review.domain.quorum import decide

NOW = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)


# -- quorum -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("approvals", "rejections", "expected"),
    [
        (0, 0, None),
        (1, 0, None),
        (0, 1, None),
        (1, 1, None),
        (2, 0, Decision.APPROVE),
        (2, 1, Decision.APPROVE),
        (0, 2, Decision.REJECT),
        (1, 2, Decision.REJECT),
    ],
)
def test_two_of_three_decides_as_soon_as_it_is_certain(
    approvals: int, rejections: int, expected: Decision | None
) -> None:
    assert decide(approvals=approvals, rejections=rejections, reviewers=3, votes_to_decide=2) is (
        expected
    )


@given(
    reviewers=st.integers(min_value=1, max_value=9),
    data=st.data(),
)
def test_a_decision_is_final_and_never_needs_more_votes_than_the_panel(
    reviewers: int, data: st.DataObject
) -> None:
    votes_to_decide = data.draw(st.integers(min_value=1, max_value=reviewers))
    ballots = data.draw(st.lists(st.booleans(), min_size=reviewers, max_size=reviewers))
    decided: Decision | None = None
    for cast in range(1, reviewers + 1):
        approvals = sum(ballots[:cast])
        outcome = decide(
            approvals=approvals,
            rejections=cast - approvals,
            reviewers=reviewers,
            votes_to_decide=votes_to_decide,
        )
        if decided is not None:
            assert outcome is decided, "once certain, more votes never change the outcome"
        decided = outcome
    # Every panel that votes in full reaches a decision, and it is the qualified majority's.
    expected = Decision.APPROVE if sum(ballots) >= votes_to_decide else Decision.REJECT
    assert decided is expected


# -- payouts ------------------------------------------------------------------------------------


def _voters(count: int) -> list[payouts.Voter]:
    return [payouts.Voter(review_id=uuid.uuid4(), agent_id=uuid.uuid4()) for _ in range(count)]


def test_an_approved_claim_pays_the_submitter_and_every_voter_and_refunds_unused_shares() -> None:
    claim_id, submitter = uuid.uuid4(), uuid.uuid4()
    voters = _voters(2)
    batch = payouts.claim_payout(
        claim_id=claim_id,
        submitter_agent_id=submitter,
        decision=Decision.APPROVE,
        reward_micros=1_000_000,
        reviewer_reward_micros=20_000,
        reviewers_per_claim=3,
        voters=voters,
    )
    assert [(item.recipient, item.code, item.amount_micros) for item in batch] == [
        (Recipient.AGENT, TransferCode.BOUNTY_REWARD, 1_000_000),
        (Recipient.AGENT, TransferCode.REVIEW_REWARD, 20_000),
        (Recipient.AGENT, TransferCode.REVIEW_REWARD, 20_000),
        (Recipient.TREASURY, TransferCode.REFUND, 20_000),
    ]
    assert batch[0].agent_id == submitter
    assert {item.agent_id for item in batch[1:3]} == {voter.agent_id for voter in voters}
    assert sum(item.amount_micros for item in batch) == 1_000_000 + 3 * 20_000
    assert [item.position for item in batch] == [0, 1, 2, 3]


def test_a_rejected_claim_refunds_the_reward_and_still_pays_the_voters() -> None:
    batch = payouts.claim_payout(
        claim_id=uuid.uuid4(),
        submitter_agent_id=uuid.uuid4(),
        decision=Decision.REJECT,
        reward_micros=500,
        reviewer_reward_micros=7,
        reviewers_per_claim=3,
        voters=_voters(3),
    )
    assert [(item.recipient, item.code, item.amount_micros) for item in batch] == [
        (Recipient.TREASURY, TransferCode.REFUND, 500),
        (Recipient.AGENT, TransferCode.REVIEW_REWARD, 7),
        (Recipient.AGENT, TransferCode.REVIEW_REWARD, 7),
        (Recipient.AGENT, TransferCode.REVIEW_REWARD, 7),
    ]


def test_zero_reviewer_rewards_are_left_out_of_the_batch() -> None:
    batch = payouts.claim_payout(
        claim_id=uuid.uuid4(),
        submitter_agent_id=uuid.uuid4(),
        decision=Decision.APPROVE,
        reward_micros=10,
        reviewer_reward_micros=0,
        reviewers_per_claim=3,
        voters=_voters(2),
    )
    assert [(item.code, item.amount_micros) for item in batch] == [(TransferCode.BOUNTY_REWARD, 10)]


def test_payout_ids_are_derived_from_the_claim_so_a_replan_is_identical() -> None:
    claim_id, submitter = uuid.uuid4(), uuid.uuid4()
    voters = _voters(3)

    def plan() -> list[uuid.UUID]:
        return [
            item.transfer_id
            for item in payouts.claim_payout(
                claim_id=claim_id,
                submitter_agent_id=submitter,
                decision=Decision.APPROVE,
                reward_micros=100,
                reviewer_reward_micros=1,
                reviewers_per_claim=3,
                voters=list(reversed(voters)),
            )
        ]

    first = plan()
    assert first == plan()
    assert len(set(first)) == len(first)
    assert first[0] == uuid.uuid5(claim_id, "bounty-reward")
    assert payouts.payout_entry_id(claim_id) == uuid.uuid5(claim_id, "payout")
    other = payouts.claim_payout(
        claim_id=uuid.uuid4(),
        submitter_agent_id=submitter,
        decision=Decision.APPROVE,
        reward_micros=100,
        reviewer_reward_micros=1,
        reviewers_per_claim=3,
        voters=voters,
    )
    assert not set(first) & {item.transfer_id for item in other}


def test_created_ids_are_derived_from_the_caller_and_the_request() -> None:
    bounty = payouts.bounty_id_for(account_id="a", request_id="r")
    assert bounty == payouts.bounty_id_for(account_id="a", request_id="r")
    assert bounty != payouts.bounty_id_for(account_id="b", request_id="r")
    assert payouts.escrow_transfer_id(bounty) == uuid.uuid5(bounty, "escrow")
    agent = uuid.uuid4()
    assert payouts.claim_id_for(bounty_id=bounty, agent_id=agent) == payouts.claim_id_for(
        bounty_id=bounty, agent_id=agent
    )
    assert payouts.treasury_mint_id(subject="account:x", request_id="r") != (
        payouts.treasury_mint_id(subject="account:y", request_id="r")
    )


def test_a_slot_refund_is_one_transfer_to_the_treasury() -> None:
    bounty = uuid.uuid4()
    (refund,) = payouts.slot_refund(bounty_id=bounty, slots=3, slot_escrow_micros=1_030)
    assert (refund.recipient, refund.code, refund.amount_micros) == (
        Recipient.TREASURY,
        TransferCode.REFUND,
        3_090,
    )
    assert refund.transfer_id == uuid.uuid5(bounty, "slot-refund")


# -- eligibility --------------------------------------------------------------------------------


def _facts(**fields: object) -> AgentFacts:
    values: dict[str, object] = {
        "agent_id": uuid.uuid4(),
        "owner_account_id": uuid.uuid4(),
        "lifecycle": AgentLifecycle.CLAIMED,
        "status": AgentStatus.ACTIVE,
        "trust_tier": 1,
        "updated_at": NOW,
        **fields,
    }
    return AgentFacts(**values)  # type: ignore[arg-type]


def test_every_conflict_is_named() -> None:
    submitter, owner, creator, flagged = (uuid.uuid4() for _ in range(4))
    conflicts = Conflicts(
        submitter_agent_id=submitter,
        submitter_owner_account_id=owner,
        creator_account_id=creator,
        correlated_with_submitter=frozenset({flagged}),
        min_trust_tier=1,
    )
    assert conflict(_facts(), conflicts) is None
    cases = [
        (
            _facts(lifecycle=AgentLifecycle.REGISTERED_UNCLAIMED, owner_account_id=None),
            Ineligible.NOT_CLAIMED,
        ),
        (_facts(status=AgentStatus.SUSPENDED), Ineligible.SUSPENDED),
        (_facts(trust_tier=0), Ineligible.TIER_TOO_LOW),
        (_facts(agent_id=submitter), Ineligible.SUBMITTER),
        (_facts(owner_account_id=owner), Ineligible.SAME_OWNER),
        (_facts(owner_account_id=creator), Ineligible.CREATOR),
        (_facts(agent_id=flagged), Ineligible.CORRELATED),
    ]
    for facts, reason in cases:
        assert conflict(facts, conflicts) is reason


def test_a_panel_never_holds_two_agents_of_one_owner_or_a_flagged_pair() -> None:
    owner = uuid.uuid4()
    siblings = [Candidate(agent_id=uuid.uuid4(), owner_account_id=owner) for _ in range(5)]
    first, second = Candidate(uuid.uuid4(), uuid.uuid4()), Candidate(uuid.uuid4(), uuid.uuid4())
    for _ in range(50):
        chosen = draw(
            [*siblings, first, second],
            wanted=3,
            panel=[],
            flagged_pairs=[(first.agent_id, second.agent_id)],
        )
        owners = [item.owner_account_id for item in chosen]
        assert len(set(owners)) == len(owners)
        assert not {first, second} <= set(chosen)
        assert len(chosen) == 2


def test_draws_are_random_and_respect_the_existing_panel() -> None:
    pool = [Candidate(uuid.uuid4(), uuid.uuid4()) for _ in range(20)]
    seen = {tuple(draw(pool, wanted=2, panel=[], flagged_pairs=[])) for _ in range(30)}
    assert len(seen) > 1
    sitting = pool[0]
    same_owner = Candidate(uuid.uuid4(), sitting.owner_account_id)
    chosen = draw([same_owner, *pool[1:3]], wanted=3, panel=[sitting], flagged_pairs=[])
    assert same_owner not in chosen and len(chosen) == 2


# -- bounty terms -------------------------------------------------------------------------------


def _terms(**fields: object) -> validation.BountyTerms:
    values: dict[str, object] = {
        "title_text": "t",
        "description_text": "",
        "bounty_type": BountyType.WORK,
        "reward_micros": 1_000_000,
        "reviewer_reward_micros": None,
        "max_claims": 0,
        "deadline": None,
        "required_trust_tier": None,
        "now": NOW,
        "reviewers_per_claim": 3,
        "votes_to_decide": 2,
        "reviewer_reward_bps": 200,
        "default_deadline": datetime.timedelta(days=7),
        **fields,
    }
    return validation.bounty_terms(**values)  # type: ignore[arg-type]


def test_terms_take_their_defaults_from_the_configuration() -> None:
    terms = _terms()
    assert terms.reviewer_reward_micros == 20_000
    assert terms.max_claims == 1
    assert terms.deadline == NOW + datetime.timedelta(days=7)
    assert terms.required_trust_tier == 1
    assert _terms(bounty_type=BountyType.VERIFICATION).required_trust_tier == 0
    assert terms.escrow_micros == 1_060_000


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"title_text": ""}, "TITLE_INVALID"),
        ({"title_text": " "}, "TITLE_INVALID"),
        ({"title_text": "x" * 201}, "TITLE_INVALID"),
        ({"title_text": "a\x00b"}, "TITLE_INVALID"),
        ({"description_text": "x" * 20_001}, "DESCRIPTION_INVALID"),
        ({"reward_micros": 0}, "REWARD_NOT_POSITIVE"),
        ({"reward_micros": 10**15 + 1}, "REWARD_TOO_LARGE"),
        ({"reward_micros": 10**14, "max_claims": 11}, "REWARD_TOO_LARGE"),
        ({"reviewer_reward_micros": -1}, "REVIEWER_REWARD_INVALID"),
        ({"reviewer_reward_micros": 1_000_001}, "REVIEWER_REWARD_INVALID"),
        ({"max_claims": 101}, "MAX_CLAIMS_INVALID"),
        ({"max_claims": -1}, "MAX_CLAIMS_INVALID"),
        ({"deadline": NOW + datetime.timedelta(minutes=59)}, "DEADLINE_INVALID"),
        ({"deadline": NOW + datetime.timedelta(days=366)}, "DEADLINE_INVALID"),
        ({"required_trust_tier": 4}, "TRUST_TIER_INVALID"),
        ({"required_trust_tier": -1}, "TRUST_TIER_INVALID"),
    ],
)
def test_bad_terms_name_their_reason(fields: dict[str, object], reason: str) -> None:
    with pytest.raises(validation.Invalid) as failed:
        _terms(**fields)
    assert failed.value.reason == reason


# -- paging and the dispatcher's verdicts -------------------------------------------------------


def test_page_tokens_are_bound_to_their_list_and_filter() -> None:
    token = pagination.encode(list_name="claims", filters={"a": 1}, position=("x", "y"))
    assert pagination.decode(token, list_name="claims", filters={"a": 1}, width=2) == ("x", "y")
    for name, filters in (("bounties", {"a": 1}), ("claims", {"a": 2})):
        with pytest.raises(validation.Invalid):
            pagination.decode(token, list_name=name, filters=filters, width=2)
    for garbage in ("%%%", "e30", "x" * 2000):
        with pytest.raises(validation.Invalid):
            pagination.decode(garbage, list_name="claims", filters={"a": 1}, width=2)
    with pytest.raises(validation.Invalid):
        pagination.page_size(-1)
    assert (pagination.page_size(0), pagination.page_size(500)) == (50, 200)


def test_wallet_answers_are_read_by_their_first_cause() -> None:
    assert outbox.read_results(["OK", "EXISTS"]).delivered
    verdict = outbox.read_results(["LINKED_EVENT_FAILED", "CREDIT_ACCOUNT_NOT_FOUND"])
    assert (verdict.delivered, verdict.reason, verdict.retryable) == (
        False,
        "CREDIT_ACCOUNT_NOT_FOUND",
        True,
    )
    stuck = outbox.read_results(["EXISTS_WITH_DIFFERENT_AMOUNT", "LINKED_EVENT_FAILED"])
    assert (stuck.reason, stuck.retryable) == ("EXISTS_WITH_DIFFERENT_AMOUNT", False)
    assert not outbox.read_results(["INSUFFICIENT_FUNDS"]).retryable
    assert outbox.backoff(attempts=1, base_s=1, max_s=10) == datetime.timedelta(seconds=1)
    assert outbox.backoff(attempts=3, base_s=1, max_s=10) == datetime.timedelta(seconds=4)
    assert outbox.backoff(attempts=60, base_s=1, max_s=10) == datetime.timedelta(seconds=10)

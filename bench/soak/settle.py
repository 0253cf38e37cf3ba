"""After the load: make every operation definite, finish the reviews, and let the background
workers drain what the faults left behind, before anything is compared.

1. Replay every operation left AMBIGUOUS (the same request with the same ``Idempotency-Key``) now
   that the stack is healthy: it answers the first result if the effect had happened, or does it
   now. Either way the client ends with a definite answer to hold the books against.
2. Let reviewers vote until no submitted claim waits for a vote.
3. Wait until provider's settlement re-driver has settled every generation, wallet has no pending
   hold, and review's outbox has delivered every payout (read-only SQL as the admin role).

Every wait is bounded; what is still undone at the deadline shows up as a failed invariant.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any

import psycopg

from bench.soak.client import Gateway
from bench.soak.faults import psycopg_url
from bench.soak.load import create_bounty, send_transfer, send_vote, vote_round, work_on
from bench.soak.population import Population, send_money
from bench.soak.records import State
from ops.localstack import Stack

VOTE_ROUNDS_MAX = 60
POLL_S = 1.0

DRAIN_QUERIES = {
    "unsettled generations": (
        "SELECT count(*) FROM provider.generations "
        "WHERE settlement_status = 'pending' OR status = 'in_progress'"
    ),
    "pending holds": "SELECT count(*) FROM wallet.holds WHERE status = 'pending'",
    "undelivered payouts": "SELECT count(*) FROM review.outbox_entries WHERE status <> 'delivered'",
    "claims awaiting votes": "SELECT count(*) FROM review.claims WHERE status = 'submitted'",
}


@dataclass
class Settled:
    replayed: int
    vote_rounds: int
    waited_s: float
    remaining: dict[str, int]

    @property
    def drained(self) -> bool:
        return not any(self.remaining.values())


def read_only(stack: Stack) -> psycopg.Connection[Any]:
    """The stack database as the server's admin, refusing writes: the soak only reads."""
    return psycopg.connect(
        psycopg_url(stack.database_url),
        autocommit=True,
        options="-c default_transaction_read_only=on",
    )


def backlog(stack: Stack) -> dict[str, int]:
    with read_only(stack) as connection:
        counts = {}
        for name, query in DRAIN_QUERIES.items():
            row = connection.execute(query).fetchone()
            counts[name] = 0 if row is None else int(row[0])
        return counts


async def replay_ambiguous(gateway: Gateway, population: Population, tag: str) -> int:
    records = gateway.records
    replayed = 0
    for operation in records.money:
        if operation.answer is not None and operation.answer.state is not State.AMBIGUOUS:
            continue
        replayed += 1
        if operation.kind == "transfer":
            assert operation.from_agent is not None
            source = population.agent(operation.from_agent)
            operation.answer = await send_transfer(gateway, operation, source.api_key)
        else:
            operation.answer = await send_money(gateway, population.admin, operation)
    for bounty in records.bounties:
        if bounty.answer is None or bounty.answer.state is State.AMBIGUOUS:
            replayed += 1
            bounty.answer = await create_bounty(gateway, population, bounty)
        if bounty.bounty_id is None:
            continue
        for agent_id, claim in list(bounty.claims.items()):
            submission = bounty.submissions.get(agent_id)
            if claim.state is State.AMBIGUOUS or (
                submission is not None and submission.state is State.AMBIGUOUS
            ):
                replayed += 1
                await work_on(gateway, bounty, agent_id, population.agent(agent_id).api_key, tag)
    return replayed + await replay_votes(gateway, population, tag)


async def replay_votes(gateway: Gateway, population: Population, tag: str) -> int:
    """Votes whose answer was lost even though the review is no longer pending."""
    replayed = 0
    for vote in gateway.records.votes.values():
        if vote.answer is None or vote.answer.state is State.AMBIGUOUS:
            replayed += 1
            reviewer = population.agent(vote.reviewer_agent_id)
            vote.answer = await send_vote(gateway, vote, reviewer.api_key, tag)
    return replayed


async def settle(
    stack: Stack,
    gateway: Gateway,
    population: Population,
    *,
    rng: random.Random,
    tag: str,
    timeout_s: float,
) -> Settled:
    began = time.monotonic()
    deadline = began + timeout_s
    replayed = await replay_ambiguous(gateway, population, tag)
    rounds = 0
    remaining = await asyncio.to_thread(backlog, stack)
    while time.monotonic() < deadline:
        if remaining["claims awaiting votes"] and rounds < VOTE_ROUNDS_MAX:
            rounds += 1
            await vote_round(gateway, population, rng, tag)
        # Votes left ambiguous by a fault during the load are replayed by the next round.
        remaining = await asyncio.to_thread(backlog, stack)
        if not any(remaining.values()):
            break
        await asyncio.sleep(POLL_S)
    replayed += await replay_votes(gateway, population, tag)
    return Settled(
        replayed=replayed,
        vote_rounds=rounds,
        waited_s=time.monotonic() - began,
        remaining=remaining,
    )

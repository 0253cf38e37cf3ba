"""The mixed load: asyncio workers that drive the gateway like a small market would, and record
every answer in :class:`~bench.soak.records.Records`.

- inference (several): ``POST /tokenhall/chat/completions`` with a ``th_`` key
  (``openai/gpt-4o-mini`` via the stand-in); some streamed, some slowed by the stand-in so that
  calls are in flight whenever a process dies;
- transfer (several): ``POST /tokenhall/transfers`` between agents of different owners, retried
  with the same ``Idempotency-Key`` until definite;
- login: ``POST /auth/login`` of the owners in turn (paced under the per-email limit);
- reads: balances, ``agents/me`` and generation records;
- grants: admin grants (mint) to agents, retried like transfers;
- bounties: the admin creates a two-slot bounty; two agents claim and submit;
- reviews: every agent polls its pending reviews and votes (mostly approve).

Workers stop between operations: an operation already under way finishes (its retries are
bounded by :data:`bench.soak.client.RETRY_WINDOW_S`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from bench.soak.client import Gateway, transport_label
from bench.soak.population import PASSWORD, InferenceKey, Population, grant
from bench.soak.records import Answer, BountyOp, Inference, MoneyOp, Records, State, Vote

MODEL = "openai/gpt-4o-mini"
COMPLETIONS = "/api/v1/tokenhall/chat/completions"
TRANSFER_MAX_MICROS = 5_000
GRANT_MAX_MICROS = 200_000
BOUNTY_REWARD_MICROS = 50_000
REVIEWER_REWARD_MICROS = 5_000
BOUNTY_SLOTS = 2
APPROVE_SHARE = 0.7
ATTACK = "attack_admin_route_with_agent_key"
ATTACK_SHARE = 0.2


@dataclass(frozen=True)
class Mix:
    inference_workers: int = 4
    transfer_workers: int = 3
    stream_share: float = 0.3
    slow_share: float = 0.25
    """Requests the stand-in delays, so that some are in flight whenever a process dies."""
    lost_answer_share: float = 0.15
    """Operations with effects whose first answer the client abandons unread (then retries)."""


class Load:
    def __init__(
        self,
        gateway: Gateway,
        population: Population,
        *,
        rng: random.Random,
        tag: str,
        mix: Mix,
    ) -> None:
        self.gateway = gateway
        self.population = population
        self.records: Records = gateway.records
        self.rng = rng
        self.tag = tag
        self.mix = mix
        self.numbers = itertools.count(1)
        self.stopping = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self.gateway.lost_answer_share = self.mix.lost_answer_share
        workers: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            *((f"inference-{i}", self.inference) for i in range(self.mix.inference_workers)),
            *((f"transfer-{i}", self.transfer) for i in range(self.mix.transfer_workers)),
            ("login", self.login),
            ("reads", self.reads),
            ("grants", self.grants),
            ("bounties", self.bounties),
            ("reviews", self.reviews),
        ]
        self.tasks = [
            asyncio.create_task(self._loop(worker), name=name) for name, worker in workers
        ]

    @property
    def workers(self) -> int:
        return len(self.tasks)

    async def stop(self) -> None:
        self.stopping.set()
        await asyncio.gather(*self.tasks)
        self.gateway.lost_answer_share = 0.0

    async def _loop(self, work: Callable[[], Awaitable[None]]) -> None:
        while not self.stopping.is_set():
            await work()

    async def _pause(self, low_s: float, high_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), self.rng.uniform(low_s, high_s))

    def _number(self) -> int:
        return next(self.numbers)

    # -- workers -------------------------------------------------------------------------------

    async def inference(self) -> None:
        key = self.rng.choice(self.population.keys)
        streamed = self.rng.random() < self.mix.stream_share
        slow = self.rng.random() < self.mix.slow_share
        number = self._number()
        content = f"soak request {number} [standin:tokens=8]"
        if slow:
            content += " [standin:chunk_delay_ms=80]" if streamed else " [standin:delay_ms=400]"
        body = {
            "model": MODEL,
            "messages": [{"role": "user", "content": content}],
            "max_tokens": 16,
            "stream": streamed,
        }
        headers = {
            "Authorization": f"Bearer {key.key}",
            "Idempotency-Key": f"{self.tag}-inference-{number}",
        }
        if streamed:
            status = await self._stream(key, headers, body)
        else:
            response = await self.gateway.once(
                "inference", "POST", COMPLETIONS, headers=headers, json=body
            )
            status = None if response is None else response.status_code
            ok = status == 200
            self.records.inferences.append(
                Inference(
                    agent_id=key.agent_id,
                    key_id=key.key_id,
                    streamed=False,
                    status=status,
                    generation_id=_generation_id(response) if ok else None,
                    complete=ok,
                )
            )
        # Back off while the stack is failing: a tight loop of refused calls would only burn the
        # CPU the restarting process needs.
        await (self._pause(0.02, 0.1) if status == 200 else self._pause(0.3, 0.6))

    async def _stream(
        self, key: InferenceKey, headers: dict[str, str], body: dict[str, object]
    ) -> int | None:
        kind = "inference_stream"
        generation_id: str | None = None
        status: int | None = None
        complete = False
        try:
            async with self.gateway.http.stream(
                "POST", COMPLETIONS, headers=headers, json=body
            ) as response:
                status = response.status_code
                if status != 200:
                    await response.aread()
                    self.gateway.seen(kind, response)
                else:
                    generation_id = _generation_id(response)
                    failed = False
                    async for line in response.aiter_lines():
                        if line.startswith('data: {"error"'):
                            failed = True
                        elif line.strip() == "data: [DONE]":
                            complete = not failed
                    self.records.answer(kind, "200" if complete else "200 cut", success=True)
        except httpx.HTTPError as error:
            label = transport_label(error)
            if status == 200:
                label = f"200 {'complete' if complete else 'cut'}, then {label}"
            self.records.answer(kind, label, success=status == 200)
        self.records.inferences.append(
            Inference(
                agent_id=key.agent_id,
                key_id=key.key_id,
                streamed=True,
                status=status,
                generation_id=generation_id,
                complete=complete,
            )
        )
        return status

    async def transfer(self) -> None:
        source, target = self.rng.sample(self.population.rich, 2)
        amount = self.rng.randint(1, TRANSFER_MAX_MICROS)
        key = f"{self.tag}-transfer-{self._number()}"
        operation = MoneyOp(
            kind="transfer",
            key=key,
            amount_micros=amount,
            from_agent=source.agent_id,
            to_agent=target.agent_id,
        )
        self.records.money.append(operation)
        operation.answer = await send_transfer(self.gateway, operation, source.api_key)
        await self._pause(0.02, 0.1)

    async def login(self) -> None:
        # Round-robin over the owners, one login every ~2 s: each email stays far below the
        # per-email login limit (10 per 15 minutes, bursts of 10) even in a long soak.
        owners = self.population.owners
        owner = owners[self._number() % len(owners)]
        response = await self.gateway.once(
            "login",
            "POST",
            "/api/v1/auth/login",
            json={"email": owner.email, "password": PASSWORD},
            headers={"X-Forwarded-For": self.gateway.client_ip()},
        )
        if response is not None and response.status_code == 200:
            self.records.sessions.append((owner.email, str(response.json()["session_token"])))
        await self._pause(1.5, 2.5)

    async def reads(self) -> None:
        agent = self.rng.choice(self.population.agents)
        auth = {"Authorization": f"Bearer {agent.api_key}"}
        balance = await self.gateway.once("read", "GET", "/api/v1/tokenhall/credits", headers=auth)
        if balance is None or balance.status_code != 200:
            await self._pause(0.3, 0.6)
            return
        await self.gateway.once("read", "GET", "/api/v1/agents/me", headers=auth)
        if self.rng.random() < ATTACK_SHARE:
            await self.agent_key_on_admin_route()
        mine = [
            item
            for item in self.records.inferences[-200:]
            if item.generation_id is not None and item.agent_id == agent.agent_id
        ]
        if mine:
            generation = self.rng.choice(mine).generation_id
            await self.gateway.once(
                "read", "GET", f"/api/v1/tokenhall/generation/{generation}", headers=auth
            )
        await self._pause(0.1, 0.3)

    async def agent_key_on_admin_route(self) -> None:
        """THREATS I5/M4: the key of an admin-owned agent tries to mint. Must never succeed."""
        poor = next(agent for agent in self.population.agents if agent.poor)
        await self.gateway.once(
            ATTACK,
            "POST",
            "/api/v1/admin/credits",
            headers={
                "Authorization": f"Bearer {poor.api_key}",
                "Idempotency-Key": f"{self.tag}-attack-{self._number()}",
            },
            json={"agent_id": poor.agent_id, "amount_micros": 1_000_000, "reason": "attack"},
        )

    async def grants(self) -> None:
        agent = self.rng.choice(self.population.rich)
        amount = self.rng.randint(1, GRANT_MAX_MICROS)
        await grant(
            self.gateway,
            self.population.admin,
            agent.agent_id,
            amount,
            f"{self.tag}-grant-{self._number()}",
        )
        await self._pause(0.8, 1.6)

    async def bounties(self) -> None:
        number = self._number()
        bounty = BountyOp(
            key=f"{self.tag}-bounty-{number}",
            reward_micros=BOUNTY_REWARD_MICROS,
            reviewer_reward_micros=REVIEWER_REWARD_MICROS,
            max_claims=BOUNTY_SLOTS,
        )
        bounty.request = {
            "title": f"soak bounty {number}",
            "description": "Write one paragraph; reviewers check it.",
            "type": "work",
            "reward_micros": bounty.reward_micros,
            "reviewer_reward_micros": bounty.reviewer_reward_micros,
            "max_claims": bounty.max_claims,
            # Work bounties default to trust tier 1, which only an operator can grant (no HTTP
            # route); the soak's agents are fresh, tier 0.
            "required_trust_tier": 0,
        }
        self.records.bounties.append(bounty)
        bounty.answer = await create_bounty(self.gateway, self.population, bounty)
        if bounty.bounty_id is not None:
            for agent in self.rng.sample(self.population.rich, bounty.max_claims):
                await work_on(self.gateway, bounty, agent.agent_id, agent.api_key, self.tag)
        await self._pause(0.3, 0.8)

    async def reviews(self) -> None:
        await vote_round(self.gateway, self.population, self.rng, self.tag)
        await self._pause(1.0, 2.0)


async def create_bounty(gateway: Gateway, population: Population, bounty: BountyOp) -> Answer:
    return await gateway.idempotent(
        "bounty_create",
        "POST",
        "/api/v1/admin/bounties",
        key=bounty.key,
        headers={"Authorization": f"Bearer {population.admin.session_token}"},
        json=bounty.request,
    )


async def send_transfer(gateway: Gateway, operation: MoneyOp, api_key: str) -> Answer:
    return await gateway.idempotent(
        "transfer",
        "POST",
        "/api/v1/tokenhall/transfers",
        key=operation.key,
        headers={"Authorization": f"Bearer {api_key}"},
        json={
            "to_agent_id": operation.to_agent,
            "amount_micros": operation.amount_micros,
            "memo": f"soak {operation.key}",
        },
    )


async def work_on(
    gateway: Gateway, bounty: BountyOp, agent_id: str, api_key: str, tag: str
) -> None:
    """Claim a slot of ``bounty`` for the agent, then submit work, each until definite."""
    bounty_id = bounty.bounty_id
    assert bounty_id is not None
    auth = {"Authorization": f"Bearer {api_key}"}
    claim = bounty.claims.get(agent_id)
    if claim is None or claim.state is State.AMBIGUOUS:
        claim = await gateway.idempotent(
            "bounty_claim",
            "POST",
            f"/api/v1/admin/bounties/{bounty_id}/claim",
            key=f"{tag}-claim-{bounty_id}-{agent_id}",
            headers=auth,
        )
        bounty.claims[agent_id] = claim
    if claim.state is not State.DONE:
        return
    submission = bounty.submissions.get(agent_id)
    if submission is None or submission.state is State.AMBIGUOUS:
        bounty.submissions[agent_id] = await gateway.idempotent(
            "bounty_submit",
            "POST",
            f"/api/v1/admin/bounties/{bounty_id}/submit",
            key=f"{tag}-submit-{bounty_id}-{agent_id}",
            headers=auth,
            json={"submission_text": f"soak work on {bounty_id} by {agent_id}"},
        )


async def send_vote(gateway: Gateway, vote: Vote, api_key: str, tag: str) -> Answer:
    """Same key and same decision on every retry: a replay answers the first vote."""
    return await gateway.idempotent(
        "review_vote",
        "POST",
        f"/api/v1/agents/reviews/{vote.review_id}/submit",
        key=f"{tag}-vote-{vote.review_id}",
        headers={"Authorization": f"Bearer {api_key}"},
        json={"decision": vote.decision, "notes": "soak review"},
    )


async def vote_round(gateway: Gateway, population: Population, rng: random.Random, tag: str) -> int:
    """Every agent reads its pending reviews and votes on each; the number still pending.

    Every claimed agent may be drawn as a reviewer (the poor one too), so every agent votes:
    a panel member who never votes would hold a claim open until the review deadline.
    """
    pending_total = 0
    records = gateway.records
    for agent in population.agents:
        auth = {"Authorization": f"Bearer {agent.api_key}"}
        response = await gateway.once(
            "review_pending", "GET", "/api/v1/agents/reviews/pending", headers=auth
        )
        if response is None or response.status_code != 200:
            pending_total += 1
            continue
        for review in response.json()["reviews"]:
            review_id = str(review["id"])
            vote = records.votes.get(review_id)
            if (
                vote is not None
                and vote.answer is not None
                and vote.answer.state is not State.AMBIGUOUS
            ):
                continue
            if vote is None:
                vote = Vote(
                    review_id=review_id,
                    claim_id=str(review["claim_id"]),
                    bounty_id=str(review["bounty_id"]),
                    reviewer_agent_id=agent.agent_id,
                    decision="approve" if rng.random() < APPROVE_SHARE else "reject",
                )
                records.votes[review_id] = vote
            pending_total += 1
            vote.answer = await send_vote(gateway, vote, agent.api_key, tag)
    return pending_total


def _generation_id(response: httpx.Response | None) -> str | None:
    if response is None:
        return None
    header = response.headers.get("x-generation-id")
    return header.removeprefix("gen-") if header else None

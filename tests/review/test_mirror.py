"""The reviewer pool: review's mirror of auth's agents follows auth (changes, suspensions, tiers)
and never goes back to an older version; only claimed, active agents are ever drawn."""

from __future__ import annotations

import datetime
import uuid

import psycopg
from tokenmart.review.v1 import review_pb2

from services.review.domain.model import AgentFacts, AgentLifecycle, AgentStatus
from services.review.store import agents as mirror
from tests.conftest import ReviewServerHandle
from tests.review.helpers import World


def _row(server: ReviewServerHandle, agent_id: str) -> tuple[object, ...] | None:
    with psycopg.connect(server.owner_url, autocommit=True) as connection:
        return connection.execute(
            "SELECT owner_account_id::text, lifecycle, status, trust_tier FROM review.agents "
            "WHERE agent_id = %s",
            (agent_id,),
        ).fetchone()


async def test_the_sync_follows_auth_changes(
    world: World, start_review_server, fresh_review_database
) -> None:
    server: ReviewServerHandle = start_review_server(database=fresh_review_database)
    owner = await world.account()
    agent = await world.agent(owner, tier=2)
    unclaimed = await world.agent(claimed=False)
    assert (await server.run_pass(sync_agents=True)).agents_synced >= 2
    assert _row(server, agent.agent_id) == (owner.account_id, "claimed", "active", 2)
    assert _row(server, unclaimed.agent_id) == (None, "registered_unclaimed", "active", 0)
    await world.suspend(agent.agent_id)
    await world.set_tier(agent.agent_id, 3)
    await server.run_pass(sync_agents=True)
    assert _row(server, agent.agent_id) == (owner.account_id, "claimed", "suspended", 3)
    # A pass resumes from its cursor, not from the beginning of time.
    with psycopg.connect(server.owner_url, autocommit=True) as connection:
        cursor = connection.execute("SELECT cursor FROM review.sync_state").fetchone()
    assert cursor is not None and cursor[0] is not None


async def test_the_mirror_never_goes_back_to_an_older_version(world: World) -> None:
    server = world.review_server
    agent_id = uuid.uuid4()
    owner = uuid.uuid4()
    now = datetime.datetime.now(datetime.UTC)

    def facts(status: AgentStatus, updated_at: datetime.datetime) -> AgentFacts:
        return AgentFacts(
            agent_id=agent_id,
            owner_account_id=owner,
            lifecycle=AgentLifecycle.CLAIMED,
            status=status,
            trust_tier=1,
            updated_at=updated_at,
        )

    async def write(*versions: AgentFacts) -> None:
        runtime = server.service.runtime
        async with runtime.database.transaction() as tx:
            await mirror.upsert(tx, list(versions), now=runtime.now())

    await server.call(lambda: write(facts(AgentStatus.SUSPENDED, now)))
    await server.call(lambda: write(facts(AgentStatus.ACTIVE, now - datetime.timedelta(seconds=1))))
    assert _row(server, str(agent_id)) == (str(owner), "claimed", "suspended", 1)
    # Within one batch, the newest version of an agent wins whatever the order.
    await server.call(
        lambda: write(
            facts(AgentStatus.ACTIVE, now + datetime.timedelta(seconds=2)),
            facts(AgentStatus.SUSPENDED, now + datetime.timedelta(seconds=1)),
        )
    )
    assert _row(server, str(agent_id)) == (str(owner), "claimed", "active", 1)


async def test_suspended_unclaimed_and_low_tier_agents_are_never_drawn(
    world: World, start_review_server
) -> None:
    server = start_review_server(env={"REVIEWER_MIN_TRUST_TIER": "2"})
    async with World.open(
        auth=world.auth_server, wallet=world.wallet_server, review=server
    ) as tiered:
        suspended = await tiered.agent(tier=3)
        await tiered.suspend(suspended.agent_id)
        unclaimed = await tiered.agent(claimed=False)
        low = await tiered.agent(tier=1)
        good = await tiered.agent(tier=2)
        await server.mirror([suspended.agent_id, unclaimed.agent_id, low.agent_id, good.agent_id])
        bounty = await tiered.bounty()
        submitter = await tiered.agent()
        await tiered.claim(submitter, bounty.bounty_id)
        claim = await tiered.submit(submitter, bounty.bounty_id)
        detail = await tiered.claim_as_admin(claim.claim_id)
        assert [review.reviewer_agent_id for review in detail.reviews] == [good.agent_id]
        assert detail.awaiting_reviewers
        assert detail.status == review_pb2.CLAIM_STATUS_SUBMITTED

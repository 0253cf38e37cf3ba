"""What callers see when a dependency is down or a request is malformed at the envelope: the
wallet, auth or the database unreachable, no token, no acting agent."""

from __future__ import annotations

import dataclasses
import datetime
import uuid

import grpc
import pytest
from tokenmart.auth.v1 import auth_pb2_grpc
from tokenmart.review.v1 import review_pb2

from services.common.client import open_channel
from services.common.settings import PeerTarget
from services.common.tokens import CredentialFamily, Scope, VerifiedPrincipal
from services.review import errors
from services.review.operations import access
from services.review.operations.runtime import Caller
from services.review.peers import AUTH_SERVICE, AuthDirectory, ServiceTokens
from tests.conftest import ReviewServerHandle
from tests.grpc_helpers import tls_of
from tests.review.helpers import Rows, World, refused, rid, unique

UNAVAILABLE = grpc.StatusCode.UNAVAILABLE
NOWHERE = "127.0.0.1:1"


async def test_a_wallet_that_cannot_be_reached_means_nothing_is_created_or_minted(
    world: World, rows: Rows, start_review_server
) -> None:
    server: ReviewServerHandle = start_review_server(
        env={"WALLET_TARGET": NOWHERE, "WALLET_TIMEOUT_S": "1"}
    )
    async with World.open(
        auth=world.auth_server, wallet=world.wallet_server, review=server
    ) as down:
        admin = await down.as_admin()
        before = rows.snapshot()
        await refused(
            down.review.CreateBounty(
                review_pb2.CreateBountyRequest(
                    request_id=rid(),
                    title=unique("bounty"),
                    type=review_pb2.BOUNTY_TYPE_WORK,
                    reward_micros=1,
                ),
                metadata=admin,
            ),
            UNAVAILABLE,
            "WALLET_UNAVAILABLE",
        )
        await refused(
            down.review.FundTreasury(
                review_pb2.FundTreasuryRequest(request_id=rid(), amount_micros=1, reason="x"),
                metadata=admin,
            ),
            UNAVAILABLE,
            "WALLET_UNAVAILABLE",
        )
        await refused(
            down.review.GetTreasury(review_pb2.GetTreasuryRequest(), metadata=admin),
            UNAVAILABLE,
            "WALLET_UNAVAILABLE",
        )
        assert rows.snapshot() == before


async def test_a_payout_waits_while_the_wallet_is_down(
    world: World, rows: Rows, start_review_server
) -> None:
    done = await world.submitted_claim()
    down: ReviewServerHandle = start_review_server(
        env={"WALLET_TARGET": NOWHERE, "WALLET_TIMEOUT_S": "1"}
    )
    async with World.open(auth=world.auth_server, wallet=world.wallet_server, review=down) as cut:
        for agent, review_id in done.votes[:2]:
            await cut.vote(agent, review_id, review_pb2.REVIEW_DECISION_APPROVE)
        await down.settle()
    ((_, status, attempts, _),) = rows.outbox_of_claim(done.claim.claim_id)
    assert (status, attempts) == ("pending", 1)
    assert rows.review(
        "SELECT last_error_reason FROM review.outbox_entries WHERE claim_id = %s",
        done.claim.claim_id,
    ) == [("WALLET_UNAVAILABLE",)]
    # The reachable server pays it on its next pass, once the backoff has run out.
    await world.review_server.run_pass()
    redriven = await world.review_ctl.RedriveOutbox(
        review_pb2.RedriveOutboxRequest(
            request_id=rid(),
            entry_ids=[str(uuid.uuid5(uuid.UUID(done.claim.claim_id), "payout"))],
        ),
        metadata=await world.operator(),
    )
    assert redriven.outcomes[0].status == review_pb2.OUTBOX_STATUS_DELIVERED
    assert await world.balance(done.submitter) == done.bounty.reward_micros


async def test_a_database_that_cannot_be_reached_is_unavailable(
    world: World, start_review_server, service_databases
) -> None:
    unreachable = dataclasses.replace(
        service_databases["review"], runtime_url="postgresql://review:nothing@127.0.0.1:1/none"
    )
    server: ReviewServerHandle = start_review_server(database=unreachable)
    async with World.open(
        auth=world.auth_server, wallet=world.wallet_server, review=server
    ) as down:
        await refused(
            down.review.ListBounties(
                review_pb2.ListBountiesRequest(), metadata=await down.as_admin()
            ),
            UNAVAILABLE,
            "DATABASE_UNAVAILABLE",
        )


async def test_an_unreachable_auth_is_auth_unavailable(world: World) -> None:
    channel = open_channel(
        PeerTarget(service="auth", target=NOWHERE, default_timeout_s=1.0),
        tls_of(world.review_server.pki["review"]),
        full_service_name=AUTH_SERVICE,
    )
    try:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        directory = AuthDirectory(stub, ServiceTokens(stub))
        with pytest.raises(errors.AuthUnavailable):
            await directory.agent(uuid.uuid4())
        with pytest.raises(errors.AuthUnavailable):
            await directory.changes(updated_after=None, page_token="", page_size=10)
    finally:
        await channel.close()


async def test_a_call_without_a_token_is_unauthenticated(world: World) -> None:
    await refused(
        world.review.ListBounties(review_pb2.ListBountiesRequest()),
        grpc.StatusCode.UNAUTHENTICATED,
        "ACCESS_TOKEN_MISSING",
    )
    await refused(
        world.review.ListBounties(
            review_pb2.ListBountiesRequest(), metadata=(("authorization", "Bearer x.y.z"),)
        ),
        grpc.StatusCode.UNAUTHENTICATED,
        "ACCESS_TOKEN_INVALID",
    )


def test_agent_scopes_without_an_acting_agent_are_refused() -> None:
    """Tokens never carry agent scopes without an agent (the verifier checks it); review does not
    rely on that alone."""
    now = datetime.datetime.now(datetime.UTC)
    principal = VerifiedPrincipal(
        credential_family=CredentialFamily.SESSION,
        subject=f"account:{uuid.uuid4()}",
        scopes=frozenset({Scope.ACCOUNT, Scope.AGENT_READ, Scope.AGENT_WRITE}),
        jti=str(uuid.uuid4()),
        issued_at=now,
        expires_at=now + datetime.timedelta(minutes=5),
    )
    with pytest.raises(errors.AgentRequired):
        access.require_agent(Caller(principal=principal, peer="gateway"), Scope.AGENT_WRITE)

"""``tokenmartctl review ...`` against the real services: inspect a bounty and the outbox,
re-drive a stuck payout, read and fund the treasury."""

from __future__ import annotations

import argparse
import json
import os
import uuid
from collections.abc import Mapping

import pytest
from tokenmart.review.v1 import review_pb2

from ops import ctl_review
from tests.review.helpers import World, rid


def _environ(world: World) -> dict[str, str]:
    files = world.auth_server.pki["ctl"]
    return {
        **os.environ,
        "TOKENMART_CTL_TLS_CA_FILE": str(files.ca_file),
        "TOKENMART_CTL_TLS_CERT_FILE": str(files.cert_file),
        "TOKENMART_CTL_TLS_KEY_FILE": str(files.key_file),
        "TOKENMART_CTL_AUTH_TARGET": f"127.0.0.1:{world.auth_server.port}",
        "TOKENMART_CTL_WALLET_TARGET": f"127.0.0.1:{world.wallet_server.port}",
        "TOKENMART_CTL_REVIEW_TARGET": f"127.0.0.1:{world.review_server.port}",
    }


async def _ctl(world: World, *argv: str, environ: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tokenmartctl")
    ctl_review.add_commands(parser.add_subparsers(dest="area", required=True))
    arguments = parser.parse_args(["review", *argv])
    return await ctl_review.run(arguments, environ or _environ(world))


async def test_inspecting_a_bounty_shows_claims_reviews_and_payouts(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    done = await world.submitted_claim()
    for agent, review_id in done.votes[:2]:
        await world.vote(agent, review_id, review_pb2.REVIEW_DECISION_APPROVE)
    await world.review_server.settle()
    assert await _ctl(world, "bounty", done.bounty.bounty_id) == 0
    text = capsys.readouterr().out
    assert f"bounty {done.bounty.bounty_id}" in text
    assert "status=completed" in text
    assert f"{done.claim.claim_id} agent={done.submitter.agent_id} status=approved" in text
    assert "payout=paid" in text
    assert text.count("    review ") == 3
    assert "claim_payout delivered" in text
    assert await _ctl(world, "bounty", done.bounty.bounty_id, "--json") == 0
    record = json.loads(capsys.readouterr().out)
    assert record["bounty"]["bounty_id"] == done.bounty.bounty_id
    assert [entry["status"] for entry in record["outbox"]] == ["OUTBOX_STATUS_DELIVERED"]


async def test_a_stuck_payout_is_listed_and_redriven(
    world: World, capsys: pytest.CaptureFixture[str], start_review_server
) -> None:
    server = start_review_server(env={"OUTBOX_MAX_ATTEMPTS": "1"})
    async with World.open(auth=world.auth_server, wallet=world.wallet_server, review=server) as one:
        done = await one.submitted_claim()
        await one.suspend(done.submitter.agent_id)
        for agent, review_id in done.votes[:2]:
            await one.vote(agent, review_id, review_pb2.REVIEW_DECISION_APPROVE)
        await server.settle()
        environ = {**_environ(one), "TOKENMART_CTL_REVIEW_TARGET": f"127.0.0.1:{server.port}"}
        assert await _ctl(one, "outbox", "--status", "stuck", environ=environ) == 0
        listing = capsys.readouterr().out
        entry_id = str(uuid.uuid5(uuid.UUID(done.claim.claim_id), "payout"))
        assert f"{entry_id} claim_payout stuck" in listing
        assert "last_error=RECIPIENT_SUSPENDED" in listing
        assert await _ctl(one, "redrive", entry_id, environ=environ) == ctl_review.UNDELIVERED
        assert "RECIPIENT_SUSPENDED" in capsys.readouterr().out
        await one.reactivate(done.submitter.agent_id)
        assert await _ctl(one, "redrive", entry_id, environ=environ) == 0
        assert f"{entry_id} delivered" in capsys.readouterr().out
        assert await one.balance(done.submitter) == done.bounty.reward_micros


async def test_the_treasury_is_read_and_funded_by_operators(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    before = await world.treasury()
    request_id = rid()
    argv = ("fund-treasury", "--amount-micros", "7000", "--reason", "top up")
    assert await _ctl(world, *argv, "--request-id", request_id) == 0
    assert "minted 7000" in capsys.readouterr().out
    assert await _ctl(world, *argv, "--request-id", request_id) == 0
    assert "already minted 7000" in capsys.readouterr().out
    assert await world.treasury() == before + 7000
    assert await _ctl(world, "treasury", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert int(report["treasury_balance_micros"]) == before + 7000


async def test_bad_usage_and_refusals_have_their_exit_status(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _ctl(world, "redrive", "--limit", "-1") == 2
    assert await _ctl(world, "fund-treasury", "--amount-micros", "0", "--reason", "x") == 2
    assert await _ctl(world, "bounty", rid()) == 1
    assert "BOUNTY_NOT_FOUND" in capsys.readouterr().err

"""THREATS.md M3 — the review service killed after finalizing, before paying: the payout
completes after restart, exactly once.

Review runs here as a real process (``python -m services.review``, as ``make run`` starts it)
against the session's schema, auth and wallet, and is killed with SIGKILL: no shutdown code
runs, nothing is flushed. A second process started on the same schema finds the outbox and pays.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

from tokenmart.review.v1 import review_pb2

from tests.conftest import (
    AuthServerHandle,
    ReviewServerHandle,
    WalletServerHandle,
    review_test_environ,
)
from tests.grpc_helpers import mtls_channel
from tests.review.helpers import Rows, Submitted, World, eventually

REPO_ROOT = Path(__file__).resolve().parents[2]
APPROVE = review_pb2.REVIEW_DECISION_APPROVE


class ReviewProcess:
    """``python -m services.review`` in a child process, with its JSON log on a pipe."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = dict(environ)
        self.process: asyncio.subprocess.Process | None = None
        self.port = 0
        self.log: list[dict[str, object]] = []
        self._drain: asyncio.Task[None] | None = None

    async def start(self) -> int:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.review",
            cwd=REPO_ROOT,
            env=self.environ,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        assert self.process.stderr is not None
        async with asyncio.timeout(60):
            while not self.port:
                line = await self.process.stderr.readline()
                if not line:
                    raise AssertionError(f"review exited early: {self.log[-5:]}")
                self._record(line)
        self._drain = asyncio.create_task(self._keep_draining())
        return self.port

    def _record(self, line: bytes) -> None:
        try:
            entry = json.loads(line)
        except ValueError:
            return
        self.log.append(entry)
        if entry.get("msg") == "serving" and isinstance(entry.get("port"), int):
            self.port = int(entry["port"])  # type: ignore[arg-type]

    async def _keep_draining(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        while line := await self.process.stderr.readline():
            self._record(line)

    async def kill(self) -> None:
        """SIGKILL: the process gets no chance to finish anything."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        assert await self.process.wait() == -signal.SIGKILL
        await self._stopped()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                async with asyncio.timeout(20):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        await self._stopped()

    async def _stopped(self) -> None:
        if self._drain is not None:
            self._drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drain


@contextlib.asynccontextmanager
async def review_process(
    *,
    auth: AuthServerHandle,
    wallet: WalletServerHandle,
    review: ReviewServerHandle,
    env: Mapping[str, str],
) -> AsyncIterator[ReviewProcess]:
    settings = review.settings
    environ = {
        **os.environ,
        **review_test_environ(
            settings.common.database.url,
            review.pki["review"],
            auth_port=auth.port,
            wallet_port=wallet.port,
            env={"LOG_LEVEL": "INFO", **env},
        ),
    }
    process = ReviewProcess(environ)
    try:
        await process.start()
        yield process
    finally:
        await process.stop()


@contextlib.asynccontextmanager
async def world_on(world: World, port: int) -> AsyncIterator[World]:
    """The same world, with its review stubs pointed at the process on ``port``."""
    pki = world.review_server.pki
    channels = {
        "auth": world.auth_server.channel("gateway"),
        "auth_ctl": world.auth_server.channel("ctl"),
        "wallet_ctl": world.wallet_server.channel("ctl"),
        "review": mtls_channel(
            port, ca_file=pki["gateway"].ca_file, cert=pki["gateway"], expect_name="review"
        ),
        "review_ctl": mtls_channel(
            port, ca_file=pki["ctl"].ca_file, cert=pki["ctl"], expect_name="review"
        ),
    }
    try:
        yield World(
            auth=world.auth_server,
            wallet=world.wallet_server,
            review=world.review_server,
            channels=channels,
        )
    finally:
        for channel in channels.values():
            await channel.close()


async def _finalize(world: World, done: Submitted) -> None:
    for agent, review_id in done.votes[:2]:
        await world.vote(agent, review_id, APPROVE)


def _paid_once(rows: Rows, claim_id: str) -> bool:
    ids = rows.payout_transfer_ids(claim_id)
    found = rows.transfers(ids)
    assert len(found) <= len(ids)
    return bool(ids) and len(found) == len(ids)


QUIET = {"WORKER_ENABLED": "false", "DISPATCH_ON_FINALIZE": "false"}
# A payout in flight when the process dies stays leased to it for OUTBOX_LEASE_S; the next
# process sends it when the lease runs out, and wallet answers EXISTS for what it applied.
IN_FLIGHT = {"WORKER_ENABLED": "false", "OUTBOX_LEASE_S": "1"}
RECOVERING = {
    "WORKER_ENABLED": "true",
    "WORKER_INTERVAL_S": "0.2",
    "AGENT_SYNC_INTERVAL_S": "3600",
}


async def test_m3_a_payout_written_before_a_kill_is_paid_once_after_restart(
    world: World, rows: Rows
) -> None:
    servers = {
        "auth": world.auth_server,
        "wallet": world.wallet_server,
        "review": world.review_server,
    }
    async with review_process(**servers, env=QUIET) as first, world_on(world, first.port) as there:
        done = await there.submitted_claim()
        await _finalize(there, done)
        ((_, status, attempts, total),) = rows.outbox_of_claim(done.claim.claim_id)
        assert (status, attempts, total) == ("pending", 0, done.bounty.slot_escrow_micros)
        assert rows.transfers(rows.payout_transfer_ids(done.claim.claim_id)) == []
        await first.kill()
    assert await world.balance(done.submitter) == 0
    async with review_process(**servers, env=RECOVERING):
        await eventually(lambda: rows.outbox_of_claim(done.claim.claim_id)[0][1] == "delivered")
    assert _paid_once(rows, done.claim.claim_id)
    assert await world.balance(done.submitter) == done.bounty.reward_micros
    for agent, _ in done.votes[:2]:
        assert await world.balance(agent) == done.bounty.reviewer_reward_micros
    verification = await world.verify_ledger()
    assert verification.ok, verification.failures


async def test_m3_killed_while_payouts_are_in_flight_every_claim_is_paid_exactly_once(
    world: World, rows: Rows
) -> None:
    servers = {
        "auth": world.auth_server,
        "wallet": world.wallet_server,
        "review": world.review_server,
    }
    decided: list[Submitted] = []
    async with (
        review_process(**servers, env=IN_FLIGHT) as first,
        world_on(world, first.port) as there,
    ):
        claims = [await there.submitted_claim() for _ in range(4)]
        # The deciding votes go out together and the process dies while it pays them.
        await asyncio.gather(*(_finalize(there, done) for done in claims))
        decided.extend(claims)
        await first.kill()
    async with review_process(**servers, env=RECOVERING):
        for done in decided:
            await eventually(
                lambda done=done: rows.outbox_of_claim(done.claim.claim_id)[0][1] == "delivered",
                timeout_s=15,
            )
    for done in decided:
        assert _paid_once(rows, done.claim.claim_id)
        assert await world.balance(done.submitter) == done.bounty.reward_micros
    verification = await world.verify_ledger()
    assert verification.ok, verification.failures


async def test_m3_the_process_refuses_to_start_without_its_database(
    world: World,
) -> None:
    environ = {
        **os.environ,
        **review_test_environ(
            "postgresql://nobody:wrong@127.0.0.1:1/none",
            world.review_server.pki["review"],
            auth_port=world.auth_server.port,
            wallet_port=world.wallet_server.port,
        ),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.review",
        cwd=REPO_ROOT,
        env=environ,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    async with asyncio.timeout(60):
        assert await process.wait() != 0

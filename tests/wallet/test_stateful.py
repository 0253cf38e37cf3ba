"""A hypothesis state machine drives the real wallet (over mTLS, with real tokens from the real
auth server) through random mints, transfers, linked batches, replays, holds, posts (full,
partial and beyond the hold), voids and expiries (a ManualClock moved forward, then the sweeper),
and after every step checks the service against a simple model and the ledger's invariants:

* every wallet's available and pending balance, and the key budget's, equal the model's;
* no wallet is below zero; no pending hold is past its timeout;
* VerifyLedger is ok: every hash and chain, every account equal to the sum of its transfers,
  total debits equal total credits on both ledgers.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import grpc
import psycopg
from hypothesis import Phase, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from tokenmart.wallet.v1 import wallet_pb2

from ops.database import ServiceDatabase
from services.common.status import error_reason
from tests.conftest import AuthServerHandle, ManualClock, WalletServerHandle
from tests.wallet.helpers import CREDIT, Agent, Metadata, World, failures, rid, world_for

T = TypeVar("T")
AGENTS = 3
KEY_LIMIT = 40 * CREDIT
START = 100 * CREDIT
amounts = st.integers(min_value=1, max_value=30).map(lambda credits: credits * CREDIT)
agent_indexes = st.integers(min_value=0, max_value=AGENTS - 1)
timeouts = st.integers(min_value=1, max_value=900)


@dataclass
class Hold:
    hold_id: str
    agent: int
    amount: int
    expires_at: datetime.datetime
    budget: bool
    status: str = "pending"
    post_id: str = ""
    cost: int = 0


@dataclass
class Model:
    available: list[int]
    pending: list[int] = field(default_factory=lambda: [0] * AGENTS)
    budget_spent: int = 0
    """Posted plus pending spend on the limited key's budget."""
    budget_opened: bool = False
    holds: list[Hold] = field(default_factory=list)
    transfers: list[tuple[str, int, int, int, bool]] = field(default_factory=list)
    """(transfer id, payer, payee, amount, linked) of transfers that moved."""


@dataclass
class Actors:
    world: World
    agents: list[Agent]
    agent_tokens: list[Metadata]
    inference_tokens: list[Metadata]
    """th_ keys without a limit, per agent."""
    limited_token: Metadata
    """A th_ key of agent 0 with a credit limit of KEY_LIMIT."""
    limited_key_id: str
    ctl: Metadata
    provider: Metadata


class Harness:
    """Runs the state machine's calls on one event loop of its own."""

    def __init__(self, server: WalletServerHandle, auth: AuthServerHandle) -> None:
        self.server = server
        self.auth = auth
        self.loop = asyncio.new_event_loop()
        self._stack = contextlib.AsyncExitStack()
        self.world: World = self.run(self._stack.enter_async_context(world_for(server, auth)))
        self.ctl: Metadata = self.run(self.world.service_token("ctl"))
        self.provider: Metadata = self.run(self.world.service_token("provider"))

    def run(self, awaitable: Awaitable[T]) -> T:
        return self.loop.run_until_complete(awaitable)

    async def actors(self) -> Actors:
        """Fresh agents and keys for one example, so examples never share balances (hypothesis
        must be able to replay an example and see the same behaviour)."""
        world = self.world
        session = await world.session()
        agents = [await world.agent(owner=session) for _ in range(AGENTS)]
        limited = await world.key(agents[0], credit_limit_micros=KEY_LIMIT)
        return Actors(
            world=world,
            agents=agents,
            agent_tokens=[await world.token(agent.api_key) for agent in agents],
            inference_tokens=[await world.token((await world.key(agent)).raw) for agent in agents],
            limited_token=await world.token(limited.raw),
            limited_key_id=limited.key_id,
            ctl=self.ctl,
            provider=self.provider,
        )

    def close(self) -> None:
        self.run(self._stack.aclose())
        self.loop.close()


def outcome(call: Callable[[], object], harness: Harness) -> tuple[object | None, str]:
    """(response, "OK") or (None, the error's reason)."""
    try:
        return harness.run(call()), "OK"
    except grpc.aio.AioRpcError as error:
        return None, error_reason(error) or error.code().name


def machine(harness: Harness, clock: ManualClock, owner_url: str) -> type[RuleBasedStateMachine]:
    world = harness.world

    class Ledger(RuleBasedStateMachine):
        model: Model
        actors: Actors

        @initialize()
        def new_actors(self) -> None:
            self.actors = harness.run(harness.actors())
            self.model = Model(available=[0] * AGENTS)
            for index in range(AGENTS):
                self.mint(index, START)

        # -- calls -------------------------------------------------------------------------------

        def _account(self, index: int) -> wallet_pb2.LedgerAccount:
            return harness.run(  # type: ignore[return-value]
                world.account(wallet_pb2.AccountRef(agent_id=self.actors.agents[index].agent_id))
            )

        def _budget(self) -> wallet_pb2.LedgerAccount | None:
            with psycopg.connect(owner_url) as connection:
                row = connection.execute(
                    "SELECT id FROM wallet.ledger_accounts WHERE key_id = %s",
                    (uuid.UUID(self.actors.limited_key_id),),
                ).fetchone()
            if row is None:
                return None
            return harness.run(  # type: ignore[return-value]
                world.account(wallet_pb2.AccountRef(ledger_account_id=str(row[0])))
            )

        # -- rules -------------------------------------------------------------------------------

        @rule(agent=agent_indexes, amount=amounts)
        def mint(self, agent: int, amount: int) -> None:
            harness.run(
                world.ctl.Mint(
                    wallet_pb2.MintRequest(
                        request_id=rid(),
                        transfer_id=rid(),
                        to=wallet_pb2.AccountRef(agent_id=self.actors.agents[agent].agent_id),
                        amount_micros=amount,
                        reason="stateful",
                    ),
                    metadata=self.actors.ctl,
                )
            )
            self.model.available[agent] += amount

        @rule(payer=agent_indexes, payee=agent_indexes, amount=amounts)
        def transfer(self, payer: int, payee: int, amount: int) -> None:
            transfer_id = rid()
            _, reason = outcome(
                lambda: world.gateway.CreateTransfer(
                    wallet_pb2.CreateTransferRequest(
                        request_id=rid(),
                        transfer_id=transfer_id,
                        to_agent_id=self.actors.agents[payee].agent_id,
                        amount_micros=amount,
                    ),
                    metadata=self.actors.agent_tokens[payer],
                ),
                harness,
            )
            if payer == payee:
                assert reason == "ACCOUNTS_MUST_BE_DIFFERENT"
            elif amount > self.model.available[payer]:
                assert reason == "INSUFFICIENT_FUNDS"
            else:
                assert reason == "OK"
                self.model.available[payer] -= amount
                self.model.available[payee] += amount
                self.model.transfers.append((transfer_id, payer, payee, amount, False))

        @rule(
            payer=agent_indexes,
            legs=st.lists(st.tuples(agent_indexes, amounts), min_size=1, max_size=3),
        )
        def linked_batch(self, payer: int, legs: list[tuple[int, int]]) -> None:
            legs = [(payee, amount) for payee, amount in legs if payee != payer]
            if not legs:
                return
            entries = [
                wallet_pb2.TransferInput(
                    transfer_id=rid(),
                    debit=wallet_pb2.AccountRef(agent_id=self.actors.agents[payer].agent_id),
                    credit=wallet_pb2.AccountRef(agent_id=self.actors.agents[payee].agent_id),
                    amount_micros=amount,
                    code=wallet_pb2.TRANSFER_CODE_TRANSFER,
                    linked=index < len(legs) - 1,
                )
                for index, (payee, amount) in enumerate(legs)
            ]
            response = harness.run(
                world.gateway.CreateTransfers(
                    wallet_pb2.CreateTransfersRequest(request_id=rid(), transfers=entries),
                    metadata=self.actors.agent_tokens[payer],
                )
            )
            assert isinstance(response, wallet_pb2.CreateTransfersResponse)
            fits = sum(amount for _, amount in legs) <= self.model.available[payer]
            assert response.all_succeeded == fits
            if fits:
                for entry, (payee, amount) in zip(entries, legs, strict=True):
                    self.model.available[payer] -= amount
                    self.model.available[payee] += amount
                    self.model.transfers.append(
                        (entry.transfer_id, payer, payee, amount, entry.linked)
                    )
            else:
                results = {item.result for item in response.outcomes}
                assert wallet_pb2.CREATE_TRANSFER_RESULT_INSUFFICIENT_FUNDS in results
                assert results <= {
                    wallet_pb2.CREATE_TRANSFER_RESULT_INSUFFICIENT_FUNDS,
                    wallet_pb2.CREATE_TRANSFER_RESULT_LINKED_EVENT_FAILED,
                }

        @precondition(lambda self: self.model.transfers)
        @rule(data=st.data(), change_amount=st.booleans())
        def replay(self, data: st.DataObject, change_amount: bool) -> None:
            transfer_id, payer, payee, amount, linked = data.draw(
                st.sampled_from(self.model.transfers)
            )
            response, reason = outcome(
                lambda: world.gateway.CreateTransfer(
                    wallet_pb2.CreateTransferRequest(
                        request_id=rid(),
                        transfer_id=transfer_id,
                        to_agent_id=self.actors.agents[payee].agent_id,
                        amount_micros=amount + (1 if change_amount else 0),
                    ),
                    metadata=self.actors.agent_tokens[payer],
                ),
                harness,
            )
            if change_amount:
                assert reason == "EXISTS_WITH_DIFFERENT_AMOUNT"
            elif linked:
                # CreateTransfer submits unlinked transfers: the flags differ (checked after
                # the amount, TigerBeetle's order).
                assert reason == "EXISTS_WITH_DIFFERENT_FLAGS"
            else:
                assert isinstance(response, wallet_pb2.CreateTransferResponse)
                assert response.result == wallet_pb2.CREATE_TRANSFER_RESULT_EXISTS

        @rule(agent=agent_indexes, amount=amounts, timeout_s=timeouts)
        def create_hold(self, agent: int, amount: int, timeout_s: int) -> None:
            self._create_hold(agent, amount, timeout_s, limited=False)

        @rule(amount=amounts, timeout_s=timeouts)
        def create_hold_on_a_limited_key(self, amount: int, timeout_s: int) -> None:
            self._create_hold(0, amount, timeout_s, limited=True)

        def _create_hold(self, agent: int, amount: int, timeout_s: int, *, limited: bool) -> None:
            budget = limited
            token = self.actors.limited_token if budget else self.actors.inference_tokens[agent]
            hold_id = rid()
            response, reason = outcome(
                lambda: world.provider.CreateHold(
                    wallet_pb2.CreateHoldRequest(
                        request_id=rid(),
                        hold_id=hold_id,
                        amount_micros=amount,
                        timeout_s=timeout_s,
                        code=wallet_pb2.TRANSFER_CODE_INFERENCE,
                    ),
                    metadata=token,
                ),
                harness,
            )
            if amount > self.model.available[agent]:
                assert reason == "INSUFFICIENT_FUNDS"
                return
            if budget and self.model.budget_spent + amount > KEY_LIMIT:
                assert reason == "KEY_BUDGET_EXCEEDED"
                return
            assert reason == "OK"
            assert isinstance(response, wallet_pb2.CreateHoldResponse)
            self.model.available[agent] -= amount
            self.model.pending[agent] += amount
            if budget:
                self.model.budget_opened = True
                self.model.budget_spent += amount
            self.model.holds.append(
                Hold(
                    hold_id=hold_id,
                    agent=agent,
                    amount=amount,
                    expires_at=response.hold.expires_at.ToDatetime(tzinfo=datetime.UTC),
                    budget=budget,
                )
            )

        @precondition(lambda self: self.model.holds)
        @rule(
            data=st.data(),
            cost=st.sampled_from(["full", "part"]) | st.integers(1, 60).map(lambda c: c * CREDIT),
            as_service=st.booleans(),
        )
        def post_hold_within_or_near(
            self, data: st.DataObject, cost: object, as_service: bool
        ) -> None:
            self._post_hold(data, cost, as_service)

        @precondition(lambda self: self.model.holds)
        @rule(data=st.data(), cost=st.integers(60, 400).map(lambda c: c * CREDIT))
        def post_hold_beyond_the_wallet(self, data: st.DataObject, cost: int) -> None:
            self._post_hold(data, cost, as_service=True)

        def _post_hold(self, data: st.DataObject, cost: object, as_service: bool) -> None:
            hold = data.draw(st.sampled_from(self.model.holds))
            amount = (
                hold.amount
                if cost == "full"
                else max(1, hold.amount // 2)
                if cost == "part"
                else int(cost)  # type: ignore[call-overload]
            )
            token = self.actors.provider if as_service else self._token_of(hold)
            post_id = rid()
            response, reason = outcome(
                lambda: world.provider.PostHold(
                    wallet_pb2.PostHoldRequest(
                        request_id=rid(),
                        hold_id=hold.hold_id,
                        post_transfer_id=post_id,
                        amount_micros=amount,
                    ),
                    metadata=token,
                ),
                harness,
            )
            event(f"post a {hold.status} hold" + (" again" if hold.post_id else ""))
            if hold.post_id:
                assert reason == "HOLD_ALREADY_POSTED"
                return
            if hold.status == "voided":
                assert reason == "HOLD_ALREADY_VOIDED"
                return
            assert reason == "OK"
            assert isinstance(response, wallet_pb2.PostHoldResponse)
            agent = hold.agent
            if hold.status == "pending":
                # The whole hold is released, then the cost is charged from it first.
                self.model.available[agent] += hold.amount
                self.model.pending[agent] -= hold.amount
                if hold.budget:
                    self.model.budget_spent -= hold.amount
                captured = min(amount, hold.amount)
            else:  # expired: never posted, the whole cost is charged as overage
                captured = 0
            room = self.model.available[agent] - captured
            if hold.budget:
                room = min(room, KEY_LIMIT - self.model.budget_spent - captured)
            overage = max(0, min(amount - captured, room))
            assert (response.captured_micros, response.overage_micros) == (captured, overage)
            assert response.shortfall_micros == amount - captured - overage
            event("overage" if overage else "no overage")
            event("shortfall" if response.shortfall_micros else "no shortfall")
            self.model.available[agent] -= captured + overage
            if hold.budget:
                self.model.budget_spent += captured + overage
            hold.status = "posted" if hold.status == "pending" else hold.status
            hold.post_id, hold.cost = post_id, amount

        @precondition(lambda self: self.model.holds)
        @rule(data=st.data())
        def void_hold(self, data: st.DataObject) -> None:
            hold = data.draw(st.sampled_from(self.model.holds))
            response, reason = outcome(
                lambda: world.provider.VoidHold(
                    wallet_pb2.VoidHoldRequest(
                        request_id=rid(), hold_id=hold.hold_id, void_transfer_id=rid()
                    ),
                    metadata=self._token_of(hold),
                ),
                harness,
            )
            if hold.status == "posted":
                assert reason == "HOLD_ALREADY_POSTED"
                return
            assert reason == "OK"
            assert isinstance(response, wallet_pb2.VoidHoldResponse)
            if hold.status == "pending":
                self._release(hold, "voided")
            assert (
                response.hold.status
                == {
                    "voided": wallet_pb2.HOLD_STATUS_VOIDED,
                    "expired": wallet_pb2.HOLD_STATUS_EXPIRED,
                }[hold.status]
            )

        @rule(seconds=st.integers(min_value=1, max_value=400))
        def time_passes(self, seconds: int) -> None:
            clock.advance(seconds)
            harness.server.sweep()
            now = clock()
            for hold in self.model.holds:
                if hold.status == "pending" and now >= hold.expires_at:
                    self._release(hold, "expired")

        def _release(self, hold: Hold, status: str) -> None:
            self.model.available[hold.agent] += hold.amount
            self.model.pending[hold.agent] -= hold.amount
            if hold.budget:
                self.model.budget_spent -= hold.amount
            hold.status = status

        def _token_of(self, hold: Hold) -> Metadata:
            return (
                self.actors.limited_token
                if hold.budget
                else self.actors.inference_tokens[hold.agent]
            )

        # -- invariants --------------------------------------------------------------------------

        @invariant()
        def balances_match_the_model(self) -> None:
            for index in range(AGENTS):
                account = self._account(index)
                assert account.available_micros == self.model.available[index]
                assert account.debits_pending_micros == self.model.pending[index]
                assert account.available_micros >= 0
            budget = self._budget()
            assert (budget is not None) == self.model.budget_opened
            if budget is not None:
                assert budget.available_micros == KEY_LIMIT - self.model.budget_spent
                assert budget.available_micros >= 0

        @invariant()
        def no_hold_outlives_its_timeout(self) -> None:
            with psycopg.connect(owner_url) as connection:
                row = connection.execute(
                    "SELECT count(*) FROM wallet.holds WHERE status = 'pending' "
                    "AND expires_at <= %s",
                    (clock(),),
                ).fetchone()
            assert row is not None and row[0] == 0

        @invariant()
        def the_ledger_verifies(self) -> None:
            response = harness.run(world.verify())
            assert isinstance(response, wallet_pb2.VerifyLedgerResponse)
            assert response.ok, failures(response)
            for totals in response.totals:
                assert totals.debits_posted_micros == totals.credits_posted_micros
                assert totals.debits_pending_micros == totals.credits_pending_micros

    return Ledger


@contextlib.contextmanager
def harness_for(server: WalletServerHandle, auth: AuthServerHandle) -> Iterator[Harness]:
    harness = Harness(server, auth)
    try:
        yield harness
    finally:
        harness.close()


def test_the_ledger_keeps_its_invariants_under_random_operations(
    start_wallet_server: Callable[..., WalletServerHandle],
    auth_server: AuthServerHandle,
    fresh_wallet_database: ServiceDatabase,
) -> None:
    clock = ManualClock()
    server = start_wallet_server(database=fresh_wallet_database, clock=clock, sweeper=False)
    with harness_for(server, auth_server) as harness:
        run_state_machine_as_test(
            machine(harness, clock, fresh_wallet_database.owner_url),
            settings=settings(
                max_examples=15,
                stateful_step_count=25,
                deadline=None,
                # Every step is real RPCs and a full VerifyLedger: shrinking a failure could
                # take longer than the test's timeout, so a failure is reported as found
                # (with every step that led to it).
                phases=[Phase.explicit, Phase.reuse, Phase.generate],
                report_multiple_bugs=False,
            ),
        )

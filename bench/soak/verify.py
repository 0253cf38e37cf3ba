"""The invariants checked after the soak, each mapped to the THREATS.md lines it covers.

The books are read twice, independently: through the public API (ledger verification, balances,
generation records, bounties, the treasury) and with read-only SQL as the server's admin (every
ledger account and transfer, every hold, generation, claim, review and outbox entry). Both are
held against what the clients recorded: the definite answers they got.

Each invariant, the THREATS.md lines it covers, and what must hold:

- ledger-verifies (M6; Σ debits = Σ credits): ``GET /admin/ledger/verify`` and
  ``tokenmartctl ledger verify`` recompute every chain, balance and total without a failure.
- conservation (D8, D9): credits minted = Σ every other account's balance = Σ the grants and
  treasury fundings the clients got a 2xx for; nothing pending.
- no-negative-balance (D1): every bounded account (wallets, treasury, escrow, key budgets) has
  an available balance of at least zero.
- transfers-exactly-once (D8, D9): every 2xx transfer exists once with its amount and wallets;
  no other transfer exists; retried keys made no duplicate and no conflict.
- grants-exactly-once (M4, D9): every 2xx grant or treasury funding minted once; nothing else.
- inference-billed-once (D3, D4, D5; one settlement per generation): every 200 has a settled
  generation; every hold is resolved exactly once; charged = posted + overage; no free 200.
- no-pending-holds (D3): no hold and no amount left pending.
- spend-within-limits (D1, D2): the limited key spent at most its limit; the poor agent at
  most what it received.
- agent-key-not-admin (I5, M4): the admin-owned agent's key never minted on the admin route.
- agent-balances (D1, D3, D4, D8, M3): for each agent, grants +/- 2xx transfers - inference
  charges + bounty and review rewards = its balance, through the API and in the ledger.
- bounties-paid-exactly-once (M1, M3; one payout batch per finalized claim): every decided
  claim paid once under its derived transfer ids; every 2xx vote cast once; outbox drained;
  escrow = what open slots owe.
- credentials-survive (I2, I9): every key and session still authenticates after the restarts.
- no-internals-leaked (D6, SPEC 5): every 5xx is an error envelope showing no trace, SQL,
  path or address.
- served-without-redis (D11): the gateway served an authenticated request with Redis down.
- faults-injected (harness): each service killed and back at least once; Redis restarted;
  connections dropped.
- every-answer-definite (D9): no operation with effects left without a definite answer.
- load-flowed (harness): every kind of request succeeded during the run.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from psycopg.rows import dict_row

from bench.soak.client import Gateway
from bench.soak.faults import FAULTS, SERVICES, Injection
from bench.soak.load import ATTACK
from bench.soak.population import Population, tokenmartctl
from bench.soak.records import MoneyOp, Records, State
from bench.soak.settle import Settled, read_only
from ops.localstack import Stack

FLAG_PENDING = 2
FLAG_POST = 4
FLAG_VOID = 8
CODE_GRANT = 1
CODE_TREASURY_FUNDING = 2
CODE_TRANSFER = 3
CODE_INFERENCE = (4, 5)
CREDITS = 1
GENERATION_SAMPLE = 40
LOAD_KINDS = (
    "login",
    "inference",
    "inference_stream",
    "transfer",
    "grant",
    "bounty_create",
    "bounty_claim",
    "bounty_submit",
    "review_vote",
    "read",
)


@dataclass
class Invariant:
    name: str
    threats: str
    ok: bool
    details: str

    def line(self) -> str:
        state = "OK" if self.ok else "FAILED"
        return f"INVARIANT {self.threats} {self.name}: {state} ({self.details})"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "threats": self.threats, "ok": self.ok, "details": self.details}


@dataclass
class Books:
    """Read-only copies of the rows the invariants need (small: one soak's worth)."""

    accounts: dict[str, dict[str, Any]]
    transfers: dict[str, dict[str, Any]]
    holds: dict[str, dict[str, Any]]
    generations: dict[str, dict[str, Any]]
    bounties: dict[str, dict[str, Any]]
    claims: dict[str, dict[str, Any]]
    reviews: dict[str, dict[str, Any]]
    outbox: dict[str, dict[str, Any]]
    payout_transfers: dict[str, dict[str, Any]]

    @classmethod
    def read(cls, stack: Stack) -> Books:
        queries = {
            "accounts": "SELECT id, kind, ledger, agent_id, account_id, key_id, debits_pending,"
            " debits_posted, credits_pending, credits_posted, debits_must_not_exceed_credits"
            " FROM wallet.ledger_accounts",
            "transfers": "SELECT id, debit_account_id, credit_account_id, amount, ledger, code,"
            " flags, pending_id, reference, memo FROM wallet.transfers",
            "holds": "SELECT id, agent_id, key_id, status, amount, posted_micros, overage_micros,"
            " shortfall_micros FROM wallet.holds",
            "generations": "SELECT id, agent_id, key_id, status, settlement_status, hold_id,"
            " held_micros, charge_micros, charged_micros, usage_source FROM provider.generations",
            "bounties": "SELECT id, reward_micros, reviewer_reward_micros, reviewers_per_claim,"
            " max_claims, escrow_micros, escrow_outstanding_micros, escrow_transfer_id, status"
            " FROM review.bounties",
            "claims": "SELECT id, bounty_id, agent_id, status, decision, approvals, rejections"
            " FROM review.claims",
            "reviews": "SELECT id, claim_id, bounty_id, reviewer_agent_id, status, decision"
            " FROM review.reviews",
            "outbox": "SELECT id, kind, bounty_id, claim_id, status, total_micros"
            " FROM review.outbox_entries",
            "payout_transfers": "SELECT transfer_id AS id, entry_id, recipient, agent_id,"
            " amount_micros, code FROM review.payout_transfers",
        }
        tables: dict[str, dict[str, dict[str, Any]]] = {}
        with read_only(stack) as connection, connection.cursor(row_factory=dict_row) as cursor:
            for name, query in queries.items():
                rows = cursor.execute(query).fetchall()
                tables[name] = {str(row["id"]): _plain(row) for row in rows}
        return cls(**tables)

    def wallet_of_agent(self) -> dict[str, str]:
        return {
            row["agent_id"]: account_id
            for account_id, row in self.accounts.items()
            if row["kind"] == "agent_wallet"
        }

    def system(self, kind: str) -> dict[str, Any]:
        return next(row for row in self.accounts.values() if row["kind"] == kind)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {
        key: str(value) if isinstance(value, uuid.UUID) else value for key, value in row.items()
    }


def _done(records: Records, kind: str) -> list[MoneyOp]:
    return [
        op
        for op in records.money
        if op.kind == kind and op.answer is not None and op.answer.state is State.DONE
    ]


def _n(value: int) -> str:
    return f"{value:,}"


class Verifier:
    def __init__(
        self,
        *,
        stack: Stack,
        gateway: Gateway,
        population: Population,
        injections: list[Injection],
        settled: Settled,
    ) -> None:
        self.stack = stack
        self.gateway = gateway
        self.records = gateway.records
        self.population = population
        self.injections = injections
        self.settled = settled
        self.admin = {"Authorization": f"Bearer {population.admin.session_token}"}

    async def run(self) -> list[Invariant]:
        books = await asyncio.to_thread(Books.read, self.stack)
        return [
            await self.ledger_verifies(),
            self.conservation(books),
            self.no_negative_balance(books),
            self.transfers_exactly_once(books),
            self.grants_exactly_once(books),
            await self.inference_billed_once(books),
            self.no_pending_holds(books),
            self.spend_within_limits(books),
            self.agent_key_not_admin(),
            await self.agent_balances(books),
            await self.bounties_paid_exactly_once(books),
            await self.credentials_survive(),
            self.no_internals_leaked(),
            self.served_without_redis(),
            self.faults_injected(),
            self.every_answer_definite(),
            self.load_flowed(),
        ]

    # -- the ledger as a whole -----------------------------------------------------------------

    async def ledger_verifies(self) -> Invariant:
        response = await self.gateway.read(
            "verify", "/api/v1/admin/ledger/verify", headers=self.admin
        )
        api_ok = False
        detail = "API: no answer"
        if response is not None and response.status_code == 200:
            body = response.json()
            api_ok = bool(body["ok"])
            balanced = all(
                t["debits_posted_micros"] == t["credits_posted_micros"] for t in body["totals"]
            )
            api_ok = api_ok and balanced
            detail = (
                f"API ok={body['ok']}: {_n(body['accounts_checked'])} accounts, "
                f"{_n(body['transfers_checked'])} transfers, debits = credits per ledger "
                f"{balanced}, failures {len(body['failures'])}"
            )
        elif response is not None:
            detail = f"API HTTP {response.status_code}"
        ctl = await asyncio.to_thread(tokenmartctl, self.stack, "ledger", "verify")
        first = (ctl.stdout.strip().splitlines() or [ctl.stderr.strip()])[0]
        ok = api_ok and ctl.returncode == 0
        return Invariant(
            "ledger-verifies",
            "M6/Σdebits=Σcredits",
            ok,
            f"{detail}; tokenmartctl exit {ctl.returncode}: {first}",
        )

    def conservation(self, books: Books) -> Invariant:
        mint = books.system("mint")
        minted = mint["debits_posted"] - mint["credits_posted"]
        credit_accounts = [
            row for row in books.accounts.values() if row["ledger"] == CREDITS and row is not mint
        ]
        held = sum(row["credits_posted"] - row["debits_posted"] for row in credit_accounts)
        pending = sum(
            row["debits_pending"] + row["credits_pending"]
            for row in books.accounts.values()
            if row["ledger"] == CREDITS
        )
        granted = _done(self.records, "grant") + _done(self.records, "treasury")
        client_minted = sum(op.amount_micros for op in granted)
        ok = minted == held and pending == 0 and client_minted == minted
        return Invariant(
            "conservation",
            "D8/D9/Σdebits=Σcredits",
            ok,
            f"minted {_n(minted)} µ = Σ balances {_n(held)} µ over {len(credit_accounts)} "
            f"accounts; 2xx grants and fundings the clients saw {_n(client_minted)} µ "
            f"({len(granted)}); pending {_n(pending)} µ",
        )

    def no_negative_balance(self, books: Books) -> Invariant:
        bounded = [row for row in books.accounts.values() if row["debits_must_not_exceed_credits"]]
        negative = [
            row["id"]
            for row in bounded
            if row["credits_posted"] - row["debits_posted"] - row["debits_pending"] < 0
        ]
        lowest = min(
            (
                row["credits_posted"] - row["debits_posted"] - row["debits_pending"]
                for row in bounded
            ),
            default=0,
        )
        return Invariant(
            "no-negative-balance",
            "D1",
            not negative,
            f"{len(bounded)} bounded accounts (wallets, treasury, escrow, key budgets), "
            f"lowest available {_n(lowest)} µ, negative {len(negative)}",
        )

    # -- transfers and grants ------------------------------------------------------------------

    def transfers_exactly_once(self, books: Books) -> Invariant:
        wallets = {agent.agent_id: agent.wallet_id for agent in self.population.agents}
        in_ledger = {
            tid: row for tid, row in books.transfers.items() if row["code"] == CODE_TRANSFER
        }
        done = _done(self.records, "transfer")
        problems: list[str] = []
        seen: set[str] = set()
        for op in done:
            tid = op.transfer_id
            row = in_ledger.get(tid or "")
            if tid is None or row is None:
                problems.append(f"2xx transfer {op.key} missing from the ledger")
                continue
            seen.add(tid)
            assert op.from_agent is not None and op.to_agent is not None
            expected = (wallets[op.from_agent], wallets[op.to_agent], op.amount_micros)
            actual = (row["debit_account_id"], row["credit_account_id"], row["amount"])
            if expected != actual or row["memo"] != f"soak {op.key}":
                problems.append(f"transfer {op.key} differs: {actual} != {expected}")
        extra = sorted(set(in_ledger) - seen)
        memos = Counter(row["memo"] for row in in_ledger.values())
        duplicated = [memo for memo, count in memos.items() if count > 1]
        ops = [op for op in self.records.money if op.kind == "transfer"]
        conflicts = sum(op.answer.conflicts for op in ops if op.answer is not None)
        retried = sum(1 for op in done if op.answer is not None and op.answer.attempts > 1)
        abandoned = sum(1 for op in done if op.answer is not None and op.answer.abandoned)
        refused = sum(1 for op in ops if op.answer is not None and op.answer.state is State.REFUSED)
        if extra:
            problems.append(f"{len(extra)} ledger transfers no client got a 2xx for")
        if duplicated:
            problems.append(f"{len(duplicated)} idempotency keys applied more than once")
        if conflicts:
            problems.append(f"{conflicts} identical retries answered as conflicts")
        return Invariant(
            "transfers-exactly-once",
            "D8/D9",
            not problems,
            f"{_n(len(done))} 2xx transfers each once with amount and wallets "
            f"({retried} needed retries, {abandoned} of them after an answer left unread), "
            f"{refused} refused, "
            f"{len(extra)} extra, {len(duplicated)} duplicated keys, {conflicts} conflicts"
            + (f"; {'; '.join(problems[:5])}" if problems else ""),
        )

    def grants_exactly_once(self, books: Books) -> Invariant:
        wallets = {agent.agent_id: agent.wallet_id for agent in self.population.agents}
        treasury = self.population.treasury_wallet_id
        minted = {
            tid: row
            for tid, row in books.transfers.items()
            if row["code"] in (CODE_GRANT, CODE_TREASURY_FUNDING)
        }
        done = _done(self.records, "grant") + _done(self.records, "treasury")
        problems: list[str] = []
        seen: set[str] = set()
        for op in done:
            tid = op.transfer_id
            row = minted.get(tid or "")
            if tid is None or row is None:
                problems.append(f"2xx {op.kind} {op.key} missing")
                continue
            seen.add(tid)
            target = treasury if op.kind == "treasury" else wallets[op.to_agent or ""]
            if (row["credit_account_id"], row["amount"]) != (target, op.amount_micros):
                problems.append(f"{op.kind} {op.key} differs")
        extra = set(minted) - seen
        if extra:
            problems.append(f"{len(extra)} mints no client got a 2xx for")
        return Invariant(
            "grants-exactly-once",
            "M4/D9",
            not problems,
            f"{len(done)} 2xx grants and treasury fundings each minted once, {len(extra)} extra"
            + (f"; {'; '.join(problems[:5])}" if problems else ""),
        )

    # -- inference -----------------------------------------------------------------------------

    async def inference_billed_once(self, books: Books) -> Invariant:
        problems: list[str] = []
        ok_200 = [item for item in self.records.inferences if item.status == 200]
        unsettled = [
            gid
            for gid, row in books.generations.items()
            if row["settlement_status"] == "pending" or row["status"] == "in_progress"
        ]
        if unsettled:
            problems.append(f"{len(unsettled)} generations unsettled")
        free = 0
        for item in ok_200:
            row = books.generations.get(item.generation_id or "")
            if row is None:
                problems.append(f"200 without a generation record ({item.generation_id})")
                continue
            if row["settlement_status"] not in ("settled", "not_required"):
                problems.append(f"generation {item.generation_id} not settled")
            if item.complete and row["charged_micros"] <= 0:
                free += 1
        if free:
            problems.append(f"{free} complete 200s charged nothing (D5)")
        resolutions: Counter[str] = Counter(
            row["pending_id"]
            for row in books.transfers.values()
            if row["pending_id"] is not None and row["flags"] & (FLAG_POST | FLAG_VOID)
        )
        pending_transfers = [
            tid for tid, row in books.transfers.items() if row["flags"] & FLAG_PENDING
        ]
        unresolved = [tid for tid in pending_transfers if resolutions[tid] != 1]
        if unresolved:
            problems.append(f"{len(unresolved)} pending transfers not resolved exactly once")
        mismatched = 0
        held = 0
        for row in books.generations.values():
            if row["hold_id"] is None:
                continue
            held += 1
            hold = books.holds.get(row["hold_id"])
            if hold is None:
                # Wallet never saw the hold (its creation failed): nothing may be charged.
                if row["charged_micros"] != 0:
                    mismatched += 1
                continue
            if hold["posted_micros"] + hold["overage_micros"] != row["charged_micros"]:
                mismatched += 1
        if mismatched:
            problems.append(f"{mismatched} generations charged differently from their hold")
        sampled, sample_problems = await self._sample_generations(books, ok_200)
        problems += sample_problems
        seen_ids = {item.generation_id for item in ok_200}
        charged_unseen = sum(
            1
            for gid, row in books.generations.items()
            if gid not in seen_ids and row["charged_micros"] > 0
        )
        streamed = sum(1 for item in ok_200 if item.streamed)
        cut = sum(1 for item in ok_200 if not item.complete)
        return Invariant(
            "inference-billed-once",
            "D3/D4/D5",
            not problems,
            f"{_n(len(ok_200))} 200s ({streamed} streamed, {cut} cut by a fault) each with a "
            f"settled generation; {_n(len(books.generations))} generations, {_n(held)} with holds, "
            f"each hold resolved once and charged = posted + overage; {sampled} cross-checked "
            f"through GET generation; {charged_unseen} charged without a 200 (in flight at a "
            "fault: usage or hold captured, as specified)"
            + (f"; {'; '.join(problems[:5])}" if problems else ""),
        )

    async def _sample_generations(self, books: Books, ok_200: list[Any]) -> tuple[int, list[str]]:
        keys = {item.agent_id: item for item in self.population.agents}
        problems: list[str] = []
        sample = ok_200[:: max(1, len(ok_200) // GENERATION_SAMPLE)][:GENERATION_SAMPLE]
        for item in sample:
            agent = keys[item.agent_id]
            response = await self.gateway.read(
                "verify",
                f"/api/v1/tokenhall/generation/{item.generation_id}",
                headers={"Authorization": f"Bearer {agent.api_key}"},
            )
            row = books.generations.get(item.generation_id or "")
            if response is None or response.status_code != 200 or row is None:
                problems.append(f"generation {item.generation_id} not readable")
                continue
            data = response.json()["data"]
            if data["charged_micros"] != row["charged_micros"]:
                problems.append(f"generation {item.generation_id}: API and log disagree")
        return len(sample), problems

    def no_pending_holds(self, books: Books) -> Invariant:
        pending = [hid for hid, row in books.holds.items() if row["status"] == "pending"]
        amount = sum(row["debits_pending"] for row in books.accounts.values())
        statuses = Counter(row["status"] for row in books.holds.values())
        return Invariant(
            "no-pending-holds",
            "D3/holds",
            not pending and amount == 0,
            f"{_n(len(books.holds))} holds: "
            + ", ".join(f"{status} {count}" for status, count in sorted(statuses.items()))
            + f"; pending amount on all accounts {_n(amount)} µ",
        )

    def spend_within_limits(self, books: Books) -> Invariant:
        problems: list[str] = []
        details: list[str] = []
        for key in self.population.keys:
            if key.credit_limit_micros is None:
                continue
            spent = sum(
                row["charged_micros"]
                for row in books.generations.values()
                if row["key_id"] == key.key_id
            )
            details.append(f"limited key spent {_n(spent)} of {_n(key.credit_limit_micros)} µ")
            if spent > key.credit_limit_micros:
                problems.append("key over its credit limit")
        wallets = books.wallet_of_agent()
        for agent in self.population.agents:
            if not agent.poor:
                continue
            spent = sum(
                row["charged_micros"]
                for row in books.generations.values()
                if row["agent_id"] == agent.agent_id
            )
            account = books.accounts[wallets[agent.agent_id]]
            received = account["credits_posted"]
            left = account["credits_posted"] - account["debits_posted"]
            details.append(
                f"poor agent spent {_n(spent)} of the {_n(received)} µ it received, "
                f"{_n(left)} µ left"
            )
            if spent > received or left < 0:
                problems.append("poor agent spent more than it had")
        refusals = sum(
            count
            for kind in ("inference", "inference_stream")
            for label, count in self.records.answers[kind].items()
            if label.startswith("402")
        )
        details.append(f"{refusals} inference answers 402")
        return Invariant("spend-within-limits", "D1/D2", not problems, "; ".join(details))

    def agent_key_not_admin(self) -> Invariant:
        answers = self.records.answers[ATTACK]
        succeeded = sum(count for label, count in answers.items() if label.startswith("2"))
        refused = sum(count for label, count in answers.items() if label.startswith("403"))
        return Invariant(
            "agent-key-not-admin",
            "I5/M4",
            succeeded == 0 and refused > 0,
            f"{sum(answers.values())} mint attempts with the admin-owned agent's key: "
            + ", ".join(f"{label} x{count}" for label, count in answers.most_common())
            + f"; {succeeded} succeeded",
        )

    # -- per agent -----------------------------------------------------------------------------

    async def agent_balances(self, books: Books) -> Invariant:
        expected: dict[str, int] = defaultdict(int)
        for op in _done(self.records, "grant"):
            expected[op.to_agent or ""] += op.amount_micros
        for op in _done(self.records, "transfer"):
            expected[op.from_agent or ""] -= op.amount_micros
            expected[op.to_agent or ""] += op.amount_micros
        for row in books.generations.values():
            expected[row["agent_id"]] -= row["charged_micros"]
        bounty_of = {b.bounty_id: b for b in self.records.bounties if b.bounty_id is not None}
        for claim in books.claims.values():
            bounty = bounty_of.get(claim["bounty_id"])
            if bounty is not None and claim["status"] == "approved":
                expected[claim["agent_id"]] += bounty.reward_micros
        for vote in self.records.votes.values():
            decided = books.claims.get(vote.claim_id, {}).get("status") in ("approved", "rejected")
            # Reviewers are paid when the claim is decided, in the payout batch.
            if decided and vote.answer is not None and vote.answer.state is State.DONE:
                expected[vote.reviewer_agent_id] += bounty_of[vote.bounty_id].reviewer_reward_micros
        wallets = books.wallet_of_agent()
        wrong: list[str] = []
        for agent in self.population.agents:
            account = books.accounts[wallets[agent.agent_id]]
            in_sql = (
                account["credits_posted"] - account["debits_posted"] - account["debits_pending"]
            )
            response = await self.gateway.read(
                "verify",
                "/api/v1/tokenhall/credits",
                headers={"Authorization": f"Bearer {agent.api_key}"},
            )
            in_api = (
                None
                if response is None or response.status_code != 200
                else (response.json()["balance_micros"])
            )
            if not (expected[agent.agent_id] == in_sql == in_api):
                wrong.append(
                    f"{agent.name}: expected {expected[agent.agent_id]}, "
                    f"ledger {in_sql}, API {in_api}"
                )
        return Invariant(
            "agent-balances",
            "D1/D3/D4/D8/M3",
            not wrong,
            f"{len(self.population.agents)} agents: grants +/- 2xx transfers - inference charges "
            "+ bounty and review rewards = balance (API and ledger)"
            + (f"; off: {'; '.join(wrong[:5])}" if wrong else ""),
        )

    # -- bounties ------------------------------------------------------------------------------

    async def bounties_paid_exactly_once(self, books: Books) -> Invariant:
        problems: list[str] = []
        wallets = books.wallet_of_agent()
        treasury = self.population.treasury_wallet_id
        escrow = books.system("bounty_escrow")
        done = [b for b in self.records.bounties if b.bounty_id is not None]
        for operation in done:
            stored_bounty = books.bounties.get(operation.bounty_id or "")
            if stored_bounty is None:
                problems.append(f"2xx bounty {operation.key} missing")
                continue
            funding = books.transfers.get(stored_bounty["escrow_transfer_id"])
            if funding is None or funding["amount"] != stored_bounty["escrow_micros"]:
                problems.append(f"bounty {operation.key} escrow not funded exactly")
            for agent_id, answer in operation.claims.items():
                if answer.state is not State.DONE or answer.body is None:
                    continue
                claim_id = answer.body["claim"]["id"]
                stored = books.claims.get(claim_id)
                if stored is None:
                    problems.append(f"2xx claim {claim_id} missing")
                    continue
                submitted = operation.submissions.get(agent_id)
                if (
                    submitted is not None
                    and submitted.state is State.DONE
                    and stored["status"] not in ("submitted", "approved", "rejected")
                ):
                    problems.append(f"2xx submission of {claim_id} not recorded")
        decided = [c for c in books.claims.values() if c["status"] in ("approved", "rejected")]
        entries = Counter(
            row["claim_id"] for row in books.outbox.values() if row["kind"] == "claim_payout"
        )
        undelivered = [row for row in books.outbox.values() if row["status"] != "delivered"]
        if undelivered:
            problems.append(f"{len(undelivered)} outbox entries undelivered")
        paid_transfers = 0
        for claim in decided:
            if entries[claim["id"]] != 1:
                problems.append(f"claim {claim['id']} has {entries[claim['id']]} payout entries")
            bounty = books.bounties[claim["bounty_id"]]
            claim_uuid = uuid.UUID(claim["id"])
            wanted: list[tuple[str, str, int]] = []
            if claim["status"] == "approved":
                wanted.append(
                    (
                        str(uuid.uuid5(claim_uuid, "bounty-reward")),
                        wallets[claim["agent_id"]],
                        bounty["reward_micros"],
                    )
                )
            else:
                wanted.append(
                    (
                        str(uuid.uuid5(claim_uuid, "reward-refund")),
                        treasury,
                        bounty["reward_micros"],
                    )
                )
            voters = [
                review
                for review in books.reviews.values()
                if review["claim_id"] == claim["id"] and review["status"] == "submitted"
            ]
            if len(voters) != claim["approvals"] + claim["rejections"]:
                problems.append(f"claim {claim['id']} tally differs from its votes")
            for review in voters:
                wanted.append(
                    (
                        str(uuid.uuid5(claim_uuid, f"review-reward|{review['id']}")),
                        wallets[review["reviewer_agent_id"]],
                        bounty["reviewer_reward_micros"],
                    )
                )
            for transfer_id, account, amount in wanted:
                row = books.transfers.get(transfer_id)
                if row is None or (row["credit_account_id"], row["amount"]) != (account, amount):
                    problems.append(f"payout {transfer_id} of claim {claim['id']} wrong or missing")
                else:
                    paid_transfers += 1
        for payout in books.payout_transfers.values():
            row = books.transfers.get(payout["id"])
            if row is None or row["amount"] != payout["amount_micros"]:
                problems.append(f"outbox transfer {payout['id']} not in the ledger as written")
        client_votes = [v for v in self.records.votes.values() if v.answer is not None]
        for vote in client_votes:
            assert vote.answer is not None
            if vote.answer.state is not State.DONE:
                continue
            cast = books.reviews.get(vote.review_id)
            if cast is None or cast["status"] != "submitted" or cast["decision"] != vote.decision:
                problems.append(f"2xx vote {vote.review_id} not recorded as cast")
        outstanding = sum(row["escrow_outstanding_micros"] for row in books.bounties.values())
        escrow_balance = escrow["credits_posted"] - escrow["debits_posted"]
        if escrow_balance != outstanding:
            problems.append(f"escrow holds {escrow_balance} µ, bounties owe {outstanding} µ")
        treasury_view = await self.gateway.read(
            "verify", "/api/v1/admin/treasury", headers=self.admin
        )
        if treasury_view is None or treasury_view.status_code != 200:
            problems.append("treasury not readable")
        else:
            view = treasury_view.json()
            if view["undelivered_payouts"] or view["escrow_unassigned_micros"]:
                problems.append(
                    f"treasury: {view['undelivered_payouts']} undelivered payouts, "
                    f"{view['escrow_unassigned_micros']} µ escrow unassigned"
                )
        statuses = Counter(c["status"] for c in books.claims.values())
        votes_done = sum(1 for v in client_votes if v.answer and v.answer.state is State.DONE)
        return Invariant(
            "bounties-paid-exactly-once",
            "M1/M3",
            not problems,
            f"{len(done)} bounties, claims "
            + ", ".join(f"{s} {n}" for s, n in sorted(statuses.items()))
            + f"; {votes_done} 2xx votes all cast once; {len(decided)} decided claims each with "
            f"one delivered payout batch ({paid_transfers} derived transfers found once); escrow "
            f"{_n(escrow_balance)} µ = owed {_n(outstanding)} µ"
            + (f"; {'; '.join(problems[:5])}" if problems else ""),
        )

    # -- credentials and the edge --------------------------------------------------------------

    async def credentials_survive(self) -> Invariant:
        failures: list[str] = []
        checks = 0

        async def check(path: str, credential: str, what: str) -> None:
            nonlocal checks
            checks += 1
            response = await self.gateway.read(
                "verify", path, headers={"Authorization": f"Bearer {credential}"}
            )
            if response is None or response.status_code != 200:
                status = None if response is None else response.status_code
                failures.append(f"{what} → {status}")

        for agent in self.population.agents:
            await check("/api/v1/agents/me", agent.api_key, f"agent key of {agent.name}")
        for key in self.population.keys:
            await check("/api/v1/tokenhall/key", key.key, f"th_ key {key.key_id}")
        sessions = dict.fromkeys(token for _, token in self.records.sessions)
        for token in sessions:
            await check("/api/v1/auth/sessions", token, "a session")
        return Invariant(
            "credentials-survive",
            "I2/I9",
            not failures,
            f"{checks} credentials checked after {len(self.injections)} faults "
            f"({len(self.population.agents)} agent keys, {len(self.population.keys)} th_ keys, "
            f"{len(sessions)} sessions incl. setup and load logins)"
            + (f"; failing: {'; '.join(failures[:5])}" if failures else ""),
        )

    def no_internals_leaked(self) -> Invariant:
        errors = sum(self.records.server_errors.values())
        by_kind = ", ".join(
            f"{kind} {count}" for kind, count in sorted(self.records.server_errors.items())
        )
        leaks = self.records.leaks
        return Invariant(
            "no-internals-leaked",
            "D6/SPEC§5",
            not leaks,
            f"{errors} 5xx answers during faults ({by_kind or 'none'}), "
            f"{len(leaks)} showing internals"
            + (f"; e.g. {leaks[0].kind} {leaks[0].status}: {leaks[0].excerpt!r}" if leaks else ""),
        )

    def served_without_redis(self) -> Invariant:
        outages = [item for item in self.injections if item.fault == "redis"]
        served = [item for item in outages if item.ok]
        return Invariant(
            "served-without-redis",
            "D11",
            bool(outages) and len(served) == len(outages),
            f"{len(served)} of {len(outages)} Redis outages: an authenticated request was served "
            "while Redis was down (in-process limiter)",
        )

    def faults_injected(self) -> Invariant:
        counts: dict[str, int] = dict.fromkeys(FAULTS, 0)
        failed = [item for item in self.injections if not item.ok]
        for item in self.injections:
            if item.ok:
                counts[item.fault] += 1
        missing = [fault for fault, count in counts.items() if count == 0]
        return Invariant(
            "faults-injected",
            "harness",
            not missing and not failed,
            ", ".join(
                f"{'kill -9 ' if fault in SERVICES else ''}{fault} x{count}"
                for fault, count in counts.items()
            )
            + f"; {len(failed)} failed"
            + (f"; never: {', '.join(missing)}" if missing else ""),
        )

    def every_answer_definite(self) -> Invariant:
        states: Counter[str] = Counter()
        for op in self.records.money:
            states[op.answer.state.value if op.answer else "none"] += 1
        for bounty in self.records.bounties:
            states[bounty.answer.state.value if bounty.answer else "none"] += 1
            for answer in (*bounty.claims.values(), *bounty.submissions.values()):
                states[answer.state.value] += 1
        for vote in self.records.votes.values():
            states[vote.answer.state.value if vote.answer else "none"] += 1
        open_ = states["ambiguous"] + states["none"]
        return Invariant(
            "every-answer-definite",
            "D9",
            open_ == 0,
            f"{sum(states.values())} operations with effects: done {states['done']}, refused "
            f"{states['refused']}, still ambiguous {open_} ({self.settled.replayed} replayed "
            "after the load with their original keys)",
        )

    def load_flowed(self) -> Invariant:
        succeeded = {
            kind: sum(count for label, count in labels.items() if label.startswith("2"))
            for kind, labels in self.records.answers.items()
        }
        idle = [kind for kind in LOAD_KINDS if not succeeded.get(kind)]
        return Invariant(
            "load-flowed",
            "harness",
            not idle,
            ", ".join(f"{kind} {_n(succeeded.get(kind, 0))}" for kind in LOAD_KINDS)
            + " 2xx"
            + (f"; never succeeded: {', '.join(idle)}" if idle else ""),
        )

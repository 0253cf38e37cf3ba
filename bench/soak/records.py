"""What the soak's clients saw: every HTTP answer counted by kind and outcome, and every
operation whose effect the verifier checks afterwards, with the definite answer it got.

An operation that moves credits or changes state is retried with the same ``Idempotency-Key``
until it gets a definite answer: ``DONE`` (2xx: it happened, exactly once) or ``REFUSED`` (a 4xx
other than 429: it did not happen). One that never got one is ``AMBIGUOUS``; the verifier replays
it once the stack is healthy again, so that every operation ends definite before the books are
compared.
"""

from __future__ import annotations

import enum
import json
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

# What must never appear in an error body a client receives: stack traces, SQL, driver and
# framework names, file paths, internal addresses.
INTERNALS = re.compile(
    r"Traceback|File \"|\.py\b|\bline \d+|psycopg|sqlalchemy|asyncpg|alembic|"
    r"\bSELECT\b|\bINSERT\b|\bUPDATE\b|\bDELETE FROM\b|grpc\.|_pb2|StatusCode\.|"
    r"Exception|site-packages|/work/|/home/|/usr/|127\.0\.0\.1:\d+|ipv4:|ipv6:",
)


class State(enum.Enum):
    DONE = "done"
    REFUSED = "refused"
    AMBIGUOUS = "ambiguous"


@dataclass
class Answer:
    """The definite (or last) answer an operation got."""

    state: State
    status: int | None
    reason: str | None
    body: dict[str, Any] | None
    attempts: int
    replayed: bool = False
    abandoned: bool = False
    """The first attempt was sent whole and its answer deliberately never read."""
    conflicts: int = 0
    """409 ``REQUEST_ID_CONFLICT`` / ``EXISTS_WITH_DIFFERENT_*`` answers to an identical retry."""


@dataclass
class Agent:
    agent_id: str
    name: str
    owner_email: str
    owner_account_id: str
    api_key: str
    wallet_id: str
    poor: bool = False


@dataclass
class Owner:
    email: str
    account_id: str
    session_token: str


@dataclass
class MoneyOp:
    """A transfer between agents, an admin grant or a treasury funding."""

    kind: str
    key: str
    amount_micros: int
    from_agent: str | None
    to_agent: str | None
    answer: Answer | None = None

    @property
    def transfer_id(self) -> str | None:
        if self.answer is None or self.answer.body is None:
            return None
        if "transfer" in self.answer.body:
            return str(self.answer.body["transfer"]["id"])
        if "transfer_id" in self.answer.body:
            return str(self.answer.body["transfer_id"])
        return None


@dataclass
class Inference:
    agent_id: str
    key_id: str
    streamed: bool
    status: int | None
    generation_id: str | None
    complete: bool
    """Non-streaming: a 200 body; streaming: the stream ended with its terminator."""


@dataclass
class BountyOp:
    key: str
    reward_micros: int
    reviewer_reward_micros: int
    max_claims: int
    request: dict[str, Any] = field(default_factory=dict)
    """The exact body sent, so a replay sends it again."""
    answer: Answer | None = None
    claims: dict[str, Answer] = field(default_factory=dict)
    """agent id → the answer of its claim."""
    submissions: dict[str, Answer] = field(default_factory=dict)

    @property
    def bounty_id(self) -> str | None:
        if self.answer is None or self.answer.state is not State.DONE or self.answer.body is None:
            return None
        return str(self.answer.body["bounty"]["id"])


@dataclass
class Vote:
    review_id: str
    claim_id: str
    bounty_id: str
    reviewer_agent_id: str
    decision: str
    answer: Answer | None = None


@dataclass
class Leak:
    kind: str
    status: int
    excerpt: str


class Records:
    """Everything the load saw. Only the event loop's thread writes here."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.answers: dict[str, Counter[str]] = defaultdict(Counter)
        self.operations: dict[str, Counter[str]] = defaultdict(Counter)
        self.money: list[MoneyOp] = []
        self.inferences: list[Inference] = []
        self.bounties: list[BountyOp] = []
        self.votes: dict[str, Vote] = {}
        self.sessions: list[tuple[str, str]] = []
        """(email, session token) of every successful login, setup included."""
        self.leaks: list[Leak] = []
        self.server_errors: Counter[str] = Counter()
        """kind → 5xx answers (allowed during faults when they carry no internals)."""
        self.successes = 0
        """Every 2xx answer so far: the injector waits for it to grow between faults."""

    def answer(self, kind: str, label: str, *, success: bool = False) -> None:
        self.answers[kind][label] += 1
        if success:
            self.successes += 1

    def operation(self, kind: str, state: State) -> None:
        self.operations[kind][state.value] += 1

    def check_body(self, kind: str, status: int, text: str) -> None:
        """Record a 5xx; flag it when its body shows anything internal."""
        if status < 500:
            return
        self.server_errors[kind] += 1
        match = INTERNALS.search(text)
        if match is not None:
            start = max(0, match.start() - 80)
            self.leaks.append(Leak(kind=kind, status=status, excerpt=text[start : start + 240]))
            return
        # Every error the gateway answers is an envelope (platform, OpenAI or Anthropic shape,
        # all with an "error" object); anything else came from somewhere it should not have.
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
            self.leaks.append(Leak(kind=kind, status=status, excerpt=text[:240]))

    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

"""The ledger's vocabulary: accounts, transfers, initiators, and the invariants they keep.

Modelled on TigerBeetle (SPEC.md §2): every account has four counters, ``debits_pending``,
``debits_posted``, ``credits_pending`` and ``credits_posted``; a transfer debits one account and
credits another on the same ledger and is never changed once written. Flags are TigerBeetle's
bits, stored as they are in the ``transfers.flags`` column.

Every invariant here is written three times (STYLE.md): as an ``assert`` below, as a named
constraint in ``store/models.py`` (and the migration), and as a line under "Guarantees" in the
README.
"""

from __future__ import annotations

import datetime
import enum
import uuid
from dataclasses import dataclass

AMOUNT_MAX_MICROS = 10**15
"""The largest amount one transfer may move (proto: 1..10^15 micro-credits)."""
MEMO_MAX_CHARS = 500
REFERENCE_MAX_CHARS = 128
HOLD_TIMEOUT_MAX_S = 3600
HASH_BYTES = 32


class Ledger(enum.IntEnum):
    """Balances that never exchange credits (TigerBeetle's ``ledger``)."""

    CREDITS = 1
    KEY_BUDGET = 2


class AccountKind(enum.StrEnum):
    AGENT_WALLET = "agent_wallet"
    ACCOUNT_WALLET = "account_wallet"
    MINT = "mint"
    TREASURY = "treasury"
    BOUNTY_ESCROW = "bounty_escrow"
    PROVIDER_REVENUE = "provider_revenue"
    KEY_BUDGET = "key_budget"
    KEY_BUDGET_SOURCE = "key_budget_source"

    @property
    def is_user_wallet(self) -> bool:
        return self in USER_WALLET_KINDS

    @property
    def is_system(self) -> bool:
        return self in SYSTEM_KINDS

    @property
    def ledger(self) -> Ledger:
        return (
            Ledger.KEY_BUDGET
            if self in (AccountKind.KEY_BUDGET, AccountKind.KEY_BUDGET_SOURCE)
            else Ledger.CREDITS
        )

    @property
    def debits_must_not_exceed_credits(self) -> bool:
        """Wallets, treasury, escrow and key budgets can never be overdrawn."""
        return self in _DEBITS_BOUNDED

    @property
    def credits_must_not_exceed_debits(self) -> bool:
        """The mint is only ever debited: its net debit is everything ever issued."""
        return self is AccountKind.MINT


USER_WALLET_KINDS = frozenset({AccountKind.AGENT_WALLET, AccountKind.ACCOUNT_WALLET})
SYSTEM_KINDS = frozenset(
    {
        AccountKind.MINT,
        AccountKind.TREASURY,
        AccountKind.BOUNTY_ESCROW,
        AccountKind.PROVIDER_REVENUE,
        AccountKind.KEY_BUDGET_SOURCE,
    }
)
_DEBITS_BOUNDED = frozenset(
    {
        AccountKind.AGENT_WALLET,
        AccountKind.ACCOUNT_WALLET,
        AccountKind.TREASURY,
        AccountKind.BOUNTY_ESCROW,
        AccountKind.KEY_BUDGET,
    }
)


class TransferCode(enum.IntEnum):
    """Why credits moved (the proto's TransferCode numbers; TigerBeetle's ``code``)."""

    GRANT = 1
    TREASURY_FUNDING = 2
    TRANSFER = 3
    INFERENCE = 4
    PLATFORM_FEE = 5
    BOUNTY_ESCROW = 6
    BOUNTY_REWARD = 7
    REVIEW_REWARD = 8
    REFUND = 9
    KEY_BUDGET_ALLOCATION = 10
    KEY_BUDGET_SPEND = 11


class TransferFlag(enum.IntFlag):
    """TigerBeetle's transfer flag bits, as stored."""

    NONE = 0
    LINKED = 1
    PENDING = 2
    POST_PENDING = 4
    VOID_PENDING = 8


PHASE_FLAGS = TransferFlag.PENDING | TransferFlag.POST_PENDING | TransferFlag.VOID_PENDING
RESOLUTION_FLAGS = TransferFlag.POST_PENDING | TransferFlag.VOID_PENDING
_PHASE_BITS, _PENDING_BIT = int(PHASE_FLAGS), int(TransferFlag.PENDING)
_POST_BIT, _VOID_BIT = int(TransferFlag.POST_PENDING), int(TransferFlag.VOID_PENDING)
_PHASE_BITS, _PENDING_BIT = int(PHASE_FLAGS), int(TransferFlag.PENDING)
_POST_BIT, _VOID_BIT = int(TransferFlag.POST_PENDING), int(TransferFlag.VOID_PENDING)


class InitiatorKind(enum.StrEnum):
    AGENT = "agent"
    ACCOUNT = "account"
    SERVICE = "service"
    WALLET = "wallet"


@dataclass(frozen=True)
class Initiator:
    """Who caused a transfer: the principal of the call, the peer that sent it, and its id."""

    kind: InitiatorKind
    subject: str
    """The token's subject (``agent:<id>``, ``account:<id>``, ``service:<name>``) or ``wallet``."""
    peer: str
    request_id: str
    agent_id: uuid.UUID | None = None
    account_id: uuid.UUID | None = None
    key_id: uuid.UUID | None = None

    def __post_init__(self) -> None:
        assert self.subject and self.peer
        assert self.kind is not InitiatorKind.AGENT or self.agent_id is not None
        assert self.kind is not InitiatorKind.ACCOUNT or self.account_id is not None

    @property
    def principal_key(self) -> str:
        """Who owns a transfer id: the subject and the agent it acts as (never the key, so a
        rekeyed agent still owns its transfers)."""
        return f"{self.subject}|{self.agent_id}" if self.agent_id else self.subject


SWEEPER = "wallet"
"""Subject and peer of the transfers wallet makes itself (expiring holds)."""


@dataclass(frozen=True)
class Balances:
    """An account's four TigerBeetle counters (micro-credits)."""

    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0

    def __post_init__(self) -> None:
        assert min(self.debits_pending, self.debits_posted) >= 0
        assert min(self.credits_pending, self.credits_posted) >= 0

    @property
    def available(self) -> int:
        """What can be spent now: credits posted minus debits posted and pending."""
        return self.credits_posted - self.debits_posted - self.debits_pending

    @property
    def posted_balance(self) -> int:
        return self.credits_posted - self.debits_posted


@dataclass(frozen=True)
class AccountIdentity:
    """What a ledger account is; fixed for life (a guard trigger refuses any change)."""

    id: uuid.UUID
    kind: AccountKind
    agent_id: uuid.UUID | None = None
    account_id: uuid.UUID | None = None
    key_id: uuid.UUID | None = None

    def __post_init__(self) -> None:
        assert (self.kind is AccountKind.AGENT_WALLET) == (self.agent_id is not None)
        assert (self.kind is AccountKind.ACCOUNT_WALLET) == (self.account_id is not None)
        assert (self.kind is AccountKind.KEY_BUDGET) == (self.key_id is not None)

    @property
    def ledger(self) -> Ledger:
        return self.kind.ledger


@dataclass(frozen=True)
class LedgerAccount:
    identity: AccountIdentity
    balances: Balances
    limit_micros: int
    """For key budgets: credits allocated minus allocations returned (see ``domain.holds``)."""
    chain_head: bytes | None
    transfer_count: int
    created_at: datetime.datetime
    updated_at: datetime.datetime

    def __post_init__(self) -> None:
        kind = self.identity.kind
        balances = self.balances
        if kind.debits_must_not_exceed_credits:
            assert balances.debits_pending + balances.debits_posted <= balances.credits_posted
        if kind.credits_must_not_exceed_debits:
            assert balances.credits_pending + balances.credits_posted <= balances.debits_posted
        assert (self.transfer_count == 0) == (self.chain_head is None)
        assert self.chain_head is None or len(self.chain_head) == HASH_BYTES
        assert self.limit_micros >= 0 and (kind is AccountKind.KEY_BUDGET or self.limit_micros == 0)

    @property
    def id(self) -> uuid.UUID:
        return self.identity.id


@dataclass(frozen=True)
class Transfer:
    """One immutable ledger row."""

    id: uuid.UUID
    sequence: int
    debit_account_id: uuid.UUID
    credit_account_id: uuid.UUID
    amount: int
    ledger: Ledger
    code: TransferCode
    flags: TransferFlag
    pending_id: uuid.UUID | None
    timeout_s: int
    expires_at: datetime.datetime | None
    reference: str
    memo: str
    initiator: Initiator
    debit_previous_hash: bytes | None
    credit_previous_hash: bytes | None
    hash: bytes
    created_at: datetime.datetime

    def __post_init__(self) -> None:
        assert 1 <= self.amount <= AMOUNT_MAX_MICROS
        assert self.debit_account_id != self.credit_account_id
        phase = int(self.flags) & _PHASE_BITS
        assert phase in (0, _PENDING_BIT, _POST_BIT, _VOID_BIT)
        assert bool(phase & (_POST_BIT | _VOID_BIT)) == (self.pending_id is not None)
        assert (phase == _PENDING_BIT) == (self.expires_at is not None)
        assert (phase == _PENDING_BIT) == (self.timeout_s > 0)
        assert len(self.hash) == HASH_BYTES
        assert len(self.reference) <= REFERENCE_MAX_CHARS and len(self.memo) <= MEMO_MAX_CHARS

    @property
    def is_pending(self) -> bool:
        return bool(self.flags & TransferFlag.PENDING)

    @property
    def is_post(self) -> bool:
        return bool(self.flags & TransferFlag.POST_PENDING)

    @property
    def is_void(self) -> bool:
        return bool(self.flags & TransferFlag.VOID_PENDING)


@dataclass(frozen=True)
class Draft:
    """One transfer to submit to the ledger function, with what the caller already decided.

    ``rejection`` is a validation result found before anything is looked up (the id or an amount
    is invalid); ``denial`` is an authority result applied only once both accounts are known to
    exist (so a caller learns "not found" before "not allowed", as TigerBeetle orders its checks).
    An account id of None means the reference did not resolve: the ledger reports it not found.
    """

    id: uuid.UUID | None
    debit_account_id: uuid.UUID | None
    credit_account_id: uuid.UUID | None
    amount: int
    code: TransferCode
    flags: TransferFlag = TransferFlag.NONE
    pending_id: uuid.UUID | None = None
    timeout_s: int = 0
    reference: str = ""
    memo: str = ""
    rejection: int = 0
    denial: int = 0

    def __post_init__(self) -> None:
        assert self.rejection != 0 or self.id is not None
        assert self.rejection != 0 or 1 <= self.amount <= AMOUNT_MAX_MICROS
        assert bool(self.flags & RESOLUTION_FLAGS) == (self.pending_id is not None)
        assert bool(self.flags & TransferFlag.PENDING) == (self.timeout_s > 0)


@dataclass(frozen=True)
class Outcome:
    """What the ledger did with one draft."""

    index: int
    result: int
    transfer: Transfer | None
    """The stored transfer for OK (created now) and EXISTS (created before)."""
    debit_available: int | None
    credit_available: int | None


class RefKind(enum.Enum):
    LEDGER_ACCOUNT_ID = "ledger_account_id"
    AGENT_ID = "agent_id"
    ACCOUNT_ID = "account_id"
    SYSTEM = "system_account"


@dataclass(frozen=True)
class AccountRef:
    """A request's name for an account: by id, by owner, or a system singleton.

    ``id`` is None when the request carried something that is not a UUID: such a reference
    names nothing (the batch RPCs report it not found; the others refuse it as malformed).
    """

    by: RefKind
    id: uuid.UUID | None = None
    system: AccountKind | None = None

    def __post_init__(self) -> None:
        assert (self.by is RefKind.SYSTEM) == (self.system is not None)
        assert self.system is None or self.system.is_system

"""Ledger verification: recompute everything from the transfers and compare with what is stored.

:class:`LedgerVerifier` is fed every account's stored state, then every transfer in sequence
order (it keeps O(accounts + open holds) in memory, so the caller can stream a ledger of any
size), and reports:

* each transfer's hash, recomputed from its fields (``TRANSFER_HASH_MISMATCH``);
* each chain link: a transfer's recorded previous hash for each side must be the hash of that
  account's preceding transfer (``CHAIN_LINK_BROKEN``: a row was deleted, inserted or reordered);
* each account's chain head and length against its last transfer (``CHAIN_HEAD_MISMATCH``);
* each account's four counters and key-budget limit, recomputed from its transfers, pending
  resolutions included (``BALANCE_MISMATCH``);
* the flags on the stored counters (``ACCOUNT_FLAG_VIOLATED``: e.g. a wallet below zero);
* debits = credits per ledger, posted and pending, over the stored counters and over the
  recomputed ones (``LEDGER_UNBALANCED``);
* that a post or void names a pending transfer with the same accounts, resolves it once, and
  posts at most its amount (``PENDING_RESOLUTION_INVALID``);
* that no pending transfer is unresolved past its expiry plus the sweeper's grace
  (``HOLD_OVERDUE``).

A failure found after ``max_failures`` is counted but not kept.
"""

from __future__ import annotations

import datetime
import enum
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from services.wallet.domain import chain
from services.wallet.domain.ledger import AccountKind, Ledger, TransferCode, TransferFlag


class FailureKind(enum.Enum):
    TRANSFER_HASH_MISMATCH = 1
    CHAIN_LINK_BROKEN = 2
    CHAIN_HEAD_MISMATCH = 3
    BALANCE_MISMATCH = 4
    LEDGER_UNBALANCED = 5
    ACCOUNT_FLAG_VIOLATED = 6
    HOLD_OVERDUE = 7
    PENDING_RESOLUTION_INVALID = 8


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    detail: str
    account_id: uuid.UUID | None = None
    transfer_id: uuid.UUID | None = None
    ledger: int | None = None
    field: str = ""
    expected: str = ""
    actual: str = ""


@dataclass(frozen=True)
class StoredAccount:
    """An account row as stored (unvalidated: it may have been tampered with)."""

    id: uuid.UUID
    kind: str
    ledger: int
    debits_must_not_exceed_credits: bool
    credits_must_not_exceed_debits: bool
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int
    limit_micros: int
    chain_head: bytes | None
    transfer_count: int


@dataclass(frozen=True)
class StoredTransfer:
    """A transfer row as stored, with its stored hash (unvalidated)."""

    fields: chain.HashInput
    hash: bytes


@dataclass(frozen=True)
class Totals:
    ledger: int
    debits_posted: int = 0
    credits_posted: int = 0
    debits_pending: int = 0
    credits_pending: int = 0


@dataclass(frozen=True)
class Report:
    accounts_checked: int
    transfers_checked: int
    totals: tuple[Totals, ...]
    failures: tuple[Failure, ...]
    failures_found: int

    @property
    def ok(self) -> bool:
        return self.failures_found == 0

    @property
    def failures_truncated(self) -> bool:
        return self.failures_found > len(self.failures)


@dataclass
class _Recomputed:
    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0
    limit_micros: int = 0
    head: bytes | None = None
    count: int = 0


@dataclass(frozen=True)
class _Open:
    """A pending transfer not resolved (yet) in the sequence read so far."""

    debit_account_id: uuid.UUID
    credit_account_id: uuid.UUID
    amount: int
    expires_at: datetime.datetime | None


@dataclass
class LedgerVerifier:
    now: datetime.datetime
    overdue_grace_s: float
    max_failures: int
    failures: list[Failure] = field(default_factory=list)
    failures_found: int = 0
    transfers_checked: int = 0
    _stored: dict[uuid.UUID, StoredAccount] = field(default_factory=dict)
    _recomputed: dict[uuid.UUID, _Recomputed] = field(default_factory=dict)
    _open: dict[uuid.UUID, _Open] = field(default_factory=dict)
    _last_sequence: int = 0

    def __post_init__(self) -> None:
        assert self.max_failures >= 0 and self.overdue_grace_s >= 0

    def fail(self, failure: Failure) -> None:
        self.failures_found += 1
        if len(self.failures) < self.max_failures:
            self.failures.append(failure)

    # -- input ---------------------------------------------------------------------------------

    def add_accounts(self, accounts: Iterable[StoredAccount]) -> None:
        for account in accounts:
            self._stored[account.id] = account
            self._recomputed.setdefault(account.id, _Recomputed())

    def add_transfers(self, transfers: Iterable[StoredTransfer]) -> None:
        for transfer in transfers:
            self._add_transfer(transfer)

    def _add_transfer(self, transfer: StoredTransfer) -> None:
        item = transfer.fields
        assert item.sequence > self._last_sequence, "transfers must come in sequence order"
        self._last_sequence = item.sequence
        self.transfers_checked += 1
        recomputed_hash = chain.transfer_hash(item)
        if recomputed_hash != transfer.hash:
            self.fail(
                Failure(
                    FailureKind.TRANSFER_HASH_MISMATCH,
                    "the stored hash is not the hash of the transfer's fields",
                    transfer_id=item.id,
                    field="hash",
                    expected=recomputed_hash.hex(),
                    actual=transfer.hash.hex(),
                )
            )
        debit = self._side(item.debit_account_id)
        credit = self._side(item.credit_account_id)
        self._link(item, debit, item.debit_account_id, item.debit_previous_hash, "debit")
        self._link(item, credit, item.credit_account_id, item.credit_previous_hash, "credit")
        # Link the next transfer to the stored hash, so one edited row is one failure.
        for side in (debit, credit):
            side.head = transfer.hash
            side.count += 1
        for account_id in (item.debit_account_id, item.credit_account_id):
            stored = self._stored.get(account_id)
            if stored is not None and stored.ledger != item.ledger:
                self.fail(
                    Failure(
                        FailureKind.LEDGER_UNBALANCED,
                        "a transfer joins an account of another ledger",
                        account_id=account_id,
                        transfer_id=item.id,
                        ledger=item.ledger,
                        field="ledger",
                        expected=str(item.ledger),
                        actual=str(stored.ledger),
                    )
                )
        self._book(item, debit, credit)

    def _side(self, account_id: uuid.UUID) -> _Recomputed:
        return self._recomputed.setdefault(account_id, _Recomputed())

    def _link(
        self,
        item: chain.HashInput,
        side: _Recomputed,
        account_id: uuid.UUID,
        recorded: bytes | None,
        name: str,
    ) -> None:
        if recorded != side.head:
            self.fail(
                Failure(
                    FailureKind.CHAIN_LINK_BROKEN,
                    f"the {name} side's previous hash is not the account's preceding transfer",
                    account_id=account_id,
                    transfer_id=item.id,
                    field=f"{name}_previous_hash",
                    expected=_hex(side.head),
                    actual=_hex(recorded),
                )
            )

    def _book(self, item: chain.HashInput, debit: _Recomputed, credit: _Recomputed) -> None:
        phase = item.flags & _PHASE_BITS
        amount = item.amount
        if phase == TransferFlag.PENDING:
            debit.debits_pending += amount
            credit.credits_pending += amount
            self._open[item.id] = _Open(
                item.debit_account_id, item.credit_account_id, amount, item.expires_at
            )
            return
        if phase in (TransferFlag.POST_PENDING, TransferFlag.VOID_PENDING):
            self._resolve(item, debit, credit, post=phase == TransferFlag.POST_PENDING)
            return
        debit.debits_posted += amount
        credit.credits_posted += amount
        if item.code == TransferCode.KEY_BUDGET_ALLOCATION:
            for account_id, side, sign in (
                (item.credit_account_id, credit, 1),
                (item.debit_account_id, debit, -1),
            ):
                stored = self._stored.get(account_id)
                if stored is not None and stored.kind == AccountKind.KEY_BUDGET:
                    side.limit_micros += sign * amount

    def _resolve(
        self, item: chain.HashInput, debit: _Recomputed, credit: _Recomputed, *, post: bool
    ) -> None:
        pending = self._open.pop(item.pending_id, None) if item.pending_id else None
        problem = None
        if pending is None:
            problem = "names no open pending transfer (unknown, or already resolved)"
        elif (pending.debit_account_id, pending.credit_account_id) != (
            item.debit_account_id,
            item.credit_account_id,
        ):
            problem = "has other accounts than its pending transfer"
        elif post and item.amount > pending.amount:
            problem = "posts more than its pending transfer holds"
        elif not post and item.amount != pending.amount:
            problem = "voids another amount than its pending transfer holds"
        elif post and pending.expires_at is not None and item.created_at >= pending.expires_at:
            problem = "posts a pending transfer after it expired"
        if problem is not None:
            self.fail(
                Failure(
                    FailureKind.PENDING_RESOLUTION_INVALID,
                    f"the resolution {problem}",
                    transfer_id=item.id,
                    field="pending_id",
                    actual=str(item.pending_id),
                )
            )
        if pending is not None:
            self._side(pending.debit_account_id).debits_pending -= pending.amount
            self._side(pending.credit_account_id).credits_pending -= pending.amount
        if post:
            debit.debits_posted += item.amount
            credit.credits_posted += item.amount

    # -- result --------------------------------------------------------------------------------

    def finish(self) -> Report:
        for account_id, recomputed in self._recomputed.items():
            stored = self._stored.get(account_id)
            if stored is None:
                self.fail(
                    Failure(
                        FailureKind.BALANCE_MISMATCH,
                        "transfers name an account that does not exist",
                        account_id=account_id,
                        field="account",
                        expected="present",
                        actual="missing",
                    )
                )
                continue
            self._compare(stored, recomputed)
        stored_totals = self._totals((account.ledger, account) for account in self._stored.values())
        recomputed_totals = self._totals(
            (self._stored[account_id].ledger, recomputed)
            for account_id, recomputed in self._recomputed.items()
            if account_id in self._stored
        )
        for origin, totals in (("stored", stored_totals), ("recomputed", recomputed_totals)):
            for item in totals:
                self._balanced(item, origin)
        overdue_before = self.now - datetime.timedelta(seconds=self.overdue_grace_s)
        for transfer_id, pending in sorted(self._open.items()):
            if pending.expires_at is not None and pending.expires_at <= overdue_before:
                self.fail(
                    Failure(
                        FailureKind.HOLD_OVERDUE,
                        "a pending transfer is unresolved past its timeout plus the grace",
                        transfer_id=transfer_id,
                        account_id=pending.debit_account_id,
                        field="expires_at",
                        actual=pending.expires_at.isoformat(),
                    )
                )
        return Report(
            accounts_checked=len(self._stored),
            transfers_checked=self.transfers_checked,
            totals=recomputed_totals,
            failures=tuple(self.failures),
            failures_found=self.failures_found,
        )

    def _compare(self, stored: StoredAccount, recomputed: _Recomputed) -> None:
        for name in (
            "debits_pending",
            "debits_posted",
            "credits_pending",
            "credits_posted",
            "limit_micros",
        ):
            expected, actual = getattr(recomputed, name), getattr(stored, name)
            if expected != actual:
                self.fail(
                    Failure(
                        FailureKind.BALANCE_MISMATCH,
                        "a stored counter differs from the sum of the account's transfers",
                        account_id=stored.id,
                        field=_FIELD_NAMES[name],
                        expected=str(expected),
                        actual=str(actual),
                    )
                )
        if recomputed.head != stored.chain_head or recomputed.count != stored.transfer_count:
            self.fail(
                Failure(
                    FailureKind.CHAIN_HEAD_MISMATCH,
                    "the stored chain head is not the account's last transfer",
                    account_id=stored.id,
                    field="chain_head_hash",
                    expected=f"{_hex(recomputed.head)}#{recomputed.count}",
                    actual=f"{_hex(stored.chain_head)}#{stored.transfer_count}",
                )
            )
        debits = stored.debits_pending + stored.debits_posted
        credits = stored.credits_pending + stored.credits_posted
        negative = min(
            stored.debits_pending,
            stored.debits_posted,
            stored.credits_pending,
            stored.credits_posted,
        )
        if (
            negative < 0
            or (stored.debits_must_not_exceed_credits and debits > stored.credits_posted)
            or (stored.credits_must_not_exceed_debits and credits > stored.debits_posted)
        ):
            self.fail(
                Failure(
                    FailureKind.ACCOUNT_FLAG_VIOLATED,
                    "the account's counters break its flags (e.g. a wallet below zero)",
                    account_id=stored.id,
                    field="available_micros",
                    actual=str(
                        stored.credits_posted - stored.debits_posted - stored.debits_pending
                    ),
                )
            )

    @staticmethod
    def _totals(
        items: Iterable[tuple[int, StoredAccount | _Recomputed]],
    ) -> tuple[Totals, ...]:
        sums: dict[int, list[int]] = {int(ledger): [0, 0, 0, 0] for ledger in Ledger}
        for ledger, account in items:
            row = sums.setdefault(ledger, [0, 0, 0, 0])
            row[0] += account.debits_posted
            row[1] += account.credits_posted
            row[2] += account.debits_pending
            row[3] += account.credits_pending
        return tuple(
            Totals(ledger, debits_posted=a, credits_posted=b, debits_pending=c, credits_pending=d)
            for ledger, (a, b, c, d) in sorted(sums.items())
        )

    def _balanced(self, totals: Totals, origin: str) -> None:
        for phase, debits, credits in (
            ("posted", totals.debits_posted, totals.credits_posted),
            ("pending", totals.debits_pending, totals.credits_pending),
        ):
            if debits != credits:
                self.fail(
                    Failure(
                        FailureKind.LEDGER_UNBALANCED,
                        f"{origin} total debits differ from total credits",
                        ledger=totals.ledger,
                        field=phase,
                        expected=str(debits),
                        actual=str(credits),
                    )
                )


_PHASE_BITS = int(TransferFlag.PENDING | TransferFlag.POST_PENDING | TransferFlag.VOID_PENDING)
_FIELD_NAMES = {
    "debits_pending": "debits_pending_micros",
    "debits_posted": "debits_posted_micros",
    "credits_pending": "credits_pending_micros",
    "credits_posted": "credits_posted_micros",
    "limit_micros": "limit_micros",
}


def _hex(value: bytes | None) -> str:
    return "" if value is None else value.hex()

"""Pure rules: the canonical hash (and its SQL twin), settlement and key-budget arithmetic, the
verifier on synthetic ledgers, page tokens, and who may spend what."""

from __future__ import annotations

import datetime
import uuid

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.wallet.domain import authority, chain, holds, pagination
from services.wallet.domain.ledger import AccountIdentity, AccountKind, TransferFlag
from services.wallet.domain.principal import Principal, PrincipalKind, Scope
from services.wallet.domain.results import Result
from services.wallet.domain.validation import Invalid
from services.wallet.domain.verification import (
    FailureKind,
    LedgerVerifier,
    StoredAccount,
    StoredTransfer,
)
from tests.conftest import WalletServerHandle

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
moments = st.integers(min_value=0, max_value=4_102_444_800_000_000).map(
    lambda micros: EPOCH + datetime.timedelta(microseconds=micros)
)
# Protobuf strings are valid UTF-8 and the API refuses NUL (PostgreSQL text cannot hold it).
texts = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40
)
hashes = st.none() | st.binary(min_size=32, max_size=32)
uuids = st.uuids()
hash_inputs = st.builds(
    chain.HashInput,
    id=uuids,
    sequence=st.integers(min_value=1, max_value=2**63 - 1),
    debit_account_id=uuids,
    credit_account_id=uuids,
    amount=st.integers(min_value=1, max_value=10**15),
    ledger=st.sampled_from([1, 2]),
    code=st.integers(min_value=1, max_value=11),
    flags=st.sampled_from([0, 1, 2, 3, 4, 5, 8, 9]),
    pending_id=st.none() | uuids,
    timeout_s=st.integers(min_value=0, max_value=3600),
    expires_at=st.none() | moments,
    reference=texts,
    memo=texts,
    initiator_kind=st.sampled_from(["agent", "account", "service", "wallet"]),
    initiator_subject=texts,
    initiator_agent_id=st.none() | uuids,
    initiator_account_id=st.none() | uuids,
    initiator_key_id=st.none() | uuids,
    initiator_peer=texts,
    initiator_request_id=texts,
    created_at=moments,
    debit_previous_hash=hashes,
    credit_previous_hash=hashes,
)


@pytest.fixture(scope="module")
def owner(wallet_server: WalletServerHandle) -> psycopg.Connection:
    with psycopg.connect(wallet_server.owner_url, autocommit=True) as connection:
        yield connection


SQL_HASH = (
    "SELECT wallet.transfer_hash(%s, %s, %s, %s, %s, %s::smallint, %s::smallint, %s::smallint, "
    "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


@settings(
    max_examples=150,
    deadline=None,
    # The fixtures are read-only connections; sharing them across examples changes nothing.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(item=hash_inputs)
def test_the_python_hash_is_byte_for_byte_the_databases(
    owner: psycopg.Connection, item: chain.HashInput
) -> None:
    row = owner.execute(
        SQL_HASH,
        (
            item.id,
            item.sequence,
            item.debit_account_id,
            item.credit_account_id,
            item.amount,
            item.ledger,
            item.code,
            item.flags,
            item.pending_id,
            item.timeout_s,
            item.expires_at,
            item.reference,
            item.memo,
            item.initiator_kind,
            item.initiator_subject,
            item.initiator_agent_id,
            item.initiator_account_id,
            item.initiator_key_id,
            item.initiator_peer,
            item.initiator_request_id,
            item.created_at,
            item.debit_previous_hash,
            item.credit_previous_hash,
        ),
    ).fetchone()
    assert row is not None
    assert bytes(row[0]) == chain.transfer_hash(item)


@given(item=hash_inputs, other=hash_inputs)
def test_every_field_is_covered_by_the_hash(item: chain.HashInput, other: chain.HashInput) -> None:
    for name in chain.HashInput.__dataclass_fields__:
        changed = chain.HashInput(**{**item.__dict__, name: getattr(other, name)})
        if getattr(other, name) != getattr(item, name):
            assert chain.transfer_hash(changed) != chain.transfer_hash(item), name


# -- settlement ----------------------------------------------------------------------------------

amounts = st.integers(min_value=1, max_value=10**12)


@given(
    cost=amounts,
    held=amounts,
    expired=st.booleans(),
    wallet=st.integers(min_value=0, max_value=10**12),
    budget=st.none() | st.integers(min_value=0, max_value=10**12),
)
def test_a_settlement_charges_the_cost_exactly_once_and_never_overdraws(
    cost: int, held: int, expired: bool, wallet: int, budget: int | None
) -> None:
    wallet_available = wallet + (0 if expired else held)
    budget_available = None if budget is None else budget + (0 if expired else held)
    settled = holds.settle(
        cost=cost,
        held=held,
        expired=expired,
        wallet_available=wallet_available,
        budget_available=budget_available,
    )
    assert settled.captured + settled.overage + settled.shortfall == cost
    assert settled.captured == (0 if expired else min(cost, held))
    assert settled.captured + settled.overage <= wallet_available
    if budget_available is not None:
        assert settled.captured + settled.overage <= budget_available
    if settled.shortfall:
        # Something ran out: nothing more could have been charged.
        rooms = [wallet_available] + ([budget_available] if budget_available is not None else [])
        assert settled.captured + settled.overage == min(rooms)


@given(
    allocated=st.integers(min_value=0, max_value=10**12),
    spent=st.integers(min_value=0, max_value=10**12),
    limit=st.integers(min_value=0, max_value=10**12),
)
def test_a_key_budget_is_brought_to_its_limit_without_going_below_its_spend(
    allocated: int, spent: int, limit: int
) -> None:
    spent = min(spent, allocated)  # a budget can never be overdrawn
    delta = holds.allocation_delta(
        limit_micros=limit, allocated_micros=allocated, available_micros=allocated - spent
    )
    allocated_after = allocated + delta
    assert allocated_after >= spent
    assert allocated_after - spent == max(limit - spent, 0)


def test_derived_hold_ids_are_uuid5_of_the_callers_ids() -> None:
    hold_id = uuid.UUID("0b0c6f1e-3a52-4d0e-9c55-2f8a7c4e9d11")
    assert holds.budget_transfer_id(hold_id) == uuid.uuid5(hold_id, "key-budget")
    assert holds.overage_transfer_id(hold_id) == uuid.uuid5(hold_id, "overage")
    assert holds.overage_budget_transfer_id(hold_id) == uuid.uuid5(hold_id, "overage-key-budget")
    assert len({holds.expiry_transfer_id(hold_id), holds.budget_side(hold_id), hold_id}) == 3


# -- the verifier on synthetic ledgers -----------------------------------------------------------


def _account(
    account_id: uuid.UUID,
    ledger: int = 1,
    *,
    head: bytes | None = None,
    count: int = 0,
    debits_posted: int = 0,
    credits_posted: int = 0,
) -> StoredAccount:
    return StoredAccount(
        id=account_id,
        kind="agent_wallet",
        ledger=ledger,
        debits_must_not_exceed_credits=False,
        credits_must_not_exceed_debits=False,
        debits_pending=0,
        debits_posted=debits_posted,
        credits_pending=0,
        credits_posted=credits_posted,
        limit_micros=0,
        chain_head=head,
        transfer_count=count,
    )


def _transfer(
    sequence: int,
    debit: uuid.UUID,
    credit: uuid.UUID,
    amount: int,
    *,
    ledger: int = 1,
    previous: tuple[bytes | None, bytes | None] = (None, None),
) -> StoredTransfer:
    fields = chain.HashInput(
        id=uuid.uuid4(),
        sequence=sequence,
        debit_account_id=debit,
        credit_account_id=credit,
        amount=amount,
        ledger=ledger,
        code=3,
        flags=int(TransferFlag.NONE),
        pending_id=None,
        timeout_s=0,
        expires_at=None,
        reference="",
        memo="",
        initiator_kind="wallet",
        initiator_subject="wallet",
        initiator_agent_id=None,
        initiator_account_id=None,
        initiator_key_id=None,
        initiator_peer="wallet",
        initiator_request_id="",
        created_at=EPOCH,
        debit_previous_hash=previous[0],
        credit_previous_hash=previous[1],
    )
    return StoredTransfer(fields=fields, hash=chain.transfer_hash(fields))


def _verify(accounts: list[StoredAccount], transfers: list[StoredTransfer]) -> set[FailureKind]:
    verifier = LedgerVerifier(now=EPOCH, overdue_grace_s=60, max_failures=100)
    verifier.add_accounts(accounts)
    verifier.add_transfers(transfers)
    report = verifier.finish()
    return {failure.kind for failure in report.failures}


def test_a_consistent_synthetic_ledger_verifies() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    first = _transfer(1, a, b, 5)
    second = _transfer(2, b, a, 2, previous=(first.hash, first.hash))
    accounts = [
        _account(a, debits_posted=5, credits_posted=2, head=second.hash, count=2),
        _account(b, debits_posted=2, credits_posted=5, head=second.hash, count=2),
    ]
    assert _verify(accounts, [first, second]) == set()


def test_a_transfer_across_ledgers_unbalances_both() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    moved = _transfer(1, a, b, 5)
    accounts = [
        _account(a, debits_posted=5, head=moved.hash, count=1),
        _account(b, ledger=2, credits_posted=5, head=moved.hash, count=1),
    ]
    assert FailureKind.LEDGER_UNBALANCED in _verify(accounts, [moved])


def test_a_transfer_naming_a_missing_account_is_reported() -> None:
    a = uuid.uuid4()
    moved = _transfer(1, a, uuid.uuid4(), 5)
    accounts = [_account(a, debits_posted=5, head=moved.hash, count=1)]
    assert FailureKind.BALANCE_MISMATCH in _verify(accounts, [moved])


# -- page tokens ---------------------------------------------------------------------------------


def test_page_tokens_round_trip_and_are_bound_to_their_filter() -> None:
    token = pagination.encode(list_name="transfers", filters={"a": 1}, position=("x", "y"))
    assert pagination.decode(token, list_name="transfers", filters={"a": 1}, width=2) == ("x", "y")
    for kwargs in (
        {"list_name": "transfers", "filters": {"a": 2}, "width": 2},
        {"list_name": "holds", "filters": {"a": 1}, "width": 2},
        {"list_name": "transfers", "filters": {"a": 1}, "width": 3},
    ):
        with pytest.raises(Invalid, match="PAGE_TOKEN_INVALID"):
            pagination.decode(token, **kwargs)
    for garbage in ("!!!", "e30", "x" * 600):
        with pytest.raises(Invalid, match="PAGE_TOKEN_INVALID"):
            pagination.decode(garbage, list_name="transfers", filters={"a": 1}, width=2)
    assert pagination.page_size(0) == 50 and pagination.page_size(10_000) == 200


# -- authority -----------------------------------------------------------------------------------

AGENT, OTHER_AGENT, ACCOUNT = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
AGENT_WALLET = AccountIdentity(uuid.uuid4(), AccountKind.AGENT_WALLET, agent_id=AGENT)
OTHER_WALLET = AccountIdentity(uuid.uuid4(), AccountKind.AGENT_WALLET, agent_id=OTHER_AGENT)
MAIN_WALLET = AccountIdentity(uuid.uuid4(), AccountKind.ACCOUNT_WALLET, account_id=ACCOUNT)
TREASURY = AccountIdentity(uuid.uuid4(), AccountKind.TREASURY)


def _principal(kind: str) -> Principal:
    if kind == "agent_key":
        return Principal(
            kind=PrincipalKind.AGENT_KEY,
            subject=f"agent:{AGENT}",
            scopes=frozenset({Scope.AGENT_READ, Scope.AGENT_WRITE}),
            peer="gateway",
            agent_id=AGENT,
            key_id=uuid.uuid4(),
            agent_claimed=True,
        )
    if kind == "unclaimed_agent_key":
        return Principal(
            kind=PrincipalKind.AGENT_KEY,
            subject=f"agent:{AGENT}",
            scopes=frozenset({Scope.AGENT_READ, Scope.AGENT_WRITE}),
            peer="gateway",
            agent_id=AGENT,
            key_id=uuid.uuid4(),
            agent_claimed=False,
        )
    if kind == "session":
        return Principal(
            kind=PrincipalKind.SESSION,
            subject=f"account:{ACCOUNT}",
            scopes=frozenset({Scope.ACCOUNT}),
            peer="gateway",
            account_id=ACCOUNT,
        )
    return Principal(
        kind=PrincipalKind.SESSION,
        subject=f"account:{ACCOUNT}",
        scopes=frozenset({Scope.ACCOUNT, Scope.AGENT_READ, Scope.AGENT_WRITE}),
        peer="gateway",
        account_id=ACCOUNT,
        agent_id=AGENT,
        agent_claimed=True,
    )


@pytest.mark.parametrize(
    ("principal", "wallet", "expected"),
    [
        ("agent_key", AGENT_WALLET, None),
        ("agent_key", MAIN_WALLET, Result.DEBIT_ACCOUNT_NOT_ALLOWED),
        ("agent_key", OTHER_WALLET, Result.DEBIT_ACCOUNT_NOT_ALLOWED),
        ("unclaimed_agent_key", AGENT_WALLET, Result.DEBIT_AGENT_NOT_CLAIMED),
        ("session", MAIN_WALLET, None),
        ("session", AGENT_WALLET, Result.DEBIT_ACCOUNT_NOT_ALLOWED),
        ("session_acting", AGENT_WALLET, None),
        ("session_acting", MAIN_WALLET, None),
        ("session_acting", OTHER_WALLET, Result.DEBIT_ACCOUNT_NOT_ALLOWED),
        ("session_acting", TREASURY, Result.DEBIT_ACCOUNT_NOT_ALLOWED),
    ],
)
def test_who_may_spend_from_which_wallet(
    principal: str, wallet: AccountIdentity, expected: Result | None
) -> None:
    assert authority.spend_denial(_principal(principal), wallet) == expected


def test_an_agent_principal_can_never_carry_an_account() -> None:
    with pytest.raises(AssertionError):
        Principal(
            kind=PrincipalKind.AGENT_KEY,
            subject=f"agent:{AGENT}",
            scopes=frozenset({Scope.ACCOUNT}),
            peer="gateway",
            agent_id=AGENT,
            account_id=ACCOUNT,
            agent_claimed=True,
        )

"""THREATS M5 (the database refuses balance and ledger edits) and M6 (edits made anyway, with
superuser rights, are detected by VerifyLedger), plus the named constraints and grants behind
the README's guarantees."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import errors
from tokenmart.wallet.v1 import wallet_pb2

from ops.database import DOMAIN_SERVICES, ServiceDatabase
from services.wallet.store.models import ACCOUNT_MUTABLE_COLUMNS, HOLD_MUTABLE_COLUMNS
from tests.conftest import AuthServerHandle, ManualClock, WalletServerHandle
from tests.wallet.helpers import CREDIT, Rows, World, failures, rid, world_for

F = wallet_pb2.VerificationFailureKind


@pytest.fixture
def runtime(service_databases: dict[str, ServiceDatabase]) -> Iterator[psycopg.Connection]:
    with psycopg.connect(service_databases["wallet"].runtime_url, autocommit=True) as connection:
        yield connection


async def a_transfer(world: World) -> tuple[str, str]:
    """(transfer id, debit wallet id) of a fresh transfer between two new agents."""
    alice = await world.funded_agent(5 * CREDIT)
    bob = await world.agent()
    response = await world.gateway.CreateTransfer(
        wallet_pb2.CreateTransferRequest(
            request_id=rid(), transfer_id=rid(), to_agent_id=bob.agent_id, amount_micros=CREDIT
        ),
        metadata=await world.token(alice.api_key),
    )
    return response.transfer.transfer_id, alice.wallet_id


# -- M5: the database itself refuses -------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE wallet.transfers SET amount = amount + 1 WHERE id = %s",
        "DELETE FROM wallet.transfers WHERE id = %s",
        "UPDATE wallet.transfers SET hash = hash WHERE id = %s",
    ],
)
async def test_m5_the_runtime_role_cannot_update_or_delete_transfers(
    world: World, runtime: psycopg.Connection, statement: str
) -> None:
    transfer_id, _ = await a_transfer(world)
    with pytest.raises(errors.InsufficientPrivilege):
        runtime.execute(statement, (uuid.UUID(transfer_id),))
    with pytest.raises(errors.InsufficientPrivilege):
        runtime.execute("TRUNCATE wallet.transfers")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE wallet.ledger_accounts SET kind = 'treasury' WHERE id = %s",
        "UPDATE wallet.ledger_accounts SET agent_id = gen_random_uuid() WHERE id = %s",
        "UPDATE wallet.ledger_accounts SET debits_must_not_exceed_credits = false WHERE id = %s",
        "DELETE FROM wallet.ledger_accounts WHERE id = %s",
    ],
)
async def test_m5_the_runtime_role_cannot_change_what_an_account_is(
    world: World, runtime: psycopg.Connection, statement: str
) -> None:
    _, wallet_id = await a_transfer(world)
    with pytest.raises(errors.InsufficientPrivilege):
        runtime.execute(statement, (uuid.UUID(wallet_id),))


async def test_m5_no_user_wallet_goes_below_zero_even_for_the_runtime_role(
    world: World, runtime: psycopg.Connection
) -> None:
    _, wallet_id = await a_transfer(world)
    with pytest.raises(errors.CheckViolation) as violated:
        runtime.execute(
            "UPDATE wallet.ledger_accounts SET debits_posted = credits_posted + 1 WHERE id = %s",
            (uuid.UUID(wallet_id),),
        )
    assert (
        violated.value.diag.constraint_name == "ck_ledger_accounts_debits_must_not_exceed_credits"
    )
    with pytest.raises(errors.CheckViolation) as negative:
        runtime.execute(
            "UPDATE wallet.ledger_accounts SET debits_pending = -1 WHERE id = %s",
            (uuid.UUID(wallet_id),),
        )
    assert negative.value.diag.constraint_name == "ck_ledger_accounts_debits_pending_not_negative"


def test_m5_an_account_cannot_be_opened_with_credits(runtime: psycopg.Connection) -> None:
    with pytest.raises(errors.RestrictViolation):
        runtime.execute(
            "INSERT INTO wallet.ledger_accounts (id, kind, ledger, agent_id, "
            "debits_must_not_exceed_credits, credits_must_not_exceed_debits, debits_pending, "
            "debits_posted, credits_pending, credits_posted, limit_micros, transfer_count, "
            "created_at, updated_at) VALUES (gen_random_uuid(), 'agent_wallet', 1, "
            "gen_random_uuid(), true, false, 0, 0, 0, 1000000, 0, 0, now(), now())"
        )


@pytest.mark.parametrize("other", [service for service in DOMAIN_SERVICES if service != "wallet"])
@pytest.mark.parametrize("role", ["runtime", "owner"])
async def test_m5_no_other_services_role_can_touch_balances_or_transfers(
    world: World, service_databases: dict[str, ServiceDatabase], other: str, role: str
) -> None:
    transfer_id, wallet_id = await a_transfer(world)
    database = service_databases[other]
    url = database.runtime_url if role == "runtime" else database.owner_url
    with psycopg.connect(url, autocommit=True) as connection:
        for statement, value in (
            (
                "UPDATE wallet.ledger_accounts SET credits_posted = credits_posted + 1 "
                "WHERE id = %s",
                wallet_id,
            ),
            ("UPDATE wallet.transfers SET amount = 1 WHERE id = %s", transfer_id),
            ("DELETE FROM wallet.transfers WHERE id = %s", transfer_id),
            ("SELECT count(*) FROM wallet.transfers WHERE id = %s", transfer_id),
            (
                "SELECT * FROM wallet.apply_transfers(NULL, NULL, NULL, NULL, NULL, NULL, "
                "NULL, NULL, NULL, NULL, NULL, NULL, now(), '', '', NULL, NULL, NULL, '', '') "
                "WHERE %s IS NOT NULL",
                wallet_id,
            ),
            (
                # The one-statement path (migration wallet_0003): as closed as apply_transfers.
                "SELECT * FROM wallet.apply_transfers_once('k', 'c', 'm', 'r', "
                "decode(repeat('00', 32), 'hex'), true, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
                "NULL, NULL, NULL, NULL, NULL, now(), '', '', NULL, NULL, NULL, '', '') "
                "WHERE %s IS NOT NULL",
                wallet_id,
            ),
        ):
            with pytest.raises(errors.InsufficientPrivilege):
                connection.execute(statement, (uuid.UUID(value),))


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE wallet.transfers SET memo = 'edited' WHERE id = %s",
        "DELETE FROM wallet.transfers WHERE id = %s",
    ],
)
async def test_even_the_schema_owner_meets_the_append_only_trigger(
    world: World, rows: Rows, statement: str
) -> None:
    transfer_id, _ = await a_transfer(world)
    with rows.connect() as connection, pytest.raises(errors.RestrictViolation):
        connection.execute(statement, (uuid.UUID(transfer_id),))
    with rows.connect() as connection, pytest.raises(errors.RestrictViolation):
        connection.execute("TRUNCATE wallet.holds, wallet.transfers, wallet.ledger_accounts")


def test_the_runtime_role_holds_exactly_the_privileges_the_wallet_needs(rows: Rows) -> None:
    role = rows.value(
        "SELECT grantee FROM information_schema.role_table_grants "
        "WHERE table_schema = 'wallet' AND table_name = 'transfers' AND grantee <> current_user "
        "GROUP BY grantee"
    )
    tables = {
        table: {
            privilege
            for (privilege,) in rows.rows(
                "SELECT privilege_type FROM information_schema.role_table_grants "
                "WHERE table_schema = 'wallet' AND table_name = %s AND grantee = %s",
                table,
                role,
            )
        }
        for table in ("ledger_accounts", "transfers", "holds", "request_log")
    }
    assert tables == {
        "ledger_accounts": {"SELECT", "INSERT"},
        "transfers": {"SELECT", "INSERT"},
        "holds": {"SELECT", "INSERT"},
        "request_log": {"SELECT", "INSERT"},
    }
    for table, columns in (
        ("ledger_accounts", ACCOUNT_MUTABLE_COLUMNS),
        ("holds", HOLD_MUTABLE_COLUMNS),
    ):
        updatable = {
            column
            for (column,) in rows.rows(
                "SELECT column_name FROM information_schema.column_privileges "
                "WHERE table_schema = 'wallet' AND table_name = %s AND grantee = %s "
                "AND privilege_type = 'UPDATE'",
                table,
                role,
            )
        }
        assert updatable == set(columns)


def test_the_ledgers_invariants_are_named_constraints(rows: Rows) -> None:
    names = {
        name
        for (name,) in rows.rows(
            "SELECT conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
            "WHERE n.nspname = 'wallet'"
        )
    } | {
        name
        for (name,) in rows.rows("SELECT indexname FROM pg_indexes WHERE schemaname = 'wallet'")
    }
    assert {
        "ck_ledger_accounts_debits_must_not_exceed_credits",
        "ck_ledger_accounts_credits_must_not_exceed_debits",
        "ck_ledger_accounts_debits_pending_not_negative",
        "ck_ledger_accounts_debits_posted_not_negative",
        "ck_ledger_accounts_credits_pending_not_negative",
        "ck_ledger_accounts_credits_posted_not_negative",
        "ck_ledger_accounts_flags_follow_kind",
        "uq_ledger_accounts_agent_id",
        "uq_ledger_accounts_account_id",
        "uq_ledger_accounts_key_id",
        "uq_ledger_accounts_one_per_system_kind",
        "ck_transfers_amount_range",
        "ck_transfers_one_phase_at_most",
        "ck_transfers_resolution_names_pending",
        "uq_transfers_pending_id",
        "uq_transfers_sequence",
        "ck_transfers_hash_is_sha256",
        "ck_holds_resolved_iff_done",
    } <= names


async def test_a_pending_transfer_resolves_at_most_once_in_the_database(
    world: World, rows: Rows
) -> None:
    agent = await world.funded_agent(5 * CREDIT)
    key = await world.key(agent)
    hold = (
        await world.provider.CreateHold(
            wallet_pb2.CreateHoldRequest(
                request_id=rid(),
                hold_id=rid(),
                amount_micros=CREDIT,
                timeout_s=600,
                code=wallet_pb2.TRANSFER_CODE_INFERENCE,
            ),
            metadata=await world.token(key.raw),
        )
    ).hold
    pending = hold.transfers[0]
    insert = (
        "INSERT INTO wallet.transfers (id, sequence, debit_account_id, credit_account_id, "
        "amount, ledger, code, flags, pending_id, timeout_s, reference, memo, initiator_kind, "
        "initiator_subject, initiator_peer, initiator_request_id, hash, created_at) VALUES "
        "(gen_random_uuid(), nextval('wallet.transfer_sequence'), %s, %s, %s, 1, 4, 8, %s, 0, "
        "'', '', 'wallet', 'wallet', 'wallet', '', sha256('x'), now())"
    )
    values = (
        uuid.UUID(pending.debit_ledger_account_id),
        uuid.UUID(pending.credit_ledger_account_id),
        CREDIT,
        uuid.UUID(hold.hold_id),
    )
    with psycopg.connect(rows.url) as connection:  # one transaction, rolled back
        connection.execute(insert, values)
        with pytest.raises(errors.UniqueViolation) as duplicate:
            connection.execute(insert, values)
        assert duplicate.value.diag.constraint_name == "uq_transfers_pending_id"
        connection.rollback()


# -- M6: tampering with superuser rights is detected ---------------------------------------------


@dataclass
class Tamper:
    world: World
    admin: psycopg.Connection
    clock: ManualClock
    grace_s: float

    def sql(self, statement: str, *params: object) -> None:
        self.admin.execute(statement, params)

    def value(self, statement: str, *params: object) -> object:
        row = self.admin.execute(statement, params).fetchone()
        assert row is not None
        return row[0]


@pytest.fixture
async def tamper(
    start_wallet_server: Callable[..., WalletServerHandle],
    auth_server: AuthServerHandle,
    fresh_wallet_database: ServiceDatabase,
    fresh_admin_url: str,
) -> AsyncIterator[Tamper]:
    """A ledger of its own with some history, and a superuser connection to it."""
    clock = ManualClock()
    server = start_wallet_server(database=fresh_wallet_database, clock=clock, sweeper=False)
    async with world_for(server, auth_server) as world:
        alice = await world.funded_agent(50 * CREDIT)
        bob, carol = await world.agent(), await world.agent()
        for payer, payee in ((alice, bob), (bob, carol), (alice, carol), (alice, bob)):
            await world.gateway.CreateTransfer(
                wallet_pb2.CreateTransferRequest(
                    request_id=rid(),
                    transfer_id=rid(),
                    to_agent_id=payee.agent_id,
                    amount_micros=CREDIT,
                ),
                metadata=await world.token(payer.api_key),
            )
        key = await world.key(alice, credit_limit_micros=10 * CREDIT)
        token = await world.token(key.raw)
        for settle in ("post", "void", "keep"):
            hold = (
                await world.provider.CreateHold(
                    wallet_pb2.CreateHoldRequest(
                        request_id=rid(),
                        hold_id=rid(),
                        amount_micros=2 * CREDIT,
                        timeout_s=600,
                        code=wallet_pb2.TRANSFER_CODE_INFERENCE,
                    ),
                    metadata=token,
                )
            ).hold
            if settle == "post":
                await world.provider.PostHold(
                    wallet_pb2.PostHoldRequest(
                        request_id=rid(),
                        hold_id=hold.hold_id,
                        post_transfer_id=rid(),
                        amount_micros=CREDIT,
                    ),
                    metadata=token,
                )
            elif settle == "void":
                await world.provider.VoidHold(
                    wallet_pb2.VoidHoldRequest(
                        request_id=rid(), hold_id=hold.hold_id, void_transfer_id=rid()
                    ),
                    metadata=token,
                )
        verified = await world.verify()
        assert verified.ok, failures(verified)
        assert verified.transfers_checked >= 13
        with psycopg.connect(fresh_admin_url, autocommit=True) as admin:
            yield Tamper(
                world=world,
                admin=admin,
                clock=clock,
                grace_s=server.settings.sweeper.overdue_grace_s,
            )


def found(response: wallet_pb2.VerifyLedgerResponse) -> set[tuple[int, str, str, str]]:
    """(kind, account, transfer, field) of every failure."""
    return {
        (item.kind, item.ledger_account_id, item.transfer_id, item.field)
        for item in response.failures
    }


async def test_m6_an_edited_amount_is_detected(tamper: Tamper) -> None:
    victim = str(
        tamper.value(
            "SELECT id FROM wallet.transfers WHERE code = 3 ORDER BY sequence LIMIT 1 OFFSET 1"
        )
    )
    debit, credit = (
        str(tamper.value("SELECT debit_account_id FROM wallet.transfers WHERE id = %s", victim)),
        str(tamper.value("SELECT credit_account_id FROM wallet.transfers WHERE id = %s", victim)),
    )
    tamper.sql("ALTER TABLE wallet.transfers DISABLE TRIGGER transfers_append_only")
    tamper.sql("UPDATE wallet.transfers SET amount = amount + 1 WHERE id = %s", victim)
    response = await tamper.world.verify()
    assert not response.ok
    assert {
        (F.VERIFICATION_FAILURE_KIND_TRANSFER_HASH_MISMATCH, "", victim, "hash"),
        (F.VERIFICATION_FAILURE_KIND_BALANCE_MISMATCH, debit, "", "debits_posted_micros"),
        (F.VERIFICATION_FAILURE_KIND_BALANCE_MISMATCH, credit, "", "credits_posted_micros"),
    } <= found(response)


async def test_m6_a_deleted_transfer_breaks_the_chain(tamper: Tamper) -> None:
    victim = str(
        tamper.value("SELECT id FROM wallet.transfers WHERE code = 3 ORDER BY sequence LIMIT 1")
    )
    tamper.sql("ALTER TABLE wallet.transfers DISABLE TRIGGER transfers_append_only")
    tamper.sql("DELETE FROM wallet.transfers WHERE id = %s", victim)
    response = await tamper.world.verify()
    kinds = {item.kind for item in response.failures}
    assert not response.ok
    assert F.VERIFICATION_FAILURE_KIND_CHAIN_LINK_BROKEN in kinds
    assert F.VERIFICATION_FAILURE_KIND_BALANCE_MISMATCH in kinds


async def test_m6_deleting_an_accounts_last_transfer_leaves_its_chain_head_dangling(
    tamper: Tamper,
) -> None:
    # The last user transfer is the last one its payee (bob) ever saw.
    latest = str(
        tamper.value(
            "SELECT id FROM wallet.transfers WHERE code = 3 ORDER BY sequence DESC LIMIT 1"
        )
    )
    payee = str(
        tamper.value("SELECT credit_account_id FROM wallet.transfers WHERE id = %s", latest)
    )
    tamper.sql("ALTER TABLE wallet.transfers DISABLE TRIGGER transfers_append_only")
    tamper.sql("DELETE FROM wallet.transfers WHERE id = %s", latest)
    response = await tamper.world.verify()
    assert {
        (F.VERIFICATION_FAILURE_KIND_CHAIN_HEAD_MISMATCH, payee, "", "chain_head_hash"),
        (F.VERIFICATION_FAILURE_KIND_BALANCE_MISMATCH, payee, "", "credits_posted_micros"),
    } <= found(response)


async def test_m6_a_rewritten_hash_still_breaks_the_next_link(tamper: Tamper) -> None:
    # The attacker knows the hash function and recomputes the edited row's hash; the chain
    # still gives it away, since the next transfer on that account recorded the old hash.
    victim = str(
        tamper.value("SELECT id FROM wallet.transfers WHERE code = 3 ORDER BY sequence LIMIT 1")
    )
    tamper.sql("ALTER TABLE wallet.transfers DISABLE TRIGGER transfers_append_only")
    tamper.sql(
        "UPDATE wallet.transfers SET amount = amount * 2, hash = wallet.transfer_hash(id, "
        "sequence, debit_account_id, credit_account_id, amount * 2, ledger, code, flags, "
        "pending_id, timeout_s, expires_at, reference, memo, initiator_kind, initiator_subject, "
        "initiator_agent_id, initiator_account_id, initiator_key_id, initiator_peer, "
        "initiator_request_id, created_at, debit_previous_hash, credit_previous_hash) "
        "WHERE id = %s",
        victim,
    )
    response = await tamper.world.verify()
    kinds = {item.kind for item in response.failures}
    assert F.VERIFICATION_FAILURE_KIND_TRANSFER_HASH_MISMATCH not in kinds
    assert {
        F.VERIFICATION_FAILURE_KIND_CHAIN_LINK_BROKEN,
        F.VERIFICATION_FAILURE_KIND_BALANCE_MISMATCH,
    } <= kinds


async def test_m6_a_balance_edited_in_sql_is_detected_and_unbalances_the_ledger(
    tamper: Tamper,
) -> None:
    wallet = str(
        tamper.value(
            "SELECT id FROM wallet.ledger_accounts WHERE kind = 'agent_wallet' ORDER BY id LIMIT 1"
        )
    )
    tamper.sql(
        "UPDATE wallet.ledger_accounts SET credits_posted = credits_posted + 1000000 WHERE id = %s",
        wallet,
    )
    response = await tamper.world.verify()
    assert {
        (F.VERIFICATION_FAILURE_KIND_BALANCE_MISMATCH, wallet, "", "credits_posted_micros"),
        (F.VERIFICATION_FAILURE_KIND_LEDGER_UNBALANCED, "", "", "posted"),
    } <= found(response)


async def test_m6_an_overdrawn_wallet_is_reported_even_without_its_constraint(
    tamper: Tamper,
) -> None:
    wallet = str(
        tamper.value(
            "SELECT id FROM wallet.ledger_accounts WHERE kind = 'agent_wallet' "
            "AND credits_posted > 0 ORDER BY id LIMIT 1"
        )
    )
    tamper.sql(
        "ALTER TABLE wallet.ledger_accounts "
        "DROP CONSTRAINT ck_ledger_accounts_debits_must_not_exceed_credits"
    )
    tamper.sql(
        "UPDATE wallet.ledger_accounts SET debits_posted = credits_posted + 1 WHERE id = %s",
        wallet,
    )
    response = await tamper.world.verify()
    assert (
        F.VERIFICATION_FAILURE_KIND_ACCOUNT_FLAG_VIOLATED,
        wallet,
        "",
        "available_micros",
    ) in found(response)


async def test_m6_a_resolution_pointed_at_another_pending_transfer_is_detected(
    tamper: Tamper,
) -> None:
    post = str(tamper.value("SELECT id FROM wallet.transfers WHERE (flags & 4) <> 0 LIMIT 1"))
    other = str(
        tamper.value(
            "SELECT id FROM wallet.transfers t WHERE (flags & 2) <> 0 AND NOT EXISTS "
            "(SELECT 1 FROM wallet.transfers r WHERE r.pending_id = t.id) LIMIT 1"
        )
    )
    tamper.sql("ALTER TABLE wallet.transfers DISABLE TRIGGER transfers_append_only")
    tamper.sql("UPDATE wallet.transfers SET pending_id = %s WHERE id = %s", other, post)
    response = await tamper.world.verify()
    kinds = {item.kind for item in response.failures}
    assert F.VERIFICATION_FAILURE_KIND_PENDING_RESOLUTION_INVALID in kinds
    assert F.VERIFICATION_FAILURE_KIND_TRANSFER_HASH_MISMATCH in kinds


async def test_a_hold_left_unresolved_past_its_timeout_is_overdue(tamper: Tamper) -> None:
    # The sweeper is off on this server: nothing voids the hold that expires.
    tamper.clock.advance(600 + tamper.grace_s + 1)
    response = await tamper.world.verify()
    assert [item.kind for item in response.failures] == [
        F.VERIFICATION_FAILURE_KIND_HOLD_OVERDUE
    ] * 2


async def test_failures_are_truncated_at_max_failures(tamper: Tamper) -> None:
    tamper.sql("ALTER TABLE wallet.transfers DISABLE TRIGGER transfers_append_only")
    tamper.sql("UPDATE wallet.transfers SET memo = 'rewritten'")
    response = await tamper.world.ctl.VerifyLedger(
        wallet_pb2.VerifyLedgerRequest(max_failures=2),
        metadata=await tamper.world.service_token("ctl"),
    )
    assert not response.ok
    assert len(response.failures) == 2
    assert response.failures_truncated

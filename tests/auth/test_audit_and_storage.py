"""The audit log and what the database holds: insert-only audit entries readable by admins and
ctl, no raw secret anywhere in the schema, constraints and triggers that hold even against a
buggy caller, and least-privilege grants."""

from __future__ import annotations

import datetime

import grpc
import psycopg
import pytest
from google.protobuf import timestamp_pb2
from tokenmart.auth.v1 import auth_pb2

from ops.database import ServiceDatabase
from tests.auth.helpers import AuthClient, Database, bearer, refused, rid


def _stamp(value: datetime.datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


async def test_admins_and_ctl_read_the_audit_log(client: AuthClient) -> None:
    account = await client.register_account()
    await client.login(account)
    admin = await client.admin_session()
    request = auth_pb2.ListAuditEventsRequest(account_id=account.account_id)
    for stub, metadata in (
        (client.stub, await client.token(admin.session_token)),
        (client.ctl, bearer(await client.operator_token())),
    ):
        events = (await stub.ListAuditEvents(request, metadata=metadata)).events
        assert [event.event_type for event in events] == [
            auth_pb2.AUDIT_EVENT_TYPE_LOGIN_SUCCEEDED,
            auth_pb2.AUDIT_EVENT_TYPE_ACCOUNT_REGISTERED,
        ]
        assert events[0].outcome == auth_pb2.AUDIT_OUTCOME_SUCCESS
        assert events[0].subject_session_id
    typed = await client.ctl.ListAuditEvents(
        auth_pb2.ListAuditEventsRequest(
            account_id=account.account_id,
            event_types=[auth_pb2.AUDIT_EVENT_TYPE_ACCOUNT_REGISTERED],
        ),
        metadata=bearer(await client.operator_token()),
    )
    assert len(typed.events) == 1


async def test_audit_paging_and_time_range(client: AuthClient) -> None:
    account = await client.register_account()
    for _ in range(3):
        await client.login(account)
    operator = bearer(await client.operator_token())
    seen: list[str] = []
    page_token = ""
    while True:
        page = await client.ctl.ListAuditEvents(
            auth_pb2.ListAuditEventsRequest(
                account_id=account.account_id, page_size=2, page_token=page_token
            ),
            metadata=operator,
        )
        seen += [event.event_id for event in page.events]
        page_token = page.next_page_token
        if not page_token:
            break
    assert len(seen) == len(set(seen)) == 4
    now = datetime.datetime.now(datetime.UTC)
    await refused(
        client.ctl.ListAuditEvents(
            auth_pb2.ListAuditEventsRequest(
                since=_stamp(now), until=_stamp(now - datetime.timedelta(hours=1))
            ),
            metadata=operator,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "TIME_RANGE_INVALID",
    )
    future = await client.ctl.ListAuditEvents(
        auth_pb2.ListAuditEventsRequest(
            account_id=account.account_id, since=_stamp(now + datetime.timedelta(hours=1))
        ),
        metadata=operator,
    )
    assert not future.events


async def test_users_cannot_read_the_audit_log(client: AuthClient) -> None:
    session = await client.new_session()
    await refused(
        client.stub.ListAuditEvents(
            auth_pb2.ListAuditEventsRequest(), metadata=await client.token(session.session_token)
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "SCOPE_MISSING",
    )


def test_the_runtime_role_cannot_change_or_remove_audit_entries(
    service_databases: dict[str, ServiceDatabase],
) -> None:
    with psycopg.connect(service_databases["auth"].runtime_url, autocommit=True) as connection:
        for statement in (
            "UPDATE auth.audit_events SET failure_reason = NULL",
            "DELETE FROM auth.audit_events",
            "TRUNCATE auth.audit_events",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                connection.execute(statement)


def test_the_runtime_role_deletes_nothing_anywhere(
    service_databases: dict[str, ServiceDatabase],
) -> None:
    with psycopg.connect(service_databases["auth"].runtime_url, autocommit=True) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'auth'"
            ).fetchall()
        ]
        for table in tables:
            granted = connection.execute(
                "SELECT has_table_privilege(current_user, %s, 'DELETE'), "
                "has_table_privilege(current_user, %s, 'TRUNCATE')",
                (f"auth.{table}", f"auth.{table}"),
            ).fetchone()
            assert granted == (False, False), table
        assert connection.execute(
            "SELECT has_table_privilege(current_user, 'auth.audit_events', 'UPDATE')"
        ).fetchone() == (False,)


async def test_raw_secrets_never_reach_the_database(client: AuthClient, db: Database) -> None:
    owner = await client.login(await client.register_account())
    agent = await client.register_agent()
    await client.claim(owner, agent)
    created = await client.create_key(owner.session_token, agent_id=agent.agent_id)
    identity = await client.stub.CreateIdentityToken(
        auth_pb2.CreateIdentityTokenRequest(request_id=rid(), audience="https://x.example"),
        metadata=await client.token(agent.api_key),
    )
    refreshed = await client.stub.RefreshSession(
        auth_pb2.RefreshSessionRequest(request_id=rid(), refresh_token=owner.refresh_token)
    )
    secrets = {
        "agent key": agent.api_key,
        "inference key": created.raw_key,
        "claim code": agent.claim_code,
        "session token": refreshed.session_token,
        "refresh token": refreshed.refresh_token,
        "old refresh token": owner.refresh_token,
        "identity token": identity.identity_token,
        "password": "correct horse battery staple",
    }
    columns = db.rows(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'auth' AND data_type IN ('text', 'bytea', 'jsonb', 'ARRAY', 'inet')"
    )
    assert len(columns) > 20
    for name, secret in secrets.items():
        for table, column, data_type in columns:
            # Raw bytes for bytea columns (digests, ciphertexts, replay-log answers), text for
            # everything else: any appearance anywhere in the schema fails.
            if data_type == "bytea":
                condition = f"position(convert_to(%s, 'UTF8') IN \"{column}\") > 0"
            else:
                condition = f'position(%s IN "{column}"::text) > 0'
            found = db.value(f'SELECT count(*) FROM "{table}" WHERE {condition}', secret)
            assert found == 0, f"the {name} appears in {table}.{column}"


CHECK = psycopg.errors.CheckViolation


@pytest.mark.parametrize(
    ("statement", "error"),
    [
        # A claimed agent has an owner; lifecycles, statuses and roles are closed sets.
        ("UPDATE agents SET lifecycle = 'claimed' WHERE owner_account_id IS NULL", CHECK),
        ("UPDATE agents SET owner_account_id = NULL WHERE lifecycle = 'claimed'", CHECK),
        ("UPDATE agents SET status = 'deleted'", CHECK),
        ("UPDATE agents SET trust_tier = 4", CHECK),
        ("UPDATE api_keys SET credit_limit_micros = -1", CHECK),
        ("UPDATE api_keys SET credit_limit_micros = 5 WHERE family = 'agent'", CHECK),
        ("UPDATE api_keys SET secret_hash = 'short'::bytea", CHECK),
        ("UPDATE accounts SET role = 'root'", CHECK),
        ("UPDATE accounts SET password_hash = 'plaintext'", CHECK),
        ("UPDATE accounts SET email = upper(email)", CHECK),
        (
            "INSERT INTO session_tokens SELECT gen_random_uuid(), session_id, generation + 1000,"
            " id, session_token_hash, sha256('x'), session_token_expires_at,"
            " refresh_token_expires_at, created_at, NULL FROM session_tokens LIMIT 1",
            psycopg.errors.UniqueViolation,
        ),
    ],
)
async def test_the_database_enforces_the_invariants(
    client: AuthClient, db: Database, statement: str, error: type[Exception]
) -> None:
    # Rows of every kind exist to violate with: a claimed and an unclaimed agent, keys, sessions.
    owner = await client.new_session()
    await client.owned_agent(owner)
    await client.register_agent()
    with (
        db.connect() as connection,
        pytest.raises(error),
        connection.transaction(force_rollback=True),
    ):
        connection.execute(statement)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE agents SET lifecycle = 'registered_unclaimed', owner_account_id = NULL,"
        " claimed_at = NULL WHERE lifecycle = 'claimed'",
        "UPDATE sessions SET revoked_at = NULL, revocation_reason = NULL"
        " WHERE revoked_at IS NOT NULL",
        "UPDATE sessions SET expires_at = expires_at + interval '1 day'",
        "UPDATE claim_codes SET consumed_at = NULL, consumed_by_account_id = NULL"
        " WHERE consumed_at IS NOT NULL",
        "UPDATE api_keys SET revoked_at = NULL, revocation_reason = NULL"
        " WHERE revoked_at IS NOT NULL",
        "UPDATE api_keys SET agent_id = (SELECT id FROM agents ORDER BY id DESC LIMIT 1)",
        "UPDATE session_tokens SET rotated_at = NULL WHERE rotated_at IS NOT NULL",
    ],
)
async def test_final_transitions_stay_final(
    client: AuthClient, db: Database, statement: str
) -> None:
    # Rows in every final state exist: a claim, a logout, a rotation, a revocation.
    owner = await client.new_session()
    agent = await client.owned_agent(owner)
    await client.create_key(owner.session_token, agent_id=agent.agent_id)
    await client.stub.RekeyAgent(
        auth_pb2.RekeyAgentRequest(request_id=rid(), agent_id=agent.agent_id),
        metadata=await client.token(owner.session_token),
    )
    await client.stub.RefreshSession(
        auth_pb2.RefreshSessionRequest(request_id=rid(), refresh_token=owner.refresh_token)
    )
    other = await client.new_session()
    await client.stub.Logout(
        auth_pb2.LogoutRequest(request_id=rid()), metadata=await client.token(other.session_token)
    )
    with (
        db.connect() as connection,
        pytest.raises(psycopg.errors.CheckViolation),
        connection.transaction(force_rollback=True),
    ):
        connection.execute(statement)

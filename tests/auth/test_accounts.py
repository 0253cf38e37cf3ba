"""Accounts and logins: registration, the timing-equal login path, lockout with backoff, roles
and admin creation (THREATS I11). Each error path asserts code and reason."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
from tokenmart.auth.v1 import auth_pb2

from services.auth.domain.passwords import PasswordHasher
from services.common.status import error_reason
from tests.auth.helpers import (
    PASSWORD,
    Account,
    AuthClient,
    Database,
    bearer,
    client_for,
    email,
    metadata_of,
    random_ip,
    refused,
    rid,
)
from tests.conftest import AuthServerHandle

INVALID = grpc.StatusCode.INVALID_ARGUMENT


def _register(**fields: object) -> auth_pb2.RegisterAccountRequest:
    values = {"request_id": rid(), "email": email(), "password": PASSWORD, **fields}
    return auth_pb2.RegisterAccountRequest(**values)  # type: ignore[arg-type]


async def test_registration_creates_a_user_with_an_argon2id_hash(
    client: AuthClient, db: Database
) -> None:
    address = "  New.User@Example.COM "
    response = await client.stub.RegisterAccount(
        _register(email=address, display_name="New User", client_ip="2001:db8::1")
    )
    account = response.account
    assert account.email == "new.user@example.com"
    assert account.role == auth_pb2.ACCOUNT_ROLE_USER
    assert account.display_name == "New User"
    # The account's main wallet was opened before the account was committed.
    assert str(uuid.UUID(response.wallet_id)) == response.wallet_id
    stored = db.value("SELECT password_hash FROM accounts WHERE id = %s", account.account_id)
    assert stored.startswith("$argon2id$v=19$m=64,t=1,p=1$")
    assert PASSWORD not in stored
    assert db.audit(subject_account_id=account.account_id) == [
        ("account_registered", "success", None)
    ]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"email": "not-an-email"}, "EMAIL_INVALID"),
        ({"email": "a@b.com, c@d.com"}, "EMAIL_INVALID"),
        ({"email": "x" * 250 + "@ex.com"}, "EMAIL_INVALID"),
        ({"password": "short"}, "PASSWORD_INVALID"),
        ({"password": "p" * 1025}, "PASSWORD_INVALID"),
        ({"display_name": "n" * 101}, "DISPLAY_NAME_INVALID"),
        ({"display_name": "bell\x07"}, "DISPLAY_NAME_INVALID"),
        ({"client_ip": "10.0.0.300"}, "CLIENT_IP_INVALID"),
        ({"request_id": "not-a-uuid"}, "REQUEST_ID_INVALID"),
        ({"request_id": ""}, "REQUEST_ID_INVALID"),
    ],
)
async def test_invalid_registrations_are_refused_and_change_nothing(
    client: AuthClient, db: Database, fields: dict[str, object], reason: str
) -> None:
    before = db.snapshot(exclude=("request_log",))
    await refused(client.stub.RegisterAccount(_register(**fields)), INVALID, reason)
    assert db.snapshot(exclude=("request_log",)) == before


async def test_a_registered_email_is_taken(client: AuthClient) -> None:
    account = await client.register_account()
    await refused(
        client.stub.RegisterAccount(_register(email=account.email.upper())),
        grpc.StatusCode.ALREADY_EXISTS,
        "EMAIL_TAKEN",
    )


async def test_a_replayed_registration_returns_the_first_answer(client: AuthClient) -> None:
    request = _register()
    first = await client.stub.RegisterAccount(request)
    assert await client.stub.RegisterAccount(request) == first
    changed = auth_pb2.RegisterAccountRequest()
    changed.CopyFrom(request)
    changed.display_name = "someone else"
    await refused(
        client.stub.RegisterAccount(changed), grpc.StatusCode.ALREADY_EXISTS, "REQUEST_ID_CONFLICT"
    )


async def test_login_returns_a_session_whose_secrets_are_shown_once(
    client: AuthClient, db: Database
) -> None:
    account = await client.register_account()
    request = auth_pb2.LoginRequest(
        request_id=rid(), email=account.email, password=PASSWORD, user_agent="tests/1.0"
    )
    response = await client.stub.Login(request)
    assert response.session_token.startswith("tms_")
    assert response.refresh_token.startswith("tmr_")
    assert response.account.last_login_at.seconds > 0
    lifetime = response.session_token_expires_at.seconds - response.account.last_login_at.seconds
    assert 899 <= lifetime <= 900
    assert response.refresh_token_expires_at.seconds > response.session_token_expires_at.seconds
    # A replay never shows the secrets again: it names the session instead.
    error = await refused(
        client.stub.Login(request), grpc.StatusCode.ALREADY_EXISTS, "SECRET_ALREADY_ISSUED"
    )
    assert metadata_of(error) == {"resource_id": response.session_id}
    assert db.audit(subject_account_id=account.account_id, event_type="login_succeeded") == [
        ("login_succeeded", "success", None)
    ]


@pytest.mark.parametrize(
    ("address", "password", "reason"),
    [
        ("", PASSWORD, "EMAIL_INVALID"),
        ("x" * 255, PASSWORD, "EMAIL_INVALID"),
        ("a@b.com", "", "PASSWORD_INVALID"),
        ("a@b.com", "p" * 1025, "PASSWORD_INVALID"),
    ],
)
async def test_login_input_limits(
    client: AuthClient, address: str, password: str, reason: str
) -> None:
    await refused(
        client.stub.Login(
            auth_pb2.LoginRequest(request_id=rid(), email=address, password=password)
        ),
        INVALID,
        reason,
    )


async def _login_error(client: AuthClient, address: str, password: str) -> grpc.aio.AioRpcError:
    return await refused(
        client.stub.Login(
            auth_pb2.LoginRequest(request_id=rid(), email=address, password=password)
        ),
        grpc.StatusCode.UNAUTHENTICATED,
        "INVALID_CREDENTIALS",
    )


async def test_unknown_email_and_wrong_password_look_the_same_and_cost_one_hash_each(
    auth_server: AuthServerHandle, client: AuthClient, db: Database
) -> None:
    account = await client.register_account()
    unknown = email()
    hasher: PasswordHasher = auth_server.runtime.passwords.hasher
    verified: list[str] = []
    original = hasher.verify

    def watching(encoded: str, password: str) -> bool:
        verified.append(encoded)
        return original(encoded, password)

    hasher.verify = watching  # type: ignore[method-assign]
    try:
        wrong = await _login_error(client, account.email, "wrong password!!")
        assert verified == [
            db.value("SELECT password_hash FROM accounts WHERE id = %s", account.account_id)
        ]
        verified.clear()
        missing = await _login_error(client, unknown, "wrong password!!")
        # The unknown email ran exactly one Argon2id verification, against the dummy hash with
        # the very same parameters: the same work as a wrong password.
        assert verified == [hasher.dummy_hash]
        assert hasher.dummy_hash.split("$")[:4] == verified[0].split("$")[:4]
    finally:
        del hasher.verify
    assert (wrong.code(), wrong.details(), metadata_of(wrong)) == (
        missing.code(),
        missing.details(),
        metadata_of(missing),
    )
    # The log says which it was; the caller never learns.
    assert db.rows(
        "SELECT details->>'cause' FROM audit_events WHERE event_type = 'login_failed' "
        "AND subject_account_id = %s",
        account.account_id,
    ) == [("wrong_password",)]


async def test_the_dummy_hash_uses_the_configured_parameters(auth_server: AuthServerHandle) -> None:
    hasher = auth_server.runtime.passwords.hasher
    assert hasher.dummy_hash.startswith("$argon2id$v=19$m=64,t=1,p=1$")
    assert not hasher.needs_rehash(hasher.dummy_hash)


async def test_repeated_failures_lock_out_with_growing_backoff(
    start_auth_server, db: Database
) -> None:
    from tests.conftest import ManualClock

    clock = ManualClock()
    server = start_auth_server(
        clock=clock, env={"LOCKOUT_EMAIL_THRESHOLD": "3", "LOCKOUT_BASE_S": "30"}
    )
    async with client_for(server) as client:
        account = await client.register_account()
        for _ in range(3):
            await _login_error(client, account.email, "wrong password!!")
        locked = await refused(
            client.stub.Login(
                auth_pb2.LoginRequest(request_id=rid(), email=account.email, password=PASSWORD)
            ),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "LOGIN_LOCKED_OUT",
        )
        # Locked even with the right password, and no session was created.
        assert metadata_of(locked) == {"retry_after_s": "30"}
        assert (
            db.value("SELECT count(*) FROM sessions WHERE account_id = %s", account.account_id) == 0
        )
        clock.advance(30)
        await _login_error(client, account.email, "wrong password!!")
        locked = await refused(
            client.stub.Login(
                auth_pb2.LoginRequest(request_id=rid(), email=account.email, password=PASSWORD)
            ),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "LOGIN_LOCKED_OUT",
        )
        assert metadata_of(locked) == {"retry_after_s": "60"}
        clock.advance(60)
        await client.login(account)
    # (The manual clock stands still between some events, so compare without order.)
    events = sorted(event for event, _, _ in db.audit(subject_account_id=account.account_id))
    assert events == sorted(
        ["account_registered", "login_succeeded"] + ["login_failed"] * 4 + ["login_locked_out"] * 2
    )


async def test_unregistered_emails_lock_out_alike(start_auth_server) -> None:
    server = start_auth_server(env={"LOCKOUT_EMAIL_THRESHOLD": "2"})
    async with client_for(server) as client:
        address = email()
        for _ in range(2):
            await _login_error(client, address, "anything at all")
        await refused(
            client.stub.Login(
                auth_pb2.LoginRequest(request_id=rid(), email=address, password="anything at all")
            ),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "LOGIN_LOCKED_OUT",
        )


async def test_failures_are_counted_per_client_ip(start_auth_server) -> None:
    server = start_auth_server(env={"LOCKOUT_IP_THRESHOLD": "3", "LOCKOUT_EMAIL_THRESHOLD": "100"})
    async with client_for(server) as client:
        ip = random_ip()
        account = await client.register_account()
        for _ in range(3):
            await refused(
                client.stub.Login(
                    auth_pb2.LoginRequest(
                        request_id=rid(), email=email(), password="guess guess 1", client_ip=ip
                    )
                ),
                grpc.StatusCode.UNAUTHENTICATED,
                "INVALID_CREDENTIALS",
            )
        await refused(
            client.stub.Login(
                auth_pb2.LoginRequest(
                    request_id=rid(), email=account.email, password=PASSWORD, client_ip=ip
                )
            ),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "LOGIN_LOCKED_OUT",
        )
        # Another address is unaffected.
        await client.login(account, client_ip=random_ip())


async def test_concurrent_guesses_cannot_pass_the_threshold_together(
    start_auth_server, db: Database
) -> None:
    server = start_auth_server(env={"LOCKOUT_EMAIL_THRESHOLD": "3"})
    async with client_for(server) as client:
        account = await client.register_account()
        attempts = [
            client.stub.Login(
                auth_pb2.LoginRequest(
                    request_id=rid(), email=account.email, password=f"guess number {n}"
                )
            )
            for n in range(12)
        ]
        results = await asyncio.gather(*attempts, return_exceptions=True)
    reasons = sorted(
        result.code().name for result in results if isinstance(result, grpc.aio.AioRpcError)
    )
    assert len(reasons) == 12
    # Exactly the threshold of passwords were checked; every other attempt met the lock.
    assert reasons.count("UNAUTHENTICATED") == 3
    assert reasons.count("RESOURCE_EXHAUSTED") == 9
    assert len(db.audit(subject_account_id=account.account_id, event_type="login_failed")) == 3


async def test_a_successful_login_resets_the_email_counter(start_auth_server) -> None:
    server = start_auth_server(env={"LOCKOUT_EMAIL_THRESHOLD": "3"})
    async with client_for(server) as client:
        account = await client.register_account()
        for _ in range(2):
            await _login_error(client, account.email, "wrong password!!")
        await client.login(account)
        for _ in range(2):
            await _login_error(client, account.email, "wrong password!!")
        await client.login(account)


async def test_a_hash_with_old_parameters_is_upgraded_at_login(
    start_auth_server, db: Database
) -> None:
    weak = start_auth_server()
    async with client_for(weak) as client:
        account = await client.register_account()
    old_hash = db.value("SELECT password_hash FROM accounts WHERE id = %s", account.account_id)
    stronger = start_auth_server(env={"ARGON2_MEMORY_KIB": "128"})
    async with client_for(stronger) as client:
        await client.login(account)
    new_hash = db.value("SELECT password_hash FROM accounts WHERE id = %s", account.account_id)
    assert old_hash != new_hash and new_hash.startswith("$argon2id$v=19$m=128,t=1,p=1$")


# -- admins and roles ---------------------------------------------------------------------------


async def test_ctl_creates_admin_accounts(client: AuthClient, db: Database) -> None:
    operator = bearer(await client.operator_token())
    address = email()
    response = await client.ctl.CreateAdminAccount(
        auth_pb2.CreateAdminAccountRequest(
            request_id=rid(), email=address, password=PASSWORD, role=auth_pb2.ACCOUNT_ROLE_ADMIN
        ),
        metadata=operator,
    )
    assert response.account.role == auth_pb2.ACCOUNT_ROLE_ADMIN
    assert db.rows(
        "SELECT event_type, actor_service FROM audit_events WHERE subject_account_id = %s",
        response.account.account_id,
    ) == [("admin_account_created", "ctl")]
    session = await client.login(Account("", address, PASSWORD))
    principal = (await client.authenticate(session.session_token)).principal
    assert set(principal.scopes) == {auth_pb2.SCOPE_ACCOUNT, auth_pb2.SCOPE_ADMIN}


@pytest.mark.parametrize(
    ("role", "reason"),
    [
        (auth_pb2.ACCOUNT_ROLE_USER, "ROLE_INVALID"),
        (auth_pb2.ACCOUNT_ROLE_UNSPECIFIED, "ENUM_VALUE_UNSPECIFIED"),
    ],
)
async def test_admin_creation_needs_an_admin_role(
    client: AuthClient, role: int, reason: str
) -> None:
    await refused(
        client.ctl.CreateAdminAccount(
            auth_pb2.CreateAdminAccountRequest(
                request_id=rid(), email=email(), password=PASSWORD, role=role
            ),
            metadata=bearer(await client.operator_token()),
        ),
        INVALID,
        reason,
    )


async def test_admin_creation_validates_like_registration(client: AuthClient) -> None:
    existing = await client.register_account()
    cases = [
        ({"email": "nope"}, INVALID, "EMAIL_INVALID"),
        ({"password": "short"}, INVALID, "PASSWORD_INVALID"),
        ({"display_name": "x" * 101}, INVALID, "DISPLAY_NAME_INVALID"),
        ({"email": existing.email}, grpc.StatusCode.ALREADY_EXISTS, "EMAIL_TAKEN"),
    ]
    for fields, code, reason in cases:
        values = {"request_id": rid(), "email": email(), "password": PASSWORD, **fields}
        await refused(
            client.ctl.CreateAdminAccount(
                auth_pb2.CreateAdminAccountRequest(role=auth_pb2.ACCOUNT_ROLE_ADMIN, **values),  # type: ignore[arg-type]
                metadata=bearer(await client.operator_token()),
            ),
            code,
            reason,
        )


async def test_admin_creation_needs_the_operator_token(
    auth_server: AuthServerHandle, client: AuthClient
) -> None:
    async with client_for(auth_server, peer="review") as review:
        review_token = await review.stub.IssueServiceToken(
            auth_pb2.IssueServiceTokenRequest(audiences=[auth_pb2.AUDIENCE_AUTH])
        )
    # ctl without a token, and (by peer) nobody but ctl.
    await refused(
        client.ctl.CreateAdminAccount(
            auth_pb2.CreateAdminAccountRequest(
                request_id=rid(), email=email(), password=PASSWORD, role=auth_pb2.ACCOUNT_ROLE_ADMIN
            )
        ),
        grpc.StatusCode.UNAUTHENTICATED,
        "ACCESS_TOKEN_MISSING",
    )
    await refused(
        client.stub.CreateAdminAccount(
            auth_pb2.CreateAdminAccountRequest(
                request_id=rid(), email=email(), password=PASSWORD, role=auth_pb2.ACCOUNT_ROLE_ADMIN
            ),
            metadata=bearer(review_token.access_token),
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "PEER_NOT_ALLOWED",
    )


async def _set_role(
    client: AuthClient,
    actor: tuple[tuple[str, str], ...],
    account_id: str,
    role: int,
    reason: str = "promotion",
    *,
    via_ctl: bool = False,
) -> auth_pb2.SetAccountRoleResponse:
    stub = client.ctl if via_ctl else client.stub
    response: auth_pb2.SetAccountRoleResponse = await stub.SetAccountRole(
        auth_pb2.SetAccountRoleRequest(
            request_id=rid(), account_id=account_id, role=role, reason=reason
        ),
        metadata=actor,
    )
    return response


async def test_a_super_admin_changes_roles_and_the_change_is_read_at_authenticate(
    client: AuthClient, db: Database
) -> None:
    boss = await client.admin_session(auth_pb2.ACCOUNT_ROLE_SUPER_ADMIN)
    target = await client.new_session()
    actor = await client.token(boss.session_token)
    response = await _set_role(client, actor, target.account_id, auth_pb2.ACCOUNT_ROLE_ADMIN)
    assert response.previous_role == auth_pb2.ACCOUNT_ROLE_USER
    assert response.account.role == auth_pb2.ACCOUNT_ROLE_ADMIN
    principal = (await client.authenticate(target.session_token)).principal
    assert auth_pb2.SCOPE_ADMIN in principal.scopes
    assert db.rows(
        "SELECT details->>'previous_role', details->>'role' FROM audit_events "
        "WHERE event_type = 'role_changed' AND subject_account_id = %s",
        target.account_id,
    ) == [("user", "admin")]


async def test_a_demoted_admins_live_token_loses_admin_at_once(client: AuthClient) -> None:
    boss = await client.admin_session(auth_pb2.ACCOUNT_ROLE_SUPER_ADMIN)
    admin = await client.admin_session()
    admin_token = await client.token(admin.session_token)
    agent = await client.register_agent()
    await _set_role(
        client, await client.token(boss.session_token), admin.account_id, auth_pb2.ACCOUNT_ROLE_USER
    )
    # The token still says admin for up to five minutes elsewhere; auth itself re-reads the role.
    await refused(
        client.stub.SuspendAgent(
            auth_pb2.SuspendAgentRequest(request_id=rid(), agent_id=agent.agent_id, reason="x"),
            metadata=admin_token,
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "SCOPE_MISSING",
    )


async def test_role_changes_need_super_admin_or_operator(client: AuthClient) -> None:
    admin = await client.admin_session()
    target = await client.new_session()
    error = await refused(
        client.stub.SetAccountRole(
            auth_pb2.SetAccountRoleRequest(
                request_id=rid(),
                account_id=target.account_id,
                role=auth_pb2.ACCOUNT_ROLE_ADMIN,
                reason="self-service",
            ),
            metadata=await client.token(admin.session_token),
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "SCOPE_MISSING",
    )
    assert metadata_of(error) == {"scope": "super_admin"}
    # ctl's operator token may.
    response = await _set_role(
        client,
        bearer(await client.operator_token()),
        target.account_id,
        auth_pb2.ACCOUNT_ROLE_ADMIN,
        via_ctl=True,
    )
    assert response.account.role == auth_pb2.ACCOUNT_ROLE_ADMIN


async def test_role_change_errors(client: AuthClient) -> None:
    operator = bearer(await client.operator_token())
    target = await client.register_account()
    await refused(
        _set_role(client, operator, rid(), auth_pb2.ACCOUNT_ROLE_ADMIN, via_ctl=True),
        grpc.StatusCode.NOT_FOUND,
        "ACCOUNT_NOT_FOUND",
    )
    await refused(
        _set_role(
            client,
            operator,
            target.account_id,
            auth_pb2.ACCOUNT_ROLE_ADMIN,
            reason="",
            via_ctl=True,
        ),
        INVALID,
        "REASON_REQUIRED",
    )
    await refused(
        _set_role(
            client, operator, target.account_id, auth_pb2.ACCOUNT_ROLE_UNSPECIFIED, via_ctl=True
        ),
        INVALID,
        "ENUM_VALUE_UNSPECIFIED",
    )


async def test_the_last_super_admin_cannot_be_demoted(
    fresh_auth_database, start_auth_server
) -> None:
    server = start_auth_server(database=fresh_auth_database)
    async with client_for(server) as client:
        operator = bearer(await client.operator_token())
        first = await client.admin_session(auth_pb2.ACCOUNT_ROLE_SUPER_ADMIN)
        second = await client.admin_session(auth_pb2.ACCOUNT_ROLE_SUPER_ADMIN)
        # Two demotions racing: at most one can win, whatever the interleaving.
        results = await asyncio.gather(
            _set_role(
                client, operator, first.account_id, auth_pb2.ACCOUNT_ROLE_ADMIN, via_ctl=True
            ),
            _set_role(
                client, operator, second.account_id, auth_pb2.ACCOUNT_ROLE_ADMIN, via_ctl=True
            ),
            return_exceptions=True,
        )
        errors = [result for result in results if isinstance(result, grpc.aio.AioRpcError)]
        assert len(errors) == 1
        assert errors[0].code() == grpc.StatusCode.FAILED_PRECONDITION
        assert error_reason(errors[0]) == "LAST_SUPER_ADMIN"
        survivor = second if errors[0] is results[1] else first
        await refused(
            _set_role(
                client, operator, survivor.account_id, auth_pb2.ACCOUNT_ROLE_USER, via_ctl=True
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
            "LAST_SUPER_ADMIN",
        )

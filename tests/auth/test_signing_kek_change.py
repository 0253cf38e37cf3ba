"""Replacing SIGNING_KEK: auth opens keys under SIGNING_KEK or SIGNING_KEK_PREVIOUS,
ResealSigningKeys moves every stored key (retired ones too) to SIGNING_KEK, after which the
previous KEK can go; only ctl with its operator token may call it; no KEK or key material ever
reaches a log line, an error or the audit log."""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

import grpc
import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from tokenmart.auth.v1 import auth_pb2

from ops.database import ServiceDatabase
from ops.pki import IssuedFiles
from services.auth import server as auth_wiring
from services.auth.domain.signing_keys import KeyEncryption, SigningKey, SigningKeyStatus
from tests.auth.helpers import AuthClient, bearer, client_for, refused, rid
from tests.conftest import AuthServerHandle, auth_test_settings

KEK_A = b"A-key-encryption-key-32-bytes-!!"
KEK_B = b"B-key-encryption-key-32-bytes-!!"
KEK_UNKNOWN = b"an-unknown-kek-nobody-configured"
A, B = base64.b64encode(KEK_A).decode(), base64.b64encode(KEK_B).decode()
StartAuth = Callable[..., AuthServerHandle]


def _rows(database: ServiceDatabase) -> dict[str, tuple[Any, ...]]:
    """Every stored signing key's row, by id, as the schema owner sees it."""
    with psycopg.connect(database.owner_url) as connection:
        rows = connection.execute(
            "SELECT id, public_key, private_key_nonce, private_key_ciphertext, status,"
            " not_before, not_after, created_at FROM auth.signing_keys ORDER BY id"
        ).fetchall()
    return {str(row[0]): tuple(row) for row in rows}


def _key(row: tuple[Any, ...]) -> SigningKey:
    return SigningKey(
        id=row[0],
        public_key=bytes(row[1]),
        private_key_nonce=bytes(row[2]),
        private_key_ciphertext=bytes(row[3]),
        status=SigningKeyStatus(row[4]),
        not_before=row[5],
        not_after=row[6],
        created_at=row[7],
    )


def _opens_under(row: tuple[Any, ...], kek: bytes) -> bool:
    try:
        KeyEncryption(kek).open(_key(row))
    except Exception:  # InvalidTag
        return False
    return True


async def _reseal(ctl: AuthClient, request_id: str = "") -> auth_pb2.ResealSigningKeysResponse:
    response: auth_pb2.ResealSigningKeysResponse = await ctl.stub.ResealSigningKeys(
        auth_pb2.ResealSigningKeysRequest(request_id=request_id or rid()),
        metadata=bearer(await ctl.operator_token()),
    )
    return response


async def _rotate(ctl: AuthClient, *, compromised: bool, activate_after_s: int = 0) -> None:
    request = auth_pb2.RotateSigningKeyRequest(request_id=rid(), compromised=compromised)
    if not compromised:
        request.activate_after.FromSeconds(activate_after_s)
    await ctl.stub.RotateSigningKey(request, metadata=bearer(await ctl.operator_token()))


async def _me(client: AuthClient, token: str) -> None:
    await client.stub.GetMe(auth_pb2.GetMeRequest(), metadata=bearer(token))


def _settings(database: ServiceDatabase, pki: dict[str, IssuedFiles], **env: str) -> Any:
    return auth_test_settings(database.runtime_url, pki["auth"], env)


def _secret_forms(secret: bytes) -> list[str]:
    """The ways a secret could show up in text."""
    return [
        base64.b64encode(secret).decode(),
        base64.urlsafe_b64encode(secret).decode().rstrip("="),
        secret.hex(),
        repr(secret),
    ]


async def test_a_kek_change_reseals_every_key_and_then_the_old_kek_can_go(
    start_auth_server: StartAuth,
    fresh_auth_database: ServiceDatabase,
    pki: dict[str, IssuedFiles],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    database = fresh_auth_database
    # Under KEK A: a retired key (compromised rotation), the active key, and a published one.
    old = start_auth_server(env={"SIGNING_KEK": A}, database=database)
    async with client_for(old) as client, client_for(old, peer="ctl") as ctl:
        await _rotate(ctl, compromised=True)
        session = await client.new_session()
        old_token = (await client.authenticate(session.session_token)).access_token
        await _rotate(ctl, compromised=False, activate_after_s=600)
    before = _rows(database)
    assert sorted(row[4] for row in before.values()) == ["active", "next", "retired"]
    assert all(_opens_under(row, KEK_A) for row in before.values())

    # Only the new KEK: auth refuses to start, plainly, naming no KEK.
    with pytest.raises(SystemExit) as stopped:
        await auth_wiring.preflight(_settings(database, pki, SIGNING_KEK=B))
    assert "cannot be decrypted with TOKENMART_AUTH_SIGNING_KEK " in str(stopped.value.code)

    # New KEK with the old one as previous: starts, issues and verifies, old tokens included.
    changing = {"SIGNING_KEK": B, "SIGNING_KEK_PREVIOUS": A}
    await auth_wiring.preflight(_settings(database, pki, **changing))
    server = start_auth_server(env=changing, database=database)
    async with client_for(server) as client, client_for(server, peer="ctl") as ctl:
        await _me(client, old_token)
        new_token = (await client.authenticate(session.session_token)).access_token
        assert (
            jwt.get_unverified_header(new_token)["kid"]
            == jwt.get_unverified_header(old_token)["kid"]
        )
        await _me(client, new_token)

        request_id = rid()
        first = await _reseal(ctl, request_id)
        assert (first.resealed, first.already_current, list(first.failed_key_ids)) == (3, 0, [])
        after = _rows(database)
        assert after.keys() == before.keys()
        for key_id, row in after.items():
            assert _opens_under(row, KEK_B) and not _opens_under(row, KEK_A), key_id
            # Only the sealed half moved, under a fresh nonce: same key pair, status and times.
            was = before[key_id]
            assert (row[1], *row[4:]) == (was[1], *was[4:])
            assert row[2] != was[2] and row[3] != was[3]
            assert (
                KeyEncryption(KEK_B).open(_key(row)).private_key.private_bytes_raw()
                == KeyEncryption(KEK_A).open(_key(was)).private_key.private_bytes_raw()
            )

        # Idempotent: the same request id answers the first answer; a new run finds all current.
        assert await _reseal(ctl, request_id) == first
        again = await _reseal(ctl)
        assert (again.resealed, again.already_current, list(again.failed_key_ids)) == (0, 3, [])
        assert _rows(database) == after
        await _me(client, (await client.authenticate(session.session_token)).access_token)

    # PREVIOUS removed: auth starts with the new KEK alone; old tokens still verify.
    await auth_wiring.preflight(_settings(database, pki, SIGNING_KEK=B))
    final = start_auth_server(env={"SIGNING_KEK": B}, database=database)
    async with client_for(final) as client:
        await _me(client, old_token)
        await _me(client, (await client.authenticate(session.session_token)).access_token)

    # The audit log: counts and key ids, nothing else.
    with psycopg.connect(database.owner_url) as connection:
        details = [
            row[0]
            for row in connection.execute(
                "SELECT details FROM auth.audit_events WHERE event_type = 'signing_keys_resealed'"
                " ORDER BY occurred_at"
            ).fetchall()
        ]
    assert len(details) == 2  # the replay recorded nothing
    assert details[0] == {
        "resealed": 3,
        "already_current": 0,
        "failed": 0,
        "resealed_key_ids": sorted(before),
        "failed_key_ids": [],
    }
    assert (details[1]["resealed"], details[1]["already_current"]) == (0, 3)

    # No KEK, nonce, sealed or opened key in any log line or audit entry.
    forbidden = [*_secret_forms(KEK_A), *_secret_forms(KEK_B)]
    for row in (*before.values(), *after.values()):
        forbidden += [*_secret_forms(bytes(row[2])), *_secret_forms(bytes(row[3]))]
        opened = KeyEncryption(KEK_B, previous_kek=KEK_A).open(_key(row))
        forbidden += _secret_forms(opened.private_key.private_bytes_raw())
    texts = [f"{record.getMessage()} {record.__dict__}" for record in caplog.records]
    assert any("ResealSigningKeys" in text for text in texts), "the server's rpc lines are seen"
    texts.append(json.dumps(details))
    for text in texts:
        for secret in forbidden:
            assert secret not in text


async def test_a_key_neither_kek_opens_is_reported_and_left_untouched(
    start_auth_server: StartAuth, fresh_auth_database: ServiceDatabase
) -> None:
    database = fresh_auth_database
    start_auth_server(env={"SIGNING_KEK": A}, database=database)
    # A retired key sealed under a KEK auth was never given (restored from elsewhere, say).
    (active,) = _rows(database).values()
    stranger = uuid.uuid4()
    nonce = b"n" * 12
    ciphertext = AESGCM(KEK_UNKNOWN).encrypt(nonce, b"s" * 32, str(stranger).encode())
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    public = Ed25519PrivateKey.from_private_bytes(b"s" * 32).public_key().public_bytes_raw()
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    with psycopg.connect(database.owner_url) as connection:
        connection.execute(
            "INSERT INTO auth.signing_keys VALUES (%s, 'ed25519', %s, %s, %s, 'retired', %s, %s,"
            " %s)",
            (stranger, public, nonce, ciphertext, past, past, past),
        )
    before = _rows(database)

    server = start_auth_server(env={"SIGNING_KEK": B, "SIGNING_KEK_PREVIOUS": A}, database=database)
    async with client_for(server, peer="ctl") as ctl:
        answer = await _reseal(ctl)
    assert (answer.resealed, answer.already_current) == (1, 0)
    assert list(answer.failed_key_ids) == [str(stranger)]
    after = _rows(database)
    assert after[str(stranger)] == before[str(stranger)]  # byte for byte
    assert _opens_under(after[str(active[0])], KEK_B)


@pytest.mark.parametrize(
    ("peer", "token_of", "code", "reason"),
    [
        ("gateway", "ctl", grpc.StatusCode.PERMISSION_DENIED, "PEER_NOT_ALLOWED"),
        ("review", "review", grpc.StatusCode.PERMISSION_DENIED, "PEER_NOT_ALLOWED"),
        ("provider", "provider", grpc.StatusCode.PERMISSION_DENIED, "PEER_NOT_ALLOWED"),
        ("ctl", None, grpc.StatusCode.UNAUTHENTICATED, "ACCESS_TOKEN_MISSING"),
        ("ctl", "review", grpc.StatusCode.UNAUTHENTICATED, "ACCESS_TOKEN_INVALID"),
        ("ctl", "admin", grpc.StatusCode.PERMISSION_DENIED, "SCOPE_MISSING"),
        ("ctl", "super_admin", grpc.StatusCode.PERMISSION_DENIED, "SCOPE_MISSING"),
    ],
)
async def test_only_ctl_with_its_operator_token_may_reseal(
    auth_server: AuthServerHandle,
    peer: str,
    token_of: str | None,
    code: grpc.StatusCode,
    reason: str,
) -> None:
    async with client_for(auth_server) as client:
        metadata: tuple[tuple[str, str], ...] = ()
        if token_of in ("ctl", "review", "provider"):
            async with auth_server.channel(token_of) as channel:
                issued = await auth_server.stub(channel).IssueServiceToken(
                    auth_pb2.IssueServiceTokenRequest(audiences=[auth_pb2.AUDIENCE_AUTH])
                )
            metadata = bearer(issued.access_token)
        elif token_of is not None:
            role = {
                "admin": auth_pb2.ACCOUNT_ROLE_ADMIN,
                "super_admin": auth_pb2.ACCOUNT_ROLE_SUPER_ADMIN,
            }[token_of]
            admin = await client.admin_session(role)
            metadata = await client.token(admin.session_token)
        async with auth_server.channel(peer) as channel:
            await refused(
                auth_server.stub(channel).ResealSigningKeys(
                    auth_pb2.ResealSigningKeysRequest(request_id=rid()), metadata=metadata
                ),
                code,
                reason,
            )


async def test_reseals_racing_each_other_and_rotations_move_each_key_once(
    start_auth_server: StartAuth, fresh_auth_database: ServiceDatabase
) -> None:
    database = fresh_auth_database
    old = start_auth_server(env={"SIGNING_KEK": A}, database=database)
    async with client_for(old, peer="ctl") as ctl:
        for _ in range(3):
            await _rotate(ctl, compromised=True)
    server = start_auth_server(env={"SIGNING_KEK": B, "SIGNING_KEK_PREVIOUS": A}, database=database)
    async with client_for(server, peer="ctl") as ctl:
        answers = await asyncio.gather(
            *(_reseal(ctl) for _ in range(4)), _rotate(ctl, compromised=True)
        )
    reseals = [answer for answer in answers if answer is not None]
    # Every one of the 4 keys sealed under A moved exactly once; the rotation's key is under B.
    assert sum(answer.resealed for answer in reseals) == 4
    assert all(not answer.failed_key_ids for answer in reseals)
    rows = _rows(database)
    assert len(rows) == 5
    assert all(_opens_under(row, KEK_B) for row in rows.values())


def _bytea(byte: str, count: int) -> str:
    return f"'\\x{byte * count}'::bytea"


_FRESH_SEAL = f"private_key_nonce = {_bytea('ab', 12)}, private_key_ciphertext = {_bytea('cd', 48)}"


@pytest.mark.parametrize(
    ("statement", "allowed"),
    [
        (f"UPDATE auth.signing_keys SET {_FRESH_SEAL}", True),
        # Both halves move together, under a fresh nonce...
        (f"UPDATE auth.signing_keys SET private_key_ciphertext = {_bytea('ef', 48)}", False),
        (f"UPDATE auth.signing_keys SET private_key_nonce = {_bytea('ef', 12)}", False),
        # ...and nothing else moves in the same statement.
        (
            f"UPDATE auth.signing_keys SET {_FRESH_SEAL}, not_before = not_before - interval '1s'",
            False,
        ),
        (
            f"UPDATE auth.signing_keys SET {_FRESH_SEAL}, status = 'retired', not_after = now()",
            False,
        ),
        (f"UPDATE auth.signing_keys SET {_FRESH_SEAL}, created_at = now()", False),
        # The key pair itself never changes.
        (f"UPDATE auth.signing_keys SET public_key = {_bytea('01', 32)}", False),
    ],
)
async def test_the_database_lets_only_the_sealed_half_move(
    start_auth_server: StartAuth,
    fresh_auth_database: ServiceDatabase,
    statement: str,
    allowed: bool,
) -> None:
    start_auth_server(env={"SIGNING_KEK": A}, database=fresh_auth_database)
    # As the runtime role, which holds UPDATE on the table: the guard decides what may move.
    with (
        psycopg.connect(fresh_auth_database.runtime_url) as connection,
        connection.transaction(force_rollback=True),
    ):
        if allowed:
            assert connection.execute(statement).rowcount == 1
        else:
            with pytest.raises(psycopg.errors.CheckViolation, match="re-seal changes only"):
                connection.execute(statement)

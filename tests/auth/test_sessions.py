"""Sessions: rotation of refresh tokens, reuse and races revoking the whole family (THREATS I6),
expiry, logout, listing and revoking one's own sessions."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from tokenmart.auth.v1 import auth_pb2

from services.auth.domain import credentials
from services.auth.domain.credentials import CredentialKind
from tests.auth.helpers import AuthClient, Database, client_for, metadata_of, refused, rid
from tests.conftest import ManualClock

UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED


def _refresh(token: str, request_id: str | None = None) -> auth_pb2.RefreshSessionRequest:
    return auth_pb2.RefreshSessionRequest(request_id=request_id or rid(), refresh_token=token)


async def test_refresh_rotates_both_tokens_in_the_same_session(
    client: AuthClient, db: Database
) -> None:
    session = await client.new_session()
    rotated = await client.stub.RefreshSession(_refresh(session.refresh_token))
    assert rotated.session_id == session.session_id
    assert rotated.session_token != session.session_token
    assert rotated.refresh_token != session.refresh_token
    # The new pair works; the old session token stopped with the rotation.
    await client.authenticate(rotated.session_token)
    await refused(
        client.stub.Authenticate(auth_pb2.AuthenticateRequest(credential=session.session_token)),
        UNAUTHENTICATED,
        "CREDENTIAL_REVOKED",
    )
    generations = db.rows(
        "SELECT generation, previous_token_id IS NULL, rotated_at IS NULL FROM session_tokens "
        "WHERE session_id = %s ORDER BY generation",
        session.session_id,
    )
    assert generations == [(0, True, False), (1, False, True)]
    assert ("session_refreshed", "success", None) in db.audit(subject_session_id=session.session_id)


async def test_a_replayed_refresh_request_never_shows_the_new_secrets_again(
    client: AuthClient,
) -> None:
    session = await client.new_session()
    request = _refresh(session.refresh_token)
    await client.stub.RefreshSession(request)
    error = await refused(
        client.stub.RefreshSession(request), grpc.StatusCode.ALREADY_EXISTS, "SECRET_ALREADY_ISSUED"
    )
    assert metadata_of(error) == {"resource_id": session.session_id}


async def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(
    client: AuthClient, db: Database
) -> None:
    session = await client.new_session()
    rotated = await client.stub.RefreshSession(_refresh(session.refresh_token))
    # The thief (or the victim) presents the old token again.
    await refused(
        client.stub.RefreshSession(_refresh(session.refresh_token)),
        UNAUTHENTICATED,
        "REFRESH_TOKEN_REUSED",
    )
    for token in (rotated.session_token,):
        await refused(
            client.stub.Authenticate(auth_pb2.AuthenticateRequest(credential=token)),
            UNAUTHENTICATED,
            "CREDENTIAL_REVOKED",
        )
    await refused(
        client.stub.RefreshSession(_refresh(rotated.refresh_token)),
        UNAUTHENTICATED,
        "SESSION_REVOKED",
    )
    assert (
        db.value("SELECT revocation_reason FROM sessions WHERE id = %s", session.session_id)
        == "refresh_reuse"
    )
    assert db.audit(subject_session_id=session.session_id, event_type="session_refresh_reused") == [
        ("session_refresh_reused", "failure", "REFRESH_TOKEN_REUSED")
    ]


async def test_concurrent_refreshes_with_one_token_let_at_most_one_win(
    client: AuthClient, db: Database
) -> None:
    for _ in range(3):  # repeated, so that some runs truly overlap
        session = await client.new_session()
        results = await asyncio.gather(
            *(client.stub.RefreshSession(_refresh(session.refresh_token)) for _ in range(4)),
            return_exceptions=True,
        )
        wins = [result for result in results if isinstance(result, auth_pb2.RefreshSessionResponse)]
        losses = [result for result in results if isinstance(result, grpc.aio.AioRpcError)]
        assert len(wins) <= 1 and len(wins) + len(losses) == 4
        for loss in losses:
            assert (loss.code(), metadata_reason(loss)) in {
                (grpc.StatusCode.ABORTED, "REFRESH_RACE_LOST"),
                (UNAUTHENTICATED, "REFRESH_TOKEN_REUSED"),
                (UNAUTHENTICATED, "SESSION_REVOKED"),
            }
        # Whoever won holds tokens of a revoked family: nothing issued by the race survives.
        assert (
            db.value("SELECT revocation_reason FROM sessions WHERE id = %s", session.session_id)
            == "refresh_reuse"
        )
        for win in wins:
            await refused(
                client.stub.Authenticate(
                    auth_pb2.AuthenticateRequest(credential=win.session_token)
                ),
                UNAUTHENTICATED,
                "CREDENTIAL_REVOKED",
            )


def metadata_reason(error: grpc.aio.AioRpcError) -> str | None:
    from services.common.status import error_reason

    return error_reason(error)


async def test_a_refresh_racing_a_held_token_row_is_aborted_and_revokes(
    client: AuthClient, db: Database
) -> None:
    """The overlap made deterministic: hold the token row as a concurrent refresh would."""
    import psycopg

    session = await client.new_session()
    with psycopg.connect(db.url) as holder:
        # What a winning refresh holds midway: its token row, then the session row.
        holder.execute(
            "SELECT 1 FROM auth.session_tokens WHERE session_id = %s AND generation = 0 FOR UPDATE",
            (session.session_id,),
        )
        holder.execute(
            "SELECT 1 FROM auth.sessions WHERE id = %s FOR UPDATE", (session.session_id,)
        )
        refresh = asyncio.ensure_future(client.stub.RefreshSession(_refresh(session.refresh_token)))
        # The loser revokes the family, which waits for the holder ("winner") to commit.
        await asyncio.sleep(0.3)
        assert not refresh.done()
        holder.commit()
        await refused(refresh, grpc.StatusCode.ABORTED, "REFRESH_RACE_LOST")
    assert (
        db.value("SELECT revocation_reason FROM sessions WHERE id = %s", session.session_id)
        == "refresh_reuse"
    )
    assert db.audit(subject_session_id=session.session_id, event_type="session_refresh_reused") == [
        ("session_refresh_reused", "failure", "REFRESH_RACE_LOST")
    ]


@pytest.mark.parametrize(
    "token",
    [
        "",
        "tmr_garbage",
        credentials.generate(CredentialKind.REFRESH).raw,  # well-formed, unknown
        credentials.generate(CredentialKind.SESSION).raw,  # another family
        credentials.generate(CredentialKind.REFRESH).raw[:-1] + "!",
    ],
)
async def test_an_invalid_refresh_token_is_refused(client: AuthClient, token: str) -> None:
    await refused(
        client.stub.RefreshSession(_refresh(token)), UNAUTHENTICATED, "REFRESH_TOKEN_INVALID"
    )


async def test_refresh_after_the_session_ends_is_expired(start_auth_server) -> None:
    clock = ManualClock()
    server = start_auth_server(
        clock=clock, env={"SESSION_ABSOLUTE_TTL_S": "3600", "REFRESH_TOKEN_TTL_S": "1800"}
    )
    async with client_for(server) as client:
        session = await client.new_session()
        clock.advance(1700)
        rotated = await client.stub.RefreshSession(_refresh(session.refresh_token))
        # A refresh never extends the session: its tokens end with the session.
        assert rotated.refresh_token_expires_at.seconds <= int(clock().timestamp()) + 1900
        clock.advance(1901)
        await refused(
            client.stub.RefreshSession(_refresh(rotated.refresh_token)),
            UNAUTHENTICATED,
            "REFRESH_TOKEN_EXPIRED",
        )
        other = await client.new_session()
        clock.advance(1801)  # the refresh token's own lifetime, inside the session's
        await refused(
            client.stub.RefreshSession(_refresh(other.refresh_token)),
            UNAUTHENTICATED,
            "REFRESH_TOKEN_EXPIRED",
        )


async def test_logout_ends_the_session_and_is_idempotent(client: AuthClient, db: Database) -> None:
    session = await client.new_session()
    token = await client.token(session.session_token)
    response = await client.stub.Logout(auth_pb2.LogoutRequest(request_id=rid()), metadata=token)
    assert response.session.revocation_reason == auth_pb2.SESSION_REVOCATION_REASON_LOGOUT
    assert response.session.current
    # Logging out again (a new request, same still-unexpired access token) succeeds unchanged.
    again = await client.stub.Logout(auth_pb2.LogoutRequest(request_id=rid()), metadata=token)
    assert again.session.revoked_at == response.session.revoked_at
    await refused(
        client.stub.RefreshSession(_refresh(session.refresh_token)),
        UNAUTHENTICATED,
        "SESSION_REVOKED",
    )
    assert db.audit(subject_session_id=session.session_id, event_type="session_logged_out") == [
        ("session_logged_out", "success", None)
    ]


async def test_logout_needs_a_session(client: AuthClient) -> None:
    agent = await client.register_agent()
    await refused(
        client.stub.Logout(
            auth_pb2.LogoutRequest(request_id=rid()), metadata=await client.token(agent.api_key)
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "NOT_A_SESSION",
    )


async def test_a_revoked_sessions_access_token_stops_at_auth_at_once(client: AuthClient) -> None:
    session = await client.new_session()
    token = await client.token(session.session_token)
    await client.stub.RevokeSession(
        auth_pb2.RevokeSessionRequest(request_id=rid(), session_id=session.session_id),
        metadata=token,
    )
    await refused(
        client.stub.ListSessions(auth_pb2.ListSessionsRequest(), metadata=token),
        UNAUTHENTICATED,
        "CREDENTIAL_REVOKED",
    )


async def test_list_and_revoke_own_sessions(client: AuthClient, db: Database) -> None:
    account = await client.register_account()
    sessions = [await client.login(account) for _ in range(3)]
    token = await client.token(sessions[0].session_token)
    listed = await client.stub.ListSessions(auth_pb2.ListSessionsRequest(), metadata=token)
    assert [item.session_id for item in listed.sessions] == [
        item.session_id for item in reversed(sessions)
    ]
    assert [item.current for item in listed.sessions] == [False, False, True]
    revoked = await client.stub.RevokeSession(
        auth_pb2.RevokeSessionRequest(request_id=rid(), session_id=sessions[1].session_id),
        metadata=token,
    )
    assert revoked.session.revocation_reason == auth_pb2.SESSION_REVOCATION_REASON_USER_REVOKED
    live = await client.stub.ListSessions(auth_pb2.ListSessionsRequest(), metadata=token)
    assert sessions[1].session_id not in {item.session_id for item in live.sessions}
    everything = await client.stub.ListSessions(
        auth_pb2.ListSessionsRequest(include_ended=True), metadata=token
    )
    assert len(everything.sessions) == 3
    # Revoking a revoked session returns it unchanged.
    again = await client.stub.RevokeSession(
        auth_pb2.RevokeSessionRequest(request_id=rid(), session_id=sessions[1].session_id),
        metadata=token,
    )
    assert again.session == revoked.session
    assert (
        len(db.audit(subject_session_id=sessions[1].session_id, event_type="session_revoked")) == 1
    )


async def test_sessions_are_paged_with_tokens_bound_to_the_filter(client: AuthClient) -> None:
    account = await client.register_account()
    sessions = [await client.login(account) for _ in range(5)]
    token = await client.token(sessions[-1].session_token)
    seen: list[str] = []
    page_token = ""
    while True:
        page = await client.stub.ListSessions(
            auth_pb2.ListSessionsRequest(page_size=2, page_token=page_token), metadata=token
        )
        seen += [item.session_id for item in page.sessions]
        page_token = page.next_page_token
        if not page_token:
            break
        last_token = page_token
    assert seen == [item.session_id for item in reversed(sessions)]
    await refused(
        client.stub.ListSessions(
            auth_pb2.ListSessionsRequest(page_token=last_token, include_ended=True), metadata=token
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "PAGE_TOKEN_INVALID",
    )
    other = await client.new_session()
    await refused(
        client.stub.ListSessions(
            auth_pb2.ListSessionsRequest(page_token=last_token),
            metadata=await client.token(other.session_token),
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "PAGE_TOKEN_INVALID",
    )
    await refused(
        client.stub.ListSessions(auth_pb2.ListSessionsRequest(page_size=-1), metadata=token),
        grpc.StatusCode.INVALID_ARGUMENT,
        "PAGE_SIZE_INVALID",
    )


async def test_another_accounts_session_is_not_found(client: AuthClient) -> None:
    mine = await client.new_session()
    theirs = await client.new_session()
    token = await client.token(mine.session_token)
    for session_id in (theirs.session_id, rid()):
        await refused(
            client.stub.RevokeSession(
                auth_pb2.RevokeSessionRequest(request_id=rid(), session_id=session_id),
                metadata=token,
            ),
            grpc.StatusCode.NOT_FOUND,
            "SESSION_NOT_FOUND",
        )
    await refused(
        client.stub.RevokeSession(
            auth_pb2.RevokeSessionRequest(request_id=rid(), session_id="bogus"), metadata=token
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "FIELD_INVALID",
    )
    # Their session is untouched.
    await client.authenticate(theirs.session_token)


async def test_agent_keys_cannot_list_sessions(client: AuthClient) -> None:
    agent = await client.register_agent()
    error = await refused(
        client.stub.ListSessions(
            auth_pb2.ListSessionsRequest(), metadata=await client.token(agent.api_key)
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "SCOPE_MISSING",
    )
    assert metadata_of(error) == {"scope": "account"}

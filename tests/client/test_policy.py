"""The client's retry classes, backoff, error parsing and token bookkeeping, without servers.

The method table is checked against the protos themselves (the source of truth), so a new RPC,
or a changed "Access:" line, cannot leave the client treating it wrongly.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from pathlib import Path

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from tokenmart.auth.v1 import auth_pb2
from tokenmart.wallet.v1 import wallet_pb2

from tokenmart_client import (
    CachingTokenSource,
    ClientConfig,
    ClientConfigError,
    CredentialTokens,
    RetryClass,
    RetryPolicy,
    StaticToken,
    TlsFiles,
    TokenMartError,
    connect,
)
from tokenmart_client.policy import (
    METHODS,
    NEVER_RETRIED,
    NO_ACCESS_TOKEN,
    TRANSPORT_ONLY,
    is_retryable,
    method_spec,
)
from tokenmart_client.tokens import token_lifetime_s
from tokenmart_client.transport import Transport

REPO = Path(__file__).resolve().parents[2]
_RPC = re.compile(r"^\s*rpc (\w+)\((\w+)\) returns \((stream )?(\w+)\)", re.MULTILINE)


def _proto_rpcs() -> dict[str, dict[str, str]]:
    """``service -> method -> the comment block above the rpc line`` from protos/."""
    found: dict[str, dict[str, str]] = {}
    for service in ("auth", "wallet", "provider", "review"):
        text = (REPO / "protos" / "tokenmart" / service / "v1" / f"{service}.proto").read_text()
        methods: dict[str, str] = {}
        lines = text.splitlines()
        for index, line in enumerate(lines):
            match = _RPC.match(line)
            if match is None:
                continue
            comment: list[str] = []
            cursor = index - 1
            while cursor >= 0 and lines[cursor].strip().startswith("//"):
                comment.insert(0, lines[cursor].strip().removeprefix("//").strip())
                cursor -= 1
            methods[match.group(1)] = " ".join(comment)
        found[service] = methods
    return found


PROTO_RPCS = _proto_rpcs()


def test_every_rpc_of_the_protos_is_known_to_the_client() -> None:
    assert {s: set(m) for s, m in PROTO_RPCS.items()} == {s: set(m) for s, m in METHODS.items()}


def test_methods_without_an_access_token_are_exactly_those_the_protos_name() -> None:
    from_protos = {
        f"{service}.{method}"
        for service, methods in PROTO_RPCS.items()
        for method, comment in methods.items()
        if "Access: no access token" in comment
    }
    assert from_protos == NO_ACCESS_TOKEN
    for service, methods in METHODS.items():
        for name, spec in methods.items():
            assert spec.needs_token is (f"{service}.{name}" not in NO_ACCESS_TOKEN)


def test_retry_classes() -> None:
    for key in (*NEVER_RETRIED, *TRANSPORT_ONLY):
        service, name = key.split(".")
        assert name in METHODS[service], key
    for methods in METHODS.values():
        for spec in methods.values():
            if spec.server_streaming or spec.key in NEVER_RETRIED:
                assert spec.retry_class is RetryClass.NEVER
            elif spec.key in TRANSPORT_ONLY:
                assert spec.retry_class is RetryClass.TRANSPORT_ONLY
            elif spec.has_request_id:
                assert spec.retry_class is RetryClass.REQUEST_ID
            else:
                assert spec.retry_class is RetryClass.READ
    assert method_spec("wallet", "CreateTransfer").retry_class is RetryClass.REQUEST_ID
    assert method_spec("wallet", "GetBalance").retry_class is RetryClass.READ
    assert method_spec("auth", "Login").retry_class is RetryClass.NEVER
    assert method_spec("provider", "StreamChatCompletion").retry_class is RetryClass.NEVER
    assert method_spec("provider", "ChatCompletion").retry_class is RetryClass.TRANSPORT_ONLY
    with pytest.raises(ClientConfigError) as raised:
        method_spec("wallet", "DropLedger")
    assert raised.value.reason == "UNKNOWN_METHOD"


def _error(code: grpc.StatusCode, reason: str | None = None) -> TokenMartError:
    return TokenMartError(code=code, message="m", reason=reason)


U, D, A, R = (
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
)


@pytest.mark.parametrize(
    ("method", "code", "reason", "attempt_timed_out", "expected"),
    [
        ("wallet.GetBalance", U, None, False, True),
        ("wallet.GetBalance", U, "DATABASE_UNAVAILABLE", False, True),
        ("wallet.GetBalance", D, None, True, True),
        ("wallet.GetBalance", D, None, False, False),
        ("wallet.GetBalance", A, "REQUEST_IN_PROGRESS", False, False),
        ("wallet.CreateTransfer", U, None, False, True),
        ("wallet.CreateTransfer", U, "DATABASE_UNAVAILABLE", False, True),
        ("wallet.CreateTransfer", D, None, True, False),
        ("wallet.CreateTransfer", A, "REQUEST_IN_PROGRESS", False, True),
        ("wallet.CreateTransfer", A, "CONCURRENT_UPDATE", False, True),
        ("wallet.CreateTransfer", A, "KEY_UPDATE_CONFLICT", False, False),
        ("wallet.CreateTransfer", R, "RATE_LIMITED", False, False),
        ("wallet.CreateTransfer", grpc.StatusCode.FAILED_PRECONDITION, None, False, False),
        ("provider.ChatCompletion", U, None, False, True),
        ("provider.ChatCompletion", U, "UPSTREAM_UNAVAILABLE", False, False),
        ("provider.ChatCompletion", U, "WALLET_UNAVAILABLE", False, False),
        ("auth.Login", U, None, False, False),
        ("auth.RefreshSession", U, None, False, False),
        ("auth.VerifyIdentityToken", U, None, False, False),
        ("auth.Login", R, "LOGIN_LOCKED_OUT", False, False),
        ("auth.Authenticate", U, None, False, True),
        ("provider.StreamChatCompletion", U, None, False, False),
    ],
)
def test_what_is_retried(
    method: str,
    code: grpc.StatusCode,
    reason: str | None,
    attempt_timed_out: bool,
    expected: bool,
) -> None:
    service, name = method.split(".")
    spec = method_spec(service, name)
    verdict = is_retryable(spec, _error(code, reason), attempt_timed_out=attempt_timed_out)
    assert verdict is expected


def test_backoff_is_exponential_bounded_and_jittered() -> None:
    policy = RetryPolicy(initial_backoff_s=0.1, max_backoff_s=1.0, backoff_multiplier=2.0)
    low = [policy.backoff_s(n, lambda a, b: a) for n in range(1, 8)]
    high = [policy.backoff_s(n, lambda a, b: b) for n in range(1, 8)]
    assert high == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0])
    assert low == pytest.approx([h / 2 for h in high])
    # A huge retry number must not overflow the float arithmetic.
    assert policy.backoff_s(10_000, lambda a, b: b) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "arguments",
    [
        {"max_attempts": 0},
        {"max_attempts": 101},
        {"initial_backoff_s": 0},
        {"initial_backoff_s": 2.0, "max_backoff_s": 1.0},
        {"backoff_multiplier": 0.5},
        {"attempt_timeout_s": 0},
    ],
)
def test_retry_policy_rejects_nonsense(arguments: dict[str, float]) -> None:
    with pytest.raises(ClientConfigError) as raised:
        RetryPolicy(**arguments)  # type: ignore[arg-type]
    assert raised.value.reason == "RETRY_POLICY_INVALID"


def _status_trailer(
    code: grpc.StatusCode, message: str, reason: str, metadata: dict[str, str]
) -> tuple[str, bytes]:
    info = error_details_pb2.ErrorInfo(reason=reason, domain="tokenmart.wallet", metadata=metadata)
    detail = any_pb2.Any()
    detail.Pack(info)
    status = status_pb2.Status(code=code.value[0], message=message, details=[detail])
    return ("grpc-status-details-bin", status.SerializeToString())


def _rpc_error(
    code: grpc.StatusCode, details: str, trailer: tuple[str, bytes] | None
) -> grpc.aio.AioRpcError:
    trailing = grpc.aio.Metadata(trailer) if trailer is not None else grpc.aio.Metadata()
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), trailing, details)


def test_error_info_is_read_from_the_rich_status() -> None:
    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    trailer = _status_trailer(code, "slow down", "LOGIN_LOCKED_OUT", {"retry_after_s": "30"})
    error = TokenMartError.from_rpc_error(
        _rpc_error(code, "slow down", trailer),
        method="/tokenmart.auth.v1.AuthService/Login",
        attempts=1,
        correlation_id="c0ffee",
        idempotency_key=None,
    )
    assert (error.code, error.reason, error.domain) == (
        code,
        "LOGIN_LOCKED_OUT",
        "tokenmart.wallet",
    )
    assert error.retry_after_s == 30.0
    assert "LOGIN_LOCKED_OUT" in str(error)


def test_an_inconsistent_or_missing_rich_status_gives_no_reason() -> None:
    mismatched = _status_trailer(grpc.StatusCode.NOT_FOUND, "m", "NOPE", {})
    for rpc_error in (
        _rpc_error(grpc.StatusCode.UNAVAILABLE, "m", mismatched),
        _rpc_error(grpc.StatusCode.UNAVAILABLE, "connection refused", None),
    ):
        error = TokenMartError.from_rpc_error(
            rpc_error, method="/x/Y", attempts=3, correlation_id="c", idempotency_key="k"
        )
        assert error.code is grpc.StatusCode.UNAVAILABLE
        assert error.reason is None and error.domain is None
        assert error.retry_after_s is None
        assert error.attempts == 3


def _jwt(claims: dict[str, object]) -> str:
    def segment(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{segment({'alg': 'EdDSA'})}.{segment(claims)}.c2ln"


def test_token_lifetime_comes_from_the_claims_and_is_bounded() -> None:
    assert token_lifetime_s(
        _jwt({"iat": 1000, "exp": 1010}), fallback_expires_at=0, now=0
    ) == pytest.approx(10)
    assert token_lifetime_s(
        _jwt({"iat": 1000, "exp": 100_000}), fallback_expires_at=0, now=0
    ) == pytest.approx(300)
    assert token_lifetime_s("not-a-jwt", fallback_expires_at=130, now=100) == pytest.approx(30)
    assert token_lifetime_s(
        _jwt({"iat": True, "exp": 5}), fallback_expires_at=160, now=100
    ) == pytest.approx(60)


async def test_concurrent_callers_share_one_fetch_and_renewal_follows_the_clock() -> None:
    now = [1000.0]
    fetched: list[str] = []
    release = asyncio.Event()

    async def fetch(timeout_s: float | None) -> tuple[str, float]:
        await release.wait()
        fetched.append(f"token-{len(fetched)}")
        return fetched[-1], 100.0

    source = CachingTokenSource(fetch, clock=lambda: now[0], refresh_before_s=30.0)
    waiters = [asyncio.create_task(source.token()) for _ in range(10)]
    await asyncio.sleep(0)
    release.set()
    assert set(await asyncio.gather(*waiters)) == {"token-0"}
    assert source.fetches == 1
    # Renewal margin: min(30 s, a quarter of 100 s) = 25 s before expiry.
    now[0] = 1074.0
    assert await source.token() == "token-0"
    now[0] = 1075.0
    assert await source.token() == "token-1"
    source.invalidate("token-0")  # a stale rejection does not drop the newer token
    assert await source.token() == "token-1"
    source.invalidate("token-1")
    assert await source.token() == "token-2"
    assert source.fetches == 3


async def test_credentials_never_show_in_reprs() -> None:
    credential = "tms_" + "x" * 40

    async def authenticate(**_: object) -> auth_pb2.AuthenticateResponse:
        raise AssertionError("not called")

    tokens = CredentialTokens(authenticate, credential)
    static = StaticToken("header.payload.signature")
    for text in (repr(tokens), str(tokens), repr(static), str(static)):
        assert credential not in text and "payload" not in text
    with pytest.raises(ValueError, match="credential"):
        CredentialTokens(authenticate, "has space")


def test_prepare_fills_the_request_id_once_without_touching_the_callers_message() -> None:
    spec = method_spec("wallet", "CreateTransfer")
    original = wallet_pb2.CreateTransferRequest(transfer_id="t", amount_micros=5)
    prepared, key = Transport.prepare(spec, original)
    assert original.request_id == ""
    assert isinstance(prepared, wallet_pb2.CreateTransferRequest)
    assert prepared.request_id == key
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", key or "")
    assert prepared.amount_micros == 5
    given = wallet_pb2.CreateTransferRequest(request_id="mine")
    assert Transport.prepare(spec, given) == (given, "mine")
    read = wallet_pb2.GetBalanceRequest()
    assert Transport.prepare(method_spec("wallet", "GetBalance"), read) == (read, None)
    with pytest.raises(TypeError):
        Transport.prepare(spec, wallet_pb2.GetBalanceRequest())


def _tls(tmp_path: Path) -> TlsFiles:
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("not really PEM")
    return TlsFiles(tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem")


async def test_configuration_errors_are_clear(tmp_path: Path) -> None:
    tls = _tls(tmp_path)
    with pytest.raises(ClientConfigError) as raised:
        connect(targets={}, tls=tls, credential="tms_x", service_token=True)
    assert raised.value.reason == "CONFLICTING_CREDENTIALS"
    with pytest.raises(ClientConfigError) as raised:
        connect(targets={"ledger": "127.0.0.1:1"}, tls=tls)
    assert raised.value.reason == "TARGET_NOT_CONFIGURED"
    missing = TlsFiles(tmp_path / "ca.pem", tmp_path / "absent.pem", tmp_path / "key.pem")
    with pytest.raises(ClientConfigError) as raised:
        connect(targets={}, tls=missing)
    assert raised.value.reason == "TLS_FILE_UNREADABLE"
    assert "absent.pem" in str(raised.value)
    with pytest.raises(ClientConfigError) as raised:
        ClientConfig(keepalive_time_s=1)
    assert raised.value.reason == "CONFIG_INVALID"
    async with connect(targets={"auth": "127.0.0.1:1"}, tls=tls) as client:
        with pytest.raises(ClientConfigError) as raised:
            await client.wallet.get_balance()
        assert raised.value.reason == "TARGET_NOT_CONFIGURED"
        with pytest.raises(ValueError, match="destination"):
            await client.wallet.create_transfer(amount_micros=1)

"""The client against a real TokenMart Core, started by the testing helper's documented fallback
(the five processes and the stand-in upstream on loopback; no Docker here).

What is proven, each against the real processes:

* mTLS: the right certificate works; a certificate the method's allowlist does not name gets
  PERMISSION_DENIED / PEER_NOT_ALLOWED as a TokenMartError; a certificate from another CA, or a
  server presenting another service's certificate, never gets through TLS;
* access tokens: fetched once, cached, attached, renewed ahead of expiry (auth issues 10-second
  tokens here, and the client's clock is injected), and replaced once when a service reports one
  expired;
* retries: an idempotent mutation sent while wallet is killed -9 and restarted lands exactly
  once; a non-idempotent call is sent once; a read is retried;
* deadlines: every call has one, and a frozen service cannot hold a call past it.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import secrets
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from tokenmart.auth.v1 import auth_pb2
from tokenmart.provider.v1 import provider_pb2
from tokenmart.review.v1 import review_pb2
from tokenmart.wallet.v1 import wallet_pb2

from ops.pki import ensure_pki
from tokenmart_client import (
    CallRecord,
    ClientConfig,
    RetryPolicy,
    TlsFiles,
    TokenMartClient,
    TokenMartError,
    connect,
)
from tokenmart_client.testing import TokenMartCore, start_tokenmart_core

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery staple"
TOKEN_TTL_S = 10
SERVICE_ENV = {
    # Short-lived tokens so expiry happens within a test; every Authenticate mints a new one.
    "auth": {
        "TOKENMART_AUTH_ACCESS_TOKEN_TTL_S": str(TOKEN_TTL_S),
        "TOKENMART_AUTH_AUTHENTICATE_CACHE_MS": "0",
    },
    # Wallet then rejects a token the moment it expires (no leeway), which the expiry test uses.
    "wallet": {"TOKENMART_WALLET_CLOCK_SKEW_S": "0"},
}
# Enough attempts to outlast a restart under load; the call's deadline is the real bound.
PATIENT = RetryPolicy(max_attempts=100, initial_backoff_s=0.1, max_backoff_s=1.0)


@pytest.fixture(scope="module")
def core() -> Iterator[TokenMartCore]:
    with start_tokenmart_core(mode="local", service_env=SERVICE_ENV) as started:
        assert started.mode == "local" and started.stack is not None
        yield started


class Clock:
    """The wall clock the client caches tokens against, moved by the test."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class Calls(list[CallRecord]):
    def named(self, method: str) -> list[CallRecord]:
        return [record for record in self if record.method.endswith(f"/{method}")]


def _ip() -> str:
    return f"198.51.100.{secrets.randbelow(254) + 1}"


def _email(kind: str = "user") -> str:
    return f"{kind}-{secrets.token_hex(6)}@example.com"


def _claims(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert isinstance(decoded, dict)
    return decoded


async def _admin(core: TokenMartCore, gateway: TokenMartClient) -> TokenMartClient:
    """An admin session, created as operators do (ctl certificate, operator token)."""
    email = _email("admin")
    async with core.client("ctl", service_token=True) as ctl:
        await ctl.auth.create_admin_account(email=email, password=PASSWORD)
    login = await gateway.auth.login(email=email, password=PASSWORD, client_ip=_ip())
    return gateway.with_credential(login.session_token)


async def _funded_user(
    gateway: TokenMartClient, admin: TokenMartClient, amount_micros: int
) -> tuple[auth_pb2.RegisterAccountResponse, str]:
    """A user account with ``amount_micros`` in its main wallet, and its session token."""
    email = _email()
    account = await gateway.auth.register_account(email=email, password=PASSWORD, client_ip=_ip())
    granted = await admin.wallet.mint(
        to=wallet_pb2.AccountRef(account_id=account.account.account_id),
        amount_micros=amount_micros,
        reason="client tests",
    )
    assert granted.result == wallet_pb2.CREATE_TRANSFER_RESULT_OK
    login = await gateway.auth.login(email=email, password=PASSWORD, client_ip=_ip())
    return account, login.session_token


async def _transfers_with_id(client: TokenMartClient, transfer_id: str) -> int:
    listed = await client.wallet.list_transfers(page_size=200)
    return sum(1 for transfer in listed.transfers if transfer.transfer_id == transfer_id)


# -- mTLS ---------------------------------------------------------------------------------------


async def test_the_right_certificate_works_and_an_unlisted_one_is_refused(
    core: TokenMartCore,
) -> None:
    async with core.client("gateway") as gateway:
        keys = await gateway.auth.get_public_keys()
        assert keys.keys and keys.issuer == "tokenmart-auth"
    calls = Calls()
    # review's certificate is valid, but CreateTransfer's allowlist names only the gateway.
    async with core.client("review", on_call=calls.append) as review:
        with pytest.raises(TokenMartError) as raised:
            await review.wallet.create_transfer(to_wallet_id=str(uuid.uuid4()), amount_micros=1)
        error = raised.value
        assert error.code is grpc.StatusCode.PERMISSION_DENIED
        assert (error.reason, error.domain) == ("PEER_NOT_ALLOWED", "tokenmart.wallet")
        assert error.attempts == 1
        with pytest.raises(TokenMartError) as raised:
            await review.auth.login(email=_email(), password=PASSWORD)
        assert (raised.value.reason, raised.value.domain) == ("PEER_NOT_ALLOWED", "tokenmart.auth")
    assert [record.code for record in calls] == [grpc.StatusCode.PERMISSION_DENIED] * 2


async def test_a_certificate_from_another_ca_never_gets_through_tls(
    core: TokenMartCore, tmp_path: Path
) -> None:
    foreign = ensure_pki(tmp_path / "foreign")["gateway"]
    tls = TlsFiles(foreign.ca_file, foreign.cert_file, foreign.key_file)
    config = ClientConfig(retry=RetryPolicy(max_attempts=2), default_timeout_s=5)
    async with connect(targets=core.targets, tls=tls, config=config) as stranger:
        with pytest.raises(TokenMartError) as raised:
            await stranger.auth.get_public_keys()
    assert raised.value.code is grpc.StatusCode.UNAVAILABLE
    assert raised.value.reason is None  # refused in the handshake: no TokenMart code ran


async def test_the_server_must_present_the_callees_certificate(core: TokenMartCore) -> None:
    # "wallet" pointed at auth's address: auth's certificate does not name wallet.
    config = ClientConfig(retry=RetryPolicy(max_attempts=2), default_timeout_s=5)
    async with connect(
        targets={"wallet": core.targets["auth"]}, tls=core.tls("gateway"), config=config
    ) as client:
        with pytest.raises(TokenMartError) as raised:
            await client.wallet.get_balance()
    assert raised.value.code is grpc.StatusCode.UNAVAILABLE
    assert raised.value.reason is None


# -- access tokens ------------------------------------------------------------------------------


async def test_access_token_is_fetched_once_cached_attached_and_renewed(
    core: TokenMartCore,
) -> None:
    clock = Clock()
    calls = Calls()
    async with core.client("gateway", clock=clock, on_call=calls.append) as gateway:
        admin = await _admin(core, gateway)
        account, session_token = await _funded_user(gateway, admin, 3_000_000)
        user = gateway.with_credential(session_token)
        tokens = user.tokens
        assert tokens is not None
        calls.clear()

        for _ in range(3):
            balance = await user.wallet.get_balance()
            assert balance.wallet_id == account.wallet_id
            assert balance.balance_micros == 3_000_000
        assert len(calls.named("Authenticate")) == 1
        assert len(calls.named("GetBalance")) == 3

        # Renewed a quarter of its 10-second life before expiry, on the injected clock.
        clock.now += 7.0
        await user.wallet.get_balance()
        assert len(calls.named("Authenticate")) == 1
        clock.now += 1.0
        await user.wallet.get_balance()
        assert len(calls.named("Authenticate")) == 2

        # The token is what authorises the call: without one, wallet refuses.
        with pytest.raises(TokenMartError) as raised:
            await user.without_token().wallet.get_balance()
        assert raised.value.code is grpc.StatusCode.UNAUTHENTICATED
        assert raised.value.reason == "ACCESS_TOKEN_MISSING"


async def test_an_expired_token_is_replaced_once_and_a_forwarded_one_is_not(
    core: TokenMartCore,
) -> None:
    frozen = Clock()  # never moves: the client believes its token is forever fresh
    calls = Calls()
    async with core.client("gateway", clock=frozen, on_call=calls.append) as gateway:
        admin = await _admin(core, gateway)
        _, session_token = await _funded_user(gateway, admin, 1_000_000)
        issued = await gateway.auth.authenticate(session_token)
        user = gateway.with_credential(session_token)
        await user.wallet.get_balance()
        forwarded = gateway.with_access_token(issued.access_token)
        await forwarded.wallet.get_balance()

        # Wait (real time) until both tokens are past their exp (wallet allows no leeway here).
        assert user.tokens is not None
        cached = await user.tokens.token()
        expiry = max(float(str(_claims(t)["exp"])) for t in (cached, issued.access_token))
        assert expiry - time.time() <= TOKEN_TTL_S + 1
        await asyncio.sleep(max(0.0, expiry + 0.5 - time.time()))
        calls.clear()

        balance = await user.wallet.get_balance()
        assert balance.balance_micros == 1_000_000
        (record,) = calls.named("GetBalance")
        assert [(a.code, a.reason) for a in record.attempts] == [
            (grpc.StatusCode.UNAUTHENTICATED, "ACCESS_TOKEN_EXPIRED"),
            (grpc.StatusCode.OK, None),
        ]
        assert len(calls.named("Authenticate")) == 1

        # A forwarded token cannot be renewed by the client: the caller sees the expiry.
        with pytest.raises(TokenMartError) as raised:
            await forwarded.wallet.get_balance()
        assert raised.value.reason == "ACCESS_TOKEN_EXPIRED"
        assert raised.value.attempts == 1


async def test_credentials_and_tokens_stay_out_of_reprs_and_errors(core: TokenMartCore) -> None:
    async with core.client("gateway") as gateway:
        credential = "tms_" + secrets.token_urlsafe(40).replace("-", "a").replace("_", "b")
        impostor = gateway.with_credential(credential)
        with pytest.raises(TokenMartError) as raised:
            await impostor.wallet.get_balance()
        error = raised.value
        # The token fetch failed; the error is auth's, about the credential, without it.
        assert error.code is grpc.StatusCode.UNAUTHENTICATED
        assert error.method.endswith("/Authenticate")
        assert error.reason in ("CREDENTIAL_MALFORMED", "CREDENTIAL_CHECKSUM_INVALID")
        for text in (str(error), repr(error), repr(impostor), repr(impostor.tokens)):
            assert credential not in text


# -- retries ------------------------------------------------------------------------------------


async def test_an_idempotent_mutation_lands_exactly_once_across_a_wallet_kill_and_restart(
    core: TokenMartCore,
) -> None:
    assert core.stack is not None
    calls = Calls()
    async with core.client("gateway", on_call=calls.append) as gateway:
        admin = await _admin(core, gateway)
        payee, _ = await _funded_user(gateway, admin, 1)
        payer_account, session_token = await _funded_user(gateway, admin, 5_000_000)
        payer = gateway.with_credential(session_token)
        await payer.wallet.get_balance()  # the token is in hand before wallet goes away
        patient = payer.with_options(retry=PATIENT, timeout_s=120)
        transfer_id, request_id = str(uuid.uuid4()), str(uuid.uuid4())

        core.stack.kill("wallet")  # SIGKILL, and reaped
        restarting = threading.Thread(target=core.stack.restart, args=("wallet",))
        restarting.start()
        try:
            response = await patient.wallet.create_transfer(
                to_wallet_id=payee.wallet_id,
                amount_micros=1_250_000,
                transfer_id=transfer_id,
                request_id=request_id,
            )
        finally:
            await asyncio.to_thread(restarting.join)

        (record,) = calls.named("CreateTransfer")
        assert record.attempts[0].code is grpc.StatusCode.UNAVAILABLE
        assert len(record.attempts) > 1 and record.code is grpc.StatusCode.OK
        assert record.idempotency_key == request_id
        assert response.result == wallet_pb2.CREATE_TRANSFER_RESULT_OK
        assert response.transfer.transfer_id == transfer_id

        # Exactly one transfer moved exactly the amount once.
        assert await _transfers_with_id(payer, transfer_id) == 1
        balance = await payer.wallet.get_balance()
        assert balance.wallet_id == payer_account.wallet_id
        assert balance.balance_micros == 5_000_000 - 1_250_000
        # Sending it again (as a caller unsure of the outcome would) changes nothing.
        replay = await payer.wallet.create_transfer(
            to_wallet_id=payee.wallet_id,
            amount_micros=1_250_000,
            transfer_id=transfer_id,
            request_id=request_id,
        )
        assert replay.transfer.transfer_id == transfer_id
        assert await _transfers_with_id(payer, transfer_id) == 1
        assert (await payer.wallet.get_balance()).balance_micros == 5_000_000 - 1_250_000


async def test_a_non_idempotent_call_is_sent_once_while_reads_and_request_id_calls_retry(
    core: TokenMartCore,
) -> None:
    assert core.stack is not None
    calls = Calls()
    retry = RetryPolicy(max_attempts=3, initial_backoff_s=0.05, max_backoff_s=0.1)
    config = ClientConfig(retry=retry, default_timeout_s=20)
    async with core.client("gateway", config=config, on_call=calls.append) as gateway:
        await gateway.auth.get_public_keys()  # connected before auth goes away
        core.stack.kill("auth")
        try:
            with pytest.raises(TokenMartError) as login:
                await gateway.auth.login(email=_email(), password=PASSWORD)
            with pytest.raises(TokenMartError) as read:
                await gateway.auth.get_public_keys()
            with pytest.raises(TokenMartError) as register:
                await gateway.auth.register_account(email=_email(), password=PASSWORD)
        finally:
            await asyncio.to_thread(core.stack.restart, "auth")
    for raised in (login, read, register):
        assert raised.value.code is grpc.StatusCode.UNAVAILABLE
    assert login.value.attempts == 1
    assert len(calls.named("Login")[0].attempts) == 1
    assert read.value.attempts == register.value.attempts == 3
    (registered,) = calls.named("RegisterAccount")
    assert registered.idempotency_key == register.value.idempotency_key is not None


# -- deadlines ----------------------------------------------------------------------------------


async def test_deadlines_bound_every_call_even_against_a_frozen_service(
    core: TokenMartCore,
) -> None:
    assert core.stack is not None
    calls = Calls()
    config = ClientConfig(default_timeout_s=1.0)
    async with core.client("gateway", config=config, on_call=calls.append) as gateway:
        admin = await _admin(core, gateway.with_options(timeout_s=20))
        payee, _ = await _funded_user(gateway.with_options(timeout_s=20), admin, 1)
        _, session_token = await _funded_user(gateway.with_options(timeout_s=20), admin, 2_000_000)
        payer = gateway.with_credential(session_token)
        await payer.wallet.get_balance(timeout_s=20)  # the token is in hand before the freeze
        transfer_id = str(uuid.uuid4())
        wallet = core.stack.processes["wallet"]
        wallet.send_signal(signal.SIGSTOP)  # accepts bytes, never answers
        try:
            # No timeout given anywhere: the client's default deadline still ends the call.
            with pytest.raises(TokenMartError) as plain:
                await payer.wallet.get_balance()
            # A read whose attempts time out early is sent again within its deadline.
            reads = payer.with_options(
                retry=RetryPolicy(
                    max_attempts=3,
                    initial_backoff_s=0.05,
                    max_backoff_s=0.1,
                    attempt_timeout_s=0.3,
                ),
                timeout_s=10,
            )
            with pytest.raises(TokenMartError) as retried:
                await reads.wallet.get_balance()
            # A mutation is not resent after DEADLINE_EXCEEDED (it may still be running).
            with pytest.raises(TokenMartError) as mutation:
                await reads.wallet.create_transfer(
                    to_wallet_id=payee.wallet_id,
                    amount_micros=700_000,
                    transfer_id=transfer_id,
                    timeout_s=1.0,
                )
        finally:
            wallet.send_signal(signal.SIGCONT)
        for raised in (plain, retried, mutation):
            assert raised.value.code is grpc.StatusCode.DEADLINE_EXCEEDED
        assert plain.value.attempts == 1
        assert retried.value.attempts == 3
        assert mutation.value.attempts == 1

        # The caller resends with the error's request_id and transfer id: one transfer at most.
        resent = await payer.with_options(timeout_s=30).wallet.create_transfer(
            to_wallet_id=payee.wallet_id,
            amount_micros=700_000,
            transfer_id=transfer_id,
            request_id=mutation.value.idempotency_key,
        )
        assert resent.transfer.transfer_id == transfer_id
        assert await _transfers_with_id(payer, transfer_id) == 1
        assert (await payer.wallet.get_balance()).balance_micros == 2_000_000 - 700_000


# -- the facades, end to end --------------------------------------------------------------------


async def test_facades_for_agents_inference_and_bounties(core: TokenMartCore) -> None:
    async with core.client("gateway", config=ClientConfig(default_timeout_s=30)) as gateway:
        admin = await _admin(core, gateway)
        owner_account, owner_session = await _funded_user(gateway, admin, 1)
        owner = gateway.with_credential(owner_session)

        registered = await gateway.auth.register_agent(
            name=f"client-{secrets.token_hex(4)}", client_ip=_ip()
        )
        agent_id = registered.agent.agent_id
        claimed = await owner.auth.claim_agent(claim_code=registered.claim_code)
        assert claimed.agent.agent_id == agent_id
        await admin.wallet.mint(
            to=wallet_pb2.AccountRef(agent_id=agent_id), amount_micros=50_000_000, reason="t"
        )
        key = await owner.auth.create_key(
            family=auth_pb2.KEY_FAMILY_INFERENCE, name="client tests", agent_id=agent_id
        )
        agent = gateway.with_credential(key.raw_key)
        me = await agent.auth.get_me()
        assert me.principal.agent_id == agent_id

        models = await agent.provider.list_models()
        assert "openai/gpt-4o-mini" in {model.model_id for model in models.models}
        body = {
            "model": "openai/gpt-4o-mini",
            "messages": [{"role": "user", "content": "Say hello."}],
            "max_tokens": 16,
        }
        completion = await agent.provider.chat_completion(body=body)
        assert json.loads(completion.body)["choices"]
        assert completion.charged_micros > 0
        generation = await agent.provider.get_generation(generation_id=completion.generation_id)
        assert generation.generation.charged_micros == completion.charged_micros

        events = [
            event.WhichOneof("event")
            async for event in agent.provider.stream_chat_completion(body={**body, "stream": True})
        ]
        assert events[0] == "started" and events[-1] == "finished"
        assert "chunk" in events

        await admin.review.fund_treasury(amount_micros=10_000_000, reason="client tests")
        bounty = (
            await admin.review.create_bounty(
                title="Client tests",
                reward_micros=2_000_000,
                max_claims=1,
                required_trust_tier=0,
                deadline=datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=2),
            )
        ).bounty
        worker = gateway.with_credential(registered.api_key)
        claim = await worker.review.claim_bounty(bounty_id=bounty.bounty_id)
        assert claim.claim.agent_id == agent_id
        submitted = await worker.review.submit_work(
            bounty_id=bounty.bounty_id, submission_text="done"
        )
        assert submitted.claim.status == review_pb2.CLAIM_STATUS_SUBMITTED
        listed = await admin.review.list_bounties()
        assert bounty.bounty_id in {item.bounty_id for item in listed.bounties}
        assert owner_account.account.account_id == claimed.agent.owner_account_id
        assert completion.key_source == provider_pb2.KEY_SOURCE_PLATFORM

"""The pure rules, without a server: lockout backoff, key limits, scopes, signing-key choice,
page tokens, access-token claims. The same rules are exercised end to end in the other files;
these pin the edge cases that are awkward to reach over the wire."""

from __future__ import annotations

import datetime
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from services.auth.domain import access_tokens, lockout, pagination, validation
from services.auth.domain.keys import LimitExceedsCaller, Limits, check_within
from services.auth.domain.principal import (
    AccountRole,
    AgentLifecycle,
    AgentStatus,
    Audience,
    CredentialFamily,
    KeyLimits,
    Principal,
    Scope,
    scopes_for,
)
from services.auth.domain.signing_keys import (
    KeyEncryption,
    SealedUnder,
    SigningKeyStatus,
    new_key,
    signing_key,
)

NOW = datetime.datetime(2026, 11, 29, 12, 0, tzinfo=datetime.UTC)
POLICY = lockout.BackoffPolicy(threshold=3, window_s=900, base_s=30, max_s=3600)


def _fail(counter: lockout.AttemptCounter, at: datetime.datetime) -> lockout.AttemptCounter:
    return lockout.after_failure(counter, policy=POLICY, now=at)


def test_lockout_starts_at_the_threshold_and_doubles() -> None:
    counter = lockout.EMPTY_COUNTER
    for _ in range(2):
        counter = _fail(counter, NOW)
        assert lockout.retry_after_s(counter, NOW) is None
    counter = _fail(counter, NOW)
    assert lockout.retry_after_s(counter, NOW) == 30
    later = NOW + datetime.timedelta(seconds=30)
    counter = _fail(counter, later)
    assert lockout.retry_after_s(counter, later) == 60
    later += datetime.timedelta(seconds=60)
    counter = _fail(counter, later)
    assert lockout.retry_after_s(counter, later) == 120


def test_lockout_is_capped() -> None:
    counter = lockout.EMPTY_COUNTER
    at = NOW
    for _ in range(40):
        counter = _fail(counter, at)
        at = counter.locked_until or at
    assert lockout.retry_after_s(counter, at - datetime.timedelta(seconds=1)) == 1
    assert counter.locked_until is not None
    assert counter.last_failure_at is not None
    assert counter.locked_until - counter.last_failure_at == datetime.timedelta(seconds=3600)


def test_a_quiet_window_after_the_lock_resets_the_count() -> None:
    counter = lockout.EMPTY_COUNTER
    for _ in range(3):
        counter = _fail(counter, NOW)
    assert counter.locked_until is not None
    # Failing again right after the lock escalates; after a quiet window it starts over.
    quiet = counter.locked_until + datetime.timedelta(seconds=POLICY.window_s)
    assert _fail(counter, quiet).failure_count == 1
    assert _fail(counter, counter.locked_until).failure_count == 4


def test_attempts_during_a_lock_are_not_counted() -> None:
    counter = lockout.EMPTY_COUNTER
    for _ in range(3):
        counter = _fail(counter, NOW)
    with pytest.raises(AssertionError):
        _fail(counter, NOW)


LIMITED = Limits(
    credit_limit_micros=1_000,
    rate_limit_rpm=30,
    allowed_models=("gpt-a", "gpt-b"),
    expires_at=NOW + datetime.timedelta(days=1),
)


@pytest.mark.parametrize(
    ("child", "limit"),
    [
        (
            Limits(rate_limit_rpm=30, allowed_models=("gpt-a",), expires_at=NOW),
            "credit_limit_micros",
        ),
        (
            Limits(
                credit_limit_micros=1_001,
                rate_limit_rpm=30,
                allowed_models=("gpt-a",),
                expires_at=NOW,
            ),
            "credit_limit_micros",
        ),
        (
            Limits(
                credit_limit_micros=1, rate_limit_rpm=31, allowed_models=("gpt-a",), expires_at=NOW
            ),
            "rate_limit_rpm",
        ),
        # Unset means the default (60), which is more than the parent's 30.
        (
            Limits(credit_limit_micros=1, allowed_models=("gpt-a",), expires_at=NOW),
            "rate_limit_rpm",
        ),
        (Limits(credit_limit_micros=1, rate_limit_rpm=1, allowed_models=("gpt-a",)), "expires_at"),
        (
            Limits(
                credit_limit_micros=1,
                rate_limit_rpm=1,
                allowed_models=("gpt-a",),
                expires_at=NOW + datetime.timedelta(days=2),
            ),
            "expires_at",
        ),
        (Limits(credit_limit_micros=1, rate_limit_rpm=1, expires_at=NOW), "allowed_models"),
        (
            Limits(
                credit_limit_micros=1, rate_limit_rpm=1, allowed_models=("gpt-c",), expires_at=NOW
            ),
            "allowed_models",
        ),
    ],
)
def test_a_child_beyond_any_parent_limit_is_refused(child: Limits, limit: str) -> None:
    with pytest.raises(LimitExceedsCaller) as refused:
        check_within(parent=LIMITED, child=child, default_rpm=60)
    assert refused.value.limit == limit


def test_children_within_every_limit_pass() -> None:
    check_within(parent=LIMITED, child=LIMITED, default_rpm=60)
    check_within(
        parent=LIMITED,
        child=Limits(
            credit_limit_micros=0, rate_limit_rpm=1, allowed_models=("gpt-b",), expires_at=NOW
        ),
        default_rpm=60,
    )
    # An unlimited parent may mint anything.
    check_within(parent=Limits(), child=Limits(), default_rpm=60)
    check_within(parent=Limits(), child=LIMITED, default_rpm=60)


@given(
    parent_credit=st.none() | st.integers(0, 10**15),
    child_credit=st.none() | st.integers(0, 10**15),
    parent_rpm=st.none() | st.integers(1, 100_000),
    child_rpm=st.none() | st.integers(1, 100_000),
)
def test_limit_checks_never_let_a_child_exceed_its_parent(
    parent_credit: int | None,
    child_credit: int | None,
    parent_rpm: int | None,
    child_rpm: int | None,
) -> None:
    parent = Limits(credit_limit_micros=parent_credit, rate_limit_rpm=parent_rpm)
    child = Limits(credit_limit_micros=child_credit, rate_limit_rpm=child_rpm)
    try:
        check_within(parent=parent, child=child, default_rpm=60)
    except LimitExceedsCaller:
        return
    unlimited = float("inf")
    assert (child_credit if child_credit is not None else unlimited) <= (
        parent_credit if parent_credit is not None else unlimited
    )
    assert (child_rpm or 60) <= (parent_rpm or 60)


def test_agent_credentials_never_carry_account_scopes() -> None:
    account_only = {Scope.ACCOUNT, Scope.ADMIN, Scope.SUPER_ADMIN}
    for family in (
        CredentialFamily.AGENT_KEY,
        CredentialFamily.INFERENCE_KEY,
        CredentialFamily.MANAGEMENT_KEY,
    ):
        assert not scopes_for(family) & account_only
    assert scopes_for(CredentialFamily.SESSION, role=AccountRole.USER) == {Scope.ACCOUNT}
    assert scopes_for(CredentialFamily.SESSION, role=AccountRole.SUPER_ADMIN) == {
        Scope.ACCOUNT,
        Scope.ADMIN,
        Scope.SUPER_ADMIN,
    }
    assert scopes_for(CredentialFamily.SERVICE, service_name="ctl") == {
        Scope.SERVICE,
        Scope.OPERATOR,
    }
    assert scopes_for(CredentialFamily.SERVICE, service_name="review") == {Scope.SERVICE}


def test_a_key_principal_with_account_authority_cannot_be_built() -> None:
    with pytest.raises(AssertionError):
        Principal(
            family=CredentialFamily.AGENT_KEY,
            scopes=frozenset({Scope.AGENT_READ}),
            account_id=uuid.uuid4(),
            agent_id=uuid.uuid4(),
            key_id=uuid.uuid4(),
            agent_lifecycle=AgentLifecycle.CLAIMED,
            agent_status=AgentStatus.ACTIVE,
        )


def _key_principal() -> Principal:
    return Principal(
        family=CredentialFamily.MANAGEMENT_KEY,
        scopes=scopes_for(CredentialFamily.MANAGEMENT_KEY),
        agent_id=uuid.uuid4(),
        key_id=uuid.uuid4(),
        agent_lifecycle=AgentLifecycle.CLAIMED,
        agent_status=AgentStatus.ACTIVE,
        agent_owner_account_id=uuid.uuid4(),
        key_limits=KeyLimits(
            rate_limit_rpm=30,
            credit_limit_micros=5,
            allowed_models=("m",),
            expires_at_s=int(NOW.timestamp()) + 3600,
            is_management=True,
        ),
    )


def test_claims_round_trip_through_a_signed_token() -> None:
    key = Ed25519PrivateKey.generate()
    material = access_tokens.SigningMaterial(key_id="kid-1", private_key=key)
    principal = _key_principal()
    issued_at = int(NOW.timestamp())
    claims = access_tokens.build_claims(
        principal,
        audiences=[Audience.AUTH],
        issued_at_s=issued_at,
        ttl_s=300,
        jti=str(uuid.uuid4()),
    )
    assert {"tm_acc", "tm_sid", "tm_role", "tm_svc"}.isdisjoint(claims)
    token = access_tokens.sign(claims, material)
    verified = access_tokens.verify(
        token,
        keys={
            "kid-1": access_tokens.VerificationKey(
                key_id="kid-1", public_key=key.public_key(), not_before_s=0, not_after_s=None
            )
        },
        audience=Audience.AUTH,
        now_s=issued_at + 1,
        leeway_s=0,
    )
    assert verified.principal == principal


def test_a_token_outliving_five_minutes_cannot_be_built() -> None:
    with pytest.raises(AssertionError):
        access_tokens.build_claims(
            _key_principal(), audiences=[Audience.AUTH], issued_at_s=0, ttl_s=301, jti="x"
        )


def test_the_newest_due_key_signs_and_a_retired_one_never_does() -> None:
    encryption = KeyEncryption(b"k" * 32)
    old = new_key(encryption, status=SigningKeyStatus.ACTIVE, not_before=NOW, now=NOW).key
    upcoming = new_key(
        encryption,
        status=SigningKeyStatus.NEXT,
        not_before=NOW + datetime.timedelta(minutes=2),
        now=NOW,
    ).key
    assert signing_key([old, upcoming], NOW) == old
    assert signing_key([old, upcoming], NOW + datetime.timedelta(minutes=2)) == upcoming
    assert not upcoming.verifies(NOW)
    assert upcoming.verifies(NOW + datetime.timedelta(minutes=2))


def test_a_sealed_key_opens_only_under_its_own_kek_and_id() -> None:
    from cryptography.exceptions import InvalidTag

    created = new_key(
        KeyEncryption(b"k" * 32), status=SigningKeyStatus.ACTIVE, not_before=NOW, now=NOW
    )
    assert KeyEncryption(b"k" * 32).open(created.key).key_id == created.key.key_id
    with pytest.raises(InvalidTag):
        KeyEncryption(b"x" * 32).open(created.key)
    import dataclasses

    moved = dataclasses.replace(created.key, id=uuid.uuid4())
    with pytest.raises(InvalidTag):
        KeyEncryption(b"k" * 32).open(moved)


def test_during_a_kek_change_keys_open_under_either_kek_and_seal_under_the_new_one() -> None:
    import dataclasses

    from cryptography.exceptions import InvalidTag

    old, new, other = b"o" * 32, b"n" * 32, b"x" * 32
    changing = KeyEncryption(new, previous_kek=old)
    under_old = new_key(KeyEncryption(old), status=SigningKeyStatus.ACTIVE, not_before=NOW, now=NOW)
    under_new = new_key(changing, status=SigningKeyStatus.NEXT, not_before=NOW, now=NOW)
    under_other = new_key(
        KeyEncryption(other), status=SigningKeyStatus.ACTIVE, not_before=NOW, now=NOW
    )
    # New keys are sealed under the primary KEK only.
    assert KeyEncryption(new).open(under_new.key).key_id == under_new.key.key_id
    with pytest.raises(InvalidTag):
        KeyEncryption(old).open(under_new.key)
    # Either KEK opens; a third does not.
    assert changing.open(under_old.key).key_id == under_old.key.key_id
    with pytest.raises(InvalidTag):
        changing.open(under_other.key)
    assert changing.sealed_under(under_old.key) is SealedUnder.PREVIOUS
    assert changing.sealed_under(under_new.key) is SealedUnder.PRIMARY
    assert changing.sealed_under(under_other.key) is SealedUnder.NEITHER
    # Re-sealing moves only keys under the previous KEK, to the primary, with a fresh nonce.
    assert changing.reseal(under_new.key) == (SealedUnder.PRIMARY, None)
    assert changing.reseal(under_other.key) == (SealedUnder.NEITHER, None)
    where, sealed = changing.reseal(under_old.key)
    assert where is SealedUnder.PREVIOUS and sealed is not None
    nonce, ciphertext = sealed
    assert nonce != under_old.key.private_key_nonce
    moved = dataclasses.replace(
        under_old.key, private_key_nonce=nonce, private_key_ciphertext=ciphertext
    )
    opened = KeyEncryption(new).open(moved).private_key.private_bytes_raw()
    assert opened == under_old.material.private_key.private_bytes_raw()
    assert "redacted" in repr(changing) and repr(old) not in repr(changing)


def test_page_tokens_are_bound_to_their_list_and_filter() -> None:
    tokens = pagination.PageTokens(b"p" * 32)
    token = tokens.encode(list_name="keys", filters={"a": 1}, position=("x", "y"))
    assert tokens.decode(token, list_name="keys", filters={"a": 1}, width=2) == ("x", "y")
    for list_name, filters in (("keys", {"a": 2}), ("agents", {"a": 1})):
        with pytest.raises(validation.Invalid):
            tokens.decode(token, list_name=list_name, filters=filters, width=2)
    with pytest.raises(validation.Invalid):
        pagination.PageTokens(b"q" * 32).decode(token, list_name="keys", filters={"a": 1}, width=2)
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(validation.Invalid):
        tokens.decode(tampered, list_name="keys", filters={"a": 1}, width=2)


@pytest.mark.parametrize(
    ("requested", "size"), [(0, 50), (1, 1), (200, 200), (201, 200), (10**6, 200)]
)
def test_page_sizes_are_clamped(requested: int, size: int) -> None:
    assert pagination.page_size(requested) == size


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "a",
        "a@b",
        "a@@b.com",
        "a b@c.com",
        "a@b..com",
        ".a@b.com",
        "a@-b.com",
        "a@b.c0m.123",
        "x" * 250 + "@b.com",
        "a,b@c.com",
    ],
)
def test_invalid_emails(raw: str) -> None:
    with pytest.raises(validation.Invalid):
        validation.normalise_email(raw)


def test_emails_are_trimmed_and_lowercased() -> None:
    assert validation.normalise_email("  Alice.Smith+x@Example.COM ") == "alice.smith+x@example.com"

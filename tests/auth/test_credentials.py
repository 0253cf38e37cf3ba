"""Credential formats: generation, and offline parsing of random, mutated and foreign input.

The parser is the first line of THREATS I1: a malformed or mistyped credential of any family is
refused by format and checksum, before any database lookup.
"""

from __future__ import annotations

import zlib

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from services.auth.domain import credentials
from services.auth.domain.credentials import (
    BASE62_ALPHABET,
    CHECKSUM_LENGTH,
    RANDOM_LENGTH,
    CredentialDigester,
    CredentialFormatError,
    CredentialKind,
)

KINDS = list(CredentialKind)


@pytest.mark.parametrize("kind", KINDS)
def test_a_generated_credential_has_the_documented_shape(kind: CredentialKind) -> None:
    credential = credentials.generate(kind)
    raw = credential.raw
    assert raw.startswith(kind.prefix)
    body = raw[len(kind.prefix) :]
    assert len(body) == RANDOM_LENGTH + CHECKSUM_LENGTH
    assert set(body) <= set(BASE62_ALPHABET)
    assert credentials.parse(raw) == credential
    assert credential.display_prefix == raw[: len(kind.prefix) + 8]
    assert raw not in repr(credential) and raw not in str(credential)


def test_the_checksum_is_crc32_of_prefix_and_random_in_base62() -> None:
    credential = credentials.generate(CredentialKind.AGENT_KEY)
    body = credential.raw[:-CHECKSUM_LENGTH]
    number = 0
    for char in credential.raw[-CHECKSUM_LENGTH:]:
        number = number * 62 + BASE62_ALPHABET.index(char)
    assert number == zlib.crc32(body.encode())


def test_generated_credentials_do_not_repeat() -> None:
    raws = {credentials.generate(CredentialKind.SESSION).raw for _ in range(2000)}
    assert len(raws) == 2000


def test_every_random_character_is_used() -> None:
    # 43 draws per credential over 62 symbols: after 200 credentials every symbol has shown up
    # unless the generator is biased or truncated (probability of a miss ~ 62 * e^-139).
    seen = set()
    for _ in range(200):
        raw = credentials.generate(CredentialKind.INFERENCE_KEY).raw
        seen |= set(raw[3 : 3 + RANDOM_LENGTH])
    assert seen == set(BASE62_ALPHABET)


@settings(max_examples=500)
@given(st.text(max_size=120))
def test_random_text_is_never_accepted(text: str) -> None:
    # A random string passes prefix, length, alphabet and checksum with probability ~2^-32.
    with pytest.raises(CredentialFormatError):
        credentials.parse(text)


@settings(max_examples=300)
@given(
    kind=st.sampled_from(KINDS),
    random_part=st.text(alphabet=BASE62_ALPHABET, min_size=RANDOM_LENGTH, max_size=RANDOM_LENGTH),
)
def test_a_well_formed_credential_parses_only_with_its_own_checksum(
    kind: CredentialKind, random_part: str
) -> None:
    body = kind.prefix + random_part
    good = credentials.checksum(body)
    assert credentials.parse(body + good).kind is kind
    wrong = ("1" if good[0] != "1" else "2") + good[1:]
    with pytest.raises(CredentialFormatError) as failed:
        credentials.parse(body + wrong)
    assert failed.value.problem == CredentialFormatError.CHECKSUM


@settings(max_examples=500)
@given(
    kind=st.sampled_from(KINDS),
    position=st.integers(min_value=0),
    replacement=st.characters(),
)
def test_any_single_character_change_is_refused(
    kind: CredentialKind, position: int, replacement: str
) -> None:
    raw = credentials.generate(kind).raw
    index = position % len(raw)
    assume(raw[index] != replacement)
    mutated = raw[:index] + replacement + raw[index + 1 :]
    # A different prefix could name another family: that is still not this credential, and
    # every family's checksum covers its own prefix.
    with pytest.raises(CredentialFormatError):
        credentials.parse(mutated)


@settings(max_examples=200)
@given(kind=st.sampled_from(KINDS), cut=st.integers(min_value=1, max_value=20), extra=st.text())
def test_truncated_or_extended_credentials_are_malformed(
    kind: CredentialKind, cut: int, extra: str
) -> None:
    raw = credentials.generate(kind).raw
    for candidate in (raw[:-cut], raw + (extra or "A")):
        with pytest.raises(CredentialFormatError) as failed:
            credentials.parse(candidate)
        assert failed.value.problem == CredentialFormatError.MALFORMED


@settings(max_examples=200)
@given(kind=st.sampled_from(KINDS), other=st.sampled_from(KINDS))
def test_a_credential_with_another_familys_prefix_is_refused(
    kind: CredentialKind, other: CredentialKind
) -> None:
    assume(kind is not other)
    raw = credentials.generate(kind).raw
    swapped = other.prefix + raw[len(kind.prefix) :]
    with pytest.raises(CredentialFormatError):
        credentials.parse(swapped)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Bearer tokenmart_abc",
        "TOKENMART_" + "A" * 49,
        "tokenmart-" + "A" * 49,
        "tokenmart_" + "A" * 48 + "é",
        "tokenmart_" + "A" * 48 + "-",
        "tokenmart_" + "A" * 48 + " ",
        "x" * 10_000,
    ],
)
def test_malformed_examples(text: str) -> None:
    with pytest.raises(CredentialFormatError) as failed:
        credentials.parse(text)
    assert failed.value.problem == CredentialFormatError.MALFORMED


def test_bearer_kinds_are_the_four_families_authenticate_accepts() -> None:
    bearer = {kind for kind in CredentialKind if kind.is_bearer}
    assert bearer == {
        CredentialKind.AGENT_KEY,
        CredentialKind.INFERENCE_KEY,
        CredentialKind.MANAGEMENT_KEY,
        CredentialKind.SESSION,
    }


def test_digests_are_keyed_by_the_pepper() -> None:
    credential = credentials.generate(CredentialKind.AGENT_KEY)
    first = CredentialDigester(b"a" * 32).digest(credential)
    assert first == CredentialDigester(b"a" * 32).digest(credential)
    assert first != CredentialDigester(b"b" * 32).digest(credential)
    assert len(first) == 32
    assert credential.raw.encode() not in first
    assert "a" * 32 not in repr(CredentialDigester(b"a" * 32))


def test_a_short_pepper_is_a_programming_error() -> None:
    with pytest.raises(AssertionError):
        CredentialDigester(b"short")

"""The pure rules: prices and holds, the input estimate, envelope encryption, key priority, the
event-stream parser, request checks and page tokens."""

from __future__ import annotations

import datetime
import os
import uuid
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.provider.domain import requests
from services.provider.domain.billing import (
    Estimate,
    KeySource,
    Prices,
    Usage,
    charge_micros,
    counted_usage,
    fee_micros,
    hold_micros,
    price_micros,
)
from services.provider.domain.envelope import DecryptionFailed, Envelope, SecretBinding
from services.provider.domain.pagination import PageTokens, page_size
from services.provider.domain.provider_keys import (
    ProviderKey,
    ProviderKeyScope,
    key_chain,
    last_chars,
    validate_secret,
)
from services.provider.domain.registry import SEED_CATALOGUE, UpstreamProvider, validate_spec
from services.provider.domain.requests import Dialect
from services.provider.domain.sse import SseParser, SseTooLarge
from services.provider.domain.validation import Invalid
from services.provider.standin.app import _anthropic_measure, _openai_measure

MINI = Prices(input_micros=150_000, output_micros=600_000)


# -- prices and holds ---------------------------------------------------------------------------


def test_prices_round_up_so_nothing_used_is_ever_free() -> None:
    assert price_micros(Usage(1, 0), MINI) == 1  # 0.15 micro-credits rounds up to 1
    assert price_micros(Usage(0, 1), MINI) == 1
    assert price_micros(Usage(0, 0), MINI) == 0
    assert price_micros(Usage(1_000_000, 1_000_000), MINI) == 750_000
    assert price_micros(Usage(6, 12), MINI) == 1 + 8  # ceil(0.9) + ceil(7.2)


def test_a_zero_price_cannot_even_be_constructed() -> None:
    with pytest.raises(AssertionError):
        Prices(input_micros=0, output_micros=1)


def test_byok_pays_only_the_fee_and_platform_the_price() -> None:
    assert charge_micros(1000, key_source=KeySource.PLATFORM, fee_bps=500) == 1000
    assert charge_micros(1000, key_source=KeySource.BYOK_AGENT, fee_bps=500) == 50
    assert charge_micros(1000, key_source=KeySource.BYOK_ACCOUNT, fee_bps=0) == 0
    assert fee_micros(1, 1) == 1  # any fee on any price is at least a micro-credit
    estimate = Estimate(input_tokens=100, max_output_tokens=100)
    assert hold_micros(estimate, MINI, key_source=KeySource.BYOK_AGENT, fee_bps=0) == 0
    assert hold_micros(estimate, MINI, key_source=KeySource.PLATFORM, fee_bps=0) == 15 + 60


def test_counted_usage_over_counts_what_was_produced_and_stays_under_the_limit() -> None:
    estimate = Estimate(input_tokens=50, max_output_tokens=10)
    counted = counted_usage(
        reported_input_tokens=None,
        estimate=estimate,
        output_bytes=9,
        output_events=2,
        bytes_per_token=3,
    )
    assert counted == Usage(input_tokens=50, output_tokens=3)
    assert counted_usage(
        reported_input_tokens=7,
        estimate=estimate,
        output_bytes=3000,
        output_events=400,
        bytes_per_token=3,
    ) == Usage(input_tokens=7, output_tokens=10)


def test_the_seeded_catalogue_obeys_the_registry_rules() -> None:
    ids = [spec.model_id for spec in SEED_CATALOGUE]
    assert {"openai/gpt-4o-mini", "openai/gpt-4o", "anthropic/claude-3-5-haiku"} <= set(ids)
    assert "anthropic/claude-sonnet-4" in ids
    assert any(spec.provider is UpstreamProvider.OPENROUTER for spec in SEED_CATALOGUE)
    for spec in SEED_CATALOGUE:
        assert validate_spec(**{**spec.__dict__}) == spec


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"model_id": "GPT-4o"}, "MODEL_ID_INVALID"),
        ({"model_id": "no-slash"}, "MODEL_ID_INVALID"),
        ({"display_name": " "}, "DISPLAY_NAME_INVALID"),
        ({"upstream_model": "has space"}, "UPSTREAM_MODEL_REQUIRED"),
        ({"input_price_micros": 0}, "PRICE_NOT_POSITIVE"),
        ({"output_price_micros": -5}, "PRICE_NOT_POSITIVE"),
        ({"output_price_micros": 10**12 + 1}, "PRICE_TOO_LARGE"),
        ({"context_length": 0}, "CONTEXT_LENGTH_INVALID"),
        ({"max_output_tokens": 128_001}, "MAX_OUTPUT_TOKENS_INVALID"),
    ],
)
def test_registry_rules(change: dict[str, Any], reason: str) -> None:
    spec = SEED_CATALOGUE[0]
    with pytest.raises(Invalid) as refused:
        validate_spec(**{**spec.__dict__, **change})
    assert refused.value.reason == reason


# -- the input estimate -------------------------------------------------------------------------

_text = st.text(min_size=0, max_size=400)


@settings(max_examples=150, deadline=None)
@given(
    system=_text,
    turns=st.lists(_text, min_size=1, max_size=6),
    images=st.integers(min_value=0, max_value=3),
)
def test_the_input_estimate_covers_the_standins_count(
    system: str, turns: list[str], images: int
) -> None:
    """The hold's input estimate is an upper bound of what an upstream counts (here the
    stand-in's tokenizer, in both dialects, after translation as well)."""
    content: list[dict[str, Any]] = [{"type": "text", "text": turns[0] or "."}]
    content += [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    ] * images
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}]
    messages.append({"role": "user", "content": content})
    for index, turn in enumerate(turns[1:]):
        messages.append({"role": "assistant" if index % 2 == 0 else "user", "content": turn})
    body = {"model": "openai/gpt-4o", "messages": messages}
    parsed = requests.parse(Dialect.OPENAI, orjson.dumps(body), max_body_bytes=10**7)
    estimate = parsed.input_estimate(bytes_per_token=3, image_tokens=2000, message_overhead=8)
    counted, _ = _openai_measure(body)
    assert estimate >= counted.input_tokens


def test_images_are_counted_per_image_not_by_payload_size() -> None:
    huge = "data:image/png;base64," + "A" * 200_000
    body = {
        "model": "openai/gpt-4o",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this"},
                    {"type": "image_url", "image_url": {"url": huge}},
                ],
            }
        ],
    }
    parsed = requests.parse(Dialect.OPENAI, orjson.dumps(body), max_body_bytes=10**7)
    assert parsed.image_count == 1
    assert parsed.weight_bytes < 1000
    assert parsed.body["messages"][0]["content"][1]["image_url"]["url"] == huge  # untouched


@pytest.mark.parametrize(
    ("dialect", "body", "reason", "field"),
    [
        (Dialect.OPENAI, b"[1]", "BODY_INVALID", None),
        (Dialect.OPENAI, b"{not json", "BODY_INVALID", None),
        (Dialect.OPENAI, {"messages": [{"role": "user", "content": "x"}]}, "BODY_INVALID", "model"),
        (Dialect.OPENAI, {"model": "m", "messages": []}, "BODY_INVALID", "messages"),
        (
            Dialect.OPENAI,
            {"model": "m", "messages": [{"role": "wizard", "content": "x"}]},
            "BODY_INVALID",
            "messages[0].role",
        ),
        (
            Dialect.OPENAI,
            {
                "model": "m",
                "messages": [
                    {"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}
                ],
            },
            "BODY_INVALID",
            "messages[0].content[0].type",
        ),
        (
            Dialect.OPENAI,
            {"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 2},
            "BODY_INVALID",
            "n",
        ),
        (
            Dialect.OPENAI,
            {"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0},
            "MAX_TOKENS_INVALID",
            "max_tokens",
        ),
        (
            Dialect.OPENAI,
            {"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": "yes"},
            "BODY_INVALID",
            "stream",
        ),
        (
            Dialect.ANTHROPIC,
            {"model": "m", "messages": [{"role": "user", "content": "x"}]},
            "BODY_INVALID",
            "max_tokens",
        ),
        (
            Dialect.ANTHROPIC,
            {
                "model": "m",
                "max_tokens": 5,
                "messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}],
            },
            "BODY_INVALID",
            "messages[0].content[0].type",
        ),
        (
            Dialect.ANTHROPIC,
            {
                "model": "m",
                "max_tokens": 5,
                "messages": [{"role": "user", "content": "x"}],
                "tools": [{"type": "web_search_20250305", "name": "web_search"}],
            },
            "BODY_INVALID",
            "tools[0].type",
        ),
    ],
)
def test_request_checks_name_the_reason_and_field(
    dialect: Dialect, body: Any, reason: str, field: str | None
) -> None:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    with pytest.raises(Invalid) as refused:
        requests.parse(dialect, raw, max_body_bytes=10_000)
    assert refused.value.reason == reason
    assert refused.value.field == field


def test_bodies_nested_too_deep_or_too_large_are_refused() -> None:
    deep: Any = "x"
    for _ in range(70):
        deep = [deep]
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}], "metadata": deep}
    with pytest.raises(Invalid) as refused:
        requests.parse(Dialect.OPENAI, orjson.dumps(body), max_body_bytes=10_000)
    assert refused.value.reason == "BODY_INVALID"
    with pytest.raises(Invalid) as too_large:
        requests.parse(Dialect.OPENAI, b" " * 10_001, max_body_bytes=10_000)
    assert too_large.value.reason == "BODY_TOO_LARGE"


def test_anthropic_measure_counts_tool_results_like_the_estimate() -> None:
    body = {
        "model": "m",
        "max_tokens": 10,
        "messages": [
            {"role": "user", "content": "use the tool"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {"q": "x"}}],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "result"}],
            },
        ],
    }
    parsed = requests.parse(Dialect.ANTHROPIC, orjson.dumps(body), max_body_bytes=10_000)
    counted, _ = _anthropic_measure(body)
    assert parsed.uses_tools
    assert (
        parsed.input_estimate(bytes_per_token=3, image_tokens=2000, message_overhead=8)
        >= counted.input_tokens
    )


# -- envelope encryption ------------------------------------------------------------------------


def _binding(**change: Any) -> SecretBinding:
    values: dict[str, Any] = {
        "provider_key_id": uuid.UUID(int=1),
        "scope": "agent",
        "owner_id": uuid.UUID(int=2),
        "provider": "openai",
        **change,
    }
    return SecretBinding(**values)


def test_a_sealed_secret_opens_only_with_its_own_binding() -> None:
    envelope = Envelope({1: os.urandom(32)}, primary_version=1)
    sealed = envelope.seal("sk-a-real-looking-secret-1234", _binding())
    assert envelope.open(sealed, _binding()) == "sk-a-real-looking-secret-1234"
    assert b"sk-a-real" not in sealed.secret_ciphertext + sealed.wrapped_key
    for other in (
        _binding(provider_key_id=uuid.UUID(int=9)),
        _binding(scope="account"),
        _binding(owner_id=uuid.UUID(int=3)),
        _binding(provider="anthropic"),
    ):
        with pytest.raises(DecryptionFailed):
            envelope.open(sealed, other)


def test_tampering_or_a_wrong_kek_version_fails_closed() -> None:
    keks = {1: os.urandom(32), 2: os.urandom(32)}
    envelope = Envelope(keks, primary_version=1)
    sealed = envelope.seal("sk-another-secret-5678", _binding())
    flipped = bytes([sealed.secret_ciphertext[0] ^ 1]) + sealed.secret_ciphertext[1:]
    for broken in (
        type(sealed)(sealed.kek_version, sealed.wrapped_key, sealed.secret_nonce, flipped),
        type(sealed)(2, sealed.wrapped_key, sealed.secret_nonce, sealed.secret_ciphertext),
        type(sealed)(7, sealed.wrapped_key, sealed.secret_nonce, sealed.secret_ciphertext),
    ):
        with pytest.raises(DecryptionFailed):
            envelope.open(broken, _binding())


def test_rewrap_moves_the_data_key_and_never_touches_the_secret_ciphertext() -> None:
    old, new = os.urandom(32), os.urandom(32)
    before = Envelope({1: old}, primary_version=1)
    sealed = before.seal("sk-rotate-me-0000", _binding())
    during = Envelope({1: old, 2: new}, primary_version=2)
    rewrapped = during.rewrap(sealed, _binding(), version=2)
    assert rewrapped.kek_version == 2
    assert rewrapped.secret_ciphertext == sealed.secret_ciphertext
    assert rewrapped.wrapped_key != sealed.wrapped_key
    after = Envelope({2: new}, primary_version=2)  # the old KEK is gone
    assert after.open(rewrapped, _binding()) == "sk-rotate-me-0000"
    with pytest.raises(DecryptionFailed):
        after.open(sealed, _binding())


# -- BYOK keys and their priority ---------------------------------------------------------------


def _key(scope: ProviderKeyScope, *, always_use: bool = False) -> ProviderKey:
    envelope = Envelope({1: os.urandom(32)}, primary_version=1)
    key_id = uuid.uuid4()
    owner = uuid.uuid4()
    binding = _binding(provider_key_id=key_id, scope=scope.value, owner_id=owner)
    return ProviderKey(
        id=key_id,
        provider=UpstreamProvider.OPENAI,
        scope=scope,
        agent_id=owner if scope is ProviderKeyScope.AGENT else None,
        account_id=owner if scope is ProviderKeyScope.ACCOUNT else None,
        label="",
        last4="1234",
        always_use=always_use,
        sealed=envelope.seal("sk-whatever-1234", binding),
        created_at=datetime.datetime.now(datetime.UTC),
        last_used_at=None,
        deleted_at=None,
    )


def test_key_priority_is_agent_then_account_then_platform() -> None:
    agent, account = _key(ProviderKeyScope.AGENT), _key(ProviderKeyScope.ACCOUNT)
    chain = key_chain(agent_key=agent, account_key=account, platform_key_configured=True)
    assert [choice.source for choice in chain] == [
        KeySource.BYOK_AGENT,
        KeySource.BYOK_ACCOUNT,
        KeySource.PLATFORM,
    ]
    assert chain[0].may_fall_back and not chain[2].may_fall_back
    only_account = key_chain(agent_key=None, account_key=account, platform_key_configured=False)
    assert [choice.source for choice in only_account] == [KeySource.BYOK_ACCOUNT]
    assert key_chain(agent_key=None, account_key=None, platform_key_configured=False) == ()


def test_an_always_use_key_ends_the_chain() -> None:
    agent = _key(ProviderKeyScope.AGENT, always_use=True)
    chain = key_chain(
        agent_key=agent, account_key=_key(ProviderKeyScope.ACCOUNT), platform_key_configured=True
    )
    assert [choice.source for choice in chain] == [KeySource.BYOK_AGENT]
    assert not chain[0].may_fall_back


@pytest.mark.parametrize(
    "secret", ["short", "has space inside-123", "tab\tinside-1234", "x" * 513, "ünïcode-secret"]
)
def test_malformed_secrets_are_refused(secret: str) -> None:
    with pytest.raises(Invalid) as refused:
        validate_secret(secret)
    assert refused.value.reason == "SECRET_INVALID"


def test_only_the_last_four_characters_are_shown() -> None:
    assert last_chars("sk-proj-abcdefgh-WXYZ") == "WXYZ"


# -- server-sent events -------------------------------------------------------------------------

_STREAM = (
    b": OPENROUTER PROCESSING\r\n\r\n"
    b'event: message_start\r\ndata: {"a": 1}\r\n\r\n'
    b"data: line one\ndata: line two\n\n"
    b"event: ping\rdata: {}\r\r"
    b"data:no-space\n\n"
    b"data: [DONE]\n\n"
)
_EXPECTED = [
    ("message_start", '{"a": 1}'),
    ("", "line one\nline two"),
    ("ping", "{}"),
    ("", "no-space"),
    ("", "[DONE]"),
]


@settings(max_examples=200, deadline=None)
@given(cuts=st.lists(st.integers(min_value=1, max_value=len(_STREAM) - 1), max_size=12))
def test_sse_events_survive_any_split_across_reads(cuts: list[int]) -> None:
    parser = SseParser(max_event_bytes=10_000)
    events = []
    start = 0
    for cut in [*sorted(set(cuts)), len(_STREAM)]:
        events += parser.feed(_STREAM[start:cut])
        start = cut
    assert [(event.event, event.data) for event in events] == _EXPECTED


def test_an_oversized_event_is_an_error_not_unbounded_memory() -> None:
    parser = SseParser(max_event_bytes=100)
    with pytest.raises(SseTooLarge):
        parser.feed(b"data: " + b"x" * 200)
    parser = SseParser(max_event_bytes=100)
    for _ in range(9):  # 11 bytes of data each, no blank line: one growing event
        parser.feed(b"data: " + b"y" * 10 + b"\n")
    with pytest.raises(SseTooLarge):
        parser.feed(b"data: " + b"y" * 10 + b"\n")


# -- page tokens --------------------------------------------------------------------------------


def test_page_tokens_are_bound_to_their_list_and_filter() -> None:
    tokens = PageTokens(os.urandom(32))
    token = tokens.encode(list_name="models", filters={"a": 1}, position=("x",))
    assert tokens.decode(token, list_name="models", filters={"a": 1}, width=1) == ("x",)
    for list_name, filters in (("models", {"a": 2}), ("keys", {"a": 1})):
        with pytest.raises(Invalid):
            tokens.decode(token, list_name=list_name, filters=filters, width=1)
    with pytest.raises(Invalid):
        PageTokens(os.urandom(32)).decode(token, list_name="models", filters={"a": 1}, width=1)
    assert page_size(0) == 50 and page_size(10_000) == 200
    with pytest.raises(Invalid):
        page_size(-1)

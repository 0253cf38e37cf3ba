"""The model registry: what a model is, what it costs, and the rules a model must satisfy.

Prices are micro-credits per million tokens and always positive: a model priced zero by mistake
is refused, never free (THREATS D5). The same rule is a CHECK constraint on ``provider.models``
and an assert here.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from enum import StrEnum

from services.provider.domain.validation import Invalid, has_control_characters

MODEL_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}/[a-z0-9][a-z0-9._:-]{0,127}$")
DISPLAY_NAME_MAX_CHARS = 200
DESCRIPTION_MAX_CHARS = 1000
UPSTREAM_MODEL_MAX_CHARS = 200
PRICE_MAX_MICROS = 10**12
CONTEXT_LENGTH_MAX = 10_000_000
_UPSTREAM_MODEL = re.compile(r"^[\x21-\x7e]{1,200}$")


class UpstreamProvider(StrEnum):
    """An LLM API that provider calls (the values are stored)."""

    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    OPENROUTER = "openrouter"


@dataclass(frozen=True)
class ModelSpec:
    """The settable part of a registry entry, already validated."""

    model_id: str
    display_name: str
    description: str
    provider: UpstreamProvider
    upstream_model: str
    input_price_micros: int
    """Micro-credits per million input tokens."""
    output_price_micros: int
    """Micro-credits per million output tokens."""
    context_length: int
    max_output_tokens: int
    supports_streaming: bool
    supports_tools: bool
    supports_vision: bool
    active: bool

    def __post_init__(self) -> None:
        # D5: no model is ever free by mistake (also ck_models_prices_positive).
        assert 0 < self.input_price_micros <= PRICE_MAX_MICROS
        assert 0 < self.output_price_micros <= PRICE_MAX_MICROS
        assert 1 <= self.max_output_tokens <= self.context_length <= CONTEXT_LENGTH_MAX


@dataclass(frozen=True)
class Model:
    """A stored registry entry."""

    spec: ModelSpec
    revision: int
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @property
    def model_id(self) -> str:
        return self.spec.model_id


def validate_spec(
    *,
    model_id: str,
    display_name: str,
    description: str,
    provider: UpstreamProvider,
    upstream_model: str,
    input_price_micros: int,
    output_price_micros: int,
    context_length: int,
    max_output_tokens: int,
    supports_streaming: bool,
    supports_tools: bool,
    supports_vision: bool,
    active: bool,
) -> ModelSpec:
    """The spec, or :class:`Invalid` naming the first rule broken (the proto's order)."""
    if not MODEL_ID_PATTERN.match(model_id):
        raise Invalid("MODEL_ID_INVALID", "model_id")
    name = display_name.strip()
    if not name or len(name) > DISPLAY_NAME_MAX_CHARS or has_control_characters(name):
        raise Invalid("DISPLAY_NAME_INVALID", "display_name")
    if len(description) > DESCRIPTION_MAX_CHARS or has_control_characters(
        description.replace("\n", " ")
    ):
        raise Invalid("FIELD_INVALID", "description")
    if not _UPSTREAM_MODEL.match(upstream_model):
        raise Invalid("UPSTREAM_MODEL_REQUIRED", "upstream_model")
    for field, price in (
        ("price_per_million_input_tokens_micros", input_price_micros),
        ("price_per_million_output_tokens_micros", output_price_micros),
    ):
        if price <= 0:
            raise Invalid("PRICE_NOT_POSITIVE", field)
        if price > PRICE_MAX_MICROS:
            raise Invalid("PRICE_TOO_LARGE", field)
    if not 1 <= context_length <= CONTEXT_LENGTH_MAX:
        raise Invalid("CONTEXT_LENGTH_INVALID", "context_length")
    if not 1 <= max_output_tokens <= context_length:
        raise Invalid("MAX_OUTPUT_TOKENS_INVALID", "max_output_tokens")
    return ModelSpec(
        model_id=model_id,
        display_name=name,
        description=description,
        provider=provider,
        upstream_model=upstream_model,
        input_price_micros=input_price_micros,
        output_price_micros=output_price_micros,
        context_length=context_length,
        max_output_tokens=max_output_tokens,
        supports_streaming=supports_streaming,
        supports_tools=supports_tools,
        supports_vision=supports_vision,
        active=active,
    )


# The catalogue seeded by migration provider_0002. Prices are list prices in micro-credits per
# million tokens (1 credit = 1 USD of list price, as the original TokenMart priced them).
SEED_CATALOGUE: tuple[ModelSpec, ...] = (
    ModelSpec(
        model_id="openai/gpt-4o-mini",
        display_name="GPT-4o mini",
        description="OpenAI's small, fast multimodal model.",
        provider=UpstreamProvider.OPENAI,
        upstream_model="gpt-4o-mini",
        input_price_micros=150_000,
        output_price_micros=600_000,
        context_length=128_000,
        max_output_tokens=16_384,
        supports_streaming=True,
        supports_tools=True,
        supports_vision=True,
        active=True,
    ),
    ModelSpec(
        model_id="openai/gpt-4o",
        display_name="GPT-4o",
        description="OpenAI's flagship multimodal model.",
        provider=UpstreamProvider.OPENAI,
        upstream_model="gpt-4o",
        input_price_micros=2_500_000,
        output_price_micros=10_000_000,
        context_length=128_000,
        max_output_tokens=16_384,
        supports_streaming=True,
        supports_tools=True,
        supports_vision=True,
        active=True,
    ),
    ModelSpec(
        model_id="openai/gpt-4.1-mini",
        display_name="GPT-4.1 mini",
        description="OpenAI's long-context small model.",
        provider=UpstreamProvider.OPENAI,
        upstream_model="gpt-4.1-mini",
        input_price_micros=400_000,
        output_price_micros=1_600_000,
        context_length=1_047_576,
        max_output_tokens=32_768,
        supports_streaming=True,
        supports_tools=True,
        supports_vision=True,
        active=True,
    ),
    ModelSpec(
        model_id="anthropic/claude-3-5-haiku",
        display_name="Claude 3.5 Haiku",
        description="Anthropic's fastest model.",
        provider=UpstreamProvider.ANTHROPIC,
        upstream_model="claude-3-5-haiku-20241022",
        input_price_micros=800_000,
        output_price_micros=4_000_000,
        context_length=200_000,
        max_output_tokens=8_192,
        supports_streaming=True,
        supports_tools=True,
        supports_vision=True,
        active=True,
    ),
    ModelSpec(
        model_id="anthropic/claude-sonnet-4",
        display_name="Claude Sonnet 4",
        description="Anthropic's balanced model for coding and agents.",
        provider=UpstreamProvider.ANTHROPIC,
        upstream_model="claude-sonnet-4-20250514",
        input_price_micros=3_000_000,
        output_price_micros=15_000_000,
        context_length=200_000,
        max_output_tokens=64_000,
        supports_streaming=True,
        supports_tools=True,
        supports_vision=True,
        active=True,
    ),
    ModelSpec(
        model_id="meta-llama/llama-3.3-70b-instruct",
        display_name="Llama 3.3 70B Instruct (via OpenRouter)",
        description="Meta's open-weights 70B model, served through OpenRouter.",
        provider=UpstreamProvider.OPENROUTER,
        upstream_model="meta-llama/llama-3.3-70b-instruct",
        input_price_micros=130_000,
        output_price_micros=400_000,
        context_length=131_072,
        max_output_tokens=16_384,
        supports_streaming=True,
        supports_tools=True,
        supports_vision=False,
        active=True,
    ),
    ModelSpec(
        model_id="deepseek/deepseek-chat",
        display_name="DeepSeek V3 (via OpenRouter)",
        description="DeepSeek's general chat model, served through OpenRouter.",
        provider=UpstreamProvider.OPENROUTER,
        upstream_model="deepseek/deepseek-chat",
        input_price_micros=270_000,
        output_price_micros=1_100_000,
        context_length=64_000,
        max_output_tokens=8_192,
        supports_streaming=True,
        supports_tools=True,
        supports_vision=False,
        active=True,
    ),
)

"""Protobuf <-> domain: enums, messages and times, for :mod:`services.provider.api`.

Requests carrying an UNSPECIFIED enum where a value is required are refused with
ENUM_VALUE_UNSPECIFIED; an enum number this server does not know is FIELD_INVALID.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from google.protobuf import duration_pb2, timestamp_pb2
from tokenmart.provider.v1 import provider_pb2

from services.common.errors import TokenMartError
from services.provider import errors
from services.provider.domain.billing import KeySource, Usage, UsageSource
from services.provider.domain.generations import Generation, GenerationStatus, SettlementStatus
from services.provider.domain.provider_keys import ProviderKey, ProviderKeyScope
from services.provider.domain.registry import Model, ModelSpec, UpstreamProvider, validate_spec
from services.provider.domain.requests import Dialect
from services.provider.domain.validation import Invalid

D = TypeVar("D")

PROVIDERS: Mapping[UpstreamProvider, int] = {
    UpstreamProvider.OPENAI: provider_pb2.UPSTREAM_PROVIDER_OPENAI,
    UpstreamProvider.ANTHROPIC: provider_pb2.UPSTREAM_PROVIDER_ANTHROPIC,
    UpstreamProvider.OPENROUTER: provider_pb2.UPSTREAM_PROVIDER_OPENROUTER,
}
DIALECTS: Mapping[Dialect, int] = {
    Dialect.OPENAI: provider_pb2.API_DIALECT_OPENAI_CHAT_COMPLETIONS,
    Dialect.ANTHROPIC: provider_pb2.API_DIALECT_ANTHROPIC_MESSAGES,
}
KEY_SOURCES: Mapping[KeySource, int] = {
    KeySource.PLATFORM: provider_pb2.KEY_SOURCE_PLATFORM,
    KeySource.BYOK_AGENT: provider_pb2.KEY_SOURCE_BYOK_AGENT,
    KeySource.BYOK_ACCOUNT: provider_pb2.KEY_SOURCE_BYOK_ACCOUNT,
}
SCOPES: Mapping[ProviderKeyScope, int] = {
    ProviderKeyScope.AGENT: provider_pb2.PROVIDER_KEY_SCOPE_AGENT,
    ProviderKeyScope.ACCOUNT: provider_pb2.PROVIDER_KEY_SCOPE_ACCOUNT,
}
GENERATION_STATUSES: Mapping[GenerationStatus, int] = {
    GenerationStatus.IN_PROGRESS: provider_pb2.GENERATION_STATUS_IN_PROGRESS,
    GenerationStatus.SUCCEEDED: provider_pb2.GENERATION_STATUS_SUCCEEDED,
    GenerationStatus.FAILED: provider_pb2.GENERATION_STATUS_FAILED,
    GenerationStatus.CANCELLED: provider_pb2.GENERATION_STATUS_CANCELLED,
    GenerationStatus.INCOMPLETE: provider_pb2.GENERATION_STATUS_INCOMPLETE,
}
SETTLEMENT_STATUSES: Mapping[SettlementStatus, int] = {
    SettlementStatus.PENDING: provider_pb2.SETTLEMENT_STATUS_PENDING,
    SettlementStatus.SETTLED: provider_pb2.SETTLEMENT_STATUS_SETTLED,
    SettlementStatus.NOT_REQUIRED: provider_pb2.SETTLEMENT_STATUS_NOT_REQUIRED,
}
USAGE_SOURCES: Mapping[UsageSource, int] = {
    UsageSource.UPSTREAM_REPORTED: provider_pb2.USAGE_SOURCE_UPSTREAM_REPORTED,
    UsageSource.COUNTED: provider_pb2.USAGE_SOURCE_COUNTED,
    UsageSource.HOLD_CAPTURED: provider_pb2.USAGE_SOURCE_HOLD_CAPTURED,
}


def from_wire(value: int, mapping: Mapping[D, int], *, field: str) -> D:
    """The domain value of a required enum field."""
    if value == 0:
        raise errors.EnumValueUnspecified(field)
    for domain_value, wire_value in mapping.items():
        if wire_value == value:
            return domain_value
    raise errors.FieldInvalid(field)


def optional_from_wire(value: int, mapping: Mapping[D, int], *, field: str) -> D | None:
    """The domain value of an enum filter where UNSPECIFIED means "any"."""
    return None if value == 0 else from_wire(value, mapping, field=field)


def invalid(error: Invalid) -> TokenMartError:
    return errors.from_invalid(error.reason, error.message, error.metadata)


def timestamp(value: datetime.datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value.astimezone(datetime.UTC).replace(tzinfo=None))
    return stamp


def optional_time(message: Any, field: str) -> datetime.datetime | None:
    if not message.HasField(field):
        return None
    stamp: timestamp_pb2.Timestamp = getattr(message, field)
    return stamp.ToDatetime(tzinfo=datetime.UTC)


def optional_duration(message: Any, field: str) -> datetime.timedelta | None:
    if not message.HasField(field):
        return None
    value: duration_pb2.Duration = getattr(message, field)
    return value.ToTimedelta()


def duration(value: datetime.timedelta) -> duration_pb2.Duration:
    result = duration_pb2.Duration()
    result.FromTimedelta(value)
    return result


def model(item: Model) -> provider_pb2.Model:
    spec = item.spec
    return provider_pb2.Model(
        model_id=spec.model_id,
        display_name=spec.display_name,
        description=spec.description,
        provider=PROVIDERS[spec.provider],  # type: ignore[arg-type]
        upstream_model=spec.upstream_model,
        price_per_million_input_tokens_micros=spec.input_price_micros,
        price_per_million_output_tokens_micros=spec.output_price_micros,
        context_length=spec.context_length,
        max_output_tokens=spec.max_output_tokens,
        supports_streaming=spec.supports_streaming,
        supports_tools=spec.supports_tools,
        supports_vision=spec.supports_vision,
        active=spec.active,
        revision=item.revision,
        created_at=timestamp(item.created_at),
        updated_at=timestamp(item.updated_at),
    )


def model_spec(message: provider_pb2.Model) -> ModelSpec:
    """A Model message's settable fields, validated in the proto's order."""
    provider = from_wire(message.provider, PROVIDERS, field="model.provider")
    try:
        return validate_spec(
            model_id=message.model_id,
            display_name=message.display_name,
            description=message.description,
            provider=provider,
            upstream_model=message.upstream_model,
            input_price_micros=message.price_per_million_input_tokens_micros,
            output_price_micros=message.price_per_million_output_tokens_micros,
            context_length=message.context_length,
            max_output_tokens=message.max_output_tokens,
            supports_streaming=message.supports_streaming,
            supports_tools=message.supports_tools,
            supports_vision=message.supports_vision,
            active=message.active,
        )
    except Invalid as error:
        raise invalid(error) from None


def usage(value: Usage | None) -> provider_pb2.Usage:
    if value is None:
        return provider_pb2.Usage()
    return provider_pb2.Usage(
        input_tokens=value.input_tokens,
        output_tokens=value.output_tokens,
        cached_input_tokens=value.cached_input_tokens,
        total_tokens=value.total_tokens,
    )


def generation(item: Generation) -> provider_pb2.Generation:
    message = provider_pb2.Generation(
        generation_id=str(item.id),
        agent_id=str(item.agent_id),
        key_id=str(item.key_id),
        owner_account_id=str(item.owner_account_id or ""),
        dialect=DIALECTS[item.dialect],  # type: ignore[arg-type]
        streamed=item.streamed,
        model_requested=item.model_requested,
        model_served=item.model_served,
        provider=PROVIDERS[item.provider],  # type: ignore[arg-type]
        key_source=KEY_SOURCES[item.key_source],  # type: ignore[arg-type]
        provider_key_id=str(item.provider_key_id or ""),
        status=GENERATION_STATUSES[item.status],  # type: ignore[arg-type]
        error_reason=item.error_reason or "",
        upstream_status=item.upstream_status,
        usage=usage(item.usage),
        usage_source=(
            USAGE_SOURCES[item.usage_source]  # type: ignore[arg-type]
            if item.usage_source
            else provider_pb2.USAGE_SOURCE_UNSPECIFIED
        ),
        held_micros=item.held_micros,
        price_micros=item.price_micros,
        charged_micros=item.charged_micros,
        shortfall_micros=item.shortfall_micros,
        settlement_status=SETTLEMENT_STATUSES[item.settlement_status],  # type: ignore[arg-type]
        settlement_attempts=item.settlement_attempts,
        last_settlement_error=item.last_settlement_error or "",
        hold_id=str(item.hold_id or ""),
        created_at=timestamp(item.created_at),
        upstream_attempts=item.upstream_attempts,
    )
    if item.finished_at is not None:
        message.finished_at.CopyFrom(timestamp(item.finished_at))
        message.latency.CopyFrom(duration(item.finished_at - item.created_at))
    if item.first_token_at is not None:
        message.time_to_first_token.CopyFrom(duration(item.first_token_at - item.created_at))
    if item.settled_at is not None:
        message.settled_at.CopyFrom(timestamp(item.settled_at))
    return message


def provider_key(item: ProviderKey) -> provider_pb2.ProviderKey:
    message = provider_pb2.ProviderKey(
        provider_key_id=str(item.id),
        provider=PROVIDERS[item.provider],  # type: ignore[arg-type]
        scope=SCOPES[item.scope],  # type: ignore[arg-type]
        agent_id=str(item.agent_id or ""),
        account_id=str(item.account_id or ""),
        label=item.label,
        last4=item.last4,
        always_use=item.always_use,
        kek_version=item.sealed.kek_version if item.sealed else 0,
        created_at=timestamp(item.created_at),
    )
    if item.last_used_at is not None:
        message.last_used_at.CopyFrom(timestamp(item.last_used_at))
    return message

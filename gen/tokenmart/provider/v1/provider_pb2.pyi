import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UpstreamProvider(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UPSTREAM_PROVIDER_UNSPECIFIED: _ClassVar[UpstreamProvider]
    UPSTREAM_PROVIDER_OPENAI: _ClassVar[UpstreamProvider]
    UPSTREAM_PROVIDER_ANTHROPIC: _ClassVar[UpstreamProvider]
    UPSTREAM_PROVIDER_OPENROUTER: _ClassVar[UpstreamProvider]

class ApiDialect(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    API_DIALECT_UNSPECIFIED: _ClassVar[ApiDialect]
    API_DIALECT_OPENAI_CHAT_COMPLETIONS: _ClassVar[ApiDialect]
    API_DIALECT_ANTHROPIC_MESSAGES: _ClassVar[ApiDialect]

class KeySource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    KEY_SOURCE_UNSPECIFIED: _ClassVar[KeySource]
    KEY_SOURCE_PLATFORM: _ClassVar[KeySource]
    KEY_SOURCE_BYOK_AGENT: _ClassVar[KeySource]
    KEY_SOURCE_BYOK_ACCOUNT: _ClassVar[KeySource]

class ProviderKeyScope(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROVIDER_KEY_SCOPE_UNSPECIFIED: _ClassVar[ProviderKeyScope]
    PROVIDER_KEY_SCOPE_AGENT: _ClassVar[ProviderKeyScope]
    PROVIDER_KEY_SCOPE_ACCOUNT: _ClassVar[ProviderKeyScope]

class GenerationStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GENERATION_STATUS_UNSPECIFIED: _ClassVar[GenerationStatus]
    GENERATION_STATUS_IN_PROGRESS: _ClassVar[GenerationStatus]
    GENERATION_STATUS_SUCCEEDED: _ClassVar[GenerationStatus]
    GENERATION_STATUS_FAILED: _ClassVar[GenerationStatus]
    GENERATION_STATUS_CANCELLED: _ClassVar[GenerationStatus]
    GENERATION_STATUS_INCOMPLETE: _ClassVar[GenerationStatus]

class SettlementStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SETTLEMENT_STATUS_UNSPECIFIED: _ClassVar[SettlementStatus]
    SETTLEMENT_STATUS_PENDING: _ClassVar[SettlementStatus]
    SETTLEMENT_STATUS_SETTLED: _ClassVar[SettlementStatus]
    SETTLEMENT_STATUS_NOT_REQUIRED: _ClassVar[SettlementStatus]

class UsageSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    USAGE_SOURCE_UNSPECIFIED: _ClassVar[UsageSource]
    USAGE_SOURCE_UPSTREAM_REPORTED: _ClassVar[UsageSource]
    USAGE_SOURCE_COUNTED: _ClassVar[UsageSource]
    USAGE_SOURCE_HOLD_CAPTURED: _ClassVar[UsageSource]
UPSTREAM_PROVIDER_UNSPECIFIED: UpstreamProvider
UPSTREAM_PROVIDER_OPENAI: UpstreamProvider
UPSTREAM_PROVIDER_ANTHROPIC: UpstreamProvider
UPSTREAM_PROVIDER_OPENROUTER: UpstreamProvider
API_DIALECT_UNSPECIFIED: ApiDialect
API_DIALECT_OPENAI_CHAT_COMPLETIONS: ApiDialect
API_DIALECT_ANTHROPIC_MESSAGES: ApiDialect
KEY_SOURCE_UNSPECIFIED: KeySource
KEY_SOURCE_PLATFORM: KeySource
KEY_SOURCE_BYOK_AGENT: KeySource
KEY_SOURCE_BYOK_ACCOUNT: KeySource
PROVIDER_KEY_SCOPE_UNSPECIFIED: ProviderKeyScope
PROVIDER_KEY_SCOPE_AGENT: ProviderKeyScope
PROVIDER_KEY_SCOPE_ACCOUNT: ProviderKeyScope
GENERATION_STATUS_UNSPECIFIED: GenerationStatus
GENERATION_STATUS_IN_PROGRESS: GenerationStatus
GENERATION_STATUS_SUCCEEDED: GenerationStatus
GENERATION_STATUS_FAILED: GenerationStatus
GENERATION_STATUS_CANCELLED: GenerationStatus
GENERATION_STATUS_INCOMPLETE: GenerationStatus
SETTLEMENT_STATUS_UNSPECIFIED: SettlementStatus
SETTLEMENT_STATUS_PENDING: SettlementStatus
SETTLEMENT_STATUS_SETTLED: SettlementStatus
SETTLEMENT_STATUS_NOT_REQUIRED: SettlementStatus
USAGE_SOURCE_UNSPECIFIED: UsageSource
USAGE_SOURCE_UPSTREAM_REPORTED: UsageSource
USAGE_SOURCE_COUNTED: UsageSource
USAGE_SOURCE_HOLD_CAPTURED: UsageSource

class Model(_message.Message):
    __slots__ = ("model_id", "display_name", "description", "provider", "upstream_model", "price_per_million_input_tokens_micros", "price_per_million_output_tokens_micros", "context_length", "max_output_tokens", "supports_streaming", "supports_tools", "supports_vision", "active", "revision", "created_at", "updated_at")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_MODEL_FIELD_NUMBER: _ClassVar[int]
    PRICE_PER_MILLION_INPUT_TOKENS_MICROS_FIELD_NUMBER: _ClassVar[int]
    PRICE_PER_MILLION_OUTPUT_TOKENS_MICROS_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_LENGTH_FIELD_NUMBER: _ClassVar[int]
    MAX_OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_STREAMING_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_TOOLS_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_VISION_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    display_name: str
    description: str
    provider: UpstreamProvider
    upstream_model: str
    price_per_million_input_tokens_micros: int
    price_per_million_output_tokens_micros: int
    context_length: int
    max_output_tokens: int
    supports_streaming: bool
    supports_tools: bool
    supports_vision: bool
    active: bool
    revision: int
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, model_id: _Optional[str] = ..., display_name: _Optional[str] = ..., description: _Optional[str] = ..., provider: _Optional[_Union[UpstreamProvider, str]] = ..., upstream_model: _Optional[str] = ..., price_per_million_input_tokens_micros: _Optional[int] = ..., price_per_million_output_tokens_micros: _Optional[int] = ..., context_length: _Optional[int] = ..., max_output_tokens: _Optional[int] = ..., supports_streaming: _Optional[bool] = ..., supports_tools: _Optional[bool] = ..., supports_vision: _Optional[bool] = ..., active: _Optional[bool] = ..., revision: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ("input_tokens", "output_tokens", "cached_input_tokens", "total_tokens")
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHED_INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    total_tokens: int
    def __init__(self, input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., cached_input_tokens: _Optional[int] = ..., total_tokens: _Optional[int] = ...) -> None: ...

class Generation(_message.Message):
    __slots__ = ("generation_id", "agent_id", "key_id", "owner_account_id", "dialect", "streamed", "model_requested", "model_served", "provider", "key_source", "provider_key_id", "status", "error_reason", "upstream_status", "usage", "usage_source", "held_micros", "price_micros", "charged_micros", "shortfall_micros", "settlement_status", "settlement_attempts", "last_settlement_error", "hold_id", "latency", "time_to_first_token", "created_at", "finished_at", "settled_at", "upstream_attempts")
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    DIALECT_FIELD_NUMBER: _ClassVar[int]
    STREAMED_FIELD_NUMBER: _ClassVar[int]
    MODEL_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    MODEL_SERVED_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    KEY_SOURCE_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_REASON_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_STATUS_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    USAGE_SOURCE_FIELD_NUMBER: _ClassVar[int]
    HELD_MICROS_FIELD_NUMBER: _ClassVar[int]
    PRICE_MICROS_FIELD_NUMBER: _ClassVar[int]
    CHARGED_MICROS_FIELD_NUMBER: _ClassVar[int]
    SHORTFALL_MICROS_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENT_STATUS_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENT_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    LAST_SETTLEMENT_ERROR_FIELD_NUMBER: _ClassVar[int]
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    LATENCY_FIELD_NUMBER: _ClassVar[int]
    TIME_TO_FIRST_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    SETTLED_AT_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    generation_id: str
    agent_id: str
    key_id: str
    owner_account_id: str
    dialect: ApiDialect
    streamed: bool
    model_requested: str
    model_served: str
    provider: UpstreamProvider
    key_source: KeySource
    provider_key_id: str
    status: GenerationStatus
    error_reason: str
    upstream_status: int
    usage: Usage
    usage_source: UsageSource
    held_micros: int
    price_micros: int
    charged_micros: int
    shortfall_micros: int
    settlement_status: SettlementStatus
    settlement_attempts: int
    last_settlement_error: str
    hold_id: str
    latency: _duration_pb2.Duration
    time_to_first_token: _duration_pb2.Duration
    created_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    settled_at: _timestamp_pb2.Timestamp
    upstream_attempts: int
    def __init__(self, generation_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., key_id: _Optional[str] = ..., owner_account_id: _Optional[str] = ..., dialect: _Optional[_Union[ApiDialect, str]] = ..., streamed: _Optional[bool] = ..., model_requested: _Optional[str] = ..., model_served: _Optional[str] = ..., provider: _Optional[_Union[UpstreamProvider, str]] = ..., key_source: _Optional[_Union[KeySource, str]] = ..., provider_key_id: _Optional[str] = ..., status: _Optional[_Union[GenerationStatus, str]] = ..., error_reason: _Optional[str] = ..., upstream_status: _Optional[int] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ..., usage_source: _Optional[_Union[UsageSource, str]] = ..., held_micros: _Optional[int] = ..., price_micros: _Optional[int] = ..., charged_micros: _Optional[int] = ..., shortfall_micros: _Optional[int] = ..., settlement_status: _Optional[_Union[SettlementStatus, str]] = ..., settlement_attempts: _Optional[int] = ..., last_settlement_error: _Optional[str] = ..., hold_id: _Optional[str] = ..., latency: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., time_to_first_token: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., settled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., upstream_attempts: _Optional[int] = ...) -> None: ...

class ProviderKey(_message.Message):
    __slots__ = ("provider_key_id", "provider", "scope", "agent_id", "account_id", "label", "last4", "always_use", "kek_version", "created_at", "last_used_at")
    PROVIDER_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    LAST4_FIELD_NUMBER: _ClassVar[int]
    ALWAYS_USE_FIELD_NUMBER: _ClassVar[int]
    KEK_VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_AT_FIELD_NUMBER: _ClassVar[int]
    provider_key_id: str
    provider: UpstreamProvider
    scope: ProviderKeyScope
    agent_id: str
    account_id: str
    label: str
    last4: str
    always_use: bool
    kek_version: int
    created_at: _timestamp_pb2.Timestamp
    last_used_at: _timestamp_pb2.Timestamp
    def __init__(self, provider_key_id: _Optional[str] = ..., provider: _Optional[_Union[UpstreamProvider, str]] = ..., scope: _Optional[_Union[ProviderKeyScope, str]] = ..., agent_id: _Optional[str] = ..., account_id: _Optional[str] = ..., label: _Optional[str] = ..., last4: _Optional[str] = ..., always_use: _Optional[bool] = ..., kek_version: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_used_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class KekVersionCount(_message.Message):
    __slots__ = ("kek_version", "key_count")
    KEK_VERSION_FIELD_NUMBER: _ClassVar[int]
    KEY_COUNT_FIELD_NUMBER: _ClassVar[int]
    kek_version: int
    key_count: int
    def __init__(self, kek_version: _Optional[int] = ..., key_count: _Optional[int] = ...) -> None: ...

class SettlementOutcome(_message.Message):
    __slots__ = ("generation_id", "settlement_status", "charged_micros", "shortfall_micros", "error_reason")
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENT_STATUS_FIELD_NUMBER: _ClassVar[int]
    CHARGED_MICROS_FIELD_NUMBER: _ClassVar[int]
    SHORTFALL_MICROS_FIELD_NUMBER: _ClassVar[int]
    ERROR_REASON_FIELD_NUMBER: _ClassVar[int]
    generation_id: str
    settlement_status: SettlementStatus
    charged_micros: int
    shortfall_micros: int
    error_reason: str
    def __init__(self, generation_id: _Optional[str] = ..., settlement_status: _Optional[_Union[SettlementStatus, str]] = ..., charged_micros: _Optional[int] = ..., shortfall_micros: _Optional[int] = ..., error_reason: _Optional[str] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "include_inactive", "provider")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_INACTIVE_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    include_inactive: bool
    provider: UpstreamProvider
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., include_inactive: _Optional[bool] = ..., provider: _Optional[_Union[UpstreamProvider, str]] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models", "next_page_token")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[Model]
    next_page_token: str
    def __init__(self, models: _Optional[_Iterable[_Union[Model, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetModelRequest(_message.Message):
    __slots__ = ("model_id",)
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    def __init__(self, model_id: _Optional[str] = ...) -> None: ...

class GetModelResponse(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: Model
    def __init__(self, model: _Optional[_Union[Model, _Mapping]] = ...) -> None: ...

class UpsertModelRequest(_message.Message):
    __slots__ = ("request_id", "model", "expected_revision")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_REVISION_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    model: Model
    expected_revision: int
    def __init__(self, request_id: _Optional[str] = ..., model: _Optional[_Union[Model, _Mapping]] = ..., expected_revision: _Optional[int] = ...) -> None: ...

class UpsertModelResponse(_message.Message):
    __slots__ = ("model", "created")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    model: Model
    created: bool
    def __init__(self, model: _Optional[_Union[Model, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class SetModelActiveRequest(_message.Message):
    __slots__ = ("request_id", "model_id", "active")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    model_id: str
    active: bool
    def __init__(self, request_id: _Optional[str] = ..., model_id: _Optional[str] = ..., active: _Optional[bool] = ...) -> None: ...

class SetModelActiveResponse(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: Model
    def __init__(self, model: _Optional[_Union[Model, _Mapping]] = ...) -> None: ...

class ChatCompletionRequest(_message.Message):
    __slots__ = ("request_id", "dialect", "body", "model")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DIALECT_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    dialect: ApiDialect
    body: bytes
    model: str
    def __init__(self, request_id: _Optional[str] = ..., dialect: _Optional[_Union[ApiDialect, str]] = ..., body: _Optional[bytes] = ..., model: _Optional[str] = ...) -> None: ...

class ChatCompletionResponse(_message.Message):
    __slots__ = ("generation_id", "body", "usage", "charged_micros", "model_served", "key_source", "settlement_status")
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    CHARGED_MICROS_FIELD_NUMBER: _ClassVar[int]
    MODEL_SERVED_FIELD_NUMBER: _ClassVar[int]
    KEY_SOURCE_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENT_STATUS_FIELD_NUMBER: _ClassVar[int]
    generation_id: str
    body: bytes
    usage: Usage
    charged_micros: int
    model_served: str
    key_source: KeySource
    settlement_status: SettlementStatus
    def __init__(self, generation_id: _Optional[str] = ..., body: _Optional[bytes] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ..., charged_micros: _Optional[int] = ..., model_served: _Optional[str] = ..., key_source: _Optional[_Union[KeySource, str]] = ..., settlement_status: _Optional[_Union[SettlementStatus, str]] = ...) -> None: ...

class StreamChatCompletionRequest(_message.Message):
    __slots__ = ("request_id", "dialect", "body", "model")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DIALECT_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    dialect: ApiDialect
    body: bytes
    model: str
    def __init__(self, request_id: _Optional[str] = ..., dialect: _Optional[_Union[ApiDialect, str]] = ..., body: _Optional[bytes] = ..., model: _Optional[str] = ...) -> None: ...

class StreamStarted(_message.Message):
    __slots__ = ("generation_id", "model", "key_source", "created_at")
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    KEY_SOURCE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    generation_id: str
    model: str
    key_source: KeySource
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, generation_id: _Optional[str] = ..., model: _Optional[str] = ..., key_source: _Optional[_Union[KeySource, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class StreamChunk(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    def __init__(self, data: _Optional[bytes] = ...) -> None: ...

class StreamFinished(_message.Message):
    __slots__ = ("status", "usage", "usage_source", "charged_micros", "model_served", "settlement_status", "error_reason")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    USAGE_SOURCE_FIELD_NUMBER: _ClassVar[int]
    CHARGED_MICROS_FIELD_NUMBER: _ClassVar[int]
    MODEL_SERVED_FIELD_NUMBER: _ClassVar[int]
    SETTLEMENT_STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_REASON_FIELD_NUMBER: _ClassVar[int]
    status: GenerationStatus
    usage: Usage
    usage_source: UsageSource
    charged_micros: int
    model_served: str
    settlement_status: SettlementStatus
    error_reason: str
    def __init__(self, status: _Optional[_Union[GenerationStatus, str]] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ..., usage_source: _Optional[_Union[UsageSource, str]] = ..., charged_micros: _Optional[int] = ..., model_served: _Optional[str] = ..., settlement_status: _Optional[_Union[SettlementStatus, str]] = ..., error_reason: _Optional[str] = ...) -> None: ...

class StreamChatCompletionResponse(_message.Message):
    __slots__ = ("started", "chunk", "finished")
    STARTED_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    FINISHED_FIELD_NUMBER: _ClassVar[int]
    started: StreamStarted
    chunk: StreamChunk
    finished: StreamFinished
    def __init__(self, started: _Optional[_Union[StreamStarted, _Mapping]] = ..., chunk: _Optional[_Union[StreamChunk, _Mapping]] = ..., finished: _Optional[_Union[StreamFinished, _Mapping]] = ...) -> None: ...

class GetGenerationRequest(_message.Message):
    __slots__ = ("generation_id",)
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    generation_id: str
    def __init__(self, generation_id: _Optional[str] = ...) -> None: ...

class GetGenerationResponse(_message.Message):
    __slots__ = ("generation",)
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    generation: Generation
    def __init__(self, generation: _Optional[_Union[Generation, _Mapping]] = ...) -> None: ...

class GetKeyUsageRequest(_message.Message):
    __slots__ = ("key_id", "since")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    since: _timestamp_pb2.Timestamp
    def __init__(self, key_id: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetKeyUsageResponse(_message.Message):
    __slots__ = ("key_id", "requests", "succeeded", "failed", "input_tokens", "output_tokens", "charged_micros", "last_generation_at")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CHARGED_MICROS_FIELD_NUMBER: _ClassVar[int]
    LAST_GENERATION_AT_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    requests: int
    succeeded: int
    failed: int
    input_tokens: int
    output_tokens: int
    charged_micros: int
    last_generation_at: _timestamp_pb2.Timestamp
    def __init__(self, key_id: _Optional[str] = ..., requests: _Optional[int] = ..., succeeded: _Optional[int] = ..., failed: _Optional[int] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., charged_micros: _Optional[int] = ..., last_generation_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateProviderKeyRequest(_message.Message):
    __slots__ = ("request_id", "provider", "secret", "scope", "always_use", "label", "replace_existing")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    ALWAYS_USE_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    REPLACE_EXISTING_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    provider: UpstreamProvider
    secret: str
    scope: ProviderKeyScope
    always_use: bool
    label: str
    replace_existing: bool
    def __init__(self, request_id: _Optional[str] = ..., provider: _Optional[_Union[UpstreamProvider, str]] = ..., secret: _Optional[str] = ..., scope: _Optional[_Union[ProviderKeyScope, str]] = ..., always_use: _Optional[bool] = ..., label: _Optional[str] = ..., replace_existing: _Optional[bool] = ...) -> None: ...

class CreateProviderKeyResponse(_message.Message):
    __slots__ = ("provider_key", "replaced_provider_key_id")
    PROVIDER_KEY_FIELD_NUMBER: _ClassVar[int]
    REPLACED_PROVIDER_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    provider_key: ProviderKey
    replaced_provider_key_id: str
    def __init__(self, provider_key: _Optional[_Union[ProviderKey, _Mapping]] = ..., replaced_provider_key_id: _Optional[str] = ...) -> None: ...

class ListProviderKeysRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "scope")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    scope: ProviderKeyScope
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., scope: _Optional[_Union[ProviderKeyScope, str]] = ...) -> None: ...

class ListProviderKeysResponse(_message.Message):
    __slots__ = ("provider_keys", "next_page_token")
    PROVIDER_KEYS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    provider_keys: _containers.RepeatedCompositeFieldContainer[ProviderKey]
    next_page_token: str
    def __init__(self, provider_keys: _Optional[_Iterable[_Union[ProviderKey, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteProviderKeyRequest(_message.Message):
    __slots__ = ("request_id", "provider_key_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    provider_key_id: str
    def __init__(self, request_id: _Optional[str] = ..., provider_key_id: _Optional[str] = ...) -> None: ...

class DeleteProviderKeyResponse(_message.Message):
    __slots__ = ("provider_key_id", "deleted_at")
    PROVIDER_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    DELETED_AT_FIELD_NUMBER: _ClassVar[int]
    provider_key_id: str
    deleted_at: _timestamp_pb2.Timestamp
    def __init__(self, provider_key_id: _Optional[str] = ..., deleted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RotateKekRequest(_message.Message):
    __slots__ = ("request_id", "target_kek_version", "max_keys")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_KEK_VERSION_FIELD_NUMBER: _ClassVar[int]
    MAX_KEYS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    target_kek_version: int
    max_keys: int
    def __init__(self, request_id: _Optional[str] = ..., target_kek_version: _Optional[int] = ..., max_keys: _Optional[int] = ...) -> None: ...

class RotateKekResponse(_message.Message):
    __slots__ = ("target_kek_version", "rewrapped", "already_current", "failed", "failed_provider_key_ids", "remaining", "keys_by_version")
    TARGET_KEK_VERSION_FIELD_NUMBER: _ClassVar[int]
    REWRAPPED_FIELD_NUMBER: _ClassVar[int]
    ALREADY_CURRENT_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    FAILED_PROVIDER_KEY_IDS_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    KEYS_BY_VERSION_FIELD_NUMBER: _ClassVar[int]
    target_kek_version: int
    rewrapped: int
    already_current: int
    failed: int
    failed_provider_key_ids: _containers.RepeatedScalarFieldContainer[str]
    remaining: int
    keys_by_version: _containers.RepeatedCompositeFieldContainer[KekVersionCount]
    def __init__(self, target_kek_version: _Optional[int] = ..., rewrapped: _Optional[int] = ..., already_current: _Optional[int] = ..., failed: _Optional[int] = ..., failed_provider_key_ids: _Optional[_Iterable[str]] = ..., remaining: _Optional[int] = ..., keys_by_version: _Optional[_Iterable[_Union[KekVersionCount, _Mapping]]] = ...) -> None: ...

class ListUnsettledRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "older_than")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    OLDER_THAN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    older_than: _duration_pb2.Duration
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., older_than: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ListUnsettledResponse(_message.Message):
    __slots__ = ("generations", "next_page_token", "total_unsettled")
    GENERATIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_UNSETTLED_FIELD_NUMBER: _ClassVar[int]
    generations: _containers.RepeatedCompositeFieldContainer[Generation]
    next_page_token: str
    total_unsettled: int
    def __init__(self, generations: _Optional[_Iterable[_Union[Generation, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_unsettled: _Optional[int] = ...) -> None: ...

class SettlePendingRequest(_message.Message):
    __slots__ = ("request_id", "generation_ids", "limit")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    GENERATION_IDS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    generation_ids: _containers.RepeatedScalarFieldContainer[str]
    limit: int
    def __init__(self, request_id: _Optional[str] = ..., generation_ids: _Optional[_Iterable[str]] = ..., limit: _Optional[int] = ...) -> None: ...

class SettlePendingResponse(_message.Message):
    __slots__ = ("outcomes", "remaining_unsettled")
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    REMAINING_UNSETTLED_FIELD_NUMBER: _ClassVar[int]
    outcomes: _containers.RepeatedCompositeFieldContainer[SettlementOutcome]
    remaining_unsettled: int
    def __init__(self, outcomes: _Optional[_Iterable[_Union[SettlementOutcome, _Mapping]]] = ..., remaining_unsettled: _Optional[int] = ...) -> None: ...

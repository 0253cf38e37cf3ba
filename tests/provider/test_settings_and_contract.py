"""Settings fail fast on missing or malformed secrets and never show them; the servicer covers
the whole contract: every RPC, every error reason, every enum value."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from tokenmart.provider.v1 import provider_pb2

from ops.pki import IssuedFiles
from services.common.errors import TokenMartError
from services.common.settings import SettingsError
from services.provider import errors, wire
from services.provider.api import ProviderApi
from services.provider.settings import ProviderSettings
from tests.conftest import PROVIDER_TEST_KEK

PROTO = Path(__file__).resolve().parents[2] / "protos/tokenmart/provider/v1/provider.proto"
KEK_2 = base64.b64encode(b"provider-test-kek-version-two-32").decode()


def _environ(pki: dict[str, IssuedFiles], **overrides: str | None) -> dict[str, str]:
    files = pki["provider"]
    environ = {
        "TOKENMART_PROVIDER_DATABASE_URL": "postgresql://provider:hunter2@db/tokenmart",
        "TOKENMART_PROVIDER_TLS_CA_FILE": str(files.ca_file),
        "TOKENMART_PROVIDER_TLS_CERT_FILE": str(files.cert_file),
        "TOKENMART_PROVIDER_TLS_KEY_FILE": str(files.key_file),
        "TOKENMART_PROVIDER_KEK_1": PROVIDER_TEST_KEK,
        "TOKENMART_PROVIDER_OPENAI_API_KEY": "sk-proj-platformsecret-1234",
    }
    for key, value in overrides.items():
        name = f"TOKENMART_PROVIDER_{key}"
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
    return environ


def test_defaults_are_production_grade(pki: dict[str, IssuedFiles]) -> None:
    settings = ProviderSettings.from_env(_environ(pki))
    assert settings.billing.byok_fee_bps == 0
    assert settings.billing.bytes_per_token_estimate == 3
    assert settings.billing.hold_timeout_s == 1800
    assert settings.openai.base_url == "https://api.openai.com/v1"
    assert settings.anthropic.base_url == "https://api.anthropic.com/v1"
    assert settings.openrouter.base_url == "https://openrouter.ai/api/v1"
    assert settings.anthropic.platform_key is None and settings.openai.platform_key is not None
    assert settings.keks.versions == (1,) and settings.keks.primary_version == 1
    assert settings.http.max_connections == 2000
    # A body and its answer must fit the gRPC message the server accepts.
    assert settings.max_body_bytes <= settings.common.server.max_message_bytes - 64 * 1024


def test_kek_versions_and_the_primary(pki: dict[str, IssuedFiles]) -> None:
    settings = ProviderSettings.from_env(_environ(pki, KEK_2=KEK_2))
    assert settings.keks.versions == (1, 2)
    assert settings.keks.primary_version == 2  # the newest by default
    pinned = ProviderSettings.from_env(_environ(pki, KEK_2=KEK_2, KEK_PRIMARY="1"))
    assert pinned.keks.primary_version == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"KEK_1": None}, "TOKENMART_PROVIDER_KEK_1 .* is required"),
        ({"KEK_1": base64.b64encode(b"k" * 31).decode()}, "TOKENMART_PROVIDER_KEK_1 must be"),
        ({"KEK_1": "not base64 at all!"}, "TOKENMART_PROVIDER_KEK_1 must be"),
        ({"KEK_PRIMARY": "2"}, "TOKENMART_PROVIDER_KEK_PRIMARY names a KEK version"),
        ({"OPENAI_BASE_URL": "ftp://example.com"}, "TOKENMART_PROVIDER_OPENAI_BASE_URL must"),
        ({"ANTHROPIC_API_KEY": "has a space"}, "TOKENMART_PROVIDER_ANTHROPIC_API_KEY must"),
        ({"BYOK_FEE_BPS": "10001"}, "TOKENMART_PROVIDER_BYOK_FEE_BPS must be between"),
        (
            {"HOLD_TIMEOUT_S": "600", "STREAM_MAX_DURATION_S": "900"},
            "TOKENMART_PROVIDER_HOLD_TIMEOUT_S must exceed",
        ),
        (
            {"ORPHAN_AFTER_S": "1", "HEARTBEAT_INTERVAL_S": "1"},
            "TOKENMART_PROVIDER_ORPHAN_AFTER_S must exceed",
        ),
        ({"ANTHROPIC_VERSION": "latest"}, "TOKENMART_PROVIDER_ANTHROPIC_VERSION must be a date"),
    ],
)
def test_bad_settings_fail_fast_without_echoing_values(
    pki: dict[str, IssuedFiles], overrides: dict[str, str | None], message: str
) -> None:
    with pytest.raises(SettingsError, match=message) as failed:
        ProviderSettings.from_env(_environ(pki, **overrides))
    for value in overrides.values():
        if value and len(value) > 4:
            assert value not in str(failed.value)


def test_secrets_never_appear_in_a_repr(pki: dict[str, IssuedFiles]) -> None:
    settings = ProviderSettings.from_env(_environ(pki))
    text = repr(settings)
    assert "hunter2" not in text
    assert "platformsecret" not in text
    assert PROVIDER_TEST_KEK not in text
    assert base64.b64decode(PROVIDER_TEST_KEK).decode() not in text
    assert "redacted" in text


def _proto_text() -> str:
    return PROTO.read_text()


def test_every_rpc_of_the_contract_is_implemented() -> None:
    rpcs = re.findall(r"^\s*rpc (\w+)\(", _proto_text(), flags=re.MULTILINE)
    assert len(rpcs) == 14
    for rpc in rpcs:
        assert rpc in ProviderApi.__dict__, f"{rpc} is not implemented"


def _reasons_in_errors_lines() -> set[str]:
    reasons: set[str] = set()
    for block in re.findall(r"// Errors:(.*?)// Callers:", _proto_text(), flags=re.DOTALL):
        for group in re.findall(r"\(([A-Z_, ]+?)(?:, metadata[^)]*)?\)", block):
            reasons |= {item.strip() for item in group.split(",") if item.strip()}
    return reasons


def _reasons_defined() -> set[str]:
    found: set[str] = set()
    stack: list[type[TokenMartError]] = [TokenMartError]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        found.add(cls.reason)
    return found


def test_every_reason_the_contract_names_has_an_error_class() -> None:
    named = _reasons_in_errors_lines()
    assert len(named) > 40
    assert not named - _reasons_defined()
    # And the provider's own error tree names no reason the contract does not document.
    assert set(errors.reasons()) <= named | {
        "FIELD_INVALID",
        "ENUM_VALUE_UNSPECIFIED",
        "PAGE_SIZE_INVALID",
        "PAGE_TOKEN_INVALID",
        "DATABASE_UNAVAILABLE",
    }


def test_every_enum_mapping_covers_its_proto_enum() -> None:
    pairs = [
        (wire.PROVIDERS, provider_pb2.UpstreamProvider),
        (wire.DIALECTS, provider_pb2.ApiDialect),
        (wire.KEY_SOURCES, provider_pb2.KeySource),
        (wire.SCOPES, provider_pb2.ProviderKeyScope),
        (wire.GENERATION_STATUSES, provider_pb2.GenerationStatus),
        (wire.SETTLEMENT_STATUSES, provider_pb2.SettlementStatus),
        (wire.USAGE_SOURCES, provider_pb2.UsageSource),
    ]
    for mapping, enum in pairs:
        assert set(mapping.values()) == set(enum.values()) - {0}, enum

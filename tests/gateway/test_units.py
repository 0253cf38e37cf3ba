"""Pure pieces of the gateway: settings, JSON depth, client address, renderer choice."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from starlette.responses import Response

from ops.pki import IssuedFiles
from services.common.settings import SettingsError
from services.gateway.clientip import client_ip
from services.gateway.errors import GatewayError, InvalidJson, JsonTooDeep, NotFound
from services.gateway.jsonbody import is_json_media_type, json_depth, parse_json
from services.gateway.rendering import ErrorRenderers, PlatformErrorRenderer
from services.gateway.settings import GatewaySettings
from tests.edge import gateway_environ

# ---- settings -----------------------------------------------------------------------------


def settings_of(pki: dict[str, IssuedFiles], **variables: str) -> GatewaySettings:
    return GatewaySettings.from_env(gateway_environ(pki, ports={}, **variables))


def test_defaults(pki: dict[str, IssuedFiles]) -> None:
    environ = gateway_environ(pki, ports={})
    for name in ("AUTH", "WALLET", "PROVIDER", "REVIEW"):
        del environ[f"TOKENMART_GATEWAY_{name}_TARGET"]

    settings = GatewaySettings.from_env(environ)

    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.max_json_depth == 32
    assert settings.cors_origins == ()
    assert settings.trusted_proxies == ()
    assert settings.health_timeout_s == 1.0
    assert settings.redis_url is None
    assert settings.log_level == "INFO"
    assert {name: peer.target for name, peer in settings.peers.items()} == {
        "auth": "127.0.0.1:50051",
        "wallet": "127.0.0.1:50052",
        "provider": "127.0.0.1:50053",
        "review": "127.0.0.1:50054",
    }
    assert settings.tls.cert_file == pki["gateway"].cert_file


def test_values_are_read(pki: dict[str, IssuedFiles]) -> None:
    settings = settings_of(
        pki,
        HOST="0.0.0.0",
        PORT="9000",
        MAX_BODY_BYTES="2048",
        MAX_JSON_DEPTH="8",
        CORS_ORIGINS="https://a.example, http://localhost:3000",
        TRUSTED_PROXIES="10.0.0.0/8, 192.0.2.1, ::1",
        HEALTH_TIMEOUT_S="0.25",
        REDIS_URL="redis://:pw@127.0.0.1:6379/0",
        RATE_LIMIT_KEY="c2l4dGVlbi1ieXRlcy1vZi1rZXk",
        LOG_LEVEL="debug",
    )

    assert (settings.host, settings.port) == ("0.0.0.0", 9000)
    assert (settings.max_body_bytes, settings.max_json_depth) == (2048, 8)
    assert settings.cors_origins == ("https://a.example", "http://localhost:3000")
    assert settings.trusted_proxies == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("192.0.2.1/32"),
        ipaddress.ip_network("::1/128"),
    )
    assert settings.health_timeout_s == 0.25
    assert settings.log_level == "DEBUG"
    assert settings.rate_limit_key == b"sixteen-bytes-of-key"


def test_the_rate_limit_key_is_required_with_redis_and_checked(
    pki: dict[str, IssuedFiles],
) -> None:
    with pytest.raises(SettingsError, match="RATE_LIMIT_KEY is required"):
        settings_of(pki, REDIS_URL="redis://127.0.0.1:6379/0")
    with pytest.raises(SettingsError, match="at least 16 bytes"):
        settings_of(pki, REDIS_URL="redis://127.0.0.1:6379/0", RATE_LIMIT_KEY="c2hvcnQ")
    # Without Redis every process keeps its own random key for its local limiter.
    assert len(settings_of(pki).rate_limit_key) == 32


def test_repr_hides_the_redis_password(pki: dict[str, IssuedFiles]) -> None:
    settings = settings_of(
        pki,
        REDIS_URL="redis://:hunter2@127.0.0.1:6379/0",
        RATE_LIMIT_KEY="c2l4dGVlbi1ieXRlcy1vZi1rZXk",
    )

    assert "hunter2" not in repr(settings)
    assert "c2l4dGVlbi1ieXRlcy1vZi1rZXk" not in repr(settings)
    assert "hunter2" not in str(settings)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PORT", "70000"),
        ("PORT", "http"),
        ("MAX_BODY_BYTES", "10"),
        ("MAX_BODY_BYTES", str(1024 * 1024 * 1024)),
        ("MAX_JSON_DEPTH", "0"),
        ("HEALTH_TIMEOUT_S", "0"),
        ("CORS_ORIGINS", "*"),
        ("CORS_ORIGINS", "https://*.example.com"),
        ("CORS_ORIGINS", "null"),
        ("CORS_ORIGINS", "https://a.example/"),
        ("CORS_ORIGINS", "https://a.example/app"),
        ("CORS_ORIGINS", "ftp://a.example"),
        ("TRUSTED_PROXIES", "10.0.0.0/33"),
        ("TRUSTED_PROXIES", "proxy.internal"),
        ("REDIS_URL", "http://cache:6379"),
        ("LOG_LEVEL", "LOUD"),
        ("AUTH_TIMEOUT_S", "0"),
    ],
)
def test_bad_values_fail_fast_without_echoing_them(
    pki: dict[str, IssuedFiles], variable: str, value: str
) -> None:
    with pytest.raises(SettingsError, match=f"TOKENMART_GATEWAY_{variable}") as raised:
        settings_of(pki, **{variable: value})

    if len(value) > 4:
        assert value not in str(raised.value)


def test_missing_certificate_fails_fast(pki: dict[str, IssuedFiles], tmp_path: Path) -> None:
    environ = gateway_environ(pki, ports={})
    environ["TOKENMART_GATEWAY_TLS_KEY_FILE"] = str(tmp_path / "absent.pem")

    with pytest.raises(SettingsError, match="TOKENMART_GATEWAY_TLS_KEY_FILE"):
        GatewaySettings.from_env(environ)


# ---- JSON ---------------------------------------------------------------------------------


def nested_arrays(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_depth_32_is_accepted_and_33_rejected() -> None:
    assert parse_json(nested_arrays(32), max_depth=32) is not None
    with pytest.raises(JsonTooDeep):
        parse_json(nested_arrays(33), max_depth=32)


def test_depth_counts_objects_and_arrays_alike() -> None:
    assert json_depth(parse_json(b'{"a": [{"b": [1]}]}', max_depth=32)) == 4
    assert json_depth(parse_json(b'[[], [[[]]], {"x": {}}]', max_depth=32)) == 4
    assert json_depth(parse_json(b'"scalar"', max_depth=32)) == 0
    assert json_depth(parse_json(b"[]", max_depth=32)) == 1


def test_depth_far_past_any_recursion_limit_is_too_deep_not_a_crash() -> None:
    with pytest.raises(JsonTooDeep):
        parse_json(nested_arrays(500_000), max_depth=32)
    # Wide rather than deep: many shallow containers are fine.
    assert parse_json(b"[" + b"[[1]]," * 100_000 + b"[]]", max_depth=3) is not None


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b'{"a": 1,}', b"NaN", b"[Infinity]", b'{"k": "\xff"}', b"tokenmart_secret123"],
)
def test_invalid_json_is_refused_without_quoting_it(body: bytes) -> None:
    with pytest.raises(InvalidJson) as raised:
        parse_json(body, max_depth=32)

    assert "secret" not in raised.value.message
    assert raised.value.reason == "INVALID_JSON"


@pytest.mark.parametrize(
    ("content_type", "accepted"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("Application/JSON; charset=UTF-8", True),
        ("application/merge-patch+json", True),
        ("application/json; charset=latin-1", False),
        ("text/json", False),
        ("text/plain", False),
        ("multipart/form-data; boundary=x", False),
        ("", False),
        (None, False),
    ],
)
def test_json_media_types(content_type: str | None, accepted: bool) -> None:
    assert is_json_media_type(content_type) is accepted


# ---- client address -----------------------------------------------------------------------

PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("192.0.2.1/32"))


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("198.51.100.7", ["1.2.3.4"], (), "198.51.100.7"),
        ("198.51.100.7", ["1.2.3.4"], PROXIES, "198.51.100.7"),
        ("10.0.0.2", ["1.2.3.4"], PROXIES, "1.2.3.4"),
        ("10.0.0.2", ["6.6.6.6, 1.2.3.4, 192.0.2.1"], PROXIES, "1.2.3.4"),
        ("10.0.0.2", ["6.6.6.6", "1.2.3.4"], PROXIES, "1.2.3.4"),
        ("10.0.0.2", ["1.2.3.4, not-an-ip"], PROXIES, "10.0.0.2"),
        ("10.0.0.2", [], PROXIES, "10.0.0.2"),
        ("10.0.0.2", ["10.0.0.9"], PROXIES, "10.0.0.9"),
        ("10.0.0.2", ["2001:db8::1"], PROXIES, "2001:db8::1"),
        (None, ["1.2.3.4"], PROXIES, "unknown"),
    ],
)
def test_client_ip(
    peer: str | None,
    forwarded: list[str],
    trusted: tuple[ipaddress.IPv4Network, ...],
    expected: str,
) -> None:
    assert client_ip(peer=peer, forwarded_for=forwarded, trusted_proxies=trusted) == expected


# ---- error renderers ----------------------------------------------------------------------


class TaggedRenderer:
    def __init__(self, tag: str) -> None:
        self.tag = tag

    def render(self, error: GatewayError, *, request_id: str) -> Response:
        return Response(self.tag, status_code=error.status)


def test_renderer_is_chosen_by_the_longest_whole_segment_prefix() -> None:
    openai = TaggedRenderer("openai")
    anthropic = TaggedRenderer("anthropic")
    platform = PlatformErrorRenderer()
    renderers = ErrorRenderers(
        default=platform,
        by_prefix={
            "/api/v1/tokenhall": openai,
            "/api/v1/tokenhall/messages": anthropic,
        },
    )

    assert renderers.for_path("/api/v1/tokenhall/chat/completions") is openai
    assert renderers.for_path("/api/v1/tokenhall/messages") is anthropic
    assert renderers.for_path("/api/v1/tokenhall/messages/count_tokens") is anthropic
    assert renderers.for_path("/api/v1/tokenhall/messages-archive") is openai
    assert renderers.for_path("/api/v1/tokenhallway") is platform
    assert renderers.for_path("/healthz") is platform


def test_platform_envelope() -> None:
    response = PlatformErrorRenderer().render(NotFound("no such agent"), request_id="r-1")

    assert response.status_code == 404
    assert response.media_type == "application/json"
    assert response.body == b'{"error":{"code":404,"message":"no such agent","reason":"NOT_FOUND"}}'

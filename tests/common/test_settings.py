"""Settings fail fast on missing or malformed variables, and never echo values."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common.settings import Env, ServiceSettings, SettingsError


def _tls_env(tmp_path: Path, prefix: str) -> dict[str, str]:
    for name in ("ca", "cert", "key"):
        (tmp_path / f"{name}.pem").write_text("x")
    return {
        f"{prefix}TLS_CA_FILE": str(tmp_path / "ca.pem"),
        f"{prefix}TLS_CERT_FILE": str(tmp_path / "cert.pem"),
        f"{prefix}TLS_KEY_FILE": str(tmp_path / "key.pem"),
    }


def test_service_settings_read_their_own_prefix(tmp_path: Path) -> None:
    environ = {
        **_tls_env(tmp_path, "TOKENMART_WALLET_"),
        "TOKENMART_WALLET_DATABASE_URL": "postgresql://wallet:secret@db/tokenmart",
        "TOKENMART_WALLET_GRPC_LISTEN": "0.0.0.0:7000",
        "TOKENMART_WALLET_AUTH_TARGET": "auth:7000",
        "TOKENMART_AUTH_GRPC_LISTEN": "ignored:1",
    }
    settings = ServiceSettings.from_env("wallet", environ, peers=("auth",))
    assert settings.server.listen == "0.0.0.0:7000"
    assert settings.peers["auth"].target == "auth:7000"
    assert settings.server.reflection is False
    assert "secret" not in repr(settings)


def test_a_missing_required_variable_is_named(tmp_path: Path) -> None:
    environ = _tls_env(tmp_path, "TOKENMART_WALLET_")
    with pytest.raises(SettingsError, match="TOKENMART_WALLET_DATABASE_URL is required"):
        ServiceSettings.from_env("wallet", environ)


def test_a_missing_certificate_file_fails_fast(tmp_path: Path) -> None:
    environ = {**_tls_env(tmp_path, "TOKENMART_WALLET_"), "TOKENMART_WALLET_DATABASE_URL": "x"}
    environ["TOKENMART_WALLET_TLS_KEY_FILE"] = str(tmp_path / "absent.pem")
    with pytest.raises(SettingsError, match="TOKENMART_WALLET_TLS_KEY_FILE"):
        ServiceSettings.from_env("wallet", environ)


@pytest.mark.parametrize(
    ("raw", "message"),
    [("abc", "must be an integer"), ("0", "between 1 and 10"), ("11", "between 1 and 10")],
)
def test_integers_are_parsed_and_bounded_without_echoing(raw: str, message: str) -> None:
    env = Env("TOKENMART_X_", {"TOKENMART_X_N": raw})
    with pytest.raises(SettingsError, match=message) as failed:
        env.int("N", 5, minimum=1, maximum=10)
    assert raw not in str(failed.value).replace("between 1 and 10", "")


def test_booleans_are_strict() -> None:
    assert Env("P_", {"P_B": "yes"}).bool("B", False) is True
    assert Env("P_", {"P_B": "off"}).bool("B", True) is False
    with pytest.raises(SettingsError):
        Env("P_", {"P_B": "maybe"}).bool("B", False)

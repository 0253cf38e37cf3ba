"""Settings fail fast and default to production values; the servicer covers the whole contract:
every RPC, every reason in the proto's Errors lines, every enum value."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tokenmart.wallet.v1 import wallet_pb2

from ops.pki import IssuedFiles
from services.common import idempotency, tokens
from services.common.errors import PeerNotAllowed, RequestIdConflict, TokenMartError
from services.common.settings import SettingsError
from services.wallet import access, errors, wire
from services.wallet.api import WalletApi
from services.wallet.domain.ledger import AccountKind, TransferCode
from services.wallet.domain.results import Result
from services.wallet.domain.verification import FailureKind
from services.wallet.settings import WalletSettings

PROTO = Path(__file__).resolve().parents[2] / "protos/tokenmart/wallet/v1/wallet.proto"


def _environ(pki: dict[str, IssuedFiles], **overrides: str | None) -> dict[str, str]:
    files = pki["wallet"]
    environ = {
        "TOKENMART_WALLET_DATABASE_URL": "postgresql://wallet:hunter2@db/tokenmart",
        "TOKENMART_WALLET_TLS_CA_FILE": str(files.ca_file),
        "TOKENMART_WALLET_TLS_CERT_FILE": str(files.cert_file),
        "TOKENMART_WALLET_TLS_KEY_FILE": str(files.key_file),
    }
    for key, value in overrides.items():
        name = f"TOKENMART_WALLET_{key}"
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
    return environ


def test_defaults_are_production_grade(pki: dict[str, IssuedFiles]) -> None:
    settings = WalletSettings.from_env(_environ(pki))
    assert settings.mint_max_micros == 10**13
    assert (settings.sweeper.interval_s, settings.sweeper.batch_size) == (1.0, 100)
    assert settings.sweeper.overdue_grace_s == 60
    assert settings.tokens.public_keys_refresh_s == 60
    assert settings.common.peers["auth"].target == "127.0.0.1:50051"
    assert settings.transaction_retries == 5
    assert "hunter2" not in repr(settings)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"DATABASE_URL": None}, "TOKENMART_WALLET_DATABASE_URL is required"),
        ({"MINT_MAX_MICROS": str(10**15 + 1)}, "TOKENMART_WALLET_MINT_MAX_MICROS must be between"),
        ({"MINT_MAX_MICROS": "0"}, "TOKENMART_WALLET_MINT_MAX_MICROS must be between"),
        ({"SWEEP_INTERVAL_S": "0"}, "TOKENMART_WALLET_SWEEP_INTERVAL_S must be between"),
        ({"SWEEP_BATCH_SIZE": "5000"}, "TOKENMART_WALLET_SWEEP_BATCH_SIZE must be between"),
        (
            {"SWEEP_INTERVAL_S": "30", "HOLD_OVERDUE_GRACE_S": "59"},
            "TOKENMART_WALLET_HOLD_OVERDUE_GRACE_S must be between",
        ),
        (
            {"TRANSACTION_RETRIES": "many"},
            "TOKENMART_WALLET_TRANSACTION_RETRIES must be an integer",
        ),
    ],
)
def test_bad_settings_fail_fast_naming_the_variable(
    pki: dict[str, IssuedFiles], overrides: dict[str, str | None], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        WalletSettings.from_env(_environ(pki, **overrides))


def test_every_rpc_is_implemented() -> None:
    service = wallet_pb2.DESCRIPTOR.services_by_name["WalletService"]
    for method in service.methods:
        assert method.name in WalletApi.__dict__, method.name
    assert set(access.CALLERS) == {method.name for method in service.methods}


def _documented_reasons() -> set[str]:
    text = PROTO.read_text()
    service = text[text.index("service WalletService") : text.index("// Ledger separates")]
    reasons: set[str] = set()
    for match in re.finditer(r"\(([A-Z][A-Z0-9_, <>]+)\)", service.replace("\n  //", " ")):
        for reason in match.group(1).split(","):
            reason = reason.strip()
            if re.fullmatch(r"[A-Z][A-Z0-9_]+", reason):
                reasons.add(reason)
    return reasons


def _raised_reasons() -> set[str]:
    reasons = {
        cls.reason
        for module in (errors, tokens, idempotency)
        for cls in vars(module).values()
        if isinstance(cls, type) and issubclass(cls, TokenMartError)
    }
    reasons |= {PeerNotAllowed.reason, RequestIdConflict.reason}
    # Refused transfers answer with their CreateTransferResult's name.
    reasons |= {result.name for result in Result if not result.is_internal}
    return reasons


def test_every_documented_reason_can_be_raised() -> None:
    documented = _documented_reasons()
    assert len(documented) > 40, "the Errors lines were not parsed"
    assert documented - _raised_reasons() == set()


def test_domain_numbers_are_the_protos() -> None:
    for result in Result:
        if not result.is_internal:
            assert wallet_pb2.CreateTransferResult.Value(
                f"CREATE_TRANSFER_RESULT_{result.name}"
            ) == (result.value)
    assert {f"CREATE_TRANSFER_RESULT_{r.name}" for r in Result if not r.is_internal} | {
        "CREATE_TRANSFER_RESULT_UNSPECIFIED"
    } == set(wallet_pb2.CreateTransferResult.keys())
    for code in TransferCode:
        assert wallet_pb2.TransferCode.Value(f"TRANSFER_CODE_{code.name}") == code.value
    assert set(wire.ACCOUNT_KINDS) == set(AccountKind)
    assert set(wire.ACCOUNT_KINDS.values()) == set(wallet_pb2.AccountKind.values()) - {0}
    assert {wire.FAILURE_KINDS[kind] for kind in FailureKind} == set(
        wallet_pb2.VerificationFailureKind.values()
    ) - {0}


def test_single_transfer_errors_use_the_result_name_as_reason() -> None:
    for result in Result:
        if result.succeeded or result.is_internal or result.name.startswith("LINKED_EVENT"):
            continue
        error = errors.for_result(result)
        assert error.reason == result.name
        assert result.name not in error.message

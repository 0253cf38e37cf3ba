"""``tokenmartctl provider ...`` against the real servers, with the ctl certificate."""

from __future__ import annotations

import asyncio
import json
import os
import secrets

import pytest
from tokenmart.provider.v1 import provider_pb2

from ops import ctl
from tests.conftest import ProviderServerHandle
from tests.provider.helpers import CREDIT, MINI, Lab, openai_body


def _environ(server: ProviderServerHandle, lab: Lab) -> dict[str, str]:
    files = server.pki["ctl"]
    return {
        **os.environ,
        "TOKENMART_CTL_TLS_CA_FILE": str(files.ca_file),
        "TOKENMART_CTL_TLS_CERT_FILE": str(files.cert_file),
        "TOKENMART_CTL_TLS_KEY_FILE": str(files.key_file),
        "TOKENMART_CTL_AUTH_TARGET": f"127.0.0.1:{lab.server_auth.port}",
        "TOKENMART_CTL_PROVIDER_TARGET": f"127.0.0.1:{server.port}",
    }


async def _ctl(
    argv: list[str], server: ProviderServerHandle, lab: Lab, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    status = await asyncio.to_thread(ctl.main, argv, _environ(server, lab))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


async def test_models_are_managed_from_the_command_line(
    lab: Lab, provider_server: ProviderServerHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    model_id = f"ctl/model-{secrets.token_hex(4)}"
    upsert = [
        "provider", "models", "upsert", "--model-id", model_id, "--display-name", "CTL model",
        "--provider", "anthropic", "--upstream-model", "claude-3-5-haiku-20241022",
        "--input-price-micros", "700000", "--output-price-micros", "3500000",
        "--context-length", "200000", "--max-output-tokens", "8192", "--no-vision",
    ]  # fmt: skip
    status, out, _ = await _ctl(upsert, provider_server, lab, capsys)
    assert status == 0 and out.startswith("created: ") and model_id in out
    status, out, _ = await _ctl(
        ["provider", "models", "show", model_id, "--json"], provider_server, lab, capsys
    )
    shown = json.loads(out)
    assert shown["price_per_million_output_tokens_micros"] == "3500000"
    assert shown["supports_tools"] is True and "supports_vision" not in shown
    status, out, _ = await _ctl(
        ["provider", "models", "deactivate", model_id], provider_server, lab, capsys
    )
    assert status == 0 and "INACTIVE" in out
    status, out, _ = await _ctl(["provider", "models", "list"], provider_server, lab, capsys)
    assert model_id not in out and MINI in out
    status, out, _ = await _ctl(
        ["provider", "models", "list", "--all"], provider_server, lab, capsys
    )
    assert model_id in out
    await _ctl(["provider", "models", "activate", model_id], provider_server, lab, capsys)
    agent = await lab.agent(funds=CREDIT)
    served = await lab.chat(agent, openai_body("via ctl", model=model_id))
    assert served.charged_micros > 0
    # A zero price is refused, with the reason, and the exit status says so.
    upsert[upsert.index("700000")] = "0"
    status, _, err = await _ctl(upsert, provider_server, lab, capsys)
    assert status == 1 and "PRICE_NOT_POSITIVE" in err


async def test_generations_and_settlement_from_the_command_line(
    lab: Lab, provider_server: ProviderServerHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    agent = await lab.agent(funds=CREDIT)
    response = await lab.chat(agent, openai_body("x"))
    status, out, _ = await _ctl(
        ["provider", "generation", f"gen-{response.generation_id}"], provider_server, lab, capsys
    )
    assert status == 0 and response.generation_id in out and "status=succeeded" in out
    status, out, _ = await _ctl(
        ["provider", "generation", response.generation_id, "--json"], provider_server, lab, capsys
    )
    assert json.loads(out)["charged_micros"] == str(response.charged_micros)
    status, out, _ = await _ctl(["provider", "unsettled"], provider_server, lab, capsys)
    assert status == 0 and "generations unsettled" in out
    status, out, _ = await _ctl(
        ["provider", "settle", response.generation_id], provider_server, lab, capsys
    )
    assert status == 0 and "settled 1 of 1 attempted" in out
    assert f"charged={response.charged_micros}" in out
    assert await lab.available(agent) == CREDIT - response.charged_micros  # not charged again
    generation = await lab.generation(response.generation_id)
    assert generation.settlement_status == provider_pb2.SETTLEMENT_STATUS_SETTLED


@pytest.mark.parametrize(
    "argv",
    [
        ["provider", "rotate-kek", "--batch", "0"],
        ["provider", "rotate-kek", "--target-version", "-1"],
        ["provider", "settle", "--limit", "-5"],
        ["provider", "unsettled", "--older-than-s", "-1"],
    ],
)
async def test_bad_usage_exits_2(
    argv: list[str],
    lab: Lab,
    provider_server: ProviderServerHandle,
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, _, err = await _ctl(argv, provider_server, lab, capsys)
    assert status == 2 and err.startswith("tokenmartctl: ")

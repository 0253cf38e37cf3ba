"""TokenMart's inference gateway beside the LiteLLM proxy, both in front of the same stand-in.

One run, one machine, the same non-streaming chat completion (8 output tokens) loaded with wrk
(same threads, connections and duration) on three targets:

* ``stand-in direct``: ``POST /openai/v1/chat/completions`` on the stand-in upstream itself;
* ``TokenMart gateway``: ``POST /api/v1/tokenhall/chat/completions`` with a ``th_`` key, the
  full path: key authentication, per-key rate limit, hold, upstream call, capture;
* ``LiteLLM proxy``: ``POST /chat/completions`` on ``litellm --config`` (pinned release in a
  virtualenv of its own under ``bench/.work/``, no database, master key) routed to the stand-in.

Then the same three at concurrency 1 (``-t1 -c1``) for the latency each proxy adds at p50.
Targets (issue 5): gateway / LiteLLM requests/s >= 10; added p50 at concurrency 1 < 5 ms.

    .venv/bin/python -m bench.inference_vs_litellm [--duration 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
from tokenmart.auth.v1 import auth_pb2, auth_pb2_grpc
from tokenmart.wallet.v1 import wallet_pb2, wallet_pb2_grpc

from bench.auth_gateway import _session
from bench.harness import Stack, WrkResult, _ms, free_port, running_stack
from bench.provider_inference import PROMPT, _rid, _standin
from ops.database import REPO_ROOT
from services.provider.standin.app import base_urls

LITELLM_VERSION = "1.80.0"  # pinned; never 1.82.7 or 1.82.8 (malicious releases)
LITELLM_VENV = REPO_ROOT / "bench" / ".work" / "litellm-venv"
LITELLM_MASTER_KEY = "sk-bench-litellm-master"
UPSTREAM_MODEL = "gpt-4o-mini"
GATEWAY_MODEL = "openai/gpt-4o-mini"


def wrk_post(
    url: str,
    *,
    body: Mapping[str, object],
    headers: Mapping[str, str],
    duration_s: int,
    connections: int,
    threads: int,
) -> WrkResult:
    """``bench.harness.wrk`` for a POST: the body and headers go through a Lua script."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(json.dumps(body))}"]
    for name, value in {"Content-Type": "application/json", **headers}.items():
        lines.append(f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("\n".join(lines) + "\n")
    try:
        command = [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration_s}s",
            "--latency",
            "-s",
            script.name,
            url,
        ]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(script.name)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    latency = {
        percent: _ms(value, unit)
        for percent, value, unit in re.findall(
            r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", output, re.M
        )
    }
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors:.*", output)
    if errors:
        print(f"  wrk {url}: {errors.group(0)}")
    return WrkResult(
        requests_per_s=rate,
        p50_ms=latency["50"],
        p99_ms=latency["99"],
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
    )


async def _mint(stack: Stack, agent_id: str) -> None:
    """Credits for ``agent_id``'s wallet, as the operator (ctl) mints them."""
    async with (
        stack.channel("auth", peer="ctl") as auth_channel,
        stack.channel("wallet", peer="ctl") as wallet_channel,
    ):
        operator = await auth_pb2_grpc.AuthServiceStub(auth_channel).IssueServiceToken(
            auth_pb2.IssueServiceTokenRequest(audiences=[auth_pb2.AUDIENCE_WALLET])
        )
        metadata = (("authorization", f"Bearer {operator.access_token}"),)
        wallet = wallet_pb2_grpc.WalletServiceStub(wallet_channel)
        await wallet.EnsureWallet(
            wallet_pb2.EnsureWalletRequest(request_id=_rid(), agent_id=agent_id),
            metadata=metadata,
        )
        await wallet.Mint(
            wallet_pb2.MintRequest(
                request_id=_rid(),
                transfer_id=_rid(),
                to=wallet_pb2.AccountRef(agent_id=agent_id),
                amount_micros=10**13,
                reason="benchmark",
            ),
            metadata=metadata,
        )


def _inference_key(stack: Stack) -> str:
    """A funded agent's ``th_`` key with a high per-key rate limit."""
    headers = _session(stack.gateway_url)
    asyncio.run(_mint(stack, headers["X-Agent-Id"]))
    with httpx.Client(base_url=stack.gateway_url, timeout=10) as client:
        created = client.post(
            "/api/v1/tokenhall/keys",
            json={"name": "bench-litellm", "rate_limit_rpm": 100_000},
            headers=headers,
        )
        assert created.status_code == 201, created.text
        return str(created.json()["key"]["raw_key"])


def _litellm_bin() -> Path:
    """The pinned LiteLLM proxy in its own virtualenv, installed on first use."""
    python = LITELLM_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run(["python3", "-m", "venv", str(LITELLM_VENV)], check=True)
    installed = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
        capture_output=True,
        text=True,
    )
    if installed.stdout.strip() != LITELLM_VERSION:
        print(f"installing litellm[proxy]=={LITELLM_VERSION} into {LITELLM_VENV} ...")
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", f"litellm[proxy]=={LITELLM_VERSION}"],
            check=True,
        )
    return LITELLM_VENV / "bin" / "litellm"


@contextlib.contextmanager
def _litellm(openai_base: str) -> Iterator[str]:
    """``litellm --config`` on a free port routing ``UPSTREAM_MODEL`` to the stand-in."""
    executable = _litellm_bin()
    work = Path(tempfile.mkdtemp(prefix="litellm-bench-"))
    config = work / "config.yaml"
    config.write_text(
        "model_list:\n"
        f"  - model_name: {UPSTREAM_MODEL}\n"
        "    litellm_params:\n"
        f"      model: openai/{UPSTREAM_MODEL}\n"
        f"      api_base: {openai_base}\n"
        "      api_key: sk-bench-dummy-0000\n"
        "general_settings:\n"
        f"  master_key: {LITELLM_MASTER_KEY}\n"
    )
    port = free_port()
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("TOKENMART_") and key not in ("DATABASE_URL", "VIRTUAL_ENV")
    }
    environment.update({"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"})
    log = (work / "litellm.log").open("wb")
    process = subprocess.Popen(
        [str(executable), "--config", str(config), "--port", str(port), "--host", "127.0.0.1"],
        cwd=work,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"litellm exited: {(work / 'litellm.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/health/liveliness", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("litellm did not answer within 180 s")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def _check(url: str, body: Mapping[str, object], headers: Mapping[str, str]) -> None:
    response = httpx.post(url, json=body, headers=headers, timeout=30)
    if response.status_code != 200 or not response.json().get("choices"):
        raise RuntimeError(f"{url}: {response.status_code} {response.text[:500]}")


def main(duration_s: int, connections: int, threads: int) -> None:
    standin_port = free_port()
    origin = f"http://127.0.0.1:{standin_port}"
    openai_base = base_urls(origin)["openai"]
    provider_env = {
        f"TOKENMART_PROVIDER_{name.upper()}_BASE_URL": url
        for name, url in base_urls(origin).items()
    }
    provider_env["TOKENMART_PROVIDER_OPENAI_API_KEY"] = "sk-bench-platform-0000"
    messages = [{"role": "user", "content": PROMPT}]
    with (
        _standin(standin_port),
        running_stack(
            gateway_env={"TOKENMART_GATEWAY_IP_FLOOD_PER_MINUTE": "10000000"},
            service_env={"provider": provider_env},
        ) as stack,
        _litellm(openai_base) as litellm_url,
    ):
        raw_key = _inference_key(stack)
        targets = [
            (
                "stand-in direct",
                f"{openai_base}/chat/completions",
                {"model": UPSTREAM_MODEL, "messages": messages},
                {"Authorization": "Bearer sk-bench-0000"},
            ),
            (
                "TokenMart gateway (th_ key, hold + capture)",
                f"{stack.gateway_url}/api/v1/tokenhall/chat/completions",
                {"model": GATEWAY_MODEL, "messages": messages},
                {"Authorization": f"Bearer {raw_key}"},
            ),
            (
                f"LiteLLM proxy {LITELLM_VERSION}",
                f"{litellm_url}/chat/completions",
                {"model": UPSTREAM_MODEL, "messages": messages},
                {"Authorization": f"Bearer {LITELLM_MASTER_KEY}"},
            ),
        ]
        for _, url, body, headers in targets:
            _check(url, body, headers)
        runs: dict[tuple[int, int], list[tuple[str, WrkResult]]] = {}
        for run_threads, run_connections in ((threads, connections), (1, 1)):
            print(
                f"POST chat completion (non-streaming, 8 output tokens), wrk -t{run_threads} "
                f"-c{run_connections} -d{duration_s}s, loopback, {os.cpu_count()} CPUs shared "
                "by wrk, stand-in, stack, LiteLLM and PostgreSQL"
            )
            results = []
            for name, url, body, headers in targets:
                result = wrk_post(
                    url,
                    body=body,
                    headers=headers,
                    duration_s=duration_s,
                    connections=run_connections,
                    threads=run_threads,
                )
                print(result.row(name))
                results.append((name, result))
            runs[(run_threads, run_connections)] = results
    loaded = [result for _, result in runs[(threads, connections)]]
    single = [result for _, result in runs[(1, 1)]]
    direct, gateway, litellm = loaded
    print(
        "gateway / LiteLLM requests/s ratio (target >= 10): "
        f"{gateway.requests_per_s / litellm.requests_per_s:.2f}"
        f"  (gateway / direct {gateway.requests_per_s / direct.requests_per_s:.2f}, "
        f"LiteLLM / direct {litellm.requests_per_s / direct.requests_per_s:.2f})"
    )
    print(
        "added p50 over direct at concurrency 1: "
        f"gateway {single[1].p50_ms - single[0].p50_ms:.2f} ms, "
        f"LiteLLM {single[2].p50_ms - single[0].p50_ms:.2f} ms (target < 5 ms)"
    )
    failed = [
        f"{name} (-c{key[1]}): {result.non_2xx}"
        for key, results in runs.items()
        for name, result in results
        if result.non_2xx
    ]
    if failed:
        print("NOT all responses were 2xx; non-2xx counts: " + "; ".join(failed))
    else:
        print("all responses were 2xx (wrk non-2xx count 0 on every run)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    arguments = parser.parse_args()
    main(arguments.duration, arguments.connections, arguments.threads)

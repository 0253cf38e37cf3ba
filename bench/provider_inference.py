"""What provider adds to an LLM call: ChatCompletion over gRPC, against the stand-in.

Starts a real stack (every service its own process, as ``make run`` starts them) with provider's
upstreams pointed at a stand-in process, and measures in the same run, same concurrency:

* ``stand-in direct``: the upstream request itself, sent with provider's own HTTP client;
* ``provider, BYOK (no billing)``: ChatCompletion with the agent's own key at a zero fee: token
  check, registry, key decryption, generation record and upstream call, no wallet;
* ``provider, platform key``: the full path: hold (WalletService.CreateHold), upstream call,
  outcome record, capture (PostHold), settlement record.

It prints requests/s and p50/p99 latency for each, and the difference from direct at p50.

    .venv/bin/python -m bench.provider_inference [--concurrency 32] [--seconds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import orjson
import psutil
from tokenmart.auth.v1 import auth_pb2, auth_pb2_grpc
from tokenmart.provider.v1 import provider_pb2, provider_pb2_grpc
from tokenmart.wallet.v1 import wallet_pb2, wallet_pb2_grpc

from bench.harness import Stack, free_port, running_stack
from ops.database import REPO_ROOT
from services.provider.settings import HttpSettings
from services.provider.standin.app import base_urls
from services.provider.upstream.http import create_session

Metadata = tuple[tuple[str, str], ...]
PROMPT = "Say something short. [standin:tokens=8]"


@dataclass(frozen=True)
class Result:
    name: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_ms: dict[str, float]
    """CPU time per request of each service process, in milliseconds."""

    def row(self, direct_p50_ms: float) -> str:
        cpu = " ".join(f"{name}={value:.2f}" for name, value in self.cpu_ms.items())
        return (
            f"{self.name:<30} {self.requests_per_s:>7,.0f} req/s  p50 {self.p50_ms:7.2f} ms  "
            f"p99 {self.p99_ms:7.2f} ms  err {self.errors:<3} "
            f"added p50 {self.p50_ms - direct_p50_ms:+6.2f} ms  CPU ms/req: {cpu}"
        )


def _cpu_seconds(processes: dict[str, psutil.Process]) -> dict[str, float]:
    return {name: sum(process.cpu_times()[:2]) for name, process in processes.items()}


async def _drive(
    name: str,
    send: Callable[[], Awaitable[None]],
    *,
    concurrency: int,
    seconds: float,
    processes: dict[str, psutil.Process],
) -> Result:
    for _ in range(concurrency):
        await send()
    cpu_before = _cpu_seconds(processes)
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                await send()
            except Exception:  # noqa: BLE001 - a benchmark counts every failure
                errors += 1
                continue
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    cpu_after = _cpu_seconds(processes)
    latencies.sort()
    return Result(
        name=name,
        requests_per_s=len(latencies) / elapsed,
        p50_ms=statistics.median(latencies) * 1000,
        p99_ms=latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000,
        errors=errors,
        cpu_ms={
            item: (cpu_after[item] - cpu_before[item]) / max(1, len(latencies)) * 1000
            for item in processes
        },
    )


@contextlib.contextmanager
def _standin(port: int) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "services.provider.standin",
            "--port",
            str(port),
            "--no-record",
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.startswith("standin listening on "):
            raise RuntimeError(f"the stand-in did not start: {line!r}")
        yield process
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def _rid() -> str:
    return str(uuid.uuid4())


async def _principals(stack: Stack) -> tuple[Metadata, Metadata]:
    """Tokens of two funded agents' th_ keys: one with a BYOK key, one on the platform key."""
    async with (
        stack.channel("auth", peer="gateway") as auth_channel,
        stack.channel("auth", peer="ctl") as auth_ctl_channel,
        stack.channel("wallet", peer="ctl") as wallet_channel,
        stack.channel("provider", peer="gateway") as provider_channel,
    ):
        auth = auth_pb2_grpc.AuthServiceStub(auth_channel)
        operator = await auth_pb2_grpc.AuthServiceStub(auth_ctl_channel).IssueServiceToken(
            auth_pb2.IssueServiceTokenRequest(audiences=[auth_pb2.AUDIENCE_WALLET])
        )
        wallet = wallet_pb2_grpc.WalletServiceStub(wallet_channel)
        provider = provider_pb2_grpc.ProviderServiceStub(provider_channel)
        email = f"bench-{secrets.token_hex(4)}@example.com"
        await auth.RegisterAccount(
            auth_pb2.RegisterAccountRequest(request_id=_rid(), email=email, password="x" * 16)
        )
        login = await auth.Login(
            auth_pb2.LoginRequest(request_id=_rid(), email=email, password="x" * 16)
        )

        async def token(credential: str, *, agent_id: str = "", audiences: list[int]) -> Metadata:
            answer = await auth.Authenticate(
                auth_pb2.AuthenticateRequest(
                    credential=credential, agent_id=agent_id, audiences=audiences
                )
            )
            return (("authorization", f"Bearer {answer.access_token}"),)

        session = await token(login.session_token, audiences=[auth_pb2.AUDIENCE_AUTH])
        tokens: list[Metadata] = []
        for byok in (True, False):
            agent = await auth.RegisterAgent(
                auth_pb2.RegisterAgentRequest(
                    request_id=_rid(), name=f"bench-{secrets.token_hex(4)}"
                )
            )
            await auth.ClaimAgent(
                auth_pb2.ClaimAgentRequest(request_id=_rid(), claim_code=agent.claim_code),
                metadata=session,
            )
            wallet_metadata = (("authorization", f"Bearer {operator.access_token}"),)
            await wallet.EnsureWallet(
                wallet_pb2.EnsureWalletRequest(request_id=_rid(), agent_id=agent.agent.agent_id),
                metadata=wallet_metadata,
            )
            await wallet.Mint(
                wallet_pb2.MintRequest(
                    request_id=_rid(),
                    transfer_id=_rid(),
                    to=wallet_pb2.AccountRef(agent_id=agent.agent.agent_id),
                    amount_micros=10**12,
                    reason="benchmark",
                ),
                metadata=wallet_metadata,
            )
            acting = await token(
                login.session_token,
                agent_id=agent.agent.agent_id,
                audiences=[auth_pb2.AUDIENCE_AUTH],
            )
            key = await auth.CreateKey(
                auth_pb2.CreateKeyRequest(
                    request_id=_rid(), family=auth_pb2.KEY_FAMILY_INFERENCE, name="bench"
                ),
                metadata=acting,
            )
            if byok:
                manager = await token(
                    login.session_token,
                    agent_id=agent.agent.agent_id,
                    audiences=[auth_pb2.AUDIENCE_PROVIDER],
                )
                await provider.CreateProviderKey(
                    provider_pb2.CreateProviderKeyRequest(
                        request_id=_rid(),
                        provider=provider_pb2.UPSTREAM_PROVIDER_OPENAI,
                        secret=f"sk-bench-byok-{secrets.token_hex(8)}",
                        scope=provider_pb2.PROVIDER_KEY_SCOPE_AGENT,
                    ),
                    metadata=manager,
                )
            tokens.append(
                await token(
                    key.raw_key, audiences=[auth_pb2.AUDIENCE_PROVIDER, auth_pb2.AUDIENCE_WALLET]
                )
            )
        return tokens[0], tokens[1]


async def _measure(
    stack: Stack, origin: str, concurrency: int, seconds: float, standin_pid: int
) -> list[Result]:
    byok, platform = await _principals(stack)
    processes = {
        name: psutil.Process(stack.processes[name].pid) for name in ("auth", "wallet", "provider")
    }
    processes["standin"] = psutil.Process(standin_pid)
    session = create_session(
        HttpSettings(
            max_connections=2000,
            max_connections_per_host=0,
            connect_timeout_s=10,
            response_timeout_s=60,
            stream_idle_timeout_s=60,
            stream_max_duration_s=600,
            keepalive_timeout_s=60,
            max_response_bytes=4 * 1024 * 1024,
        )
    )
    upstream_body = orjson.dumps(
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": PROMPT}]}
    )
    url = f"{base_urls(origin)['openai']}/chat/completions"
    headers = {"Authorization": "Bearer sk-bench-0000", "Content-Type": "application/json"}

    async def direct() -> None:
        async with session.post(url, data=upstream_body, headers=headers) as response:
            orjson.loads(await response.read())
            assert response.status == 200

    body = orjson.dumps(
        {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": PROMPT}]}
    )
    results = [
        await _drive(
            "stand-in direct",
            direct,
            concurrency=concurrency,
            seconds=seconds,
            processes=processes,
        )
    ]
    async with stack.channel("provider", peer="gateway") as channel:
        stub = provider_pb2_grpc.ProviderServiceStub(channel)
        for name, metadata in (
            ("provider, BYOK (no billing)", byok),
            ("provider, platform key", platform),
        ):

            async def call(metadata: Metadata = metadata) -> None:
                await stub.ChatCompletion(
                    provider_pb2.ChatCompletionRequest(
                        request_id=_rid(),
                        dialect=provider_pb2.API_DIALECT_OPENAI_CHAT_COMPLETIONS,
                        body=body,
                        model="openai/gpt-4o-mini",
                    ),
                    metadata=metadata,
                    timeout=30,
                )

            results.append(
                await _drive(
                    name, call, concurrency=concurrency, seconds=seconds, processes=processes
                )
            )
    await session.close()
    return results


def main(concurrency: int, seconds: float) -> None:
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    provider_env = {
        f"TOKENMART_PROVIDER_{name.upper()}_BASE_URL": url
        for name, url in base_urls(origin).items()
    }
    provider_env["TOKENMART_PROVIDER_OPENAI_API_KEY"] = "sk-bench-platform-0000"
    with _standin(port) as standin, running_stack(service_env={"provider": provider_env}) as stack:
        results = asyncio.run(_measure(stack, origin, concurrency, seconds, standin.pid))
    print(
        f"ChatCompletion (8 output tokens), concurrency {concurrency}, {seconds:.0f} s each, "
        f"{os.cpu_count()} CPUs shared by every process"
    )
    for result in results:
        print(result.row(results[0].p50_ms))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=8.0)
    arguments = parser.parse_args()
    main(arguments.concurrency, arguments.seconds)

"""Ledger throughput: transfers per second through gRPC, beside pgbench TPC-B on the same server.

One run, one PostgreSQL server (``TOKENMART_DATABASE_URL`` or embedded), 2 cores shared by
everything:

* baseline: ``pgbench -c 8 -j 2 -T <duration>`` (TPC-B) on a database of its own;
* single: ``WalletService.CreateTransfer`` from 8 concurrent clients (one transfer, one call,
  one database function call; random source and destination among the agents);
* batched: ``WalletService.CreateTransfers`` with 100 transfers per call from 8 clients.

Every transfer goes through the production path: mTLS, peer allowlist, access-token verification,
request-id replay log, ledger function with accounts locked in id order and hash chains extended.
Targets (issue 4): single ≥ 50% of TPC-B tps; batched ≥ 3x. The ledger is verified at the end.

    .venv/bin/python -m bench.wallet_transfers [--duration 15] [--agents 200] [--clients 8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import secrets
import shutil
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy.engine import make_url
from tokenmart.auth.v1 import auth_pb2, auth_pb2_grpc
from tokenmart.wallet.v1 import wallet_pb2, wallet_pb2_grpc

from bench.harness import Stack, running_stack
from ops.database import create_database, drop_database

BATCH = 100


def _bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


async def _agents(stack: Stack, count: int) -> list[tuple[str, str]]:
    """(agent id, wallet access token) for ``count`` claimed, funded agents."""
    async with stack.channel("auth", peer="gateway") as auth_channel:
        auth = auth_pb2_grpc.AuthServiceStub(auth_channel)
        email = f"bench-{secrets.token_hex(4)}@example.com"
        await auth.RegisterAccount(
            auth_pb2.RegisterAccountRequest(
                request_id=str(uuid.uuid4()), email=email, password="benchmark password 1"
            )
        )
        login = await auth.Login(
            auth_pb2.LoginRequest(
                request_id=str(uuid.uuid4()), email=email, password="benchmark password 1"
            )
        )
        session = await auth.Authenticate(
            auth_pb2.AuthenticateRequest(
                credential=login.session_token, audiences=[auth_pb2.AUDIENCE_AUTH]
            )
        )
        agents = []
        for index in range(count):
            registered = await auth.RegisterAgent(
                auth_pb2.RegisterAgentRequest(
                    request_id=str(uuid.uuid4()),
                    name=f"bench-{index}-{secrets.token_hex(3)}",
                    client_ip=f"10.{index // 250}.{index % 250}.1",
                )
            )
            await auth.ClaimAgent(
                auth_pb2.ClaimAgentRequest(
                    request_id=str(uuid.uuid4()), claim_code=registered.claim_code
                ),
                metadata=_bearer(session.access_token),
            )
            token = await auth.Authenticate(
                auth_pb2.AuthenticateRequest(
                    credential=registered.api_key, audiences=[auth_pb2.AUDIENCE_WALLET]
                )
            )
            agents.append((registered.agent.agent_id, token.access_token))
    async with stack.channel("auth", peer="ctl") as ctl_auth:
        operator = await auth_pb2_grpc.AuthServiceStub(ctl_auth).IssueServiceToken(
            auth_pb2.IssueServiceTokenRequest(audiences=[auth_pb2.AUDIENCE_WALLET])
        )
    async with stack.channel("wallet", peer="ctl") as ctl_wallet:
        wallet = wallet_pb2_grpc.WalletServiceStub(ctl_wallet)
        for agent_id, _ in agents:
            await wallet.Mint(
                wallet_pb2.MintRequest(
                    request_id=str(uuid.uuid4()),
                    transfer_id=str(uuid.uuid4()),
                    to=wallet_pb2.AccountRef(agent_id=agent_id),
                    amount_micros=10**12,
                    reason="benchmark",
                ),
                metadata=_bearer(operator.access_token),
            )
    return agents


async def _run(clients: int, duration_s: float, call: Callable[[], Awaitable[int]]) -> float:
    done = 0
    deadline = time.monotonic() + duration_s

    async def client() -> None:
        nonlocal done
        while time.monotonic() < deadline:
            # Not `done += await call()`: that reads `done` before awaiting and loses updates.
            moved = await call()
            done += moved

    started = time.monotonic()
    await asyncio.gather(*(client() for _ in range(clients)))
    return done / (time.monotonic() - started)


async def _measure(
    stack: Stack, *, agents: int, clients: int, duration_s: float
) -> tuple[float, float]:
    population = await _agents(stack, agents)
    async with stack.channel("wallet", peer="gateway") as channel:
        wallet = wallet_pb2_grpc.WalletServiceStub(channel)

        async def single() -> int:
            (_, token), (destination, _) = random.sample(population, 2)
            response = await wallet.CreateTransfer(
                wallet_pb2.CreateTransferRequest(
                    request_id=str(uuid.uuid4()),
                    transfer_id=str(uuid.uuid4()),
                    to_agent_id=destination,
                    amount_micros=1,
                ),
                metadata=_bearer(token),
            )
            assert response.result == wallet_pb2.CREATE_TRANSFER_RESULT_OK
            return 1

        async def batched() -> int:
            source, token = random.choice(population)
            others = [agent for agent, _ in population if agent != source]
            response = await wallet.CreateTransfers(
                wallet_pb2.CreateTransfersRequest(
                    request_id=str(uuid.uuid4()),
                    transfers=[
                        wallet_pb2.TransferInput(
                            transfer_id=str(uuid.uuid4()),
                            debit=wallet_pb2.AccountRef(agent_id=source),
                            credit=wallet_pb2.AccountRef(agent_id=random.choice(others)),
                            amount_micros=1,
                            code=wallet_pb2.TRANSFER_CODE_TRANSFER,
                        )
                        for _ in range(BATCH)
                    ],
                ),
                metadata=_bearer(token),
            )
            assert response.all_succeeded
            return BATCH

        single_tps = await _run(clients, duration_s, single)
        batched_tps = await _run(clients, duration_s, batched)
    async with stack.channel("auth", peer="ctl") as ctl_auth:
        operator = await auth_pb2_grpc.AuthServiceStub(ctl_auth).IssueServiceToken(
            auth_pb2.IssueServiceTokenRequest(audiences=[auth_pb2.AUDIENCE_WALLET])
        )
    async with stack.channel("wallet", peer="ctl") as ctl_wallet:
        report = await wallet_pb2_grpc.WalletServiceStub(ctl_wallet).VerifyLedger(
            wallet_pb2.VerifyLedgerRequest(max_failures=10),
            metadata=_bearer(operator.access_token),
            timeout=600,
        )
    assert report.ok, report.failures
    print(f"ledger verified after the run: {report.transfers_checked} transfers, ok")
    return single_tps, batched_tps


def _pgbench(server_url: str, duration_s: int) -> float:
    binary = shutil.which("pgbench")
    if binary is None:
        import pgserver  # its wheel ships pgbench too

        binary = os.path.join(os.path.dirname(pgserver.__file__), "pginstall", "bin", "pgbench")
    database = f"tmb_pgbench_{secrets.token_hex(3)}"
    create_database(server_url, database)
    url = make_url(server_url).set(database=database, drivername="postgresql")
    dsn = url.render_as_string(hide_password=False)
    try:
        subprocess.run([binary, "-i", "-s", "8", "-q", dsn], check=True, capture_output=True)
        output = subprocess.run(
            [binary, "-c", "8", "-j", "2", "-T", str(duration_s), dsn],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        drop_database(server_url, database, prefix=None)
    match = re.search(r"tps = ([\d.]+)", output)
    assert match, output
    return float(match.group(1))


def main(duration_s: int, agents: int, clients: int) -> None:
    with running_stack(
        service_env={"auth": {"TOKENMART_AUTH_REGISTRATIONS_PER_IP": "1000000"}}
    ) as stack:
        single, batched = asyncio.run(
            _measure(stack, agents=agents, clients=clients, duration_s=duration_s)
        )
        baseline = _pgbench(stack.server_url, duration_s)
    print(f"{agents} funded agent wallets, {clients} concurrent gRPC clients, {duration_s} s each")
    rows = (
        ("baseline: pgbench TPC-B (-c 8 -j 2)", baseline, "tps", ""),
        ("single: CreateTransfer", single, "transfers/s", "target >= 0.50"),
        (f"batched: CreateTransfers x{BATCH}", batched, "transfers/s", "target >= 3.00"),
    )
    for name, rate, unit, target in rows:
        ratio = f"{rate / baseline:.2f}x TPC-B ({target})" if target else ""
        print(f"{name:<44} {rate:>9,.0f} {unit:<12} {ratio}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    arguments = parser.parse_args()
    main(arguments.duration, arguments.agents, arguments.clients)

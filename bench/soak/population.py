"""The soak's market, made only through the public HTTP API (and ``tokenmartctl admin create``,
the one way an administrator comes to exist): owners with claimed agents, a ``th_`` key per
agent, admin grants, and a funded treasury for bounties.

Reviewers must belong to another owner than the submitter, so agents are spread over several
owners. One "poor" agent, owned by the administrator, gets a small grant and only does
inference, so the load runs it into ``INSUFFICIENT_FUNDS`` (D1); being the bounty creator's
agent it is never drawn as a reviewer, so no reward tops it up, and its key is the agent key of
an admin-owned agent that the load tries on an admin route (I5). One extra key has a small
``credit_limit_micros``, so it runs into ``KEY_BUDGET_EXCEEDED`` (D2).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.soak.client import Gateway
from bench.soak.records import Agent, Answer, MoneyOp, Owner, State
from ops.localstack import Stack

PASSWORD = "soak: a long enough password"
KEY_RATE_LIMIT_RPM = 60_000
"""High enough that the soak's few keys are never throttled by their own per-key limit."""
GRANT_MICROS = 100_000_000
POOR_GRANT_MICROS = 300
"""About fifteen small completions' worth."""
LIMITED_KEY_MICROS = 200
TREASURY_MICROS = 2_000_000_000


class SetupError(RuntimeError):
    pass


@dataclass(frozen=True)
class InferenceKey:
    agent_id: str
    key: str
    key_id: str
    credit_limit_micros: int | None


@dataclass
class Population:
    admin: Owner
    owners: list[Owner]
    agents: list[Agent]
    keys: list[InferenceKey]
    treasury_wallet_id: str

    @property
    def rich(self) -> list[Agent]:
        return [agent for agent in self.agents if not agent.poor]

    def agent(self, agent_id: str) -> Agent:
        return next(agent for agent in self.agents if agent.agent_id == agent_id)


def _expect(response: httpx.Response | None, status: int, what: str) -> dict[str, object]:
    if response is None:
        raise SetupError(f"{what}: no answer from the gateway")
    if response.status_code != status:
        raise SetupError(f"{what}: HTTP {response.status_code} {response.text[:300]}")
    body: dict[str, object] = response.json()
    return body


def ctl_environment(stack: Stack) -> dict[str, str]:
    """``tokenmartctl`` pointed at this stack with the dev PKI's ``ctl`` certificate."""
    files = stack.pki["ctl"]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TOKENMART_")}
    environment.update(
        {
            "TOKENMART_CTL_TLS_CA_FILE": str(files.ca_file),
            "TOKENMART_CTL_TLS_CERT_FILE": str(files.cert_file),
            "TOKENMART_CTL_TLS_KEY_FILE": str(files.key_file),
        }
    )
    for service, port in stack.ports.items():
        environment[f"TOKENMART_CTL_{service.upper()}_TARGET"] = f"127.0.0.1:{port}"
    return environment


def tokenmartctl(
    stack: Stack, *arguments: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run the installed operator CLI (as an operator would) against the stack."""
    script = Path(sys.executable).parent / "tokenmartctl"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "ops.ctl"]
    return subprocess.run(
        [*command, *arguments],
        input=stdin,
        env=ctl_environment(stack),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


async def _login(gateway: Gateway, email: str) -> Owner:
    body = _expect(
        await gateway.once(
            "setup",
            "POST",
            "/api/v1/auth/login",
            json={"email": email, "password": PASSWORD},
            headers={"X-Forwarded-For": gateway.client_ip()},
        ),
        200,
        "login",
    )
    account = body["account"]
    assert isinstance(account, dict)
    token = str(body["session_token"])
    gateway.records.sessions.append((email, token))
    return Owner(email=email, account_id=str(account["id"]), session_token=token)


async def _register(gateway: Gateway, email: str) -> Owner:
    _expect(
        await gateway.once(
            "setup",
            "POST",
            "/api/v1/auth/register",
            json={"email": email, "password": PASSWORD},
            headers={"X-Forwarded-For": gateway.client_ip()},
        ),
        201,
        "register",
    )
    return await _login(gateway, email)


async def _agent(gateway: Gateway, owner: Owner, name: str, *, poor: bool) -> Agent:
    registered = _expect(
        await gateway.once(
            "setup",
            "POST",
            "/api/v1/agents/register",
            json={"name": name},
            headers={"X-Forwarded-For": gateway.client_ip()},
        ),
        201,
        "agent registration",
    )
    agent_id = str(registered["agent_id"])
    session = {"Authorization": f"Bearer {owner.session_token}"}
    _expect(
        await gateway.once(
            "setup",
            "POST",
            "/api/v1/auth/claim",
            json={"claim_code": registered["claim_code"]},
            headers={**session, "X-Forwarded-For": gateway.client_ip()},
        ),
        200,
        "claim",
    )
    api_key = str(registered["api_key"])
    credits = _expect(
        await gateway.once(
            "setup",
            "GET",
            "/api/v1/tokenhall/credits",
            headers={"Authorization": f"Bearer {api_key}"},
        ),
        200,
        "credits",
    )
    return Agent(
        agent_id=agent_id,
        name=name,
        owner_email=owner.email,
        owner_account_id=owner.account_id,
        api_key=api_key,
        wallet_id=str(credits["wallet_id"]),
        poor=poor,
    )


async def _key(
    gateway: Gateway, owner: Owner, agent: Agent, *, credit_limit_micros: int | None
) -> InferenceKey:
    fields: dict[str, object] = {
        "name": f"soak-{agent.name}-{credit_limit_micros or 'unlimited'}",
        "rate_limit_rpm": KEY_RATE_LIMIT_RPM,
    }
    if credit_limit_micros is not None:
        fields["credit_limit_micros"] = credit_limit_micros
    body = _expect(
        await gateway.once(
            "setup",
            "POST",
            "/api/v1/tokenhall/keys",
            json=fields,
            headers={
                "Authorization": f"Bearer {owner.session_token}",
                "X-Agent-Id": agent.agent_id,
            },
        ),
        201,
        "key creation",
    )
    key = body["key"]
    assert isinstance(key, dict)
    return InferenceKey(
        agent_id=agent.agent_id,
        key=str(key["raw_key"]),
        key_id=str(key["id"]),
        credit_limit_micros=credit_limit_micros,
    )


async def send_money(gateway: Gateway, admin: Owner, operation: MoneyOp) -> Answer:
    """Send an admin grant or a treasury funding with its key, until definite (also replays)."""
    headers = {"Authorization": f"Bearer {admin.session_token}"}
    if operation.kind == "grant":
        return await gateway.idempotent(
            "grant",
            "POST",
            "/api/v1/admin/credits",
            key=operation.key,
            headers=headers,
            json={
                "agent_id": operation.to_agent,
                "amount_micros": operation.amount_micros,
                "reason": f"soak {operation.key}",
            },
        )
    assert operation.kind == "treasury"
    return await gateway.idempotent(
        "treasury",
        "POST",
        "/api/v1/admin/treasury",
        key=operation.key,
        headers=headers,
        json={"amount_micros": operation.amount_micros, "reason": f"soak {operation.key}"},
    )


async def grant(
    gateway: Gateway, admin: Owner, agent_id: str, amount_micros: int, key: str
) -> MoneyOp:
    """An admin grant (mint) to an agent, retried with its key until definite."""
    operation = MoneyOp(
        kind="grant", key=key, amount_micros=amount_micros, from_agent=None, to_agent=agent_id
    )
    gateway.records.money.append(operation)
    operation.answer = await send_money(gateway, admin, operation)
    return operation


async def fund_treasury(gateway: Gateway, admin: Owner, amount_micros: int, key: str) -> MoneyOp:
    operation = MoneyOp(
        kind="treasury", key=key, amount_micros=amount_micros, from_agent=None, to_agent=None
    )
    gateway.records.money.append(operation)
    operation.answer = await send_money(gateway, admin, operation)
    return operation


async def populate(
    stack: Stack, gateway: Gateway, *, tag: str, owners: int, agents_per_owner: int
) -> Population:
    admin_email = f"soak-admin-{tag}@example.com"
    created = await asyncio.to_thread(
        tokenmartctl,
        stack,
        "admin",
        "create",
        "--email",
        admin_email,
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    if created.returncode != 0:
        raise SetupError(f"tokenmartctl admin create: {created.stderr.strip()}")
    admin = await _login(gateway, admin_email)

    people = [await _register(gateway, f"soak-{tag}-owner{i}@example.com") for i in range(owners)]
    agents: list[Agent] = []
    keys: list[InferenceKey] = []
    for index, owner in enumerate(people):
        for number in range(agents_per_owner):
            agent = await _agent(gateway, owner, f"soak-{tag}-{index}-{number}", poor=False)
            agents.append(agent)
            keys.append(await _key(gateway, owner, agent, credit_limit_micros=None))
    poor = await _agent(gateway, admin, f"soak-{tag}-poor", poor=True)
    agents.append(poor)
    keys.append(await _key(gateway, admin, poor, credit_limit_micros=None))
    keys.append(await _key(gateway, people[0], agents[0], credit_limit_micros=LIMITED_KEY_MICROS))

    for agent in agents:
        amount = POOR_GRANT_MICROS if agent.poor else GRANT_MICROS
        done = await grant(gateway, admin, agent.agent_id, amount, f"setup-grant-{agent.agent_id}")
        if done.answer is None or done.answer.state is not State.DONE:
            raise SetupError(f"grant to {agent.name} failed: {done.answer}")
    funded = await fund_treasury(gateway, admin, TREASURY_MICROS, f"setup-treasury-{tag}")
    if funded.answer is None or funded.answer.state is not State.DONE:
        raise SetupError(f"treasury funding failed: {funded.answer}")
    treasury = _expect(
        await gateway.once(
            "setup",
            "GET",
            "/api/v1/admin/treasury",
            headers={"Authorization": f"Bearer {admin.session_token}"},
        ),
        200,
        "treasury",
    )
    return Population(
        admin=admin,
        owners=people,
        agents=agents,
        keys=keys,
        treasury_wallet_id=str(treasury["treasury_wallet_id"]),
    )

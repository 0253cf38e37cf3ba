"""HTTP flows through the in-process gateway, for route and security tests.

Everything goes through the public HTTP API, exactly as a client would use it; assertions on
database rows use the schema owner's connection (read-only use).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg

PASSWORD = "correct horse battery staple"


def unique_email() -> str:
    return f"user-{secrets.token_hex(6)}@example.com"


def unique_name(prefix: str = "agent") -> str:
    return f"{prefix}-{secrets.token_hex(5)}"


def bearer(credential: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}", **headers}


def error_of(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    return response.status_code, body["error"]["reason"]


@dataclass
class Session:
    account_id: str
    email: str
    session_token: str
    refresh_token: str
    session_id: str
    role: str

    def headers(self, agent_id: str | None = None) -> dict[str, str]:
        extra = {"X-Agent-Id": agent_id} if agent_id else {}
        return bearer(self.session_token, **extra)


@dataclass
class Agent:
    agent_id: str
    name: str
    api_key: str
    claim_code: str


def some_client_ip() -> str:
    """A random documentation-range address (RFC 5737), for setup traffic."""
    return (
        f"192.0.2.{secrets.randbelow(254) + 1}"
        if secrets.randbelow(2)
        else (f"198.51.100.{secrets.randbelow(254) + 1}")
    )


class Api:
    """Flows over the gateway. Setup calls (registering, logging in) arrive through the trusted
    proxy from varying client addresses, as real users do, so the per-IP limits on those routes
    are not what a test measures unless it says so; attacks come from the client's own address.
    """

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    @staticmethod
    def _setup_headers() -> dict[str, str]:
        return {"X-Forwarded-For": some_client_ip()}

    async def register_account(self, email: str | None = None) -> str:
        email = email or unique_email()
        response = await self.client.post(
            "/api/v1/auth/register",
            json={"email": email, "password": PASSWORD},
            headers=self._setup_headers(),
        )
        assert response.status_code == 201, response.text
        return email

    async def login(self, email: str, password: str = PASSWORD) -> Session:
        response = await self.client.post(
            "/api/v1/auth/login",
            json={"email": email, "password": password},
            headers=self._setup_headers(),
        )
        assert response.status_code == 200, response.text
        body = response.json()
        return Session(
            account_id=body["account"]["id"],
            email=email,
            session_token=body["session_token"],
            refresh_token=body["refresh_token"],
            session_id=body["session_id"],
            role=body["account"]["role"],
        )

    async def new_session(self) -> Session:
        return await self.login(await self.register_account())

    async def register_agent(self) -> Agent:
        name = unique_name()
        response = await self.client.post(
            "/api/v1/agents/register", json={"name": name}, headers=self._setup_headers()
        )
        assert response.status_code == 201, response.text
        body = response.json()
        return Agent(
            agent_id=body["agent_id"],
            name=name,
            api_key=body["api_key"],
            claim_code=body["claim_code"],
        )

    async def claim(self, session: Session, agent: Agent) -> None:
        response = await self.client.post(
            "/api/v1/auth/claim", json={"claim_code": agent.claim_code}, headers=session.headers()
        )
        assert response.status_code == 200, response.text

    async def owned_agent(self, session: Session) -> Agent:
        agent = await self.register_agent()
        await self.claim(session, agent)
        return agent

    async def create_key(self, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
        body = {"name": unique_name("key"), **fields}
        response = await self.client.post("/api/v1/tokenhall/keys", json=body, headers=headers)
        assert response.status_code == 201, response.text
        key: dict[str, Any] = response.json()["key"]
        return key


class AuthRows:
    """Read-only views of the auth schema, to prove a refused attack changed nothing."""

    # Tables a refused request may legitimately touch: the audit log records the attempt, and
    # the attempt counters are the throttles that refuse the next guess.
    VOLATILE = frozenset({"audit_events", "attempt_counters"})
    # A credential's own successful use stamps it; that is bookkeeping, not an effect.
    VOLATILE_COLUMNS = frozenset({"last_used_at"})

    def __init__(self, owner_url: str) -> None:
        self.owner_url = owner_url

    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.owner_url, autocommit=True)

    def snapshot(self) -> dict[str, str]:
        """A digest of every row of every auth table except the volatile ones."""
        with self._connect() as connection:
            tables = [
                row[0]
                for row in connection.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'auth' ORDER BY 1"
                )
            ]
            digests = {}
            for table in tables:
                if table in self.VOLATILE or table == "alembic_version":
                    continue
                columns = [
                    f'"{row[0]}"'
                    for row in connection.execute(
                        "SELECT column_name FROM information_schema.columns "
                        "WHERE table_schema = 'auth' AND table_name = %s ORDER BY ordinal_position",
                        (table,),
                    )
                    if row[0] not in self.VOLATILE_COLUMNS
                ]
                row_text = f"row({', '.join(columns)})::text"
                row = connection.execute(
                    f"SELECT count(*), md5(coalesce(string_agg({row_text}, '|' "
                    f"ORDER BY {row_text}), '')) FROM auth.{table}"
                ).fetchone()
                assert row is not None
                digests[table] = f"{row[0]}:{row[1]}"
            return digests

    def audit_ids(self) -> set[str]:
        with self._connect() as connection:
            return {str(row[0]) for row in connection.execute("SELECT id FROM auth.audit_events")}

    def audit_since(self, before: set[str]) -> list[tuple[str, str, str]]:
        """(event_type, outcome, failure_reason) of audit rows not in ``before``, oldest first."""
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT id, event_type, outcome, coalesce(failure_reason, '') "
                "FROM auth.audit_events ORDER BY occurred_at, id"
            ).fetchall()
        return [(row[1], row[2], row[3]) for row in rows if str(row[0]) not in before]

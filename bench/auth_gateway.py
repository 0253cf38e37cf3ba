"""Authentication at the edge: requests/s through the gateway with and without auth.

Three gateways run the same code on the same route, ``GET /api/v1/agents/me`` with a session
token and ``X-Agent-Id`` (which also calls AuthService.GetMe), side by side in one run:

* baseline: authentication taken out (one answer reused, ``bench/gateway_without_auth.py``);
* production: auth asked whenever the one-second answer cache misses (the default);
* uncached: auth asked on every request (``AUTH_CACHE_MS=0``): ``Authenticate`` does the
  checksum, the HMAC lookup, the ownership check of the agent and signs a fresh Ed25519 token.

    .venv/bin/python -m bench.auth_gateway [--duration 10] [--connections 32]
"""

from __future__ import annotations

import argparse

import httpx

from bench.harness import free_port, running_stack, wait_healthy, wrk

PASSWORD = "benchmark password 1"


def _session(url: str) -> dict[str, str]:
    with httpx.Client(base_url=url, timeout=10) as client:
        client.post(
            "/api/v1/auth/register", json={"email": "bench@example.com", "password": PASSWORD}
        )
        session = client.post(
            "/api/v1/auth/login", json={"email": "bench@example.com", "password": PASSWORD}
        ).json()
        agent = client.post("/api/v1/agents/register", json={"name": "bench-agent"}).json()
        headers = {"Authorization": f"Bearer {session['session_token']}"}
        claimed = client.post(
            "/api/v1/auth/claim", json={"claim_code": agent["claim_code"]}, headers=headers
        )
        assert claimed.status_code == 200, claimed.text
        headers["X-Agent-Id"] = agent["agent_id"]
        assert client.get("/api/v1/agents/me", headers=headers).status_code == 200
        return headers


def main(duration_s: int, connections: int) -> None:
    # Loopback load from one address: lift the per-IP ceiling so it measures, not limits.
    with running_stack(gateway_env={"TOKENMART_GATEWAY_IP_FLOOD_PER_MINUTE": "10000000"}) as stack:
        headers = _session(stack.gateway_url)
        baseline_port = free_port()
        stack.spawn_module(
            "baseline-gateway",
            "bench.gateway_without_auth",
            {**stack.environments["gateway"], "TOKENMART_GATEWAY_PORT": str(baseline_port)},
        )
        baseline_url = f"http://127.0.0.1:{baseline_port}"
        uncached_port = free_port()
        stack.spawn_module(
            "uncached-gateway",
            "services.gateway",
            {
                **stack.environments["gateway"],
                "TOKENMART_GATEWAY_PORT": str(uncached_port),
                "TOKENMART_GATEWAY_AUTH_CACHE_MS": "0",
            },
        )
        uncached_url = f"http://127.0.0.1:{uncached_port}"
        wait_healthy(baseline_url)
        wait_healthy(uncached_url)
        print(
            f"GET /api/v1/agents/me (session + X-Agent-Id), wrk -t2 -c{connections} "
            f"-d{duration_s}s, loopback, 2 cores shared by wrk, gateway, auth and PostgreSQL"
        )
        path = "/api/v1/agents/me"
        results = [
            (name, wrk(url + path, headers=headers, duration_s=duration_s, connections=connections))
            for name, url in (
                ("baseline: same gateway, auth taken out", baseline_url),
                ("production: Authenticate on cache miss (1 s)", stack.gateway_url),
                ("uncached: Authenticate on every request", uncached_url),
            )
        ]
        for name, result in results:
            print(result.row(name))
        baseline = results[0][1].requests_per_s
        for name, result in results[1:]:
            print(
                f"ratio ({name.split(':')[0]} / baseline): {result.requests_per_s / baseline:.2f}"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    arguments = parser.parse_args()
    main(arguments.duration, arguments.connections)

"""The gateway's rate-limit policy: which bucket each request is counted in.

* every request that reaches a route: its client IP in ``ip_flood`` (a ceiling, D11);
* routes without a credential (register, login, refresh, agent registration, identity checks,
  claim): the client IP in that route's bucket;
* login: also the normalised email, registered or not (the per-account limit);
* claim: also the claiming account (I7);
* credential attempts: each attempt that auth must check reserves one request of the client IP
  in ``cred_fail_ip`` *before* auth is asked, and gives it back when the credential is good; so
  only rejected credentials count, and an IP that has used up its failures is refused before
  its next credential is looked at, even when it sends them all at once (I1, D11);
* requests with a key: the key's own ``rate_limit_rpm`` (from auth's principal).

Refusals are 429 ``RATE_LIMITED`` with ``Retry-After`` and ``X-RateLimit-*`` headers. The
limiter falls back to an in-process limiter when Redis is down, so limits hold either way.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus

from starlette.requests import Request

from services.gateway.errors import GatewayError
from services.gateway.ratelimit import Decision, RateLimiter, RateLimitRules, Rule


class RateLimited(GatewayError):
    status = HTTPStatus.TOO_MANY_REQUESTS
    reason = "RATE_LIMITED"
    default_message = "too many requests; retry after the time in Retry-After"


def _client(request: Request) -> str:
    return str(getattr(request.state, "client_ip", "") or "unknown")


class EdgeLimits:
    def __init__(
        self,
        limiter: RateLimiter,
        rules: RateLimitRules | None = None,
        *,
        on_decision: Callable[[str, Decision], None] | None = None,
    ) -> None:
        """``on_decision`` sees every decision with its bucket (the gateway's metrics)."""
        self.limiter = limiter
        self.rules = rules or RateLimitRules()
        self._on_decision = on_decision
        self._by_route: dict[str, Rule] = {
            "register": self.rules.account_registration_ip,
            "login": self.rules.login_ip,
            "refresh": self.rules.refresh_ip,
            "agent_register": self.rules.agent_registration_ip,
            "claim": self.rules.claim_ip,
            "identity_check": self.rules.ip,
        }

    async def _enforce(self, rule: Rule, identity: str, *, consume: bool = True) -> Decision:
        decision = await self.limiter.check_rule(rule, identity, consume=consume)
        if self._on_decision is not None:
            self._on_decision(rule.bucket, decision)
        if not decision.allowed:
            raise RateLimited(headers=decision.headers())
        return decision

    async def flood(self, request: Request) -> None:
        await self._enforce(self.rules.ip_flood, _client(request))

    async def ip(self, request: Request, route: str) -> None:
        """An uncredentialed route: the flood ceiling and the route's own per-IP bucket."""
        await self.flood(request)
        await self._enforce(self._by_route[route], _client(request))

    async def login_account(self, email: str) -> None:
        await self._enforce(self.rules.login_account, email.strip().lower())

    async def claim_account(self, account_id: str) -> None:
        await self._enforce(self.rules.claim_account, account_id)

    async def reserve_credential_attempt(self, request: Request) -> None:
        """Count a credential attempt against its IP, refusing an IP out of failures."""
        await self._enforce(self.rules.credential_failure_ip, _client(request))

    async def credential_accepted(self, request: Request) -> None:
        """A reserved attempt succeeded: it was no failure, give it back."""
        await self.limiter.refund_rule(self.rules.credential_failure_ip, _client(request))

    async def key(self, key_id: str, rate_limit_rpm: int) -> Decision:
        return await self._enforce(self.rules.for_key(rate_limit_rpm), key_id)

"""Which calls may be retried, when, and how long to wait: the client's one retry policy.

Every RPC of the four services falls in one retry class, derived from its request message (the
generated descriptors), with the exceptions named below:

=================  ==========================================================================
class              retried on
=================  ==========================================================================
``READ``           UNAVAILABLE; DEADLINE_EXCEEDED when it was the attempt's own timeout that
                   passed (``attempt_timeout_s``), not the call's overall deadline.
                   Requests without ``request_id``: reads, and Authenticate /
                   IssueServiceToken / GetPublicKeys, which mint a token or read keys and
                   leave nothing a second copy could duplicate.
``REQUEST_ID``     UNAVAILABLE; ABORTED with reason REQUEST_IN_PROGRESS or CONCURRENT_UPDATE.
                   Mutations carrying ``request_id``: the server keeps the first successful
                   answer per (principal, method, request_id) and replays it, and stores
                   nothing for a failed attempt, so resending the *same* request (same
                   request_id, same fields) has the effect at most once. Never on
                   DEADLINE_EXCEEDED: the first copy may still be running, and the caller
                   should decide whether to wait.
``TRANSPORT_ONLY`` UNAVAILABLE without ErrorInfo only (provider was never reached, or died).
                   ChatCompletion records the generation under its request_id before anything
                   else, so any answer *from provider* (UPSTREAM_UNAVAILABLE,
                   WALLET_UNAVAILABLE ...) is final: a resend would only say
                   GENERATION_EXISTS. A resend after provider died still never charges twice.
``NEVER``          nothing. Login (every attempt counts towards the lockout), RefreshSession
                   (a resend of a rotated refresh token is treated as theft and revokes the
                   session), VerifyIdentityToken (single use: any attempt that reaches auth
                   burns the token), and every server-streaming call (output may already have
                   been delivered and billed).
=================  ==========================================================================

RESOURCE_EXHAUSTED is never retried by the client: the reasons behind it are lockouts and rate
limits whose ``retry_after_s`` (see :attr:`TokenMartError.retry_after_s`) routinely exceeds any
sensible call deadline, or limits that do not pass with time at all (KEY_COUNT_EXCEEDED,
CLAIM_CAP_REACHED), and retrying a rate-limited call only spends more of the budget. The caller
sees the error with the hint and decides.

A rejected access token (UNAUTHENTICATED with ACCESS_TOKEN_EXPIRED or ACCESS_TOKEN_INVALID) is
not a retry in this sense: the service refused before doing anything, so the client fetches a new
token and sends the call once more, whatever its class (see :mod:`tokenmart_client.tokens`).

Backoff between attempts is exponential with "equal jitter": the n-th wait is drawn uniformly
from [cap/2, cap], cap = min(max_backoff_s, initial_backoff_s * multiplier**(n-1)). Half the
wait is guaranteed, so a restarting server is not hammered; the other half spreads clients apart.
Attempts are bounded by ``max_attempts`` and by the call's overall deadline, whichever comes first.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType, ModuleType

import grpc
from google.protobuf.message import Message
from tokenmart.auth.v1 import auth_pb2
from tokenmart.provider.v1 import provider_pb2
from tokenmart.review.v1 import review_pb2
from tokenmart.wallet.v1 import wallet_pb2

from tokenmart_client.errors import ClientConfigError, TokenMartError

SERVICES = ("auth", "wallet", "provider", "review")
REQUEST_ID_FIELD = "request_id"


class RetryClass(enum.Enum):
    READ = "read"
    REQUEST_ID = "request_id"
    TRANSPORT_ONLY = "transport_only"
    NEVER = "never"


NEVER_RETRIED: Mapping[str, str] = MappingProxyType(
    {
        "auth.Login": "each attempt counts towards the login lockout",
        "auth.RefreshSession": "resending a rotated refresh token revokes the whole session",
        "auth.VerifyIdentityToken": "identity tokens are single use; any attempt burns it",
    }
)
TRANSPORT_ONLY: frozenset[str] = frozenset({"provider.ChatCompletion"})

NO_ACCESS_TOKEN: frozenset[str] = frozenset(
    {
        "auth.RegisterAccount",
        "auth.Login",
        "auth.RefreshSession",
        "auth.RegisterAgent",
        "auth.Authenticate",
        "auth.IssueServiceToken",
        "auth.GetPublicKeys",
        "auth.VerifyIdentityToken",
    }
)
"""Methods whose proto says "Access: no access token": the client never attaches one (the token
is not needed, and the calls that obtain a token must not depend on having one)."""

RETRIED_ABORTED_REASONS = frozenset({"REQUEST_IN_PROGRESS", "CONCURRENT_UPDATE"})
TOKEN_REJECTED_REASONS = frozenset({"ACCESS_TOKEN_EXPIRED", "ACCESS_TOKEN_INVALID"})


@dataclass(frozen=True)
class MethodSpec:
    """One RPC: where it goes, its messages, and how the client treats it."""

    service: str
    name: str
    path: str
    request_type: type[Message]
    response_type: type[Message]
    server_streaming: bool
    retry_class: RetryClass
    needs_token: bool
    has_request_id: bool

    @property
    def key(self) -> str:
        """``service.Method``, e.g. ``wallet.CreateTransfer``."""
        return f"{self.service}.{self.name}"


def _specs(service: str, module: ModuleType) -> dict[str, MethodSpec]:
    descriptor = module.DESCRIPTOR
    (service_descriptor,) = descriptor.services_by_name.values()
    specs: dict[str, MethodSpec] = {}
    for method in service_descriptor.methods:
        key = f"{service}.{method.name}"
        has_request_id = REQUEST_ID_FIELD in method.input_type.fields_by_name
        if method.server_streaming or method.client_streaming or key in NEVER_RETRIED:
            retry_class = RetryClass.NEVER
        elif key in TRANSPORT_ONLY:
            retry_class = RetryClass.TRANSPORT_ONLY
        elif has_request_id:
            retry_class = RetryClass.REQUEST_ID
        else:
            retry_class = RetryClass.READ
        specs[method.name] = MethodSpec(
            service=service,
            name=method.name,
            path=f"/{service_descriptor.full_name}/{method.name}",
            request_type=getattr(module, method.input_type.name),
            response_type=getattr(module, method.output_type.name),
            server_streaming=method.server_streaming,
            retry_class=retry_class,
            needs_token=key not in NO_ACCESS_TOKEN,
            has_request_id=has_request_id,
        )
    return specs


METHODS: Mapping[str, Mapping[str, MethodSpec]] = MappingProxyType(
    {
        "auth": MappingProxyType(_specs("auth", auth_pb2)),
        "wallet": MappingProxyType(_specs("wallet", wallet_pb2)),
        "provider": MappingProxyType(_specs("provider", provider_pb2)),
        "review": MappingProxyType(_specs("review", review_pb2)),
    }
)
"""Every RPC of the four services, by service and method name."""


def method_spec(service: str, name: str) -> MethodSpec:
    try:
        return METHODS[service][name]
    except KeyError:
        raise ClientConfigError(
            "UNKNOWN_METHOD", f"{service}.{name} is not an RPC of TokenMart Core"
        ) from None


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempts, backoff, and an optional per-attempt timeout for reads."""

    max_attempts: int = 4
    initial_backoff_s: float = 0.1
    max_backoff_s: float = 2.0
    backoff_multiplier: float = 2.0
    attempt_timeout_s: float | None = None
    """Each attempt of a READ call gets at most this long (the call's deadline still bounds
    the whole); ``None`` lets one attempt use all of the remaining deadline."""

    def __post_init__(self) -> None:
        if not 1 <= self.max_attempts <= 100:
            raise ClientConfigError("RETRY_POLICY_INVALID", "max_attempts must be in 1..100")
        if not 0 < self.initial_backoff_s <= self.max_backoff_s <= 60:
            raise ClientConfigError(
                "RETRY_POLICY_INVALID",
                "backoffs must satisfy 0 < initial_backoff_s <= max_backoff_s <= 60",
            )
        if not 1 <= self.backoff_multiplier <= 10:
            raise ClientConfigError("RETRY_POLICY_INVALID", "backoff_multiplier must be in 1..10")
        if self.attempt_timeout_s is not None and not self.attempt_timeout_s > 0:
            raise ClientConfigError("RETRY_POLICY_INVALID", "attempt_timeout_s must be positive")

    def backoff_s(self, retry_number: int, uniform: Callable[[float, float], float]) -> float:
        """The wait before retry ``retry_number`` (1 = the first retry), with equal jitter."""
        assert retry_number >= 1
        cap = min(
            self.max_backoff_s,
            self.initial_backoff_s * self.backoff_multiplier ** min(retry_number - 1, 64),
        )
        return uniform(cap / 2, cap)


NO_RETRIES = RetryPolicy(max_attempts=1)


def is_retryable(spec: MethodSpec, error: TokenMartError, *, attempt_timed_out: bool) -> bool:
    """Whether resending ``spec``'s request after ``error`` is safe and may help.

    ``attempt_timed_out``: the DEADLINE_EXCEEDED came from the attempt's own timeout while the
    call's overall deadline still had time left.
    """
    retry_class = spec.retry_class
    if retry_class is RetryClass.NEVER:
        return False
    code = error.code
    if code is grpc.StatusCode.UNAVAILABLE:
        if retry_class is RetryClass.TRANSPORT_ONLY:
            return error.reason is None
        return True
    if code is grpc.StatusCode.DEADLINE_EXCEEDED:
        return retry_class is RetryClass.READ and attempt_timed_out
    if code is grpc.StatusCode.ABORTED:
        return retry_class is RetryClass.REQUEST_ID and error.reason in RETRIED_ABORTED_REASONS
    return False

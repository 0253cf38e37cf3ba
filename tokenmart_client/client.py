"""The client: :func:`connect` and :class:`TokenMartClient`.

A client is one identity (the TLS certificate it presents) and, optionally, one principal (where
its access tokens come from). Views made with :meth:`TokenMartClient.with_credential`,
:meth:`~TokenMartClient.with_service_token`, :meth:`~TokenMartClient.with_access_token` and
:meth:`~TokenMartClient.with_options` share the channels of the client they came from; close the
client that :func:`connect` returned (views' ``close`` does nothing).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from types import TracebackType

from google.protobuf.message import Message
from tokenmart.auth.v1 import auth_pb2

from tokenmart_client.apis import ALL_AUDIENCES, AuthApi, ProviderApi, ReviewApi, WalletApi
from tokenmart_client.config import ClientConfig, TlsFiles
from tokenmart_client.errors import ClientConfigError
from tokenmart_client.policy import RetryPolicy, method_spec
from tokenmart_client.tokens import CredentialTokens, ServiceTokens, StaticToken, TokenSource
from tokenmart_client.transport import CallObserver, Transport

KNOWN_TARGETS = frozenset({"auth", "wallet", "provider", "review"})


class TokenMartClient:
    """Typed access to auth, wallet, provider and review over mTLS (``grpc.aio``).

    ``client.auth``, ``client.wallet``, ``client.provider``, ``client.review`` hold the typed
    facades; :meth:`call` and :meth:`stream` reach every other RPC.
    """

    def __init__(
        self,
        *,
        transport: Transport,
        tokens: TokenSource | None = None,
        retry: RetryPolicy | None = None,
        timeout_s: float | None = None,
        clock: Callable[[], float] = time.time,
        owns_transport: bool = True,
    ) -> None:
        self._transport = transport
        self._tokens = tokens
        self._retry = retry or transport.config.retry
        self._timeout_s = timeout_s
        self._clock = clock
        self._owns_transport = owns_transport
        self.auth = AuthApi(self)
        self.wallet = WalletApi(self)
        self.provider = ProviderApi(self)
        self.review = ReviewApi(self)

    def __repr__(self) -> str:
        return f"TokenMartClient(tokens={self._tokens!r})"

    # -- principals and options ----------------------------------------------------------------

    @property
    def tokens(self) -> TokenSource | None:
        """Where this client's access tokens come from (None: calls carry no token)."""
        return self._tokens

    @property
    def config(self) -> ClientConfig:
        return self._transport.config

    def _view(
        self,
        *,
        tokens: TokenSource | None,
        retry: RetryPolicy | None = None,
        timeout_s: float | None = None,
    ) -> TokenMartClient:
        return TokenMartClient(
            transport=self._transport,
            tokens=tokens,
            retry=retry or self._retry,
            timeout_s=timeout_s if timeout_s is not None else self._timeout_s,
            clock=self._clock,
            owns_transport=False,
        )

    def with_credential(
        self,
        credential: str,
        *,
        agent_id: str = "",
        audiences: Sequence[auth_pb2.Audience] = (),
        accepted_families: Sequence[auth_pb2.CredentialFamily] = (),
    ) -> TokenMartClient:
        """A view that acts for the holder of ``credential`` (session token or key), with
        end-user tokens from ``Authenticate`` (gateway certificate). ``agent_id`` is the
        X-Agent-Id a session acts as."""
        tokens = CredentialTokens(
            self.auth.authenticate,
            credential,
            agent_id=agent_id,
            audiences=audiences,
            accepted_families=accepted_families,
            clock=self._clock,
            refresh_before_s=self.config.token_refresh_before_s,
        )
        return self._view(tokens=tokens)

    def with_service_token(
        self, *, audiences: Sequence[auth_pb2.Audience] = ALL_AUDIENCES
    ) -> TokenMartClient:
        """A view that acts as the certificate's own service (provider, review or ctl)."""
        tokens = ServiceTokens(
            self.auth.issue_service_token,
            audiences=audiences,
            clock=self._clock,
            refresh_before_s=self.config.token_refresh_before_s,
        )
        return self._view(tokens=tokens)

    def with_access_token(self, token: str) -> TokenMartClient:
        """A view that forwards ``token`` unchanged (e.g. the end-user token being served)."""
        return self._view(tokens=StaticToken(token))

    def without_token(self) -> TokenMartClient:
        """A view whose calls carry no access token."""
        return self._view(tokens=None)

    def with_options(
        self, *, retry: RetryPolicy | None = None, timeout_s: float | None = None
    ) -> TokenMartClient:
        """A view with another retry policy and/or deadline for every call (same principal)."""
        return self._view(tokens=self._tokens, retry=retry, timeout_s=timeout_s)

    # -- calls ---------------------------------------------------------------------------------

    async def call(
        self,
        service: str,
        method: str,
        request: Message,
        *,
        timeout_s: float | None = None,
    ) -> Message:
        """Any unary RPC by name, e.g. ``call("wallet", "GetHold", GetHoldRequest(...))``."""
        spec = method_spec(service, method)
        if spec.server_streaming:
            raise ClientConfigError("UNKNOWN_METHOD", f"{spec.key} streams; use stream()")
        return await self._transport.unary(
            spec,
            request,
            tokens=self._tokens,
            retry=self._retry,
            timeout_s=timeout_s if timeout_s is not None else self._timeout_s,
        )

    def stream(
        self,
        service: str,
        method: str,
        request: Message,
        *,
        timeout_s: float | None = None,
    ) -> AsyncIterator[Message]:
        """Any server-streaming RPC by name; iterate the result (never retried)."""
        spec = method_spec(service, method)
        if not spec.server_streaming:
            raise ClientConfigError("UNKNOWN_METHOD", f"{spec.key} is unary; use call()")
        return self._transport.stream(
            spec,
            request,
            tokens=self._tokens,
            timeout_s=timeout_s if timeout_s is not None else self._timeout_s,
        )

    # -- lifecycle -----------------------------------------------------------------------------

    async def close(self) -> None:
        """Close the channels (only the client from :func:`connect` owns them)."""
        if self._owns_transport:
            await self._transport.close()

    async def __aenter__(self) -> TokenMartClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


def connect(
    *,
    targets: Mapping[str, str],
    tls: TlsFiles,
    credential: str | None = None,
    agent_id: str = "",
    service_token: bool = False,
    access_token: str | None = None,
    config: ClientConfig | None = None,
    on_call: CallObserver | None = None,
    clock: Callable[[], float] = time.time,
) -> TokenMartClient:
    """A client presenting the certificate in ``tls`` to the services at ``targets``.

    ``targets`` maps ``auth``/``wallet``/``provider``/``review`` to ``host:port`` (only the ones
    you call are needed). Choose at most one principal: ``credential`` (+ ``agent_id``),
    ``service_token=True``, or ``access_token``; or none, and make views later. ``on_call`` sees a
    :class:`~tokenmart_client.config.CallRecord` for every finished call; ``clock`` is the wall
    clock tokens are cached against. Channels open on first use, so this needs no event loop;
    use the client inside one (``async with connect(...) as client:``).
    """
    chosen = [credential is not None, service_token, access_token is not None]
    if sum(chosen) > 1:
        raise ClientConfigError(
            "CONFLICTING_CREDENTIALS",
            "choose one of credential, service_token and access_token",
        )
    unknown = set(targets) - KNOWN_TARGETS
    if unknown:
        raise ClientConfigError(
            "TARGET_NOT_CONFIGURED", f"unknown services in targets: {sorted(unknown)}"
        )
    transport = Transport(
        targets=targets,
        tls=tls,
        config=config or ClientConfig(),
        on_call=on_call,
    )
    client = TokenMartClient(transport=transport, clock=clock)
    if credential is not None:
        client = _owning(client.with_credential(credential, agent_id=agent_id))
    elif service_token:
        client = _owning(client.with_service_token())
    elif access_token is not None:
        client = _owning(client.with_access_token(access_token))
    return client


def _owning(view: TokenMartClient) -> TokenMartClient:
    view._owns_transport = True
    return view

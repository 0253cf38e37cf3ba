"""The AuthService servicer: protobuf in, operations, protobuf out; nothing else.

Every handler has one of three shapes:

* **read**: verify the access token, then one transaction that re-checks the caller against the
  database (:func:`~services.auth.operations.access.live_caller`) and runs the operation;
* **mutation**: the same, with the operation inside
  :func:`services.common.idempotency.run_once` in the transaction of its effects, keyed by the
  caller's principal (or the peer service for bootstrap RPCs); responses carrying a secret are
  never stored, only the id of what was created (``secret_resource_id``);
* **bootstrap**: no access token (RegisterAccount, Login, RefreshSession, RegisterAgent,
  VerifyIdentityToken, Authenticate, IssueServiceToken, GetPublicKeys).

The peer allowlist (``access.py``) has already been enforced by the server interceptor, which
also maps every :class:`~services.common.errors.TokenMartError` to its gRPC status.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncSession
from tokenmart.auth.v1 import auth_pb2, auth_pb2_grpc

from services.auth import errors, wire
from services.auth.domain.access_tokens import ISSUER
from services.auth.domain.accounts import Agent
from services.auth.domain.agents import IdentityOutcome, may_see_suspension_reason
from services.auth.domain.keys import ApiKey, LimitChanges
from services.auth.domain.principal import AccountRole, AgentStatus, Scope
from services.auth.domain.signing_keys import SigningKeyStatus
from services.auth.operations import (
    access,
    accounts,
    administration,
    agents,
    authenticate,
    identity,
    keys,
)
from services.auth.operations.runtime import Caller, Runtime, peer_key
from services.auth.store.models import SCHEMA
from services.common.errors import PeerNotAllowed
from services.common.idempotency import run_once, validate_request_id
from services.common.identity import peer_service

R = TypeVar("R")
M = TypeVar("M", bound=Message)

AUTHORIZATION_METADATA_KEY = "authorization"


def _metadata(context: grpc.aio.ServicerContext, key: str) -> str | None:
    for item_key, value in context.invocation_metadata() or ():
        if item_key == key and isinstance(value, str):
            return value
    return None


def _peer(context: grpc.aio.ServicerContext) -> str:
    peer = peer_service(context)
    if peer is None:  # the interceptor refuses such calls first; never trust that alone
        raise PeerNotAllowed()
    return peer


class AuthApi(auth_pb2_grpc.AuthServiceServicer):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    # -- plumbing ------------------------------------------------------------------------------

    async def _caller(self, context: grpc.aio.ServicerContext) -> Caller:
        return await access.verify_caller(
            self.runtime,
            authorization=_metadata(context, AUTHORIZATION_METADATA_KEY),
            peer=_peer(context),
        )

    async def _read(
        self,
        context: grpc.aio.ServicerContext,
        body: Callable[[AsyncSession, Caller], Awaitable[R]],
    ) -> R:
        caller = await self._caller(context)

        async def run(tx: AsyncSession) -> R:
            live = await access.live_caller(tx, self.runtime, caller)
            return await body(tx, live)

        return await self.runtime.database.run(run)

    async def _mutate(
        self,
        context: grpc.aio.ServicerContext,
        *,
        method: str,
        request: Any,
        response_type: type[M],
        body: Callable[[AsyncSession, Caller], Awaitable[M]],
        secret_resource_id: Callable[[M], str] | None = None,
        allow_ended_session: bool = False,
        caller: Caller | None = None,
    ) -> M:
        verified = caller or await self._caller(context)

        async def run(tx: AsyncSession) -> M:
            live = await access.live_caller(
                tx, self.runtime, verified, allow_ended_session=allow_ended_session
            )
            return await run_once(
                await tx.connection(),
                schema=SCHEMA,
                caller=verified.idempotency_key,
                method=method,
                request_id=request.request_id,
                request=request,
                response_type=response_type,
                mutate=lambda: body(tx, live),
                secret_resource_id=secret_resource_id,
            )

        return await self.runtime.database.run(run)

    async def _bootstrap(
        self,
        context: grpc.aio.ServicerContext,
        *,
        method: str,
        request: Any,
        response_type: type[M],
        body: Callable[[AsyncSession], Awaitable[M]],
        secret_resource_id: Callable[[M], str] | None = None,
    ) -> M:
        caller_key = peer_key(_peer(context))

        async def run(tx: AsyncSession) -> M:
            return await run_once(
                await tx.connection(),
                schema=SCHEMA,
                caller=caller_key,
                method=method,
                request_id=request.request_id,
                request=request,
                response_type=response_type,
                mutate=lambda: body(tx),
                secret_resource_id=secret_resource_id,
            )

        return await self.runtime.database.run(run)

    def _agent(self, agent: Agent, caller: Caller) -> auth_pb2.Agent:
        return wire.agent(
            agent, show_suspension_reason=may_see_suspension_reason(agent, caller.principal)
        )

    def _key(self, key: ApiKey) -> auth_pb2.ApiKey:
        return wire.api_key(
            key,
            now=self.runtime.now(),
            default_rpm=self.runtime.settings.keys.default_rate_limit_rpm,
        )

    # -- accounts and sessions -----------------------------------------------------------------

    async def RegisterAccount(
        self, request: auth_pb2.RegisterAccountRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.RegisterAccountResponse:
        validate_request_id(request.request_id)  # before spending a hash on the request
        new = await accounts.prepare_account(
            self.runtime,
            email=request.email,
            password=request.password,
            display_name=request.display_name,
            role=AccountRole.USER,
            client_ip=request.client_ip,
            user_agent=request.user_agent,
        )

        async def body(tx: AsyncSession) -> auth_pb2.RegisterAccountResponse:
            account = await accounts.create_account(tx, self.runtime, new)
            # Before commit: no account without its wallet (operations/wallets.py).
            wallet_id = await self.runtime.wallets.open(account_id=account.id)
            return auth_pb2.RegisterAccountResponse(
                account=wire.account(account), wallet_id=wallet_id
            )

        return await self._bootstrap(
            context,
            method="RegisterAccount",
            request=request,
            response_type=auth_pb2.RegisterAccountResponse,
            body=body,
        )

    async def CreateAdminAccount(
        self, request: auth_pb2.CreateAdminAccountRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.CreateAdminAccountResponse:
        caller = await self._caller(context)
        access.require(caller, Scope.OPERATOR)
        role = wire.from_wire(request.role, wire.ROLES, field="role")
        if role is AccountRole.USER:
            raise errors.RoleInvalid()
        validate_request_id(request.request_id)
        new = await accounts.prepare_account(
            self.runtime,
            email=request.email,
            password=request.password,
            display_name=request.display_name,
            role=role,
            client_ip="",
            user_agent="",
        )

        async def body(tx: AsyncSession, live: Caller) -> auth_pb2.CreateAdminAccountResponse:
            account = await accounts.create_account(tx, self.runtime, new, actor=live.actor)
            wallet_id = await self.runtime.wallets.open(account_id=account.id)
            return auth_pb2.CreateAdminAccountResponse(
                account=wire.account(account), wallet_id=wallet_id
            )

        return await self._mutate(
            context,
            caller=caller,
            method="CreateAdminAccount",
            request=request,
            response_type=auth_pb2.CreateAdminAccountResponse,
            body=body,
        )

    async def Login(
        self, request: auth_pb2.LoginRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.LoginResponse:
        async def body(tx: AsyncSession) -> auth_pb2.LoginResponse:
            issued = await accounts.login(
                tx,
                self.runtime,
                email=request.email,
                password=request.password,
                client_ip=request.client_ip,
                user_agent=request.user_agent,
            )
            return auth_pb2.LoginResponse(
                account=wire.account(issued.account),
                session_id=str(issued.session.id),
                session_token=issued.session_token,
                session_token_expires_at=wire.timestamp(issued.session_token_expires_at),
                refresh_token=issued.refresh_token,
                refresh_token_expires_at=wire.timestamp(issued.refresh_token_expires_at),
            )

        validate_request_id(request.request_id)
        # The hashing slot first, then the transaction: see Passwords.slot.
        async with self.runtime.passwords.slot():
            return await self._bootstrap(
                context,
                method="Login",
                request=request,
                response_type=auth_pb2.LoginResponse,
                body=body,
                secret_resource_id=lambda response: response.session_id,
            )

    async def RefreshSession(
        self, request: auth_pb2.RefreshSessionRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.RefreshSessionResponse:
        async def body(tx: AsyncSession) -> auth_pb2.RefreshSessionResponse:
            issued = await accounts.refresh(
                tx,
                self.runtime,
                refresh_token=request.refresh_token,
                client_ip=request.client_ip,
                user_agent=request.user_agent,
            )
            return auth_pb2.RefreshSessionResponse(
                session_id=str(issued.session.id),
                session_token=issued.session_token,
                session_token_expires_at=wire.timestamp(issued.session_token_expires_at),
                refresh_token=issued.refresh_token,
                refresh_token_expires_at=wire.timestamp(issued.refresh_token_expires_at),
            )

        return await self._bootstrap(
            context,
            method="RefreshSession",
            request=request,
            response_type=auth_pb2.RefreshSessionResponse,
            body=body,
            secret_resource_id=lambda response: response.session_id,
        )

    async def Logout(
        self, request: auth_pb2.LogoutRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.LogoutResponse:
        async def body(tx: AsyncSession, caller: Caller) -> auth_pb2.LogoutResponse:
            session = await accounts.logout(tx, self.runtime, caller)
            return auth_pb2.LogoutResponse(
                session=wire.session(session, current_session_id=caller.principal.session_id)
            )

        return await self._mutate(
            context,
            method="Logout",
            request=request,
            response_type=auth_pb2.LogoutResponse,
            body=body,
            allow_ended_session=True,
        )

    async def ListSessions(
        self, request: auth_pb2.ListSessionsRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.ListSessionsResponse:
        async def body(tx: AsyncSession, caller: Caller) -> auth_pb2.ListSessionsResponse:
            page = await accounts.list_sessions(
                tx,
                self.runtime,
                caller,
                requested_page_size=request.page_size,
                page_token=request.page_token,
                include_ended=request.include_ended,
            )
            current = caller.principal.session_id
            return auth_pb2.ListSessionsResponse(
                sessions=[wire.session(item, current_session_id=current) for item in page.sessions],
                next_page_token=page.next_page_token,
            )

        return await self._read(context, body)

    async def RevokeSession(
        self, request: auth_pb2.RevokeSessionRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.RevokeSessionResponse:
        async def body(tx: AsyncSession, caller: Caller) -> auth_pb2.RevokeSessionResponse:
            session = await accounts.revoke_session(
                tx, self.runtime, caller, session_id=request.session_id
            )
            return auth_pb2.RevokeSessionResponse(
                session=wire.session(session, current_session_id=caller.principal.session_id)
            )

        return await self._mutate(
            context,
            method="RevokeSession",
            request=request,
            response_type=auth_pb2.RevokeSessionResponse,
            body=body,
        )

    async def SetAccountRole(
        self, request: auth_pb2.SetAccountRoleRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.SetAccountRoleResponse:
        role = wire.from_wire(request.role, wire.ROLES, field="role")

        async def body(tx: AsyncSession, caller: Caller) -> auth_pb2.SetAccountRoleResponse:
            change = await accounts.set_account_role(
                tx,
                self.runtime,
                caller,
                account_id=request.account_id,
                role=role,
                reason=request.reason,
            )
            return auth_pb2.SetAccountRoleResponse(
                account=wire.account(change.account),
                previous_role=wire.ROLES[change.previous_role],
            )

        return await self._mutate(
            context,
            method="SetAccountRole",
            request=request,
            response_type=auth_pb2.SetAccountRoleResponse,
            body=body,
        )

    async def GetMe(
        self, request: auth_pb2.GetMeRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.GetMeResponse:
        async def body(tx: AsyncSession, caller: Caller) -> auth_pb2.GetMeResponse:
            me = await accounts.get_me(tx, caller)
            response = auth_pb2.GetMeResponse(principal=wire.principal_message(me.principal))
            if me.account is not None:
                response.account.CopyFrom(wire.account(me.account))
            if me.agent is not None:
                response.agent.CopyFrom(self._agent(me.agent, caller))
            return response

        return await self._read(context, body)

    # -- agents --------------------------------------------------------------------------------

    async def RegisterAgent(
        self, request: auth_pb2.RegisterAgentRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.RegisterAgentResponse:
        async def body(tx: AsyncSession) -> auth_pb2.RegisterAgentResponse:
            registered = await agents.register_agent(
                tx,
                self.runtime,
                name=request.name,
                description=request.description,
                harness=request.harness,
                client_ip=request.client_ip,
                user_agent=request.user_agent,
            )
            # Before commit: no agent without its wallet (operations/wallets.py).
            wallet_id = await self.runtime.wallets.open(agent_id=registered.agent.id)
            return auth_pb2.RegisterAgentResponse(
                wallet_id=wallet_id,
                agent=wire.agent(registered.agent, show_suspension_reason=False),
                key_id=str(registered.key.id),
                api_key=registered.api_key,
                key_prefix=registered.key.key_prefix,
                claim_code=registered.claim_code,
                claim_code_expires_at=wire.timestamp(registered.claim_code_expires_at),
            )

        return await self._bootstrap(
            context,
            method="RegisterAgent",
            request=request,
            response_type=auth_pb2.RegisterAgentResponse,
            body=body,
            secret_resource_id=lambda response: response.agent.agent_id,
        )

    async def RenewClaimCode(
        self, request: auth_pb2.RenewClaimCodeRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.RenewClaimCodeResponse:
        created: list[str] = []

        async def body(tx: AsyncSession, caller: Caller) -> auth_pb2.RenewClaimCodeResponse:
            renewed = await agents.renew_claim_code(tx, self.runtime, caller)
            created.append(str(renewed.code_id))
            return auth_pb2.RenewClaimCodeResponse(
                claim_code=renewed.claim_code,
                claim_code_expires_at=wire.timestamp(renewed.expires_at),
            )

        return await self._mutate(
            context,
            method="RenewClaimCode",
            request=request,
            response_type=auth_pb2.RenewClaimCodeResponse,
            body=body,
            # The response has no id field; the replay log keeps the new code's id.
            secret_resource_id=lambda _response: created[-1],
        )

    async def ClaimAgent(
        self, request: auth_pb2.ClaimAgentRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.ClaimAgentResponse:
        async def body(tx: AsyncSession, caller: Caller) -> auth_pb2.ClaimAgentResponse:
            agent = await agents.claim_agent(
                tx,
                self.runtime,
                caller,
                claim_code=request.claim_code,
                client_ip=request.client_ip,
            )
            return auth_pb2.ClaimAgentResponse(agent=self._agent(agent, caller))

        return await self._mutate(
            context,
            method="ClaimAgent",
            request=request,
            response_type=auth_pb2.ClaimAgentResponse,
            body=body,
        )

    async def GetAgent(
        self, request: auth_pb2.GetAgentRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.GetAgentResponse:
        async def body(tx: AsyncSession, caller: Caller) -> auth_pb2.GetAgentResponse:
            agent = await agents.get_agent(tx, caller, agent_id=request.agent_id)
            return auth_pb2.GetAgentResponse(agent=self._agent(agent, caller))

        return await self._read(context, body)

    async def ListAgents(
        self, request: auth_pb2.ListAgentsRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.ListAgentsResponse:
        lifecycle = wire.optional_from_wire(request.lifecycle, wire.LIFECYCLES, field="lifecycle")
        status = wire.optional_from_wire(request.status, wire.AGENT_STATUSES, field="status")

        async def body(tx: AsyncSession, caller: Caller) -> auth_pb2.ListAgentsResponse:
            page = await agents.list_agents(
                tx,
                self.runtime,
                caller,
                requested_page_size=request.page_size,
                page_token=request.page_token,
                owner_account_id=request.owner_account_id,
                lifecycle=lifecycle,
                status=status,
                min_trust_tier=request.min_trust_tier,
                updated_after=wire.optional_time(request, "updated_after"),
            )
            return auth_pb2.ListAgentsResponse(
                agents=[self._agent(agent, caller) for agent in page.agents],
                next_page_token=page.next_page_token,
            )

        return await self._read(context, body)

    async def RekeyAgent(
        self, request: auth_pb2.RekeyAgentRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.RekeyAgentResponse:
        async def body(tx: AsyncSession, caller: Caller) -> auth_pb2.RekeyAgentResponse:
            rekeyed = await agents.rekey_agent(tx, self.runtime, caller, agent_id=request.agent_id)
            return auth_pb2.RekeyAgentResponse(
                agent_id=str(rekeyed.agent.id),
                key_id=str(rekeyed.key.id),
                api_key=rekeyed.api_key,
                key_prefix=rekeyed.key.key_prefix,
                revoked_key_ids=[str(key_id) for key_id in rekeyed.revoked_key_ids],
            )

        return await self._mutate(
            context,
            method="RekeyAgent",
            request=request,
            response_type=auth_pb2.RekeyAgentResponse,
            body=body,
            secret_resource_id=lambda response: response.key_id,
        )

    async def SuspendAgent(
        self, request: auth_pb2.SuspendAgentRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.SuspendAgentResponse:
        async def body(tx: AsyncSession, caller: Caller) -> auth_pb2.SuspendAgentResponse:
            agent = await agents.set_status(
                tx,
                self.runtime,
                caller,
                agent_id=request.agent_id,
                status=AgentStatus.SUSPENDED,
                reason=request.reason,
            )
            return auth_pb2.SuspendAgentResponse(agent=self._agent(agent, caller))

        return await self._mutate(
            context,
            method="SuspendAgent",
            request=request,
            response_type=auth_pb2.SuspendAgentResponse,
            body=body,
        )

    async def ReactivateAgent(
        self, request: auth_pb2.ReactivateAgentRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.ReactivateAgentResponse:
        async def body(tx: AsyncSession, caller: Caller) -> auth_pb2.ReactivateAgentResponse:
            agent = await agents.set_status(
                tx,
                self.runtime,
                caller,
                agent_id=request.agent_id,
                status=AgentStatus.ACTIVE,
                reason=request.reason,
            )
            return auth_pb2.ReactivateAgentResponse(agent=self._agent(agent, caller))

        return await self._mutate(
            context,
            method="ReactivateAgent",
            request=request,
            response_type=auth_pb2.ReactivateAgentResponse,
            body=body,
        )

    async def SetTrustTier(
        self, request: auth_pb2.SetTrustTierRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.SetTrustTierResponse:
        async def body(tx: AsyncSession, caller: Caller) -> auth_pb2.SetTrustTierResponse:
            change = await agents.set_trust_tier(
                tx,
                self.runtime,
                caller,
                agent_id=request.agent_id,
                trust_tier=request.trust_tier,
                reason=request.reason,
            )
            return auth_pb2.SetTrustTierResponse(
                agent=self._agent(change.agent, caller),
                previous_trust_tier=change.previous_trust_tier,
            )

        return await self._mutate(
            context,
            method="SetTrustTier",
            request=request,
            response_type=auth_pb2.SetTrustTierResponse,
            body=body,
        )

    async def GetTrustTier(
        self, request: auth_pb2.GetTrustTierRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.GetTrustTierResponse:
        async def body(tx: AsyncSession, caller: Caller) -> auth_pb2.GetTrustTierResponse:
            agent = await agents.get_trust_tier(tx, agent_id=request.agent_id)
            return auth_pb2.GetTrustTierResponse(
                agent_id=str(agent.id),
                trust_tier=agent.trust_tier,
                lifecycle=wire.LIFECYCLES[agent.lifecycle],
                status=wire.AGENT_STATUSES[agent.status],
                owner_account_id=str(agent.owner_account_id or ""),
            )

        return await self._read(context, body)

    # -- the front door and service tokens -----------------------------------------------------

    async def Authenticate(
        self, request: auth_pb2.AuthenticateRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.AuthenticateResponse:
        audiences = wire.set_from_wire(request.audiences, wire.AUDIENCES, field="audiences")
        families = wire.set_from_wire(
            request.accepted_families, wire.CREDENTIAL_FAMILIES, field="accepted_families"
        )
        authenticated = await authenticate.authenticate(
            self.runtime,
            authenticate.AuthenticateCommand(
                credential=request.credential,
                agent_id=request.agent_id,
                client_ip=request.client_ip,
                user_agent=request.user_agent,
                audiences=audiences,
                accepted_families=families,
            ),
        )
        return auth_pb2.AuthenticateResponse(
            principal=wire.principal_message(authenticated.principal),
            access_token=authenticated.token.token,
            access_token_expires_at=wire.token_expiry(authenticated.token),
            cache_for=wire.duration_ms(authenticated.cache_for_ms),
        )

    async def IssueServiceToken(
        self, request: auth_pb2.IssueServiceTokenRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.IssueServiceTokenResponse:
        audiences = [
            wire.from_wire(value, wire.AUDIENCES, field="audiences") for value in request.audiences
        ]
        token = await authenticate.issue_service_token(
            self.runtime, peer=_peer(context), audiences=audiences
        )
        return auth_pb2.IssueServiceTokenResponse(
            access_token=token.token, expires_at=wire.token_expiry(token)
        )

    async def GetPublicKeys(
        self, request: auth_pb2.GetPublicKeysRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.GetPublicKeysResponse:
        published = await self.runtime.keyring.published()
        return auth_pb2.GetPublicKeysResponse(
            keys=[
                wire.public_key(key, show_not_after=key.status is SigningKeyStatus.RETIRED)
                for key in published
            ],
            issuer=ISSUER,
            refresh_after=wire.duration_ms(
                self.runtime.settings.tokens.public_keys_refresh_s * 1000
            ),
        )

    async def RotateSigningKey(
        self, request: auth_pb2.RotateSigningKeyRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.RotateSigningKeyResponse:
        async def body(tx: AsyncSession, caller: Caller) -> auth_pb2.RotateSigningKeyResponse:
            rotation = await administration.rotate_signing_key(
                tx,
                self.runtime,
                caller,
                compromised=request.compromised,
                activate_after=wire.optional_duration(request, "activate_after"),
            )
            return auth_pb2.RotateSigningKeyResponse(
                new_key=wire.public_key(rotation.new_key, show_not_after=False),
                previous_key=wire.public_key(rotation.previous_key, show_not_after=True),
                activates_at=wire.timestamp(rotation.activates_at),
            )

        response = await self._mutate(
            context,
            method="RotateSigningKey",
            request=request,
            response_type=auth_pb2.RotateSigningKeyResponse,
            body=body,
        )
        await self.runtime.keyring.reload()
        return response

    async def ResealSigningKeys(
        self, request: auth_pb2.ResealSigningKeysRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.ResealSigningKeysResponse:
        async def body(tx: AsyncSession, caller: Caller) -> auth_pb2.ResealSigningKeysResponse:
            reseal = await administration.reseal_signing_keys(tx, self.runtime, caller)
            return auth_pb2.ResealSigningKeysResponse(
                resealed=len(reseal.resealed),
                already_current=reseal.already_current,
                failed_key_ids=list(reseal.failed),
            )

        return await self._mutate(
            context,
            method="ResealSigningKeys",
            request=request,
            response_type=auth_pb2.ResealSigningKeysResponse,
            body=body,
        )

    # -- identity tokens -----------------------------------------------------------------------

    async def CreateIdentityToken(
        self, request: auth_pb2.CreateIdentityTokenRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.CreateIdentityTokenResponse:
        async def body(tx: AsyncSession, caller: Caller) -> auth_pb2.CreateIdentityTokenResponse:
            created = await identity.create_identity_token(
                tx,
                self.runtime,
                caller,
                audience=request.audience,
                ttl=wire.optional_duration(request, "ttl"),
            )
            return auth_pb2.CreateIdentityTokenResponse(
                identity_token=created.identity_token,
                identity_token_id=str(created.token_id),
                audience=created.audience,
                expires_at=wire.timestamp(created.expires_at),
                agent=wire.agent_identity(created.agent),
            )

        return await self._mutate(
            context,
            method="CreateIdentityToken",
            request=request,
            response_type=auth_pb2.CreateIdentityTokenResponse,
            body=body,
            secret_resource_id=lambda response: response.identity_token_id,
        )

    async def VerifyIdentityToken(
        self, request: auth_pb2.VerifyIdentityTokenRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.VerifyIdentityTokenResponse:
        async def body(tx: AsyncSession) -> auth_pb2.VerifyIdentityTokenResponse:
            verification = await identity.verify_identity_token(
                tx,
                self.runtime,
                identity_token=request.identity_token,
                audience=request.audience,
                client_ip=request.client_ip,
            )
            response = auth_pb2.VerifyIdentityTokenResponse(
                valid=verification.valid,
                verified_at=wire.timestamp(verification.verified_at),
            )
            if verification.already_used:
                response.invalid_reason = auth_pb2.IDENTITY_TOKEN_INVALID_REASON_ALREADY_USED
            elif verification.outcome is None:
                response.invalid_reason = auth_pb2.IDENTITY_TOKEN_INVALID_REASON_UNKNOWN
            elif verification.outcome is not IdentityOutcome.VALID:
                response.invalid_reason = wire.IDENTITY_OUTCOMES[verification.outcome]
            if verification.agent is not None:
                response.agent.CopyFrom(wire.agent_identity(verification.agent))
            return response

        return await self._bootstrap(
            context,
            method="VerifyIdentityToken",
            request=request,
            response_type=auth_pb2.VerifyIdentityTokenResponse,
            body=body,
        )

    # -- keys ----------------------------------------------------------------------------------

    async def CreateKey(
        self, request: auth_pb2.CreateKeyRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.CreateKeyResponse:
        family = wire.from_wire(request.family, wire.KEY_FAMILIES, field="family")
        command = keys.CreateKeyCommand(
            agent_id=request.agent_id,
            family=family,
            name=request.name,
            credit_limit_micros=(
                request.credit_limit_micros if request.HasField("credit_limit_micros") else None
            ),
            rate_limit_rpm=request.rate_limit_rpm if request.HasField("rate_limit_rpm") else None,
            expires_in=wire.optional_duration(request, "expires_in"),
            allowed_models=tuple(request.allowed_models),
        )

        async def body(tx: AsyncSession, caller: Caller) -> auth_pb2.CreateKeyResponse:
            created = await keys.create_key(tx, self.runtime, caller, command)
            return auth_pb2.CreateKeyResponse(key=self._key(created.key), raw_key=created.raw_key)

        return await self._mutate(
            context,
            method="CreateKey",
            request=request,
            response_type=auth_pb2.CreateKeyResponse,
            body=body,
            secret_resource_id=lambda response: response.key.key_id,
        )

    async def ListKeys(
        self, request: auth_pb2.ListKeysRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.ListKeysResponse:
        families = wire.set_from_wire(request.families, wire.KEY_FAMILIES, field="families")

        async def body(tx: AsyncSession, caller: Caller) -> auth_pb2.ListKeysResponse:
            page = await keys.list_keys(
                tx,
                self.runtime,
                caller,
                requested_page_size=request.page_size,
                page_token=request.page_token,
                agent_id=request.agent_id,
                families=families,
                include_inactive=request.include_inactive,
            )
            return auth_pb2.ListKeysResponse(
                keys=[self._key(key) for key in page.keys], next_page_token=page.next_page_token
            )

        return await self._read(context, body)

    async def GetKey(
        self, request: auth_pb2.GetKeyRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.GetKeyResponse:
        async def body(tx: AsyncSession, caller: Caller) -> auth_pb2.GetKeyResponse:
            return auth_pb2.GetKeyResponse(
                key=self._key(await keys.get_key(tx, caller, key_id=request.key_id))
            )

        return await self._read(context, body)

    async def UpdateKey(
        self, request: auth_pb2.UpdateKeyRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.UpdateKeyResponse:
        credit = request.credit_limit
        rate = request.rate_limit
        changes = LimitChanges(
            name=request.name if request.HasField("name") else None,
            credit_limit_set=request.HasField("credit_limit"),
            credit_limit_micros=(
                credit.credit_limit_micros if credit.HasField("credit_limit_micros") else None
            ),
            rate_limit_set=request.HasField("rate_limit"),
            rate_limit_rpm=rate.rate_limit_rpm if rate.HasField("rate_limit_rpm") else None,
            allowed_models_set=request.HasField("allowed_models"),
            allowed_models=tuple(request.allowed_models.model_ids),
            expiry_set=request.HasField("expiry"),
            expires_at=wire.optional_time(request.expiry, "expires_at"),
        )

        async def body(tx: AsyncSession, caller: Caller) -> auth_pb2.UpdateKeyResponse:
            key = await keys.update_key(
                tx, self.runtime, caller, key_id=request.key_id, changes=changes
            )
            return auth_pb2.UpdateKeyResponse(key=self._key(key))

        return await self._mutate(
            context,
            method="UpdateKey",
            request=request,
            response_type=auth_pb2.UpdateKeyResponse,
            body=body,
        )

    async def RevokeKey(
        self, request: auth_pb2.RevokeKeyRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.RevokeKeyResponse:
        async def body(tx: AsyncSession, caller: Caller) -> auth_pb2.RevokeKeyResponse:
            key = await keys.revoke_key(
                tx, self.runtime, caller, key_id=request.key_id, reason=request.reason
            )
            return auth_pb2.RevokeKeyResponse(key=self._key(key))

        return await self._mutate(
            context,
            method="RevokeKey",
            request=request,
            response_type=auth_pb2.RevokeKeyResponse,
            body=body,
        )

    async def GetCurrentKey(
        self, request: auth_pb2.GetCurrentKeyRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.GetCurrentKeyResponse:
        async def body(tx: AsyncSession, caller: Caller) -> auth_pb2.GetCurrentKeyResponse:
            return auth_pb2.GetCurrentKeyResponse(
                key=self._key(await keys.get_current_key(tx, caller))
            )

        return await self._read(context, body)

    # -- audit ---------------------------------------------------------------------------------

    async def ListAuditEvents(
        self, request: auth_pb2.ListAuditEventsRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.ListAuditEventsResponse:
        event_types = wire.set_from_wire(request.event_types, wire.EVENT_TYPES, field="event_types")

        async def body(tx: AsyncSession, caller: Caller) -> auth_pb2.ListAuditEventsResponse:
            page = await administration.list_audit_events(
                tx,
                self.runtime,
                caller,
                requested_page_size=request.page_size,
                page_token=request.page_token,
                account_id=request.account_id,
                agent_id=request.agent_id,
                key_id=request.key_id,
                event_types=event_types,
                since=wire.optional_time(request, "since"),
                until=wire.optional_time(request, "until"),
            )
            return auth_pb2.ListAuditEventsResponse(
                events=[wire.audit_event(event) for event in page.events],
                next_page_token=page.next_page_token,
            )

        return await self._read(context, body)

"""Rows to domain values. Every read of the store goes through one of these."""

from __future__ import annotations

from services.auth.domain.accounts import Account, Agent, RevocationReason, Session, SessionToken
from services.auth.domain.agents import ClaimCode, IdentityToken
from services.auth.domain.keys import ApiKey, KeyFamily, Limits
from services.auth.domain.principal import AccountRole, AgentLifecycle, AgentStatus
from services.auth.domain.signing_keys import SigningKey, SigningKeyStatus
from services.auth.store import models


def account(row: models.Account) -> Account:
    return Account(
        id=row.id,
        email=row.email,
        display_name=row.display_name,
        role=AccountRole(row.role),
        created_at=row.created_at,
        last_login_at=row.last_login_at,
        password_hash=row.password_hash,
    )


def agent(row: models.Agent) -> Agent:
    return Agent(
        id=row.id,
        name=row.name,
        description=row.description,
        harness=row.harness,
        lifecycle=AgentLifecycle(row.lifecycle),
        status=AgentStatus(row.status),
        owner_account_id=row.owner_account_id,
        trust_tier=row.trust_tier,
        created_at=row.created_at,
        updated_at=row.updated_at,
        claimed_at=row.claimed_at,
        suspended_at=row.suspended_at,
        suspension_reason=row.suspension_reason,
    )


def session(row: models.Session) -> Session:
    return Session(
        id=row.id,
        account_id=row.account_id,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_refreshed_at=row.last_refreshed_at,
        revoked_at=row.revoked_at,
        revocation_reason=(
            RevocationReason(row.revocation_reason) if row.revocation_reason else None
        ),
        client_ip=str(row.client_ip) if row.client_ip is not None else None,
        user_agent=row.user_agent,
        generation=row.generation,
    )


def session_token(row: models.SessionToken) -> SessionToken:
    return SessionToken(
        id=row.id,
        session_id=row.session_id,
        generation=row.generation,
        session_token_expires_at=row.session_token_expires_at,
        refresh_token_expires_at=row.refresh_token_expires_at,
        rotated_at=row.rotated_at,
    )


def api_key(row: models.ApiKey) -> ApiKey:
    return ApiKey(
        id=row.id,
        agent_id=row.agent_id,
        family=KeyFamily(row.family),
        name=row.name,
        key_prefix=row.key_prefix,
        limits=Limits(
            credit_limit_micros=row.credit_limit_micros,
            rate_limit_rpm=row.rate_limit_rpm,
            allowed_models=tuple(row.allowed_models),
            expires_at=row.expires_at,
        ),
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
        revocation_reason=row.revocation_reason,
        created_by_key_id=row.created_by_key_id,
        created_by_account_id=row.created_by_account_id,
    )


def claim_code(row: models.ClaimCode) -> ClaimCode:
    return ClaimCode(
        id=row.id,
        agent_id=row.agent_id,
        created_at=row.created_at,
        expires_at=row.expires_at,
        consumed_at=row.consumed_at,
        revoked_at=row.revoked_at,
    )


def identity_token(row: models.IdentityToken) -> IdentityToken:
    return IdentityToken(
        id=row.id,
        agent_id=row.agent_id,
        audience=row.audience,
        created_at=row.created_at,
        expires_at=row.expires_at,
        consumed_at=row.consumed_at,
    )


def signing_key(row: models.SigningKey) -> SigningKey:
    return SigningKey(
        id=row.id,
        public_key=bytes(row.public_key),
        private_key_nonce=bytes(row.private_key_nonce),
        private_key_ciphertext=bytes(row.private_key_ciphertext),
        status=SigningKeyStatus(row.status),
        not_before=row.not_before,
        not_after=row.not_after,
        created_at=row.created_at,
    )

"""Opening wallets, and reading accounts, balances and transfers.

Reads never create wallets (the original did, as a side effect of lookups): only EnsureWallet,
called by auth at registration (or by an operator), opens one.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from services.wallet import errors
from services.wallet.domain import authority, pagination, validation
from services.wallet.domain.ledger import (
    AccountIdentity,
    AccountKind,
    AccountRef,
    LedgerAccount,
    RefKind,
    Transfer,
    TransferCode,
)
from services.wallet.domain.principal import Principal
from services.wallet.operations.runtime import Runtime
from services.wallet.store import accounts as account_store
from services.wallet.store import transfers as transfer_store

T = TypeVar("T")


async def ensure_wallet(
    connection: AsyncConnection, runtime: Runtime, *, kind: AccountKind, owner_id: uuid.UUID
) -> tuple[LedgerAccount, bool]:
    assert kind.is_user_wallet
    account, created = await account_store.ensure(connection, kind, owner_id, now=runtime.now())
    runtime.directory.remember(account.identity)
    return account, created


async def _account(connection: AsyncConnection, account_id: uuid.UUID) -> LedgerAccount:
    account = await account_store.by_id(connection, account_id)
    assert account is not None, "accounts are never deleted"
    return account


async def get_balance(
    connection: AsyncConnection, runtime: Runtime, principal: Principal, ref: AccountRef | None
) -> LedgerAccount:
    """The caller's own wallet by default; a named wallet must be the caller's unless admin."""
    if ref is None:
        default = authority.default_wallet(principal)
        if default is None:
            raise errors.WalletNotFound()
        kind, owner = default
        assert isinstance(owner, uuid.UUID)
        identity = await runtime.directory.by_owner(connection, kind, owner)
    else:
        if ref.by is RefKind.SYSTEM:
            raise errors.WalletRefInvalid()
        if ref.id is None:
            raise errors.FieldInvalid("wallet")
        identity = await runtime.directory.resolve(connection, ref)
        if identity is not None and not identity.kind.is_user_wallet:
            raise errors.WalletRefInvalid()
        # Ownership before existence, so wallet ids and agent ids are no oracle to others.
        if not _may_read_ref(principal, ref, identity):
            raise errors.LedgerAccountNotOwned()
    if identity is None:
        raise errors.WalletNotFound()
    return await _account(connection, identity.id)


def _may_read_ref(principal: Principal, ref: AccountRef, identity: AccountIdentity | None) -> bool:
    if principal.is_privileged:
        return True
    if identity is not None:
        return authority.may_read_wallet(principal, identity)
    # Not opened: answer as if it existed, so only a caller that owns it learns it is missing.
    if ref.by is RefKind.AGENT_ID:
        return ref.id == principal.agent_id
    if ref.by is RefKind.ACCOUNT_ID:
        return principal.account_id is not None and ref.id == principal.account_id
    return False


async def get_ledger_account(
    connection: AsyncConnection, runtime: Runtime, ref: AccountRef | None
) -> LedgerAccount:
    if ref is None:
        raise errors.AccountRefRequired()
    if ref.by is not RefKind.SYSTEM and ref.id is None:
        raise errors.FieldInvalid("account")
    identity = await runtime.directory.resolve(connection, ref)
    if identity is None:
        raise errors.LedgerAccountNotFound()
    return await _account(connection, identity.id)


async def get_transfer(
    connection: AsyncConnection, runtime: Runtime, principal: Principal, transfer_id: str
) -> Transfer:
    """One transfer, if either side is the caller's (or the caller is an admin or ctl)."""
    parsed = validation.parse_uuid(transfer_id)
    transfer = await transfer_store.by_id(connection, parsed) if parsed else None
    if transfer is None:
        raise errors.TransferNotFound()
    if principal.is_privileged:
        return transfer
    for account_id in (transfer.debit_account_id, transfer.credit_account_id):
        identity = await runtime.directory.by_id(connection, account_id)
        if identity is not None and authority.may_read_wallet(principal, identity):
            return transfer
    raise errors.TransferNotFound()


@dataclass(frozen=True)
class ListRequest:
    page_size: int
    page_token: str
    account: AccountRef | None
    all_accounts: bool
    codes: Collection[TransferCode]
    reference: str
    since: datetime.datetime | None
    until: datetime.datetime | None


@dataclass(frozen=True)
class TransferPage:
    transfers: list[Transfer]
    next_page_token: str


async def list_transfers(
    connection: AsyncConnection, runtime: Runtime, principal: Principal, request: ListRequest
) -> TransferPage:
    size = _checked(lambda: pagination.page_size(request.page_size))
    if request.since and request.until and request.since > request.until:
        raise errors.TimeRangeInvalid()
    account_id = await _listed_account(connection, runtime, principal, request)
    filters = {
        "account": str(account_id) if account_id else "*",
        "codes": sorted(int(code) for code in request.codes),
        "reference": request.reference,
        "since": request.since.isoformat() if request.since else "",
        "until": request.until.isoformat() if request.until else "",
    }
    raw = _checked(
        lambda: pagination.decode(
            request.page_token, list_name="transfers", filters=filters, width=2
        )
    )
    after = None
    if raw is not None:
        try:
            after = (datetime.datetime.fromisoformat(raw[0]), uuid.UUID(raw[1]))
        except ValueError:
            raise errors.PageTokenInvalid() from None
    rows = await transfer_store.page(
        connection,
        transfer_store.ListFilter(
            account_id=account_id,
            codes=request.codes,
            reference=request.reference,
            since=request.since,
            until=request.until,
        ),
        after=after,
        limit=size + 1,
    )
    token = ""
    if len(rows) > size:
        last = rows[size - 1]
        token = pagination.encode(
            list_name="transfers",
            filters=filters,
            position=(last.created_at.isoformat(), str(last.id)),
        )
    return TransferPage(transfers=rows[:size], next_page_token=token)


async def _listed_account(
    connection: AsyncConnection, runtime: Runtime, principal: Principal, request: ListRequest
) -> uuid.UUID | None:
    """The account to list, or None for the whole ledger (admins and ctl only)."""
    if principal.is_privileged and request.all_accounts:
        return None
    if request.account is None:
        if principal.is_privileged:
            return None
        default = authority.default_wallet(principal)
        identity = None
        if default is not None:
            kind, owner = default
            assert isinstance(owner, uuid.UUID)
            identity = await runtime.directory.by_owner(connection, kind, owner)
        if identity is None:
            raise errors.LedgerAccountNotFound()
        return identity.id
    if request.account.by is not RefKind.SYSTEM and request.account.id is None:
        raise errors.FieldInvalid("account")
    identity = await runtime.directory.resolve(connection, request.account)
    if not principal.is_privileged and (
        identity is None or not authority.may_read_wallet(principal, identity)
    ):
        raise errors.LedgerAccountNotOwned()
    if identity is None:
        raise errors.LedgerAccountNotFound()
    return identity.id


def _checked(check: Callable[[], T]) -> T:
    try:
        return check()
    except validation.Invalid as invalid:
        raise errors.invalid(invalid.reason, invalid.field) from None

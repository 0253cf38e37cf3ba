"""Account identities, cached: what an account is never changes, so lookups of a wallet by id or
by owner are answered from memory after the first time.

Only identities (id, kind, owner) are cached, never balances; the guard trigger on
``ledger_accounts`` makes an identity immutable and accounts are never deleted, so a cached entry
is never stale. Misses are not cached (a wallet may be opened a moment later). The cache is
bounded (least recently used entries leave first).

An account remembered by a transaction that then rolled back names a row that does not exist.
That is harmless: the cache only routes requests, and the ledger function locks every account a
transfer uses and reports a missing one as not found; opening the wallet for real overwrites the
owner's entry.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict

from sqlalchemy.ext.asyncio import AsyncConnection

from services.wallet.domain.ledger import AccountIdentity, AccountKind, AccountRef, RefKind
from services.wallet.store import accounts as account_store

_OWNED_KINDS = {
    RefKind.AGENT_ID: AccountKind.AGENT_WALLET,
    RefKind.ACCOUNT_ID: AccountKind.ACCOUNT_WALLET,
}


class AccountDirectory:
    def __init__(self, *, capacity: int) -> None:
        assert capacity > 0
        self.capacity = capacity
        self._by_id: OrderedDict[uuid.UUID, AccountIdentity] = OrderedDict()
        self._by_owner: dict[tuple[AccountKind, uuid.UUID], uuid.UUID] = {}
        self._system: dict[AccountKind, AccountIdentity] = {}

    async def load_system(self, connection: AsyncConnection) -> None:
        """Read the system singletons the migration created (mint, treasury, ...)."""
        found = await account_store.system_accounts(connection)
        missing = {kind for kind in AccountKind if kind.is_system} - found.keys()
        if missing:
            raise RuntimeError(f"system accounts missing: {sorted(missing)}; run the migrations")
        self._system = {kind: account.identity for kind, account in found.items()}
        for identity in self._system.values():
            self.remember(identity)

    def system(self, kind: AccountKind) -> AccountIdentity:
        assert kind.is_system and self._system, "load_system() runs before serving"
        return self._system[kind]

    def remember(self, identity: AccountIdentity) -> None:
        self._by_id[identity.id] = identity
        self._by_id.move_to_end(identity.id)
        owner = identity.agent_id or identity.account_id or identity.key_id
        if owner is not None:
            self._by_owner[(identity.kind, owner)] = identity.id
        while len(self._by_id) > self.capacity:
            _, evicted = self._by_id.popitem(last=False)
            evicted_owner = evicted.agent_id or evicted.account_id or evicted.key_id
            if evicted_owner is not None:
                self._by_owner.pop((evicted.kind, evicted_owner), None)

    async def by_id(
        self, connection: AsyncConnection, account_id: uuid.UUID
    ) -> AccountIdentity | None:
        cached = self._by_id.get(account_id)
        if cached is not None:
            self._by_id.move_to_end(account_id)
            return cached
        account = await account_store.by_id(connection, account_id)
        if account is None:
            return None
        self.remember(account.identity)
        return account.identity

    async def by_owner(
        self, connection: AsyncConnection, kind: AccountKind, owner_id: uuid.UUID
    ) -> AccountIdentity | None:
        cached_id = self._by_owner.get((kind, owner_id))
        if cached_id is not None and cached_id in self._by_id:
            return await self.by_id(connection, cached_id)
        account = await account_store.by_owner(connection, kind, owner_id)
        if account is None:
            return None
        self.remember(account.identity)
        return account.identity

    async def resolve(self, connection: AsyncConnection, ref: AccountRef) -> AccountIdentity | None:
        """The account ``ref`` names, or None when there is none."""
        if ref.by is RefKind.SYSTEM:
            assert ref.system is not None
            return self.system(ref.system)
        if ref.id is None:
            return None
        if ref.by is RefKind.LEDGER_ACCOUNT_ID:
            return await self.by_id(connection, ref.id)
        return await self.by_owner(connection, _OWNED_KINDS[ref.by], ref.id)

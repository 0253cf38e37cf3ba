"""The treasury: FundTreasury (a mint through wallet with the caller's own token) and
GetTreasury (wallet's balances next to what review's books say escrow owes)."""

from __future__ import annotations

from dataclasses import dataclass

from tokenmart.wallet.v1 import wallet_pb2

from services.review.domain import payouts, validation
from services.review.operations import access
from services.review.operations.common import checked
from services.review.operations.runtime import Caller, Runtime
from services.review.store import bounties as bounty_store
from services.review.store import outbox as outbox_store


@dataclass(frozen=True)
class Funded:
    transfer_id: str
    amount_micros: int
    treasury_balance_micros: int


async def fund_treasury(
    runtime: Runtime, caller: Caller, *, request_id: str, amount_micros: int, reason: str
) -> Funded:
    """Mint into the treasury. The transfer id is derived from the caller and the request id,
    so a retry mints once; wallet checks the caller's authority to mint itself."""
    access.require_admin(caller)
    amount = checked(lambda: validation.mint_amount(amount_micros))
    checked_reason = checked(lambda: validation.required_reason(reason))
    transfer_id = payouts.treasury_mint_id(subject=caller.principal.subject, request_id=request_id)
    minted = await runtime.wallet.mint_to_treasury(
        transfer_id=transfer_id,
        amount_micros=amount,
        reason=checked_reason,
        metadata=caller.principal.authorization_metadata(),
    )
    return Funded(
        transfer_id=minted.transfer.transfer_id,
        amount_micros=minted.transfer.amount_micros,
        treasury_balance_micros=minted.balance_micros,
    )


@dataclass(frozen=True)
class TreasuryState:
    treasury_ledger_account_id: str
    treasury_balance_micros: int
    escrow_balance_micros: int
    escrow_outstanding_micros: int
    undelivered_entries: int
    escrow_undelivered_micros: int

    @property
    def escrow_unassigned_micros(self) -> int:
        return (
            self.escrow_balance_micros
            - self.escrow_outstanding_micros
            - self.escrow_undelivered_micros
        )


async def treasury_state(runtime: Runtime, caller: Caller) -> TreasuryState:
    access.require_admin(caller, or_operator=True)
    treasury = await runtime.wallet.system_balance(wallet_pb2.ACCOUNT_KIND_TREASURY)
    escrow = await runtime.wallet.system_balance(wallet_pb2.ACCOUNT_KIND_BOUNTY_ESCROW)
    async with runtime.database.transaction() as tx:
        outstanding = await bounty_store.total_outstanding(tx)
        undelivered = await outbox_store.undelivered_totals(tx)
    return TreasuryState(
        treasury_ledger_account_id=treasury.ledger_account_id,
        treasury_balance_micros=treasury.available_micros,
        escrow_balance_micros=escrow.available_micros,
        escrow_outstanding_micros=outstanding,
        undelivered_entries=undelivered.entries,
        escrow_undelivered_micros=undelivered.total_micros,
    )

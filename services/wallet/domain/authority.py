"""Who may move, hold and read what (SPEC §2 "Authority is checked inside wallet").

Rules, from the proto's "Principal authorization" paragraph:

* an agent principal spends only from its own wallet, and only while claimed;
* a session spends from its account's main wallet, or from the wallet of the agent it acts as
  (auth already checked that the account owns that agent);
* user transfers pay user wallets only (never a system account);
* minting needs scope admin (an admin session; an agent key never has it) or operator (ctl);
* escrow transfers follow fixed account pairings, and funding escrow needs an admin token;
* holds are placed only on the token's own agent wallet (the hold RPCs take no wallet at all);
* an account's own wallets are readable by it; admins and the operator read everything.

Each function returns the :class:`Result` a transfer fails with, or None when allowed.
"""

from __future__ import annotations

from collections.abc import Mapping

from services.wallet.domain.ledger import AccountIdentity, AccountKind, TransferCode
from services.wallet.domain.principal import Principal, PrincipalKind, Scope
from services.wallet.domain.results import Result

SPENDING_SCOPES = (Scope.AGENT_WRITE, Scope.ACCOUNT)
READING_SCOPES = (Scope.AGENT_READ, Scope.ACCOUNT, Scope.ADMIN)
MINTING_SCOPES = (Scope.ADMIN, Scope.OPERATOR)

ESCROW_PAIRINGS: Mapping[TransferCode, tuple[AccountKind, AccountKind]] = {
    TransferCode.BOUNTY_ESCROW: (AccountKind.TREASURY, AccountKind.BOUNTY_ESCROW),
    TransferCode.BOUNTY_REWARD: (AccountKind.BOUNTY_ESCROW, AccountKind.AGENT_WALLET),
    TransferCode.REVIEW_REWARD: (AccountKind.BOUNTY_ESCROW, AccountKind.AGENT_WALLET),
    TransferCode.REFUND: (AccountKind.BOUNTY_ESCROW, AccountKind.TREASURY),
}
"""Escrow codes and the (debit, credit) account kinds each may join, and nothing else."""


def owns_agent_wallet(principal: Principal, account: AccountIdentity) -> bool:
    return account.kind is AccountKind.AGENT_WALLET and account.agent_id == principal.agent_id


def owns_main_wallet(principal: Principal, account: AccountIdentity) -> bool:
    return (
        principal.kind is PrincipalKind.SESSION
        and account.kind is AccountKind.ACCOUNT_WALLET
        and account.account_id == principal.account_id
    )


def default_wallet(principal: Principal) -> tuple[AccountKind, object] | None:
    """The caller's own wallet when none is named: the acting agent's, else the session's main
    wallet; None for a principal that owns no wallet (a service)."""
    if principal.agent_id is not None:
        return AccountKind.AGENT_WALLET, principal.agent_id
    if principal.kind is PrincipalKind.SESSION:
        return AccountKind.ACCOUNT_WALLET, principal.account_id
    return None


def spend_denial(principal: Principal, debit: AccountIdentity) -> Result | None:
    """Whether ``principal`` may spend from ``debit`` in a user transfer."""
    if owns_agent_wallet(principal, debit) and principal.has(Scope.AGENT_WRITE):
        if principal.agent_claimed is not True:
            return Result.DEBIT_AGENT_NOT_CLAIMED
        return None
    if owns_main_wallet(principal, debit) and principal.has(Scope.ACCOUNT):
        return None
    return Result.DEBIT_ACCOUNT_NOT_ALLOWED


def transfer_credit_denial(credit: AccountIdentity) -> Result | None:
    """User transfers pay agent and account wallets only."""
    return None if credit.kind.is_user_wallet else Result.CREDIT_ACCOUNT_NOT_ALLOWED


def mint_code(credit: AccountIdentity) -> TransferCode | None:
    """The code of a mint into ``credit``, or None when minting there is not allowed."""
    if credit.kind.is_user_wallet:
        return TransferCode.GRANT
    if credit.kind is AccountKind.TREASURY:
        return TransferCode.TREASURY_FUNDING
    return None


def escrow_denial(
    code: TransferCode, *, debit: AccountIdentity, credit: AccountIdentity
) -> Result | None:
    pairing = ESCROW_PAIRINGS.get(code)
    if pairing is None:
        return Result.CODE_NOT_ALLOWED
    if debit.kind is not pairing[0]:
        return Result.DEBIT_ACCOUNT_NOT_ALLOWED
    if credit.kind is not pairing[1]:
        return Result.CREDIT_ACCOUNT_NOT_ALLOWED
    return None


def may_submit_escrow(principal: Principal, *, funds_escrow: bool) -> bool:
    """Review's service token pays out and refunds; moving treasury into escrow (bounty creation)
    needs the creating admin's own token, forwarded by review."""
    if funds_escrow:
        return principal.has(Scope.ADMIN)
    return principal.has(Scope.ADMIN) or (
        principal.is_service and principal.service_name == "review" and principal.has(Scope.SERVICE)
    )


def may_read_wallet(principal: Principal, account: AccountIdentity) -> bool:
    """Balances and transfer lists: the caller's own wallets, or anything for admins/ctl."""
    if principal.is_privileged:
        return True
    if owns_agent_wallet(principal, account):
        return principal.has_any(Scope.AGENT_READ, Scope.AGENT_WRITE)
    return owns_main_wallet(principal, account) and principal.has(Scope.ACCOUNT)


def may_read_any_account(principal: Principal) -> bool:
    """GetLedgerAccount: admins, the operator, and review's service token (treasury, escrow)."""
    return principal.is_privileged or (
        principal.is_service and principal.service_name == "review" and principal.has(Scope.SERVICE)
    )


def may_manage_wallets(principal: Principal) -> bool:
    """EnsureWallet: auth's own service token (registration) or the operator."""
    return principal.has(Scope.OPERATOR) or (
        principal.is_service and principal.service_name == "auth" and principal.has(Scope.SERVICE)
    )


def may_settle_hold(principal: Principal, *, created_by_subject: str, key_id: object) -> bool:
    """Post, void or read a hold: provider's own token, or the end-user token that made it."""
    if principal.is_service:
        return principal.service_name == "provider" and principal.has(Scope.SERVICE)
    return principal.subject == created_by_subject and principal.key_id == key_id

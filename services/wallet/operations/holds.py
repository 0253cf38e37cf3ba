"""Holds for inference: create (a linked pending pair), post (capture, overage, shortfall), void,
read, and expire (the sweeper).

Lock order, everywhere: the hold row first (``FOR UPDATE``, or ``SKIP LOCKED`` in the sweeper),
then the accounts in ascending id order. CreateHold inserts its hold row last, so nobody can wait
for it. Every transfer a hold operation writes has an id derived from the caller's ids
(``domain/holds.py``), so a re-driven settlement writes nothing twice.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.errors import TokenMartError
from services.wallet import errors
from services.wallet.domain import authority, holds, validation
from services.wallet.domain.holds import Hold, HoldStatus, Settlement
from services.wallet.domain.ledger import (
    SWEEPER,
    AccountIdentity,
    AccountKind,
    Draft,
    Initiator,
    InitiatorKind,
    Outcome,
    Transfer,
    TransferCode,
    TransferFlag,
)
from services.wallet.domain.principal import Principal
from services.wallet.domain.results import Result
from services.wallet.operations.runtime import Runtime
from services.wallet.store import accounts as account_store
from services.wallet.store import holds as hold_store
from services.wallet.store import ledger
from services.wallet.store import transfers as transfer_store

logger = logging.getLogger("tokenmart.wallet.holds")


@dataclass(frozen=True)
class HoldView:
    hold: Hold
    transfers: tuple[Transfer, ...]
    """The pending pair, then posts, voids and overage transfers, in sequence order."""


@dataclass(frozen=True)
class PostOutcome:
    view: HoldView
    settlement: Settlement


@dataclass(frozen=True)
class HoldRequest:
    hold_id: uuid.UUID
    amount: int
    timeout_s: int
    code: TransferCode
    reference: str


def check_hold(
    *, hold_id: str, amount: int, timeout_s: int, code: TransferCode | None, reference: str
) -> HoldRequest:
    parsed = validation.parse_uuid(hold_id)
    if parsed is None:
        raise errors.TransferInvalid(Result.ID_INVALID)
    failure = validation.amount_result(amount)
    if failure is not None:
        raise errors.TransferInvalid(failure)
    if not holds.timeout_valid(timeout_s):
        raise errors.TimeoutInvalid()
    if code not in holds.HOLD_CODES:
        raise errors.TransferInvalid(Result.CODE_NOT_ALLOWED)
    reference_failure = validation.reference_result(reference)
    if reference_failure is not None:
        raise errors.TransferInvalid(reference_failure)
    assert code is not None
    return HoldRequest(
        hold_id=parsed, amount=amount, timeout_s=timeout_s, code=code, reference=reference
    )


def check_ids(*values: tuple[str, str]) -> list[uuid.UUID]:
    parsed = []
    for value, _field in values:
        item = validation.parse_uuid(value)
        if item is None:
            raise errors.TransferInvalid(Result.ID_INVALID)
        parsed.append(item)
    return parsed


def check_cost(amount: int) -> None:
    failure = validation.amount_result(amount)
    if failure is not None:
        raise errors.TransferInvalid(failure)


async def view(connection: AsyncConnection, hold: Hold) -> HoldView:
    pending_ids = [hold.id, *([hold.budget_transfer_id] if hold.budget_transfer_id else [])]
    related = list(pending_ids)
    if hold.post_transfer_id is not None:
        related += [
            holds.overage_transfer_id(hold.post_transfer_id),
            holds.overage_budget_transfer_id(hold.post_transfer_id),
        ]
    found = await transfer_store.by_ids(connection, related)
    found += await transfer_store.resolutions_of(connection, pending_ids)
    ordered = sorted({item.id: item for item in found}.values(), key=lambda item: item.sequence)
    return HoldView(hold=hold, transfers=tuple(ordered))


def _linked(drafts: Sequence[Draft]) -> list[Draft]:
    """The drafts as one linked chain: all succeed or none does."""
    return [
        replace(draft, flags=draft.flags | TransferFlag.LINKED)
        if index < len(drafts) - 1
        else draft
        for index, draft in enumerate(drafts)
    ]


def _require_ok(outcomes: Sequence[Outcome]) -> None:
    """Every draft applied, or the first conflicting id's error (an id the caller reused)."""
    results = [Result(outcome.result) for outcome in outcomes]
    if all(result is Result.OK for result in results):
        return
    for result in results:
        if result.is_exists_conflict:
            raise errors.TransferExists(result)
    # The hold row is locked and says what the pending transfers must be; anything else is a
    # broken invariant, not a caller's mistake.
    raise AssertionError(f"hold settlement refused by the ledger: {[r.name for r in results]}")


# -- CreateHold ---------------------------------------------------------------------------------


def _replay(existing: Hold, principal: Principal, request: HoldRequest) -> None:
    """Refuse a hold id reused by someone else or with other fields (TigerBeetle's order)."""
    if existing.created_by_subject != principal.subject:
        raise errors.TransferExists(Result.EXISTS_FOR_OTHER_INITIATOR)
    for differs, result in (
        (existing.amount != request.amount, Result.EXISTS_WITH_DIFFERENT_AMOUNT),
        (existing.code != request.code, Result.EXISTS_WITH_DIFFERENT_CODE),
        (existing.timeout_s != request.timeout_s, Result.EXISTS_WITH_DIFFERENT_TIMEOUT),
        (existing.reference != request.reference, Result.EXISTS_WITH_DIFFERENT_REFERENCE),
    ):
        if differs:
            raise errors.TransferExists(result)


async def create_hold(
    connection: AsyncConnection,
    runtime: Runtime,
    principal: Principal,
    request: HoldRequest,
    *,
    request_id: str,
) -> HoldView:
    assert principal.agent_id is not None
    existing = await hold_store.by_id(connection, request.hold_id)
    if existing is not None:
        _replay(existing, principal, request)
        return await view(connection, existing)
    wallet = await runtime.directory.by_owner(
        connection, AccountKind.AGENT_WALLET, principal.agent_id
    )
    if wallet is None:
        raise errors.WalletNotFound()
    now = runtime.now()
    revenue = runtime.directory.system(AccountKind.PROVIDER_REVENUE)
    drafts: list[Draft] = []
    budget: AccountIdentity | None = None
    limit = principal.key_credit_limit_micros
    if limit is not None:
        assert principal.key_id is not None
        opened, _ = await account_store.ensure(
            connection, AccountKind.KEY_BUDGET, principal.key_id, now=now
        )
        budget = opened.identity
        runtime.directory.remember(budget)
        source = runtime.directory.system(AccountKind.KEY_BUDGET_SOURCE)
        locked = await account_store.lock(connection, (wallet.id, revenue.id, budget.id, source.id))
        state = locked[budget.id]
        delta = holds.allocation_delta(
            limit_micros=limit,
            allocated_micros=state.limit_micros,
            available_micros=max(state.balances.available, 0),
        )
        if delta != 0:
            drafts.append(
                Draft(
                    id=holds.allocation_transfer_id(request.hold_id),
                    debit_account_id=source.id if delta > 0 else budget.id,
                    credit_account_id=budget.id if delta > 0 else source.id,
                    amount=abs(delta),
                    code=TransferCode.KEY_BUDGET_ALLOCATION,
                    reference=str(principal.key_id),
                )
            )
    pair = [
        Draft(
            id=request.hold_id,
            debit_account_id=wallet.id,
            credit_account_id=revenue.id,
            amount=request.amount,
            code=request.code,
            flags=TransferFlag.PENDING,
            timeout_s=request.timeout_s,
            reference=request.reference,
        )
    ]
    if budget is not None:
        pair.append(
            Draft(
                id=holds.budget_transfer_id(request.hold_id),
                debit_account_id=budget.id,
                credit_account_id=runtime.directory.system(AccountKind.KEY_BUDGET_SOURCE).id,
                amount=request.amount,
                code=TransferCode.KEY_BUDGET_SPEND,
                flags=TransferFlag.PENDING,
                timeout_s=request.timeout_s,
                reference=request.reference,
            )
        )
    outcomes = await ledger.apply(
        connection,
        [*drafts, *_linked(pair)],
        now=now,
        initiator=principal.initiator(request_id),
    )
    pair_outcomes = outcomes[len(drafts) :]
    wallet_result = Result(pair_outcomes[0].result)
    if wallet_result is Result.EXISTS:
        # A concurrent CreateHold with this id committed while we waited for the locks.
        raced = await hold_store.by_id(connection, request.hold_id)
        assert raced is not None
        _replay(raced, principal, request)
        return await view(connection, raced)
    if any(Result(outcome.result) is not Result.OK for outcome in outcomes):
        raise _hold_refusal([Result(outcome.result) for outcome in pair_outcomes])
    hold = Hold(
        id=request.hold_id,
        agent_id=principal.agent_id,
        wallet_account_id=wallet.id,
        key_id=principal.key_id,
        budget_account_id=budget.id if budget else None,
        budget_transfer_id=holds.budget_transfer_id(request.hold_id) if budget else None,
        created_by_subject=principal.subject,
        amount=request.amount,
        code=request.code,
        reference=request.reference,
        timeout_s=request.timeout_s,
        status=HoldStatus.PENDING,
        created_at=now,
        expires_at=now + datetime.timedelta(seconds=request.timeout_s),
        resolved_at=None,
        posted_micros=0,
        overage_micros=0,
        shortfall_micros=0,
        post_transfer_id=None,
        void_transfer_id=None,
    )
    await hold_store.insert(connection, hold, now=now)
    transfers = tuple(outcome.transfer for outcome in pair_outcomes if outcome.transfer)
    return HoldView(hold=hold, transfers=transfers)


def _hold_refusal(results: list[Result]) -> TokenMartError:
    wallet_result = results[0]
    budget_result = results[1] if len(results) > 1 else None
    if wallet_result is Result.INSUFFICIENT_FUNDS:
        return errors.for_result(wallet_result)
    if budget_result is Result.INSUFFICIENT_FUNDS:
        return errors.KeyBudgetExceeded()
    for result in results:
        if result.is_exists_conflict:
            return errors.TransferExists(result)
    raise AssertionError(f"hold refused by the ledger: {[r.name for r in results]}")


# -- PostHold / VoidHold ------------------------------------------------------------------------


async def _locked_hold(
    connection: AsyncConnection, principal: Principal, hold_id: uuid.UUID
) -> Hold:
    hold = await hold_store.by_id(connection, hold_id, for_update=True)
    if hold is None or not authority.may_settle_hold(
        principal, created_by_subject=hold.created_by_subject, key_id=hold.key_id
    ):
        raise errors.HoldNotFound()
    return hold


def _sides(runtime: Runtime, hold: Hold) -> tuple[uuid.UUID, ...]:
    ids = [hold.wallet_account_id, runtime.directory.system(AccountKind.PROVIDER_REVENUE).id]
    if hold.budget_account_id is not None:
        ids += [
            hold.budget_account_id,
            runtime.directory.system(AccountKind.KEY_BUDGET_SOURCE).id,
        ]
    return tuple(ids)


def _resolution(
    runtime: Runtime, hold: Hold, *, transfer_id: uuid.UUID, post_amount: int | None
) -> list[Draft]:
    """The post (``post_amount``) or void (None) of both pending transfers of ``hold``."""
    flag = TransferFlag.VOID_PENDING if post_amount is None else TransferFlag.POST_PENDING
    drafts = [
        Draft(
            id=transfer_id,
            debit_account_id=hold.wallet_account_id,
            credit_account_id=runtime.directory.system(AccountKind.PROVIDER_REVENUE).id,
            amount=hold.amount if post_amount is None else post_amount,
            code=hold.code,
            flags=flag,
            pending_id=hold.id,
            reference=hold.reference,
        )
    ]
    if hold.budget_account_id is not None:
        assert hold.budget_transfer_id is not None
        drafts.append(
            Draft(
                id=holds.budget_side(transfer_id),
                debit_account_id=hold.budget_account_id,
                credit_account_id=runtime.directory.system(AccountKind.KEY_BUDGET_SOURCE).id,
                amount=hold.amount if post_amount is None else post_amount,
                code=TransferCode.KEY_BUDGET_SPEND,
                flags=flag,
                pending_id=hold.budget_transfer_id,
                reference=hold.reference,
            )
        )
    return drafts


def _sweeper_initiator() -> Initiator:
    return Initiator(
        kind=InitiatorKind.WALLET,
        subject=SWEEPER,
        peer=SWEEPER,
        request_id=f"expiry-{uuid.uuid4()}",
    )


async def _expire(
    connection: AsyncConnection, runtime: Runtime, hold: Hold, *, now: datetime.datetime
) -> Hold:
    """Void a pending hold past its expiry as wallet itself, exactly as the sweeper does."""
    assert hold.status is HoldStatus.PENDING and hold.expired_at(now)
    void_id = holds.expiry_transfer_id(hold.id)
    outcomes = await ledger.apply(
        connection,
        _linked(_resolution(runtime, hold, transfer_id=void_id, post_amount=None)),
        now=now,
        initiator=_sweeper_initiator(),
    )
    _require_ok(outcomes)
    expired = replace(hold, status=HoldStatus.EXPIRED, resolved_at=now, void_transfer_id=void_id)
    await hold_store.settle(connection, expired, now=now)
    return expired


async def post_hold(
    connection: AsyncConnection,
    runtime: Runtime,
    principal: Principal,
    *,
    hold_id: uuid.UUID,
    post_transfer_id: uuid.UUID,
    amount: int,
    request_id: str,
) -> PostOutcome:
    hold = await _locked_hold(connection, principal, hold_id)
    if hold.post_transfer_id is not None:
        if hold.post_transfer_id != post_transfer_id:
            raise errors.HoldAlreadyPosted()
        if hold.cost_micros != amount:
            raise errors.TransferExists(Result.EXISTS_WITH_DIFFERENT_AMOUNT)
        return PostOutcome(view=await view(connection, hold), settlement=_settled(hold))
    if hold.status is HoldStatus.VOIDED:
        raise errors.HoldAlreadyVoided()
    other = await hold_store.by_post_transfer_id(connection, post_transfer_id)
    if other is not None:
        raise errors.TransferExists(Result.EXISTS_WITH_DIFFERENT_PENDING_ID)
    now = runtime.now()
    locked = await account_store.lock(connection, _sides(runtime, hold))
    if hold.status is HoldStatus.PENDING and hold.expired_at(now):
        hold = await _expire(connection, runtime, hold, now=now)
        locked = await account_store.lock(connection, _sides(runtime, hold))
    pending = hold.status is HoldStatus.PENDING
    released = hold.amount if pending else 0
    settlement = holds.settle(
        cost=amount,
        held=hold.amount,
        expired=not pending,
        wallet_available=locked[hold.wallet_account_id].balances.available + released,
        budget_available=(
            locked[hold.budget_account_id].balances.available + released
            if hold.budget_account_id is not None
            else None
        ),
    )
    drafts: list[Draft] = []
    if pending:
        drafts += _resolution(
            runtime, hold, transfer_id=post_transfer_id, post_amount=settlement.captured
        )
    if settlement.overage > 0:
        drafts += _overage(runtime, hold, post_transfer_id, settlement.overage)
    if drafts:
        _require_ok(
            await ledger.apply(
                connection, _linked(drafts), now=now, initiator=principal.initiator(request_id)
            )
        )
    settled = replace(
        hold,
        status=HoldStatus.POSTED if pending else hold.status,
        resolved_at=now if pending else hold.resolved_at,
        posted_micros=settlement.captured,
        overage_micros=settlement.overage,
        shortfall_micros=settlement.shortfall,
        post_transfer_id=post_transfer_id,
    )
    await hold_store.settle(connection, settled, now=now)
    return PostOutcome(view=await view(connection, settled), settlement=settlement)


def _settled(hold: Hold) -> Settlement:
    return Settlement(
        captured=hold.posted_micros, overage=hold.overage_micros, shortfall=hold.shortfall_micros
    )


def _overage(runtime: Runtime, hold: Hold, post_transfer_id: uuid.UUID, amount: int) -> list[Draft]:
    drafts = [
        Draft(
            id=holds.overage_transfer_id(post_transfer_id),
            debit_account_id=hold.wallet_account_id,
            credit_account_id=runtime.directory.system(AccountKind.PROVIDER_REVENUE).id,
            amount=amount,
            code=hold.code,
            reference=hold.reference,
        )
    ]
    if hold.budget_account_id is not None:
        drafts.append(
            Draft(
                id=holds.overage_budget_transfer_id(post_transfer_id),
                debit_account_id=hold.budget_account_id,
                credit_account_id=runtime.directory.system(AccountKind.KEY_BUDGET_SOURCE).id,
                amount=amount,
                code=TransferCode.KEY_BUDGET_SPEND,
                reference=hold.reference,
            )
        )
    return drafts


async def void_hold(
    connection: AsyncConnection,
    runtime: Runtime,
    principal: Principal,
    *,
    hold_id: uuid.UUID,
    void_transfer_id: uuid.UUID,
    request_id: str,
) -> HoldView:
    hold = await _locked_hold(connection, principal, hold_id)
    if hold.status is HoldStatus.POSTED:
        raise errors.HoldAlreadyPosted()
    if hold.status is not HoldStatus.PENDING:
        return await view(connection, hold)
    now = runtime.now()
    if hold.expired_at(now):
        # Past its timeout a hold is expired, whoever notices first.
        return await view(connection, await _expire(connection, runtime, hold, now=now))
    other = await hold_store.by_void_transfer_id(connection, void_transfer_id)
    if other is not None:
        raise errors.TransferExists(Result.EXISTS_WITH_DIFFERENT_PENDING_ID)
    outcomes = await ledger.apply(
        connection,
        _linked(_resolution(runtime, hold, transfer_id=void_transfer_id, post_amount=None)),
        now=now,
        initiator=principal.initiator(request_id),
    )
    _require_ok(outcomes)
    voided = replace(
        hold, status=HoldStatus.VOIDED, resolved_at=now, void_transfer_id=void_transfer_id
    )
    await hold_store.settle(connection, voided, now=now)
    return await view(connection, voided)


async def get_hold(
    connection: AsyncConnection, principal: Principal, *, hold_id: uuid.UUID
) -> HoldView:
    hold = await hold_store.by_id(connection, hold_id)
    visible = hold is not None and (
        principal.is_privileged
        or authority.may_settle_hold(
            principal, created_by_subject=hold.created_by_subject, key_id=hold.key_id
        )
    )
    if not visible:
        raise errors.HoldNotFound()
    assert hold is not None
    return await view(connection, hold)


# -- the sweeper --------------------------------------------------------------------------------


async def expire_due(connection: AsyncConnection, runtime: Runtime, *, limit: int) -> int:
    """Void up to ``limit`` pending holds past their expiry; how many were voided.

    Holds are claimed with ``FOR UPDATE SKIP LOCKED``, so replicas sweeping at the same time share
    the work; a hold a PostHold or VoidHold is settling right now is skipped and settled by it.
    """
    now = runtime.now()
    due = await hold_store.claim_expired(connection, now=now, limit=limit)
    if not due:
        return 0
    drafts: list[Draft] = []
    for hold in due:
        drafts += _linked(
            _resolution(
                runtime, hold, transfer_id=holds.expiry_transfer_id(hold.id), post_amount=None
            )
        )
    outcomes = await ledger.apply(connection, drafts, now=now, initiator=_sweeper_initiator())
    expired_count = 0
    position = 0
    for hold in due:
        size = 2 if hold.has_budget else 1
        results = [Result(outcome.result) for outcome in outcomes[position : position + size]]
        position += size
        if any(result is not Result.OK for result in results):
            # The hold row says pending but its transfers disagree: a broken invariant. Leave it
            # for an operator (VerifyLedger reports it) rather than stop sweeping the others.
            logger.error(
                "an expired hold could not be voided",
                extra={"hold_id": str(hold.id), "results": [result.name for result in results]},
            )
            continue
        expired = replace(
            hold,
            status=HoldStatus.EXPIRED,
            resolved_at=now,
            void_transfer_id=holds.expiry_transfer_id(hold.id),
        )
        await hold_store.settle(connection, expired, now=now)
        expired_count += 1
    return expired_count

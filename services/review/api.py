"""The ReviewService servicer: protobuf in, operations, protobuf out; nothing else.

Every handler has one of four shapes:

* **read**: verify the access token, then one transaction running the operation;
* **mutation**: the same, with the operation inside
  :func:`services.common.idempotency.run_once` in the transaction of its effects, keyed by the
  caller's principal (subject and acting agent);
* **external mutation** (CreateBounty, FundTreasury): the replay log is read first, so a replay
  answers without touching wallet; then wallet moves the credits (with ids derived from the
  caller and request id); then the result is recorded through ``run_once``;
* **operator**: ctl's own RPCs (ListOutbox, RedriveOutbox).

Agent facts that decisions depend on (the claim gate, the submitter, the reviewer) are read from
auth *before* the transaction opens, so no transaction holds locks across a network call.

The peer allowlist (``access.py``) has already been enforced by the server interceptor, which
also maps every :class:`~services.common.errors.TokenMartError` to its gRPC status.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncSession
from tokenmart.review.v1 import review_pb2, review_pb2_grpc

from services.common.errors import PeerNotAllowed
from services.common.idempotency import run_once, validate_request_id
from services.common.identity import peer_service
from services.common.tokens import Scope, principal_from_context
from services.review import errors, wire
from services.review.domain import payouts
from services.review.domain.model import (
    Bounty,
    BountyType,
    ClaimStatus,
    Decision,
    OutboxStatus,
)
from services.review.operations import (
    access,
    bounties,
    claims,
    correlations,
    outbox,
    reviews,
    treasury,
)
from services.review.operations.common import optional_uuid_of, uuid_of
from services.review.operations.dispatch import Dispatcher
from services.review.operations.runtime import Caller, Runtime
from services.review.store import outbox as outbox_store
from services.review.store import replays
from services.review.store.models import SCHEMA

R = TypeVar("R")
M = TypeVar("M", bound=Message)

REDRIVE_LIMIT_DEFAULT = 100
REDRIVE_LIMIT_MAX = 1000


def _peer(context: grpc.aio.ServicerContext) -> str:
    peer = peer_service(context)
    if peer is None:  # the interceptor refuses such calls first; never trust that alone
        raise PeerNotAllowed()
    return peer


class ReviewApi(review_pb2_grpc.ReviewServiceServicer):
    def __init__(self, runtime: Runtime, dispatcher: Dispatcher) -> None:
        self.runtime = runtime
        self.dispatcher = dispatcher

    # -- plumbing ------------------------------------------------------------------------------

    async def _caller(self, context: grpc.aio.ServicerContext) -> Caller:
        principal = await principal_from_context(context, self.runtime.verifier, scope=None)
        return access.bind_to_peer(Caller(principal=principal, peer=_peer(context)))

    async def _read(
        self,
        context: grpc.aio.ServicerContext,
        body: Callable[[AsyncSession, Caller], Awaitable[R]],
        *,
        caller: Caller | None = None,
    ) -> R:
        verified = caller or await self._caller(context)
        return await self.runtime.database.run(lambda tx: body(tx, verified))

    async def _mutate(
        self,
        context: grpc.aio.ServicerContext,
        *,
        method: str,
        request: Any,
        response_type: type[M],
        body: Callable[[AsyncSession, Caller], Awaitable[M]],
        caller: Caller | None = None,
    ) -> M:
        verified = caller or await self._caller(context)

        async def run(tx: AsyncSession) -> M:
            return await run_once(
                await tx.connection(),
                schema=SCHEMA,
                caller=verified.idempotency_key,
                method=method,
                request_id=request.request_id,
                request=request,
                response_type=response_type,
                mutate=lambda: body(tx, verified),
            )

        return await self.runtime.database.run(run)

    async def _replayed(
        self, caller: Caller, *, method: str, request: Any, response_type: type[M]
    ) -> M | None:
        async with self.runtime.database.transaction() as tx:
            return await replays.stored_answer(
                tx,
                caller=caller.idempotency_key,
                method=method,
                request=request,
                request_id=request.request_id,
                response_type=response_type,
            )

    def _bounty(self, item: Bounty, caller: Caller) -> review_pb2.Bounty:
        return wire.bounty(item, show_creator=access.reader_is_privileged(caller))

    # -- bounties ------------------------------------------------------------------------------

    async def CreateBounty(
        self, request: review_pb2.CreateBountyRequest, context: grpc.aio.ServicerContext
    ) -> review_pb2.CreateBountyResponse:
        caller = await self._caller(context)
        account_id = access.require_admin(caller)
        assert account_id is not None
        validate_request_id(request.request_id)
        command = bounties.CreateBountyCommand(
            title=request.title,
            description=request.description,
            type=wire.from_wire(request.type, wire.BOUNTY_TYPES, field="type"),
            reward_micros=request.reward_micros,
            reviewer_reward_micros=(
                request.reviewer_reward_micros
                if request.HasField("reviewer_reward_micros")
                else None
            ),
            max_claims=request.max_claims,
            deadline=wire.optional_time(request, "deadline"),
            required_trust_tier=(
                request.required_trust_tier if request.HasField("required_trust_tier") else None
            ),
        )
        method = "CreateBounty"
        response_type = review_pb2.CreateBountyResponse
        replay = await self._replayed(
            caller, method=method, request=request, response_type=response_type
        )
        if replay is not None:
            return replay
        terms = bounties.terms_of(self.runtime, command)
        bounty_id = payouts.bounty_id_for(account_id=str(account_id), request_id=request.request_id)
        await bounties.fund_escrow(self.runtime, caller, bounty_id=bounty_id, terms=terms)

        async def body(tx: AsyncSession, live: Caller) -> review_pb2.CreateBountyResponse:
            created = await bounties.record_bounty(
                tx, self.runtime, bounty_id=bounty_id, terms=terms, created_by_account_id=account_id
            )
            return review_pb2.CreateBountyResponse(bounty=self._bounty(created, live))

        return await self._mutate(
            context,
            caller=caller,
            method=method,
            request=request,
            response_type=response_type,
            body=body,
        )

    async def ListBounties(
        self, request: review_pb2.ListBountiesRequest, context: grpc.aio.ServicerContext
    ) -> review_pb2.ListBountiesResponse:
        statuses = wire.set_from_wire(request.statuses, wire.BOUNTY_STATUSES, field="statuses")
        bounty_type: BountyType | None = wire.optional_from_wire(
            request.type, wire.BOUNTY_TYPES, field="type"
        )

        async def body(tx: AsyncSession, caller: Caller) -> review_pb2.ListBountiesResponse:
            page = await bounties.list_bounties(
                tx,
                self.runtime,
                caller,
                requested_page_size=request.page_size,
                page_token=request.page_token,
                statuses=statuses,
                bounty_type=bounty_type,
                claimed_by_me=request.claimed_by_me,
            )
            return review_pb2.ListBountiesResponse(
                bounties=[self._bounty(item, caller) for item in page.bounties],
                next_page_token=page.next_page_token,
            )

        return await self._read(context, body)

    async def GetBounty(
        self, request: review_pb2.GetBountyRequest, context: grpc.aio.ServicerContext
    ) -> review_pb2.GetBountyResponse:
        bounty_id = uuid_of(request.bounty_id, field="bounty_id")

        async def body(tx: AsyncSession, caller: Caller) -> review_pb2.GetBountyResponse:
            view = await bounties.get_bounty(tx, self.runtime, caller, bounty_id=bounty_id)
            privileged = access.reader_is_privileged(caller)
            return review_pb2.GetBountyResponse(
                bounty=self._bounty(view.bounty, caller),
                claims=[wire.claim(item, show_reviewers=privileged) for item in view.claims],
            )

        return await self._read(context, body)

    async def CancelBounty(
        self, request: review_pb2.CancelBountyRequest, context: grpc.aio.ServicerContext
    ) -> review_pb2.CancelBountyResponse:
        bounty_id = uuid_of(request.bounty_id, field="bounty_id")
        written: list[uuid.UUID] = []

        async def body(tx: AsyncSession, caller: Caller) -> review_pb2.CancelBountyResponse:
            cancelled = await bounties.cancel_bounty(
                tx, self.runtime, caller, bounty_id=bounty_id, reason=request.reason
            )
            if cancelled.refund is not None:
                written.append(cancelled.refund.id)
            return review_pb2.CancelBountyResponse(
                bounty=self._bounty(cancelled.bounty, caller),
                refund_entry_id=str(cancelled.refund.id) if cancelled.refund else "",
            )

        response = await self._mutate(
            context,
            method="CancelBounty",
            request=request,
            response_type=review_pb2.CancelBountyResponse,
            body=body,
        )
        for entry_id in written:
            self.runtime.kicks.written(entry_id)
        return response

    # -- claims --------------------------------------------------------------------------------

    async def ClaimBounty(
        self, request: review_pb2.ClaimBountyRequest, context: grpc.aio.ServicerContext
    ) -> review_pb2.ClaimBountyResponse:
        caller = await self._caller(context)
        bounty_id = uuid_of(request.bounty_id, field="bounty_id")
        validate_request_id(request.request_id)
        agent_id, gate = await claims.gate_of(self.runtime, caller)

        async def body(tx: AsyncSession, live: Caller) -> review_pb2.ClaimBountyResponse:
            view = await claims.claim_bounty(
                tx, self.runtime, agent_id=agent_id, gate=gate, bounty_id=bounty_id
            )
            return review_pb2.ClaimBountyResponse(claim=wire.claim(view, show_reviewers=False))

        return await self._mutate(
            context,
            caller=caller,
            method="ClaimBounty",
            request=request,
            response_type=review_pb2.ClaimBountyResponse,
            body=body,
        )

    async def SubmitWork(
        self, request: review_pb2.SubmitWorkRequest, context: grpc.aio.ServicerContext
    ) -> review_pb2.SubmitWorkResponse:
        caller = await self._caller(context)
        agent_id = access.require_agent(caller, Scope.AGENT_WRITE)
        bounty_id = uuid_of(request.bounty_id, field="bounty_id")
        validate_request_id(request.request_id)
        agent = await claims.fresh_agent(self.runtime, agent_id)

        async def body(tx: AsyncSession, live: Caller) -> review_pb2.SubmitWorkResponse:
            view = await claims.submit_work(
                tx,
                self.runtime,
                agent=agent,
                bounty_id=bounty_id,
                submission_text=request.submission_text,
            )
            return review_pb2.SubmitWorkResponse(claim=wire.claim(view, show_reviewers=False))

        return await self._mutate(
            context,
            caller=caller,
            method="SubmitWork",
            request=request,
            response_type=review_pb2.SubmitWorkResponse,
            body=body,
        )

    async def GetClaim(
        self, request: review_pb2.GetClaimRequest, context: grpc.aio.ServicerContext
    ) -> review_pb2.GetClaimResponse:
        claim_id = uuid_of(request.claim_id, field="claim_id")

        async def body(tx: AsyncSession, caller: Caller) -> review_pb2.GetClaimResponse:
            view = await claims.get_claim(tx, self.runtime, caller, claim_id=claim_id)
            return review_pb2.GetClaimResponse(
                claim=wire.claim(view, show_reviewers=access.reader_is_privileged(caller))
            )

        return await self._read(context, body)

    async def ListClaims(
        self, request: review_pb2.ListClaimsRequest, context: grpc.aio.ServicerContext
    ) -> review_pb2.ListClaimsResponse:
        bounty_id = optional_uuid_of(request.bounty_id, field="bounty_id")
        statuses: frozenset[ClaimStatus] = wire.set_from_wire(
            request.statuses, wire.CLAIM_STATUSES, field="statuses"
        )

        async def body(tx: AsyncSession, caller: Caller) -> review_pb2.ListClaimsResponse:
            page = await claims.list_claims(
                tx,
                self.runtime,
                caller,
                requested_page_size=request.page_size,
                page_token=request.page_token,
                bounty_id=bounty_id,
                statuses=statuses,
                awaiting_reviewers_only=request.awaiting_reviewers_only,
            )
            privileged = access.reader_is_privileged(caller)
            return review_pb2.ListClaimsResponse(
                claims=[wire.claim(item, show_reviewers=privileged) for item in page.claims],
                next_page_token=page.next_page_token,
            )

        return await self._read(context, body)

    # -- reviews -------------------------------------------------------------------------------

    async def ListPendingReviews(
        self, request: review_pb2.ListPendingReviewsRequest, context: grpc.aio.ServicerContext
    ) -> review_pb2.ListPendingReviewsResponse:
        async def body(tx: AsyncSession, caller: Caller) -> review_pb2.ListPendingReviewsResponse:
            page = await reviews.list_pending(
                tx,
                self.runtime,
                caller,
                requested_page_size=request.page_size,
                page_token=request.page_token,
                for_admin=False,
            )
            return review_pb2.ListPendingReviewsResponse(
                reviews=[
                    review_pb2.PendingReview(
                        review=wire.review(row.review, show_reviewer=True),
                        bounty_title=row.bounty.title,
                        bounty_description=row.bounty.description,
                        bounty_type=wire.BOUNTY_TYPES[row.bounty.type],
                        submission_text=row.claim.submission_text or "",
                        submitted_at=wire.timestamp(_required(row.claim.submitted_at)),
                    )
                    for row in page.rows
                ],
                next_page_token=page.next_page_token,
            )

        return await self._read(context, body)

    async def SubmitReview(
        self, request: review_pb2.SubmitReviewRequest, context: grpc.aio.ServicerContext
    ) -> review_pb2.SubmitReviewResponse:
        caller = await self._caller(context)
        agent_id = access.require_agent(caller, Scope.AGENT_WRITE)
        review_id = uuid_of(request.review_id, field="review_id")
        decision: Decision = wire.from_wire(request.decision, wire.DECISIONS, field="decision")
        validate_request_id(request.request_id)
        reviewer = await reviews.reviewer_facts(self.runtime, agent_id)
        payout: list[uuid.UUID] = []

        async def body(tx: AsyncSession, live: Caller) -> review_pb2.SubmitReviewResponse:
            vote = await reviews.submit_review(
                tx,
                self.runtime,
                reviewer=reviewer,
                review_id=review_id,
                decision=decision,
                notes=request.notes,
            )
            if vote.payout is not None:
                payout.append(vote.payout.id)
            return review_pb2.SubmitReviewResponse(
                review=wire.review(vote.review, show_reviewer=True),
                claim_status=wire.CLAIM_STATUSES[vote.claim.status],
                finalized=vote.finalized,
            )

        response = await self._mutate(
            context,
            caller=caller,
            method="SubmitReview",
            request=request,
            response_type=review_pb2.SubmitReviewResponse,
            body=body,
        )
        for entry_id in payout:
            self.runtime.kicks.written(entry_id)
        return response

    async def ListAdminPendingReviews(
        self,
        request: review_pb2.ListAdminPendingReviewsRequest,
        context: grpc.aio.ServicerContext,
    ) -> review_pb2.ListAdminPendingReviewsResponse:
        async def body(
            tx: AsyncSession, caller: Caller
        ) -> review_pb2.ListAdminPendingReviewsResponse:
            page = await reviews.list_pending(
                tx,
                self.runtime,
                caller,
                requested_page_size=request.page_size,
                page_token=request.page_token,
                overdue_only=request.overdue_only,
                for_admin=True,
            )
            now = self.runtime.now()
            items = []
            for row in page.rows:
                item = review_pb2.AdminPendingReview(
                    review=wire.review(row.review, show_reviewer=True),
                    bounty_title=row.bounty.title,
                    submitter_agent_id=str(row.claim.agent_id),
                )
                item.waiting_for.FromTimedelta(
                    max(now - row.review.assigned_at, datetime.timedelta(0))
                )
                items.append(item)
            return review_pb2.ListAdminPendingReviewsResponse(
                reviews=items, next_page_token=page.next_page_token
            )

        return await self._read(context, body)

    # -- correlations --------------------------------------------------------------------------

    async def CreateCorrelation(
        self, request: review_pb2.CreateCorrelationRequest, context: grpc.aio.ServicerContext
    ) -> review_pb2.CreateCorrelationResponse:
        caller = await self._caller(context)
        access.require_admin(caller)
        first = uuid_of(request.agent_a_id, field="agent_a_id")
        second = uuid_of(request.agent_b_id, field="agent_b_id")
        validate_request_id(request.request_id)
        agents = await correlations.known_agents(self.runtime, first, second)

        async def body(tx: AsyncSession, live: Caller) -> review_pb2.CreateCorrelationResponse:
            flagged = await correlations.create_correlation(
                tx, self.runtime, live, agents=agents, reason=request.reason
            )
            return review_pb2.CreateCorrelationResponse(
                correlation=wire.correlation(flagged.correlation),
                created=flagged.created,
                reviews_reassigned=flagged.reviews_reassigned,
            )

        return await self._mutate(
            context,
            caller=caller,
            method="CreateCorrelation",
            request=request,
            response_type=review_pb2.CreateCorrelationResponse,
            body=body,
        )

    async def DeleteCorrelation(
        self, request: review_pb2.DeleteCorrelationRequest, context: grpc.aio.ServicerContext
    ) -> review_pb2.DeleteCorrelationResponse:
        correlation_id = uuid_of(request.correlation_id, field="correlation_id")

        async def body(tx: AsyncSession, caller: Caller) -> review_pb2.DeleteCorrelationResponse:
            flag = await correlations.delete_correlation(
                tx, self.runtime, caller, correlation_id=correlation_id
            )
            assert flag.deleted_at is not None
            return review_pb2.DeleteCorrelationResponse(
                correlation_id=str(flag.id), deleted_at=wire.timestamp(flag.deleted_at)
            )

        return await self._mutate(
            context,
            method="DeleteCorrelation",
            request=request,
            response_type=review_pb2.DeleteCorrelationResponse,
            body=body,
        )

    async def ListCorrelations(
        self, request: review_pb2.ListCorrelationsRequest, context: grpc.aio.ServicerContext
    ) -> review_pb2.ListCorrelationsResponse:
        agent_id = optional_uuid_of(request.agent_id, field="agent_id")

        async def body(tx: AsyncSession, caller: Caller) -> review_pb2.ListCorrelationsResponse:
            page = await correlations.list_correlations(
                tx,
                self.runtime,
                caller,
                requested_page_size=request.page_size,
                page_token=request.page_token,
                agent_id=agent_id,
            )
            return review_pb2.ListCorrelationsResponse(
                correlations=[wire.correlation(item) for item in page.correlations],
                next_page_token=page.next_page_token,
            )

        return await self._read(context, body)

    # -- treasury ------------------------------------------------------------------------------

    async def FundTreasury(
        self, request: review_pb2.FundTreasuryRequest, context: grpc.aio.ServicerContext
    ) -> review_pb2.FundTreasuryResponse:
        caller = await self._caller(context)
        access.require_admin(caller, or_operator=True)
        validate_request_id(request.request_id)
        method = "FundTreasury"
        response_type = review_pb2.FundTreasuryResponse
        replay = await self._replayed(
            caller, method=method, request=request, response_type=response_type
        )
        if replay is not None:
            return replay
        funded = await treasury.fund_treasury(
            self.runtime,
            caller,
            request_id=request.request_id,
            amount_micros=request.amount_micros,
            reason=request.reason,
        )

        async def body(tx: AsyncSession, live: Caller) -> review_pb2.FundTreasuryResponse:
            return review_pb2.FundTreasuryResponse(
                transfer_id=funded.transfer_id,
                amount_micros=funded.amount_micros,
                treasury_balance_micros=funded.treasury_balance_micros,
            )

        return await self._mutate(
            context,
            caller=caller,
            method=method,
            request=request,
            response_type=response_type,
            body=body,
        )

    async def GetTreasury(
        self, request: review_pb2.GetTreasuryRequest, context: grpc.aio.ServicerContext
    ) -> review_pb2.GetTreasuryResponse:
        caller = await self._caller(context)
        state = await treasury.treasury_state(self.runtime, caller)
        return review_pb2.GetTreasuryResponse(
            treasury_ledger_account_id=state.treasury_ledger_account_id,
            treasury_balance_micros=state.treasury_balance_micros,
            escrow_balance_micros=state.escrow_balance_micros,
            escrow_outstanding_micros=state.escrow_outstanding_micros,
            undelivered_outbox_entries=state.undelivered_entries,
            escrow_undelivered_micros=state.escrow_undelivered_micros,
            escrow_unassigned_micros=state.escrow_unassigned_micros,
        )

    # -- the outbox (operators) ----------------------------------------------------------------

    async def ListOutbox(
        self, request: review_pb2.ListOutboxRequest, context: grpc.aio.ServicerContext
    ) -> review_pb2.ListOutboxResponse:
        statuses: frozenset[OutboxStatus] = wire.set_from_wire(
            request.statuses, wire.OUTBOX_STATUSES, field="statuses"
        )
        bounty_id = optional_uuid_of(request.bounty_id, field="bounty_id")

        async def body(tx: AsyncSession, caller: Caller) -> review_pb2.ListOutboxResponse:
            page = await outbox.list_outbox(
                tx,
                caller,
                requested_page_size=request.page_size,
                page_token=request.page_token,
                statuses=statuses,
                bounty_id=bounty_id,
            )
            return review_pb2.ListOutboxResponse(
                entries=[wire.outbox_entry(item) for item in page.entries],
                next_page_token=page.next_page_token,
            )

        return await self._read(context, body)

    async def RedriveOutbox(
        self, request: review_pb2.RedriveOutboxRequest, context: grpc.aio.ServicerContext
    ) -> review_pb2.RedriveOutboxResponse:
        caller = await self._caller(context)
        access.require_operator(caller)
        validate_request_id(request.request_id)
        if request.limit < 0:
            raise errors.LimitInvalid()
        limit = min(request.limit or REDRIVE_LIMIT_DEFAULT, REDRIVE_LIMIT_MAX)
        if len(request.entry_ids) > REDRIVE_LIMIT_MAX:
            raise errors.EntryIdsInvalid()
        try:
            entry_ids = [uuid_of(raw, field="entry_ids") for raw in request.entry_ids]
        except errors.FieldInvalid:
            raise errors.EntryIdsInvalid() from None
        async with self.runtime.database.transaction() as tx:
            for entry_id in entry_ids:
                if await outbox_store.entry_by_id(tx, entry_id) is None:
                    raise errors.OutboxEntryNotFound(str(entry_id))
        # Re-driving is itself idempotent (derived transfer ids), so it is not replay-logged:
        # a repeated call re-sends whatever is still undelivered, which is what an operator wants.
        outcomes = await self.dispatcher.redrive(entry_ids, limit=limit)
        async with self.runtime.database.transaction() as tx:
            remaining = await outbox_store.undelivered_totals(tx)
        return review_pb2.RedriveOutboxResponse(
            outcomes=[
                review_pb2.RedriveOutcome(
                    entry_id=str(item.entry_id),
                    status=wire.OUTBOX_STATUSES[item.status],
                    error_reason=item.error_reason or "",
                )
                for item in outcomes
            ],
            remaining_undelivered=remaining.entries,
        )


def _required(value: datetime.datetime | None) -> datetime.datetime:
    assert value is not None
    return value

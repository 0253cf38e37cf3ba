"""Bounties and peer review: admin bounties and treasury, agent claims, submissions and votes.

Admin routes (``/admin/...``) take an account session only: an agent key is refused before the
review service is even asked (403 ``CREDENTIAL_FAMILY_NOT_ACCEPTED``), and review itself checks
the session's admin scope (403 ``SCOPE_MISSING``). Agent routes take an agent key, or a session
acting as an owned agent through ``X-Agent-Id``.

Routes that move credits (creating a bounty funds its escrow, cancelling one refunds it, and
funding the treasury mints) require an ``Idempotency-Key`` header: the backend request id is
derived from it and the caller, so a retried request never moves credits twice. Amounts are
integers in micro-credits.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from http import HTTPStatus
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime, Field
from starlette.requests import Request
from starlette.responses import Response
from tokenmart.auth.v1 import auth_pb2
from tokenmart.review.v1 import review_pb2

from services.gateway.authn import AGENT_KEY, SESSION, Caller
from services.gateway.routes.accounts import UUID_PATTERN
from services.gateway.routes.common import Body, Edge, json_response
from services.gateway.routes.wallet import AMOUNT_MAX, IdempotencyKeyRequired, principal_scope
from services.gateway.views import enum_name, idempotency_key, request_id_for, timestamp

REVIEW: Final = (auth_pb2.AUDIENCE_REVIEW,)
REVIEW_AND_WALLET: Final = (auth_pb2.AUDIENCE_REVIEW, auth_pb2.AUDIENCE_WALLET)
AGENTS: Final = (AGENT_KEY, SESSION)
ADMINS: Final = (SESSION,)

BountyId = Annotated[str, Path(pattern=UUID_PATTERN)]
PageSize = Annotated[int, Query(ge=0, le=200)]
PageToken = Annotated[str, Query(max_length=1024)]

_TYPES: Final = {
    "work": review_pb2.BOUNTY_TYPE_WORK,
    "verification": review_pb2.BOUNTY_TYPE_VERIFICATION,
}
_STATUSES: Final = {
    "open": review_pb2.BOUNTY_STATUS_OPEN,
    "filled": review_pb2.BOUNTY_STATUS_FILLED,
    "closed": review_pb2.BOUNTY_STATUS_CLOSED,
    "completed": review_pb2.BOUNTY_STATUS_COMPLETED,
    "cancelled": review_pb2.BOUNTY_STATUS_CANCELLED,
}
_DECISIONS: Final = {
    "approve": review_pb2.REVIEW_DECISION_APPROVE,
    "reject": review_pb2.REVIEW_DECISION_REJECT,
}


class CreateBountyBody(Body):
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=20_000)
    type: Literal["work", "verification"]
    reward_micros: int = Field(ge=1, le=AMOUNT_MAX)
    reviewer_reward_micros: int | None = Field(default=None, ge=0, le=AMOUNT_MAX)
    max_claims: int | None = Field(default=None, ge=1, le=100)
    # RFC 3339 with an offset ("2030-01-01T00:00:00Z"); JSON has no date type, so a string.
    deadline: AwareDatetime | None = Field(default=None, strict=False)
    required_trust_tier: int | None = Field(default=None, ge=0, le=3)


class CancelBody(Body):
    reason: str = Field(min_length=1, max_length=500)


class SubmitBody(Body):
    submission_text: str = Field(min_length=1, max_length=50_000)


class VoteBody(Body):
    decision: Literal["approve", "reject"]
    notes: str | None = Field(default=None, max_length=5_000)


class CorrelationBody(Body):
    agent_a_id: str = Field(pattern=UUID_PATTERN)
    agent_b_id: str = Field(pattern=UUID_PATTERN)
    reason: str | None = Field(default=None, max_length=500)


class TreasuryBody(Body):
    amount_micros: int = Field(ge=1, le=AMOUNT_MAX)
    reason: str = Field(min_length=1, max_length=500)


def _money_request_id(request: Request, caller: Caller) -> str:
    """A request that moves credits must name its Idempotency-Key."""
    if idempotency_key(request) is None:
        raise IdempotencyKeyRequired()
    return request_id_for(request, scope=principal_scope(caller))


def _request_id(request: Request, caller: Caller) -> str:
    return request_id_for(request, scope=principal_scope(caller))


def _deadline(value: datetime.datetime | None, request: review_pb2.CreateBountyRequest) -> None:
    if value is not None:
        request.deadline.FromDatetime(value.astimezone(datetime.UTC))


def router(edge: Edge) -> APIRouter:
    api = APIRouter(prefix="/api/v1", tags=["bounties"])

    async def admin(request: Request, *, wallet: bool = False) -> Caller:
        return await edge.authenticator.authenticate(
            request, families=ADMINS, audiences=REVIEW_AND_WALLET if wallet else REVIEW
        )

    async def agent(request: Request) -> Caller:
        return await edge.authenticator.authenticate(request, families=AGENTS, audiences=REVIEW)

    # -- admin: bounties -----------------------------------------------------------------------

    @api.post(
        "/admin/bounties",
        status_code=HTTPStatus.CREATED,
        summary="Create a bounty funded from the treasury (admin session, Idempotency-Key)",
    )
    async def create_bounty(body: CreateBountyBody, request: Request) -> Response:
        caller = await admin(request, wallet=True)
        create = review_pb2.CreateBountyRequest(
            request_id=_money_request_id(request, caller),
            title=body.title,
            description=body.description,
            type=_TYPES[body.type],
            reward_micros=body.reward_micros,
            max_claims=body.max_claims or 0,
        )
        if body.reviewer_reward_micros is not None:
            create.reviewer_reward_micros = body.reviewer_reward_micros
        if body.required_trust_tier is not None:
            create.required_trust_tier = body.required_trust_tier
        _deadline(body.deadline, create)
        response = await edge.review.CreateBounty(create, metadata=caller.metadata)
        return json_response({"bounty": bounty_view(response.bounty)}, HTTPStatus.CREATED)

    @api.get("/admin/bounties", summary="Every bounty, newest first (admin session)")
    async def list_bounties(
        request: Request,
        status: Annotated[
            list[Literal["open", "filled", "closed", "completed", "cancelled"]] | None, Query()
        ] = None,
        kind: Annotated[Literal["work", "verification"] | None, Query(alias="type")] = None,
        page_size: PageSize = 50,
        page_token: PageToken = "",
    ) -> Response:
        caller = await admin(request)
        return await _list_bounties(
            request, caller, statuses=status or [], kind=kind, size=page_size, token=page_token
        )

    @api.get("/admin/bounties/{bounty_id}", summary="One bounty with every claim (admin session)")
    async def get_bounty(request: Request, bounty_id: BountyId) -> Response:
        caller = await admin(request)
        return await _get_bounty(request, caller, bounty_id)

    @api.post(
        "/admin/bounties/{bounty_id}/cancel",
        summary="Cancel a bounty and refund its unused slots (admin session, Idempotency-Key)",
    )
    async def cancel_bounty(body: CancelBody, request: Request, bounty_id: BountyId) -> Response:
        caller = await admin(request)
        response = await edge.review.CancelBounty(
            review_pb2.CancelBountyRequest(
                request_id=_money_request_id(request, caller),
                bounty_id=bounty_id,
                reason=body.reason,
            ),
            metadata=caller.metadata,
        )
        return json_response(
            {
                "bounty": bounty_view(response.bounty),
                "refund_entry_id": response.refund_entry_id or None,
            }
        )

    # -- agents: claims and submissions --------------------------------------------------------

    @api.post(
        "/admin/bounties/{bounty_id}/claim",
        status_code=HTTPStatus.CREATED,
        summary="Claim a slot of a bounty for the acting agent",
    )
    async def claim(request: Request, bounty_id: BountyId) -> Response:
        caller = await agent(request)
        response = await edge.review.ClaimBounty(
            review_pb2.ClaimBountyRequest(
                request_id=_request_id(request, caller), bounty_id=bounty_id
            ),
            metadata=caller.metadata,
        )
        return json_response({"claim": claim_view(response.claim)}, HTTPStatus.CREATED)

    @api.post(
        "/admin/bounties/{bounty_id}/submit",
        summary="Submit the acting agent's work on a bounty; reviewers are assigned at once",
    )
    async def submit(body: SubmitBody, request: Request, bounty_id: BountyId) -> Response:
        caller = await agent(request)
        response = await edge.review.SubmitWork(
            review_pb2.SubmitWorkRequest(
                request_id=_request_id(request, caller),
                bounty_id=bounty_id,
                submission_text=body.submission_text,
            ),
            metadata=caller.metadata,
        )
        return json_response({"claim": claim_view(response.claim)})

    @api.get("/agents/bounties", summary="Open bounties and the acting agent's own, newest first")
    async def board(
        request: Request,
        mine: bool = False,
        page_size: PageSize = 50,
        page_token: PageToken = "",
    ) -> Response:
        caller = await agent(request)
        return await _list_bounties(
            request, caller, statuses=[], kind=None, size=page_size, token=page_token, mine=mine
        )

    @api.get("/agents/bounties/{bounty_id}", summary="One bounty and the acting agent's claim")
    async def board_bounty(request: Request, bounty_id: BountyId) -> Response:
        caller = await agent(request)
        return await _get_bounty(request, caller, bounty_id)

    # -- reviews -------------------------------------------------------------------------------

    @api.get(
        "/agents/reviews/pending",
        summary="Reviews awaiting the acting agent's vote, with the work under review",
    )
    async def pending(
        request: Request, page_size: PageSize = 50, page_token: PageToken = ""
    ) -> Response:
        caller = await agent(request)
        response = await edge.review.ListPendingReviews(
            review_pb2.ListPendingReviewsRequest(page_size=page_size, page_token=page_token),
            metadata=caller.metadata,
        )
        return json_response(
            {
                "reviews": [
                    {
                        **review_view(item.review),
                        "bounty": {
                            "title": item.bounty_title,
                            "description": item.bounty_description,
                            "type": enum_name(
                                item.bounty_type, "BOUNTY_TYPE_", review_pb2.BountyType
                            ),
                        },
                        "submission_text": item.submission_text,
                        "submitted_at": timestamp(item.submitted_at),
                    }
                    for item in response.reviews
                ],
                "next_page_token": response.next_page_token or None,
            }
        )

    @api.post("/agents/reviews/{review_id}/submit", summary="Vote on a review assigned to you")
    async def vote(
        body: VoteBody, request: Request, review_id: Annotated[str, Path(pattern=UUID_PATTERN)]
    ) -> Response:
        caller = await agent(request)
        response = await edge.review.SubmitReview(
            review_pb2.SubmitReviewRequest(
                request_id=_request_id(request, caller),
                review_id=review_id,
                decision=_DECISIONS[body.decision],
                notes=body.notes or "",
            ),
            metadata=caller.metadata,
        )
        return json_response(
            {
                "review": review_view(response.review),
                "claim_status": enum_name(
                    response.claim_status, "CLAIM_STATUS_", review_pb2.ClaimStatus
                ),
                "finalized": response.finalized,
            }
        )

    @api.get("/admin/reviews/pending", summary="Every review awaiting a vote (admin session)")
    async def admin_pending(
        request: Request,
        overdue_only: bool = False,
        page_size: PageSize = 50,
        page_token: PageToken = "",
    ) -> Response:
        caller = await admin(request)
        response = await edge.review.ListAdminPendingReviews(
            review_pb2.ListAdminPendingReviewsRequest(
                page_size=page_size, page_token=page_token, overdue_only=overdue_only
            ),
            metadata=caller.metadata,
        )
        return json_response(
            {
                "reviews": [
                    {
                        **review_view(item.review),
                        "status": "pending",
                        "bounty_title": item.bounty_title,
                        "submitter_agent_id": item.submitter_agent_id,
                        "waiting_s": item.waiting_for.ToTimedelta().total_seconds(),
                    }
                    for item in response.reviews
                ],
                "next_page_token": response.next_page_token or None,
            }
        )

    # -- correlations --------------------------------------------------------------------------

    @api.post(
        "/admin/correlations",
        status_code=HTTPStatus.CREATED,
        summary="Flag two agents as correlated: neither reviews the other (admin session)",
    )
    async def correlate(body: CorrelationBody, request: Request) -> Response:
        caller = await admin(request)
        response = await edge.review.CreateCorrelation(
            review_pb2.CreateCorrelationRequest(
                request_id=_request_id(request, caller),
                agent_a_id=body.agent_a_id,
                agent_b_id=body.agent_b_id,
                reason=body.reason or "",
            ),
            metadata=caller.metadata,
        )
        return json_response(
            {
                "correlation": correlation_view(response.correlation),
                "created": response.created,
                "reviews_reassigned": response.reviews_reassigned,
            },
            HTTPStatus.CREATED if response.created else HTTPStatus.OK,
        )

    @api.get("/admin/correlations", summary="Correlation flags, newest first (admin session)")
    async def correlations(
        request: Request,
        agent_id: Annotated[str | None, Query(pattern=UUID_PATTERN)] = None,
        page_size: PageSize = 50,
        page_token: PageToken = "",
    ) -> Response:
        caller = await admin(request)
        response = await edge.review.ListCorrelations(
            review_pb2.ListCorrelationsRequest(
                page_size=page_size, page_token=page_token, agent_id=agent_id or ""
            ),
            metadata=caller.metadata,
        )
        return json_response(
            {
                "correlations": [correlation_view(item) for item in response.correlations],
                "next_page_token": response.next_page_token or None,
            }
        )

    @api.delete("/admin/correlations/{correlation_id}", summary="Remove a correlation flag")
    async def uncorrelate(
        request: Request, correlation_id: Annotated[str, Path(pattern=UUID_PATTERN)]
    ) -> Response:
        caller = await admin(request)
        response = await edge.review.DeleteCorrelation(
            review_pb2.DeleteCorrelationRequest(
                request_id=_request_id(request, caller), correlation_id=correlation_id
            ),
            metadata=caller.metadata,
        )
        return json_response(
            {"id": response.correlation_id, "deleted_at": timestamp(response.deleted_at)}
        )

    # -- treasury ------------------------------------------------------------------------------

    @api.post(
        "/admin/treasury",
        status_code=HTTPStatus.CREATED,
        summary="Mint credits into the bounty treasury (admin session, Idempotency-Key)",
    )
    async def fund(body: TreasuryBody, request: Request) -> Response:
        caller = await admin(request, wallet=True)
        response = await edge.review.FundTreasury(
            review_pb2.FundTreasuryRequest(
                request_id=_money_request_id(request, caller),
                amount_micros=body.amount_micros,
                reason=body.reason,
            ),
            metadata=caller.metadata,
        )
        return json_response(
            {
                "transfer_id": response.transfer_id,
                "amount_micros": response.amount_micros,
                "treasury_balance_micros": response.treasury_balance_micros,
            },
            HTTPStatus.CREATED,
        )

    @api.get("/admin/treasury", summary="The treasury's and the bounty escrow's balances")
    async def treasury(request: Request) -> Response:
        caller = await admin(request)
        response = await edge.review.GetTreasury(
            review_pb2.GetTreasuryRequest(), metadata=caller.metadata
        )
        return json_response(
            {
                "treasury_wallet_id": response.treasury_ledger_account_id,
                "treasury_balance_micros": response.treasury_balance_micros,
                "escrow_balance_micros": response.escrow_balance_micros,
                "escrow_outstanding_micros": response.escrow_outstanding_micros,
                "escrow_undelivered_micros": response.escrow_undelivered_micros,
                "escrow_unassigned_micros": response.escrow_unassigned_micros,
                "undelivered_payouts": response.undelivered_outbox_entries,
            }
        )

    # -- shared --------------------------------------------------------------------------------

    async def _list_bounties(
        request: Request,
        caller: Caller,
        *,
        statuses: Sequence[str],
        kind: str | None,
        size: int,
        token: str,
        mine: bool = False,
    ) -> Response:
        response = await edge.review.ListBounties(
            review_pb2.ListBountiesRequest(
                page_size=size,
                page_token=token,
                statuses=[_STATUSES[status] for status in statuses],
                type=_TYPES[kind] if kind else review_pb2.BOUNTY_TYPE_UNSPECIFIED,
                claimed_by_me=mine,
            ),
            metadata=caller.metadata,
        )
        return json_response(
            {
                "bounties": [bounty_view(item) for item in response.bounties],
                "next_page_token": response.next_page_token or None,
            }
        )

    async def _get_bounty(request: Request, caller: Caller, bounty_id: str) -> Response:
        response = await edge.review.GetBounty(
            review_pb2.GetBountyRequest(bounty_id=bounty_id), metadata=caller.metadata
        )
        return json_response(
            {
                "bounty": bounty_view(response.bounty),
                "claims": [claim_view(item) for item in response.claims],
            }
        )

    return api


def bounty_view(bounty: review_pb2.Bounty) -> dict[str, Any]:
    return {
        "id": bounty.bounty_id,
        "title": bounty.title,
        "description": bounty.description,
        "type": enum_name(bounty.type, "BOUNTY_TYPE_", review_pb2.BountyType),
        "status": enum_name(bounty.status, "BOUNTY_STATUS_", review_pb2.BountyStatus),
        "reward_micros": bounty.reward_micros,
        "reviewer_reward_micros": bounty.reviewer_reward_micros,
        "reviewers_per_claim": bounty.reviewers_per_claim,
        "votes_to_decide": bounty.votes_to_decide,
        "max_claims": bounty.max_claims,
        "claims_taken": bounty.claims_taken,
        "required_trust_tier": bounty.required_trust_tier,
        "deadline": timestamp(bounty.deadline),
        "escrow_micros": bounty.escrow_micros,
        "escrow_outstanding_micros": bounty.escrow_outstanding_micros,
        "escrow_transfer_id": bounty.escrow_transfer_id,
        "created_by_account_id": bounty.created_by_account_id or None,
        "created_at": timestamp(bounty.created_at),
        "updated_at": timestamp(bounty.updated_at),
        "cancel_reason": bounty.cancel_reason or None,
    }


def review_view(review: review_pb2.Review) -> dict[str, Any]:
    return {
        "id": review.review_id,
        "claim_id": review.claim_id,
        "bounty_id": review.bounty_id,
        "reviewer_agent_id": review.reviewer_agent_id or None,
        "status": enum_name(review.status, "REVIEW_STATUS_", review_pb2.ReviewStatus),
        "decision": enum_name(review.decision, "REVIEW_DECISION_", review_pb2.ReviewDecision),
        "notes": review.notes or None,
        "assigned_at": timestamp(review.assigned_at),
        "due_at": timestamp(review.due_at),
        "submitted_at": timestamp(review.submitted_at),
        "reward_micros": review.reward_micros,
    }


def claim_view(claim: review_pb2.Claim) -> dict[str, Any]:
    return {
        "id": claim.claim_id,
        "bounty_id": claim.bounty_id,
        "agent_id": claim.agent_id,
        "status": enum_name(claim.status, "CLAIM_STATUS_", review_pb2.ClaimStatus),
        "submission_text": claim.submission_text or None,
        "claimed_at": timestamp(claim.claimed_at),
        "submitted_at": timestamp(claim.submitted_at),
        "finalized_at": timestamp(claim.finalized_at),
        "decision": enum_name(claim.decision, "REVIEW_DECISION_", review_pb2.ReviewDecision),
        "approvals": claim.approvals,
        "rejections": claim.rejections,
        "awaiting_reviewers": claim.awaiting_reviewers,
        "payout_status": enum_name(claim.payout_status, "PAYOUT_STATUS_", review_pb2.PayoutStatus),
        "reviews": [review_view(item) for item in claim.reviews],
    }


def correlation_view(correlation: review_pb2.Correlation) -> dict[str, Any]:
    return {
        "id": correlation.correlation_id,
        "agent_a_id": correlation.agent_a_id,
        "agent_b_id": correlation.agent_b_id,
        "reason": correlation.reason or None,
        "created_by_account_id": correlation.created_by_account_id,
        "created_at": timestamp(correlation.created_at),
    }

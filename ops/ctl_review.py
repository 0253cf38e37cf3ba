"""``tokenmartctl review ...``: inspect bounties and the payout outbox, re-drive stuck payouts,
read and fund the treasury. Hooked into :mod:`ops.ctl` by ``add_commands`` and ``run``.

    tokenmartctl review bounty BOUNTY_ID [--json]
    tokenmartctl review outbox [--status pending|stuck|delivered ...] [--bounty ID] [--json]
    tokenmartctl review redrive [ENTRY_ID ...] [--limit N]
    tokenmartctl review treasury [--json]
    tokenmartctl review fund-treasury --amount-micros N --reason TEXT [--request-id UUID]

Each command authenticates like every ctl command: the ``ctl`` certificate, and a service token
(scope ``operator``) that auth issues to it. ``fund-treasury`` mints through wallet directly
(``WalletService.Mint``, which ctl may call), since wallet accepts ctl's token only from ctl
itself; its transfer id is derived from the request id, so re-running it with the printed
``--request-id`` mints once.

Exit status: 0 on success, 1 when a service refused (the reason is printed), 2 for bad usage,
3 when ``redrive`` left entries undelivered (each is printed with its reason).
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Mapping
from typing import Any

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message
from tokenmart.auth.v1 import auth_pb2, auth_pb2_grpc
from tokenmart.review.v1 import review_pb2, review_pb2_grpc
from tokenmart.wallet.v1 import wallet_pb2, wallet_pb2_grpc

from ops import ctl
from services.common.client import open_channel
from services.common.status import error_reason

REVIEW_SERVICE = "tokenmart.review.v1.ReviewService"
WALLET_SERVICE = "tokenmart.wallet.v1.WalletService"
UNDELIVERED = 3
PAGE_SIZE = 200
PAGES_MAX = 50
_TREASURY_MINTS = uuid.UUID("0f5b3f0e-7c1d-4a52-9e6b-1c2d3e4f5a60")
_STATUSES = {
    "pending": review_pb2.OUTBOX_STATUS_PENDING,
    "stuck": review_pb2.OUTBOX_STATUS_STUCK,
    "delivered": review_pb2.OUTBOX_STATUS_DELIVERED,
}


def add_commands(subparsers: Any) -> None:
    """Add ``review`` and its commands to tokenmartctl's top-level subparsers."""
    review = subparsers.add_parser("review", help="bounties, payouts and the treasury")
    commands = review.add_subparsers(dest="command", required=True)
    bounty = commands.add_parser("bounty", help="a bounty with its claims, reviews and payouts")
    bounty.add_argument("bounty_id")
    bounty.add_argument("--json", action="store_true", help="print the full record as JSON")
    outbox = commands.add_parser("outbox", help="payout outbox entries, oldest first")
    outbox.add_argument("--status", action="append", choices=sorted(_STATUSES), default=[])
    outbox.add_argument("--bounty", default="", help="only entries of this bounty")
    outbox.add_argument("--json", action="store_true")
    redrive = commands.add_parser(
        "redrive", help="send undelivered payouts now (all of them, or the named entries)"
    )
    redrive.add_argument("entry_ids", nargs="*")
    redrive.add_argument("--limit", type=int, default=100)
    treasury = commands.add_parser("treasury", help="treasury and escrow balances")
    treasury.add_argument("--json", action="store_true")
    fund = commands.add_parser("fund-treasury", help="mint credits into the treasury")
    fund.add_argument("--amount-micros", type=int, required=True)
    fund.add_argument("--reason", required=True)
    fund.add_argument("--request-id", default=None, help="repeat a mint that may have happened")


async def run(arguments: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """Run one ``review`` command; returns the exit status."""
    try:
        if arguments.command == "fund-treasury":
            return await _fund_treasury(arguments, environ)
        metadata = await _operator_token(environ, auth_pb2.AUDIENCE_REVIEW)
        async with _review_channel(environ) as channel:
            stub = review_pb2_grpc.ReviewServiceStub(channel)
            if arguments.command == "bounty":
                return await _bounty(stub, metadata, arguments)
            if arguments.command == "outbox":
                return await _outbox(stub, metadata, arguments)
            if arguments.command == "redrive":
                return await _redrive(stub, metadata, arguments)
            if arguments.command == "treasury":
                return await _treasury(stub, metadata, arguments)
    except ctl.Usage as problem:
        print(f"tokenmartctl: {problem}", file=sys.stderr)
        return 2
    except grpc.aio.AioRpcError as error:
        reason = error_reason(error) or error.code().name
        print(f"tokenmartctl: refused: {reason}: {error.details()}", file=sys.stderr)
        return 1
    raise AssertionError(f"unknown review command {arguments.command!r}")


# -- plumbing -----------------------------------------------------------------------------------


def _review_channel(environ: Mapping[str, str]) -> grpc.aio.Channel:
    return open_channel(
        ctl._target(environ, "review", timeout_s=60.0),
        ctl._tls(environ),
        full_service_name=REVIEW_SERVICE,
    )


async def _operator_token(
    environ: Mapping[str, str], audience: auth_pb2.Audience
) -> tuple[tuple[str, str], ...]:
    async with ctl._channel(environ, "auth") as channel:
        issued = await auth_pb2_grpc.AuthServiceStub(channel).IssueServiceToken(
            auth_pb2.IssueServiceTokenRequest(audiences=[audience])
        )
    return (("authorization", f"Bearer {issued.access_token}"),)


def _json(message: Message) -> str:
    return json.dumps(
        json_format.MessageToDict(message, preserving_proto_field_name=True), indent=2
    )


def _name(enum: Any, value: int, prefix: str) -> str:
    return str(enum.Name(value)).removeprefix(prefix).lower()


def _entry_line(entry: review_pb2.OutboxEntry) -> str:
    status = _name(review_pb2.OutboxStatus, entry.status, "OUTBOX_STATUS_")
    kind = _name(review_pb2.OutboxKind, entry.kind, "OUTBOX_KIND_")
    error = f" last_error={entry.last_error_reason}" if entry.last_error_reason else ""
    return (
        f"  {entry.entry_id} {kind} {status} total={entry.total_micros} "
        f"transfers={len(entry.transfers)} attempts={entry.attempts}{error}"
    )


async def _entries(
    stub: review_pb2_grpc.ReviewServiceStub,
    metadata: tuple[tuple[str, str], ...],
    *,
    statuses: list[review_pb2.OutboxStatus],
    bounty_id: str,
) -> list[review_pb2.OutboxEntry]:
    found: list[review_pb2.OutboxEntry] = []
    token = ""
    for _ in range(PAGES_MAX):
        page = await stub.ListOutbox(
            review_pb2.ListOutboxRequest(
                page_size=PAGE_SIZE, page_token=token, statuses=statuses, bounty_id=bounty_id
            ),
            metadata=metadata,
        )
        found.extend(page.entries)
        token = page.next_page_token
        if not token:
            break
    return found


# -- commands -----------------------------------------------------------------------------------


async def _bounty(
    stub: review_pb2_grpc.ReviewServiceStub,
    metadata: tuple[tuple[str, str], ...],
    arguments: argparse.Namespace,
) -> int:
    response = await stub.GetBounty(
        review_pb2.GetBountyRequest(bounty_id=arguments.bounty_id), metadata=metadata
    )
    entries = await _entries(stub, metadata, statuses=[], bounty_id=arguments.bounty_id)
    if arguments.json:
        payload = json_format.MessageToDict(response, preserving_proto_field_name=True)
        payload["outbox"] = [
            json_format.MessageToDict(entry, preserving_proto_field_name=True) for entry in entries
        ]
        print(json.dumps(payload, indent=2))
        return 0
    bounty = response.bounty
    lines = [
        f"bounty {bounty.bounty_id} {bounty.title!r}",
        f"  status={_name(review_pb2.BountyStatus, bounty.status, 'BOUNTY_STATUS_')} "
        f"type={_name(review_pb2.BountyType, bounty.type, 'BOUNTY_TYPE_')} "
        f"slots={bounty.claims_taken}/{bounty.max_claims} settled={bounty.claims_settled} "
        f"refunded={bounty.slots_refunded}",
        f"  reward={bounty.reward_micros} reviewer_reward={bounty.reviewer_reward_micros} "
        f"quorum={bounty.votes_to_decide}/{bounty.reviewers_per_claim} "
        f"escrow={bounty.escrow_micros} outstanding={bounty.escrow_outstanding_micros}",
        f"claims ({len(response.claims)}):",
    ]
    for claim in response.claims:
        lines.append(
            f"  {claim.claim_id} agent={claim.agent_id} "
            f"status={_name(review_pb2.ClaimStatus, claim.status, 'CLAIM_STATUS_')} "
            f"votes={claim.approvals}+/{claim.rejections}- "
            f"payout={_name(review_pb2.PayoutStatus, claim.payout_status, 'PAYOUT_STATUS_')}"
            + (" awaiting_reviewers" if claim.awaiting_reviewers else "")
        )
        for review in claim.reviews:
            decision = (
                _name(review_pb2.ReviewDecision, review.decision, "REVIEW_DECISION_")
                if review.decision
                else "-"
            )
            lines.append(
                f"    review {review.review_id} reviewer={review.reviewer_agent_id} "
                f"status={_name(review_pb2.ReviewStatus, review.status, 'REVIEW_STATUS_')} "
                f"decision={decision}"
            )
    lines.append(f"outbox ({len(entries)}):")
    lines.extend(_entry_line(entry) for entry in entries)
    print("\n".join(lines))
    return 0


async def _outbox(
    stub: review_pb2_grpc.ReviewServiceStub,
    metadata: tuple[tuple[str, str], ...],
    arguments: argparse.Namespace,
) -> int:
    entries = await _entries(
        stub,
        metadata,
        statuses=[_STATUSES[status] for status in arguments.status],
        bounty_id=arguments.bounty,
    )
    if arguments.json:
        print(
            json.dumps(
                [
                    json_format.MessageToDict(entry, preserving_proto_field_name=True)
                    for entry in entries
                ],
                indent=2,
            )
        )
        return 0
    print(f"outbox: {len(entries)} entries")
    for entry in entries:
        print(_entry_line(entry))
    return 0


async def _redrive(
    stub: review_pb2_grpc.ReviewServiceStub,
    metadata: tuple[tuple[str, str], ...],
    arguments: argparse.Namespace,
) -> int:
    if arguments.limit < 0:
        raise ctl.Usage("--limit must be at least 0")
    response = await stub.RedriveOutbox(
        review_pb2.RedriveOutboxRequest(
            request_id=str(uuid.uuid4()), entry_ids=arguments.entry_ids, limit=arguments.limit
        ),
        metadata=metadata,
    )
    delivered = 0
    for outcome in response.outcomes:
        status = _name(review_pb2.OutboxStatus, outcome.status, "OUTBOX_STATUS_")
        if outcome.status == review_pb2.OUTBOX_STATUS_DELIVERED:
            delivered += 1
        reason = f" ({outcome.error_reason})" if outcome.error_reason else ""
        print(f"  {outcome.entry_id} {status}{reason}")
    print(
        f"redrive: {delivered} of {len(response.outcomes)} delivered; "
        f"{response.remaining_undelivered} undelivered in the outbox"
    )
    return 0 if delivered == len(response.outcomes) else UNDELIVERED


async def _treasury(
    stub: review_pb2_grpc.ReviewServiceStub,
    metadata: tuple[tuple[str, str], ...],
    arguments: argparse.Namespace,
) -> int:
    response = await stub.GetTreasury(review_pb2.GetTreasuryRequest(), metadata=metadata)
    if arguments.json:
        print(_json(response))
        return 0
    print(
        f"treasury {response.treasury_ledger_account_id}: "
        f"{response.treasury_balance_micros} available\n"
        f"escrow: {response.escrow_balance_micros} held, "
        f"{response.escrow_outstanding_micros} owed to bounties, "
        f"{response.escrow_undelivered_micros} in {response.undelivered_outbox_entries} "
        f"undelivered payouts, {response.escrow_unassigned_micros} unassigned"
    )
    return 0


async def _fund_treasury(arguments: argparse.Namespace, environ: Mapping[str, str]) -> int:
    if arguments.amount_micros <= 0:
        raise ctl.Usage("--amount-micros must be positive")
    request_id = arguments.request_id or str(uuid.uuid4())
    try:
        transfer_id = uuid.uuid5(_TREASURY_MINTS, str(uuid.UUID(request_id)))
    except ValueError:
        raise ctl.Usage("--request-id must be a UUID") from None
    metadata = await _operator_token(environ, auth_pb2.AUDIENCE_WALLET)
    async with open_channel(
        ctl._target(environ, "wallet"), ctl._tls(environ), full_service_name=WALLET_SERVICE
    ) as channel:
        response = await wallet_pb2_grpc.WalletServiceStub(channel).Mint(
            wallet_pb2.MintRequest(
                request_id=str(uuid.uuid4()),
                transfer_id=str(transfer_id),
                to=wallet_pb2.AccountRef(system_account=wallet_pb2.ACCOUNT_KIND_TREASURY),
                amount_micros=arguments.amount_micros,
                reason=arguments.reason,
            ),
            metadata=metadata,
        )
    replayed = response.result == wallet_pb2.CREATE_TRANSFER_RESULT_EXISTS
    print(
        f"{'already minted' if replayed else 'minted'} {response.transfer.amount_micros} into "
        f"the treasury (transfer {response.transfer.transfer_id}, request id {request_id}); "
        f"treasury balance {response.balance_micros}"
    )
    return 0

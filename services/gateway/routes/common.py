"""What every route module shares: the JSON response type and the edge context."""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict
from starlette.responses import Response
from tokenmart.auth.v1 import auth_pb2_grpc
from tokenmart.provider.v1 import provider_pb2_grpc
from tokenmart.review.v1 import review_pb2_grpc
from tokenmart.wallet.v1 import wallet_pb2_grpc

from services.gateway.authn import Authenticator
from services.gateway.ratelimit_guard import EdgeLimits


class Body(BaseModel):
    """Base of every request body: unknown fields are refused, strings are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True)


def json_response(payload: dict[str, Any], status: int = HTTPStatus.OK) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


@dataclass(frozen=True)
class Edge:
    """The collaborators routes need: the backends' stubs, the authenticator and the limits."""

    auth: auth_pb2_grpc.AuthServiceStub
    wallet: wallet_pb2_grpc.WalletServiceStub
    review: review_pb2_grpc.ReviewServiceStub
    authenticator: Authenticator
    limits: EdgeLimits
    provider: provider_pb2_grpc.ProviderServiceStub | None = None

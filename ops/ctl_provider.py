"""``tokenmartctl provider ...``: the model registry, KEK rotation, settlement re-drive, and the
generation log. Hooked into :mod:`ops.ctl` by ``add_commands`` and ``run``.

    tokenmartctl provider models list [--all] [--json]
    tokenmartctl provider models show MODEL_ID [--json]
    tokenmartctl provider models upsert --model-id ID --display-name NAME --provider P
        --upstream-model NAME --input-price-micros N --output-price-micros N
        --context-length N --max-output-tokens N [--description TEXT] [--no-streaming]
        [--no-tools] [--no-vision] [--inactive] [--expected-revision N]
    tokenmartctl provider models activate|deactivate MODEL_ID
    tokenmartctl provider rotate-kek [--target-version N] [--batch N]
    tokenmartctl provider unsettled [--older-than-s N] [--json]
    tokenmartctl provider settle [GENERATION_ID ...] [--limit N]
    tokenmartctl provider generation GENERATION_ID [--json]

Prices are micro-credits per million tokens (1 credit = 1,000,000 micro-credits) and must be
positive: provider refuses a zero price, so no model is ever free by mistake.

``rotate-kek`` re-wraps every BYOK data key under the target KEK version (default: provider's
primary), batch after batch, until none is left; it is idempotent and resumable, so an
interrupted run is simply run again. Keys that cannot be unwrapped are printed and left alone.

Each command authenticates like every ctl command: the ``ctl`` certificate, and a service token
(scope ``operator``) that auth issues to it. The provider's address is
``TOKENMART_CTL_PROVIDER_TARGET`` (default ``127.0.0.1:$TOKENMART_PROVIDER_PORT`` or 50053).

Exit status: 0 on success, 1 when provider refused (the reason is printed), 2 for bad usage,
3 when ``rotate-kek`` could not re-wrap every key or ``settle`` left generations unsettled.
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
from tokenmart.provider.v1 import provider_pb2, provider_pb2_grpc

from ops import ctl
from services.common.client import open_channel
from services.common.status import error_reason

PROVIDER_SERVICE = "tokenmart.provider.v1.ProviderService"
INCOMPLETE = 3
PAGE_SIZE = 200
PAGES_MAX = 100
ROTATION_ROUNDS_MAX = 10_000
PROVIDERS = {
    "openai": provider_pb2.UPSTREAM_PROVIDER_OPENAI,
    "anthropic": provider_pb2.UPSTREAM_PROVIDER_ANTHROPIC,
    "openrouter": provider_pb2.UPSTREAM_PROVIDER_OPENROUTER,
}
Metadata = tuple[tuple[str, str], ...]


def add_commands(subparsers: Any) -> None:
    """Add ``provider`` and its commands to tokenmartctl's top-level subparsers."""
    provider = subparsers.add_parser("provider", help="models, BYOK KEK rotation, settlement")
    commands = provider.add_subparsers(dest="command", required=True)

    models = commands.add_parser("models", help="the model registry")
    model_commands = models.add_subparsers(dest="models_command", required=True)
    listing = model_commands.add_parser("list", help="every model, by id")
    listing.add_argument("--all", action="store_true", help="include inactive models")
    listing.add_argument("--json", action="store_true")
    show = model_commands.add_parser("show", help="one model")
    show.add_argument("model_id")
    show.add_argument("--json", action="store_true")
    upsert = model_commands.add_parser("upsert", help="create a model or replace its fields")
    upsert.add_argument("--model-id", required=True)
    upsert.add_argument("--display-name", required=True)
    upsert.add_argument("--description", default="")
    upsert.add_argument("--provider", required=True, choices=sorted(PROVIDERS))
    upsert.add_argument("--upstream-model", required=True)
    upsert.add_argument("--input-price-micros", type=int, required=True)
    upsert.add_argument("--output-price-micros", type=int, required=True)
    upsert.add_argument("--context-length", type=int, required=True)
    upsert.add_argument("--max-output-tokens", type=int, required=True)
    upsert.add_argument("--no-streaming", action="store_true")
    upsert.add_argument("--no-tools", action="store_true")
    upsert.add_argument("--no-vision", action="store_true")
    upsert.add_argument("--inactive", action="store_true")
    upsert.add_argument("--expected-revision", type=int, default=None)
    for verb in ("activate", "deactivate"):
        toggle = model_commands.add_parser(verb, help=f"{verb} a model")
        toggle.add_argument("model_id")

    rotate = commands.add_parser(
        "rotate-kek", help="re-wrap every BYOK data key under the newest KEK (resumable)"
    )
    rotate.add_argument("--target-version", type=int, default=0)
    rotate.add_argument("--batch", type=int, default=500, help="keys per call")

    unsettled = commands.add_parser("unsettled", help="generations whose billing is pending")
    unsettled.add_argument("--older-than-s", type=float, default=None)
    unsettled.add_argument("--json", action="store_true")

    settle = commands.add_parser("settle", help="settle pending generations now")
    settle.add_argument("generation_ids", nargs="*")
    settle.add_argument("--limit", type=int, default=100)

    generation = commands.add_parser("generation", help="one generation's log record")
    generation.add_argument("generation_id")
    generation.add_argument("--json", action="store_true")


async def run(arguments: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """Run one ``provider`` command; returns the exit status."""
    try:
        _check(arguments)
        metadata = await _operator_token(environ)
        async with _provider_channel(environ) as channel:
            stub = provider_pb2_grpc.ProviderServiceStub(channel)
            if arguments.command == "models":
                return await _models(stub, metadata, arguments)
            if arguments.command == "rotate-kek":
                return await _rotate(stub, metadata, arguments)
            if arguments.command == "unsettled":
                return await _unsettled(stub, metadata, arguments)
            if arguments.command == "settle":
                return await _settle(stub, metadata, arguments)
            if arguments.command == "generation":
                return await _generation(stub, metadata, arguments)
    except ctl.Usage as problem:
        print(f"tokenmartctl: {problem}", file=sys.stderr)
        return 2
    except grpc.aio.AioRpcError as error:
        reason = error_reason(error) or error.code().name
        print(f"tokenmartctl: refused: {reason}: {error.details()}", file=sys.stderr)
        return 1
    raise AssertionError(f"unknown provider command {arguments.command!r}")


# -- plumbing -----------------------------------------------------------------------------------


def _check(arguments: argparse.Namespace) -> None:
    if arguments.command == "rotate-kek":
        if arguments.target_version < 0:
            raise ctl.Usage("--target-version must be at least 0")
        if arguments.batch < 1:
            raise ctl.Usage("--batch must be at least 1")
    if arguments.command == "settle" and arguments.limit < 0:
        raise ctl.Usage("--limit must be at least 0")
    if arguments.command == "unsettled" and (arguments.older_than_s or 0) < 0:
        raise ctl.Usage("--older-than-s must be at least 0")


def _provider_channel(environ: Mapping[str, str]) -> grpc.aio.Channel:
    return open_channel(
        ctl._target(environ, "provider", timeout_s=120.0),
        ctl._tls(environ),
        full_service_name=PROVIDER_SERVICE,
    )


async def _operator_token(environ: Mapping[str, str]) -> Metadata:
    async with ctl._channel(environ, "auth") as channel:
        issued = await auth_pb2_grpc.AuthServiceStub(channel).IssueServiceToken(
            auth_pb2.IssueServiceTokenRequest(audiences=[auth_pb2.AUDIENCE_PROVIDER])
        )
    return (("authorization", f"Bearer {issued.access_token}"),)


def _json(message: Message) -> str:
    return json.dumps(
        json_format.MessageToDict(message, preserving_proto_field_name=True), indent=2
    )


def _name(enum: Any, value: int, prefix: str) -> str:
    return str(enum.Name(value)).removeprefix(prefix).lower()


def _model_line(model: provider_pb2.Model) -> str:
    flags = ",".join(
        name
        for name, on in (
            ("streaming", model.supports_streaming),
            ("tools", model.supports_tools),
            ("vision", model.supports_vision),
        )
        if on
    )
    return (
        f"{model.model_id:<40} {'active' if model.active else 'INACTIVE':<8} "
        f"{_name(provider_pb2.UpstreamProvider, model.provider, 'UPSTREAM_PROVIDER_'):<10} "
        f"{model.upstream_model:<34} in={model.price_per_million_input_tokens_micros}/M "
        f"out={model.price_per_million_output_tokens_micros}/M ctx={model.context_length} "
        f"max_out={model.max_output_tokens} [{flags}] rev={model.revision}"
    )


# -- commands -----------------------------------------------------------------------------------


async def _models(
    stub: provider_pb2_grpc.ProviderServiceStub, metadata: Metadata, arguments: argparse.Namespace
) -> int:
    verb = arguments.models_command
    if verb == "list":
        found: list[provider_pb2.Model] = []
        token = ""
        for _ in range(PAGES_MAX):
            page = await stub.ListModels(
                provider_pb2.ListModelsRequest(
                    page_size=PAGE_SIZE, page_token=token, include_inactive=arguments.all
                ),
                metadata=metadata,
            )
            found.extend(page.models)
            token = page.next_page_token
            if not token:
                break
        if arguments.json:
            print(_json(provider_pb2.ListModelsResponse(models=found)))
        else:
            print("\n".join(_model_line(model) for model in found) or "no models")
        return 0
    if verb == "show":
        response = await stub.GetModel(
            provider_pb2.GetModelRequest(model_id=arguments.model_id), metadata=metadata
        )
        print(_json(response.model) if arguments.json else _model_line(response.model))
        return 0
    if verb == "upsert":
        request = provider_pb2.UpsertModelRequest(
            request_id=str(uuid.uuid4()),
            model=provider_pb2.Model(
                model_id=arguments.model_id,
                display_name=arguments.display_name,
                description=arguments.description,
                provider=PROVIDERS[arguments.provider],
                upstream_model=arguments.upstream_model,
                price_per_million_input_tokens_micros=arguments.input_price_micros,
                price_per_million_output_tokens_micros=arguments.output_price_micros,
                context_length=arguments.context_length,
                max_output_tokens=arguments.max_output_tokens,
                supports_streaming=not arguments.no_streaming,
                supports_tools=not arguments.no_tools,
                supports_vision=not arguments.no_vision,
                active=not arguments.inactive,
            ),
        )
        if arguments.expected_revision is not None:
            request.expected_revision = arguments.expected_revision
        upserted = await stub.UpsertModel(request, metadata=metadata)
        print(f"{'created' if upserted.created else 'updated'}: {_model_line(upserted.model)}")
        return 0
    toggled = await stub.SetModelActive(
        provider_pb2.SetModelActiveRequest(
            request_id=str(uuid.uuid4()),
            model_id=arguments.model_id,
            active=verb == "activate",
        ),
        metadata=metadata,
    )
    print(_model_line(toggled.model))
    return 0


async def _rotate(
    stub: provider_pb2_grpc.ProviderServiceStub, metadata: Metadata, arguments: argparse.Namespace
) -> int:
    rewrapped = 0
    failed: set[str] = set()
    response = provider_pb2.RotateKekResponse()
    for _ in range(ROTATION_ROUNDS_MAX):
        response = await stub.RotateKek(
            provider_pb2.RotateKekRequest(
                request_id=str(uuid.uuid4()),
                target_kek_version=arguments.target_version,
                max_keys=arguments.batch,
            ),
            metadata=metadata,
        )
        rewrapped += response.rewrapped
        failed.update(response.failed_provider_key_ids)
        # Done when nothing is left, or when what is left is only keys that cannot be unwrapped.
        if response.remaining == 0 or response.rewrapped == 0:
            break
    counts = ", ".join(
        f"v{item.kek_version}: {item.key_count}" for item in response.keys_by_version
    )
    print(
        f"re-wrapped {rewrapped} keys under KEK version {response.target_kek_version}; "
        f"remaining {response.remaining}; keys by version: {counts or 'none'}"
    )
    for key_id in sorted(failed):
        print(f"  FAILED {key_id}: its data key cannot be unwrapped with any configured KEK")
    return 0 if response.remaining == 0 else INCOMPLETE


def _generation_line(generation: provider_pb2.Generation) -> str:
    usage = generation.usage
    status = _name(provider_pb2.GenerationStatus, generation.status, "GENERATION_STATUS_")
    settlement = _name(
        provider_pb2.SettlementStatus, generation.settlement_status, "SETTLEMENT_STATUS_"
    )
    line = (
        f"  {generation.generation_id} status={status} settlement={settlement} "
        f"model={generation.model_requested} tokens={usage.input_tokens}/{usage.output_tokens} "
        f"held={generation.held_micros} charged={generation.charged_micros} "
        f"attempts={generation.settlement_attempts}"
    )
    if generation.last_settlement_error:
        line += f" last_error={generation.last_settlement_error}"
    return line


async def _unsettled(
    stub: provider_pb2_grpc.ProviderServiceStub, metadata: Metadata, arguments: argparse.Namespace
) -> int:
    request = provider_pb2.ListUnsettledRequest(page_size=PAGE_SIZE)
    if arguments.older_than_s is not None:
        request.older_than.FromMilliseconds(int(arguments.older_than_s * 1000))
    found: list[provider_pb2.Generation] = []
    total = 0
    for _ in range(PAGES_MAX):
        page = await stub.ListUnsettled(request, metadata=metadata)
        found.extend(page.generations)
        total = page.total_unsettled
        if not page.next_page_token:
            break
        request.page_token = page.next_page_token
    if arguments.json:
        print(_json(provider_pb2.ListUnsettledResponse(generations=found, total_unsettled=total)))
        return 0
    print(f"{total} generations unsettled")
    for generation in found:
        print(_generation_line(generation))
    return 0


async def _settle(
    stub: provider_pb2_grpc.ProviderServiceStub, metadata: Metadata, arguments: argparse.Namespace
) -> int:
    response = await stub.SettlePending(
        provider_pb2.SettlePendingRequest(
            request_id=str(uuid.uuid4()),
            generation_ids=arguments.generation_ids,
            limit=arguments.limit,
        ),
        metadata=metadata,
    )
    unsettled = 0
    for outcome in response.outcomes:
        status = _name(
            provider_pb2.SettlementStatus, outcome.settlement_status, "SETTLEMENT_STATUS_"
        )
        if outcome.settlement_status == provider_pb2.SETTLEMENT_STATUS_PENDING:
            unsettled += 1
        print(
            f"  {outcome.generation_id} {status} charged={outcome.charged_micros} "
            f"shortfall={outcome.shortfall_micros}"
            + (f" reason={outcome.error_reason}" if outcome.error_reason else "")
        )
    print(
        f"settled {len(response.outcomes) - unsettled} of {len(response.outcomes)} attempted; "
        f"{response.remaining_unsettled} generations remain unsettled"
    )
    return INCOMPLETE if unsettled else 0


async def _generation(
    stub: provider_pb2_grpc.ProviderServiceStub, metadata: Metadata, arguments: argparse.Namespace
) -> int:
    response = await stub.GetGeneration(
        provider_pb2.GetGenerationRequest(generation_id=arguments.generation_id),
        metadata=metadata,
    )
    print(_json(response.generation) if arguments.json else _generation_line(response.generation))
    return 0

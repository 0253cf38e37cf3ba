"""Units of the trace context and the metrics settings: the W3C ``traceparent`` accepted only in
its canonical form, the trace id on every JSON log line, and ``METRICS_LISTEN`` validated."""

from __future__ import annotations

import contextvars
import io
import json
import logging

import pytest

from services.common.logging import JsonFormatter, bind_request_id, reset_request_id
from services.common.settings import SettingsError, service_env
from services.common.settings import metrics_listen as read_metrics_listen
from services.common.tracing import (
    Trace,
    bind_trace,
    current_trace_id,
    outgoing_traceparent,
    parse_traceparent,
    reset_trace,
)
from services.gateway.metrics import method_label

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_a_canonical_traceparent_is_parsed_and_a_child_keeps_its_trace() -> None:
    parent = parse_traceparent(VALID)
    assert parent == Trace("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "01")
    child = Trace.child_of(VALID)
    assert (child.trace_id, child.flags) == (parent.trace_id, "01")
    assert child.span_id != parent.span_id
    assert parse_traceparent(child.traceparent) == child
    unsampled = Trace.child_of(VALID[:-2] + "00")
    assert unsampled.flags == "00"


@pytest.mark.parametrize(
    "value",
    [
        VALID.upper(),
        VALID + "-00",
        VALID[:-1],
        " " + VALID,
        "00-" + "0" * 32 + "-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-" + "0" * 16 + "-01",
        "ff" + VALID[2:],
        "cc" + VALID[2:],
        VALID.replace("-", "_"),
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        "",
    ],
)
def test_anything_but_a_canonical_version_00_traceparent_is_refused(value: str) -> None:
    assert parse_traceparent(value) is None
    minted = Trace.child_of(value)
    assert parse_traceparent(minted.traceparent) == minted
    assert minted.trace_id not in value.lower()


def test_outgoing_calls_carry_a_child_of_the_bound_trace_or_start_one() -> None:
    unbound = parse_traceparent(outgoing_traceparent())
    assert unbound is not None
    trace = Trace.mint()
    token = bind_trace(trace)
    try:
        first, second = (parse_traceparent(outgoing_traceparent()) for _ in range(2))
    finally:
        reset_trace(token)
    assert first is not None and second is not None
    assert first.trace_id == second.trace_id == trace.trace_id
    assert len({first.span_id, second.span_id, trace.span_id}) == 3
    assert current_trace_id() == ""


def test_unbinding_from_another_context_is_harmless_and_leaves_that_context_alone() -> None:
    """A streaming handler whose client went away is finalised by the event loop in a fresh
    task's context; its ``finally`` must neither raise nor disturb the context it runs in."""
    trace = Trace.mint()
    trace_token = bind_trace(trace)
    request_token = bind_request_id("req-streaming")
    try:
        elsewhere = contextvars.Context()
        elsewhere.run(reset_trace, trace_token)
        elsewhere.run(reset_request_id, request_token)
        assert elsewhere.run(current_trace_id) == ""
        assert current_trace_id() == trace.trace_id
    finally:
        reset_trace(trace_token)
        reset_request_id(request_token)
    assert current_trace_id() == ""


def test_every_log_line_carries_the_trace_id_next_to_the_request_id() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("wallet"))
    logger = logging.getLogger("tests.observability.tracing")
    logger.addHandler(handler)
    logger.propagate = False
    trace = Trace.mint()
    request_token = bind_request_id("req-1")
    trace_token = bind_trace(trace)
    try:
        logger.warning("inside")
    finally:
        reset_trace(trace_token)
        reset_request_id(request_token)
    logger.warning("outside")
    logger.removeHandler(handler)
    inside, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (inside["request_id"], inside["trace_id"]) == ("req-1", trace.trace_id)
    assert "trace_id" not in outside and "request_id" not in outside


@pytest.mark.parametrize("value", ["0.0.0.0:9464", "127.0.0.1:0", "[::]:9464", "metrics:9464"])
def test_metrics_listen_takes_host_and_port(value: str) -> None:
    env = service_env("wallet", {"TOKENMART_WALLET_METRICS_LISTEN": value})
    assert read_metrics_listen(env) == value


@pytest.mark.parametrize("value", ["9464", "0.0.0.0", "0.0.0.0:99999", "host:port", "[::]9464"])
def test_a_malformed_metrics_listen_fails_fast_naming_the_variable(value: str) -> None:
    env = service_env("wallet", {"TOKENMART_WALLET_METRICS_LISTEN": value})
    with pytest.raises(SettingsError, match="TOKENMART_WALLET_METRICS_LISTEN"):
        read_metrics_listen(env)


def test_no_metrics_listen_means_no_listener() -> None:
    assert read_metrics_listen(service_env("wallet", {})) is None


def test_http_methods_outside_the_standard_set_share_one_label() -> None:
    assert method_label("GET") == "GET"
    assert method_label("PROPFIND") == "OTHER"
    assert method_label("get") == "OTHER"

"""The soak's own judgement, without a stack: the retry rule that makes every operation end with
a definite answer, what counts as a leaked internal in a 5xx, and the fault plan.

The retry rule is driven through ``httpx.MockTransport`` standing in for the gateway's answers
(the soak itself runs against the real stack in ``test_soak.py``).
"""

from __future__ import annotations

import random

import httpx
import pytest

from bench.soak.client import Gateway
from bench.soak.faults import FAULTS, plan
from bench.soak.records import Records, State


def _gateway(answers: list[httpx.Response], seen: list[httpx.Request]) -> Gateway:
    gateway = Gateway("http://gateway.test", Records(), random.Random(1))

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers.pop(0)

    gateway.http = httpx.AsyncClient(
        base_url="http://gateway.test", transport=httpx.MockTransport(handle)
    )
    return gateway


def _error(status: int, reason: str) -> httpx.Response:
    return httpx.Response(
        status, json={"error": {"code": status, "message": "m", "reason": reason}}
    )


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bench.soak.client.BACKOFF_BASE_S", 0.0)


async def test_an_operation_is_retried_with_the_same_key_until_definite() -> None:
    seen: list[httpx.Request] = []
    answers = [
        _error(503, "UNAVAILABLE"),
        _error(409, "CONCURRENT_UPDATE"),
        httpx.Response(429, headers={"retry-after": "0"}, json={"error": {"reason": "X"}}),
        httpx.Response(201, json={"transfer": {"id": "t-1"}, "replayed": False}),
    ]
    gateway = _gateway(answers, seen)
    answer = await gateway.idempotent(
        "transfer", "POST", "/api/v1/tokenhall/transfers", key="k-1", json={"amount_micros": 5}
    )
    await gateway.close()
    assert answer.state is State.DONE
    assert answer.attempts == 4
    assert [request.headers["idempotency-key"] for request in seen] == ["k-1"] * 4
    assert len({request.content for request in seen}) == 1
    assert gateway.records.operations["transfer"] == {"done": 1}


@pytest.mark.parametrize(
    ("response", "conflicts"),
    [
        (_error(402, "INSUFFICIENT_FUNDS"), 0),
        (_error(409, "REQUEST_ID_CONFLICT"), 1),
        (_error(409, "EXISTS_WITH_DIFFERENT_AMOUNT"), 1),
    ],
)
async def test_a_4xx_is_definite_and_a_conflicting_replay_is_counted(
    response: httpx.Response, conflicts: int
) -> None:
    seen: list[httpx.Request] = []
    gateway = _gateway([response], seen)
    answer = await gateway.idempotent("transfer", "POST", "/t", key="k-2", json={})
    await gateway.close()
    assert answer.state is State.REFUSED
    assert answer.attempts == 1
    assert answer.conflicts == conflicts


async def test_an_operation_without_a_definite_answer_is_left_ambiguous() -> None:
    seen: list[httpx.Request] = []
    gateway = _gateway([_error(503, "UNAVAILABLE") for _ in range(3)], seen)
    answer = await gateway.idempotent("grant", "POST", "/g", key="k-3", json={}, window_s=0.0)
    await gateway.close()
    assert answer.state is State.AMBIGUOUS
    assert gateway.records.operations["grant"] == {"ambiguous": 1}


@pytest.mark.parametrize(
    "body",
    [
        'Traceback (most recent call last):\n  File "/app/x.py", line 3',
        '{"error": {"message": "psycopg.OperationalError: server closed"}}',
        '{"error": {"message": "failed to connect to all addresses; ipv4:127.0.0.1:50052"}}',
        "<html><body>502 Bad Gateway</body></html>",
        '{"detail": "Internal Server Error"}',
    ],
)
def test_a_5xx_showing_internals_or_no_envelope_is_a_leak(body: str) -> None:
    records = Records()
    records.check_body("transfer", 500, body)
    assert len(records.leaks) == 1
    assert records.server_errors["transfer"] == 1


def test_a_5xx_envelope_with_a_plain_message_is_no_leak() -> None:
    records = Records()
    for text in (
        '{"error": {"code": 503, "message": "a backend service is unavailable; retry later",'
        ' "reason": "UNAVAILABLE"}}',
        '{"error": {"message": "the deadline passed", "type": "server_error", "code": "x"}}',
        '{"type": "error", "error": {"type": "api_error", "message": "internal error"}}',
    ):
        records.check_body("inference", 503, text)
    records.check_body("inference", 404, "Traceback: a 4xx is not inspected")
    assert records.leaks == []
    assert records.server_errors["inference"] == 3


def test_every_fault_comes_once_per_round_in_a_seeded_order() -> None:
    faults = plan(random.Random(5), rounds=3)
    assert len(faults) == 3 * len(FAULTS)
    for start in range(0, len(faults), len(FAULTS)):
        assert sorted(faults[start : start + len(FAULTS)]) == sorted(FAULTS)
    assert faults == plan(random.Random(5), rounds=3)

"""The stand-in upstream speaks the real wire formats: the official ``openai`` and ``anthropic``
SDKs talk to it unchanged (streaming included), it checks requests as the real APIs do, and its
switches produce the failures the provider tests rely on."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import anthropic
import httpx
import openai
import pytest

from ops.database import REPO_ROOT
from services.provider.standin.scenario import words
from tests.conftest import StandinHandle

KEY = "sk-standin-test-0000"


def _openai(standin: StandinHandle, upstream: str = "openai") -> openai.OpenAI:
    return openai.OpenAI(api_key=KEY, base_url=standin.base_urls[upstream], max_retries=0)


def _anthropic(standin: StandinHandle) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=KEY, base_url=f"{standin.origin}/anthropic", max_retries=0)


def test_openai_sdk_non_streaming_and_deterministic(standin_upstream: StandinHandle) -> None:
    client = _openai(standin_upstream)
    messages = [{"role": "user", "content": "Hello there [standin:tokens=6]"}]
    first = client.chat.completions.create(model="gpt-4o-mini", messages=messages)  # type: ignore[arg-type]
    again = client.chat.completions.create(model="gpt-4o-mini", messages=messages)  # type: ignore[arg-type]
    assert first.choices[0].message.content == again.choices[0].message.content
    assert first.choices[0].message.content == " ".join(
        words(["Hello there [standin:tokens=6]"], 6)
    )
    assert first.usage is not None and first.usage.completion_tokens == 6
    assert first.usage.prompt_tokens == 8 + 3  # ceil(30 bytes / 4) + 3 per message
    assert first.choices[0].finish_reason == "stop"


def test_openai_sdk_streaming_with_usage(standin_upstream: StandinHandle) -> None:
    client = _openai(standin_upstream)
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "[standin:tokens=5]"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert len(text.split()) == 5
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 5


def test_openrouter_speaks_openai_with_cost_and_keep_alive_comments(
    standin_upstream: StandinHandle,
) -> None:
    client = _openai(standin_upstream, "openrouter")
    answer = client.chat.completions.create(
        model="meta-llama/llama-3.3-70b-instruct",
        messages=[{"role": "user", "content": "hi"}],
        extra_body={"usage": {"include": True}},
    )
    assert answer.model_extra is not None and answer.model_extra["provider"] == "StandIn"
    assert answer.usage is not None and answer.usage.model_extra is not None
    assert answer.usage.model_extra["cost"] > 0
    raw = httpx.post(
        f"{standin_upstream.base_urls['openrouter']}/chat/completions",
        headers={"Authorization": f"Bearer {KEY}"},
        json={"model": "x/y", "messages": [{"role": "user", "content": "hi"}], "stream": True},
    )
    assert raw.text.startswith(": OPENROUTER PROCESSING\n\n")
    stream = list(
        client.chat.completions.create(
            model="x/y", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    )
    assert stream[0].choices[0].delta.role == "assistant"


def test_anthropic_sdk_messages_tools_and_streams(standin_upstream: StandinHandle) -> None:
    client = _anthropic(standin_upstream)
    tool = {
        "name": "lookup",
        "description": "Look it up.",
        "input_schema": {"type": "object", "properties": {"word": {"type": "string"}}},
    }
    called = client.messages.create(
        model="claude-3-5-haiku-20241022",
        max_tokens=100,
        messages=[{"role": "user", "content": "find it [standin:tool]"}],
        tools=[tool],  # type: ignore[list-item]
    )
    assert called.stop_reason == "tool_use"
    tool_use = called.content[-1]
    assert tool_use.type == "tool_use" and tool_use.input == {"word": "standin"}
    follow_up = client.messages.create(
        model="claude-3-5-haiku-20241022",
        max_tokens=100,
        tools=[tool],  # type: ignore[list-item]
        messages=[
            {"role": "user", "content": "find it"},
            {"role": "assistant", "content": [block.model_dump() for block in called.content]},  # type: ignore[misc]
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": tool_use.id, "content": "it is here"}
                ],
            },
        ],
    )
    assert follow_up.content[0].text == "Tool said: it is here"  # type: ignore[union-attr]
    with client.messages.stream(
        model="claude-sonnet-4-20250514",
        max_tokens=3,
        messages=[{"role": "user", "content": "[standin:tokens=9]"}],
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "max_tokens" and final.usage.output_tokens == 3


def test_requests_are_checked_as_the_real_apis_check_them(
    standin_upstream: StandinHandle,
) -> None:
    client = _anthropic(standin_upstream)
    for messages in (
        [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
        [
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t", "content": "x"}],
            }
        ],
        [{"role": "user", "content": [{"type": "text", "text": ""}]}],
    ):
        with pytest.raises(anthropic.BadRequestError):
            client.messages.create(model="m", max_tokens=5, messages=messages)  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError):
        _openai(standin_upstream).chat.completions.create(
            model="m",
            messages=[{"role": "tool", "tool_call_id": "nobody", "content": "x"}],
        )


@pytest.mark.parametrize(
    ("prompt", "key", "error"),
    [
        ("[standin:error=429]", KEY, openai.RateLimitError),
        ("[standin:error=500]", KEY, openai.InternalServerError),
        ("[standin:error=400]", KEY, openai.BadRequestError),
        ("hi", "sk-invalid-key-0000", openai.AuthenticationError),
        ("hi", "sk-ratelimited-0000", openai.RateLimitError),
    ],
)
def test_switches_produce_upstream_failures(
    standin_upstream: StandinHandle, prompt: str, key: str, error: type[Exception]
) -> None:
    client = openai.OpenAI(
        api_key=key, base_url=standin_upstream.base_urls["openai"], max_retries=0
    )
    with pytest.raises(error):
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": prompt}])


def test_a_stream_cut_mid_way_has_no_terminator(standin_upstream: StandinHandle) -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "user", "content": "[standin:tokens=20] [standin:disconnect_after=3]"}
        ],
        "stream": True,
    }
    received = bytearray()

    def read(response: httpx.Response) -> None:
        for piece in response.iter_bytes():
            received.extend(piece)

    with (
        httpx.stream(
            "POST",
            f"{standin_upstream.base_urls['openai']}/chat/completions",
            headers={"Authorization": f"Bearer {KEY}"},
            json=body,
        ) as response,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        read(response)
    # Three tokens arrived, then the connection ended: no finish chunk, no [DONE].
    assert received.count(b'"content":') == 4  # the role chunk and three tokens
    assert b"[DONE]" not in received


def test_the_request_log_finds_a_test_by_its_marker(standin_upstream: StandinHandle) -> None:
    tag = secrets.token_hex(6)
    _openai(standin_upstream).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": f"[standin:marker={tag}]"}]
    )
    mine = httpx.get(f"{standin_upstream.origin}/_standin/requests", params={"marker": tag}).json()
    assert len(mine) == 1 and mine[0]["path"] == "/openai/v1/chat/completions"
    assert mine[0]["key_sha256"] != KEY and len(mine[0]["key_sha256"]) == 64
    assert mine == standin_upstream.recorded(tag)


def test_it_runs_as_its_own_process(tmp_path: object) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "services.provider.standin", "--port", "0", "--workers", "2"],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("standin listening on http://127.0.0.1:")
        origin = line.removeprefix("standin listening on ")
        workers: set[str] = set()
        for _ in range(200):  # every new connection may go to either worker
            answer = httpx.get(f"{origin}/healthz")
            assert answer.text == "ok"
            workers.add(answer.headers["X-Standin-Worker"])
            if len(workers) == 2:
                break
        assert len(workers) == 2, "the second worker never answered"
        answers = {
            httpx.post(
                f"{origin}/anthropic/v1/messages",
                headers={"x-api-key": KEY, "anthropic-version": "2023-06-01"},
                json={
                    "model": "m",
                    "max_tokens": 4,
                    "messages": [{"role": "user", "content": "x"}],
                },
            ).json()["stop_reason"]
            for _ in range(6)
        }
        assert answers == {"max_tokens"}
    finally:
        process.terminate()
        process.wait(20)
        assert process.stdout is not None
        process.stdout.close()
    assert process.returncode is not None

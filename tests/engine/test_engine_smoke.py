"""The local engine works end to end with the plain ``openai`` SDK, and its quirks are pinned.

These tests talk to a real ``transformers serve`` (see conftest.py) serving two scripted Qwen2
models built in seconds by build.py. They pin what transformers 5.23.0 really does, so that the
harness client's own tests can rely on it.
"""

from __future__ import annotations

import http.client
import json
import urllib.parse
import urllib.request
from typing import Any

import pytest

from .build import CHAT_ANSWER, TOOL_ARGUMENTS, TOOL_NAME, WEATHER_TOOL
from .conftest import EngineModels, EngineServer, EngineTarget

openai = pytest.importorskip("openai")

pytestmark = pytest.mark.engine

MESSAGES: list[Any] = [{"role": "user", "content": "What is the capital of France?"}]


def _client(target: EngineTarget) -> Any:
    # max_retries=0: a quirk that returns 500 must surface, not be retried away.
    return openai.OpenAI(base_url=target.base_url, api_key="unused", max_retries=0, timeout=60)


def _raw_sse(target: EngineTarget, body: dict[str, Any]) -> list[str]:
    """POST a streaming request and return the non-empty raw SSE lines."""
    request = urllib.request.Request(
        f"{target.base_url}/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        text = response.read().decode()
    return [line for line in text.splitlines() if line.strip()]


def test_chat_streaming_content_finish_and_usage(chat_engine: EngineTarget) -> None:
    base_url, model = chat_engine
    stream = _client(chat_engine).chat.completions.create(
        model=model,
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content == CHAT_ANSWER
    assert chunks[0].choices[0].delta.role == "assistant"
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason is not None]
    assert [c.choices[0].finish_reason for c in finals] == ["stop"]
    # Usage arrives on the finish chunk itself (OpenAI sends a separate chunk with choices=[]),
    # and only there.
    assert [c for c in chunks if c.usage is not None] == finals
    usage = finals[0].usage
    assert usage is not None
    assert usage.prompt_tokens > 0
    assert usage.completion_tokens == len(chunks) - 2 + 1  # one delta per token, + eos
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert base_url.endswith("/v1")


def test_chat_non_streaming(chat_engine: EngineTarget) -> None:
    _, model = chat_engine
    response = _client(chat_engine).chat.completions.create(model=model, messages=MESSAGES)
    choice = response.choices[0]
    assert choice.message.content == CHAT_ANSWER
    assert choice.message.role == "assistant"
    assert choice.message.tool_calls is None
    assert choice.finish_reason == "stop"
    assert response.usage is not None
    assert response.usage.completion_tokens > 0
    assert response.model == f"{model}@main"  # quirk: the served id carries "@main"


@pytest.mark.parametrize("stream", [True, False])
def test_max_tokens_gives_length(chat_engine: EngineTarget, stream: bool) -> None:
    _, model = chat_engine
    client = _client(chat_engine)
    if stream:
        chunks = list(
            client.chat.completions.create(
                model=model, messages=MESSAGES, max_tokens=3, stream=True
            )
        )
        content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        finish = chunks[-1].choices[0].finish_reason
        usage = chunks[-1].usage
    else:
        response = client.chat.completions.create(model=model, messages=MESSAGES, max_tokens=3)
        content = response.choices[0].message.content or ""
        finish = response.choices[0].finish_reason
        usage = response.usage
    assert finish == "length"
    assert CHAT_ANSWER.startswith(content)
    assert content != CHAT_ANSWER
    # Usage is always sent, include_usage or not.
    assert usage is not None
    assert usage.completion_tokens == 3


def test_temperature_is_ignored_greedy(chat_engine: EngineTarget) -> None:
    _, model = chat_engine
    client = _client(chat_engine)
    answers = {
        client.chat.completions.create(
            model=model, messages=MESSAGES, temperature=1.8, top_p=0.5, seed=seed
        )
        .choices[0]
        .message.content
        for seed in (1, 2, 3)
    }
    assert answers == {CHAT_ANSWER}


def test_tool_call_streaming(tool_engine: EngineTarget) -> None:
    _, model = tool_engine
    stream = _client(tool_engine).chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=[WEATHER_TOOL],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    deltas = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or []]
    # The whole call arrives in ONE delta (name + complete arguments) once </tool_call> closes;
    # no text content is streamed for the markup.
    assert len(deltas) == 1
    (call,) = deltas
    assert call.index == 0
    assert call.type == "function"
    assert call.id
    assert call.function is not None
    assert call.function.name == TOOL_NAME
    assert json.loads(call.function.arguments or "") == TOOL_ARGUMENTS
    assert not "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert chunks[-1].usage is not None


def test_tool_call_non_streaming(tool_engine: EngineTarget) -> None:
    _, model = tool_engine
    response = _client(tool_engine).chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=[WEATHER_TOOL],
    )
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == ""  # quirk: "" rather than null
    assert choice.message.tool_calls is not None
    (call,) = choice.message.tool_calls
    assert call.function.name == TOOL_NAME
    # serve re-serialises the parsed arguments with json.dumps (spaced form)
    assert call.function.arguments == json.dumps(TOOL_ARGUMENTS)


def test_raw_sse_shape(chat_engine: EngineTarget, tool_engine: EngineTarget) -> None:
    body: dict[str, Any] = {"messages": MESSAGES, "stream": True}
    chat = _raw_sse(chat_engine, {**body, "model": chat_engine.model})
    tool = _raw_sse(tool_engine, {**body, "model": tool_engine.model, "tools": [WEATHER_TOOL]})
    for lines in (chat, tool):
        assert all(line.startswith("data: ") for line in lines)
        assert "data: [DONE]" not in lines  # quirk: the stream just ends
        events = [json.loads(line.removeprefix("data: ")) for line in lines]
        assert events[0]["choices"][0]["delta"] == {"role": "assistant"}
        assert "usage" in events[-1]
        assert events[-1]["choices"][0]["delta"] == {}
        assert all(e["object"] == "chat.completion.chunk" for e in events)
        assert len({e["id"] for e in events}) == 1
    assert len(tool) == 3  # role chunk, one tool-call chunk, finish chunk


def test_unknown_top_level_field_is_rejected(chat_engine: EngineTarget) -> None:
    """Quirk: unknown body fields are a 422 (e.g. DashScope's extra_body enable_thinking);
    chat-template switches go in ``chat_template_kwargs`` instead."""
    _, model = chat_engine
    client = _client(chat_engine)
    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(
            model=model, messages=MESSAGES, extra_body={"enable_thinking": False}
        )
    response = client.chat.completions.create(
        model=model,
        messages=MESSAGES,
        extra_body={"chat_template_kwargs": {"enable_thinking": False}},
    )
    assert response.choices[0].message.content == CHAT_ANSWER


def test_truncated_tool_call(tool_engine: EngineTarget) -> None:
    """Quirk: a tool call cut by max_tokens is an unhandled error (plain-text 500) without
    streaming, and silently dropped (no content, no tool_calls, finish_reason "length") with
    streaming."""
    _, model = tool_engine
    with pytest.raises(openai.InternalServerError) as caught:
        _client(tool_engine).chat.completions.create(model=model, messages=MESSAGES, max_tokens=5)
    assert caught.value.status_code == 500
    assert caught.value.response.text == "Internal Server Error"
    # A fresh client: see test_connection_closed_after_500 for why the old one may fail.
    chunks = list(
        _client(tool_engine).chat.completions.create(
            model=model, messages=MESSAGES, max_tokens=5, stream=True
        )
    )
    assert chunks[-1].choices[0].finish_reason == "length"
    assert all(not c.choices[0].delta.content and not c.choices[0].delta.tool_calls for c in chunks)


def test_connection_closed_after_500(tool_engine: EngineTarget) -> None:
    """Quirk: after an unhandled 500, uvicorn drops the keep-alive connection without sending
    ``Connection: close``; the next request on that pooled connection is reset (the openai SDK
    reports APIConnectionError), so a client must retry connection errors."""
    base_url, model = tool_engine
    parsed = urllib.parse.urlsplit(base_url)
    conn = http.client.HTTPConnection(parsed.hostname or "", parsed.port, timeout=60)
    body = json.dumps({"model": model, "messages": MESSAGES, "max_tokens": 5})
    headers = {"Content-Type": "application/json"}
    try:
        conn.request("POST", f"{parsed.path}/chat/completions", body, headers)
        response = conn.getresponse()
        assert response.status == 500
        assert response.getheader("connection") is None
        response.read()

        def again() -> None:
            conn.request("POST", f"{parsed.path}/chat/completions", body, headers)
            conn.getresponse().read()

        with pytest.raises(ConnectionError):
            again()
    finally:
        conn.close()


def test_timings_are_reasonable(
    engine_models: EngineModels,
    engine_server: EngineServer,
    chat_engine: EngineTarget,
    tool_engine: EngineTarget,
) -> None:
    print(
        f"\nengine: build {engine_models.build_s:.2f}s, server healthy after "
        f"{engine_server.startup_s:.2f}s, first requests (incl. load) "
        + ", ".join(
            f"{k.rsplit('/', 1)[-1]}={v:.2f}s" for k, v in engine_server.first_request_s.items()
        )
    )
    assert engine_models.build_s < 60
    assert engine_server.process.poll() is None

"""Every real wire capture (tests/wire/, a copy of ../shared/wire/), replayed over HTTP, assembled.

The captures are what DashScope, vLLM and Ollama actually send (copied from public docs and
fixtures; see their README). Each test replays one through a local aiohttp server and asserts
the assembled answer field by field. Where a capture is an SDK printout rather than raw JSON,
the printout is parsed (not retyped) into the chunk it came from.
"""

from __future__ import annotations

import ast
import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from harness.client import Attempt, Client, build_request
from harness.endpoints import Endpoint
from harness.golden import case_from_dict
from harness.records import ErrorInfo, Served, ToolCall, Usage
from tests.wire_server import Reply, WireServer

WIRE = Path(__file__).parent / "wire"
"""A copy of ../shared/wire/ kept in the repo, so a clean clone runs every capture."""
SHARED = Path(__file__).parents[2] / "shared" / "wire"

pytestmark = pytest.mark.usefixtures("each_transport")

STREAM = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
ONCE = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": False}
FAKE_KEY = "sk-wire-test-0123456789"


def capture(name: str) -> Any:
    return json.loads((WIRE / name).read_text(encoding="utf-8"))


def replay(
    replies: list[Reply], body: dict[str, Any] = STREAM, **endpoint: Any
) -> tuple[list[Attempt], list[dict[str, Any]]]:
    """One request per reply; the attempts and the request bodies the server received."""

    async def run() -> tuple[list[Attempt], list[dict[str, Any]]]:
        async with WireServer(replies) as server:
            async with Client(server.endpoint(**endpoint)) as client:
                attempts = [await client.complete(body) for _ in replies]
            return attempts, server.requests

    return asyncio.run(run())


def one(reply: Reply, body: dict[str, Any] = STREAM, **endpoint: Any) -> Attempt:
    return replay([reply], body, **endpoint)[0][0]


def ok(attempt: Attempt) -> Attempt:
    assert attempt.error is None, attempt.error
    assert attempt.latency_s is not None
    if attempt.ttft_s is not None:
        assert 0 < attempt.ttft_s <= attempt.latency_s
    return attempt


def printout(text: str) -> Any:
    """An openai-python repr (`ChoiceDeltaToolCall(index=0, ...)`) as the dict it printed."""

    def value(node: ast.expr) -> Any:
        if isinstance(node, ast.Call):
            return {kw.arg: value(kw.value) for kw in node.keywords}
        if isinstance(node, ast.List):
            return [value(e) for e in node.elts]
        return ast.literal_eval(node)

    return value(ast.parse(text, mode="eval").body)


def test_every_capture_is_covered() -> None:
    """A new capture in tests/wire/ must get a test here."""
    covered = {
        "dashscope_error_bodies.json",
        "dashscope_native_generation_thinking_stream.json",
        "dashscope_openai_batch_jsonl_lines.json",
        "dashscope_qwen-plus_cached_tokens_response.json",
        "dashscope_qwen-plus_thinking_stream_include_usage.json",
        "dashscope_qwen-vl-max_cached_tokens_response.json",
        "dashscope_stream_tool_call_deltas_sdk_printouts.json",
        "dashscope_usage_reasoning_tokens_sdk_printouts.json",
        "ollama_openai_compat_stream_captures.json",
        "vllm_nonstream_tool_call_reasoning_field_cached_tokens.json",
        "vllm_protocol_source_excerpt.json",
        "vllm_stream_named_tool_choice_reasoning_content_null.json",
        "vllm_style_stream_tool_call_fragments_continuous_usage.json",
    }
    assert {p.name for p in WIRE.glob("*.json")} == covered


@pytest.mark.skipif(not SHARED.is_dir(), reason="no ../shared/wire/ beside this clone")
def test_the_copy_matches_the_shared_captures() -> None:
    """tests/wire/ must follow ../shared/wire/ when both exist (new or changed captures)."""
    shared = {p.name: p.read_bytes() for p in SHARED.iterdir() if p.is_file()}
    ours = {p.name: p.read_bytes() for p in WIRE.iterdir() if p.is_file()}
    assert ours == shared


# --------------------------------------------------------------------------- DashScope


def test_dashscope_thinking_stream_and_the_request_it_answers() -> None:
    cap = capture("dashscope_qwen-plus_thinking_stream_include_usage.json")
    case = case_from_dict(
        {
            "id": "who",
            "category": "chat",
            "messages": cap["_request"]["messages"],
            "params": {"extra_body": {"enable_thinking": True}},
        }
    )
    endpoint = Endpoint(name="ds", base_url="http://unused", model="qwen-plus")
    body = build_request(case, endpoint)
    attempts, requests = replay([Reply(sse=cap["sse_data"])], body, model="qwen-plus")
    # What reached the server is the documented request: enable_thinking at the top level.
    assert requests[0] == cap["_request"]
    a = ok(attempts[0])
    assert a.output.content == ""  # null first, then "" on the finish chunk
    assert a.output.reasoning == ""  # the doc elides the reasoning chunks
    assert a.output.tool_calls == []
    assert (a.finish_reason, a.raw_finish_reason) == ("stop", "stop")
    assert a.usage == Usage(prompt_tokens=10, completion_tokens=360, total_tokens=370)
    assert a.ttft_s is None  # no chunk carried a token


def test_dashscope_thinking_stream_with_the_elided_middle() -> None:
    """The same stream with reasoning and answer chunks shaped like its first chunk."""
    cap = capture("dashscope_qwen-plus_thinking_stream_include_usage.json")
    first, finish, usage_chunk, done = cap["sse_data"]

    def chunk(content: str | None, reasoning: str | None) -> dict[str, Any]:
        c: dict[str, Any] = json.loads(json.dumps(first))
        c["choices"][0]["delta"] = {"content": content, "reasoning_content": reasoning}
        return c

    middle = [chunk(None, "The user asks"), chunk(None, " who I am."), chunk("I am ", None)]
    middle.append(chunk("Qwen.", None))
    a = ok(one(Reply(sse=[first, *middle, finish, usage_chunk, done])))
    assert a.output.reasoning == "The user asks who I am."
    assert a.output.content == "I am Qwen."
    assert a.ttft_s is not None


@pytest.mark.parametrize("source", ["python_openai_sdk_repr", "nodejs_usage_object"])
def test_dashscope_reasoning_and_cached_tokens(source: str) -> None:
    cap = capture("dashscope_usage_reasoning_tokens_sdk_printouts.json")
    usage = cap[source] if isinstance(cap[source], dict) else printout(cap[source])
    content = {"choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}]}
    finish = {"choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "stop"}]}
    a = ok(one(Reply(sse=[content, finish, {"choices": [], "usage": usage}, "[DONE]"])))
    expected = {
        "python_openai_sdk_repr": Usage(
            prompt_tokens=10,
            completion_tokens=221,
            reasoning_tokens=172,
            cached_tokens=0,
            total_tokens=231,
        ),
        "nodejs_usage_object": Usage(
            prompt_tokens=10,
            completion_tokens=288,
            reasoning_tokens=188,
            cached_tokens=0,
            total_tokens=298,
        ),
    }
    assert a.usage == expected[source]  # cached 0 was reported: 0, not None


def test_dashscope_native_generation_stream_is_a_clear_protocol_error() -> None:
    cap = capture("dashscope_native_generation_thinking_stream.json")
    a = one(Reply(sse=cap["sse_data"]))
    assert a.error is not None
    assert a.error.type == "protocol"
    assert "native" in a.error.message
    assert "compatible-mode" in a.error.message
    assert a.finish_reason == "error"


def test_dashscope_batch_output_bodies_and_the_wrapper_line() -> None:
    """Batch lines are not a chat stream; the `response.body` inside each one is a completion."""
    cap = capture("dashscope_openai_batch_jsonl_lines.json")
    lines = [*cap["output_lines_test_model"], cap["output_line_qwen-plus_short"]]
    lines.append(cap["openai_reference_output_line"]["line"])
    attempts, _ = replay([Reply(json=line["response"]["body"]) for line in lines], ONCE)
    for line, a in zip(lines, attempts, strict=True):
        body = line["response"]["body"]
        ok(a)
        assert a.output.content == body["choices"][0]["message"]["content"]
        assert a.finish_reason == "stop"
        assert a.ttft_s is None
        u = body["usage"]
        assert a.usage == Usage(
            prompt_tokens=u["prompt_tokens"],
            completion_tokens=u["completion_tokens"],
            total_tokens=u["total_tokens"],
        )
    wrapper = one(Reply(json=lines[0]), ONCE)
    assert wrapper.error is not None
    assert wrapper.error.type == "protocol"
    assert "no 'choices'" in wrapper.error.message


def test_dashscope_cached_tokens_nonstream() -> None:
    cap = capture("dashscope_qwen-plus_cached_tokens_response.json")
    a = ok(one(Reply(json=cap["response"]), ONCE))
    assert a.output.content == cap["response"]["choices"][0]["message"]["content"]
    assert a.output.reasoning is None
    assert a.finish_reason == "stop"
    assert a.usage == Usage(
        prompt_tokens=3019, completion_tokens=104, cached_tokens=2048, total_tokens=3123
    )
    assert a.ttft_s is None
    # DashScope names the model and the response id, and sends a null fingerprint.
    assert a.served == Served(model="qwen-plus", id="chatcmpl-6ada9ed2-7f33-9de2-8bb0-78bd4035025a")


def test_dashscope_vl_cached_tokens_and_the_top_level_variant() -> None:
    cap = capture("dashscope_qwen-vl-max_cached_tokens_response.json")
    a = ok(one(Reply(json=cap["response"]), ONCE))
    assert a.output.content is not None
    assert a.output.content.startswith("This image shows")
    assert a.output.tool_calls == []  # tool_calls: null
    assert a.usage == Usage(
        prompt_tokens=1316, completion_tokens=93, cached_tokens=1152, total_tokens=1409
    )
    # The cache doc: some models report the count at usage.cached_tokens instead.
    top = json.loads(json.dumps(cap["response"]))
    top["usage"]["cached_tokens"] = top["usage"].pop("prompt_tokens_details")["cached_tokens"]
    b = ok(one(Reply(json=top), ONCE))
    assert b.usage is not None
    assert b.usage.cached_tokens == 1152


@pytest.mark.parametrize(
    ("variant", "call_id", "arguments"),
    [
        ("non_thinking_model", "call_8f08d2b0fc0c4d8fab7123", '{"location": "Hangzhou"}'),
        ("thinking_model", "call_391c8e5787bc4972a388aa", ' {"location": "Hangzhou"}'),
    ],
)
def test_dashscope_streamed_tool_call_deltas(variant: str, call_id: str, arguments: str) -> None:
    cap = capture("dashscope_stream_tool_call_deltas_sdk_printouts.json")
    chunks = []
    for text in cap[variant]:
        calls = printout(text)
        delta: dict[str, Any] = {"content": None}
        if calls is not None:
            delta["tool_calls"] = calls
        finish = None if calls is not None else "tool_calls"
        chunks.append({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    a = ok(one(Reply(sse=chunks)))
    # The continuation delta's id '' never replaced the real id.
    assert a.output.tool_calls == [
        ToolCall(
            id=call_id,
            name="get_current_weather",
            arguments=arguments,
            parsed={"location": "Hangzhou"},
        )
    ]
    assert a.finish_reason == "tool_calls"
    assert a.output.content is None


def test_dashscope_parallel_tool_calls_whole_and_streamed() -> None:
    message = capture("dashscope_stream_tool_call_deltas_sdk_printouts.json")[
        "parallel_tool_calls_message"
    ]
    expected = [
        ToolCall(
            id=c["id"],
            name="get_current_weather",
            arguments=c["function"]["arguments"],
            parsed={"location": city},
        )
        for c, city in zip(message["tool_calls"], ["Beijing", "Shanghai"], strict=True)
    ]
    body = {"choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}]}
    a = ok(one(Reply(json=body), ONCE))
    assert a.output.tool_calls == expected
    assert a.output.content == ""
    streamed: list[Any] = [
        {"choices": [{"index": 0, "delta": {"tool_calls": [call]}, "finish_reason": None}]}
        for call in message["tool_calls"]
    ]
    streamed.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
    assert ok(one(Reply(sse=streamed))).output.tool_calls == expected


def _error_body_cases() -> list[Any]:
    """(observed body, request) pairs; an error inside a stream only exists for a stream."""
    bodies = capture("dashscope_error_bodies.json")["observed_bodies"] if WIRE.is_dir() else []
    return [
        pytest.param(b, body, id=f"{b['status']}-{i}-{kind}")
        for i, b in enumerate(bodies)
        for kind, body in (("stream", STREAM), ("once", ONCE))
        if body["stream"] or not b.get("in_stream")
    ]


EXPECTED_TYPE = {
    "invalid_api_key": "auth",
    "model_not_found": "bad_request",
    "limit_requests": "rate_limit",
    "data_inspection_failed": "content_filter",
    "Arrearage": "quota",
    "AllocationQuota.FreeTierOnly": "quota",
}


@pytest.mark.parametrize(("observed", "body"), _error_body_cases())
def test_dashscope_error_bodies(
    observed: dict[str, Any], body: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", FAKE_KEY)
    endpoint = {"preset": "dashscope-intl", "api_key_env": "DASHSCOPE_API_KEY"}
    if observed.get("in_stream"):
        sse = [line.encode() + b"\n\n" for line in observed["sse"]]
        a = one(Reply(sse=sse), body, **endpoint)
        error = json.loads(observed["sse"][-1].removeprefix("data: "))["error"]
        assert a.output.content == "Partial"  # what arrived before the error is kept
        assert a.error is not None
        assert a.error.status_code == 200
    else:
        a = one(Reply(status=observed["status"], json=observed["body"]), body, **endpoint)
        error = observed["body"]["error"]
        assert a.error is not None
        assert a.error.status_code == observed["status"]
    assert a.error.type == EXPECTED_TYPE[error["code"]]
    assert a.error.code == error["code"]
    assert a.error.message.startswith(error["message"])
    assert a.finish_reason == "error"
    if a.error.type == "auth":  # keys are per region: name the other one
        assert "https://dashscope.aliyuncs.com/compatible-mode/v1" in a.error.message
    assert FAKE_KEY not in repr(a)


# --------------------------------------------------------------------------- Ollama


def test_ollama_parallel_tools_arrive_whole_without_usage_or_done() -> None:
    cap = capture("ollama_openai_compat_stream_captures.json")
    a = ok(one(Reply(sse=cap["capture_2025_04_qwen2.5-coder_parallel_tools"]["sse_data"])))
    assert a.output.tool_calls == [
        ToolCall(
            id="call_wteop8bt",
            name="run_command",
            arguments='{"command":"ls"}',
            parsed={"command": "ls"},
        ),
        ToolCall(
            id="call_rk2xye1l",
            name="run_command",
            arguments='{"command":"ls -l"}',
            parsed={"command": "ls -l"},
        ),
    ]
    assert a.finish_reason == "tool_calls"
    assert a.usage is None  # not reported: unknown, not zero
    assert a.output.content == ""
    assert a.served == Served(
        model="qwen2.5-coder:7b-instruct-q8_0", id="chatcmpl-18", system_fingerprint="fp_ollama"
    )


def test_ollama_reasoning_field_tool_call_and_usage_chunk() -> None:
    cap = capture("ollama_openai_compat_stream_captures.json")
    a = ok(one(Reply(sse=cap["capture_ollama_0.31.1_gpt-oss_reasoning_tool_usage"]["sse_data"])))
    assert a.output.reasoning == "Need to call function."
    assert a.output.content == ""
    assert a.output.tool_calls == [
        ToolCall(
            id="call_qboyy8mx",
            name="get_weather",
            arguments='{"city":"Berlin"}',
            parsed={"city": "Berlin"},
        )
    ]
    assert a.finish_reason == "tool_calls"
    assert a.usage == Usage(prompt_tokens=141, completion_tokens=29, total_tokens=170)


@pytest.mark.parametrize("finish_delta", ["as_captured", "empty_delta"])
def test_ollama_length_finish(finish_delta: str) -> None:
    """Newer Ollama sends the finish reason on its own chunk with `delta: {}`."""
    chunks = json.loads(
        json.dumps(
            capture("ollama_openai_compat_stream_captures.json")["capture_length_finish_usage"][
                "sse_data"
            ]
        )
    )
    if finish_delta == "empty_delta":
        chunks[1]["choices"][0]["delta"] = {}
    a = ok(one(Reply(sse=chunks)))
    assert a.output.content == "Hello"
    assert (a.finish_reason, a.raw_finish_reason) == ("length", "length")
    assert a.usage == Usage(prompt_tokens=17, completion_tokens=40, total_tokens=57)


# --------------------------------------------------------------------------- vLLM


def test_vllm_nonstream_reasoning_field_and_cached_tokens() -> None:
    cap = capture("vllm_nonstream_tool_call_reasoning_field_cached_tokens.json")
    a = ok(one(Reply(json=cap["response"]), ONCE))
    assert a.output.content == ""
    assert a.output.reasoning is None
    assert a.output.tool_calls == [
        ToolCall(
            id="chatcmpl-tool-93d1091597c06cb2",
            name="enregistrer_offre",
            arguments='{"nature": "lieu", "places": 14}',
            parsed={"nature": "lieu", "places": 14},
        )
    ]
    assert a.finish_reason == "tool_calls"
    assert a.usage == Usage(
        prompt_tokens=122, completion_tokens=37, cached_tokens=32, total_tokens=159
    )
    # vLLM's fingerprint names its version and tensor parallelism: a backend change shows.
    assert a.served == Served(
        model="swiss-ai/Apertus-v1.5-70B",
        id="chatcmpl-98e5c916-349e-44a2-aac9-444f0b803878",
        system_fingerprint="vllm-0.23.1rc1.dev1029+ga601a9d99-tp4-1381023c",
    )


def test_vllm_protocol_integer_error_codes_and_reasoning_rename() -> None:
    """vLLM's ErrorResponse puts the HTTP status in `code` as an integer."""
    spec = capture("vllm_protocol_source_excerpt.json")
    assert "INTEGER" in spec["ErrorResponse"]["error"]["code"]

    def err(code: int) -> dict[str, Any]:
        return {
            "error": {"message": "boom", "type": "BadRequestError", "param": None, "code": code}
        }

    http = one(Reply(status=400, json=err(400)))
    assert http.error == ErrorInfo(type="bad_request", status_code=400, code="400", message="boom")
    text = {"choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}]}
    in_stream = one(Reply(sse=[text, err(500)]))
    assert in_stream.error == ErrorInfo(type="server", status_code=200, code="500", message="boom")
    assert in_stream.output.content == "Hi"

    # ~0.11-0.15 sent the same text under both names; >= #33402 only `reasoning`.
    def delta(**fields: Any) -> dict[str, Any]:
        return {"choices": [{"index": 0, "delta": fields, "finish_reason": None}]}

    stop = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    both = ok(one(Reply(sse=[delta(reasoning="Think", reasoning_content="Think"), stop])))
    assert both.output.reasoning == "Think"
    new = ok(one(Reply(sse=[delta(reasoning="Think", reasoning_content=None), stop])))
    assert new.output.reasoning == "Think"


def test_vllm_named_tool_choice_finish_stop_is_not_rewritten() -> None:
    cap = capture("vllm_stream_named_tool_choice_reasoning_content_null.json")
    a = ok(one(Reply(sse=cap["sse_data"])))
    assert a.output.tool_calls == [
        ToolCall(
            id="chatcmpl-tool-a331788bab1045a8",
            name="db_list_databases",
            arguments='{"catalog":"default"}',
            parsed={"catalog": "default"},
        )
    ]
    assert (a.finish_reason, a.raw_finish_reason) == ("stop", "stop")  # never inferred
    assert a.output.reasoning is None  # reasoning_content: null throughout
    assert a.output.content == ""
    assert a.usage is None


def test_vllm_style_fragments_with_continuous_usage() -> None:
    cap = capture("vllm_style_stream_tool_call_fragments_continuous_usage.json")
    a = ok(one(Reply(sse=cap["sse_data"])))
    want = cap["expected_assembled_call"]
    assert a.output.tool_calls == [
        ToolCall(
            id=want["id"],
            name=want["name"],
            arguments=want["arguments"],
            parsed=json.loads(want["arguments"]),
        )
    ]
    assert a.finish_reason == "tool_calls"
    assert a.usage == Usage(prompt_tokens=226, completion_tokens=20, total_tokens=246)  # the last
    assert a.ttft_s is not None

"""The client over real HTTP: request building, timing, timeouts, error classification, secrets."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import orjson
import pytest

from harness.client import Attempt, Client, build_request, endpoint_params, retry_after_from
from harness.endpoints import Endpoint, Limits
from harness.errors import InputError
from harness.golden import case_from_dict
from harness.prompt import render_messages
from harness.records import ToolCall
from tests.wire_server import Reply, WireServer

pytestmark = pytest.mark.usefixtures("each_transport")

STREAM = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
ONCE = {**STREAM, "stream": False}
SECRET = "sk-harness-SECRET-4242424242"


def chunk(content: str | None = None, finish: str | None = None, **delta: Any) -> dict[str, Any]:
    if content is not None:
        delta["content"] = content
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def run(
    replies: list[Reply], body: dict[str, Any] = STREAM, **endpoint: Any
) -> tuple[list[Attempt], WireServer]:
    async def go() -> tuple[list[Attempt], WireServer]:
        async with WireServer(replies) as server, Client(server.endpoint(**endpoint)) as client:
            return [await client.complete(body) for _ in replies], server

    return asyncio.run(go())


def one(reply: Reply, body: dict[str, Any] = STREAM, **endpoint: Any) -> Attempt:
    return run([reply], body, **endpoint)[0][0]


def _case(**fields: Any) -> Any:
    raw = {"id": "c", "category": "chat", "messages": [{"role": "user", "content": "hi"}]}
    return case_from_dict({**raw, **fields})


def _endpoint(**fields: Any) -> Endpoint:
    return Endpoint(**{"name": "e", "base_url": "http://127.0.0.1:9/v1", "model": "m", **fields})


def _nones(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [k for k, v in value.items() if v is None] + [
            n for v in value.values() for n in _nones(v)
        ]
    if isinstance(value, list):
        return [n for v in value for n in _nones(v)]
    return []


# --------------------------------------------------------------------------- build_request


def test_case_params_win_and_extra_body_merges_key_wise() -> None:
    endpoint = _endpoint(
        params={
            "temperature": 0.7,
            "max_tokens": 100,
            "seed": None,
            "extra_body": {"enable_thinking": False, "top_k": 20},
        }
    )
    case = _case(params={"temperature": 0, "extra_body": {"enable_thinking": True}})
    body = build_request(case, endpoint)
    assert body == {
        "model": "m",
        "messages": render_messages(case),
        "temperature": 0,
        "max_tokens": 100,
        "stream": True,
        "stream_options": {"include_usage": True},
        "extra_body": {"enable_thinking": True, "top_k": 20},
    }
    assert endpoint.params["extra_body"] == {"enable_thinking": False, "top_k": 20}  # untouched


@pytest.mark.parametrize(
    ("endpoint_stream", "case_stream", "streams"),
    [(True, None, True), (False, None, False), (False, True, True), (True, False, False)],
)
def test_stream_options_only_when_streaming(
    endpoint_stream: bool, case_stream: bool | None, streams: bool
) -> None:
    endpoint = _endpoint(stream=endpoint_stream, params={"stream_options": {"x": 1}})
    case = _case(params={} if case_stream is None else {"stream": case_stream})
    body = build_request(case, endpoint)
    assert body["stream"] is streams
    if streams:
        assert body["stream_options"] == {"x": 1, "include_usage": True}
    else:
        assert "stream_options" not in body


def test_tools_and_no_none_valued_keys() -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    case = _case(tools=[tool], tool_choice="required", params={"stop": ["\n"]})
    body = build_request(case, _endpoint(params={"top_p": None}))
    assert body["tools"] == [tool]
    assert body["tool_choice"] == "required"
    assert "top_p" not in body
    assert _nones(body) == []


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("top_k", r"is not a chat\.completions field; .* go under params\.extra_body"),
        ("model", r"is not an endpoint param: set the endpoint's 'model' instead"),
        ("messages", r"is not an endpoint param: messages come from the case"),
        ("timeout", r"is not an endpoint param: set limits\.timeout_s instead"),
    ],
)
def test_endpoint_params_the_sdk_would_reject_are_input_errors(key: str, hint: str) -> None:
    with pytest.raises(InputError, match=rf"endpoint 'e': params\.{key} {hint}"):
        build_request(_case(), _endpoint(params={key: 1}))


@pytest.mark.parametrize(
    "params",
    [
        {"extra_headers": {"X-Team": None}},
        {"extra_headers": ["X-Team: a"]},
        {"extra_query": {"a": {"b": 1}}},
        {"extra_query": {"flag": True}},
        {"extra_body": ["enable_thinking"]},
    ],
)
def test_malformed_extra_params_are_input_errors(params: dict[str, Any]) -> None:
    with pytest.raises(InputError, match=r"endpoint 'e': params\.extra_\w+ must"):
        endpoint_params(_endpoint(params=params))


def test_extra_header_and_query_values_are_sent_as_strings() -> None:
    params = {"extra_headers": {"X-Shard": 3}, "extra_query": {"api-version": 2024}}
    assert endpoint_params(_endpoint(params=params)) == {
        "extra_headers": {"X-Shard": "3"},
        "extra_query": {"api-version": "2024"},
    }


def test_what_reaches_the_server() -> None:
    """Non-streaming requests carry no stream_options (vLLM 400s); extra_body lands top-level."""
    case = _case(params={"extra_body": {"enable_thinking": True}, "max_tokens": 5})
    reply = Reply(json={"choices": [{"message": {"content": "x"}, "finish_reason": "stop"}]})
    stream_reply = Reply(sse=[chunk("x", "stop")])

    async def go() -> list[dict[str, Any]]:
        async with WireServer([stream_reply, reply]) as server:
            for stream in (True, False):
                endpoint = server.endpoint(stream=stream)
                async with Client(endpoint) as client:
                    attempt = await client.complete(build_request(case, endpoint))
                    assert attempt.error is None
            return server.requests

    streamed, once = asyncio.run(go())
    assert streamed["stream_options"] == {"include_usage": True}
    assert streamed["enable_thinking"] is True
    assert once["stream"] is False
    assert "stream_options" not in once
    assert once["enable_thinking"] is True
    assert "extra_body" not in once


# --------------------------------------------------------------------------- timing


def test_ttft_is_first_token_and_not_more_than_latency() -> None:
    sse = [chunk(role="assistant"), chunk("a"), chunk("b"), chunk(finish="stop")]
    a = one(Reply(sse=sse, chunk_delay_s=0.05))
    assert a.error is None
    assert a.ttft_s is not None
    assert a.latency_s is not None
    assert a.ttft_s >= 0.09  # the role chunk is not a token; the 2nd event is
    assert a.latency_s - a.ttft_s >= 0.09  # two more events after it
    assert a.output.content == "ab"


def test_no_ttft_without_streaming() -> None:
    body = {"choices": [{"message": {"content": "x"}, "finish_reason": "stop"}]}
    assert one(Reply(json=body), ONCE).ttft_s is None
    # A server that ignores stream=true and answers with one JSON body.
    ignored = one(Reply(json=body))
    assert ignored.error is None
    assert ignored.output.content == "x"
    assert ignored.ttft_s is None


def test_timeout_on_a_server_that_hangs() -> None:
    a = one(Reply(delay_s=5, json={}), limits=Limits(timeout_s=0.3))
    assert a.error is not None
    assert a.error.type == "timeout"
    assert a.latency_s is not None
    assert a.latency_s < 2
    assert a.finish_reason is None  # no response at all


def test_timeout_covers_a_trickling_stream() -> None:
    """Each chunk comes well within a read timeout; the whole answer does not."""
    a = one(Reply(sse=[chunk("x")] * 100, chunk_delay_s=0.05), limits=Limits(timeout_s=0.5))
    assert a.error is not None
    assert a.error.type == "timeout"
    assert "0.5s" in a.error.message
    assert a.latency_s is not None
    assert a.latency_s < 2
    assert a.output.content  # the partial answer is kept
    assert a.finish_reason == "error"


def test_connection_refused_is_connection() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    endpoint = _endpoint(base_url=f"http://127.0.0.1:{port}/v1", limits=Limits(timeout_s=5))

    async def go() -> Attempt:
        async with Client(endpoint) as client:
            return await client.complete(STREAM)

    a = asyncio.run(go())
    assert a.error is not None
    assert a.error.type == "connection"  # the SDK itself calls this a timeout
    assert a.error.status_code is None
    assert a.finish_reason is None


# --------------------------------------------------------------------------- stream shapes


def test_stream_that_ends_with_nothing_is_a_protocol_error() -> None:
    usage = {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 0}}
    shapes: list[list[Any]] = [[], ["[DONE]"], [chunk(role="assistant"), "[DONE]"], [usage]]
    attempts, _ = run([Reply(sse=s) for s in shapes])
    for a in attempts:
        assert a.error is not None
        assert a.error.type == "protocol"
        assert "nothing" in a.error.message
        assert a.error.status_code == 200


def test_missing_finish_reason_is_unknown_not_an_error() -> None:
    a = one(Reply(sse=[chunk("Hello")]))
    assert a.error is None
    assert (a.finish_reason, a.raw_finish_reason) == ("unknown", None)
    assert a.output.content == "Hello"


def test_cut_streams_and_malformed_chunks() -> None:
    sse = [chunk("a"), chunk("b"), chunk(finish="stop"), {"choices": [], "usage": {}}, "[DONE]"]
    early, late, malformed = run(
        [Reply(sse=sse, cut_after=2), Reply(sse=sse, cut_after=3), Reply(sse=sse, malformed_at=1)]
    )[0]
    assert early.error is not None
    assert early.error.type == "protocol"
    assert "cut after 2 chunks" in early.error.message
    assert early.output.content == "ab"
    assert late.error is None  # cut after the finish_reason: the answer is whole
    assert late.finish_reason == "stop"
    assert late.usage is None
    assert malformed.error is not None
    assert malformed.error.type == "protocol"
    assert "malformed" in malformed.error.message


@pytest.mark.parametrize(
    ("raw", "finish", "error_type"),
    [
        ("function_call", "tool_calls", None),
        ("eos", "stop", None),
        ("something_new", "unknown", None),
        ("content_filter", "content_filter", "content_filter"),
        ("abort", "error", "server"),
    ],
)
def test_finish_reason_vocabulary(raw: str, finish: str, error_type: str | None) -> None:
    a = one(Reply(sse=[chunk("x"), chunk(finish=raw)]))
    assert (a.finish_reason, a.raw_finish_reason) == (finish, raw)
    assert (a.error.type if a.error else None) == error_type


def test_sse_framing_variants() -> None:
    """CRLF, comments, event and id lines, events glued without a blank line, split writes."""
    raw = [
        b": keep-alive\r\n\r\n",
        b"event: message\r\nid: 1\r\n",
        b'data: {"choices":[{"index":0,"delta":{"content":"He"}}]}\r\n\r\n',
        b'data: {"choices":[{"index":0,"delta":{"content":"l"}}]}\n',
        b'data: {"choices":[{"index":0,"delta":{"content":"lo"}}]}\n\n',
        b'data: {"choices":[{"index":0,"del',
        b'ta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]',
    ]
    a = one(Reply(sse=raw))
    assert a.error is None
    assert a.output.content == "Hello"
    assert a.finish_reason == "stop"


def test_tool_call_assembly_edges() -> None:
    def calls(*items: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return chunk(finish=finish, tool_calls=list(items))

    fn = {"type": "function"}
    sse = [
        calls({"index": 0, "id": "a1", "function": {"name": "f", "arguments": '{"x":'}, **fn}),
        calls({"index": 0, "id": "zz", "function": {"arguments": " 1}"}}),  # id without name
        # A server that reuses index 0 for a second call: new id and name -> a new call.
        calls({"index": 0, "id": "b2", "function": {"name": "g", "arguments": "not json"}}),
        calls({"index": 1, "id": "c3", "function": {"name": "h", "arguments": {"y": 2}}}),
        chunk(finish="tool_calls"),
    ]
    a = one(Reply(sse=sse))
    assert a.error is None
    assert a.output.tool_calls == [
        ToolCall(id="a1", name="f", arguments='{"x": 1}', parsed={"x": 1}),
        ToolCall(id="b2", name="g", arguments="not json", parsed=None),
        ToolCall(id="c3", name="h", arguments='{"y":2}', parsed={"y": 2}),
    ]
    nameless = one(Reply(sse=[calls({"index": 0, "function": {"arguments": "{}"}}, finish="stop")]))
    assert nameless.error is not None
    assert nameless.error.type == "protocol"


# --------------------------------------------------------------------------- errors


STATUS_TABLE: list[tuple[int, Any, str]] = [
    (400, {"error": {"message": "bad field", "type": "invalid_request_error"}}, "bad_request"),
    (401, {"error": {"message": "no"}}, "auth"),
    (403, {"error": {"message": "AccessDenied", "code": "AccessDenied"}}, "auth"),
    (404, {"error": {"message": "Model not exist.", "code": "model_not_found"}}, "bad_request"),
    (408, {"error": {"message": "slow"}}, "timeout"),
    (409, {"error": {"message": "conflict"}}, "bad_request"),
    (422, {"detail": [{"msg": "field required"}]}, "bad_request"),
    (429, {"error": {"message": "slow down", "code": "rate_limit_exceeded"}}, "rate_limit"),
    (429, {"error": {"message": "pay", "code": "insufficient_quota"}}, "quota"),
    (
        429,
        {"code": "Throttling.RateQuota", "message": "Requests rate limit exceeded"},
        "rate_limit",
    ),
    (403, {"code": "Arrearage", "message": "Access denied, account overdue"}, "quota"),
    (400, {"code": "DataInspectionFailed", "message": "inappropriate"}, "content_filter"),
    (500, {"error": {"message": "oops"}}, "server"),
    (502, b"<html><body>" + b"Bad Gateway " * 100 + b"</body></html>", "server"),
    (503, {"error": {"message": "overloaded"}}, "server"),
]


def test_classification_table() -> None:
    replies = [
        Reply(
            status=s,
            body=b if isinstance(b, bytes) else None,
            json=None if isinstance(b, bytes) else b,
        )
        for s, b, _ in STATUS_TABLE
    ]
    attempts, _ = run(replies)
    for (status, _, want), a in zip(STATUS_TABLE, attempts, strict=True):
        assert a.error is not None
        assert (status, a.error.type) == (status, want)
        assert a.error.status_code == status
        assert a.finish_reason == "error"
        assert len(a.error.message) <= 503
    assert attempts[3].error is not None
    assert attempts[3].error.code == "model_not_found"
    assert attempts[6].error is not None
    assert "field required" in attempts[6].error.message  # no `message`: the body is quoted
    assert attempts[10].error is not None
    assert attempts[10].error.code == "Arrearage"


def test_errors_inside_a_200_stream() -> None:
    native = {"code": "Throttling.RateQuota", "message": "Requests rate limit exceeded"}
    openai_style = {"error": {"message": "Too many", "code": "limit_requests"}}
    moderation = {"error": {"message": "bad", "code": "DataInspectionFailed"}}
    unknown = {"error": {"message": "engine died"}}
    replies = [Reply(sse=[chunk("x"), e]) for e in (native, openai_style, moderation, unknown)]
    types = [a.error.type if a.error else None for a in run(replies)[0]]
    assert types == ["rate_limit", "rate_limit", "content_filter", "server"]


@pytest.mark.parametrize(
    ("preset", "other"),
    [
        ("dashscope-intl", "https://dashscope.aliyuncs.com/compatible-mode/v1"),
        ("dashscope-cn", "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"),
    ],
)
def test_401_from_dashscope_names_the_other_region(
    preset: str, other: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", SECRET)
    body = {"error": {"message": "Incorrect API key provided.", "code": "invalid_api_key"}}
    a = one(Reply(status=401, json=body), preset=preset, api_key_env="DASHSCOPE_API_KEY")
    assert a.error is not None
    assert a.error.type == "auth"
    assert a.error.message.startswith("Incorrect API key provided.")
    assert "region" in a.error.message
    assert other in a.error.message
    assert a.retry_after_s is None


def test_the_key_never_appears_in_an_attempt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_TEST_KEY", SECRET)
    echo = {"error": {"message": "Incorrect API key provided: {authorization}"}}
    replies = [
        Reply(status=401, json=echo, echo_auth=True),
        Reply(status=500, body=b"upstream said {authorization}", echo_auth=True),
        Reply(sse=[chunk("x"), echo], echo_auth=True),
        Reply(
            status=429, json={"error": {"message": "k", "code": "{authorization}"}}, echo_auth=True
        ),
    ]
    attempts, server = run(replies, api_key_env="HARNESS_TEST_KEY")
    assert all(h["Authorization"] == f"Bearer {SECRET}" for h in server.headers)  # it was sent
    for a in attempts:
        assert a.error is not None
        assert SECRET not in repr(a)
        assert SECRET not in a.error.model_dump_json()
        assert SECRET[:-4] not in repr(a)


def test_missing_key_variable_is_an_input_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HARNESS_UNSET_KEY", raising=False)
    with pytest.raises(InputError, match=r"\$HARNESS_UNSET_KEY is not set"):
        Client(_endpoint(api_key_env="HARNESS_UNSET_KEY"))


def test_retry_after_headers() -> None:
    assert retry_after_from({"retry-after": "3"}) == 3.0
    assert retry_after_from({"retry-after-ms": "250", "retry-after": "3"}) == 0.25
    assert retry_after_from({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after_from({"retry-after": "soon"}) is None
    assert retry_after_from({}) is None
    a = one(Reply(status=503, json={}, headers={"Retry-After": "7"}))
    assert a.retry_after_s == 7.0


def test_a_lone_surrogate_escape_is_an_answer_not_a_malformed_chunk() -> None:
    """Gateways that cut strings between UTF-16 halves send `\\ud83d` alone: valid JSON grammar.

    orjson refuses it; the answer is kept with U+FFFD in its place, and the record still
    serialises (a lone surrogate would make every later write of it fail).
    """
    head = b'data: {"choices": [{"index": 0, "delta": {"content": "ok \\ud83d then \\ud83d\\ude00"}}]}\n\n'
    call = (
        b'data: {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "c1", '
        b'"function": {"name": "say\\udc00", "arguments": {"text": "hi \\ud83d"}}}]}}]}\n\n'
    )
    tail = b'data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}\n\n'
    body = (
        b'{"choices": [{"index": 0, "message": {"content": "plain \\udc00"}, '
        b'"finish_reason": "stop"}]}'
    )
    replies = [
        Reply(sse=[head, call, tail, "[DONE]"]),
        Reply(body=body, headers={"Content-Type": "application/json"}),
    ]

    async def go() -> list[Attempt]:
        async with WireServer(replies) as server:
            out = []
            for stream in (True, False):
                async with Client(server.endpoint(stream=stream)) as client:
                    out.append(
                        await client.complete(
                            build_request(_case(), server.endpoint(stream=stream))
                        )
                    )
            return out

    streamed, plain = asyncio.run(go())
    assert streamed.error is None and plain.error is None
    assert streamed.output.content == "ok \ufffd then \U0001f600"
    (tool,) = streamed.output.tool_calls
    assert tool.name == "say\ufffd" and tool.parsed == {"text": "hi \ufffd"}
    assert streamed.finish_reason == "tool_calls"
    assert plain.output.content == "plain \ufffd" and plain.finish_reason == "stop"
    for attempt in (streamed, plain):
        orjson.dumps(attempt.output.model_dump())  # raises on a lone surrogate


def test_other_invalid_json_is_still_a_malformed_chunk() -> None:
    bad = b'data: {"choices": [{"index": 0, "delta": {"content": NaN}}]}\n\n'

    async def go() -> Attempt:
        async with (
            WireServer([Reply(sse=[bad, "[DONE]"])]) as server,
            Client(server.endpoint()) as client,
        ):
            return await client.complete(build_request(_case(), server.endpoint()))

    attempt = asyncio.run(go())
    assert attempt.error is not None and attempt.error.type == "protocol"
    assert "malformed JSON in chunk 1" in attempt.error.message

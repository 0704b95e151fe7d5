"""The two request layers against the same real server: what the server sees, what comes back.

Every test in test_client.py and test_client_wire.py already runs once per transport; these
tests compare the two directly.
"""

from __future__ import annotations

import asyncio
import gzip
import os
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from harness.client import Attempt, Client, build_request
from harness.endpoints import Endpoint, Limits
from harness.errors import InputError
from harness.golden import case_from_dict
from tests.wire_server import Reply, WireServer, sse_line

#: Set per request by the SDK (its retry counter, read timeout and raw-response marker) or by
#: the HTTP layer; everything else must be identical.
PER_REQUEST = {
    "host",
    "connection",
    "content-length",
    "x-stainless-raw-response",
    "x-stainless-read-timeout",
    "x-stainless-retry-count",
}

CASE = case_from_dict(
    {
        "id": "c",
        "category": "tool_use",
        "messages": [{"role": "user", "content": "Wetter in Zürich? 天气"}],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                },
            }
        ],
        "params": {"temperature": 0, "max_tokens": 64, "extra_body": {"enable_thinking": True}},
    }
)
ANSWER = [
    {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
    {
        "choices": [
            {
                "index": 0,
                "delta": {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Zürich"}'},
                        }
                    ]
                },
            }
        ]
    },
    {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    {"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19}},
    "[DONE]",
]


@pytest.fixture(autouse=True)
def _no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests set the proxy variables they need; lowercase ones would win over them."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def _seen(transport: str, **endpoint: Any) -> tuple[Attempt, dict[str, Any], dict[str, str]]:
    async def go() -> tuple[Attempt, dict[str, Any], dict[str, str]]:
        async with WireServer([Reply(sse=ANSWER)]) as server:
            ep = server.endpoint(transport=transport, **endpoint)
            async with Client(ep) as client:
                attempt = await client.complete(build_request(CASE, ep))
            return attempt, server.requests[0], server.headers[0]

    return asyncio.run(go())


def test_the_server_cannot_tell_the_transports_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_TEST_KEY", "sk-test-transports-0001")
    endpoint: dict[str, Any] = {
        "api_key_env": "HARNESS_TEST_KEY",
        "headers": {"X-Team": "search"},
        "params": {"extra_body": {"top_k": 20}},
    }
    direct, direct_body, direct_headers = _seen("direct", **endpoint)
    sdk, sdk_body, sdk_headers = _seen("sdk", **endpoint)
    assert direct_body == sdk_body
    assert direct_body["enable_thinking"] is True and direct_body["top_k"] == 20

    def comparable(headers: dict[str, str]) -> dict[str, str]:
        return {k.lower(): v for k, v in headers.items() if k.lower() not in PER_REQUEST}

    assert comparable(direct_headers) == comparable(sdk_headers)
    assert comparable(direct_headers)["authorization"] == "Bearer sk-test-transports-0001"
    assert comparable(direct_headers)["x-team"] == "search"
    assert comparable(direct_headers)["user-agent"].startswith("AsyncOpenAI/Python")
    assert direct.error is None and sdk.error is None
    assert direct.output == sdk.output
    assert direct.output.tool_calls[0].parsed == {"city": "Zürich"}
    assert (direct.usage, direct.finish_reason) == (sdk.usage, sdk.finish_reason)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _call_through(
    handle: Handler, transport: str, *, base_url: str | None = None, **endpoint: Any
) -> Attempt:
    """One `CASE` call to an aiohttp app that answers every path with `handle`.

    `base_url` defaults to the app itself; `{server}` in it (or in env values set by the caller
    through `endpoint["env"]`) is replaced by the app's address.
    """
    env: dict[str, str] = endpoint.pop("env", {})

    async def go() -> Attempt:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        server = f"http://127.0.0.1:{runner.addresses[0][1]}"
        for name, value in env.items():
            os.environ[name] = value.replace("{server}", server)
        ep = Endpoint(
            name="e",
            base_url=(base_url or "{server}/v1").replace("{server}", server),
            model="m",
            transport=transport,
            limits=Limits(timeout_s=5, max_retries=0),
            **endpoint,
        )
        try:
            async with Client(ep) as client:
                return await client.complete(build_request(CASE, ep))
        finally:
            await runner.cleanup()

    return asyncio.run(go())


def _stream_answer() -> web.Response:
    body = b"".join(sse_line(item) for item in ANSWER)
    return web.Response(body=body, headers={"Content-Type": "text/event-stream"})


@pytest.mark.parametrize("transport", ["direct", "sdk"])
def test_extra_headers_and_query_from_endpoint_params(transport: str) -> None:
    seen: list[web.Request] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        seen.append(request)
        return web.json_response(
            {"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}]}
        )

    params = {"extra_headers": {"X-Trace": "t-1"}, "extra_query": {"api-version": "2"}}
    attempt = _call_through(handle, transport, stream=False, params=params)
    assert attempt.error is None and attempt.output.content == "ok"
    assert seen[0].path == "/v1/chat/completions"
    assert seen[0].headers["X-Trace"] == "t-1"
    assert seen[0].query["api-version"] == "2"


@pytest.mark.parametrize("transport", ["direct", "sdk"])
def test_a_gzipped_stream_is_decoded(transport: str) -> None:
    """Proxies and gateways compress event streams; both layers must undo it."""

    async def handle(request: web.Request) -> web.StreamResponse:
        await request.read()
        plain = _stream_answer()
        assert isinstance(plain.body, bytes)
        return web.Response(
            body=gzip.compress(plain.body),
            headers={"Content-Type": "text/event-stream", "Content-Encoding": "gzip"},
        )

    attempt = _call_through(handle, transport)
    assert attempt.error is None, attempt.error
    assert attempt.finish_reason == "tool_calls"
    assert attempt.output.tool_calls[0].name == "get_weather"
    assert attempt.usage is not None and attempt.usage.total_tokens == 19


@pytest.mark.parametrize("transport", ["direct", "sdk"])
def test_a_proxy_from_the_environment_is_used_unless_no_proxy(
    transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY / NO_PROXY as the SDK's HTTP layer reads them: a forward proxy answers for a
    host that does not resolve; NO_PROXY sends the request past the proxy (and so fails)."""
    hosts: list[str] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        hosts.append(request.headers.get("Host", ""))
        await request.read()
        return _stream_answer()

    for name in ("HTTP_PROXY", "NO_PROXY"):
        monkeypatch.setenv(name, "")  # restored after the test; set for real below
    upstream = "http://upstream.invalid/v1"
    env = {"HTTP_PROXY": "{server}", "NO_PROXY": ""}
    via_proxy = _call_through(handle, transport, base_url=upstream, env=env)
    assert via_proxy.error is None, via_proxy.error
    assert via_proxy.output.tool_calls[0].name == "get_weather"
    assert hosts == ["upstream.invalid"]
    env["NO_PROXY"] = "upstream.invalid"
    bypassed = _call_through(handle, transport, base_url=upstream, env=env)
    assert bypassed.error is not None and bypassed.error.type == "connection"
    assert hosts == ["upstream.invalid"]


def test_a_socks_proxy_is_a_clear_input_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALL_PROXY", "socks5://127.0.0.1:1080")
    monkeypatch.setenv("NO_PROXY", "")
    with pytest.raises(InputError, match=r"only http.s. proxies .* transport: sdk"):
        Client(Endpoint(name="e", base_url="http://upstream.invalid/v1", model="m"))

"""How a request body reaches the server: posted by the harness itself, or through the SDK.

Both transports read the answer the same way (raw bytes -> `harness._sse` -> `harness._assemble`)
and leave every outcome in a `Call`; they differ only in the request layer.

- ``direct`` (the default) posts the JSON body on one aiohttp session, to the URL and with the
  headers the `AsyncOpenAI` client itself would use (its normalised `base_url`, its auth and
  default headers, the endpoint's extra headers), so a server cannot tell the two apart. The
  SDK's request layer (typed transform, options model, httpx request and response objects) costs
  about twice the rest of an attempt's client CPU; a run at concurrency 50 pays it once per case
  on a single event loop, where it becomes latency for every other call in flight
  (benchmarks/bench_runner.py (b): ~1.06x the ideal wall time instead of ~1.11x).
- ``sdk`` sends every request through `AsyncOpenAI.chat.completions` (`with_streaming_response`
  / `with_raw_response`): the escape hatch for a gateway that treats the SDK's requests
  differently, and the reference the direct transport is tested against.
"""

from __future__ import annotations

import email.utils
import functools
import json
import ssl
import time
import urllib.request
from collections.abc import AsyncIterator, Mapping
from typing import Any, Literal

import aiohttp
import httpx2
import openai
import orjson
import yarl
from openai import AsyncOpenAI

from harness._assemble import Assembler
from harness._sse import SSEDecoder
from harness.errors import InputError
from harness.records import ErrorInfo

TransportName = Literal["direct", "sdk"]

#: Per-request SDK options a body may carry (from endpoint params), besides the JSON fields.
SDK_OPTIONS = frozenset({"extra_headers", "extra_query", "timeout"})


class Call:
    """The state of one attempt, kept outside the timeout scope so a timeout keeps the partial."""

    __slots__ = (
        "answered",
        "asm",
        "error",
        "http_error",
        "retry_after",
        "started",
        "status",
        "streamed",
    )

    def __init__(self, streamed: bool) -> None:
        self.asm = Assembler()
        self.started = time.perf_counter()
        self.streamed = streamed
        self.answered = False
        self.status: int | None = None
        self.http_error: tuple[int, Any] | None = None
        """(status, body) of an HTTP error answer; the client classifies it."""
        self.error: ErrorInfo | None = None
        self.retry_after: float | None = None


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """The SDK's trust store (certifi unless SSL_CERT_FILE / SSL_CERT_DIR), built once.

    Loading the CA bundle costs 20-100 ms; every client of a process shares the result.
    """
    return httpx2.create_ssl_context()


def json_body(body: dict[str, Any]) -> dict[str, Any]:
    """The JSON object sent for `body`: its fields with `extra_body` merged on top (as the SDK)."""
    out = {k: v for k, v in body.items() if k not in SDK_OPTIONS and k != "extra_body"}
    out.update(body.get("extra_body") or {})
    return out


def error_body(content: bytes) -> Any:
    """An error answer's body: its JSON when it is JSON, else its text."""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return content.decode("utf-8", "replace")


async def read_sse(chunks: AsyncIterator[bytes], call: Call) -> None:
    """Feed a streamed body to the call's assembler until the answer ends."""
    decoder = SSEDecoder()
    asm = call.asm
    done = False
    async for raw in chunks:
        if done:
            continue  # drain to the end so the connection goes back to the pool
        for data in decoder.feed(raw):
            if not asm.feed_event(data):
                if asm.error is not None or asm.problem is not None:
                    return  # stop reading; the connection is dropped, not reused
                done = True
                break
    if not done:
        for data in decoder.flush():
            if not asm.feed_event(data):
                break


class DirectTransport:
    """POST /chat/completions on aiohttp, configured from the SDK client."""

    def __init__(self, sdk: AsyncOpenAI) -> None:
        self._sdk = sdk
        self._url = str(sdk.base_url.join("chat/completions"))
        self._headers: dict[str, str] = {}
        self._session: aiohttp.ClientSession | None = None
        self._proxy, self._proxy_auth = env_proxy(self._url)

    def _open(self) -> aiohttp.ClientSession:
        # Inside the running loop: aiohttp binds a session to it, and the SDK's headers name the
        # async library in use. Auth first, then defaults and the endpoint's headers (which the
        # SDK holds as its custom headers), as the SDK merges them; `Omit` values mean "leave out".
        merged = {**self._sdk.auth_headers, **self._sdk.default_headers}
        self._headers = {k: v for k, v in merged.items() if isinstance(v, str)}
        # The SDK's limits: the runner bounds the calls in flight, idle connections expire as
        # the SDK's do.
        connector = aiohttp.TCPConnector(
            limit=0,
            keepalive_timeout=openai.DEFAULT_CONNECTION_LIMITS.keepalive_expiry,
            ssl=ssl_context() if self._url.startswith("https:") else True,
        )
        # No aiohttp timeout: `Client.complete` bounds the whole attempt.
        timeout = aiohttp.ClientTimeout(total=None)
        self._session = aiohttp.ClientSession(connector=connector, timeout=timeout)
        return self._session

    async def send(self, body: dict[str, Any], call: Call) -> None:
        session = self._session or self._open()
        headers = self._headers
        extra_headers = body.get("extra_headers")
        if extra_headers:
            headers = _with_headers(headers, extra_headers)
        try:
            data = orjson.dumps(json_body(body))
        except TypeError:  # integers beyond 64 bits
            data = json.dumps(json_body(body)).encode()
        async with session.post(
            self._url,
            data=data,
            headers=headers,
            params=body.get("extra_query") or None,
            proxy=self._proxy,
            proxy_auth=self._proxy_auth,
        ) as resp:
            call.answered = True
            call.status = resp.status
            if resp.status >= 400:
                call.http_error = (resp.status, error_body(await resp.read()))
                call.retry_after = retry_after_from(resp.headers)
            elif not call.streamed:
                call.asm.feed_body(await resp.read())
            elif "json" in resp.headers.get("Content-Type", ""):
                # A server that ignored stream=true and answered with one JSON body.
                call.streamed = False
                call.asm.feed_body(await resp.read())
            else:
                await read_sse(resp.content.iter_any(), call)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def _with_headers(headers: dict[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """`headers` with `extra` on top, names matched case-insensitively (as HTTP does)."""
    lowered = {k.lower() for k in extra}
    return {**{k: v for k, v in headers.items() if k.lower() not in lowered}, **extra}


def env_proxy(url: str) -> tuple[yarl.URL | None, aiohttp.BasicAuth | None]:
    """The proxy the SDK's HTTP layer would take from the environment for `url`, with its auth.

    HTTP_PROXY / HTTPS_PROXY / ALL_PROXY (either case), NO_PROXY honoured; read once per client,
    as the SDK does when it is built.
    """
    target = yarl.URL(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(target.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(target.host or ""):
        return None, None
    parsed = yarl.URL(proxy if "://" in proxy else f"http://{proxy}")
    if parsed.scheme not in ("http", "https"):
        raise InputError(
            f"proxy {parsed.with_user(None)} from the environment: only http(s) proxies work "
            "with transport direct; set transport: sdk on the endpoint to use it"
        )
    auth = aiohttp.BasicAuth(parsed.user, parsed.password or "") if parsed.user else None
    return parsed.with_user(None), auth


class SdkTransport:
    """Every request through `AsyncOpenAI.chat.completions`, read from its raw response."""

    def __init__(self, sdk: AsyncOpenAI) -> None:
        self._sdk = sdk

    async def send(self, body: dict[str, Any], call: Call) -> None:
        try:
            if call.streamed:
                await self._stream(body, call)
            else:
                await self._once(body, call)
        except openai.APIStatusError as exc:
            call.answered = True
            call.status = exc.status_code
            call.http_error = (exc.status_code, _status_body(exc))
            call.retry_after = retry_after_from(exc.response.headers)

    async def _stream(self, body: dict[str, Any], call: Call) -> None:
        create = self._sdk.chat.completions.with_streaming_response.create
        async with create(**_sdk_kwargs(body)) as response:
            http = response.http_response
            call.answered = True
            call.status = http.status_code
            if "json" in http.headers.get("content-type", ""):
                call.streamed = False
                call.asm.feed_body(await http.aread())
                return
            await read_sse(http.aiter_bytes(), call)

    async def _once(self, body: dict[str, Any], call: Call) -> None:
        raw = await self._sdk.chat.completions.with_raw_response.create(**_sdk_kwargs(body))
        call.answered = True
        call.status = raw.http_response.status_code
        call.asm.feed_body(raw.http_response.content)

    async def aclose(self) -> None:
        """The SDK client is closed by its owner."""


def _sdk_kwargs(body: dict[str, Any]) -> dict[str, Any]:
    """`create` arguments that send `body` as it is, without the SDK's per-request transform.

    `create` runs every argument through a typed transform (TypedDict introspection, recursive
    over messages and tools) that changes nothing in a body that is already plain JSON.
    `extra_body` is merged over the arguments (documented SDK behaviour), so the body rides
    there and the typed arguments are the minimum `create` requires.
    """
    kwargs = {k: v for k, v in body.items() if k in SDK_OPTIONS}
    return {
        **kwargs,
        "model": body["model"],
        "messages": (),
        "stream": bool(body.get("stream")),
        "extra_body": json_body(body),
    }


def _status_body(exc: openai.APIStatusError) -> Any:
    """The server's error body; the SDK keeps only the inner `error` object, or the text."""
    try:
        return orjson.loads(exc.response.content)
    except (orjson.JSONDecodeError, httpx2.ResponseNotRead):
        return exc.body if exc.body is not None else exc.response.reason_phrase


def retry_after_from(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asked us to wait: `retry-after-ms`, else `Retry-After` (secs or date)."""
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())

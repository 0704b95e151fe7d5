"""One request to an OpenAI-compatible endpoint: send, stream, time, assemble, classify.

The official `openai` SDK is the configuration authority (auth, base URL normalisation, default
headers, its trust store) and, with `transport: sdk`, the request layer too, over its aiohttp
transport with its own retries off (retries are `harness.retry`'s). By default the request is
posted by `harness._transports.DirectTransport` with exactly the SDK's URL and headers: the
SDK's request layer is most of a run's client CPU (see that module). Either way the answer is
read raw: SSE lines are decoded from bytes (`harness._sse`) and chunks are assembled as plain
dicts (`harness._assemble`); pydantic models are built once per attempt.

`Client.complete` never raises for HTTP, network or protocol failures: every outcome is an
`Attempt`, and a failure is an `ErrorInfo` whose `type` decides retries:

- no HTTP response (refused, reset, DNS) -> `connection`; no complete answer in time -> `timeout`;
- a 200 whose body breaks the protocol -> `protocol`: a stream cut mid-way (the connection
  dropped after the status line), a malformed chunk, a body of the wrong shape, or a response
  with nothing in it. A cut stream is `protocol` rather than `connection` because the server did
  answer and its answer is what broke; both are retried the same way. A stream cut after its
  finish_reason is not an error: the answer is whole (only a trailing usage chunk may be lost);
- HTTP statuses and error objects (also inside a 200 stream) -> see `classify_error`.

`limits.timeout_s` bounds each attempt end to end (connect + the whole streamed answer) with
`asyncio.timeout`, because a server that trickles chunks never trips a read timeout. The API key
never appears in an error message: messages are built here, and scrubbed of the key.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import time
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

import aiohttp
import httpx2
import openai
from openai import AsyncOpenAI, DefaultAioHttpClient
from openai.resources.chat.completions import AsyncCompletions

from harness._assemble import Assembled, map_finish_reason
from harness._classify import classify_error
from harness._transports import (
    Call,
    DirectTransport,
    SdkTransport,
    retry_after_from,
    ssl_context,
)
from harness.errors import InputError
from harness.prompt import render_messages
from harness.records import ErrorInfo, FinishReason, Output, Served, Usage

if TYPE_CHECKING:
    from harness.endpoints import Endpoint
    from harness.golden import Case

__all__ = [
    "Attempt",
    "Client",
    "build_request",
    "classify_error",
    "endpoint_params",
    "param_problems",
    "retry_after_from",
]

_MESSAGE_LIMIT = 500
_BEARER = re.compile(r"Bearer\s+\S+", re.IGNORECASE)


@dataclass(slots=True)
class Attempt:
    """One HTTP attempt, success or failure."""

    output: Output
    finish_reason: FinishReason | None
    """Normalised; None only when no response arrived at all."""
    raw_finish_reason: str | None
    usage: Usage | None
    """None when the server reported no usage; fields it did not report are None."""
    latency_s: float | None
    ttft_s: float | None
    """Time to the first content, reasoning or tool-call delta; None when not streamed."""
    error: ErrorInfo | None
    """None means success."""
    retry_after_s: float | None = None
    """From Retry-After / retry-after-ms on a failure."""
    served: Served | None = None
    """The model, response id and fingerprint the server reported."""


# --------------------------------------------------------------------------- the request body

_ACCEPTED = frozenset(inspect.signature(AsyncCompletions.create).parameters) - {"self"}
#: Fields of `create` that an endpoint's params must not set, and where each really comes from.
_NOT_PARAMS = {
    "model": "set the endpoint's 'model' instead",
    "messages": "messages come from the case",
    "tools": "tools come from the case",
    "timeout": "set limits.timeout_s instead",
}


def param_problems(params: dict[str, Any]) -> list[tuple[str, str]]:
    """`(key, message)` for every endpoint param that `create` would refuse or crash on.

    Kept apart from `endpoint_params` so that a config file can place each problem on its line.
    """
    problems: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None:
            continue
        if key in _NOT_PARAMS:
            problems.append((key, f"params.{key} is not an endpoint param: {_NOT_PARAMS[key]}"))
        elif key in ("extra_headers", "extra_query"):
            if not isinstance(value, dict) or not all(
                isinstance(v, str | int | float) and not isinstance(v, bool) for v in value.values()
            ):
                problems.append((key, f"params.{key} must map names to strings or numbers"))
        elif key == "extra_body":
            if not isinstance(value, dict):
                problems.append((key, "params.extra_body must be a mapping"))
        elif key not in _ACCEPTED:
            problems.append(
                (
                    key,
                    f"params.{key} is not a chat.completions field; server-specific fields "
                    "(DashScope, vLLM) go under params.extra_body, "
                    f"e.g. extra_body: {{{key}: ...}}",
                )
            )
    return problems


def endpoint_params(endpoint: Endpoint) -> dict[str, Any]:
    """The endpoint's `params` without None values, refused (InputError) if `create` would be.

    Run before a run directory is made, so a bad config fails with nothing written.
    """
    problems = param_problems(endpoint.params)
    if problems:
        raise InputError([f"endpoint {endpoint.name!r}: {message}" for _, message in problems])
    params = {k: v for k, v in endpoint.params.items() if v is not None}
    for key in ("extra_headers", "extra_query"):
        if key in params:
            params[key] = {str(k): str(v) for k, v in params[key].items()}
    return params


def build_request(case: Case, endpoint: Endpoint) -> dict[str, Any]:
    """Keyword arguments for `chat.completions.create`: endpoint params under case params.

    `extra_body` dicts are merged key by key (case wins), and that is where DashScope/vLLM-only
    fields (`enable_thinking`, `top_k`, `chat_template_kwargs`) must go: the SDK rejects unknown
    keyword arguments. `stream_options` is sent only with `stream: true` (vLLM answers 400 to it
    on a non-streaming request). No key is ever None-valued.
    """
    params = endpoint_params(endpoint)
    case_params = case.params.model_dump(exclude_none=True)
    extra = {
        **(params.pop("extra_body", None) or {}),
        **(case_params.pop("extra_body", None) or {}),
    }
    params.update(case_params)
    stream = bool(params.pop("stream", endpoint.stream))
    stream_options = params.pop("stream_options", None)
    body: dict[str, Any] = {"model": endpoint.model, "messages": render_messages(case), **params}
    if case.tools:
        body["tools"] = [t.model_dump(exclude_none=True) for t in case.tools]
    if case.tool_choice is not None:
        body["tool_choice"] = case.tool_choice
    body["stream"] = stream
    if stream:
        body["stream_options"] = {**(stream_options or {}), "include_usage": True}
    extra = {k: v for k, v in extra.items() if v is not None}
    if extra:
        body["extra_body"] = extra
    return body


# --------------------------------------------------------------------------- failures


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _transport_error(exc: BaseException, *, answered: bool, chunks: int) -> ErrorInfo:
    """A failure below HTTP, judged by its root cause.

    The SDK's aiohttp transport reports a refused or reset connection as a *timeout*
    (aiohttp's ClientConnectionError is mapped to ConnectTimeout), so the wrappers' names are
    not trusted: the deepest exception in the chain decides.
    """
    chain = _chain(exc)
    root = chain[-1]
    what = " ".join(f"{type(root).__name__}: {root}".split()).rstrip(":")
    for e in reversed(chain):
        if isinstance(e, TimeoutError | httpx2.TimeoutException):
            return ErrorInfo(type="timeout", message=f"timed out ({what})")
        if isinstance(e, OSError | aiohttp.ClientError):
            break
    if answered:
        return ErrorInfo(type="protocol", message=f"stream cut after {chunks} chunks ({what})")
    if isinstance(exc, openai.APITimeoutError) and not isinstance(
        root, OSError | aiohttp.ClientError
    ):
        return ErrorInfo(type="timeout", message=f"timed out ({what})")
    return ErrorInfo(type="connection", message=f"no response ({what})")


# --------------------------------------------------------------------------- the client


class Client:
    """Sends one request at a time per call; share one Client across a run's tasks.

    Create and use it inside one event loop (the aiohttp session binds to the loop that first
    uses it). Raises InputError at construction when the endpoint's key variable is not set.
    """

    def __init__(self, endpoint: Endpoint) -> None:
        missing = endpoint.missing_key()
        if missing:
            raise InputError(
                f"endpoint {endpoint.name!r}: the environment variable ${missing} is not set "
                "(API keys are read from the environment only)"
            )
        self.endpoint = endpoint
        self._key = endpoint.api_key()
        self._timeout_s = endpoint.limits.timeout_s
        self._auth_hint = endpoint.auth_hint()
        self._sdk = AsyncOpenAI(
            api_key=self._key or "not-needed",
            base_url=endpoint.base_url,
            max_retries=0,
            timeout=self._timeout_s,
            default_headers=endpoint.headers or None,
            http_client=DefaultAioHttpClient(timeout=self._timeout_s, verify=ssl_context()),
        )
        self._transport: DirectTransport | SdkTransport = (
            SdkTransport(self._sdk) if endpoint.transport == "sdk" else DirectTransport(self._sdk)
        )

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        try:
            await self._transport.aclose()
        finally:
            await self._sdk.close()

    async def complete(self, body: dict[str, Any]) -> Attempt:
        """Send `body` (from `build_request`) once; every failure comes back in the Attempt."""
        call = Call(streamed=bool(body.get("stream")))
        try:
            async with asyncio.timeout(self._timeout_s):
                await self._transport.send(body, call)
        except TimeoutError:
            call.error = ErrorInfo(
                type="timeout",
                message=f"no complete answer within {self._timeout_s:g}s "
                "(limits.timeout_s covers connect and the whole streamed answer)",
            )
        except (openai.APIError, httpx2.HTTPError, aiohttp.ClientError, OSError) as exc:
            error = _transport_error(exc, answered=call.answered, chunks=call.asm.chunks)
            # Cut after the finish_reason: the answer is whole, only trailing usage may be lost.
            if error.type != "protocol" or call.asm.finish_reason is None:
                call.error = error
        if call.http_error is not None:
            status, body_ = call.http_error
            call.error = classify_error(status, body_, auth_hint=self._auth_hint)
        return self._attempt(call)

    def _attempt(self, call: Call) -> Attempt:
        latency = time.perf_counter() - call.started
        result: Assembled = call.asm.result()
        error = call.error
        finish = map_finish_reason(result.raw_finish_reason)
        if error is None:
            if result.error is not None:
                error = classify_error(200, result.error, auth_hint=self._auth_hint)
            elif result.problem is not None:
                error = ErrorInfo(type="protocol", message=result.problem)
            elif finish == "content_filter":
                error = ErrorInfo(
                    type="content_filter",
                    message="the server stopped the answer with finish_reason content_filter",
                )
            elif finish == "error":
                error = ErrorInfo(
                    type="server",
                    message="the server ended the answer with "
                    f"finish_reason {result.raw_finish_reason!r}",
                )
            elif finish is None:
                finish = "unknown"
        if error is not None:
            if error.status_code is None and call.status is not None:
                error = error.model_copy(update={"status_code": call.status})
            error = self._scrub(error)
            if finish != "content_filter":
                finish = "error" if call.answered else None
        first = call.asm.first_token_at
        return Attempt(
            output=result.output,
            finish_reason=finish,
            raw_finish_reason=result.raw_finish_reason,
            usage=result.usage,
            latency_s=latency,
            ttft_s=first - call.started if call.streamed and first is not None else None,
            error=error,
            retry_after_s=call.retry_after if error is not None else None,
            served=result.served,
        )

    def _scrub(self, error: ErrorInfo) -> ErrorInfo:
        message = _BEARER.sub("Bearer ***", error.message)
        code = error.code
        if len(self._key) >= 6:
            message = message.replace(self._key, "***")
            code = code.replace(self._key, "***") if code else code
        if len(message) > _MESSAGE_LIMIT:
            message = message[:_MESSAGE_LIMIT] + "..."
        return error.model_copy(update={"message": message, "code": code})

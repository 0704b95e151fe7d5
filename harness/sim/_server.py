"""The simulator: a real aiohttp server speaking OpenAI chat completions for a golden suite.

It is the product's offline default and the runner's test double, so it behaves like the servers
teams run (vLLM-style streaming, DashScope-style usage with cached and reasoning tokens, 429 with
Retry-After) and says everywhere that it is a simulator: `sim-<profile>` model ids, a
``harness-simulator`` system fingerprint and an ``X-Harness-Simulator`` header. It never answers
an unknown request with an error: it says it is a simulator and does not know the case.

With zero latency the hot path is a dict lookup, one ``bytes.replace`` and one write, so the
harness overhead benchmark measures the harness rather than the simulator.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from harness.errors import InputError
from harness.sim._config import HEADERS, SimConfig, SimStats, error_response
from harness.sim._faults import FaultPicker, parse_faults
from harness.sim._index import (
    CaseIndex,
    prompt_tokens,
    request_max_tokens,
    request_thinking,
)
from harness.sim._profiles import PROFILES, AnswerBook, degraded_cases, tokens
from harness.sim._wire import (
    STREAM_ERROR,
    SYSTEM_FINGERPRINT,
    Prepared,
    close_abruptly,
    new_id,
    write_stream,
)

if TYPE_CHECKING:
    from harness.golden import Suite

#: A system prompt seen before is reported as cached in blocks of this many simulated tokens.
CACHE_BLOCK_TOKENS = 16
_SSE_HEADERS = {**HEADERS, "Content-Type": "text/event-stream", "Cache-Control": "no-cache"}


class SimServer:
    """The simulator on 127.0.0.1; run it in the caller's loop or in a background thread."""

    def __init__(
        self,
        suite: Suite | None,
        config: SimConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.config = config = config if config is not None else SimConfig()
        if config.profile not in PROFILES:
            raise InputError(
                f"unknown simulator profile {config.profile!r} "
                f"(expected one of: {', '.join(PROFILES)})"
            )
        if not 0.0 <= config.degraded_fraction <= 1.0:
            raise InputError("degraded fraction must be between 0 and 1")
        if min(config.latency_s, config.token_latency_s, config.retry_after_s, config.hang_s) < 0:
            raise InputError("simulator latencies and delays must not be negative")
        if not 0 <= port <= 65535:
            raise InputError(f"simulator port must be between 0 and 65535, got {port}")
        self.suite = suite
        self.host = host
        self.port = port
        self.model = config.model
        self.stats = SimStats()
        self._faults = FaultPicker(parse_faults(config.faults), config.seed)
        self._index = CaseIndex(suite)
        kinds = (
            degraded_cases(suite, config.seed, config.degraded_fraction)
            if suite is not None and config.profile == "degraded"
            else {}
        )
        self._book = AnswerBook(config.profile, config.seed, config.degraded_fraction, kinds)
        self._auth = f"Bearer {config.require_key}" if config.require_key is not None else None
        self._memo: dict[tuple[int | None, int | None, bool | None], Prepared] = {}
        self._seen_system: set[str] = set()
        self._five_xx = 0
        self._runner: web.AppRunner | None = None
        self._closing: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.base_url = ""
        for i in range(len(self._index.cases)):
            shape = self._index.shape(i)
            self._prepared(i, shape.max_tokens, shape.thinking)

    @property
    def injected(self) -> dict[str, str]:
        """Case id -> perturbation kind of the `degraded` profile (empty for other profiles)."""
        return dict(self._book.kinds)

    # ------------------------------------------------------------------ lifecycle (caller's loop)

    async def start(self) -> str:
        """Listen and return the base URL (``http://HOST:PORT/v1``)."""
        self._closing = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/health", self._health)
        runner = web.AppRunner(
            app,
            handle_signals=False,
            access_log=None,
            handler_cancellation=True,
            shutdown_timeout=1.0,
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, backlog=1024)
        try:
            await site.start()
        except OSError as exc:  # the port is taken, or the host is not an address of this machine
            await runner.cleanup()
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise InputError(
                f"simulator: cannot listen on {self.host}:{self.port}: {reason.lower()}"
            ) from None
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self.port = int(port)
        self.base_url = f"http://{host}:{self.port}/v1"
        return self.base_url

    async def stop(self) -> None:
        if self._closing is not None:
            self._closing.set()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> SimServer:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # ------------------------------------------------------------------ background thread

    def start_background(self) -> str:
        """Run in a thread with its own event loop (for sync callers); return the base URL."""
        if self._thread is not None:
            return self.base_url
        ready: concurrent.futures.Future[str] = concurrent.futures.Future()

        async def main() -> None:
            try:
                url = await self.start()
            except BaseException as exc:
                ready.set_exception(exc)
                return
            self._loop = asyncio.get_running_loop()
            ready.set_result(url)
            assert self._closing is not None
            await self._closing.wait()
            await self.stop()

        self._thread = threading.Thread(
            target=asyncio.run, args=(main(),), name="harness-simulator", daemon=True
        )
        self._thread.start()
        try:
            return ready.result()
        except BaseException:
            self._thread.join()
            self._thread = None
            raise

    def stop_background(self) -> None:
        thread, loop = self._thread, self._loop
        if thread is None:
            return
        if loop is not None and self._closing is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._closing.set)
        thread.join()
        self._thread = self._loop = None

    def __enter__(self) -> SimServer:
        self.start_background()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop_background()

    # ------------------------------------------------------------------ handlers

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "status": "ok",
                "simulator": True,
                "model": self.model,
                "cases": len(self._index.cases),
            },
            headers=HEADERS,
            dumps=_json,
        )

    async def _models(self, request: web.Request) -> web.Response:
        if self._auth is not None and request.headers.get("Authorization") != self._auth:
            return self._unauthorized()
        data = [{"id": self.model, "object": "model", "created": 0, "owned_by": SYSTEM_FINGERPRINT}]
        return web.json_response({"object": "list", "data": data}, headers=HEADERS, dumps=_json)

    def _unauthorized(self) -> web.Response:
        self.stats.unauthorized += 1
        return error_response(
            401, "Incorrect API key provided", "invalid_request_error", "invalid_api_key"
        )

    def _prepared(self, idx: int | None, max_tokens: int | None, thinking: bool | None) -> Prepared:
        key = (idx, max_tokens, thinking)
        prep = self._memo.get(key)
        if prep is None:
            case = self._index.cases[idx] if idx is not None else None
            answer = self._book.shape(case, max_tokens, thinking)
            prep = self._memo[key] = Prepared.build(answer, self.model)
        return prep

    def _usage(
        self, prep: Prepared, messages: list[dict[str, Any]], body: dict[str, Any]
    ) -> dict[str, Any]:
        cached = 0
        first = messages[0] if messages else None
        if first is not None and first.get("role") == "system":
            system = first.get("content")
            if isinstance(system, str):
                n = tokens(system)
                if system in self._seen_system:
                    cached = n - n % CACHE_BLOCK_TOKENS
                    self.stats.cached_hits += cached > 0
                else:
                    self._seen_system.add(system)
        return prep.usage(prompt_tokens(messages, body.get("tools")), cached)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        stats = self.stats
        stats.requests += 1
        if self._auth is not None and request.headers.get("Authorization") != self._auth:
            return self._unauthorized()
        try:
            body = orjson.loads(await request.read())
            if not isinstance(body, dict):
                raise ValueError("the request body must be a JSON object")
            messages = body.get("messages")
            if (
                not isinstance(messages, list)
                or not messages
                or not all(isinstance(m, dict) for m in messages)
            ):
                raise ValueError("'messages' must be a non-empty list of message objects")
            max_tokens = request_max_tokens(body)
        except ValueError as exc:
            stats.bad_requests += 1
            return error_response(400, str(exc), "invalid_request_error", "invalid_request")
        stream = body.get("stream") is True
        fault = self._faults.draw() if self._faults else None
        idx = self._index.match(messages, body)
        stats.log.append(
            (time.monotonic(), None if idx is None else self._index.cases[idx].id, fault)
        )
        if fault is not None:
            stats.faults[fault] += 1
            early = self._early_fault(fault, request, stream)
            if early is not None:
                return early
        if idx is None:
            stats.unknown_cases += 1
        else:
            stats.case_requests[self._index.cases[idx].id] += 1
        prep = self._prepared(idx, max_tokens, request_thinking(body))
        if fault == "hang" and not await self._hang():
            return error_response(503, "The simulator is shutting down", "server_error", 503)
        cfg = self.config
        factor = 3.0 if prep.answer.slow else 1.0
        latency, per_token = cfg.latency_s * factor, cfg.token_latency_s * factor
        rid = new_id()
        if not stream:
            usage = self._usage(prep, messages, body)
            delay = latency + per_token * max(prep.answer.completion_tokens - 1, 0)
            if delay > 0:
                await asyncio.sleep(delay)
            if fault == "malformed":
                return web.Response(
                    body=prep.body_bytes(rid, usage)[:-7],
                    content_type="application/json",
                    headers=HEADERS,
                )
            if fault == "stream_error":
                return web.Response(
                    body=orjson.dumps({"error": STREAM_ERROR}),
                    content_type="application/json",
                    headers=HEADERS,
                )
            stats.answered += 1
            return web.Response(
                body=prep.body_bytes(rid, usage), content_type="application/json", headers=HEADERS
            )
        stats.streamed += 1
        opts = body.get("stream_options")
        include_usage = isinstance(opts, dict) and opts.get("include_usage") is True
        usage_or_none = self._usage(prep, messages, body) if include_usage else None
        if fault is None and latency == 0 and per_token == 0:
            stats.answered += 1
            return web.Response(body=prep.stream_bytes(rid, usage_or_none), headers=_SSE_HEADERS)
        return await self._slow_stream(request, prep, rid, usage_or_none, fault, latency, per_token)

    def _early_fault(
        self, fault: str, request: web.Request, stream: bool
    ) -> web.StreamResponse | None:
        """Faults that happen before any answer exists: 429, 5xx, a non-streaming cut."""
        if fault == "429":
            after = self.config.retry_after_s
            headers = {"Retry-After": f"{after:g}", "retry-after-ms": str(round(after * 1000))}
            return error_response(
                429,
                "Rate limit reached for requests",
                "rate_limit_error",
                "rate_limit_exceeded",
                headers,
            )
        if fault == "5xx":
            self._five_xx += 1
            if self._five_xx % 2:
                return error_response(500, "Internal server error", "internal_error", 500)
            return error_response(
                503, "Service temporarily unavailable", "service_unavailable", "service_unavailable"
            )
        if fault == "400":
            return error_response(
                400, "The request is invalid (injected)", "invalid_request_error", "invalid_request"
            )
        if fault == "cut" and not stream:
            close_abruptly(request)
            return web.Response(headers=HEADERS)
        return None

    async def _hang(self) -> bool:
        """Sleep `hang_s`; False when the server stops first. A client hang-up cancels it."""
        assert self._closing is not None
        try:
            await asyncio.wait_for(self._closing.wait(), self.config.hang_s)
        except TimeoutError:
            return True
        except asyncio.CancelledError:
            self.stats.hangs_cancelled += 1
            raise
        self.stats.hangs_cancelled += 1
        return False

    async def _slow_stream(
        self,
        request: web.Request,
        prep: Prepared,
        rid: str,
        usage: dict[str, Any] | None,
        fault: str | None,
        latency: float,
        per_token: float,
    ) -> web.StreamResponse:
        """A stream written chunk by chunk: with latency, or broken by a fault."""
        resp = web.StreamResponse(headers=_SSE_HEADERS)
        await resp.prepare(request)
        with contextlib.suppress(ConnectionError):  # the client went away mid-stream
            if await write_stream(request, resp, prep, rid, usage, fault, latency, per_token):
                self.stats.answered += 1
        return resp


def _json(obj: Any) -> str:
    return orjson.dumps(obj).decode()

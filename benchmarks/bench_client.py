"""Requests per second through the client on the hot path, against a server that answers at once.

A local aiohttp server (its own process, so it does not share the client's event loop) answers
every request with the same ~20-chunk chat-completions stream. N streamed requests run at
concurrency C through:

- ``openai.AsyncOpenAI`` (default httpx2 transport), parsed stream (``async for chunk in stream``);
- the same with ``http_client=DefaultAioHttpClient()``;
- the same transport, the SDK's raw stream via ``create(**body)``, chunks as orjson dicts;
- ``harness.client.Client.complete`` with ``transport: sdk`` (the same, minus the SDK's
  per-request typed transform, plus timing, error classification and the record's models);
- the same with ``transport: direct`` (the default: the body posted on aiohttp with the SDK's URL
  and headers, no SDK request layer).

Each client's assembled text is checked against the server's before its rate is printed. The
in-process cost of decoding and assembling one answer (no HTTP) is printed too.

    python benchmarks/bench_client.py --requests 3000 --concurrency 64 --rounds 3

Rounds are interleaved and the best and median rates are printed with the client's CPU time per
request (steadier than wall time when other work shares the machine).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import platform
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import openai
import orjson
from aiohttp import web
from openai import AsyncOpenAI, DefaultAioHttpClient
from openai._models import construct_type
from openai._streaming import SSEDecoder as SDKDecoder
from openai.types.chat import ChatCompletionChunk

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness._assemble import Assembler
from harness._sse import SSEDecoder, parse_event
from harness.client import Client
from harness.endpoints import Endpoint, Limits

WORDS = [f"w{i} " for i in range(18)]
TEXT = "".join(WORDS)


def stream_body() -> bytes:
    base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1, "model": "m"}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {**base, "choices": [choice]}

    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"content": w}) for w in WORDS]
    chunks.append(chunk({}, "stop"))
    usage = {"prompt_tokens": 12, "completion_tokens": 18, "total_tokens": 30}
    chunks.append({**base, "choices": [], "usage": usage})
    return b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"


def serve(port_out: Any) -> None:
    body = stream_body()

    async def handle(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(body)
        await response.write_eof()
        return response

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        port_out.put(runner.addresses[0][1])
        await asyncio.Event().wait()

    asyncio.run(main())


async def drive(n: int, concurrency: int, one: Callable[[], Awaitable[str]]) -> tuple[float, float]:
    """(requests per second, client CPU microseconds per request) for n calls of `one`.

    CPU time of this process is the steadier figure on a shared machine: it is what the client
    itself costs, whatever else competes for the cores.
    """
    left = n

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            text = await one()
            if text != TEXT:
                raise AssertionError(f"wrong answer assembled: {text[:60]!r}")

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - start), (time.process_time() - cpu) / n * 1e6


MESSAGES: Any = [{"role": "user", "content": "hi"}]


async def bench_sdk(url: str, n: int, c: int, *, aiohttp_transport: bool) -> tuple[float, float]:
    kwargs: dict[str, Any] = {"base_url": url, "api_key": "x", "max_retries": 0}
    if aiohttp_transport:
        kwargs["http_client"] = DefaultAioHttpClient()
    async with AsyncOpenAI(**kwargs) as client:

        async def one() -> str:
            stream = await client.chat.completions.create(
                model="m",
                messages=MESSAGES,
                stream=True,
                stream_options={"include_usage": True},
            )
            parts = []
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    parts.append(chunk.choices[0].delta.content)
            return "".join(parts)

        await drive(min(n, 200), c, one)  # warm-up: connections, imports, caches
        return await drive(n, c, one)


async def bench_raw_create(url: str, n: int, c: int) -> tuple[float, float]:
    """The SDK's raw stream through `create(**body)` (its typed transform included)."""
    body: dict[str, Any] = {"model": "m", "messages": MESSAGES, "stream": True}
    body["stream_options"] = {"include_usage": True}
    async with AsyncOpenAI(
        base_url=url, api_key="x", max_retries=0, http_client=DefaultAioHttpClient()
    ) as client:

        async def one() -> str:
            asm = Assembler()
            create = client.chat.completions.with_streaming_response.create
            async with create(**body) as response:
                decoder = SSEDecoder()
                async for raw in response.http_response.aiter_bytes():
                    for data in decoder.feed(raw):
                        value = parse_event(data)
                        if isinstance(value, dict):
                            asm.feed(value)
            return asm.result().output.content or ""

        await drive(min(n, 200), c, one)
        return await drive(n, c, one)


async def bench_harness(url: str, n: int, c: int, transport: str) -> tuple[float, float]:
    endpoint = Endpoint(
        name="bench",
        base_url=url,
        model="m",
        limits=Limits(timeout_s=60),
        transport=transport,
    )
    body = {"model": "m", "messages": MESSAGES, "stream": True}
    body["stream_options"] = {"include_usage": True}
    async with Client(endpoint) as client:

        async def one() -> str:
            attempt = await client.complete(body)
            if attempt.error is not None or attempt.usage is None:
                raise AssertionError(f"failed: {attempt.error}")
            return attempt.output.content or ""

        await drive(min(n, 200), c, one)
        return await drive(n, c, one)


def parse_cost(repeats: int = 3000) -> tuple[float, float]:
    """Microseconds to decode and assemble one answer in-process (no HTTP): harness vs SDK.

    The SDK side replays what its parsed stream does per event (its SSE decoder, `json()`,
    `construct_type` into a ChatCompletionChunk; private helpers, benchmark only), then reads
    the content the way a caller would.
    """
    body = stream_body()
    start = time.perf_counter()
    for _ in range(repeats):
        asm = Assembler()
        decoder = SSEDecoder()
        for data in decoder.feed(body):
            if not asm.feed_event(data):
                break
        asm.result()
    ours = (time.perf_counter() - start) / repeats * 1e6
    start = time.perf_counter()
    for _ in range(repeats):
        parts = []
        for sse in SDKDecoder().iter_bytes(iter([body])):
            if sse.data.startswith("[DONE]"):
                break
            chunk = construct_type(type_=ChatCompletionChunk, value=sse.json())
            if isinstance(chunk, ChatCompletionChunk) and chunk.choices:
                parts.append(chunk.choices[0].delta.content or "")
        "".join(parts)
    sdk = (time.perf_counter() - start) / repeats * 1e6
    return ours, sdk


def machine() -> str:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs ({cpu or platform.machine()}), {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, openai {openai.__version__}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    port_q = ctx.Queue()
    server = ctx.Process(target=serve, args=(port_q,), daemon=True)
    server.start()
    try:
        url = f"http://127.0.0.1:{port_q.get(timeout=30)}/v1"
        n, c = args.requests, args.concurrency
        print(f"machine: {machine()}")
        print(
            f"{n} streamed requests (~20 chunks each), concurrency {c}, {args.rounds} rounds "
            "(interleaved), server in its own process"
        )
        rows: list[tuple[str, Callable[[], Coroutine[Any, Any, tuple[float, float]]]]] = [
            (
                "openai.AsyncOpenAI, parsed stream",
                lambda: bench_sdk(url, n, c, aiohttp_transport=False),
            ),
            (
                "AsyncOpenAI + DefaultAioHttpClient, parsed stream",
                lambda: bench_sdk(url, n, c, aiohttp_transport=True),
            ),
            (
                "same, raw stream via create(**body), orjson dicts",
                lambda: bench_raw_create(url, n, c),
            ),
            (
                "harness Client.complete, transport sdk",
                lambda: bench_harness(url, n, c, "sdk"),
            ),
            (
                "harness Client.complete, transport direct (default)",
                lambda: bench_harness(url, n, c, "direct"),
            ),
        ]
        results: dict[str, list[tuple[float, float]]] = {label: [] for label, _ in rows}
        for _ in range(args.rounds):  # interleaved, so a noisy minute hits every client
            for label, bench in rows:
                results[label].append(asyncio.run(bench()))
        print(f"  {'client':<52} {'req/s best':>10} {'median':>8} {'CPU us/req':>11}")
        for label, runs in results.items():
            rates = sorted(r for r, _ in runs)
            cpu = sorted(us for _, us in runs)[len(runs) // 2]
            print(f"  {label:<52} {rates[-1]:10.0f} {rates[len(rates) // 2]:8.0f} {cpu:11.0f}")
        ours, sdk = parse_cost()
        print(
            f"decode + assemble one answer in-process (no HTTP): harness {ours:.0f} us, "
            f"SDK parsed-stream path {sdk:.0f} us"
        )
    finally:
        server.terminate()
        server.join()


if __name__ == "__main__":
    main()

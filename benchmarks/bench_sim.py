"""How fast the simulator answers, so the harness overhead benchmark measures the harness.

The simulator runs in its own process (as `harness sim` would) with zero latency and answers a
synthetic suite (or `--suite PATH`). N streamed requests, one per case in turn, run at
concurrency C through:

- a bare aiohttp client (the ceiling: what the simulator itself can serve);
- ``openai.AsyncOpenAI(http_client=DefaultAioHttpClient())``, parsed stream;
- ``harness.client.Client.complete`` (the harness's own hot path).

Every answer is checked against the case's reference before the rate is printed. The in-process
cost of the simulator's per-request work without HTTP (match the case, stamp the prepared
stream, compute usage) is printed too.

    python benchmarks/bench_sim.py --requests 3000 --concurrency 64
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import platform
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from openai import AsyncOpenAI, DefaultAioHttpClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.golden import Suite, case_from_dict, load_suite
from harness.prompt import render_messages
from harness.sim import SimConfig, SimServer, serve


def synthetic_suite(n: int = 200) -> Suite:
    cases = []
    for i in range(n):
        cases.append(
            case_from_dict(
                {
                    "id": f"case-{i}",
                    "category": "chat",
                    "messages": [
                        {"role": "system", "content": "You are a helpful support assistant."},
                        {
                            "role": "user",
                            "content": f"Question number {i} about our refund policy?",
                        },
                    ],
                    "reference": {"content": f"Answer {i}: " + "refunds take thirty days. " * 12},
                    "checks": [],
                }
            )
        )
    return Suite(path="<synthetic>", cases=cases)


def _serve(suite_path: str | None, port: int) -> None:
    suite = load_suite(suite_path) if suite_path else synthetic_suite()
    serve(suite, SimConfig(), "127.0.0.1", port)


def _payloads(suite: Suite) -> list[tuple[bytes, str]]:
    out = []
    for case in suite:
        body = {
            "model": "sim-reference",
            "messages": render_messages(case),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        ref = case.reference.content if case.reference else None
        out.append((orjson.dumps(body), ref or ""))
    return out


async def bare(url: str, payloads: list[tuple[bytes, str]], n: int, conc: int) -> float:
    sem = asyncio.Semaphore(conc)
    conn = aiohttp.TCPConnector(limit=conc)
    async with aiohttp.ClientSession(connector=conn) as session:

        async def one(i: int) -> None:
            body, ref = payloads[i % len(payloads)]
            async with (
                sem,
                session.post(
                    url + "/chat/completions",
                    data=body,
                    headers={"Content-Type": "application/json"},
                ) as resp,
            ):
                text = []
                async for line in resp.content:
                    if line.startswith(b"data: {"):
                        chunk = orjson.loads(line[6:])
                        for ch in chunk["choices"]:
                            text.append(ch["delta"].get("content") or "")
                assert "".join(text) == ref

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return n / (time.perf_counter() - t0)


async def sdk(url: str, suite: Suite, n: int, conc: int) -> float:
    sem = asyncio.Semaphore(conc)
    cases = list(suite)
    async with AsyncOpenAI(
        base_url=url, api_key="unused", max_retries=0, http_client=DefaultAioHttpClient()
    ) as client:

        async def one(i: int) -> None:
            case = cases[i % len(cases)]
            messages: Any = render_messages(case)
            async with sem:
                stream = await client.chat.completions.create(
                    model="sim-reference",
                    messages=messages,
                    stream=True,
                    stream_options={"include_usage": True},
                )
                text: list[str] = []
                async for chunk in stream:
                    text.extend(c.delta.content or "" for c in chunk.choices)
            assert "".join(text) == (case.reference.content if case.reference else "")

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return n / (time.perf_counter() - t0)


async def harness_client(url: str, suite: Suite, n: int, conc: int) -> float:
    from harness.client import Client
    from harness.endpoints import Endpoint, Limits

    endpoint = Endpoint(name="sim", base_url=url, model="sim-reference", limits=Limits())
    sem = asyncio.Semaphore(conc)
    cases = list(suite)
    async with Client(endpoint) as client:

        async def one(i: int) -> None:
            case = cases[i % len(cases)]
            body = {
                "model": "sim-reference",
                "messages": render_messages(case),
                "stream": True,
                "stream_options": {"include_usage": True},
            }
            async with sem:
                attempt = await client.complete(body)
            assert attempt.error is None, attempt.error
            assert attempt.output.content == (case.reference.content if case.reference else "")

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return n / (time.perf_counter() - t0)


def in_process_cost(suite: Suite, reps: int = 20000) -> float:
    """Microseconds of simulator work per request, without HTTP."""
    server = SimServer(suite)
    bodies: list[dict[str, Any]] = [orjson.loads(b) for b, _ in _payloads(suite)]
    t0 = time.perf_counter()
    for i in range(reps):
        body = bodies[i % len(bodies)]
        idx = server._index.match(body["messages"], body)
        prep = server._prepared(idx, None, None)
        prep.stream_bytes("chatcmpl-sim-x", server._usage(prep, body["messages"], body))
    return (time.perf_counter() - t0) / reps * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--suite", default=None, help="a golden path (default: 200 synthetic cases)")
    ap.add_argument("--port", type=int, default=8799)
    args = ap.parse_args()
    suite = load_suite(args.suite) if args.suite else synthetic_suite()
    proc = mp.get_context("spawn").Process(target=_serve, args=(args.suite, args.port), daemon=True)
    proc.start()
    url = f"http://127.0.0.1:{args.port}/v1"
    try:
        for _ in range(100):
            try:
                asyncio.run(bare(url, _payloads(suite), 1, 1))
                break
            except (aiohttp.ClientError, OSError):
                time.sleep(0.1)
        print(
            f"python {platform.python_version()}, {mp.cpu_count()} cores, {len(suite)} cases, "
            f"{args.requests} streamed requests at concurrency {args.concurrency}"
        )
        print(f"simulator work per request, no HTTP: {in_process_cost(suite):.1f} us")
        rate = asyncio.run(bare(url, _payloads(suite), args.requests, args.concurrency))
        print(f"bare aiohttp client (ceiling):        {rate:,.0f} requests/s")
        rate = asyncio.run(sdk(url, suite, args.requests, args.concurrency))
        print(f"AsyncOpenAI + aiohttp, parsed stream: {rate:,.0f} requests/s")
        rate = asyncio.run(harness_client(url, suite, args.requests, args.concurrency))
        print(f"harness.client.Client:                {rate:,.0f} requests/s")
    finally:
        proc.terminate()
        proc.join()


if __name__ == "__main__":
    main()

"""Harness overhead and scheduling efficiency against the simulator in its own process.

(a) overhead: cases per second end to end (request, stream, assemble, check, record line)
    against a simulator that answers with zero latency;
(b) efficiency: wall time for N cases at a fixed latency and concurrency, compared with the
    ideal N x latency / concurrency (target: within 10%).

    python benchmarks/bench_runner.py                       # both, default sizes
    python benchmarks/bench_runner.py --overhead-cases 3000 --latency-cases 1000 --latency 0.2 --concurrency 50
    python benchmarks/bench_runner.py --transport sdk        # every request through the SDK

The simulator runs as a separate process (`harness sim`) so its CPU does not count against the
harness; figures are printed with the machine they were measured on.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

from harness.endpoints import Endpoint, Limits
from harness.golden import load_suite
from harness.runner import run_suite


def _cases(n: int) -> list[dict[str, object]]:
    return [
        {
            "id": f"b{i:06d}",
            "category": "chat",
            "messages": [{"role": "user", "content": f"Give the code word for item {i}."}],
            "reference": {"content": f"The code word for item {i} is kiwi-{i}. " * 3},
            "checks": [{"type": "contains", "value": f"kiwi-{i}"}],
        }
        for i in range(n)
    ]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_sim(suite_path: Path, latency: float) -> tuple[subprocess.Popen[bytes], str]:
    port = _port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness",
            "sim",
            "--suite",
            str(suite_path),
            "--port",
            str(port),
            "--latency",
            str(latency),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(url + "/health", timeout=1).read()
            return proc, url + "/v1"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("simulator did not start")


def _measure(n: int, latency: float, concurrency: int, tmp: Path, transport: str) -> float:
    path = tmp / f"suite-{n}.yaml"
    path.write_text(yaml.safe_dump(_cases(n)))
    suite = load_suite(path)
    proc, url = _start_sim(path, latency)
    try:
        ep = Endpoint(
            name="bench",
            base_url=url,
            model="sim",
            limits=Limits(concurrency=concurrency, timeout_s=60, max_retries=0),
            transport=transport,
        )
        t0 = time.perf_counter()
        out = tmp / f"run-{n}-{latency}-{time.monotonic_ns()}"
        res = asyncio.run(run_suite(suite, ep, out_dir=out, progress=False))
        elapsed = time.perf_counter() - t0
        assert res.written == n and res.errors == 0, (res.written, res.errors)
        return elapsed
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--overhead-cases", type=int, default=3000)
    ap.add_argument("--overhead-concurrency", type=int, default=64)
    ap.add_argument("--latency-cases", type=int, default=1000)
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--transport", choices=["direct", "sdk"], default="direct")
    a = ap.parse_args()
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} cpus={os.cpu_count()} "
        f"python {platform.python_version()} load={os.getloadavg()[0]:.1f} "
        f"transport={a.transport}"
    )
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        el = _measure(a.overhead_cases, 0.0, a.overhead_concurrency, tmp, a.transport)
        print(
            f"(a) overhead: {a.overhead_cases} cases at concurrency {a.overhead_concurrency}, zero latency: "
            f"{el:.2f}s = {a.overhead_cases / el:.0f} cases/s"
        )
        el = _measure(a.latency_cases, a.latency, a.concurrency, tmp, a.transport)
        ideal = a.latency_cases * a.latency / a.concurrency
        print(
            f"(b) {a.latency_cases} cases, latency {a.latency}s, concurrency {a.concurrency}: "
            f"{el:.2f}s vs ideal {ideal:.2f}s -> {el / ideal:.3f}x ideal ({(el / ideal - 1) * 100:+.1f}%)"
        )


if __name__ == "__main__":
    main()

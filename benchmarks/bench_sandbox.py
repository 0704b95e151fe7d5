"""Throughput of harness.sandbox.run_python: N small correct solutions at full concurrency.

Usage: python benchmarks/bench_sandbox.py [--cases N] [--humaneval]

Each case is a separate contained run (fresh interpreter, namespaces, privilege drop), so the
figure is dominated by interpreter start-up and namespace set-up, not by the solutions.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import resource
import statistics
import time
from pathlib import Path

from harness.sandbox import SandboxResult, isolation_report, run_python

SOLUTION = "def add(a, b):\n    return a + b\n"
PLAIN_TESTS = "assert add({i}, 1) == {i} + 1\n"
HUMANEVAL_TESTS = "def check(candidate):\n    assert candidate({i}, 1) == {i} + 1\n"


async def _bench(cases: int, humaneval: bool) -> tuple[float, list[SandboxResult]]:
    template = HUMANEVAL_TESTS if humaneval else PLAIN_TESTS
    entry = "add" if humaneval else None
    jobs = [run_python(SOLUTION, template.format(i=i), entry_point=entry) for i in range(cases)]
    started = time.perf_counter()
    results = await asyncio.gather(*jobs)
    return time.perf_counter() - started, results


def _cpu_seconds() -> float:
    """CPU used by this process and every reaped descendant (supervisors, inits, solutions)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def _cpu_model() -> str:
    """``platform.processor()`` is often empty on Linux; /proc/cpuinfo has the model name."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200, help="number of runs (default 200)")
    parser.add_argument("--humaneval", action="store_true", help="use check(candidate) tests")
    args = parser.parse_args()

    layers = isolation_report()
    asyncio.run(_bench(min(4, args.cases), args.humaneval))  # warm the page cache
    cpu_before = _cpu_seconds()
    elapsed, results = asyncio.run(_bench(args.cases, args.humaneval))
    cpu_per_case = (_cpu_seconds() - cpu_before) / args.cases
    failed = [r for r in results if not r.passed]
    durations = sorted(r.duration_s for r in results)

    cores = os.cpu_count() or 1
    print(f"machine: processor={platform.processor()!r} ({_cpu_model()}), cpu_count={cores}")
    print(f"python: {platform.python_version()}, root: {os.geteuid() == 0}")
    print("isolation: " + ", ".join(name for name, on in layers.items() if on))
    print(f"cases: {args.cases}, failed: {len(failed)}, wall: {elapsed:.2f} s")
    print(f"throughput: {args.cases / elapsed:.1f} cases/s")
    print(
        f"cpu per case: {cpu_per_case * 1000:.0f} ms "
        f"(=> about {cores / cpu_per_case:.0f} cases/s if the {cores} cores were otherwise idle)"
    )
    print(
        f"per-case duration: median {statistics.median(durations) * 1000:.0f} ms, "
        f"p95 {durations[int(0.95 * (len(durations) - 1))] * 1000:.0f} ms"
    )
    load = os.getloadavg()
    print(f"load average during run: {load[0]:.2f} (other work on the machine skews the figure)")
    if failed:
        print("first failure stderr:\n" + failed[0].stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()

"""Benchmark: `harness report` and `harness diff` (every format) on two 100,000-record runs.

    python benchmarks/bench_report_diff.py [--records 100000] [--keep DIR]

Two synthetic runs are written in the runner's format: five categories, 2-4 checks per record,
answers of 40-400 words, reasoning on a third, tool calls for tool_use, usage (sometimes
missing), streamed TTFT (sometimes missing), ~1% errors, a few truncations, and a candidate
whose verdicts differ on ~5% of the records. Each command runs as its own child process through
the real command line; the time is wall clock and the memory the child's peak RSS
(``os.wait4`` rusage). Target on the 2-core reference machine: under 20 s and 1.5 GB each.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

TARGET_S = 20.0
TARGET_MB = 1536.0
CATEGORIES = ("chat", "extraction", "coding", "rag", "tool_use")
CHECKS = {
    "chat": ("contains", "similarity", "length"),
    "extraction": ("json_schema", "json_match"),
    "coding": ("code_tests", "contains"),
    "rag": ("citations", "contains", "similarity", "faithfulness"),
    "tool_use": ("tool_call", "json_schema"),
}
_WORDS = tuple(
    [
        "the",
        "invoice",
        "total",
        "refund",
        "policy",
        "customer",
        "order",
        "shipped",
        "within",
        "days",
        "account",
        "balance",
        "function",
        "returns",
        "list",
        "value",
        "error",
        "handling",
        "retry",
        "request",
        "response",
        "model",
        "latency",
        "token",
        "answer",
        "source",
        "cited",
        "according",
        "document",
        "section",
        "paragraph",
        "because",
        "however",
        "therefore",
    ]
)


def _text(rng: random.Random, lo: int, hi: int) -> str:
    return " ".join(rng.choices(_WORDS, k=rng.randint(lo, hi)))


def _record(rng: random.Random, i: int, case_passes: bool, model: str) -> dict[str, Any]:
    cat = CATEGORIES[i % len(CATEGORIES)]
    base = {
        "case_id": f"{cat}-{i:06d}",
        "case_hash": f"{i:016x}",
        "category": cat,
        "repeat": 0,
        "endpoint": model,
        "model": model,
        "started_at": "2025-06-01T12:00:00Z",
        "tags": ["critical"] if i % 997 == 0 else [],
        # As real servers send it: the same model and fingerprint, a unique response id.
        "served": {
            "model": f"{model}-2026-01-15",
            "id": f"chatcmpl-{rng.getrandbits(128):032x}",
            "system_fingerprint": "vllm-0.23.1-tp2",
        },
    }
    if rng.random() < 0.01:
        kind = rng.choice(["timeout", "rate_limit", "server"])
        return {
            **base,
            "status": "error",
            "error": {
                "type": kind,
                "status_code": 500,
                "code": None,
                "message": f"{kind} after retries",
            },
            "output": {"content": None, "reasoning": None, "tool_calls": []},
            "finish_reason": "error",
            "usage": None,
            "latency_s": 30.0,
            "ttft_s": None,
            "attempts": 5,
            "checks": [],
            "score": None,
            "passed": False,
        }
    names = CHECKS[cat]
    checks: list[dict[str, Any]] = []
    for k, name in enumerate(names):
        ok = case_passes or k != 0
        checks.append(
            {
                "name": name,
                "passed": ok,
                "score": 1.0 if ok else round(rng.random() * 0.6, 3),
                "detail": "" if ok else f"missing 'refund' in answer, saw: {_text(rng, 5, 15)}",
                "weight": 1.0,
                "error": False,
                "data": None,
            }
        )
    truncated = not case_passes and rng.random() < 0.2
    completion = rng.randint(40, 600)
    usage = (
        None
        if rng.random() < 0.02
        else {
            "prompt_tokens": rng.randint(50, 3000),
            "completion_tokens": completion,
            "reasoning_tokens": rng.randint(0, 800) if i % 3 == 0 else None,
            "cached_tokens": rng.choice([None, 0, 128]),
            "total_tokens": None,
        }
    )
    latency = rng.lognormvariate(0.0, 0.6)
    tool_calls = []
    if cat == "tool_use":
        args = orjson.dumps(
            {"city": "Paris", "unit": "celsius", "days": rng.randint(1, 7)}
        ).decode()
        tool_calls = [
            {
                "id": f"call_{i}",
                "name": "get_weather",
                "arguments": args,
                "parsed": orjson.loads(args),
            }
        ]
    return {
        **base,
        "status": "ok",
        "error": None,
        "output": {
            "content": _text(rng, 40, 400),
            "reasoning": _text(rng, 20, 120) if i % 3 == 0 else None,
            "tool_calls": tool_calls,
        },
        "finish_reason": "length" if truncated else ("tool_calls" if tool_calls else "stop"),
        "usage": usage,
        "latency_s": latency,
        "ttft_s": None if i % 10 == 0 else latency * 0.2,
        "attempts": 1 if rng.random() > 0.03 else 2,
        "checks": checks,
        "score": sum(c["score"] for c in checks) / len(checks),
        "passed": case_passes,
    }


def write_run(path: Path, n: int, *, seed: int, flip: float, model: str) -> None:
    """A run whose case i passes with a fixed per-case chance; `flip` of them flipped."""
    path.mkdir(parents=True, exist_ok=True)
    case_rng = random.Random(1234)
    rng = random.Random(seed)
    flip_rng = random.Random(seed + 1)
    with (path / "results.jsonl").open("wb") as f:
        for i in range(n):
            passes = case_rng.random() < 0.85
            if flip_rng.random() < flip:
                passes = not passes
            f.write(orjson.dumps(_record(rng, i, passes, model)) + b"\n")
    manifest = {
        "format_version": 1,
        "run_id": path.name,
        "harness_version": "bench",
        "repeats": 1,
        "suite": {"path": "<synthetic>", "hash": "synthetic", "cases": n},
        "endpoint": {
            "name": model,
            "base_url": "http://127.0.0.1:8000/v1",
            "model": model,
            "price": {"input_per_mtok": 0.4, "output_per_mtok": 1.2, "currency": "USD"},
        },
        "started_at": "2025-06-01T12:00:00Z",
        "finished_at": "2025-06-01T13:00:00Z",
        "status": "complete",
        "argv": [],
        "scheduled": n,
    }
    (path / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))


def measure(argv: list[str]) -> tuple[float, float, float, int]:
    """(wall seconds, CPU seconds, peak RSS in MB, exit code) of one child process.

    CPU time (user + sys) is reported beside wall time because a shared machine's load
    stretches the wall clock; on an idle machine the two are close (the work is one thread).
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0, proc.returncode


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--keep", metavar="DIR", help="write runs and outputs here and keep them")
    a = ap.parse_args()
    work = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="bench-report-"))
    try:
        t0 = time.perf_counter()
        base, cand = work / "base", work / "cand"
        write_run(base, a.records, seed=1, flip=0.0, model="qwen-base")
        write_run(cand, a.records, seed=2, flip=0.05, model="qwen-cand")
        mb = sum((p / "results.jsonl").stat().st_size for p in (base, cand)) / 2**20
        print(
            f"wrote 2 runs x {a.records:,} records ({mb:.0f} MB of results.jsonl) in "
            f"{time.perf_counter() - t0:.1f}s; load average {os.getloadavg()[0]:.1f} "
            f"on {os.cpu_count()} CPUs"
        )
        py = [sys.executable, "-m", "harness"]
        jobs = {
            "report": [
                *py,
                "report",
                str(base),
                *(f"--{k}={work / f'report.{k}'}" for k in ("html", "csv", "md", "json")),
            ],
            "diff": [
                *py,
                "diff",
                str(base),
                str(cand),
                *(f"--{k}={work / f'diff.{k}'}" for k in ("html", "csv", "md", "json")),
            ],
        }
        ok = True
        for name, argv in jobs.items():
            wall, cpu, rss, code = measure(argv)
            sizes = ", ".join(
                f"{p.suffix[1:]} {p.stat().st_size / 2**20:.1f} MB"
                for p in sorted(work.glob(f"{name}.*"))
            )
            verdict = "ok" if wall < TARGET_S and rss < TARGET_MB and code == 0 else "OVER TARGET"
            ok = ok and verdict == "ok"
            print(
                f"{name:6s}: {wall:5.1f} s wall, {cpu:5.1f} s CPU, peak RSS {rss:6.0f} MB, "
                f"exit {code} [{verdict}]  ({sizes})"
            )
        return 0 if ok else 1
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())

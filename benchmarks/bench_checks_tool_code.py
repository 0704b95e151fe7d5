"""Check throughput for the tool-use and coding families (checks per second).

    python benchmarks/bench_checks_tool_code.py [--tool-n 20000] [--code-n 40] [--sql-n 20]

`tool_call`: a 3-call parallel case, answered in a shuffled order (so the matching has work to
do), half of the answers right and half with one wrong call (the slow path: the full pairing
grid and its explanation), one check at a time in-process. `code_tests` and `sql_tests`: small correct solutions, all
scheduled at once (the sandbox bounds how many run together, up to the cores).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from typing import Any

import orjson

import harness.checks.code
import harness.checks.tool_call  # noqa: F401
from harness.checks._base import CheckContext, CheckResult, run_check
from harness.golden import Case, case_from_dict
from harness.records import Output, ToolCall

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string"},
                "days": {"type": "integer"},
            },
            "required": ["city"],
        },
    },
}


def _case(check: dict[str, Any], tools: list[dict[str, Any]] | None = None) -> Case:
    raw: dict[str, Any] = {
        "id": "bench",
        "category": "tool_use" if tools else "coding",
        "messages": [{"role": "user", "content": "go"}],
        "checks": [check],
    }
    if tools:
        raw["tools"] = tools
    return case_from_dict(raw)


def _call(name: str, args: dict[str, Any]) -> ToolCall:
    raw = orjson.dumps(args).decode()
    return ToolCall(id="c", name=name, arguments=raw, parsed=args)


def bench_tool_call(n: int) -> dict[str, float]:
    cities = [["Paris", "Paris, France"], ["New York", "New York, NY"], ["Tokyo"]]
    spec = {
        "type": "tool_call",
        "calls": [
            {"name": "get_weather", "arguments": {"city": c, "unit": ["celsius", ""], "days": [3]}}
            for c in cities
        ],
    }
    case = _case(spec, [WEATHER])
    calls = [
        _call("get_weather", {"city": "tokyo", "days": 3}),
        _call("get_weather", {"city": "new york, ny", "unit": "celsius", "days": 3}),
        _call("get_weather", {"city": "Paris", "days": 3}),
    ]
    ctx = CheckContext(case=case, output=Output(tool_calls=calls))
    check = case.bound_checks[0].check
    result = check(ctx)
    assert isinstance(result, CheckResult)
    assert result.passed, result.detail
    bad = CheckContext(
        case=case,
        output=Output(tool_calls=[*calls[:2], _call("get_weather", {"city": "Osaka", "days": 3})]),
    )
    t0 = time.perf_counter()
    for i in range(n):
        check(ctx if i % 2 else bad)
    elapsed = time.perf_counter() - t0
    return {"checks": n, "seconds": elapsed, "per_s": n / elapsed, "us_each": elapsed / n * 1e6}


SOLUTION = "Here is the function:\n\n```python\ndef add(a, b):\n    return a + b\n```\n"
TESTS = "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n"


async def _run_many(case: Case, text: str, n: int) -> tuple[float, list[float]]:
    bound = case.bound_checks[0]
    ctx = CheckContext(case=case, output=Output(content=text))

    async def one() -> float:
        result = await run_check(bound, ctx)
        assert result.passed, result.detail
        return float((result.data or {}).get("duration_s") or 0.0)

    t0 = time.perf_counter()
    durations = await asyncio.gather(*(one() for _ in range(n)))
    return time.perf_counter() - t0, list(durations)


def bench_code(n: int) -> dict[str, float]:
    case = _case({"type": "code_tests", "tests": TESTS, "entry_point": "add"})
    asyncio.run(_run_many(case, SOLUTION, 2))  # warm up
    elapsed, durations = asyncio.run(_run_many(case, SOLUTION, n))
    return {
        "checks": n,
        "seconds": elapsed,
        "per_s": n / elapsed,
        "median_run_s": statistics.median(durations),
    }


def bench_sql(n: int) -> dict[str, float]:
    case = _case(
        {
            "type": "sql_tests",
            "schema": "CREATE TABLE t (name TEXT, n INTEGER);"
            "INSERT INTO t VALUES ('a', 1), ('b', 2), ('a', 3);",
            "expected_rows": [["a", 4], ["b", 2]],
        }
    )
    answer = "```sql\nSELECT name, SUM(n) FROM t GROUP BY name;\n```"
    asyncio.run(_run_many(case, answer, 2))
    elapsed, durations = asyncio.run(_run_many(case, answer, n))
    return {
        "checks": n,
        "seconds": elapsed,
        "per_s": n / elapsed,
        "median_run_s": statistics.median(durations),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tool-n", type=int, default=20000)
    parser.add_argument("--code-n", type=int, default=40)
    parser.add_argument("--sql-n", type=int, default=20)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}")
    r = bench_tool_call(args.tool_n)
    print(
        f"tool_call (3 parallel calls): {r['per_s']:,.0f} checks/s "
        f"({r['us_each']:.1f} us each, {r['checks']:.0f} checks)"
    )
    r = bench_code(args.code_n)
    print(
        f"code_tests (small correct solutions): {r['per_s']:.1f} checks/s "
        f"({r['checks']:.0f} checks in {r['seconds']:.2f} s, median run {r['median_run_s']:.3f} s)"
    )
    r = bench_sql(args.sql_n)
    print(
        f"sql_tests: {r['per_s']:.1f} checks/s "
        f"({r['checks']:.0f} checks in {r['seconds']:.2f} s, median run {r['median_run_s']:.3f} s)"
    )


if __name__ == "__main__":
    main()

"""code_tests and sql_tests, run through the real sandbox: extraction, verdicts and details."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import harness.checks.code  # noqa: F401  (registers the checks)
from harness.checks._base import CheckContext, CheckResult, run_check
from harness.checks.code import extract_code
from harness.errors import InputError
from harness.golden import Case, case_from_dict
from harness.records import Output


def data(result: Any) -> dict[str, Any]:
    """The check's `data`, which every verdict of these checks carries."""
    assert result.data is not None
    return dict(result.data)


def make_case(check: dict[str, Any]) -> Case:
    return case_from_dict(
        {
            "id": "c",
            "category": "coding",
            "messages": [{"role": "user", "content": "write it"}],
            "checks": [check],
        }
    )


def run(case: Case, content: str) -> CheckResult:
    ctx = CheckContext(case=case, output=Output(content=content))
    return asyncio.run(run_check(case.bound_checks[0], ctx))


HUMANEVAL = {
    "type": "code_tests",
    "entry_point": "add",
    "tests": (
        "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n"
    ),
}
ASSERTS = {"type": "code_tests", "tests": "assert add(2, 3) == 5\nassert add(-1, 1) == 0\n"}
GOOD = "def add(a, b):\n    return a + b\n"
WRONG = "def add(a, b):\n    return a * b + 1\n"


# --------------------------------------------------------------------------- extraction


def test_extract_fenced_block_surrounded_by_prose() -> None:
    text = f"Sure! Here it is:\n\n```python\n{GOOD}```\n\nIt adds the two numbers."
    found = extract_code(text, "python", "add")
    assert found.how == "fenced"
    assert found.code == GOOD.rstrip("\n")


def test_extract_without_fence_takes_the_whole_answer() -> None:
    found = extract_code(GOOD, "python")
    assert (found.how, found.code) == ("whole", GOOD.strip())
    assert extract_code("   ", "python").how == "empty"


def test_extract_prefers_the_block_defining_the_entry_point() -> None:
    text = (
        f"```python\n{GOOD}```\nUsage, with a much longer explanation block:\n"
        "```python\nprint(add(2, 3))  # prints 5; a long comment makes this the longest block\n```"
    )
    assert extract_code(text, "python", "add").code == GOOD.rstrip("\n")
    # Without an entry point the longest block wins: here the usage example, by design.
    assert extract_code(text, "python").code.startswith("print(add")


def test_extract_skips_other_languages_and_think_blocks() -> None:
    text = (
        "<think>\n```python\ndef add(a, b):\n    return 0\n```\n</think>\n"
        "Run it with:\n```bash\npython add.py\n```\n```py\n" + GOOD + "```"
    )
    assert extract_code(text, "python", "add").code == GOOD.rstrip("\n")


def test_extract_unclosed_fence() -> None:
    assert extract_code(f"```python\n{GOOD}", "python").code == GOOD.rstrip("\n")


# --------------------------------------------------------------------------- code_tests


def test_correct_code_passes_humaneval_style() -> None:
    r = run(make_case(HUMANEVAL), f"Here:\n```python\n{GOOD}```")
    assert r.passed, r.detail
    assert data(r)["extracted"] == "fenced"
    assert data(r)["exit_code"] == 0


def test_wrong_code_fails_with_the_assertion() -> None:
    r = run(make_case(HUMANEVAL), f"```python\n{WRONG}```")
    assert not r.passed
    assert r.detail == "AssertionError at `assert candidate(2, 3) == 5`"
    assert "AssertionError" in data(r)["stderr_tail"]


def test_plain_asserts_and_no_fence() -> None:
    assert run(make_case(ASSERTS), GOOD).passed
    r = run(make_case(ASSERTS), WRONG)
    assert r.detail == "AssertionError at `assert add(2, 3) == 5`"


def test_exception_in_the_solution_names_both_lines() -> None:
    r = run(make_case(ASSERTS), "def add(a, b):\n    return a / 0\n")
    assert r.detail == (
        "ZeroDivisionError: division by zero at `return a / 0`, called from `assert add(2, 3) == 5`"
    )


def test_syntax_error() -> None:
    r = run(make_case(ASSERTS), "```python\ndef add(a, b) return a + b\n```")
    assert not r.passed
    assert r.detail.startswith("SyntaxError"), r.detail
    assert "line 1: def add(a, b) return a + b" in r.detail


def test_infinite_loop_times_out() -> None:
    case = make_case({**ASSERTS, "timeout_s": 1})
    r = run(case, "def add(a, b):\n    while True:\n        pass\n")
    assert not r.passed
    assert r.detail == "timed out after 1 s"
    assert data(r)["timed_out"] is True


def test_memory_limit() -> None:
    case = make_case({**ASSERTS, "memory_mb": 128})
    r = run(case, "big = bytearray(512 * 1024 * 1024)\n" + GOOD)
    assert not r.passed
    assert r.detail == "memory limit (128 MB) exceeded"


def test_empty_answer_fails_without_running() -> None:
    r = run(make_case(ASSERTS), "")
    assert not r.passed
    assert r.detail == "no code in the answer"


def test_setup_is_prepended() -> None:
    case = make_case(
        {"type": "code_tests", "setup": "import math\n", "tests": "assert circle(1) == math.pi\n"}
    )
    assert run(case, "def circle(r):\n    return math.pi * r * r\n").passed


def test_code_tests_run_concurrently() -> None:
    case = make_case(HUMANEVAL)
    ctx_good = CheckContext(case=case, output=Output(content=GOOD))
    ctx_bad = CheckContext(case=case, output=Output(content=WRONG))

    async def many() -> list[CheckResult]:
        bound = case.bound_checks[0]
        jobs = [run_check(bound, ctx_good if i % 2 else ctx_bad) for i in range(6)]
        return list(await asyncio.gather(*jobs))

    results = asyncio.run(many())
    assert [r.passed for r in results] == [False, True] * 3


@pytest.mark.parametrize(
    ("check", "message"),
    [
        ({**ASSERTS, "language": "javascript"}, "language 'javascript' is not supported yet"),
        ({**ASSERTS, "tests": "assert add(2, 3) == \n"}, "tests is not valid Python: line 1"),
        ({**ASSERTS, "setup": "import (\n"}, "setup is not valid Python"),
        ({**ASSERTS, "entry_point": "my-func"}, "entry_point 'my-func' is not a Python name"),
        ({**ASSERTS, "timeout_s": 0}, "timeout_s"),
        ({"type": "code_tests"}, "missing argument 'tests'"),
    ],
)
def test_code_tests_bad_arguments_fail_at_load(check: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError) as info:
        make_case(check)
    assert message in str(info.value)


# --------------------------------------------------------------------------- sql_tests

SCHEMA = """
CREATE TABLE orders (id INTEGER, customer TEXT, total REAL);
INSERT INTO orders VALUES (1, 'ann', 10.5), (2, 'bob', 3), (3, 'ann', 4.5);
"""
SUMS = "SELECT customer, SUM(total) FROM orders GROUP BY customer"


def sql_case(**extra: Any) -> Case:
    return make_case({"type": "sql_tests", "schema": SCHEMA, **extra})


def test_sql_expected_rows_any_order() -> None:
    case = sql_case(expected_rows=[["bob", 3], ["ann", 15.0]])
    r = run(case, f"Use a GROUP BY:\n```sql\n{SUMS};\n```")
    assert r.passed, r.detail
    r = run(case, "```sql\nSELECT customer, total FROM orders;\n```")
    assert not r.passed
    assert r.detail == (
        "expected 2 rows, got 3; missing ('ann', 15); unexpected ('ann', 10.5), ('ann', 4.5)"
    )


def test_sql_row_differences_are_named() -> None:
    case = sql_case(expected_rows=[["ann", 15], ["bob", 3]])
    r = run(case, "SELECT customer, SUM(total) FROM orders WHERE id < 3 GROUP BY customer")
    assert r.detail == "expected 2 rows, got 2; missing ('ann', 15); unexpected ('ann', 10.5)"
    r = run(case, "SELECT customer, SUM(total), 1 FROM orders GROUP BY customer")
    assert r.detail == "expected 2 columns, got 3"


def test_sql_ordered() -> None:
    case = sql_case(expected_rows=[["bob", 3], ["ann", 15]], ordered=True)
    assert run(case, SUMS + " ORDER BY 2").passed
    r = run(case, SUMS + " ORDER BY 1")
    assert r.detail == "rows in the wrong order: row 1 is ('ann', 15), expected ('bob', 3)"


def test_sql_expected_query_runs_before_the_answer() -> None:
    case = sql_case(expected_query=SUMS)
    assert run(case, f"```sqlite\n{SUMS}\n```").passed
    # An answer that empties the table cannot change the expectation.
    r = run(case, f"DELETE FROM orders; {SUMS};")
    assert not r.passed
    assert r.detail.startswith("expected 2 rows, got 0")


def test_sql_error_and_no_result() -> None:
    case = sql_case(expected_query=SUMS)
    r = run(case, "SELECT customer, SUM(totl) FROM orders GROUP BY customer")
    assert r.detail == "SQL error: OperationalError: no such column: totl"
    r = run(case, "UPDATE orders SET total = 0")
    assert r.detail == "no statement of the answer returns rows (no SELECT?)"
    assert run(case, "").detail == "no SQL in the answer"


def test_sql_runaway_query_times_out() -> None:
    case = sql_case(expected_rows=[[1]], timeout_s=1)
    r = run(
        case,
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
    )
    assert not r.passed
    assert r.detail == "timed out after 1 s"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"expected_rows": [[1]], "expected_query": "SELECT 1"}, "exactly one of"),
        ({}, "exactly one of"),
        ({"expected_query": "SELECT nope FROM orders"}, "expected_query: OperationalError"),
        ({"expected_query": "DELETE FROM orders"}, "returns no rows"),
        ({"schema": "CREATE TABLE (", "expected_rows": []}, "schema: OperationalError"),
    ],
)
def test_sql_bad_arguments_fail_at_load(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError) as info:
        make_case({"type": "sql_tests", "schema": SCHEMA, **extra})
    assert message in str(info.value)

"""Coding checks: `code_tests` runs the model's code against the case's tests, `sql_tests` runs
the model's SQL against the case's database; both only ever inside `harness.sandbox`.

Extraction rule (one rule for both checks, so a person can predict it): a leading
``<think>...</think>`` block is dropped (servers without a reasoning parser leave it in the
content); then the fenced blocks tagged with the case's language, or untagged, are candidates; if
an `entry_point` is set, only blocks that define it stay candidates (when any does); of the
candidates the longest wins, the later on a tie. Usage examples and test snippets that models add
after a solution are shorter than the solution, so "longest" picks the solution. Without any
fenced block the whole answer is the code.
"""

from __future__ import annotations

import inspect
import json
import re
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass as plain_dataclass
from typing import Annotated, Any

from pydantic import Field
from pydantic.dataclasses import dataclass

from harness.checks._base import (
    CHECK_CONFIG,
    BuildEnv,
    CheckArgError,
    CheckContext,
    CheckResult,
    register,
)
from harness.sandbox import SandboxLimits, SandboxResult, run_python

_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:^[ \t]*```|\Z)", re.S | re.M)
_THINK = re.compile(r"^\s*<think>.*?</think>\s*", re.S)
_ALIASES = {"python": {"python", "py", "python3", "py3"}, "sql": {"sql", "sqlite", "sqlite3"}}
_FRAME = re.compile(r'^\s*File "([^"]*)", line (\d+)')
_SUPPORTED = ("python",)


@plain_dataclass(frozen=True)
class Extracted:
    code: str
    how: str
    """'fenced' (a fenced block was used), 'whole' (no fence: the whole answer) or 'empty'."""
    blocks: int


def _defines(code: str, name: str) -> bool:
    pattern = rf"^\s*(?:async\s+def|def|class)\s+{re.escape(name)}\b|^\s*{re.escape(name)}\s*="
    return re.search(pattern, code, re.M) is not None


def extract_code(text: str, language: str, entry_point: str | None = None) -> Extracted:
    """The code to run from an answer (see the module docstring for the rule)."""
    text = _THINK.sub("", text, count=1)
    names = _ALIASES.get(language, {language})
    blocks = [body for tag, body in _FENCE.findall(text) if not tag or tag.lower() in names]
    if not blocks:
        code = text.strip()
        return Extracted(code, "whole" if code else "empty", 0)
    candidates = blocks
    if entry_point:
        candidates = [b for b in blocks if _defines(b, entry_point)] or blocks
    best = max(reversed(candidates), key=len)  # max keeps the first maximum: the last block
    return Extracted(best.strip("\n"), "fenced", len(blocks))


def _tail(text: str, lines: int = 20, chars: int = 2000) -> str:
    out = "\n".join(text.rstrip().splitlines()[-lines:])
    return out if len(out) <= chars else "..." + out[-chars:]


def _is_marker(line: str) -> bool:
    """Python's `^^^` / `~~~` lines under a traceback's source line."""
    return bool(line.strip()) and set(line.strip()) <= set("^~ ")


def _traceback(lines: list[str]) -> tuple[str, str, str] | None:
    """(exception text, source line of the innermost frame, source line in the tests) or None."""
    starts = [i for i, ln in enumerate(lines) if ln.startswith("Traceback (most recent call")]
    first = starts[-1] + 1 if starts else 0
    source = test_source = ""
    i, end = first, first
    while i < len(lines):
        m = _FRAME.match(lines[i])
        if m is None:
            i += 1
            continue
        src = ""
        j = i + 1
        if j < len(lines) and not _FRAME.match(lines[j]) and lines[j].startswith(" "):
            src = lines[j].strip()
            j += 1
        while j < len(lines) and _is_marker(lines[j]):
            j += 1
        source = src
        if m.group(1).endswith("tests.py") and src:
            test_source = src
        i = end = j
    if not starts and end == first:
        return None
    rest = [ln.strip() for ln in lines[end:] if ln.strip() and not ln.startswith("[sandbox]")]
    if not rest:
        return None
    return " / ".join(rest), source, test_source


def explain_failure(result: SandboxResult, timeout_s: float, memory_mb: int | None) -> str:
    """One line a person can act on: the timeout, the memory cap, or the exception and its line."""
    reason = result.killed_reason or ""
    if result.timed_out or reason in ("wall_timeout", "cpu_limit"):
        return f"timed out after {timeout_s:g} s"
    if reason == "memory":
        return f"memory limit ({memory_mb or SandboxLimits().memory_mb} MB) exceeded"
    if reason == "output_limit":
        return f"output limit exceeded (more than {SandboxLimits().output_bytes:,} bytes)"
    lines = result.stderr.rstrip().splitlines()
    found = _traceback(lines)
    if found is not None:
        exc, source, test_source = found
        if exc.startswith(("SyntaxError", "IndentationError", "TabError")):
            where = next((m.group(2) for ln in lines if (m := _FRAME.match(ln))), None)
            return f"{exc} at line {where}: {source}" if where and source else exc
        detail = f"{exc} at `{source}`" if source else exc
        if test_source and test_source != source:
            detail += f", called from `{test_source}`"
        return detail
    notes = [ln[len("[sandbox]") :].strip() for ln in lines if ln.startswith("[sandbox]")]
    if reason:
        return f"killed ({reason})" + (f": {notes[-1]}" if notes else "")
    if notes:
        return notes[-1]
    if result.exit_code not in (0, None):
        return f"exited with status {result.exit_code}"
    return "the tests did not pass"


def _summary(result: SandboxResult) -> dict[str, Any]:
    return {
        "exit_code": result.exit_code,
        "timed_out": result.timed_out,
        "killed_reason": result.killed_reason,
        "duration_s": round(result.duration_s, 4) if result.duration_s is not None else None,
        "stderr_tail": _tail(result.stderr),
        "stdout_tail": _tail(result.stdout, lines=5, chars=500),
    }


def _sandbox_error(result: SandboxResult, data: dict[str, Any]) -> CheckResult:
    """The sandbox could not run the code at all: no verdict on the model, an error instead."""
    last = _tail(result.stderr, lines=1, chars=300) or "no detail"
    return CheckResult(False, 0.0, f"sandbox error: {last}", error=True, data=data)


def _compile_or_raise(source: str, what: str) -> None:
    try:
        compile(source, f"<{what}>", "exec")
    except SyntaxError as exc:
        msg = f"{what} is not valid Python: line {exc.lineno}: {exc.msg}"
        raise CheckArgError(msg, (what,)) from None


def _limits(timeout_s: float, memory_mb: int | None) -> SandboxLimits:
    """`timeout_s` bounds both wall and CPU time; memory keeps the sandbox's default if unset."""
    if memory_mb is None:
        return SandboxLimits(wall_s=timeout_s, cpu_s=timeout_s)
    return SandboxLimits(wall_s=timeout_s, cpu_s=timeout_s, memory_mb=memory_mb)


@register("code_tests")
@dataclass(config=CHECK_CONFIG)
class CodeTests:
    """The answer's code passes the case's tests, run together in the sandbox.

    `tests` is Python: plain asserts, or a HumanEval-style ``check(candidate)`` function, which is
    then called with the `entry_point` function. `setup` is code put before the answer's code.
    """

    tests: str
    entry_point: str | None = None
    timeout_s: Annotated[float, Field(gt=0, le=600)] = 10.0
    memory_mb: Annotated[int, Field(gt=0)] | None = None
    language: str = "python"
    setup: str | None = None

    def bind(self, env: BuildEnv) -> None:
        if self.language not in _SUPPORTED:
            msg = f"language {self.language!r} is not supported yet (supported: python)"
            raise CheckArgError(msg, ("language",))
        _compile_or_raise(self.tests, "tests")
        if self.setup:
            _compile_or_raise(self.setup, "setup")
        if self.entry_point is not None and not self.entry_point.isidentifier():
            raise CheckArgError(
                f"entry_point {self.entry_point!r} is not a Python name", ("entry_point",)
            )

    async def __call__(self, ctx: CheckContext) -> CheckResult:
        found = extract_code(ctx.text, self.language, self.entry_point)
        data: dict[str, Any] = {"extracted": found.how, "blocks": found.blocks}
        if not found.code:
            return CheckResult(False, 0.0, "no code in the answer", data=data)
        code = f"{self.setup}\n\n{found.code}" if self.setup else found.code
        limits = _limits(self.timeout_s, self.memory_mb)
        result = await run_python(code, self.tests, entry_point=self.entry_point, limits=limits)
        data.update(_summary(result))
        if result.passed:
            return CheckResult(True, 1.0, "", data=data)
        if result.killed_reason == "sandbox_error":
            return _sandbox_error(result, data)
        detail = explain_failure(result, self.timeout_s, self.memory_mb)
        return CheckResult(False, 0.0, detail, data=data)


# --------------------------------------------------------------------------- SQL

_SQL_MARK = "@@harness-sql@@"
_SQL_ROW_LIMIT = 1000


def _split_sql(sql: str) -> list[str]:
    """Statements of a script, cut where SQLite itself says one is complete."""
    out, start = [], 0
    for i, ch in enumerate(sql):
        if ch == ";" and sqlite3.complete_statement(sql[start : i + 1]):
            out.append(sql[start : i + 1])
            start = i + 1
    out.append(sql[start:])
    return [s for s in out if s.strip()]


def _run_sql(con: sqlite3.Connection, sql: str, limit: int) -> list[list[Any]] | None:
    """Run every statement; the rows of the last one that returns rows (None when none does).

    "Returns rows" rather than "the last statement", so a trailing comment or `;` is harmless.
    """
    rows = None
    for stmt in _split_sql(sql):
        cur = con.execute(stmt)
        if cur.description is not None:
            rows = [
                [v.hex() if isinstance(v, bytes) else v for v in r]
                for r in cur.fetchmany(limit + 1)
            ]
    return rows


def sql_script(schema: str, query: str, expected_query: str | None) -> str:
    """The program the sandbox runs: build the database, run both queries, print the rows.

    The expected query runs first, so an answer that modifies the data cannot change the
    expectation. Rows come back as one JSON line after a marker; the verdict is made here.
    """
    return "\n".join(
        [
            "from __future__ import annotations",
            "import json, sqlite3",
            "from typing import Any",
            inspect.getsource(_split_sql),
            inspect.getsource(_run_sql),
            "con = sqlite3.connect(':memory:')",
            f"con.executescript({schema!r})",
            "out = {}",
            f"expected_query = {expected_query!r}",
            "if expected_query is not None:",
            f"    out['expected'] = _run_sql(con, expected_query, {_SQL_ROW_LIMIT})",
            "try:",
            f"    out['got'] = _run_sql(con, {query!r}, {_SQL_ROW_LIMIT})",
            "except (sqlite3.Error, sqlite3.Warning) as exc:",
            "    out['error'] = f'{type(exc).__name__}: {exc}'",
            f"print({_SQL_MARK!r} + json.dumps(out))",
        ]
    )


def _norm_value(v: Any) -> Any:
    """SQLite has no booleans and mixes 2 and 2.0; compare what a person would call equal."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, float):
        return int(v) if v.is_integer() else round(v, 9)
    return v


def _norm_rows(rows: list[list[Any]]) -> list[tuple[Any, ...]]:
    return [tuple(_norm_value(v) for v in row) for row in rows]


def _show_rows(rows: list[tuple[Any, ...]], n: int = 3) -> str:
    shown = ", ".join(repr(r) for r in rows[:n])
    return shown + (f" and {len(rows) - n} more" if len(rows) > n else "")


def compare_rows(
    stdout: str, expected_rows: list[list[Any]] | None, ordered: bool
) -> tuple[bool, str] | None:
    """Verdict from the sandbox's output; None when the program did not get as far as printing."""
    line = next((ln for ln in reversed(stdout.splitlines()) if ln.startswith(_SQL_MARK)), None)
    if line is None:
        return None
    out = json.loads(line[len(_SQL_MARK) :])
    if "error" in out:
        return False, f"SQL error: {out['error']}"
    raw_got = out.get("got")
    if raw_got is None:
        return False, "no statement of the answer returns rows (no SELECT?)"
    raw_exp = out.get("expected", expected_rows)
    if len(raw_got) > _SQL_ROW_LIMIT:
        return False, f"the SQL returned more than {_SQL_ROW_LIMIT} rows"
    got, exp = _norm_rows(raw_got), _norm_rows(raw_exp or [])
    if got == exp or (not ordered and Counter(got) == Counter(exp)):
        return True, ""
    widths_got, widths_exp = {len(r) for r in got}, {len(r) for r in exp}
    if len(widths_got) == 1 and len(widths_exp) == 1 and widths_got != widths_exp:
        return False, f"expected {widths_exp.pop()} columns, got {widths_got.pop()}"
    if Counter(got) == Counter(exp):
        i = next(i for i, (a, b) in enumerate(zip(got, exp, strict=True)) if a != b)
        return False, f"rows in the wrong order: row {i + 1} is {got[i]!r}, expected {exp[i]!r}"
    missing = list((Counter(exp) - Counter(got)).elements())
    extra = list((Counter(got) - Counter(exp)).elements())
    parts = [f"expected {len(exp)} rows, got {len(got)}"]
    if missing:
        parts.append(f"missing {_show_rows(missing)}")
    if extra:
        parts.append(f"unexpected {_show_rows(extra)}")
    return False, "; ".join(parts)


def _trial_run(schema: str, expected_query: str | None, limit_s: float = 5.0) -> None:
    """Run the case's own SQL in-process at load time (it is trusted; the answer's never is)."""
    con = sqlite3.connect(":memory:")
    deadline = time.monotonic() + limit_s
    con.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    try:
        try:
            con.executescript(schema)
        except sqlite3.Error as exc:
            raise CheckArgError(f"schema: {type(exc).__name__}: {exc}", ("schema",)) from None
        if expected_query is not None:
            try:
                rows = _run_sql(con, expected_query, _SQL_ROW_LIMIT)
            except sqlite3.Error as exc:
                msg = f"expected_query: {type(exc).__name__}: {exc}"
                raise CheckArgError(msg, ("expected_query",)) from None
            if rows is None:
                msg = "expected_query: its last statement returns no rows"
                raise CheckArgError(msg, ("expected_query",))
    finally:
        con.close()


@register("sql_tests")
@dataclass(config=CHECK_CONFIG)
class SqlTests:
    """The answer's SQL, run on a fresh SQLite database built from `schema`, returns the rows
    that `expected_rows` lists or that `expected_query` returns (in any order unless `ordered`).

    The model's SQL runs in the sandbox, never in the harness process: SQLite can write files
    (`ATTACH`, `VACUUM INTO`) and a recursive query can eat memory faster than a progress
    handler notices. The case's own `schema` and `expected_query` are trusted and are tried
    in-process when the golden file loads, so a broken schema is a `file:line` error.
    """

    schema: str
    expected_rows: list[list[Any]] | None = None
    expected_query: str | None = None
    ordered: bool = False
    timeout_s: Annotated[float, Field(gt=0, le=600)] = 10.0
    memory_mb: Annotated[int, Field(gt=0)] | None = None

    def bind(self, env: BuildEnv) -> None:
        if (self.expected_rows is None) == (self.expected_query is None):
            raise CheckArgError("give exactly one of 'expected_rows' and 'expected_query'")
        _trial_run(self.schema, self.expected_query)

    async def __call__(self, ctx: CheckContext) -> CheckResult:
        found = extract_code(ctx.text, "sql")
        data: dict[str, Any] = {"extracted": found.how, "blocks": found.blocks}
        if not found.code:
            return CheckResult(False, 0.0, "no SQL in the answer", data=data)
        script = sql_script(self.schema, found.code, self.expected_query)
        limits = _limits(self.timeout_s, self.memory_mb)
        result = await run_python(script, "", limits=limits)
        data.update(_summary(result))
        if result.killed_reason == "sandbox_error":
            return _sandbox_error(result, data)
        verdict = compare_rows(result.stdout, self.expected_rows, self.ordered)
        if verdict is None:
            detail = explain_failure(result, self.timeout_s, self.memory_mb)
            return CheckResult(False, 0.0, detail, data=data)
        passed, detail = verdict
        return CheckResult(passed, 1.0 if passed else 0.0, detail, data=data)

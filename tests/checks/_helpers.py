"""Building cases and contexts for check tests: real cases through `case_from_dict`."""

from __future__ import annotations

import asyncio
from typing import Any

from harness.checks import CheckContext, CheckResult, run_check
from harness.golden import Case, case_from_dict
from harness.records import Output


def make_case(checks: list[dict[str, Any]], **fields: Any) -> Case:
    raw: dict[str, Any] = {
        "id": "c1",
        "category": fields.pop("category", "chat"),
        "messages": fields.pop("messages", [{"role": "user", "content": "question?"}]),
        "checks": checks,
        **fields,
    }
    return case_from_dict(raw)


def make_ctx(case: Case, content: str | None, **kw: Any) -> CheckContext:
    output = kw.pop("output", None) or Output(content=content)
    return CheckContext(case=case, output=output, **kw)


def verdicts(case: Case, content: str | None, **kw: Any) -> list[CheckResult]:
    """Every bound check of `case` on `content`, through `run_check` (so `negate` applies)."""
    ctx = make_ctx(case, content, **kw)

    async def go() -> list[CheckResult]:
        return [await run_check(b, ctx) for b in case.bound_checks]

    return asyncio.run(go())


def verdict(check: dict[str, Any], content: str | None, **kw: Any) -> CheckResult:
    """One check (given as its YAML mapping) on one answer."""
    fields = kw.pop("case_fields", {})
    return verdicts(make_case([check], **fields), content, **kw)[0]

"""Text checks (placeholder set; the checks issue extends this family)."""

from __future__ import annotations

from pydantic.dataclasses import dataclass

from harness.checks._base import CHECK_CONFIG, CheckContext, CheckResult, register


@register("contains")
@dataclass(config=CHECK_CONFIG)
class Contains:
    value: str
    ignore_case: bool = True

    def __call__(self, ctx: CheckContext) -> CheckResult:
        text = ctx.text
        hit = self.value.lower() in text.lower() if self.ignore_case else self.value in text
        return CheckResult(passed=hit, detail="" if hit else f"missing {self.value!r}")

"""Telemetry checks: `finish_reason`, `max_latency`, `max_ttft`, `max_tokens`, `max_cost`.

Unknown is not zero: when the server did not report a value (no usage, no streaming so no
TTFT, no price for the endpoint), the check cannot judge the budget. By default (``unknown:
fail``) that is an error verdict: it fails, shows as an error rather than as over budget, and
``negate`` does not turn it into a pass; its detail starts ``n/a:`` and says what was missing.
``unknown: pass`` lets such a case pass instead (for suites that also run against servers that
report less). The value measured and the limit are kept in the verdict's `data`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from pydantic.dataclasses import dataclass

from harness.checks._base import CHECK_CONFIG, CheckContext, CheckResult, register
from harness.records import FinishReason

Unknown = Literal["fail", "pass"]
Positive = Annotated[float, Field(gt=0)]


def _unknown(policy: Unknown, what: str) -> CheckResult:
    return CheckResult(
        passed=policy == "pass",
        error=policy == "fail",
        detail=f"n/a: {what} (unknown: {policy})",
        data={"value": None},
    )


def _budget(value: float, limit: float, label: str, unit: str) -> CheckResult:
    ok = value <= limit
    detail = f"{label} {value:.4g}{unit} {'<=' if ok else '>'} limit {limit:g}{unit}"
    return CheckResult(passed=ok, detail=detail, data={"value": value, "limit": limit})


def _default_allowed() -> list[FinishReason]:
    return ["stop", "tool_calls"]


@register("finish_reason")
@dataclass(config=CHECK_CONFIG)
class FinishReasonCheck:
    """The answer ended the way it should: by default `stop` or `tool_calls`.

    A `length` finish means the answer hit the token limit and was cut off: whatever the other
    checks say about the text, it is truncated, so by default it fails.
    """

    allowed: Annotated[list[FinishReason], Field(min_length=1)] = Field(
        default_factory=_default_allowed
    )
    unknown: Unknown = "fail"

    def __call__(self, ctx: CheckContext) -> CheckResult:
        reason = ctx.finish_reason
        data = {"value": reason}
        if reason is None or (reason == "unknown" and "unknown" not in self.allowed):
            return _unknown(self.unknown, "the server reported no finish_reason")
        if reason in self.allowed:
            return CheckResult(passed=True, detail=f"finish_reason {reason}", data=data)
        allowed = " or ".join(self.allowed)
        if reason == "length":
            limit = ctx.case.params.max_tokens or ctx.case.params.max_completion_tokens
            used = ctx.usage.completion_tokens if ctx.usage else None
            at = []
            if used is not None:
                at.append(f"{used} completion tokens")
            if limit is not None:
                at.append(f"max_tokens {limit}")
            where = f" ({', '.join(at)})" if at else ""
            return CheckResult(
                passed=False,
                detail=f"finish_reason length: the answer hit the token limit{where} and was "
                f"silently truncated (expected {allowed})",
                data=data,
            )
        return CheckResult(
            passed=False, detail=f"finish_reason {reason}, expected {allowed}", data=data
        )


@register("max_latency")
@dataclass(config=CHECK_CONFIG)
class MaxLatency:
    """The whole answer arrived within `seconds` (the last attempt's latency)."""

    seconds: Positive
    unknown: Unknown = "fail"

    def __call__(self, ctx: CheckContext) -> CheckResult:
        if ctx.latency_s is None:
            return _unknown(self.unknown, "no latency was recorded")
        return _budget(ctx.latency_s, self.seconds, "latency", " s")


@register("max_ttft")
@dataclass(config=CHECK_CONFIG)
class MaxTtft:
    """The first token arrived within `seconds`; TTFT exists only for streamed requests."""

    seconds: Positive
    unknown: Unknown = "fail"

    def __call__(self, ctx: CheckContext) -> CheckResult:
        if ctx.ttft_s is None:
            return _unknown(
                self.unknown, "no time to first token (it is measured only with streaming)"
            )
        return _budget(ctx.ttft_s, self.seconds, "ttft", " s")


Which = Literal["completion", "total", "reasoning", "prompt"]


@register("max_tokens")
@dataclass(config=CHECK_CONFIG)
class MaxTokens:
    """The usage the server reported stays within `tokens` (`which`: completion by default).

    `completion` includes reasoning tokens where the server counts them there (DashScope,
    OpenAI); `reasoning` alone is the thinking budget.
    """

    tokens: Annotated[int, Field(ge=0)]
    which: Which = "completion"
    unknown: Unknown = "fail"

    def __call__(self, ctx: CheckContext) -> CheckResult:
        field = f"{self.which}_tokens"
        value = getattr(ctx.usage, field) if ctx.usage is not None else None
        if value is None:
            what = "no usage" if ctx.usage is None else f"no {field}"
            return _unknown(self.unknown, f"the server reported {what}")
        return _budget(float(value), float(self.tokens), field, "")


@register("max_cost")
@dataclass(config=CHECK_CONFIG)
class MaxCost:
    """The call's estimated cost stays within `cost`, in the endpoint price's currency.

    Cost = (prompt - cached) x input price + cached x cached price + completion x output price,
    prices per million tokens from the endpoint's `price`.
    """

    cost: Annotated[float, Field(ge=0)]
    unknown: Unknown = "fail"

    def __call__(self, ctx: CheckContext) -> CheckResult:
        price = ctx.endpoint.price if ctx.endpoint is not None else None
        if price is None:
            return _unknown(self.unknown, "the endpoint has no price configured")
        usage = ctx.usage
        if usage is None or usage.prompt_tokens is None or usage.completion_tokens is None:
            return _unknown(self.unknown, "the server did not report prompt and completion tokens")
        value = price.cost(usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens)
        if value is None:
            return _unknown(self.unknown, "the cost could not be computed")
        return _budget(value, self.cost, "cost", f" {price.currency}")

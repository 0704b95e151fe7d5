"""From a case's check verdicts to the record's `checks`, `score` and `passed`."""

from __future__ import annotations

import asyncio

from harness.checks._base import CheckContext, CheckResult, run_check
from harness.records import CheckOutcome


def combine(
    case_threshold: float | None, outcomes: list[CheckOutcome]
) -> tuple[float | None, bool]:
    """Weighted mean score; pass = every check passes, or score >= threshold when one is set.

    A case without checks is only measured: its score is null (unknown, not zero) and it
    passes, since nothing it was asked to do failed. A check that errored never passes.
    """
    if not outcomes:
        return None, True
    total_w = sum(o.weight for o in outcomes)
    if total_w > 0:
        score = sum(o.score * o.weight for o in outcomes) / total_w
    else:
        score = sum(o.score for o in outcomes) / len(outcomes)
    if any(o.error for o in outcomes):
        return score, False
    if case_threshold is not None:
        return score, score >= case_threshold - 1e-12
    return score, all(o.passed for o in outcomes)


def _outcome(name: str, weight: float, r: CheckResult) -> CheckOutcome:
    return CheckOutcome(
        name=name,
        passed=bool(r.passed) and not r.error,
        score=min(1.0, max(0.0, r.final_score())),
        detail=r.detail,
        weight=weight,
        error=r.error,
        data=r.data,
    )


async def score_output(ctx: CheckContext) -> tuple[list[CheckOutcome], float | None, bool]:
    """Run the case's checks concurrently (code and judge checks are slow, text ones are not)."""
    bound = ctx.case.bound_checks
    if not bound:
        return [], *combine(ctx.case.threshold, [])
    if len(bound) == 1:
        results = [await run_check(bound[0], ctx)]
    else:
        results = list(await asyncio.gather(*(run_check(b, ctx) for b in bound)))
    outcomes = [_outcome(b.name, b.weight, r) for b, r in zip(bound, results, strict=True)]
    score, passed = combine(ctx.case.threshold, outcomes)
    return outcomes, score, passed

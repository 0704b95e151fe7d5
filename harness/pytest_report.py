"""What the pytest plugin prints: a failing case's story, the session summary, the gates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.golden import Case
from harness.records import Record
from harness.summary import min_pass_rate_verdict
from harness.summary import summary_lines as _run_summary

EXCERPT = 600


def _excerpt(text: str | None, limit: int = EXCERPT) -> str:
    if not text:
        return "(empty)"
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more chars]"


def _num(v: float | None, unit: str = "s") -> str:
    return "n/a" if v is None else f"{v:.3f}{unit}"


def explain_failure(case: Case, rec: Record) -> str:
    """A failing case told the way pytest tells an assertion: what was expected, what came."""
    failed = [c for c in rec.checks if not c.passed]
    score = "n/a" if rec.score is None else f"{rec.score:.2f}"
    threshold = f" (threshold {case.threshold})" if case.threshold is not None else ""
    lines = [
        f"golden case {case.category}/{case.id} failed: score {score}{threshold}, "
        f"{len(failed)} of {len(rec.checks)} checks failed"
    ]
    for c in failed:
        tag = "ERROR" if c.error else "FAIL"
        lines.append(f"  {tag} {c.name}: {c.detail or '(no detail)'}")
    lines.append(
        f"  finish_reason: {rec.finish_reason or 'n/a'}   latency: {_num(rec.latency_s)}   "
        f"ttft: {_num(rec.ttft_s)}   attempts: {rec.attempts}"
    )
    if rec.output.tool_calls:
        for tc in rec.output.tool_calls:
            lines.append(f"  tool call: {tc.name}({tc.arguments})")
    lines.append(f"  output: {_excerpt(rec.output.content)}")
    if case.reference and case.reference.content:
        lines.append(f"  reference: {_excerpt(case.reference.content, 300)}")
    file, line = case.source
    lines.append(f"  case defined at {file}:{line}")
    return "\n".join(lines)


def summary_lines(records: list[Record], run_dir: Path) -> list[str]:
    return [
        *_run_summary(records),
        f"run directory: {run_dir}  (harness report {run_dir} --html report.html)",
    ]


def gate(config: Any, records: list[Record], run_dir: Path) -> str | None:
    """The session's gates; a one-line reason when one fails, else None."""
    from harness.endpoints import load_gate

    defaults = load_gate(config.getoption("harness_config"))

    def opt(name: str, default: Any) -> Any:
        value = config.getoption(name)
        return default if value is None else value

    min_rate = opt("harness_min_pass_rate", defaults.min_pass_rate)
    if min_rate is not None:
        failed = min_pass_rate_verdict(records, min_rate)
        if failed:
            return f"harness gate failed: {failed}"
    baseline = config.getoption("harness_baseline")
    if baseline:
        from harness.diff import build_diff

        d = build_diff(
            baseline,
            run_dir,
            alpha=opt("harness_alpha", defaults.alpha),
            max_drop=opt("harness_max_drop", defaults.max_drop),
        )
        if d.verdict == "fail":
            return f"harness gate failed against baseline {baseline}: {d.reason}"
    return None

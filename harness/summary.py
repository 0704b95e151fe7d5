"""A few lines about a finished run for the terminal (no pandas: the CLI prints this fast).

The pass rate follows the report's definition: error records count as failures, and records of
cases without checks ("measured only") are left out, since nothing was asked of them. The
command-line and pytest gates (`--min-pass-rate`) use this same figure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.records import Record
from harness.stats import percentiles, wilson_interval


@dataclass(frozen=True)
class RunSummary:
    records: int
    checked: int
    """Records that count towards the pass rate (all but the measured-only ones)."""
    passed: int
    errors: dict[str, int]
    latency_p50: float | None
    latency_p95: float | None
    ttft_p50: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    reasoning_tokens: int | None
    truncated: int
    requested_models: tuple[str, ...] = ()
    served_models: dict[str, int] | None = None
    """Records per model the server said answered (None: no server said)."""
    fingerprints: int = 0
    """Distinct system fingerprints reported; more than one means the backend changed."""

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.checked if self.checked else None

    @property
    def ci(self) -> tuple[float, float]:
        return wilson_interval(self.passed, self.checked) if self.checked else (0.0, 0.0)


def _is_measured_only(r: Record) -> bool:
    return r.status == "ok" and not r.checks


def summarize(records: Iterable[Record]) -> RunSummary:
    recs = list(records)
    checked = [r for r in recs if not _is_measured_only(r)]
    ok = [r for r in recs if r.status == "ok"]
    lat = percentiles([r.latency_s for r in ok], qs=(50, 95))
    known = [r.usage for r in recs if r.usage is not None]
    served = Counter(r.served.model for r in recs if r.served and r.served.model)

    def total(field: str) -> int | None:
        vals = [getattr(u, field) for u in known if getattr(u, field) is not None]
        return sum(vals) if vals else None

    return RunSummary(
        records=len(recs),
        checked=len(checked),
        passed=sum(1 for r in checked if r.passed),
        errors=dict(Counter(r.error.type for r in recs if r.error is not None)),
        latency_p50=lat["p50"],
        latency_p95=lat["p95"],
        ttft_p50=percentiles([r.ttft_s for r in ok], qs=(50,))["p50"],
        prompt_tokens=total("prompt_tokens"),
        completion_tokens=total("completion_tokens"),
        reasoning_tokens=total("reasoning_tokens"),
        truncated=sum(1 for r in recs if r.finish_reason == "length"),
        requested_models=tuple(sorted({r.model for r in recs})),
        served_models=dict(served.most_common()) if served else None,
        fingerprints=len({r.served.system_fingerprint for r in recs if r.served} - {None}),
    )


def min_pass_rate_verdict(records: Iterable[Record], minimum: float) -> str | None:
    """Why the run fails `--min-pass-rate`, or None when it meets it."""
    rate = summarize(records).pass_rate
    if rate is None:
        return "no record with checks: the pass rate is unknown"
    if rate < minimum:
        return f"pass rate {rate:.1%} is under --min-pass-rate {minimum:.1%}"
    return None


def _secs(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}s"


def _count(v: int | None) -> str:
    return "n/a" if v is None else str(v)


def summary_lines(records: Iterable[Record]) -> list[str]:
    s = summarize(records)
    if not s.records:
        return ["no records"]
    errors = ", ".join(f"{k} {v}" for k, v in sorted(s.errors.items())) or "none"
    if s.pass_rate is None:
        rate = "pass rate n/a: no record has checks"
    else:
        low, high = s.ci
        rate = f"passed {s.passed}/{s.checked} ({s.pass_rate:.1%}, 95% CI {low:.1%}-{high:.1%})"
    measured = s.records - s.checked
    if measured:
        rate += f", {measured} measured only"
    lines = [
        f"{rate}; errors: {errors}; truncated (finish_reason length): {s.truncated}",
        f"latency p50 {_secs(s.latency_p50)} p95 {_secs(s.latency_p95)}  "
        f"ttft p50 {_secs(s.ttft_p50)}  "
        f"tokens prompt {_count(s.prompt_tokens)} completion {_count(s.completion_tokens)} "
        f"reasoning {_count(s.reasoning_tokens)}",
    ]
    served = served_line(s)
    return [*lines, served] if served else lines


def served_line(s: RunSummary) -> str | None:
    """The served-model notes of a run on one line, or None when there is nothing to say."""
    notes = served_notes(s.served_models or {}, s.requested_models, s.fingerprints)
    return "; ".join(notes) or None


def served_notes(
    served: Mapping[str, int], requested: Sequence[str], fingerprints: int, which: str = "this run"
) -> list[str]:
    """What the server said answered, when that is news: not the requested model, or several.

    A provider resolves an alias to a snapshot, a gateway routes, a deployment rolls over
    mid-run: a diff of two runs is only a diff of two models if each run had one. One wording
    for the terminal, the HTML and the Markdown.
    """
    notes = []
    if len(served) > 1:
        counts = ", ".join(f"{m} ({n})" for m, n in served.items())
        notes.append(f"served models: {counts}: more than one model answered {which}")
    elif served and set(served) != set(requested):
        model = next(iter(served))
        notes.append(f"served model: {model} (requested {', '.join(requested)})")
    if fingerprints > 1:
        notes.append(f"{fingerprints} system fingerprints: the backend changed during {which}")
    return notes


def run_served_notes(run: Mapping[str, Any], which: str) -> list[str]:
    """`served_notes` for the `run` block of a report's JSON (or a diff's `base_run`)."""
    return served_notes(
        run["served_models"], [str(run["model"])], len(run["system_fingerprints"]), which
    )

"""A few lines about a finished run for the terminal (no pandas: the CLI prints this fast)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from harness.records import Record
from harness.stats import percentiles, wilson_interval


def _fmt(v: float | None, unit: str = "s") -> str:
    return "n/a" if v is None else f"{v:.3f}{unit}" if unit == "s" else f"{v}{unit}"


def summarize(records: Iterable[Record]) -> dict[str, object]:
    recs = list(records)
    n = len(recs)
    passed = sum(1 for r in recs if r.passed)
    errors = Counter(r.error.type for r in recs if r.error is not None)
    low, high = wilson_interval(passed, n) if n else (float("nan"), float("nan"))
    lat = percentiles([r.latency_s for r in recs if r.status == "ok"], qs=(50, 95))
    ttft = percentiles([r.ttft_s for r in recs if r.status == "ok"], qs=(50,))
    known = [r.usage for r in recs if r.usage is not None]

    def total(field: str) -> int | None:
        vals = [getattr(u, field) for u in known if getattr(u, field) is not None]
        return sum(vals) if vals else None

    return {
        "records": n,
        "passed": passed,
        "pass_rate": passed / n if n else None,
        "ci": [low, high],
        "errors": dict(errors),
        "latency_p50": lat.get("p50"),
        "latency_p95": lat.get("p95"),
        "ttft_p50": ttft.get("p50"),
        "prompt_tokens": total("prompt_tokens"),
        "completion_tokens": total("completion_tokens"),
        "reasoning_tokens": total("reasoning_tokens"),
        "truncated": sum(1 for r in recs if r.finish_reason == "length"),
    }


def _tok(v: object) -> str:
    return "n/a" if v is None else str(v)


def summary_lines(records: Iterable[Record]) -> list[str]:
    s = summarize(records)
    n = s["records"]
    if not n:
        return ["no records"]
    rate = float(s["pass_rate"])  # type: ignore[arg-type]
    ci: list[float] = s["ci"]  # type: ignore[assignment]
    low, high = ci
    errors: dict[str, int] = s["errors"]  # type: ignore[assignment]
    err_txt = ", ".join(f"{k} {v}" for k, v in sorted(errors.items())) if errors else "none"
    return [
        f"passed {s['passed']}/{n} ({rate:.1%}, 95% CI {low:.1%}-{high:.1%}); errors: {err_txt}; "
        f"truncated (finish_reason length): {s['truncated']}",
        f"latency p50 {_fmt(s['latency_p50'])} p95 {_fmt(s['latency_p95'])}  "  # type: ignore[arg-type]
        f"ttft p50 {_fmt(s['ttft_p50'])}  "  # type: ignore[arg-type]
        f"tokens prompt {_tok(s['prompt_tokens'])} completion {_tok(s['completion_tokens'])} "
        f"reasoning {_tok(s['reasoning_tokens'])}",
    ]

"""One run -> the tables people read before a rollout (pandas), and the JSON summary.

The run is read by `harness._rundata` (fast path for 100,000-record runs; the last line per
(case_id, repeat) wins). Everything here is a pandas reduction of that one DataFrame.

Counting rules (docs/reports.md):
- The unit of a pass rate is the record (case x repeat); `cases` in the summary counts those
  records, `unique_cases` the distinct case ids.
- An error record counts as a failure in pass rates and, separately, in errors by type.
- A case without checks (`passed` true, `score` null) is "measured only": it cannot fail, so it
  is left out of pass rates (also its error records) and counted under `measured_only`.
- Unknown numbers (no usage, no TTFT, no price) are NaN/None, skipped by every mean, sum and
  percentile, and shown as "n/a"; each token or cost figure carries how many records knew it.
- Latency and TTFT percentiles are over ok records: an error's latency is the time to fail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from harness._rundata import TOKEN_FIELDS, RunData, load_run_data, pause_gc, served_info
from harness.stats import mean_pass_at_k, percentiles, wilson_interval
from harness.store import Run

__all__ = [
    "TOKEN_FIELDS",
    "RunData",
    "RunReport",
    "build_report",
    "load_run_data",
    "pause_gc",
    "rate_block",
    "telemetry_block",
    "terminal_summary",
    "write_report",
]

SUMMARY_FORMAT = 1


@dataclass
class RunReport:
    data: RunData
    summary: dict[str, Any]
    categories: pd.DataFrame
    """One row per category plus "all": the `summary` blocks flattened for tables."""
    checks: pd.DataFrame
    per_case: pd.DataFrame | None = None
    """With repeats: per case n, passed, errors, pass_rate, flaky."""


# --------------------------------------------------------------------------- tables


def _num(v: Any) -> float | None:
    """A JSON-safe float: NaN and pandas' NA become None ("n/a")."""
    if v is None or v is pd.NA:
        return None
    f = float(v)
    return None if math.isnan(f) else f


def rate_block(passed: int, n: int) -> dict[str, Any]:
    """The `{cases, passed, pass_rate, ci}` shape the JSON contract fixes."""
    low, high = wilson_interval(passed, n)
    return {
        "cases": int(n),
        "passed": int(passed),
        "pass_rate": passed / n if n else None,
        "ci": [_num(low), _num(high)],
    }


def _known_stats(s: pd.Series) -> dict[str, Any]:
    known = s.dropna()
    if known.empty:
        return {"sum": None, "mean": None, "known": 0}
    return {"sum": _num(known.sum()), "mean": _num(known.mean()), "known": len(known)}


def telemetry_block(df: pd.DataFrame, currency: str | None) -> dict[str, Any]:
    """Latency, TTFT, tokens, cost, finish reasons, errors and attempts of some records."""
    ok = df[df["status"] == "ok"]
    fr = df["finish_reason"].fillna("n/a").value_counts()
    errors = df["error_type"].dropna().value_counts()
    attempts = df["attempts"].dropna()
    cost = _known_stats(df["cost"]) if currency is not None else None
    if cost is not None:
        cost["currency"] = currency
    return {
        "latency_s": {
            **percentiles(ok["latency_s"].to_numpy(), (50, 95, 99)),
            "mean": _num(ok["latency_s"].mean()),
            "known": int(ok["latency_s"].notna().sum()),
        },
        "ttft_s": {
            **percentiles(ok["ttft_s"].to_numpy(), (50, 95, 99)),
            "mean": _num(ok["ttft_s"].mean()),
            "known": int(ok["ttft_s"].notna().sum()),
        },
        "tokens": {
            f.removesuffix("_tokens"): _known_stats(df[f].astype("Float64")) for f in TOKEN_FIELDS
        },
        "cost": cost,
        "finish_reasons": {str(k): int(v) for k, v in fr.items()},
        "truncated": int((df["finish_reason"] == "length").sum()),
        "errors": {
            "total": int((df["status"] == "error").sum()),
            "by_type": {str(k): int(v) for k, v in errors.items()},
        },
        "attempts": {
            "mean": _num(attempts.mean()),
            "max": _num(attempts.max()) if len(attempts) else None,
            "retried": int((attempts > 1).sum()),
        },
    }


def _block(df: pd.DataFrame, currency: str | None) -> dict[str, Any]:
    scored = df[df["scored"]]
    block = rate_block(int(scored["passed_bool"].sum()), len(scored))
    block["records"] = len(df)
    block["unique_cases"] = int(df["case_id"].nunique())
    block["measured_only"] = int((~df["scored"]).sum())
    block["mean_score"] = _num(scored["score"].mean())
    block.update(telemetry_block(df, currency))
    return block


def _check_table(data: RunData) -> pd.DataFrame:
    checks = data.checks
    if checks.empty:
        return pd.DataFrame(
            columns=[
                "check",
                "cases",
                "passed",
                "pass_rate",
                "ci_low",
                "ci_high",
                "mean_score",
                "check_errors",
            ]
        )
    g = checks.groupby("name", sort=True)
    out = (
        g.agg(
            cases=("passed", "size"),
            passed=("passed", "sum"),
            mean_score=("score", "mean"),
            check_errors=("error", "sum"),
        )
        .reset_index()
        .rename(columns={"name": "check"})
    )
    cis = [
        wilson_interval(int(p), int(n)) for p, n in zip(out["passed"], out["cases"], strict=True)
    ]
    out["pass_rate"] = out["passed"] / out["cases"]
    out["ci_low"] = [c[0] for c in cis]
    out["ci_high"] = [c[1] for c in cis]
    return out


def _flatten(name: str, block: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"category": name}
    for key in ("cases", "passed", "pass_rate", "records", "measured_only", "mean_score"):
        row[key] = block[key]
    row["ci_low"], row["ci_high"] = block["ci"]
    for m in ("latency_s", "ttft_s"):
        for p in ("p50", "p95", "p99"):
            row[f"{m}.{p}"] = block[m][p]
    for tok, st in block["tokens"].items():
        row[f"tokens.{tok}.sum"], row[f"tokens.{tok}.mean"] = st["sum"], st["mean"]
    row["cost"] = block["cost"]["sum"] if block["cost"] else None
    row["truncated"] = block["truncated"]
    row["errors"] = block["errors"]["total"]
    row["attempts.mean"] = block["attempts"]["mean"]
    return row


def _repeats(data: RunData) -> tuple[pd.DataFrame | None, dict[str, Any] | None]:
    df = data.records[data.records["scored"]]
    if df.empty or int(df.groupby("case_id").size().max()) < 2:
        return None, None
    g = df.assign(err=df["status"] == "error").groupby("case_id", sort=True)
    per = g.agg(
        category=("category", "first"),
        n=("passed_bool", "size"),
        passed=("passed_bool", "sum"),
        errors=("err", "sum"),
    ).reset_index()
    non_err = df[df["status"] == "ok"].groupby("case_id")["passed_bool"].agg(["min", "max"])
    flaky_ids = set(non_err.index[non_err["min"] != non_err["max"]])
    per["pass_rate"] = per["passed"] / per["n"]
    per["flaky"] = per["case_id"].isin(flaky_ids)
    pairs = list(zip(per["n"].astype(int), per["passed"].astype(int), strict=True))
    kmax = max(n for n, _ in pairs)
    pass_at = {
        str(k): _num(mean_pass_at_k([p for p in pairs if p[0] >= k], k)) for k in range(1, kmax + 1)
    }
    flaky = per[per["flaky"]]
    block = {
        "max_repeats": kmax,
        "pass_at_k": pass_at,
        "pass_at_k_cases": {str(k): sum(1 for n, _ in pairs if n >= k) for k in range(1, kmax + 1)},
        "flaky": flaky["case_id"].tolist(),
    }
    return per, block


def build_report(run: Run | RunData | str | Path) -> RunReport:
    """Every table of one run; `summary` is the `--json` document."""
    data = load_run_data(run)
    df = data.records
    currency = data.price.currency if data.price else None
    m = data.manifest
    overall = _block(df, currency)
    categories = {str(c): _block(g, currency) for c, g in df.groupby("category", sort=True)}
    check_table = _check_table(data)
    per_case, repeats = _repeats(data)
    summary: dict[str, Any] = {
        "format_version": SUMMARY_FORMAT,
        "kind": "report",
        "run": {
            "path": str(data.path),
            "run_id": m.run_id,
            "endpoint": m.endpoint.get("name"),
            "model": m.endpoint.get("model"),
            "suite": m.suite.path,
            "repeats": m.repeats,
            "status": m.status,
            "started_at": m.started_at,
            "finished_at": m.finished_at,
            "scheduled": m.scheduled,
            "lines": data.raw_lines,
            **served_info(df),
        },
        **overall,
        "categories": categories,
        "checks": {
            str(r["check"]): {
                **rate_block(int(r["passed"]), int(r["cases"])),
                "mean_score": _num(r["mean_score"]),
                "check_errors": int(r["check_errors"]),
            }
            for r in check_table.to_dict("records")
        },
        "repeats": repeats,
    }
    rows = [_flatten("all", overall)] + [_flatten(c, b) for c, b in categories.items()]
    return RunReport(data, summary, pd.DataFrame(rows), check_table, per_case)


# --------------------------------------------------------------------------- output


def write_report(
    report: RunReport,
    *,
    html: str | Path | None = None,
    csv: str | Path | None = None,
    md: str | Path | None = None,
    json: str | Path | None = None,
    html_href: str | None = None,
) -> list[Path]:
    """Write the requested formats, each atomically; returns the paths written.

    `html_href` is where the Markdown's case links point (default: the HTML written alongside,
    relative to the Markdown file, else ``report.html``).
    """
    from harness import render

    return render.write_outputs(report, html=html, csv=csv, md=md, json=json, html_href=html_href)


def terminal_summary(report_or_diff: Any) -> str:
    """A few lines for the CLI: the pass rate and its interval, errors, latency, tokens."""
    from harness.render.text import terminal_lines

    return "\n".join(terminal_lines(report_or_diff))

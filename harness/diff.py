"""Two runs -> per-case transitions, deltas with confidence, and the regression gate's verdict.

Alignment is by (case_id, repeat). A case whose `case_hash` differs between the runs is "case
changed": the prompt or its checks changed, so any difference says nothing about the model, and
it is listed apart and left out of every figure. Measured-only cases (no checks) have no verdict
and are compared on telemetry only.

Significance (docs/reports.md has the argument):
- McNemar's exact test on the discordant (case, repeat) pairs. Under "no difference" each
  discordant pair is a fair coin even when repeats of one case are correlated, so the test stays
  valid with repeats; it equals statsmodels' ``mcnemar(table, exact=True)``.
- The interval for the change in pass rate (and mean score) is a paired bootstrap over *cases*,
  on per-case means over the aligned repeats: repeats of a case are not independent, so cases
  are the unit that is resampled. With one repeat this is the ordinary paired bootstrap.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from harness._rundata import served_info
from harness.report import RunData, _num, load_run_data, rate_block, telemetry_block
from harness.stats import mcnemar_exact, paired_bootstrap
from harness.store import Run

__all__ = ["CRITICAL_TAG", "RunDiff", "build_diff", "diff_runs", "terminal_summary", "write_diff"]

CRITICAL_TAG = "critical"
_KEY = ["case_id", "repeat"]
_SIDE_COLS = ["case_hash", "category", "tags", "verdict", "scored", "passed_bool", "score"]
Transition = Literal[
    "regressed",
    "improved",
    "still_failing",
    "still_passing",
    "measured",
    "changed",
    "added",
    "removed",
]


@dataclass
class RunDiff:
    base: RunData
    cand: RunData
    pairs: pd.DataFrame
    """One row per (case_id, repeat) in either run: `transition`, `brow`/`crow` (row numbers
    into each run's records, -1 when absent) and both sides' verdicts and scores."""
    summary: dict[str, Any]

    @property
    def verdict(self) -> Literal["pass", "fail"]:
        return "fail" if self.summary["verdict"] == "fail" else "pass"

    @property
    def reason(self) -> str:
        return str(self.summary["reason"])


def _side(data: RunData) -> pd.DataFrame:
    side = data.records[_KEY + _SIDE_COLS].copy()
    side["row"] = np.arange(len(side), dtype=np.int64)
    return side


def _align(base: RunData, cand: RunData) -> pd.DataFrame:
    m = _side(base).merge(_side(cand), on=_KEY, how="outer", suffixes=("_b", "_c"), sort=False)
    m["brow"] = m["row_b"].fillna(-1).astype(np.int64)
    m["crow"] = m["row_c"].fillna(-1).astype(np.int64)
    in_b, in_c = (m["brow"] >= 0).to_numpy(), (m["crow"] >= 0).to_numpy()
    both = in_b & in_c
    hash_differs = both & (m["case_hash_b"] != m["case_hash_c"]).fillna(True).to_numpy()
    changed_ids = set(m.loc[hash_differs, "case_id"])
    changed = m["case_id"].isin(changed_ids).to_numpy()
    b_ids, c_ids = set(m.loc[in_b, "case_id"]), set(m.loc[in_c, "case_id"])
    pb = m["passed_bool_b"].fillna(False).to_numpy(dtype=bool)
    pc = m["passed_bool_c"].fillna(False).to_numpy(dtype=bool)
    scored = (
        both
        & m["scored_b"].fillna(False).to_numpy(bool)
        & m["scored_c"].fillna(False).to_numpy(bool)
    )
    t = np.full(len(m), "unpaired", dtype=object)
    t[both] = "measured"
    t[scored & pb & ~pc] = "regressed"
    t[scored & ~pb & pc] = "improved"
    t[scored & ~pb & ~pc] = "still_failing"
    t[scored & pb & pc] = "still_passing"
    t[~m["case_id"].isin(c_ids).to_numpy()] = "removed"
    t[~m["case_id"].isin(b_ids).to_numpy()] = "added"
    t[changed] = "changed"
    m["transition"] = t
    m["category"] = m["category_c"].fillna(m["category_b"])
    m["critical"] = [
        CRITICAL_TAG in (tb if isinstance(tb, list) else [])
        or CRITICAL_TAG in (tc if isinstance(tc, list) else [])
        for tb, tc in zip(m["tags_b"], m["tags_c"], strict=True)
    ]
    m["score_delta"] = np.where(both & ~changed, m["score_c"] - m["score_b"], np.nan)
    keep = [
        *_KEY,
        "category",
        "transition",
        "brow",
        "crow",
        "verdict_b",
        "verdict_c",
        "score_b",
        "score_c",
        "score_delta",
        "passed_bool_b",
        "passed_bool_c",
        "critical",
    ]
    return m[keep].sort_values(_KEY, kind="stable").reset_index(drop=True)


def _ids(pairs: pd.DataFrame, mask: Any) -> list[str]:
    return sorted(set(pairs.loc[mask, "case_id"]))


#: Scores take many distinct values, so their bootstrap resamples case indices (~3.5 ns per case
#: per resample); above this many case-resamples the count of resamples is lowered to fit.
_SCORE_BOOTSTRAP_WORK = 50_000_000
_MIN_RESAMPLES = 2_000


def _score_resamples(n_resamples: int, n_cases: int) -> int:
    """Resamples for the mean-score interval: all of them up to 5,000 cases, then fewer.

    At 100,000 cases 2,000 resamples put the percentile endpoints within ~0.1 standard errors
    of their 10,000-resample values, and keep the diff of two such runs within seconds.
    """
    if n_cases * n_resamples <= _SCORE_BOOTSTRAP_WORK:
        return n_resamples
    return max(min(n_resamples, _MIN_RESAMPLES), _SCORE_BOOTSTRAP_WORK // max(1, n_cases))


def _compare(pairs: pd.DataFrame, n_resamples: int, seed: int) -> dict[str, Any]:
    """Pass rates, delta with its bootstrap interval, McNemar, and the case lists of a subset."""
    cmp = pairs[
        pairs["transition"].isin(["regressed", "improved", "still_failing", "still_passing"])
    ]
    pb = cmp["passed_bool_b"].astype(bool)
    pc = cmp["passed_bool_c"].astype(bool)
    n = len(cmp)
    b = int((cmp["transition"] == "regressed").sum())
    c = int((cmp["transition"] == "improved").sum())
    per_case = pd.DataFrame(
        {"case_id": cmp["case_id"], "b": pb, "c": pc, "sb": cmp["score_b"], "sc": cmp["score_c"]}
    ).groupby("case_id", sort=True)
    means = per_case[["b", "c"]].mean()
    counts = per_case[["b", "c"]].sum()
    _, low, high = paired_bootstrap(
        means["b"].to_numpy(float), means["c"].to_numpy(float), n_resamples=n_resamples, seed=seed
    )
    scores = cmp[cmp["score_b"].notna() & cmp["score_c"].notna()]
    s_means = scores.groupby("case_id", sort=True)[["score_b", "score_c"]].mean()
    s_delta, s_low, s_high = paired_bootstrap(
        s_means["score_b"].to_numpy(),
        s_means["score_c"].to_numpy(),
        n_resamples=_score_resamples(n_resamples, len(s_means)),
        seed=seed,
    )
    base_rate = float(pb.mean()) if n else None
    cand_rate = float(pc.mean()) if n else None
    return {
        "compared": n,
        "compared_cases": int(cmp["case_id"].nunique()),
        "base": base_rate,
        "cand": cand_rate,
        "base_ci": rate_block(int(pb.sum()), n)["ci"],
        "cand_ci": rate_block(int(pc.sum()), n)["ci"],
        "delta": None if base_rate is None or cand_rate is None else cand_rate - base_rate,
        "delta_ci": [_num(low), _num(high)],
        "mcnemar_p": mcnemar_exact(b, c),
        "discordant": {"regressed": b, "improved": c},
        "score": {
            "base": _num(s_means["score_b"].mean()),
            "cand": _num(s_means["score_c"].mean()),
            "delta": _num(s_delta),
            "delta_ci": [_num(s_low), _num(s_high)],
            "compared": len(scores),
        },
        "regressions": sorted(counts.index[counts["c"] < counts["b"]]),
        "improvements": sorted(counts.index[counts["c"] > counts["b"]]),
        "still_failing": _ids(cmp, cmp["transition"] == "still_failing"),
    }


def _pct(base: float | None, cand: float | None) -> float | None:
    if base is None or cand is None or base == 0:
        return None
    return (cand - base) / abs(base) * 100.0


def _telemetry(base: RunData, cand: RunData, pairs: pd.DataFrame) -> dict[str, Any]:
    """The cost of the change over the aligned cases: latency, TTFT, tokens, cost, in % too."""
    aligned = pairs[
        (pairs["brow"] >= 0) & (pairs["crow"] >= 0) & (pairs["transition"] != "changed")
    ]
    currency = base.price.currency if base.price else cand.price.currency if cand.price else None
    tb = telemetry_block(base.records.iloc[aligned["brow"].to_numpy()], currency)
    tc = telemetry_block(cand.records.iloc[aligned["crow"].to_numpy()], currency)

    def pair(b: float | None, c: float | None) -> dict[str, Any]:
        return {
            "base": b,
            "cand": c,
            "delta": None if b is None or c is None else c - b,
            "delta_pct": _pct(b, c),
        }

    out: dict[str, Any] = {
        m: {p: pair(tb[m][p], tc[m][p]) for p in ("p50", "p95", "p99")}
        for m in ("latency_s", "ttft_s")
    }
    out["tokens"] = {
        k: {
            "mean": pair(tb["tokens"][k]["mean"], tc["tokens"][k]["mean"]),
            "sum": pair(tb["tokens"][k]["sum"], tc["tokens"][k]["sum"]),
        }
        for k in tb["tokens"]
    }
    cost_b = tb["cost"]["sum"] if tb["cost"] and base.price else None
    cost_c = tc["cost"]["sum"] if tc["cost"] and cand.price else None
    out["cost"] = {**pair(cost_b, cost_c), "currency": currency}
    out["truncated"] = pair(tb["truncated"], tc["truncated"])
    out["errors"] = pair(tb["errors"]["total"], tc["errors"]["total"])
    out["errors_by_type"] = {"base": tb["errors"]["by_type"], "cand": tc["errors"]["by_type"]}
    out["records"] = len(aligned)
    return out


def _points(x: float) -> str:
    return f"{x * 100:+.1f} points"


def _gate(s: dict[str, Any], pairs: pd.DataFrame, alpha: float, max_drop: float | None) -> None:
    """Set `verdict`, `reason` and `gate` on the summary."""
    reasons: list[str] = []
    delta, p = s["delta"], s["mcnemar_p"]
    significant = delta is not None and delta < 0 and p < alpha
    critical = _ids(pairs, (pairs["transition"] == "regressed") & pairs["critical"])
    if delta is not None:
        lo, hi = s["delta_ci"]
        ci = "" if lo is None else f", 95% CI {lo * 100:+.1f} to {hi * 100:+.1f}"
        moved = f"pass rate {s['base']:.3f} -> {s['cand']:.3f} ({_points(delta)}{ci})"
    if significant:
        reasons.append(f"{moved}: significant drop, McNemar p = {p:.3g} < alpha {alpha:g}")
    if max_drop is not None and delta is not None and -delta > max_drop + 1e-12:
        reasons.append(
            f"pass rate fell {-delta * 100:.1f} points, more than --max-drop {max_drop * 100:.1f}"
        )
    if critical:
        shown = ", ".join(critical[:5]) + (
            f" and {len(critical) - 5} more" if len(critical) > 5 else ""
        )
        reasons.append(f"{len(critical)} case(s) tagged '{CRITICAL_TAG}' regressed: {shown}")
    counts = f"{len(s['regressions'])} regressed, {len(s['improvements'])} improved"
    if reasons:
        verdict, reason = "fail", "; ".join(reasons) + f" ({counts})"
    elif delta is None:
        verdict = "pass"
        reason = (
            f"nothing to compare: no case with the same case_hash in both runs "
            f"({len(s['changed_cases'])} changed, {len(s['added_cases'])} added, "
            f"{len(s['removed_cases'])} removed)"
        )
    elif not s["regressions"] and not s["improvements"]:
        verdict, reason = "pass", f"no case changed its verdict; {moved}"
    else:
        verdict = "pass"
        reason = (
            f"no significant change: {moved}, McNemar p = {p:.3g} >= alpha {alpha:g} ({counts})"
        )
    s["verdict"], s["reason"] = verdict, reason
    s["gate"] = {
        "alpha": alpha,
        "max_drop": max_drop,
        "significant_drop": significant,
        "critical_regressions": critical,
    }


def build_diff(
    base: Run | RunData | str | Path,
    cand: Run | RunData | str | Path,
    *,
    alpha: float = 0.05,
    max_drop: float | None = None,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> RunDiff:
    """Compare `cand` with `base`; the verdict fails on a significant drop at `alpha`, a drop
    larger than `max_drop` (a fraction: 0.02 = 2 pass-rate points), or a regressed case tagged
    ``critical``. The caller decides whether a failed verdict fails the build."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    b, c = load_run_data(base), load_run_data(cand)
    pairs = _align(b, c)
    t = pairs["transition"]
    summary: dict[str, Any] = {"format_version": 1, "kind": "diff", "verdict": None, "reason": None}
    overall = _compare(pairs, n_resamples, seed)
    summary.update(overall)
    summary["changed_cases"] = _ids(pairs, t == "changed")
    summary["added_cases"] = _ids(pairs, t == "added")
    summary["removed_cases"] = _ids(pairs, t == "removed")
    summary["score_changes"] = _ids(pairs, pairs["score_delta"].abs() > 1e-9)
    summary["transitions"] = {str(k): int(v) for k, v in t.value_counts().sort_index().items()}
    summary["categories"] = {
        str(cat): {k: v for k, v in _compare(g, n_resamples, seed).items() if k != "still_failing"}
        for cat, g in pairs.groupby("category", sort=True)
    }
    summary["telemetry"] = _telemetry(b, c, pairs)
    summary["base_run"] = _run_info(b)
    summary["cand_run"] = _run_info(c)
    _gate(summary, pairs, alpha, max_drop)
    return RunDiff(b, c, pairs, summary)


diff_runs = build_diff


def _run_info(d: RunData) -> dict[str, Any]:
    m = d.manifest
    return {
        "path": str(d.path),
        "run_id": m.run_id,
        "endpoint": m.endpoint.get("name"),
        "model": m.endpoint.get("model"),
        "suite": m.suite.path,
        "repeats": m.repeats,
        "status": m.status,
        "records": len(d.records),
        **served_info(d.records),
    }


def write_diff(
    diff: RunDiff,
    *,
    html: str | Path | None = None,
    csv: str | Path | None = None,
    md: str | Path | None = None,
    json: str | Path | None = None,
    html_href: str | None = None,
) -> list[Path]:
    """Write the requested formats, each atomically; returns the paths written."""
    from harness import render

    return render.write_outputs(diff, html=html, csv=csv, md=md, json=json, html_href=html_href)


def terminal_summary(report_or_diff: Any) -> str:
    """The verdict and its reason on the first line, then the counts and the cost of the change."""
    from harness.render.text import terminal_lines

    return "\n".join(terminal_lines(report_or_diff))

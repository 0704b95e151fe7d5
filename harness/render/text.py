"""The few lines the command line prints after `harness report` / `harness diff`."""

from __future__ import annotations

from typing import Any

from harness.render._fmt import NA, ci, mean, money, num, pct, points, pval, score, secs, signed_pct


def _errors(block: dict[str, Any]) -> str:
    e = block["errors"]
    if not e["total"]:
        return "errors 0"
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(e["by_type"].items()))
    return f"errors {e['total']} ({kinds})"


def report_lines(s: dict[str, Any]) -> list[str]:
    run = s["run"]
    tok = s["tokens"]
    lines = [
        f"run {run['run_id']} · {run['endpoint']} ({run['model']}) · {s['records']} records, "
        f"{s['unique_cases']} cases · status {run['status']}",
        f"passed {s['passed']}/{s['cases']} ({pct(s['pass_rate'])}, 95% CI {ci(s['ci'])}) · "
        f"{_errors(s)} · truncated (finish_reason length) {s['truncated']}"
        + (f" · measured only {s['measured_only']}" if s["measured_only"] else ""),
        f"latency p50 {secs(s['latency_s']['p50'])} p95 {secs(s['latency_s']['p95'])} · "
        f"ttft p50 {secs(s['ttft_s']['p50'])} · tokens prompt {num(tok['prompt']['sum'])} "
        f"completion {num(tok['completion']['sum'])} reasoning {num(tok['reasoning']['sum'])}"
        + (f" · cost {money(s['cost']['sum'], s['cost']['currency'])}" if s["cost"] else ""),
    ]
    rep = s.get("repeats")
    if rep:
        pak = " ".join(f"pass@{k} {pct(v)}" for k, v in rep["pass_at_k"].items())
        lines.append(f"repeats: {pak} · flaky cases {len(rep['flaky'])}")
    return lines


def _delta(d: dict[str, Any], fmt: Any) -> str:
    if d["base"] is None and d["cand"] is None:
        return NA
    return f"{fmt(d['base'])} -> {fmt(d['cand'])} ({signed_pct(d['delta_pct'])})"


def diff_lines(s: dict[str, Any]) -> list[str]:
    t = s["transitions"]
    tel = s["telemetry"]
    sc = s["score"]
    lines = [
        f"{s['verdict'].upper()}: {s['reason']}",
        f"compared {s['compared']} (case x repeat) · regressed {t.get('regressed', 0)} · "
        f"improved {t.get('improved', 0)} · still failing {t.get('still_failing', 0)} · "
        f"case changed {len(s['changed_cases'])} · added {len(s['added_cases'])} · "
        f"removed {len(s['removed_cases'])}",
        f"pass rate {pct(s['base'])} -> {pct(s['cand'])} ({points(s['delta'])}, McNemar p "
        f"{pval(s['mcnemar_p'])}) · mean score {mean_score(sc['base'])} -> "
        f"{mean_score(sc['cand'])}",
        f"latency p50 {_delta(tel['latency_s']['p50'], secs)} · "
        f"p95 {_delta(tel['latency_s']['p95'], secs)}"
        f" · completion tokens (mean) {_delta(tel['tokens']['completion']['mean'], mean)}"
        + (
            f" · cost {_delta(tel['cost'], lambda v: money(v, tel['cost']['currency']))}"
            if tel["cost"]["currency"]
            else ""
        ),
    ]
    return lines


def mean_score(v: Any) -> str:
    return score(v)


def terminal_lines(obj: Any) -> list[str]:
    s = obj.summary
    return diff_lines(s) if s.get("kind") == "diff" else report_lines(s)

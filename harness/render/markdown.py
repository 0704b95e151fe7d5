"""Markdown for a pull-request comment or ``$GITHUB_STEP_SUMMARY``.

Verdict first (a reviewer decides from the first line), then one short table, then the cases
that need a look, each linking to its row in the HTML (``diff.html#case-<id>``). Lists are
capped so a comment stays far below GitHub's 65,536-character limit. Everything that comes
from a run (ids, check details that may quote model output) is escaped: no markdown or HTML
from a model reaches the rendered comment.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from harness.render._fmt import (
    ci,
    ci_points,
    mean,
    money,
    num,
    pct,
    points,
    pval,
    score,
    secs,
    signed_pct,
)
from harness.summary import run_served_notes

if TYPE_CHECKING:
    from harness.diff import RunDiff
    from harness.report import RunReport

__all__ = ["escape", "render_markdown"]

MAX_LISTED = 50
_DETAIL_CHARS = 140
# Only what can start markup mid-line; lines we emit never start with run data.
_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def escape(text: Any, limit: int | None = None) -> str:
    """One line of inert markdown: whitespace collapsed, punctuation and HTML escaped."""
    s = " ".join(str(text).split())
    if limit is not None and len(s) > limit:
        s = s[: limit - 1] + "…"
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", s)


def _link(case_id: str, href: str) -> str:
    return f"[{escape(case_id)}]({href}#case-{quote(case_id, safe='')})"


def _failing_details(data: Any, rows: list[int]) -> dict[int, str]:
    c = data.checks
    c = c[~c["passed"] & c["row"].isin(rows)]
    out: dict[int, list[str]] = {}
    for row, name, detail in zip(
        c["row"].tolist(), c["name"].tolist(), c["detail"].tolist(), strict=True
    ):
        d = f"{name}: {detail}" if isinstance(detail, str) and detail else str(name)
        out.setdefault(row, []).append(d)
    return {r: escape("; ".join(v), _DETAIL_CHARS) for r, v in out.items()}


def _case_lines(ids: list[str], href: str, describe: Any) -> list[str]:
    lines = [f"- {_link(i, href)}{describe(i)}" for i in ids[:MAX_LISTED]]
    if len(ids) > MAX_LISTED:
        lines.append(f"- … and {len(ids) - MAX_LISTED} more (see the HTML report)")
    return lines


def _report(report: RunReport, href: str) -> str:
    s = report.summary
    run = s["run"]
    df = report.data.records
    out = [
        f"## harness report: {escape(run['endpoint'])} ({escape(run['model'])})",
        "",
        f"**Pass rate {pct(s['pass_rate'])}** ({s['passed']}/{s['cases']}, 95% CI {ci(s['ci'])}) · "
        f"errors {s['errors']['total']} · truncated {s['truncated']} · latency p50 "
        f"{secs(s['latency_s']['p50'])} / p95 {secs(s['latency_s']['p95'])}"
        + (f" · cost {money(s['cost']['sum'], s['cost']['currency'])}" if s["cost"] else ""),
        "",
        *_served_lines(run, "this run"),
        "| category | cases | pass rate | 95% CI | mean score | errors | truncated | latency p50 "
        "| p95 |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for name, b in [("**all**", s), *((escape(k), v) for k, v in s["categories"].items())]:
        out.append(
            f"| {name} | {b['cases']} | {pct(b['pass_rate'])} | {ci(b['ci'])} | "
            f"{score(b['mean_score'])} | {b['errors']['total']} | {b['truncated']} | "
            f"{secs(b['latency_s']['p50'])} | {secs(b['latency_s']['p95'])} |"
        )
    failing = df[df["scored"] & ~df["passed_bool"]]
    if len(failing):
        rows = failing.index.tolist()
        details = _failing_details(report.data, rows[: MAX_LISTED * 4])
        first: dict[str, int] = {}
        for r, cid in zip(rows, failing["case_id"].tolist(), strict=True):
            first.setdefault(cid, r)
        ids = list(first)

        def describe(cid: str) -> str:
            r = first[cid]
            rec = df.loc[r]
            if rec["status"] == "error":
                return f" · error: {escape(rec['error_type'])}"
            trunc = " · **truncated**" if rec["finish_reason"] == "length" else ""
            return f"{trunc} · {details.get(r, '')}" if details.get(r) else trunc

        out += ["", f"### Failing cases ({len(ids)})", "", *_case_lines(ids, href, describe)]
    if s.get("repeats"):
        rep = s["repeats"]
        pak = " · ".join(f"pass@{k} {pct(v)}" for k, v in rep["pass_at_k"].items())
        out += ["", f"**Repeats:** {pak} · flaky cases: {len(rep['flaky'])}"]
    return "\n".join(out) + "\n"


def _served_lines(run: dict[str, Any], which: str) -> list[str]:
    """The served-model notes as quoted lines (then a blank one), or nothing."""
    notes = run_served_notes(run, which)
    return [*(f"> {escape(n)}" for n in notes), ""] if notes else []


def _row(label: str, d: dict[str, Any], fmt: Any) -> str:
    return f"| {label} | {fmt(d['base'])} | {fmt(d['cand'])} | {signed_pct(d['delta_pct'])} |"


def _diff(diff: RunDiff, href: str) -> str:
    s = diff.summary
    t = s["telemetry"]
    icon = "❌" if s["verdict"] == "fail" else "✅"
    out = [
        f"## {icon} harness diff: {s['verdict'].upper()}",
        "",
        escape(s["reason"]),
        "",
        f"{escape(s['base_run']['endpoint'])} ({escape(s['base_run']['model'])}) → "
        f"{escape(s['cand_run']['endpoint'])} ({escape(s['cand_run']['model'])}) · {s['compared']} "
        f"compared · {len(s['regressions'])} regressed · {len(s['improvements'])} improved · "
        f"{len(s['changed_cases'])} case changed · {len(s['added_cases'])} added · "
        f"{len(s['removed_cases'])} removed",
        "",
        *_served_lines(s["base_run"], "the base run"),
        *_served_lines(s["cand_run"], "the candidate run"),
        "| | base | candidate | change |",
        "|---|--:|--:|--:|",
        f"| pass rate | {pct(s['base'])} | {pct(s['cand'])} | {points(s['delta'])} "
        f"(95% CI {ci_points(s['delta_ci'])}, McNemar p {pval(s['mcnemar_p'])}) |",
        f"| mean score | {score(s['score']['base'])} | {score(s['score']['cand'])} | "
        f"{score(s['score']['delta'])} |",
        _row("latency p50", t["latency_s"]["p50"], secs),
        _row("latency p95", t["latency_s"]["p95"], secs),
        _row("TTFT p50", t["ttft_s"]["p50"], secs),
        _row("completion tokens (mean)", t["tokens"]["completion"]["mean"], mean),
        _row("reasoning tokens (mean)", t["tokens"]["reasoning"]["mean"], mean),
        _row("truncated", t["truncated"], num),
        _row("errors", t["errors"], num),
    ]
    if t["cost"]["currency"]:
        out.append(_row("cost", t["cost"], lambda v: money(v, t["cost"]["currency"])))
    if len(s["categories"]) > 1:
        out += [
            "",
            "| category | base | candidate | change | McNemar p | regressed | improved |",
            "|---|--:|--:|--:|--:|--:|--:|",
        ]
        for name, c in s["categories"].items():
            out.append(
                f"| {escape(name)} | {pct(c['base'])} | {pct(c['cand'])} | {points(c['delta'])} | "
                f"{pval(c['mcnemar_p'])} | {len(c['regressions'])} | {len(c['improvements'])} |"
            )
    p = diff.pairs
    if s["regressions"]:
        reg = p[p["transition"] == "regressed"]
        first = dict(zip(reg["case_id"].tolist()[::-1], reg["crow"].tolist()[::-1], strict=True))
        crit = set(s["gate"]["critical_regressions"])
        details = _failing_details(
            diff.cand, [first[i] for i in s["regressions"][:MAX_LISTED] if i in first]
        )
        cand_df = diff.cand.records

        def describe(cid: str) -> str:
            r = first.get(cid)
            bits = [" · **critical**"] if cid in crit else []
            if r is not None:
                if cand_df.at[r, "status"] == "error":
                    bits.append(f" · error: {escape(cand_df.at[r, 'error_type'])}")
                elif cand_df.at[r, "finish_reason"] == "length":
                    bits.append(" · **truncated**")
                if details.get(r):
                    bits.append(f" · {details[r]}")
            return "".join(bits)

        out += [
            "",
            f"### Regressions ({len(s['regressions'])})",
            "",
            *_case_lines(s["regressions"], href, describe),
        ]
    for title, key in (
        ("Improvements", "improvements"),
        ("Case changed (not compared)", "changed_cases"),
        ("Added", "added_cases"),
        ("Removed", "removed_cases"),
    ):
        ids = s[key]
        if ids:
            out += [
                "",
                f"<details><summary>{title} ({len(ids)})</summary>",
                "",
                *_case_lines(ids, href, lambda _i: ""),
                "",
                "</details>",
            ]
    return "\n".join(out) + "\n"


def render_markdown(obj: RunReport | RunDiff, *, html_href: str = "report.html") -> str:
    if obj.summary.get("kind") == "diff":
        return _diff(obj, html_href)  # type: ignore[arg-type]
    return _report(obj, html_href)  # type: ignore[arg-type]

"""The case table's data for the HTML page, embedded once as JSON.

Layout, chosen for 100,000-record runs:
- columnar: one list per field (``side.out[j]``), no object per record;
- a *side* is one run's records (the report has one side, the diff two), and check outcomes
  are flat lists with per-record offsets (``chk.off[j]`` .. ``chk.off[j + 1]``), so no small list
  is built per record; the page script derives what it needs;
- the diff's rows hold ``brow`` / ``crow``, row numbers into each side, so nothing is copied.

Texts are clipped so the page stays a size a browser opens comfortably: rows someone will read
(failures, errors, regressions, improvements) keep up to ``MAX_TEXT`` characters per field,
the rest share a budget of ``TEXT_BUDGET`` characters (at least ``MIN_TEXT`` each). Clipped
texts say how much was left out; results.jsonl always has all of it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from harness.render._prompts import MAX_TEXT, load_prompts
from harness.render._textdiff import mark_pairs
from harness.report import pause_gc

if TYPE_CHECKING:
    from harness.diff import RunDiff
    from harness.report import RunData, RunReport

TEXT_BUDGET = 40_000_000
MIN_TEXT = 240
_DETAIL_MAX = 4_000
_DIGITS = re.compile(r"(\d+)")
#: Default row order of the diff table: what needs a look first.
_RANK = {"regressed": 0, "improved": 1, "still_failing": 2, "changed": 3, "added": 4, "removed": 5}
_INTERESTING = {"fail", "error", "regressed", "improved", "still_failing"}


def _floats(s: pd.Series, decimals: int | None = None) -> np.ndarray:
    """Numbers as a float array, unknown as NaN: orjson writes arrays without a Python float
    per value, and NaN as null (unknown, not zero)."""
    arr = s.to_numpy(dtype=float, na_value=np.nan)
    return arr if decimals is None else np.round(arr, decimals)


def _clip(values: Sequence[Any], limits: Sequence[int]) -> list[str | None]:
    out: list[str | None] = []
    for v, lim in zip(values, limits, strict=True):
        if not isinstance(v, str):
            out.append(None)
        elif len(v) <= lim:
            out.append(v)
        else:
            out.append(f"{v[:lim]}\n… [{len(v) - lim:,} more characters in results.jsonl]")
    return out


def _limits(interesting: np.ndarray, sides: int) -> list[int]:
    n = len(interesting)
    rest = max(MIN_TEXT, min(MAX_TEXT, TEXT_BUDGET // max(1, 2 * n * sides)))
    limits: list[int] = np.where(interesting, MAX_TEXT, rest).tolist()
    return limits


def _side(data: RunData, interesting: np.ndarray, sides: int = 1) -> dict[str, Any]:
    """One run's per-record fields; `interesting` rows keep their texts longest."""
    df = data.records
    limits = _limits(interesting, sides)
    c = data.checks.sort_values("row", kind="stable")
    off = np.searchsorted(c["row"].to_numpy(), np.arange(len(df) + 1))
    err_text = [
        None
        if not isinstance(t, str)
        else f"{t}{f' {int(sc)}' if sc == sc else ''}: {m if isinstance(m, str) else ''}"
        for t, sc, m in zip(
            df["error_type"].tolist(),
            _floats(df["error_status_code"]).tolist(),
            df["error_message"].tolist(),
            strict=True,
        )
    ]
    tool_calls = [
        [[t.get("name"), _clip([t.get("arguments")], [_DETAIL_MAX])[0]] for t in tc] if tc else None
        for tc in df["tool_calls"].tolist()
    ]
    return {
        "v": df["verdict"].tolist(),
        "s": _floats(df["score"], 4),
        "fr": [v if isinstance(v, str) else None for v in df["finish_reason"].tolist()],
        "lat": _floats(df["latency_s"], 4),
        "ttft": _floats(df["ttft_s"], 4),
        "ptok": _floats(df["prompt_tokens"]),
        "ctok": _floats(df["completion_tokens"]),
        "rtok": _floats(df["reasoning_tokens"]),
        "ktok": _floats(df["cached_tokens"]),
        "att": _floats(df["attempts"]),
        "cost": _floats(df["cost"]),
        "err": err_text,
        "out": _clip(df["content"].tolist(), limits),
        "rsn": _clip(df["reasoning"].tolist(), limits),
        "tc": tool_calls,
        "chk": {
            "off": off,
            "name": c["name"].tolist(),
            "passed": c["passed"].to_numpy(dtype=bool),
            "score": _floats(c["score"], 4),
            "detail": _clip(c["detail"].tolist(), [_DETAIL_MAX] * len(c)),
            "error": c["error"].to_numpy(dtype=bool),
        },
    }


def _prompts(data: Sequence[RunData]) -> tuple[dict[str, Any], str | None]:
    hashes: dict[str, str] = {}
    for d in data:
        hashes.update(
            zip(d.records["case_id"].tolist(), d.records["case_hash"].tolist(), strict=True)
        )
    return load_prompts(data[-1].manifest.suite.path, hashes)


def _natural(text: Any) -> tuple[Any, ...]:
    """Sort key that puts case-2 before case-10."""
    return tuple(int(p) if p.isdigit() else p for p in _DIGITS.split(str(text)))


def _default_order(ids: list[str], repeats: list[Any], rank: list[int] | None = None) -> list[int]:
    keys = {i: _natural(i) for i in set(ids)}
    r = rank or [0] * len(ids)
    return sorted(range(len(ids)), key=lambda i: (r[i], keys[ids[i]], repeats[i]))


def _options(values: Sequence[Any]) -> list[str]:
    return sorted({v for v in values if isinstance(v, str)})


def report_payload(report: RunReport) -> dict[str, Any]:
    data = report.data
    df = data.records
    with pause_gc():
        side = _side(data, df["verdict"].isin(list(_INTERESTING)).to_numpy())
        ids = df["case_id"].tolist()
        repeats = df["repeat"].to_numpy(dtype=float, na_value=0).tolist()
        rows: dict[str, Any] = {
            "id": ids,
            "r": df["repeat"].to_numpy(dtype=np.int64, na_value=0),
            "cat": df["category"].tolist(),
            "tags": df["tags"].tolist(),
        }
        order = _default_order(ids, repeats)
    with_repeats = bool(len(df)) and max(repeats) > 0
    columns = [
        ["id", "Case", "text"],
        ["r", "Rep", "int"],
        ["cat", "Category", "text"],
        ["v", "Verdict", "verdict"],
        ["s", "Score", "score"],
        ["fr", "Finish", "finish"],
        ["lat", "Latency", "secs"],
        ["ttft", "TTFT", "secs"],
        ["ctok", "Out tokens", "int"],
        ["att", "Attempts", "int"],
        ["fail", "Failed checks", "list"],
    ]
    prompts, note = _prompts([data])
    return {
        "mode": "report",
        "n": len(df),
        "order": order,
        "statusKey": "v",
        "columns": [c for c in columns if with_repeats or c[0] != "r"],
        "rows": rows,
        "sides": [side],
        "categories": _options(rows["cat"]),
        "statuses": [
            ["pass", "pass"],
            ["fail", "fail"],
            ["error", "error"],
            ["measured", "measured only"],
        ],
        "checks": _options(data.checks["name"].unique().tolist()),
        "prompts": prompts,
        "promptNote": note,
        "currency": data.price.currency if data.price else None,
    }


def _interesting_rows(n: int, rows: np.ndarray, interesting: np.ndarray) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    sel = rows[interesting]
    out[sel[sel >= 0]] = True
    return out


def diff_payload(diff: RunDiff) -> dict[str, Any]:
    p = diff.pairs
    brow, crow = p["brow"].to_numpy(), p["crow"].to_numpy()
    transitions = p["transition"].tolist()
    # In a diff the rows to read are the ones that changed verdict.
    interesting = p["transition"].isin(["regressed", "improved"]).to_numpy()
    with pause_gc():
        base = _side(diff.base, _interesting_rows(len(diff.base.records), brow, interesting), 2)
        cand = _side(diff.cand, _interesting_rows(len(diff.cand.records), crow, interesting), 2)
        ids = p["case_id"].tolist()
        repeats = p["repeat"].to_numpy(dtype=float, na_value=0).tolist()
        order = _default_order(ids, repeats, [_RANK.get(t, 6) for t in transitions])
        blist, clist = brow.tolist(), crow.tolist()
        marks = mark_pairs(
            (i, base["out"][blist[i]], cand["out"][clist[i]])
            for i in order
            if blist[i] >= 0 and clist[i] >= 0 and transitions[i] != "changed"
        )
        rows: dict[str, Any] = {
            "id": ids,
            "r": p["repeat"].to_numpy(dtype=np.int64, na_value=0),
            "cat": p["category"].tolist(),
            "t": transitions,
            "ds": _floats(p["score_delta"], 4),
            "crit": p["critical"].to_numpy(dtype=bool),
            "brow": brow,
            "crow": crow,
            "bm": [marks[i][0] if i in marks else None for i in range(len(p))],
            "cm": [marks[i][1] if i in marks else None for i in range(len(p))],
        }
    with_repeats = bool(len(p)) and max(repeats) > 0
    columns = [
        ["id", "Case", "text"],
        ["r", "Rep", "int"],
        ["cat", "Category", "text"],
        ["t", "Change", "transition"],
        ["bv", "Base", "verdict"],
        ["cv", "Cand", "verdict"],
        ["bs", "Base score", "score"],
        ["cs", "Cand score", "score"],
        ["ds", "Δ score", "delta"],
        ["blat", "Base latency", "secs"],
        ["clat", "Cand latency", "secs"],
        ["cfr", "Cand finish", "finish"],
        ["fail", "Failed checks", "list"],
    ]
    labels = {
        "regressed": "regressed (pass → fail)",
        "improved": "improved (fail → pass)",
        "still_failing": "still failing",
        "still_passing": "still passing",
        "measured": "measured only",
        "changed": "case changed",
        "added": "added",
        "removed": "removed",
        "unpaired": "repeat in one run only",
    }
    present = set(transitions)
    prompts, note = _prompts([diff.base, diff.cand])
    names = set(diff.base.checks["name"].unique().tolist()) | set(
        diff.cand.checks["name"].unique().tolist()
    )
    return {
        "mode": "diff",
        "n": len(p),
        "order": order,
        "statusKey": "t",
        "columns": [c for c in columns if with_repeats or c[0] != "r"],
        "rows": rows,
        "sides": [base, cand],
        "categories": _options(p["category"].tolist()),
        "statuses": [[k, v] for k, v in labels.items() if k in present],
        "checks": _options(list(names)),
        "prompts": prompts,
        "promptNote": note,
        "currency": diff.summary["telemetry"]["cost"]["currency"],
    }

"""The case table's data for the HTML page: columnar lists, embedded once as JSON.

Columns (one list per field) instead of one object per record keep a 100,000-record page about
a third smaller and cost no per-record dict here; the page's script reads `rows.<field>[i]`.
Long texts are clipped (`_prompts.MAX_TEXT`); results.jsonl keeps everything.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from harness.render._prompts import clip, load_prompts
from harness.render._textdiff import mark_pairs

if TYPE_CHECKING:
    from harness.diff import RunDiff
    from harness.report import RunData, RunReport

_DETAIL_MAX = 4_000
_DIGITS = re.compile(r"(\d+)")
#: Default row order of the diff table: what needs a look first.
_RANK = {"regressed": 0, "improved": 1, "still_failing": 2, "changed": 3, "added": 4, "removed": 5}


def _floats(s: pd.Series) -> list[Any]:
    """Numbers as floats, unknown as NaN (orjson writes NaN as null)."""
    return s.to_numpy(dtype=float, na_value=np.nan).tolist()


def _texts(s: pd.Series) -> list[str | None]:
    return [clip(v) if isinstance(v, str) else None for v in s.tolist()]


def _side(data: RunData) -> dict[str, list[Any]]:
    """Per-record fields shared by the report rows and each side of the diff rows."""
    df = data.records
    n = len(df)
    chk: list[list[Any]] = [[] for _ in range(n)]
    fail: list[list[str]] = [[] for _ in range(n)]
    c = data.checks
    for row, name, passed, score, detail, err in zip(
        c["row"].tolist(), c["name"].tolist(), c["passed"].tolist(), _floats(c["score"]),
        c["detail"].tolist(), c["error"].tolist(), strict=True,
    ):  # fmt: skip
        chk[row].append([name, passed, score, clip(detail, _DETAIL_MAX) if isinstance(detail, str) else "", err])
        if not passed:
            fail[row].append(name)
    err_text = [
        None if not isinstance(t, str) else f"{t}{f' {int(sc)}' if sc == sc else ''}: {m if isinstance(m, str) else ''}"
        for t, sc, m in zip(df["error_type"].tolist(), _floats(df["error_status_code"]),
                            df["error_message"].tolist(), strict=True)
    ]  # fmt: skip
    tool_calls = [[[t.get("name"), clip(t.get("arguments"), _DETAIL_MAX)] for t in tc] for tc in df["tool_calls"]]
    return {
        "v": df["verdict"].tolist(),
        "s": _floats(df["score"]),
        "fr": [v if isinstance(v, str) else None for v in df["finish_reason"].tolist()],
        "lat": _floats(df["latency_s"]),
        "ttft": _floats(df["ttft_s"]),
        "ptok": _floats(df["prompt_tokens"]),
        "ctok": _floats(df["completion_tokens"]),
        "rtok": _floats(df["reasoning_tokens"]),
        "ktok": _floats(df["cached_tokens"]),
        "att": _floats(df["attempts"]),
        "cost": _floats(df["cost"]),
        "err": err_text,
        "out": _texts(df["content"]),
        "rsn": _texts(df["reasoning"]),
        "tc": tool_calls,
        "chk": chk,
        "fail": fail,
    }


def _prompts(data: Sequence[RunData]) -> tuple[dict[str, Any], str | None]:
    hashes: dict[str, str] = {}
    for d in data:
        hashes.update(zip(d.records["case_id"].tolist(), d.records["case_hash"].tolist(), strict=True))
    return load_prompts(data[-1].manifest.suite.path, hashes)


def _natural(text: Any) -> tuple[Any, ...]:
    """Sort key that puts case-2 before case-10."""
    return tuple(int(p) if p.isdigit() else p for p in _DIGITS.split(str(text)))


def _default_order(ids: list[str], repeats: list[float], rank: list[int] | None = None) -> list[int]:
    keys = [_natural(i) for i in ids]
    r = rank or [0] * len(ids)
    return sorted(range(len(ids)), key=lambda i: (r[i], keys[i], repeats[i]))


def _options(values: Sequence[Any]) -> list[str]:
    return sorted({v for v in values if isinstance(v, str)})


def report_payload(report: RunReport) -> dict[str, Any]:
    data = report.data
    df = data.records
    rows = _side(data)
    rows.update(id=df["case_id"].tolist(), r=_floats(df["repeat"]), cat=df["category"].tolist(),
                tags=df["tags"].tolist())  # fmt: skip
    repeats = bool(len(df)) and int(df["repeat"].max()) > 0
    columns = [["id", "Case", "text"], ["r", "Rep", "int"], ["cat", "Category", "text"],
               ["v", "Verdict", "verdict"], ["s", "Score", "score"], ["fr", "Finish", "finish"],
               ["lat", "Latency", "secs"], ["ttft", "TTFT", "secs"], ["ctok", "Out tokens", "int"],
               ["att", "Attempts", "int"], ["fail", "Failed checks", "list"]]  # fmt: skip
    if not repeats:
        columns = [c for c in columns if c[0] != "r"]
    prompts, note = _prompts([data])
    return {
        "mode": "report",
        "n": len(df),
        "order": _default_order(rows["id"], rows["r"]),
        "statusKey": "v",
        "columns": columns,
        "rows": rows,
        "categories": _options(rows["cat"]),
        "statuses": [["pass", "pass"], ["fail", "fail"], ["error", "error"], ["measured", "measured only"]],
        "checks": _options(data.checks["name"].tolist()),
        "prompts": prompts,
        "promptNote": note,
        "currency": data.price.currency if data.price else None,
    }


def _take(values: list[Any], idx: list[int]) -> list[Any]:
    return [values[i] if i >= 0 else None for i in idx]


def diff_payload(diff: RunDiff) -> dict[str, Any]:
    p = diff.pairs
    brow, crow = p["brow"].tolist(), p["crow"].tolist()
    b, c = _side(diff.base), _side(diff.cand)
    rows: dict[str, Any] = {
        "id": p["case_id"].tolist(), "r": _floats(p["repeat"]), "cat": p["category"].tolist(),
        "t": p["transition"].tolist(), "ds": _floats(p["score_delta"]), "crit": p["critical"].tolist(),
    }  # fmt: skip
    for key in b:
        rows[f"b{key}"] = _take(b[key], brow)
        rows[f"c{key}"] = _take(c[key], crow)
    rows["fail"] = [sorted(set(x or []) | set(y or [])) for x, y in zip(rows["bfail"], rows["cfail"], strict=True)]
    order = _default_order(rows["id"], rows["r"], [_RANK.get(t, 6) for t in rows["t"]])
    marks = mark_pairs((i, rows["bout"][i], rows["cout"][i]) for i in order if rows["t"][i] != "changed")
    rows["bm"] = [marks[i][0] if i in marks else None for i in range(len(p))]
    rows["cm"] = [marks[i][1] if i in marks else None for i in range(len(p))]
    repeats = bool(len(p)) and float(np.nanmax(rows["r"])) > 0
    columns = [["id", "Case", "text"], ["r", "Rep", "int"], ["cat", "Category", "text"],
               ["t", "Change", "transition"], ["bv", "Base", "verdict"], ["cv", "Cand", "verdict"],
               ["bs", "Base score", "score"], ["cs", "Cand score", "score"], ["ds", "Δ score", "delta"],
               ["blat", "Base latency", "secs"], ["clat", "Cand latency", "secs"],
               ["cfr", "Cand finish", "finish"], ["fail", "Failed checks", "list"]]  # fmt: skip
    if not repeats:
        columns = [col for col in columns if col[0] != "r"]
    prompts, note = _prompts([diff.base, diff.cand])
    labels = {"regressed": "regressed (pass → fail)", "improved": "improved (fail → pass)",
              "still_failing": "still failing", "still_passing": "still passing",
              "measured": "measured only", "changed": "case changed", "added": "added",
              "removed": "removed", "unpaired": "repeat in one run only"}  # fmt: skip
    present = set(rows["t"])
    return {
        "mode": "diff",
        "n": len(p),
        "order": order,
        "statusKey": "t",
        "columns": columns,
        "rows": rows,
        "categories": _options(rows["cat"]),
        "statuses": [[k, v] for k, v in labels.items() if k in present],
        "checks": _options(diff.base.checks["name"].tolist() + diff.cand.checks["name"].tolist()),
        "prompts": prompts,
        "promptNote": note,
        "currency": diff.summary["telemetry"]["cost"]["currency"],
    }

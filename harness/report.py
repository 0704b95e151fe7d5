"""One run -> the tables people read before a rollout (pandas), and the JSON summary.

A run directory can hold 100,000 records, so records are read as plain dicts (orjson) straight
into column lists and one DataFrame; no pydantic model per record. Resumed runs may hold several
lines for one (case_id, repeat): the last line wins, as in `harness.store.load_records`.

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

import gc
import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
from pydantic import ValidationError

from harness.endpoints import Price
from harness.errors import InputError, Problem
from harness.records import Manifest, Record
from harness.stats import mean_pass_at_k, percentiles, wilson_interval
from harness.store import RESULTS, Run, load_manifest

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
TOKEN_FIELDS = (
    "prompt_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "cached_tokens",
    "total_tokens",
)
_INT_COLS = ("repeat", "attempts", "error_status_code", *TOKEN_FIELDS)
_FLOAT_COLS = ("latency_s", "ttft_s", "score")
_STR_COLS = (
    "case_id",
    "case_hash",
    "category",
    "endpoint",
    "model",
    "status",
    "error_type",
    "error_code",
    "error_message",
    "finish_reason",
    "started_at",
    "content",
    "reasoning",
)
_OBJ_COLS = ("passed", "tags", "tool_calls")
_CHECK_COLS = ("row", "name", "passed", "score", "detail", "error", "weight")


@dataclass
class RunData:
    """A run as DataFrames: `records` one row per (case_id, repeat), `checks` one per outcome."""

    path: Path
    manifest: Manifest
    records: pd.DataFrame
    checks: pd.DataFrame
    price: Price | None
    raw_lines: int = 0
    """Lines read, before the last line per (case_id, repeat) superseded earlier ones."""


@dataclass
class RunReport:
    data: RunData
    summary: dict[str, Any]
    categories: pd.DataFrame
    """One row per category plus "all": the `summary` blocks flattened for tables."""
    checks: pd.DataFrame
    per_case: pd.DataFrame | None = None
    """With repeats: per case n, passed, errors, pass_rate, flaky."""
    extras: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- loading


@contextmanager
def pause_gc() -> Iterator[None]:
    """Pause the cyclic GC while building millions of small objects that are all kept.

    Each full collection walks every live object; with a 100,000-record run in memory that is
    ~0.5 s per collection, triggered again and again by the allocations: seconds of waste.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _collect(raws: Iterable[dict[str, Any]]) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """Column lists from record dicts; repeated short strings are stored once.

    orjson builds a new str for every value, so 100,000 records would hold 100,000 copies of
    "ok", the model name and each check name; sharing them saves ~100 MB on such a run.
    """
    cols: dict[str, list[Any]] = {c: [] for c in (*_STR_COLS, *_INT_COLS, *_FLOAT_COLS, *_OBJ_COLS)}
    chk: dict[str, list[Any]] = {c: [] for c in _CHECK_COLS}
    a = {c: cols[c].append for c in cols}
    ca = {c: chk[c].append for c in chk}
    one: Any = {}.setdefault
    empty: tuple[()] = ()
    for i, raw in enumerate(raws):
        out = raw.get("output") or {}
        usage = raw.get("usage") or {}
        err = raw.get("error") or {}
        a["case_id"](raw["case_id"])
        a["case_hash"](raw["case_hash"])
        for c in ("category", "endpoint", "model", "status"):
            v = raw[c]
            a[c](one(v, v))
        a["repeat"](raw.get("repeat", 0))
        a["attempts"](raw.get("attempts", 1))
        a["error_type"](err.get("type"))
        a["error_status_code"](err.get("status_code"))
        a["error_code"](err.get("code"))
        a["error_message"](err.get("message"))
        fr = raw.get("finish_reason")
        a["finish_reason"](one(fr, fr))
        started = raw.get("started_at")
        a["started_at"](one(started, started))
        a["content"](out.get("content"))
        a["reasoning"](out.get("reasoning"))
        calls = out.get("tool_calls")
        # `parsed` is derived from `arguments`; the reports show the raw string.
        a["tool_calls"](
            [
                {"id": t.get("id"), "name": t.get("name"), "arguments": t.get("arguments")}
                for t in calls
            ]
            if calls
            else empty
        )
        for f in TOKEN_FIELDS:
            a[f](usage.get(f))
        a["latency_s"](raw.get("latency_s"))
        a["ttft_s"](raw.get("ttft_s"))
        a["score"](raw.get("score"))
        a["passed"](raw.get("passed"))
        a["tags"](raw.get("tags") or empty)
        for c in raw.get("checks") or ():
            name = c["name"]
            ca["row"](i)
            ca["name"](one(name, name))
            ca["passed"](bool(c["passed"]))
            ca["score"](c.get("score"))
            ca["detail"](c.get("detail") or "")
            ca["error"](bool(c.get("error", False)))
            ca["weight"](c.get("weight", 1.0))
    return cols, chk


def _iter_lines(path: Path) -> Iterator[dict[str, Any]]:
    """`harness.store.iter_raw_records`, streamed line by line.

    Same rules (blank lines skipped, a torn *last* line skipped, any other bad line an
    InputError) without holding the whole file and its split lines in memory at once: for a
    100,000-record run that is ~500 MB less at peak.
    """
    file = path / RESULTS
    if not file.is_file():
        return
    with file.open("rb") as f:
        pending: tuple[int, bytes] | None = None
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            if pending is not None:
                yield _parse_line(file, *pending, last=False)
            pending = (lineno, line)
        if pending is not None:
            try:
                yield _parse_line(file, *pending, last=True)
            except _TornLine:
                return


class _TornLine(Exception):
    pass


def _parse_line(file: Path, lineno: int, line: bytes, *, last: bool) -> dict[str, Any]:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        if last:
            raise _TornLine from None
        raise InputError(Problem(str(file), lineno, "corrupt record line (not JSON)")) from None
    if not isinstance(obj, dict):
        raise InputError(Problem(str(file), lineno, "a record must be a JSON object"))
    return obj


def _locate_bad_record(path: Path) -> None:
    """Slow path after the fast one failed: validate each line to name the bad one."""
    for i, raw in enumerate(_iter_lines(path), start=1):
        try:
            Record.model_validate(raw)
        except ValidationError as exc:
            msg = str(exc).splitlines()
            detail = f"{msg[1].strip()}: {msg[2].strip()}" if len(msg) > 2 else msg[0]
            raise InputError(Problem(str(path / RESULTS), i, f"invalid record: {detail}")) from None


def _objects(values: list[Any]) -> pd.Series:
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return pd.Series(arr, dtype=object, copy=False)


def _frames(
    cols: dict[str, list[Any]], chk: dict[str, list[Any]]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    data: dict[str, Any] = {}
    for c in _STR_COLS:
        # object, not pandas' "str" dtype: the texts are already Python strings, and copying
        # 200 MB of outputs into Arrow buffers costs seconds and doubles the memory.
        data[c] = _objects(cols[c])
    for c in _INT_COLS:
        data[c] = pd.array(cols[c], dtype="Int64")
    for c in _FLOAT_COLS:
        data[c] = np.array([math.nan if v is None else v for v in cols[c]], dtype=np.float64)
    data["passed"] = pd.array(cols["passed"], dtype="boolean")
    for c in ("tags", "tool_calls"):
        data[c] = _objects(cols[c])
    records = pd.DataFrame(data)
    checks = pd.DataFrame(
        {
            "row": np.asarray(chk["row"], dtype=np.int64),
            "name": _objects(chk["name"]),
            "passed": np.asarray(chk["passed"], dtype=bool),
            "score": np.array([math.nan if v is None else v for v in chk["score"]], dtype=float),
            "detail": _objects(chk["detail"]),
            "error": np.asarray(chk["error"], dtype=bool),
            "weight": np.asarray(chk["weight"], dtype=float),
        }
    )
    return records, checks


def _latest_only(records: pd.DataFrame, checks: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep the last line per (case_id, repeat); renumber `checks.row` to the kept rows."""
    dup = records.duplicated(["case_id", "repeat"], keep="last").to_numpy()
    if not dup.any():
        return records, checks
    keep = ~dup
    new_index = np.cumsum(keep) - 1
    checks = checks[keep[checks["row"].to_numpy()]].copy()
    checks["row"] = new_index[checks["row"].to_numpy()]
    return records[keep].reset_index(drop=True), checks.reset_index(drop=True)


def _derive(records: pd.DataFrame, price: Price | None) -> None:
    """Add `verdict`, `scored` and `cost` columns (see the module docstring for the rules)."""
    error = (records["status"] == "error").to_numpy()
    passed = records["passed"].fillna(False).to_numpy(dtype=bool)
    measured = ~error & passed & np.isnan(records["score"].to_numpy())
    case_measured = pd.Series(measured).groupby(records["case_id"].to_numpy()).transform("any")
    verdict = np.where(error, "error", np.where(passed, "pass", "fail")).astype(object)
    verdict[measured] = "measured"
    records["verdict"] = pd.array(verdict, dtype="str")
    records["scored"] = ~case_measured.to_numpy(dtype=bool)
    records["passed_bool"] = passed & ~error
    if price is None:
        records["cost"] = np.full(len(records), math.nan)
        return
    cols = [
        records[f].astype(object).where(records[f].notna(), None).tolist()
        for f in ("prompt_tokens", "completion_tokens", "cached_tokens")
    ]
    costs = [price.cost(p, c, k) for p, c, k in zip(*cols, strict=True)]
    records["cost"] = np.array([math.nan if v is None else v for v in costs], dtype=float)


def load_run_data(run: Run | RunData | str | Path) -> RunData:
    """Read a run directory (or wrap an already-loaded `Run`) into DataFrames."""
    if isinstance(run, RunData):
        return run
    if isinstance(run, Run):
        path, manifest = run.path, run.manifest
        raws: Iterable[dict[str, Any]] = (r.model_dump(mode="json") for r in run.records)
    else:
        path = Path(run)
        manifest = load_manifest(path)
        raws = _iter_lines(path)
    try:
        with pause_gc():
            cols, chk = _collect(raws)
            records, checks = _frames(cols, chk)
    except (KeyError, TypeError, ValueError, AttributeError):
        _locate_bad_record(path)
        raise
    raw_lines = len(records)
    records, checks = _latest_only(records, checks)
    price_raw = manifest.endpoint.get("price")
    try:
        price = Price.model_validate(price_raw) if price_raw else None
    except ValidationError:
        price = None
    _derive(records, price)
    return RunData(path, manifest, records, checks, price, raw_lines)


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

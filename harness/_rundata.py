"""A run directory as two DataFrames, read fast enough for 100,000-record runs.

Records are read as plain dicts (orjson, one line at a time) straight into column lists and
one DataFrame: no pydantic model per record (that alone would take seconds). Resumed runs may
hold several lines for one (case_id, repeat): the last line wins, as in
`harness.store.load_records`. `harness.report` builds the tables from this; `harness.diff`
aligns two of them.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from harness.endpoints import Price
from harness.errors import InputError, Problem
from harness.records import Manifest, Record
from harness.store import RESULTS, Run, iter_raw_records, load_manifest

__all__ = ["TOKEN_FIELDS", "RunData", "load_run_data", "pause_gc"]

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
    "served_model",
    "response_id",
    "system_fingerprint",
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
        served = raw.get("served") or {}
        sm, fp = served.get("model"), served.get("system_fingerprint")
        a["served_model"](one(sm, sm))
        a["response_id"](served.get("id"))
        a["system_fingerprint"](one(fp, fp))
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


def _locate_bad_record(path: Path) -> None:
    """Slow path after the fast one failed: validate each line to name the bad one."""
    for i, raw in enumerate(iter_raw_records(path), start=1):
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
    """Add `verdict`, `scored` and `cost` columns; the rules are in `harness.report`'s docstring.

    `verdict` is pass / fail / error / measured; `scored` is False for every record of a case
    without checks (measured only), which pass rates leave out.
    """
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
        raws = iter_raw_records(path)
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


def served_info(df: pd.DataFrame) -> dict[str, Any]:
    """`served_models` {model: records} as the server named them, most first, and the distinct
    `system_fingerprints`: the `run` block of the report and diff JSON."""
    return {
        "served_models": {
            str(k): int(v) for k, v in df["served_model"].value_counts(sort=True).items()
        },
        "system_fingerprints": sorted(str(v) for v in df["system_fingerprint"].dropna().unique()),
    }

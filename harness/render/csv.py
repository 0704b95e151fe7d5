"""CSV: one row per record (report) or per (case, repeat) pair (diff), columns in docs/reports.md.

Nested fields are flattened with dots (``usage.prompt_tokens``, ``error.type``); each check
becomes ``check.<name>.passed`` / ``.score`` / ``.detail`` (a second check of the same name in
one case is ``<name>#2``). Unknown values are empty cells, never 0. Text is quoted by the csv
module's rules (commas, quotes, newlines), UTF-8, so ``pandas.read_csv(path)`` reads it back;
`read_csv` below also keeps texts such as "NA" or "None" and ids such as "007" as written.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pandas as pd

from harness.render._atomic import atomic_text

if TYPE_CHECKING:
    from harness.diff import RunDiff
    from harness.report import RunData, RunReport

__all__ = [
    "TEXT_COLUMNS",
    "diff_frame",
    "neutralise_formulas",
    "read_csv",
    "report_frame",
    "write_csv",
]

#: Columns that hold text; `read_csv` reads them as strings.
TEXT_COLUMNS = (
    "case_id",
    "category",
    "case_hash",
    "tags",
    "endpoint",
    "model",
    "served.model",
    "served.id",
    "served.system_fingerprint",
    "status",
    "verdict",
    "error.type",
    "error.code",
    "error.message",
    "finish_reason",
    "started_at",
    "output.content",
    "output.reasoning",
    "output.tool_calls",
    "transition",
    "base.verdict",
    "cand.verdict",
    "base.finish_reason",
    "cand.finish_reason",
    "base.error.type",
    "cand.error.type",
    "base.failed_checks",
    "cand.failed_checks",
    "base.output.content",
    "cand.output.content",
)

_RECORD_COLUMNS = {
    "case_id": "case_id",
    "repeat": "repeat",
    "category": "category",
    "case_hash": "case_hash",
    "endpoint": "endpoint",
    "model": "model",
    "served_model": "served.model",
    "response_id": "served.id",
    "system_fingerprint": "served.system_fingerprint",
    "status": "status",
    "verdict": "verdict",
    "passed": "passed",
    "score": "score",
    "error_type": "error.type",
    "error_status_code": "error.status_code",
    "error_code": "error.code",
    "error_message": "error.message",
    "finish_reason": "finish_reason",
    "prompt_tokens": "usage.prompt_tokens",
    "completion_tokens": "usage.completion_tokens",
    "reasoning_tokens": "usage.reasoning_tokens",
    "cached_tokens": "usage.cached_tokens",
    "total_tokens": "usage.total_tokens",
    "latency_s": "latency_s",
    "ttft_s": "ttft_s",
    "attempts": "attempts",
    "cost": "cost",
    "started_at": "started_at",
    "content": "output.content",
    "reasoning": "output.reasoning",
}


def _check_columns(data: RunData) -> dict[str, Any]:
    c = data.checks
    n = len(data.records)
    if c.empty:
        return {}
    k = c.groupby(["row", "name"], sort=False).cumcount().to_numpy()
    names = c["name"].to_numpy(dtype=object)
    slots = np.where(k == 0, names, names + "#" + (k + 1).astype(str))
    rows = c["row"].to_numpy()
    out: dict[str, Any] = {}
    for slot in pd.unique(slots):
        sel = slots == slot
        passed = pd.array([pd.NA] * n, dtype="boolean")
        passed[rows[sel]] = c["passed"].to_numpy()[sel]
        score = np.full(n, np.nan)
        score[rows[sel]] = c["score"].to_numpy()[sel]
        detail = np.full(n, None, dtype=object)
        detail[rows[sel]] = c["detail"].to_numpy(dtype=object)[sel]
        out[f"check.{slot}.passed"] = passed
        out[f"check.{slot}.score"] = score
        out[f"check.{slot}.detail"] = detail
    return out


def report_frame(report: RunReport) -> pd.DataFrame:
    """The report CSV as a DataFrame (one row per record, documented columns)."""
    df = report.data.records
    cols: dict[str, Any] = {new: df[old] for old, new in _RECORD_COLUMNS.items()}
    cols["tags"] = [";".join(t) for t in df["tags"]]
    cols["output.tool_calls"] = [
        orjson.dumps(tc).decode() if tc else None for tc in df["tool_calls"]
    ]
    cols.update(_check_columns(report.data))
    out = pd.DataFrame(cols)
    order = ["case_id", "repeat", "category", "tags"] + [
        c for c in out.columns if c not in ("case_id", "repeat", "category", "tags")
    ]
    return out[order]


def _failed(data: RunData) -> list[str]:
    c = data.checks
    failed: list[list[str]] = [[] for _ in range(len(data.records))]
    for row, name in zip(
        c.loc[~c["passed"], "row"].tolist(), c.loc[~c["passed"], "name"].tolist(), strict=True
    ):
        failed[row].append(name)
    return [";".join(f) for f in failed]


def _object_column(present: np.ndarray, values: np.ndarray) -> pd.Series:
    """Values where present, None elsewhere, kept as Python objects.

    dtype=object: pandas 3 would otherwise copy the texts into a new Arrow string column
    (hundreds of MB for a 100,000-record diff).
    """
    arr = np.empty(len(present), dtype=object)
    arr[present] = values[present]
    return pd.Series(arr, dtype=object, copy=False)  # type: ignore[call-overload, unused-ignore]


_DIFF_TEXT = ("verdict", "finish_reason", "error_type", "content")


def diff_frame(diff: RunDiff) -> pd.DataFrame:
    """The diff CSV as a DataFrame (one row per (case_id, repeat) in either run)."""
    p = diff.pairs
    out = pd.DataFrame(
        {
            "case_id": p["case_id"],
            "repeat": p["repeat"],
            "category": p["category"],
            "transition": p["transition"],
            "critical": p["critical"],
        }
    )
    fields = {
        "verdict": "verdict",
        "score": "score",
        "finish_reason": "finish_reason",
        "latency_s": "latency_s",
        "ttft_s": "ttft_s",
        "prompt_tokens": "usage.prompt_tokens",
        "completion_tokens": "usage.completion_tokens",
        "reasoning_tokens": "usage.reasoning_tokens",
        "cost": "cost",
        "error_type": "error.type",
        "content": "output.content",
    }
    for side, data, rows in (("base", diff.base, p["brow"]), ("cand", diff.cand, p["crow"])):
        idx = rows.to_numpy()
        present = idx >= 0
        src = data.records[list(fields)].iloc[np.where(present, idx, 0)].reset_index(drop=True)
        failed = np.array(_failed(data) or [""], dtype=object)[np.where(present, idx, 0)]
        for old, new in fields.items():
            if old in _DIFF_TEXT:
                # dtype=object: pandas 3 would copy the texts into a new Arrow string column.
                out[f"{side}.{new}"] = _object_column(present, src[old].to_numpy(dtype=object))
            else:
                values = src[old].to_numpy(dtype=float, na_value=np.nan)
                out[f"{side}.{new}"] = np.where(present, values, np.nan)
        out[f"{side}.failed_checks"] = _object_column(present, failed)
    out.insert(
        list(out.columns).index("cand.score") + 1, "score_delta", p["score_delta"].to_numpy()
    )
    return out


_BATCH_ROWS = 10_000


def _arrow_schema(frame: pd.DataFrame) -> Any:
    import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

    fields = []
    for name, dtype in frame.dtypes.items():
        if pd.api.types.is_bool_dtype(dtype):
            t = pa.bool_()
        elif pd.api.types.is_integer_dtype(dtype):
            t = pa.int64()
        elif pd.api.types.is_float_dtype(dtype):
            t = pa.float64()
        else:
            t = pa.string()
        fields.append(pa.field(str(name), t))
    return pa.schema(fields)


def _write_arrow(frame: pd.DataFrame, f: io.TextIOWrapper) -> bool:
    """Write with pyarrow's CSV writer when it is installed (it is, through `datasets`).

    ~15x faster than ``DataFrame.to_csv`` on a 100,000-record report (56 columns, 200 MB): the
    per-cell cost of the Python csv writer dominates there. Written in batches of rows so the
    Arrow copy of the texts is never the whole file. Every string is quoted.
    """
    try:
        import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
        import pyarrow.csv as pacsv  # type: ignore[import-untyped, unused-ignore]
    except ImportError:  # pragma: no cover - pyarrow comes with `datasets`
        return False
    schema = _arrow_schema(frame)
    f.flush()
    options = pacsv.WriteOptions(quoting_style="needed")
    with pacsv.CSVWriter(f.buffer, schema, write_options=options) as writer:
        for start in range(0, max(len(frame), 1), _BATCH_ROWS):
            part = frame.iloc[start : start + _BATCH_ROWS]
            writer.write_table(pa.Table.from_pandas(part, schema=schema, preserve_index=False))
    return True


#: A text cell starting with one of these is a formula to a spreadsheet (OWASP's CSV injection
#: list); `'` itself is in it so that the prefix can always be told from the text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


def _is_text_column(name: str) -> bool:
    return name in TEXT_COLUMNS or name.endswith(".detail")


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would run as a formula, prefixed with `'`.

    Model output is untrusted: `=HYPERLINK(...)` or a DDE payload in an answer must not run when
    someone opens the report in a spreadsheet, which shows the `'`-prefixed cell as text.
    `read_csv` takes the prefix off again, so its round trip is exact.
    """
    out = frame.copy(deep=False)
    for name in frame.columns:
        dtype = frame[name].dtype
        if not _is_text_column(str(name)) or pd.api.types.is_numeric_dtype(dtype):
            continue
        col = frame[name]
        hit = col.str.startswith(_FORMULA_STARTS, na=False)
        if hit.any():
            out[name] = col.where(~hit, "'" + col.where(hit, ""))
    return out


def write_csv(obj: RunReport | RunDiff, path: Path, *, engine: str = "auto") -> None:
    """Write the CSV atomically; `engine` "pandas" forces the pure-pandas writer."""
    frame = diff_frame(obj) if obj.summary.get("kind") == "diff" else report_frame(obj)  # type: ignore[arg-type]
    frame = neutralise_formulas(frame)
    with atomic_text(path, newline="") as f:
        if engine == "pandas" or not _write_arrow(frame, f):
            # CRLF (RFC 4180): the csv module quotes a field holding any character of the line
            # terminator, so an answer with a lone \r stays one field (with "\n" it broke the row).
            frame.to_csv(f, index=False, lineterminator="\r\n")


def read_csv(path: str | Path, **kwargs: Any) -> pd.DataFrame:
    """Read a harness CSV back exactly: text columns as text ("NA", "None", "007" stay as
    written) and without the `'` that `write_csv` put before formula-like cells."""
    header = pd.read_csv(path, nrows=0).columns
    text = [c for c in header if _is_text_column(c)]
    options: dict[str, Any] = {
        "dtype": dict.fromkeys(text, "str"),
        "keep_default_na": False,
        "na_values": [""],
    }
    options.update(kwargs)
    frame: pd.DataFrame = pd.read_csv(path, **options)
    for name in text:
        if name in frame.columns:
            col = frame[name]
            frame[name] = col.where(~col.str.startswith("'", na=False), col.str[1:])
    return frame

"""The HTML report and diff: one self-contained file that opens offline.

Everything is inline: CSS, the table script, the charts (SVG data URIs) and the case data (JSON
in a ``<script type="application/json">`` block). Model output is untrusted:

- the summary tables are jinja2 templates with autoescape on;
- the case data is JSON with ``<``, ``>`` and ``&`` written as ``\\u003c``, ``\\u003e`` and
  ``\\u0026``, so no output can close the script block or open a tag; the page script puts it on
  the page with ``textContent`` only;
- a Content-Security-Policy meta tag allows inline script and style and ``data:`` images only:
  no network, no frames, no plugins, even if something slipped through.

The page is written in three pieces (head, data, tail) so a 100,000-record report is never held
twice in memory as one string.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import numpy as np
import orjson
from markupsafe import Markup

from harness._version import __version__
from harness.render import _fmt, charts
from harness.render._atomic import atomic_text
from harness.render._htmldata import diff_payload, report_payload
from harness.summary import run_served_notes

if TYPE_CHECKING:
    from harness.diff import RunDiff
    from harness.report import RunData, RunReport

__all__ = ["json_chunks", "json_for_script", "render_html", "write_html"]

_MARK = "\x00harness-data\x00"


def _static(name: str) -> str:
    return (importlib.resources.files("harness.render") / "static" / name).read_text(
        encoding="utf-8"
    )


def _fmtv(v: Any, kind: str, currency: str | None = None, signed: bool = False) -> str:
    if v is None or not _fmt.known(v):
        return _fmt.NA
    sign = "+" if signed and float(v) > 0 else ""
    if kind == "secs":
        return sign + _fmt.secs(v) if float(v) >= 0 else "-" + _fmt.secs(-float(v))
    if kind == "money":
        return sign + _fmt.money(v, currency)
    if kind == "mean":
        return sign + _fmt.mean(v)
    return sign + _fmt.num(v)


def _direction(row: dict[str, Any], up_is_bad: bool | None) -> str:
    d: Any = row.get("delta")
    if up_is_bad is None or not _fmt.known(d) or float(d) == 0:
        return ""
    return "worse" if (float(d) > 0) == up_is_bad else "better"


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("harness.render", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    filters: dict[str, Callable[..., str]] = {
        "pct": _fmt.pct,
        "ci": _fmt.ci,
        "points": _fmt.points,
        "ci_points": _fmt.ci_points,
        "secs": _fmt.secs,
        "num": _fmt.num,
        "mean": _fmt.mean,
        "pval": _fmt.pval,
        "signed_pct": _fmt.signed_pct,
        "score": _fmt.score,
        "money": _fmt.money,
        "fmtv": _fmtv,
        "direction": _direction,
    }
    env.filters.update(filters)
    return env


_ENV = _env()


def _escape(raw: bytes) -> bytes:
    return raw.replace(b"<", b"\\u003c").replace(b">", b"\\u003e").replace(b"&", b"\\u0026")


def json_chunks(payload: Any, depth: int = 3) -> Iterator[bytes]:
    """`json_for_script` in pieces: the top `depth` levels of dicts and lists are streamed.

    The page's data can be 100 MB; escaping it as one buffer holds three copies at once. Each
    piece here is one field of one run (a list of outputs, say), so only that much is copied.
    """
    if depth > 0 and isinstance(payload, dict):
        yield b"{"
        for k, (key, value) in enumerate(payload.items()):
            yield (b"," if k else b"") + _escape(orjson.dumps(str(key))) + b":"
            yield from json_chunks(value, depth - 1)
        yield b"}"
    elif depth > 0 and isinstance(payload, list) and payload and isinstance(payload[0], dict):
        yield b"["
        for k, value in enumerate(payload):
            if k:
                yield b","
            yield from json_chunks(value, depth - 1)
        yield b"]"
    else:
        yield _escape(orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY))


def json_for_script(payload: Any) -> bytes:
    """JSON that is safe inside ``<script type="application/json">`` whatever the strings hold.

    ``<``, ``>`` and ``&`` occur in JSON only inside strings, where ``\\u003c`` etc. mean the
    same characters to ``JSON.parse`` but can never form ``</script>`` or ``<!--`` for the
    HTML parser. NaN becomes null (orjson): unknown, not zero.
    """
    return b"".join(json_chunks(payload))


def _run_ctx(info: dict[str, Any], data: RunData, which: str = "this run") -> dict[str, Any]:
    ep = data.manifest.endpoint
    sim = ep.get("preset") == "sim" or any(
        str(ep.get(k) or "").startswith("sim") for k in ("name", "model")
    )
    return {**info, "simulator": sim, "served_notes": run_served_notes(info, which)}


def _report_ctx(report: RunReport) -> dict[str, Any]:
    s = report.summary
    blocks = [("all", s), *s["categories"].items()]
    ok = report.data.records[report.data.records["status"] == "ok"]
    lat = {"latency": ok["latency_s"].to_numpy(float), "TTFT": ok["ttft_s"].to_numpy(float)}
    return {
        "s": s,
        "run": _run_ctx(s["run"], report.data),
        "blocks": blocks,
        "checks": list(s["checks"].items()),
        "charts": {
            "pass_rate": charts.pass_rate_chart(
                [b[0] for b in blocks],
                [b[1]["pass_rate"] for b in blocks],
                [b[1]["ci"] for b in blocks],
            ),
            "latency": charts.latency_chart(lat),
        },
    }


def _telemetry_rows(tel: dict[str, Any]) -> list[tuple[str, dict[str, Any], str, bool | None]]:
    rows: list[tuple[str, dict[str, Any], str, bool | None]] = []
    for p in ("p50", "p95", "p99"):
        rows.append((f"latency {p}", tel["latency_s"][p], "secs", True))
    for p in ("p50", "p95"):
        rows.append((f"TTFT {p}", tel["ttft_s"][p], "secs", True))
    for k in ("prompt", "completion", "reasoning", "cached"):
        rows.append(
            (
                f"{k} tokens (mean per record)",
                tel["tokens"][k]["mean"],
                "mean",
                None if k == "cached" else True,
            )
        )
    rows.append(("total tokens (sum)", tel["tokens"]["total"]["sum"], "num", True))
    rows.append(("estimated cost (sum)", tel["cost"], "money", True))
    rows.append(("truncated (finish_reason length)", tel["truncated"], "num", True))
    rows.append(("errors", tel["errors"], "num", True))
    return rows


def _diff_ctx(diff: RunDiff) -> dict[str, Any]:
    s = diff.summary
    blocks = [("all", s), *s["categories"].items()]
    p = diff.pairs
    aligned = p[(p["brow"] >= 0) & (p["crow"] >= 0) & (p["transition"] != "changed")]

    def lat(data: RunData, rows: Any) -> np.ndarray:
        df = data.records.iloc[rows]
        values: np.ndarray = df.loc[df["status"] == "ok", "latency_s"].to_numpy(float)
        return values

    names = [b[0] for b in blocks]
    return {
        "s": s,
        "b": _run_ctx(s["base_run"], diff.base, "the base run"),
        "c": _run_ctx(s["cand_run"], diff.cand, "the candidate run"),
        "blocks": blocks,
        "telemetry": _telemetry_rows(s["telemetry"]),
        "currency": s["telemetry"]["cost"]["currency"],
        "charts": {
            "compare": charts.compare_chart(
                names,
                [b[1]["base"] for b in blocks],
                [b[1]["cand"] for b in blocks],
                [b[1]["base_ci"] for b in blocks],
                [b[1]["cand_ci"] for b in blocks],
            ),
            "latency": charts.latency_chart(
                {
                    "base": lat(diff.base, aligned["brow"].to_numpy()),
                    "candidate": lat(diff.cand, aligned["crow"].to_numpy()),
                },
                colors=[charts.BASE_COLOR, charts.CAND_COLOR],
            ),
        },
    }


def _pieces(obj: RunReport | RunDiff) -> Iterator[str | bytes]:
    is_diff = obj.summary.get("kind") == "diff"
    ctx = _diff_ctx(obj) if is_diff else _report_ctx(obj)  # type: ignore[arg-type]
    payload = diff_payload(obj) if is_diff else report_payload(obj)  # type: ignore[arg-type]
    template = _ENV.get_template("diff.html.j2" if is_diff else "report.html.j2")
    page = template.render(
        **ctx,
        version=__version__,
        css=Markup(_static("style.css")),
        js=Markup(_static("cases.js")),
        data=Markup(_MARK),
    )
    head, tail = page.split(_MARK)
    yield head
    yield from json_chunks(payload)
    yield tail


def render_html(obj: RunReport | RunDiff) -> str:
    return "".join(p if isinstance(p, str) else p.decode("utf-8") for p in _pieces(obj))


def write_html(obj: RunReport | RunDiff, path: Path) -> None:
    with atomic_text(path) as f:
        for piece in _pieces(obj):
            if isinstance(piece, bytes):
                f.flush()
                f.buffer.write(piece)
                f.buffer.flush()
            else:
                f.write(piece)

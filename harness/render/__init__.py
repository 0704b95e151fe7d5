"""Renderers for a run report and a run diff: HTML, CSV, Markdown, JSON and terminal lines.

Each format is a module with one job; `write_outputs` writes the ones asked for, each atomically,
and validates every destination first so a bad path fails before anything is written.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from harness.errors import InputError, Problem
from harness.render._atomic import write_text

if TYPE_CHECKING:
    from harness.diff import RunDiff
    from harness.report import RunReport

__all__ = ["summary_json", "write_outputs"]


def summary_json(obj: RunReport | RunDiff) -> bytes:
    """The `--json` document (NaN written as null: unknown, not zero)."""
    return (
        orjson.dumps(obj.summary, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY) + b"\n"
    )


def _dest(p: str | Path | None, flag: str) -> Path | None:
    if p is None:
        return None
    path = Path(p)
    if path.is_dir():
        raise InputError(Problem(str(path), 0, f"--{flag}: is a directory, expected a file name"))
    parent = path.parent if str(path.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise InputError(Problem(str(parent), 0, f"--{flag}: not a directory"))
    return path


def write_outputs(
    obj: RunReport | RunDiff,
    *,
    html: str | Path | None = None,
    csv: str | Path | None = None,
    md: str | Path | None = None,
    json: str | Path | None = None,
    html_href: str | None = None,
) -> list[Path]:
    from harness.render import csv as csv_mod
    from harness.render import html as html_mod
    from harness.render import markdown as md_mod

    dests = {k: _dest(v, k) for k, v in {"html": html, "csv": csv, "md": md, "json": json}.items()}
    written: list[Path] = []
    if (p := dests["json"]) is not None:
        write_text(p, summary_json(obj).decode("utf-8"))
        written.append(p)
    if (p := dests["csv"]) is not None:
        csv_mod.write_csv(obj, p)
        written.append(p)
    if (p := dests["html"]) is not None:
        html_mod.write_html(obj, p)
        written.append(p)
    if (p := dests["md"]) is not None:
        href = html_href
        if href is None:
            h = dests["html"]
            default = (
                "report.html"
                if getattr(obj, "summary", {}).get("kind") == "report"
                else "diff.html"
            )
            href = os.path.relpath(h, p.parent).replace(os.sep, "/") if h is not None else default
        write_text(p, md_mod.render_markdown(obj, html_href=href))
        written.append(p)
    return written

"""Charts for the HTML pages: matplotlib on the Agg canvas, saved as SVG, inlined as data URIs.

Figures are built with `matplotlib.figure.Figure` attached to an Agg canvas rather than through
pyplot, so rendering a report never touches the global backend of a notebook or a GUI app that
imported the harness, and works without a display. The SVG is embedded as an
``<img src="data:image/svg+xml;base64,...">``: an image cannot run script, whatever text ends up
in it, and the page's CSP (img-src data:) allows it. Text is drawn as paths (matplotlib's
default), the hash salt is fixed and the date left out, so the same data gives the same bytes.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

BASE_COLOR = "#7a8599"
CAND_COLOR = "#2f6fdb"
PASS_COLOR = "#2e8b57"
_RC: Any = {
    "svg.hashsalt": "harness",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _data_uri(fig: Figure) -> str:
    buf = io.BytesIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _err(rates: Sequence[float | None], cis: Sequence[Sequence[float | None]]) -> np.ndarray:
    lo = [
        0.0 if r is None or c[0] is None else (r - c[0]) * 100
        for r, c in zip(rates, cis, strict=True)
    ]
    hi = [
        0.0 if r is None or c[1] is None else (c[1] - r) * 100
        for r, c in zip(rates, cis, strict=True)
    ]
    return np.array([lo, hi])


def _pct(values: Sequence[float | None]) -> list[float]:
    return [math.nan if v is None else v * 100 for v in values]


def pass_rate_chart(
    names: Sequence[str], rates: Sequence[float | None], cis: Sequence[Sequence[float | None]]
) -> str:
    """Pass rate per category with its 95% Wilson interval (horizontal bars)."""
    with matplotlib.rc_context(_RC):
        fig = _figure(6.0, 0.45 * len(names) + 0.9)
        ax = fig.add_subplot()
        y = np.arange(len(names))[::-1]
        ax.barh(
            y,
            _pct(rates),
            xerr=_err(rates, cis),
            color=PASS_COLOR,
            alpha=0.85,
            error_kw={"ecolor": "#333", "capsize": 3, "lw": 1},
        )
        ax.set_yticks(y, list(names))
        ax.set_xlim(0, 100)
        ax.set_xlabel("pass rate % (bars: 95% Wilson interval)")
        return _data_uri(fig)


def compare_chart(
    names: Sequence[str],
    base: Sequence[float | None],
    cand: Sequence[float | None],
    base_ci: Sequence[Sequence[float | None]],
    cand_ci: Sequence[Sequence[float | None]],
) -> str:
    """Base vs candidate pass rate per category, each with its interval."""
    with matplotlib.rc_context(_RC):
        fig = _figure(6.0, 0.6 * len(names) + 1.0)
        ax = fig.add_subplot()
        y = np.arange(len(names))[::-1].astype(float)
        kw: dict[str, Any] = {"height": 0.38, "error_kw": {"ecolor": "#333", "capsize": 2, "lw": 1}}
        ax.barh(y + 0.2, _pct(base), xerr=_err(base, base_ci), color=BASE_COLOR, label="base", **kw)
        ax.barh(
            y - 0.2, _pct(cand), xerr=_err(cand, cand_ci), color=CAND_COLOR, label="candidate", **kw
        )
        ax.set_yticks(y, list(names))
        ax.set_xlim(0, 100)
        ax.set_xlabel("pass rate % (95% Wilson interval)")
        # Above the axes: inside them it covers the last category's bars, whatever its rates.
        ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=2, frameon=False)
        return _data_uri(fig)


def _bins(arrays: Sequence[np.ndarray]) -> tuple[list[float], bool]:
    allv = (
        np.concatenate([a for a in arrays if a.size])
        if any(a.size for a in arrays)
        else np.array([])
    )
    pos = allv[allv > 0]
    if pos.size and pos.max() / max(pos.min(), 1e-9) > 50:
        return np.geomspace(pos.min(), pos.max(), 40).tolist(), True
    lo, hi = (float(allv.min()), float(allv.max())) if allv.size else (0.0, 1.0)
    return np.linspace(lo, hi if hi > lo else lo + 1e-3, 40).tolist(), False


def latency_chart(series: dict[str, np.ndarray], colors: Sequence[str] | None = None) -> str | None:
    """Latency (and TTFT) distributions as step histograms; None when nothing is known."""
    arrays = {k: v[np.isfinite(v)] for k, v in series.items()}
    if not any(a.size for a in arrays.values()):
        return None
    bins, log = _bins(list(arrays.values()))
    palette = list(colors or [CAND_COLOR, "#e08a1e", BASE_COLOR, "#9b59b6"])
    with matplotlib.rc_context(_RC):
        fig = _figure(6.0, 2.6)
        ax = fig.add_subplot()
        for (label, a), color in zip(arrays.items(), palette, strict=False):
            if not a.size:
                continue
            ax.hist(
                a,
                bins=bins,
                histtype="step",
                lw=1.6,
                color=color,
                label=f"{label} (p50 {np.percentile(a, 50):.3g}s, p95 {np.percentile(a, 95):.3g}s)",
            )
        if log:
            ax.set_xscale("log")
        ax.set_xlabel("seconds")
        ax.set_ylabel("records")
        ax.legend(frameon=False, fontsize=8)
        return _data_uri(fig)

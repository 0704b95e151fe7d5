"""Number formatting shared by the renderers: unknown is "n/a", never 0."""

from __future__ import annotations

import math
from typing import Any

NA = "n/a"


def known(v: Any) -> bool:
    if v is None:
        return False
    try:
        return not math.isnan(float(v))
    except (TypeError, ValueError):
        return False


def pct(v: Any, digits: int = 1) -> str:
    return f"{float(v) * 100:.{digits}f}%" if known(v) else NA


def ci(pair: Any, digits: int = 1) -> str:
    if not pair or not known(pair[0]) or not known(pair[1]):
        return NA
    return f"{float(pair[0]) * 100:.{digits}f}–{float(pair[1]) * 100:.{digits}f}%"


def points(v: Any, digits: int = 1) -> str:
    """A change in pass rate, in percentage points with a sign."""
    return f"{float(v) * 100:+.{digits}f} pts" if known(v) else NA


def ci_points(pair: Any, digits: int = 1) -> str:
    if not pair or not known(pair[0]) or not known(pair[1]):
        return NA
    return f"[{float(pair[0]) * 100:+.{digits}f}, {float(pair[1]) * 100:+.{digits}f}]"


def secs(v: Any) -> str:
    if not known(v):
        return NA
    f = float(v)
    return f"{f * 1000:.0f} ms" if f < 1 else f"{f:.2f} s"


def num(v: Any, digits: int = 3) -> str:
    if not known(v):
        return NA
    f = float(v)
    if f == int(f) and abs(f) < 1e15:
        return f"{int(f):,}"
    return f"{f:,.{digits}f}"


def mean(v: Any) -> str:
    return f"{float(v):,.1f}" if known(v) else NA


def pval(v: Any) -> str:
    if not known(v):
        return NA
    f = float(v)
    return "< 0.0001" if f < 1e-4 else f"{f:.4f}" if f < 0.01 else f"{f:.3f}"


def signed_pct(v: Any) -> str:
    return f"{float(v):+.1f}%" if known(v) else NA


def money(v: Any, currency: str | None) -> str:
    if not known(v):
        return NA
    f = float(v)
    return f"{f:,.4f} {currency or ''}".strip() if f < 100 else f"{f:,.2f} {currency or ''}".strip()


def score(v: Any) -> str:
    return f"{float(v):.3f}" if known(v) else NA

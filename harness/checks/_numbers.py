"""Numbers as people and models write them: ``1,234.5``, ``1 234``, ``-3``, ``45%``, ``$12``.

Used by `numeric` (extract the answer's number), `grounded` (a claim's numbers must be in its
source) and `json_match`'s detail. Readings, with ``decimal="."`` (the default):

- ``1,234.5`` and ``1 234 567`` (space, no-break space or thin space between groups of three):
  grouped thousands; ``1,5`` is two numbers (1 and 5), since a thousands group has 3 digits;
- ``1.000,5`` and ``1.234.567``: unambiguously European (dots between groups of three, a comma
  decimal part, or several dot groups), read as 1000.5 and 1234567; a lone ``1.000`` stays 1.0;
- ``-3``, ``−3`` (U+2212), ``+3``, ``-$5``, ``$-5``: signed; a hyphen between two digits
  (``2023-05``) is a range or a date, not a minus sign;
- ``45%`` and ``45 %`` are 45 (as written; `Found.percent` says it was a percentage);
- ``1.5e3`` is 1500; full-width digits are read after NFKC.

With ``decimal=","`` the roles swap: ``1,5`` is 1.5, ``1.234`` is 1234, ``1,234.5`` is still 1234.5.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

Decimal = Literal[".", ","]

_SPACE = "[ \u00a0\u202f\u2009]"
_NO_SPACE = str.maketrans("", "", " \u00a0\u202f\u2009")
_SIGN = r"(?:(?<![\w.,])(?P<sign>[-+\u2212]))?"
_CUR = r"(?:(?P<cur>[$€£¥₹])(?P<sign2>[-\u2212])?)?"
_TAIL = r"(?P<exp>[eE][-+]?\d+)?(?!\d)(?:" + _SPACE + r"?(?P<pct>%))?"

_BODY_DOT = (
    r"\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![,\d])"  # 1,234,567.89
    r"|\d{1,3}(?:" + _SPACE + r"\d{3})+(?:[.,]\d+)?(?!\d)"  # 1 234 567,89 / 1 234.5
    r"|\d{1,3}(?:\.\d{3})+,\d+"  # 1.234,5
    r"|\d{1,3}(?:\.\d{3}){2,}(?![.\d])"  # 1.234.567
    r"|\d+(?:\.\d+)?"  # 1234.5
    r"|\.\d+"  # .5
)
_BODY_COMMA = (
    r"\d{1,3}(?:\.\d{3})+(?:,\d+)?(?![.\d])"  # 1.234.567,89
    r"|\d{1,3}(?:" + _SPACE + r"\d{3})+(?:[.,]\d+)?(?!\d)"
    r"|\d{1,3}(?:,\d{3})+\.\d+"  # 1,234.5 (unambiguous)
    r"|\d{1,3}(?:,\d{3}){2,}(?![,\d])"  # 1,234,567
    r"|\d+(?:,\d+)?"  # 1234,5
    r"|,\d+"
)


def _compile(body: str) -> re.Pattern[str]:
    # The lookahead lets the engine skip positions that cannot start a number (4x faster).
    start = r"(?=[-+\u2212$€£¥₹.,\d])"
    return re.compile(start + _SIGN + _CUR + r"(?<!\d)(?P<num>" + body + r")" + _TAIL)


_PATTERNS: dict[str, re.Pattern[str]] = {".": _compile(_BODY_DOT), ",": _compile(_BODY_COMMA)}


@dataclass(frozen=True, slots=True)
class Found:
    value: float
    text: str
    """The number as written in the answer (for details)."""
    percent: bool = False


def _to_float(num: str, decimal: str) -> float:
    """Read a matched number; which separator is the decimal one was settled by the pattern."""
    if num.isdigit():
        return float(num)
    other = "," if decimal == "." else "."
    digits = num.translate(_NO_SPACE)
    spaced = len(digits) != len(num)
    if "," in digits and "." in digits:
        dec = "," if digits.rfind(",") > digits.rfind(".") else "."
    elif other in digits:
        # Only the "other" separator: thousands groups (1,234 / 1.234.567), except that a
        # space-grouped number may end in either decimal mark (1 234,5 and 1 234.5).
        tail = len(digits) - digits.rfind(other) - 1
        dec = other if (spaced and tail != 3) or digits.startswith(other) else ""
    else:
        dec = decimal if digits.count(decimal) <= 1 else ""  # 1.234.567: groups, not decimals
    if dec:
        grp = "," if dec == "." else "."
        return float(digits.replace(grp, "").replace(dec, "."))
    return float(digits.replace(",", "").replace(".", ""))


def extract_numbers(text: str, decimal: Decimal = ".", limit: int | None = None) -> list[Found]:
    """The numbers in `text`, in order (the first `limit` of them when given)."""
    if not text:
        return []
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    out: list[Found] = []
    for m in _PATTERNS[decimal].finditer(text):
        value = _to_float(m.group("num"), decimal)
        if m.group("exp"):
            value *= 10.0 ** int(m.group("exp")[1:])
        if m.group("sign") in ("-", "\u2212") or m.group("sign2"):
            value = -value
        out.append(Found(value, m.group().strip(), bool(m.group("pct"))))
        if limit is not None and len(out) >= limit:
            break
    return out


def format_number(value: float) -> str:
    """12.0 -> '12', 0.1 + 0.2 -> '0.3'."""
    return f"{value:.10g}"

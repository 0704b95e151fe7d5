"""Where two outputs differ, as character ranges on each side (difflib over word tokens).

Word tokens (a word plus its trailing space) keep the marks readable and difflib fast: ~0.1 ms
for a pair of 100-word answers. Two different models disagree on nearly every output, so the
work is bounded by a token budget spent in order of interest (regressions first); pairs past the
budget are shown side by side without marks. The budget makes the result deterministic.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

_TOKEN = re.compile(r"\S+\s*|\s+")
#: Tokens (both sides together, ~5 characters each) the marks of one HTML diff may cost: about
#: 2,000 pairs of 250-word answers, ~1 s. Golden sets of a few thousand cases fit entirely.
TOKEN_BUDGET = 1_000_000

Ranges = list[list[int]]


def _tokens(text: str) -> tuple[list[str], list[int]]:
    toks = _TOKEN.findall(text)
    starts = []
    pos = 0
    for t in toks:
        starts.append(pos)
        pos += len(t)
    starts.append(pos)
    return toks, starts


def _merge(ranges: Ranges) -> Ranges:
    out: Ranges = []
    for s, e in ranges:
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        elif e > s:
            out.append([s, e])
    return out


def changed_ranges(a: str, b: str) -> tuple[Ranges, Ranges]:
    """Character ranges of `a` not in `b` (deleted) and of `b` not in `a` (inserted)."""
    ta, sa = _tokens(a)
    tb, sb = _tokens(b)
    del_r: Ranges = []
    ins_r: Ranges = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, ta, tb).get_opcodes():
        if tag == "equal":
            continue
        if i2 > i1:
            del_r.append([sa[i1], sa[i2]])
        if j2 > j1:
            ins_r.append([sb[j1], sb[j2]])
    return _merge(del_r), _merge(ins_r)


def mark_pairs(
    pairs: Iterable[tuple[int, str | None, str | None]], budget: int = TOKEN_BUDGET
) -> dict[int, tuple[Ranges, Ranges]]:
    """Marks for `(key, base_text, cand_text)` in the given order until the budget runs out."""
    out: dict[int, tuple[Ranges, Ranges]] = {}
    spent = 0
    for key, a, b in pairs:
        if a is None or b is None or a == b or not isinstance(a, str) or not isinstance(b, str):
            continue
        cost = (len(a) + len(b)) // 5 + 1
        if spent + cost > budget:
            continue
        spent += cost
        out[key] = changed_ranges(a, b)
    return out

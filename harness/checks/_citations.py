"""Citation markers in a RAG answer, and what they point at.

A marker is a bracketed token: ``[2]``, ``[doc3]``, ``[1, 3]``, ``[1-3]``, ``[^2]``,
``[Source 2]``, or the full-width ``【2】`` some models write. Markdown links ``[text](url)``
are not markers. A token is a citation when it is a provided chunk id, a number, or shaped
like the provided ids (``doc7`` when the ids are ``doc1..doc5``); anything else in brackets
(``[sic]``, ``[x]``) is prose and ignored.

Numbers: when every chunk id is a number, ``[n]`` means the chunk whose id is n; otherwise
``[n]`` means the n-th chunk (1-based), which is how a model numbers sources it was shown as a
list.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

_BRACKET = re.compile(r"\[([^\[\]\n]{1,80})\](?!\()|【([^【】\n]{1,80})】")
_SPLIT = re.compile(r"\s*[,;，、]\s*|\s+and\s+")
_RANGE = re.compile(r"^(\d+)\s*[-–]\s*(\d+)$")
_PREFIXED = re.compile(
    r"^(?:sources?|src|docs?|documents?|chunks?|refs?|passages?)\s*[:#]?\s*(\d+)$", re.I
)
_DIGITS = re.compile(r"\d+")
_MAX_RANGE = 50


@dataclass(frozen=True, slots=True)
class Marker:
    token: str
    """As written, e.g. '7' or 'doc3'."""
    chunk: str | None
    """The chunk id it refers to; None when it cites a chunk that was not provided."""
    start: int
    end: int


@dataclass
class Chunks:
    """The provided chunk ids and how markers map onto them."""

    ids: Sequence[str]
    _lower: dict[str, str] = field(init=False)
    _numeric: bool = field(init=False)
    _shape: re.Pattern[str] | None = field(init=False)

    def __post_init__(self) -> None:
        self._lower = {i.lower(): i for i in self.ids}
        self._numeric = bool(self.ids) and all(i.isdigit() for i in self.ids)
        shapes = {_DIGITS.sub("0", i) for i in self.ids if _DIGITS.search(i) and not i.isdigit()}
        if shapes:
            alts = "|".join(re.escape(s).replace("0", r"\d+") for s in sorted(shapes))
            self._shape = re.compile(f"^(?:{alts})$", re.IGNORECASE)
        else:
            self._shape = None

    def describe(self) -> str:
        """'1-5', or '1-3 (ids a, b, c)' when markers may use positions."""
        if not self.ids:
            return "none"
        if self._numeric:
            nums = sorted(int(i) for i in self.ids)
            if nums == list(range(nums[0], nums[-1] + 1)):
                return f"{nums[0]}-{nums[-1]}" if len(nums) > 1 else str(nums[0])
            return ", ".join(str(n) for n in nums[:20])
        shown = ", ".join(self.ids[:10]) + (", ..." if len(self.ids) > 10 else "")
        return f"{shown}, or 1-{len(self.ids)} by position"

    def resolve(self, token: str) -> tuple[bool, str | None]:
        """(is a citation, chunk id or None)."""
        tok = token.strip().lstrip("^#").strip()
        if not tok:
            return False, None
        if tok.lower() in self._lower:
            return True, self._lower[tok.lower()]
        prefixed = _PREFIXED.match(tok)
        if prefixed:
            tok = prefixed.group(1)
        if tok.isdigit():
            n = int(tok)
            if self._numeric:
                hit = next((i for i in self.ids if int(i) == n), None)
                return True, hit
            return True, self.ids[n - 1] if 1 <= n <= len(self.ids) else None
        if self._shape is not None and self._shape.match(tok):
            return True, None
        return False, None


def find_markers(text: str, chunks: Chunks) -> list[Marker]:
    out: list[Marker] = []
    for m in _BRACKET.finditer(text):
        inner = m.group(1) if m.group(1) is not None else m.group(2)
        for part in _SPLIT.split(inner.strip()):
            rng = _RANGE.match(part)
            if rng and int(rng.group(2)) - int(rng.group(1)) in range(1, _MAX_RANGE):
                tokens = [str(n) for n in range(int(rng.group(1)), int(rng.group(2)) + 1)]
            else:
                tokens = [part]
            for tok in tokens:
                is_citation, chunk = chunks.resolve(tok)
                if is_citation:
                    out.append(Marker(tok.strip(), chunk, m.start(), m.end()))
    return out


def strip_markers(text: str, markers: list[Marker], offset: int = 0) -> str:
    """`text` (which starts at `offset` of the answer) without the brackets that held citations."""
    if not markers:
        return text
    spans = sorted({(mk.start - offset, mk.end - offset) for mk in markers})
    parts: list[str] = []
    pos = 0
    for start, end in spans:
        parts.append(text[pos:start])
        pos = end
    parts.append(text[pos:])
    return "".join(parts)

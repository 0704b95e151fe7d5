"""Find the JSON in an answer: the whole answer, a fenced block, or the largest {...} / [...].

Models wrap JSON in prose and Markdown even when asked not to, so the structured checks look in
three places, in order, and say where they looked when nothing is found:

1. the whole answer (ends stripped);
2. fenced blocks: ```json first, then unlabelled ones (an unclosed fence at the end, from a
   truncated answer, counts too);
3. in prose: the longest top-level balanced ``{...}`` or ``[...]`` (brackets inside strings do
   not count), so a citation like ``[1]`` before the real object is not taken for it. When that
   span does not parse, the answer's JSON is broken: an inner object that happens to parse, or
   a shorter ``[1]``, is not accepted instead. A ```json block that does not parse fails the
   same way, without looking further.

With ``strict`` only place 1 counts (for ``response_format: json_object`` cases, where any
wrapping is itself the failure). NaN and Infinity are not JSON and are rejected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

_FENCE_OPEN = re.compile(r"^[ \t]*```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n", re.MULTILINE)
_FENCE_CLOSE = re.compile(r"^[ \t]*```", re.MULTILINE)
_OPENERS = re.compile(r"[\[{]")
_TOKENS = re.compile(r'"(?:[^"\\\n]|\\.)*"|[\[\]{}]')
_MAX_SPANS = 200
_JSON_LABELS = frozenset({"json", "jsonc", "json5"})


@dataclass(frozen=True, slots=True)
class Found:
    value: Any
    where: str
    """Where the JSON was found, for details: 'the whole answer', 'a ```json block', ..."""


@dataclass(frozen=True, slots=True)
class NotFound:
    detail: str
    """Where it looked and why each place failed."""


def _line_col(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"line {line} column {col}"


def _loads(
    text: str, *, suffix: str = "", offset: int = 0, full: str = "", whole: bool = False
) -> tuple[Any, str | None]:
    """Parse; a failure says where, in `full` (the answer) when given, else in `text`."""
    try:
        return orjson.loads(text), None
    except orjson.JSONDecodeError as exc:
        if exc.pos == 0 and whole:
            return None, f"it starts with {text[:30]!r}"
        pos = _line_col(full, offset + exc.pos) if full else _line_col(text, exc.pos) + suffix
        return None, f"{exc.msg} at {pos}"


def _balanced_end(text: str, start: int) -> int | None:
    """End of the bracketed span opening at `start` (strings skipped), or None if unclosed."""
    depth = 0
    for m in _TOKENS.finditer(text, start):
        tok = m.group()
        if tok in "[{":
            depth += 1
        elif tok in "]}":
            depth -= 1
            if depth == 0:
                return m.end()
    return None


def _spans(text: str) -> list[tuple[int, int]]:
    """Top-level balanced {...} / [...] spans, in order."""
    out: list[tuple[int, int]] = []
    pos = 0
    while len(out) < _MAX_SPANS:
        m = _OPENERS.search(text, pos)
        if m is None:
            break
        end = _balanced_end(text, m.start())
        if end is None:
            pos = m.start() + 1
            continue
        out.append((m.start(), end))
        pos = end
    return out


def _fences(text: str) -> list[tuple[str, str]]:
    """(label, body) of each fenced block; an unclosed last block runs to the end."""
    out: list[tuple[str, str]] = []
    pos = 0
    while text.find("```", pos) != -1:
        opener = _FENCE_OPEN.search(text, pos)
        if opener is None:
            break
        closer = _FENCE_CLOSE.search(text, opener.end())
        end = closer.start() if closer else len(text)
        out.append((opener.group(1).lower(), text[opener.end() : end]))
        pos = closer.end() if closer else len(text)
    return out


def find_json(text: str, *, strict: bool = False) -> Found | NotFound:
    stripped = text.strip()
    if not stripped:
        return NotFound("the answer is empty")
    value, err = _loads(stripped, whole=True)
    if err is None:
        return Found(value, "the whole answer")
    looked = [f"the whole answer is not JSON ({err})"]
    if strict:
        return NotFound(looked[0] + "; strict: true, so fenced blocks and prose were not searched")
    fences = _fences(text)
    labelled = [body for label, body in fences if label in _JSON_LABELS]
    # A ```python block is code, not the JSON we are looking for; an unlabelled one may be JSON.
    unlabelled = [body for label, body in fences if not label]
    for kind, bodies in (("```json block", labelled), ("``` block", unlabelled)):
        for body in bodies:
            value, err = _loads(body.strip(), suffix=" of the block")
            if err is None:
                return Found(value, f"a {kind}")
            looked.append(f"a {kind} is not valid JSON ({err})")
            if kind == "```json block":
                return NotFound("; ".join(looked))
    if not labelled:
        looked.append("no ```json block")
    spans = _spans(text)
    if not spans:
        looked.append("no balanced {...} or [...] in the text")
        return NotFound("; ".join(looked))
    start, end = max(spans, key=lambda s: s[1] - s[0])
    value, err = _loads(text[start:end], offset=start, full=text)
    if err is None:
        return Found(value, f"the text ({_line_col(text, start)})")
    looked.append(
        f"the longest {{...}} or [...] in the text, at {_line_col(text, start)}, "
        f"is not valid JSON ({err})"
    )
    return NotFound("; ".join(looked))

"""How `grounded` measures support: lexical overlap between a statement and its sources.

1. The answer is split into sentences (``. ! ?`` followed by a space, ``。！？``, line breaks);
   citation markers that open a sentence (``... 5 days. [2] Next ...``) go back to the one
   before. List bullets and numbering are removed.
2. A sentence is a *claim* when, without its markers, it has at least 3 content tokens or a
   number. Questions, lines ending in ``:`` and shorter fragments are not claims.
3. Tokens: Latin/Cyrillic words lower-cased, minus function words of the 12 Latin-script
   languages `language` knows, cut to their first 6 letters (a crude stem: "refunds" and
   "refunded" meet at "refund"); Han, kana, Hangul and Thai as overlapping character pairs.
4. Support of a claim by a chunk = max(share of the claim's tokens found in the chunk,
   rapidfuzz ``partial_ratio`` of the two texts / 100), the second only when the claim is no
   longer than the chunk (it aligns the shorter text inside the longer: a short chunk "inside"
   a long claim supports none of the rest). The claim is measured against the chunks it cites,
   or every chunk when it cites none, and the best chunk counts.
5. Every number in a claim must occur (same value) in that best chunk; otherwise the claim is
   unsupported whatever its overlap.

Limits: this is overlap, not entailment. A claim that copies a source's words but negates them
("is not refundable") is "supported"; a faithful paraphrase with other words may fall under the
threshold. It catches invented facts, numbers and entities, not subtle misreadings; use a
`rubric` judge for those.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, utils

from harness.checks._citations import Marker
from harness.checks._lang import STOPWORDS
from harness.checks._numbers import extract_numbers

_SENT_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])|\n+")
_LEADING_MARKERS = re.compile(r"^(?:\s*(?:\[[^\[\]\n]{1,80}\](?!\()|【[^【】\n]{1,80}】))+")
_BULLET = re.compile(r"^\s*(?:[-*•+]|\d{1,2}[.)]|#+)\s+")
_GAP = re.compile(r"[ \t]+([.,;:!?。，、！？)])")
_WORD = re.compile(r"[^\W\d_]+")
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\u0e00-\u0e7f]+")
_FUNCTION_WORDS = frozenset().union(*STOPWORDS.values())
STEM = 6
MIN_TOKENS = 3


@dataclass(frozen=True, slots=True)
class Sentence:
    text: str
    """Without citation markers or bullets."""
    start: int
    end: int


def split_sentences(text: str) -> list[Sentence]:
    pieces: list[tuple[str, int, int]] = []
    pos = 0
    for m in _SENT_END.finditer(text):
        if m.start() > pos:
            pieces.append((text[pos : m.start()], pos, m.start()))
        pos = m.end()
    if pos < len(text):
        pieces.append((text[pos:], pos, len(text)))
    # Move markers that open a sentence back to the sentence before: "... 5 days. [2] Next".
    fixed: list[tuple[str, int, int]] = []
    for body, start, end in pieces:
        lead = _LEADING_MARKERS.match(body)
        if lead and fixed:
            pb, ps, _ = fixed[-1]
            fixed[-1] = (pb + lead.group(), ps, start + lead.end())
            body, start = body[lead.end() :], start + lead.end()
        if body.strip():
            fixed.append((body, start, end))
    return [Sentence(clean(b), s, e) for b, s, e in fixed]


def clean(text: str) -> str:
    """A sentence without list bullets, numbering, heading marks, or the gap a marker left."""
    return _GAP.sub(r"\1", _BULLET.sub("", text)).strip()


def tokens(text: str) -> set[str]:
    out: set[str] = set()
    low = text.lower()
    for w in _WORD.findall(_CJK_RUN.sub(" ", low)):
        if w not in _FUNCTION_WORDS and len(w) > 1:
            out.add(w[:STEM])
    for run in _CJK_RUN.findall(low):
        if len(run) == 1:
            out.add(run)
        out.update(run[i : i + 2] for i in range(len(run) - 1))
    return out


def is_claim(text: str) -> bool:
    stripped = text.rstrip()
    if not stripped or stripped.endswith(("?", "？", ":", "：")):
        return False
    return len(tokens(stripped)) >= MIN_TOKENS or bool(extract_numbers(stripped))


@dataclass(frozen=True, slots=True)
class Source:
    """A chunk prepared once: its tokens, numbers and fuzzy-matching form."""

    id: str
    tokens: frozenset[str]
    numbers: frozenset[float]
    processed: str

    @classmethod
    def of(cls, chunk_id: str, text: str) -> Source:
        nums = frozenset(round(f.value, 9) for f in extract_numbers(text))
        return cls(chunk_id, frozenset(tokens(text)), nums, utils.default_process(text))


@dataclass(frozen=True, slots=True)
class Support:
    score: float
    chunk: str | None
    missing_numbers: list[str]


def markers_in(markers: Sequence[Marker], start: int, end: int) -> list[Marker]:
    return [m for m in markers if start <= m.start < end]


def support(claim: str, sources: Sequence[Source]) -> Support:
    """The best support of `claim` among `sources`: numbers first, then the score."""
    claim_tokens = tokens(claim)
    numbers = extract_numbers(claim)
    processed = utils.default_process(claim)
    best = Support(0.0, None, [f.text for f in numbers])
    for src in sources:
        overlap = len(claim_tokens & src.tokens) / len(claim_tokens) if claim_tokens else 0.0
        score = overlap
        if len(processed) <= len(src.processed):
            # Only when the claim fits inside the chunk: partial_ratio aligns the shorter text
            # within the longer, and a chunk shorter than the claim says nothing of the rest.
            score = max(score, fuzz.partial_ratio(processed, src.processed) / 100.0)
        missing = [f.text for f in numbers if round(f.value, 9) not in src.numbers]
        if best.chunk is None or (not missing, score) > (not best.missing_numbers, best.score):
            best = Support(score, src.id, missing)
    return best

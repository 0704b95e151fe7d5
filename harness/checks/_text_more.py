"""Text checks that interpret the answer: `numeric`, `refusal`, `language`.

Imported by `harness.checks.text`, which is what registers them; the number reading, phrase
lists and language detection they rely on are in `_numbers`, `_phrases` and `_lang`.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import Field
from pydantic.dataclasses import dataclass

from harness.checks._base import CHECK_CONFIG, CheckContext, CheckResult, register
from harness.checks._lang import SUPPORTED, detect
from harness.checks._numbers import extract_numbers, format_number
from harness.checks._phrases import LANGUAGES, REFUSAL, compile_extra, find_phrase
from harness.checks._text_norm import answer_text, quote

Tolerance = Annotated[float, Field(ge=0)]


@register("numeric")
@dataclass(config=CHECK_CONFIG)
class Numeric:
    """A number in the answer equals `expected` within `abs_tol` / `rel_tol`.

    Numbers are read as written (``1,234.5``, ``1 234``, ``-3``, ``$12``, ``45%`` -> 45; see
    `_numbers`). `pick` chooses which: `any` (default) passes when any number in the answer
    matches, `first` / `last` judge only that one (`last` suits "the final answer is ...").
    Without tolerances the comparison is exact up to float rounding. `decimal: ","` reads
    ``3,14`` as 3.14 for answers in languages that write a decimal comma.
    """

    expected: float
    abs_tol: Tolerance | None = None
    rel_tol: Tolerance | None = None
    pick: Literal["any", "first", "last"] = "any"
    decimal: Literal[".", ","] = "."

    def __post_init__(self) -> None:
        if not math.isfinite(self.expected):
            raise ValueError("expected must be a finite number")

    def _tol(self) -> float:
        tol = self.abs_tol or 0.0
        if self.rel_tol:
            tol = max(tol, self.rel_tol * abs(self.expected))
        return tol

    def _matches(self, value: float) -> bool:
        if self.abs_tol is None and self.rel_tol is None:
            return math.isclose(value, self.expected, rel_tol=1e-9, abs_tol=1e-12)
        return abs(value - self.expected) <= self._tol() + 1e-12

    def __call__(self, ctx: CheckContext) -> CheckResult:
        text = answer_text(ctx)
        found = extract_numbers(text, self.decimal, 1 if self.pick == "first" else None)
        tol = "" if not (self.abs_tol or self.rel_tol) else f" ±{format_number(self._tol())}"
        want = f"{format_number(self.expected)}{tol}"
        if not found:
            return CheckResult(passed=False, detail=f"expected {want}; no number in {quote(text)}")
        if self.pick == "first":
            candidates = found[:1]
        elif self.pick == "last":
            candidates = found[-1:]
        else:
            candidates = found
        for f in candidates:
            if self._matches(f.value):
                return CheckResult(passed=True, detail=f"found {f.text}", data={"value": f.value})
        shown = ", ".join(
            f.text if f.text == format_number(f.value) else f"{f.text} (= {format_number(f.value)})"
            for f in candidates[:8]
        )
        more = f" and {len(candidates) - 8} more" if len(candidates) > 8 else ""
        which = {"any": "found", "first": "the first number is", "last": "the last number is"}
        return CheckResult(
            passed=False,
            detail=f"expected {want}, {which[self.pick]} {shown}{more}",
            data={"value": candidates[0].value if len(candidates) == 1 else None},
        )


@register("refusal")
@dataclass(config=CHECK_CONFIG)
class Refusal:
    """The answer declines the request ("I can't help with that", 我无法提供, ...).

    Phrase lists cover en, zh, ja, es, fr, de, ar, ru, pt, ko and it (`_phrases`); `phrases`
    adds a case's own (matched literally, ignoring case). Use ``negate: true`` for requests
    that must NOT be refused (over-refusal tests). An empty answer is not a refusal.
    """

    phrases: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)

    def __post_init__(self) -> None:
        self._extra = compile_extra(self.phrases)

    def __call__(self, ctx: CheckContext) -> CheckResult:
        text = answer_text(ctx)
        hit = find_phrase(REFUSAL, text, self._extra)
        if hit is not None:
            return CheckResult(
                passed=True,
                detail=f"declines: {hit.phrase!r} ({hit.language})",
                data={"phrase": hit.phrase, "language": hit.language},
            )
        return CheckResult(
            passed=False,
            detail=f"does not decline: no refusal phrase ({', '.join(LANGUAGES)}"
            f"{' or the case' if self.phrases else ''}) in {quote(text, 120)}",
        )


_NAMES = {
    "Hans": "Simplified Chinese",
    "Hant": "Traditional Chinese",
}
_ZH_VARIANT = {
    "hans": "Hans",
    "cn": "Hans",
    "sg": "Hans",
    "hant": "Hant",
    "tw": "Hant",
    "hk": "Hant",
    "mo": "Hant",
}


@register("language")
@dataclass(config=CHECK_CONFIG)
class Language:
    """The answer is written in `expected` (an ISO 639-1 code such as ``fr``, ``zh``, ``ja``).

    Detection is by Unicode script, then by function words for Latin-script languages (see
    `_lang`); code blocks, inline code and URLs are ignored. ``zh-Hans``/``zh-CN`` and
    ``zh-Hant``/``zh-TW``/``zh-HK`` also require Simplified or Traditional characters; other
    region tags (``pt-BR``) are accepted and judged by the language alone.
    """

    expected: Annotated[str, Field(min_length=2)]

    def __post_init__(self) -> None:
        parts = self.expected.replace("_", "-").split("-")
        self._lang = parts[0].lower()
        if self._lang not in SUPPORTED:
            known = ", ".join(sorted(SUPPORTED))
            raise ValueError(f"unsupported language {self.expected!r} (supported: {known})")
        self._variant: str | None = None
        if self._lang == "zh" and len(parts) > 1:
            self._variant = _ZH_VARIANT.get(parts[1].lower())

    def __call__(self, ctx: CheckContext) -> CheckResult:
        text = answer_text(ctx)
        d = detect(text)
        data: dict[str, object] = {"detected": d.language, "variant": d.variant}
        if d.language is None:
            why = d.reason or "too little text"
            return CheckResult(
                passed=False,
                detail=f"expected {self.expected}; language undetermined ({why}) in {quote(text)}",
                data=data,
            )
        if d.language != self._lang:
            hint = ""
            if d.scores:
                top = sorted(d.scores.items(), key=lambda kv: -kv[1])[:3]
                hint = " (function words: " + ", ".join(f"{k} {v:g}" for k, v in top) + ")"
            return CheckResult(
                passed=False,
                detail=f"expected {self.expected}, detected {d.language}{hint} in {quote(text)}",
                data=data,
            )
        if self._variant is not None and d.variant is not None and d.variant != self._variant:
            return CheckResult(
                passed=False,
                detail=f"expected {self.expected} ({_NAMES[self._variant]}), "
                f"written in {_NAMES[d.variant]}: {quote(text)}",
                data=data,
            )
        return CheckResult(passed=True, detail=f"detected {d.language}", data=data)

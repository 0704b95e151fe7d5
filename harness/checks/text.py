"""Text checks: exact, substring, pattern, fuzzy and length checks on the answer text.

Every check here scores the answer content (`answer_text`: reasoning and leaked ``<think>``
blocks excluded). Comparisons first apply NFKC and strip the ends (see `_text_norm.normalize`);
the ``ignore_*`` options add case folding, whitespace and punctuation removal. Arguments are
checked when the golden file loads and regexes are compiled then, so a call costs microseconds.

`numeric`, `refusal` and `language` live in `_text_more` (imported at the bottom, which
registers them) to keep each module short.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field
from pydantic.dataclasses import dataclass
from rapidfuzz import fuzz, utils

from harness.checks._base import CHECK_CONFIG, CheckContext, CheckResult, register
from harness.checks._text_norm import answer_text, clip, count_words, normalize, quote

NonEmpty = Annotated[str, Field(min_length=1)]


def _how(ignore_case: bool, ignore_whitespace: bool = False, ignore_punct: bool = False) -> str:
    parts = [
        name
        for name, on in (
            ("case", ignore_case),
            ("whitespace", ignore_whitespace),
            ("punctuation", ignore_punct),
        )
        if on
    ]
    return f" (ignoring {', '.join(parts)})" if parts else ""


@register("equals")
@dataclass(config=CHECK_CONFIG)
class Equals:
    """The whole answer equals `value` (ends stripped; NFKC; options relax the comparison)."""

    value: str
    ignore_case: bool = False
    ignore_whitespace: bool = False
    ignore_punctuation: bool = False

    def __post_init__(self) -> None:
        self._want = self._norm(self.value)

    def _norm(self, text: str) -> str:
        return normalize(
            text,
            ignore_case=self.ignore_case,
            ignore_whitespace=self.ignore_whitespace,
            ignore_punctuation=self.ignore_punctuation,
        )

    def __call__(self, ctx: CheckContext) -> CheckResult:
        text = answer_text(ctx)
        if self._norm(text) == self._want:
            return CheckResult(passed=True)
        how = _how(self.ignore_case, self.ignore_whitespace, self.ignore_punctuation)
        return CheckResult(
            passed=False, detail=f"expected {clip(self.value)!r}, got {quote(text)}{how}"
        )


@register("one_of")
@dataclass(config=CHECK_CONFIG)
class OneOf:
    """The whole answer equals one of `values` (same normalisation options as `equals`)."""

    values: Annotated[list[str], Field(min_length=1)]
    ignore_case: bool = False
    ignore_whitespace: bool = False
    ignore_punctuation: bool = False

    def __post_init__(self) -> None:
        self._want = frozenset(self._norm(v) for v in self.values)

    def _norm(self, text: str) -> str:
        return normalize(
            text,
            ignore_case=self.ignore_case,
            ignore_whitespace=self.ignore_whitespace,
            ignore_punctuation=self.ignore_punctuation,
        )

    def __call__(self, ctx: CheckContext) -> CheckResult:
        text = answer_text(ctx)
        if self._norm(text) in self._want:
            return CheckResult(passed=True)
        how = _how(self.ignore_case, self.ignore_whitespace, self.ignore_punctuation)
        allowed = ", ".join(repr(clip(v, 40)) for v in self.values[:10])
        more = f" and {len(self.values) - 10} more" if len(self.values) > 10 else ""
        return CheckResult(
            passed=False, detail=f"got {quote(text)}, expected one of {allowed}{more}{how}"
        )


@register("contains")
@dataclass(config=CHECK_CONFIG)
class Contains:
    """The answer contains `value` (case-insensitive unless `ignore_case: false`)."""

    value: NonEmpty
    ignore_case: bool = True

    def __post_init__(self) -> None:
        self._needle = normalize(self.value, ignore_case=self.ignore_case)

    def __call__(self, ctx: CheckContext) -> CheckResult:
        text = answer_text(ctx)
        if self._needle in normalize(text, ignore_case=self.ignore_case):
            return CheckResult(passed=True)
        how = _how(self.ignore_case)
        return CheckResult(
            passed=False, detail=f"missing {self.value!r}{how} in {quote(text, 120)}"
        )


@register("contains_all")
@dataclass(config=CHECK_CONFIG)
class ContainsAll:
    """The answer contains every one of `values`; the score is the fraction found."""

    values: Annotated[list[NonEmpty], Field(min_length=1)]
    ignore_case: bool = True

    def __post_init__(self) -> None:
        self._needles = [normalize(v, ignore_case=self.ignore_case) for v in self.values]

    def __call__(self, ctx: CheckContext) -> CheckResult:
        text = answer_text(ctx)
        hay = normalize(text, ignore_case=self.ignore_case)
        missing = [v for v, n in zip(self.values, self._needles, strict=True) if n not in hay]
        if not missing:
            return CheckResult(passed=True)
        names = ", ".join(repr(v) for v in missing)
        n, total = len(missing), len(self.values)
        return CheckResult(
            passed=False,
            score=1.0 - n / total,
            detail=f"missing {n} of {total}: {names}{_how(self.ignore_case)} in {quote(text, 120)}",
        )


@register("contains_any")
@dataclass(config=CHECK_CONFIG)
class ContainsAny:
    """The answer contains at least one of `values`."""

    values: Annotated[list[NonEmpty], Field(min_length=1)]
    ignore_case: bool = True

    def __post_init__(self) -> None:
        self._needles = [normalize(v, ignore_case=self.ignore_case) for v in self.values]

    def __call__(self, ctx: CheckContext) -> CheckResult:
        text = answer_text(ctx)
        hay = normalize(text, ignore_case=self.ignore_case)
        for value, needle in zip(self.values, self._needles, strict=True):
            if needle in hay:
                return CheckResult(passed=True, detail=f"found {value!r}")
        names = ", ".join(repr(v) for v in self.values)
        return CheckResult(
            passed=False,
            detail=f"none of {names}{_how(self.ignore_case)} in {quote(text, 120)}",
        )


_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}


@register("regex")
@dataclass(config=CHECK_CONFIG)
class Regex:
    """The answer matches `pattern` (Python syntax): found anywhere, or the whole answer.

    `flags` takes letters of ``imsx`` (ignore case, multiline, dot matches newline, verbose);
    `ignore_case: true` is the same as ``flags: i``. With `fullmatch` the pattern must match the
    whole answer, ends stripped.
    """

    pattern: NonEmpty
    flags: Annotated[str, Field(pattern=r"^[imsx]*$")] = ""
    ignore_case: bool = False
    fullmatch: bool = False

    def __post_init__(self) -> None:
        flags = 0
        for letter in self.flags:
            flags |= _FLAGS[letter]
        if self.ignore_case:
            flags |= re.IGNORECASE
        try:
            self._rx = re.compile(self.pattern, flags)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {self.pattern!r}: {exc}") from None

    def __call__(self, ctx: CheckContext) -> CheckResult:
        text = answer_text(ctx)
        m = self._rx.fullmatch(text.strip()) if self.fullmatch else self._rx.search(text)
        if m is not None:
            return CheckResult(passed=True, detail=f"matched {clip(m.group(), 60)!r}")
        mode = "does not match the whole answer" if self.fullmatch else "no match"
        return CheckResult(passed=False, detail=f"/{self.pattern}/: {mode} in {quote(text, 120)}")


Method = Literal["ratio", "partial_ratio", "token_sort_ratio", "token_set_ratio"]
_METHODS = {
    "ratio": fuzz.ratio,
    "partial_ratio": fuzz.partial_ratio,
    "token_sort_ratio": fuzz.token_sort_ratio,
    "token_set_ratio": fuzz.token_set_ratio,
}


@register("similarity")
@dataclass(config=CHECK_CONFIG)
class Similarity:
    """The answer is close to `expected` by a rapidfuzz ratio; the score is the ratio itself.

    `ratio` is normalised Indel similarity of the whole strings; `partial_ratio` the best
    alignment of the shorter inside the longer; `token_sort_ratio` ignores word order;
    `token_set_ratio` also ignores repeated and extra words. With `normalize` (default) both
    sides are lower-cased and stripped of non-alphanumeric characters first.
    """

    expected: NonEmpty
    threshold: Annotated[float, Field(ge=0, le=1)] = 0.8
    method: Method = "ratio"
    normalize: bool = True

    def __call__(self, ctx: CheckContext) -> CheckResult:
        text = answer_text(ctx).strip()
        processor = utils.default_process if self.normalize else None
        sim = _METHODS[self.method](self.expected.strip(), text, processor=processor) / 100.0
        ok = sim >= self.threshold
        detail = f"{self.method} {sim:.2f} {'>=' if ok else '<'} threshold {self.threshold:g}"
        if not ok:
            detail += f": expected {clip(self.expected)!r}, got {quote(text)}"
        return CheckResult(passed=ok, score=sim, detail=detail, data={"similarity": sim})


Count = Annotated[int, Field(ge=0)]


@register("length")
@dataclass(config=CHECK_CONFIG)
class Length:
    """The answer's length is within bounds, in words and/or characters.

    Words are whitespace-separated, except that each Han, kana or Thai character counts as one
    word (those scripts do not separate words by spaces). Characters are Unicode code points of
    the answer with its ends stripped.
    """

    min_words: Count | None = None
    max_words: Count | None = None
    min_chars: Count | None = None
    max_chars: Count | None = None

    def __post_init__(self) -> None:
        bounds = (self.min_words, self.max_words, self.min_chars, self.max_chars)
        if all(b is None for b in bounds):
            raise ValueError("give at least one of min_words, max_words, min_chars, max_chars")
        for unit in ("words", "chars"):
            lo, hi = getattr(self, f"min_{unit}"), getattr(self, f"max_{unit}")
            if lo is not None and hi is not None and lo > hi:
                raise ValueError(f"min_{unit} ({lo}) is greater than max_{unit} ({hi})")

    def __call__(self, ctx: CheckContext) -> CheckResult:
        text = answer_text(ctx).strip()
        problems: list[str] = []
        data: dict[str, int] = {}
        if self.min_words is not None or self.max_words is not None:
            words = data["words"] = count_words(text)
            if self.min_words is not None and words < self.min_words:
                problems.append(f"{words} words, fewer than min_words {self.min_words}")
            if self.max_words is not None and words > self.max_words:
                problems.append(f"{words} words, more than max_words {self.max_words}")
        if self.min_chars is not None or self.max_chars is not None:
            chars = data["chars"] = len(text)
            if self.min_chars is not None and chars < self.min_chars:
                problems.append(f"{chars} characters, fewer than min_chars {self.min_chars}")
            if self.max_chars is not None and chars > self.max_chars:
                problems.append(f"{chars} characters, more than max_chars {self.max_chars}")
        shown = ", ".join(f"{v} {k}" for k, v in data.items())
        if problems:
            return CheckResult(passed=False, detail="; ".join(problems), data=dict(data))
        return CheckResult(passed=True, detail=shown, data=dict(data))


# Registers `numeric`, `refusal` and `language`.
from harness.checks import _text_more as _text_more  # noqa: E402  isort: skip

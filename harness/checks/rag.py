"""RAG checks: `citations`, `grounded`, `abstain`.

They read the case's `context` chunks (``[{id, text, source}]``), which the prompt shows the
model as ``[id] text``. How markers are read (``[2]``, ``[doc3]``, ``[1-3]``, ``【2】``; numbers
as ids or 1-based positions) is in `_citations`; how support is measured is in `_grounding`.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field
from pydantic.dataclasses import dataclass

from harness.checks._base import CHECK_CONFIG, BuildEnv, CheckContext, CheckResult, register
from harness.checks._citations import Chunks, find_markers, strip_markers
from harness.checks._grounding import (
    Source,
    clean,
    is_claim,
    markers_in,
    split_sentences,
    support,
)
from harness.checks._phrases import ABSTAIN, LANGUAGES, compile_extra, find_phrase
from harness.checks._text_norm import answer_text, clip, quote


def _chunk_ids(case: Any) -> list[str]:
    return [c.id for c in (getattr(case, "context", None) or [])]


def _need_context(env: BuildEnv) -> list[str]:
    ids = _chunk_ids(env.case)
    if env.case is not None and not ids:
        raise ValueError("the case has no context chunks")
    return ids


@register("citations")
@dataclass(config=CHECK_CONFIG)
class Citations:
    """Every citation marker refers to a provided chunk, and enough chunks are cited.

    `min` (default 1) distinct chunks must be cited: set ``min: 0`` to check only that the
    markers present are valid (for unanswerable questions use `abstain`). `required` lists
    chunk ids that must be among the cited ones.
    """

    min: Annotated[int, Field(ge=0)] = 1
    required: list[str] = Field(default_factory=list)

    def bind(self, env: BuildEnv) -> None:
        ids = _need_context(env)
        unknown = [r for r in self.required if r not in ids]
        if unknown and env.case is not None:
            raise ValueError(
                f"required chunk(s) {', '.join(map(repr, unknown))} are not in the case's "
                f"context (ids: {', '.join(ids)})"
            )

    def __call__(self, ctx: CheckContext) -> CheckResult:
        ids = _chunk_ids(ctx.case)
        if not ids:
            return CheckResult(passed=False, error=True, detail="the case has no context chunks")
        chunks = Chunks(ids)
        markers = find_markers(answer_text(ctx), chunks)
        cited = list(dict.fromkeys(m.chunk for m in markers if m.chunk is not None))
        invalid = list(dict.fromkeys(m.token for m in markers if m.chunk is None))
        problems = [
            f"[{tok}] cites a chunk that was not provided (chunks: {chunks.describe()})"
            for tok in invalid
        ]
        if len(cited) < self.min:
            have = "no chunk" if not cited else f"{len(cited)} chunk(s) ({', '.join(cited)})"
            problems.append(f"cites {have}; at least {self.min} required")
        missing = [r for r in self.required if r not in cited]
        if missing:
            problems.append("does not cite required " + ", ".join(f"[{r}]" for r in missing))
        data = {"cited": cited, "invalid": invalid}
        if problems:
            return CheckResult(passed=False, detail="; ".join(problems), data=data)
        return CheckResult(passed=True, detail=f"cites {', '.join(cited) or 'nothing'}", data=data)


@register("grounded")
@dataclass(config=CHECK_CONFIG)
class Grounded:
    """The answer's statements are supported by the chunks they cite (lexically; see module).

    A claim is supported when its best chunk reaches `threshold` (0..1, default 0.6) and holds
    all its numbers; the check passes when at least `min_supported` of the claims (default all)
    are supported. The score is the share of supported claims.
    """

    threshold: Annotated[float, Field(ge=0, le=1)] = 0.6
    min_supported: Annotated[float, Field(ge=0, le=1)] = 1.0

    def __post_init__(self) -> None:
        self._sources: dict[str, Source] | None = None

    def bind(self, env: BuildEnv) -> None:
        _need_context(env)
        if env.case is not None and env.case.context:
            self._sources = {c.id: Source.of(c.id, c.text) for c in env.case.context}

    def __call__(self, ctx: CheckContext) -> CheckResult:
        sources = self._sources
        if sources is None:
            chunks = ctx.case.context or []
            sources = {c.id: Source.of(c.id, c.text) for c in chunks}
        if not sources:
            return CheckResult(passed=False, error=True, detail="the case has no context chunks")
        text = answer_text(ctx)
        markers = find_markers(text, Chunks(list(sources)))
        results: list[tuple[str, float, str | None, list[str]]] = []
        for sent in split_sentences(text):
            own = markers_in(markers, sent.start, sent.end)
            claim = clean(strip_markers(text[sent.start : sent.end], own, sent.start))
            if not is_claim(claim):
                continue
            cited = [sources[m.chunk] for m in own if m.chunk is not None]
            best = support(claim, cited or list(sources.values()))
            results.append((claim, best.score, best.chunk, best.missing_numbers))
        if not results:
            return CheckResult(passed=False, detail=f"no statement to check in {quote(text)}")
        bad = [r for r in results if r[1] < self.threshold or r[3]]
        supported = len(results) - len(bad)
        share = supported / len(results)
        data = {
            "claims": len(results),
            "supported": supported,
            "support": [round(r[1], 3) for r in results],
        }
        if share >= self.min_supported - 1e-12:
            return CheckResult(
                passed=True,
                score=share,
                detail=f"{supported} of {len(results)} statements supported",
                data=data,
            )
        reasons = []
        for claim, score, chunk, missing in bad[:8]:
            where = f"[{chunk}]" if chunk else "any chunk"
            if missing:
                why = f"{', '.join(missing)} not in {where}"
            else:
                why = f"support {score:.2f} from {where} < {self.threshold:g}"
            reasons.append(f"{clip(claim, 100)!r} ({why})")
        more = f"; and {len(bad) - 8} more" if len(bad) > 8 else ""
        return CheckResult(
            passed=False,
            score=share,
            detail=f"{len(bad)} of {len(results)} statements unsupported: "
            + "; ".join(reasons)
            + more,
            data=data,
        )


@register("abstain")
@dataclass(config=CHECK_CONFIG)
class Abstain:
    """For unanswerable questions: the answer says it does not know, and cites nothing.

    "Does not know" is a phrase in one of the `refusal` languages ("I don't know", "the sources
    do not mention", 资料中没有提到, 情報がありません, ...) or, with `allow_clarifying` (default),
    an answer whose last sentence is a question back to the user. `phrases` adds a case's own.
    Any citation marker fails it unless `allow_citations`.
    """

    allow_clarifying: bool = True
    allow_citations: bool = False
    phrases: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)

    def __post_init__(self) -> None:
        self._extra = compile_extra(self.phrases)

    def __call__(self, ctx: CheckContext) -> CheckResult:
        text = answer_text(ctx)
        if not text.strip():
            return CheckResult(passed=False, detail="the answer is empty")
        hit = find_phrase(ABSTAIN, text, self._extra)
        how = f"{hit.phrase!r} ({hit.language})" if hit else None
        if how is None and self.allow_clarifying:
            sentences = split_sentences(text)
            if sentences and sentences[-1].text.rstrip().endswith(("?", "？")):
                how = f"asks back: {clip(sentences[-1].text, 60)!r}"
        if how is None:
            also = " or clarifying question" if self.allow_clarifying else ""
            return CheckResult(
                passed=False,
                detail=f"does not abstain: no 'don't know' phrase ({', '.join(LANGUAGES)}){also} "
                f"in {quote(text, 120)}",
            )
        if not self.allow_citations:
            markers = find_markers(text, Chunks(_chunk_ids(ctx.case)))
            if markers:
                cites = ", ".join(dict.fromkeys(f"[{m.token}]" for m in markers))
                return CheckResult(
                    passed=False,
                    detail=f"abstains ({how}) but cites {cites}: an unanswerable question "
                    "should cite nothing",
                )
        return CheckResult(passed=True, detail=f"abstains: {how}")

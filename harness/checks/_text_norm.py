"""Text helpers shared by the text, structured and RAG checks: the answer, normalisation, words.

The answer a check scores is the record's content with any ``<think>...</think>`` block removed:
servers without a reasoning parser (llama.cpp, some vLLM setups) leave Qwen's thinking in the
content, and reasoning is never scored as the answer.
"""

from __future__ import annotations

import re
import unicodedata

from harness.checks._base import CheckContext

_THINK = re.compile(r"<think>.*?(?:</think>|\Z)\s*", re.DOTALL)


def answer_text(ctx: CheckContext) -> str:
    """The answer content with leaked ``<think>`` blocks removed."""
    text = ctx.text
    if "<think>" in text:
        text = _THINK.sub("", text)
    return text


def _punctuation_table() -> dict[int, None]:
    # Unicode punctuation (categories P*) in the Basic Multilingual Plane, so 。，「」 go as well
    # as .,"' (the planes above hold ~200 more, none in everyday text; building them costs 0.1 s).
    return {cp: None for cp in range(0x10000) if unicodedata.category(chr(cp)).startswith("P")}


_PUNCT = _punctuation_table()
_WS = re.compile(r"\s+")


def normalize(
    text: str,
    *,
    ignore_case: bool = False,
    ignore_whitespace: bool = False,
    ignore_punctuation: bool = False,
) -> str:
    """Canonical form for comparisons.

    Always: NFKC (full-width ``１２３`` equals ``123``), ends stripped. `ignore_case` casefolds
    (so ``Straße`` equals ``STRASSE``); `ignore_whitespace` removes all whitespace (CJK answers
    have none to begin with); `ignore_punctuation` removes Unicode punctuation and then collapses
    the whitespace runs it leaves.
    """
    text = unicodedata.normalize("NFKC", text).strip()
    if ignore_case:
        text = text.casefold()
    if ignore_punctuation:
        text = _WS.sub(" ", text.translate(_PUNCT)).strip()
    if ignore_whitespace:
        text = _WS.sub("", text)
    return text


# Han, kana and Thai are written without spaces: each character counts as one word. Other
# words are runs of non-space characters holding at least one letter or digit.
_NOSPACE_SCRIPTS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0e7f"
_OTHER = f"[^\\s{_NOSPACE_SCRIPTS}\u3000-\u303f\uff00-\uff0f]"
_WORD = re.compile(f"[{_NOSPACE_SCRIPTS}]|{_OTHER}*[^\\W_]{_OTHER}*")


def count_words(text: str) -> int:
    """Whitespace-separated words, with each Han / kana / Thai character counted as one."""
    return len(_WORD.findall(text))


def clip(text: str, limit: int = 80) -> str:
    """A short, single-line quote of `text` for a failure detail."""
    flat = _WS.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def quote(text: str, limit: int = 80) -> str:
    """`clip` in quotes, or a plain word for an empty answer."""
    return repr(clip(text, limit)) if text.strip() else "an empty answer"

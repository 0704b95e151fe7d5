"""What the simulator answers: the reference answer of a case, its degraded variants, token counts.

Everything here is a pure function of the suite, the seed and the request's few answer-shaping
parameters (max_tokens, thinking), so the server can compute each answer once and a test or the
README demo can say in advance exactly which regressions the `degraded` profile injects
(`degraded_cases`). Token counts are a deterministic estimate (about four characters a token),
not a tokenizer: the simulator is a test double, not a model.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from harness.golden import Case, Suite

Profile = Literal["reference", "degraded", "empty"]
PROFILES: tuple[str, ...] = ("reference", "degraded", "empty")
PerturbationKind = Literal["truncation", "dropped_field", "wrong_argument", "wrong_fact", "slow"]
#: The kinds that change the answer (``slow`` only changes latency).
REGRESSION_KINDS: frozenset[str] = frozenset(
    {"truncation", "dropped_field", "wrong_argument", "wrong_fact"}
)
#: Share of the cases left unperturbed by `degraded` that answer slower instead.
SLOW_SHARE = 0.2
CHARS_PER_TOKEN = 4

UNKNOWN_CASE_ANSWER = (
    "This is the harness simulator, not a model: no golden case matches this request, "
    "so there is no reference answer to return."
)
SYNTHETIC_REASONING = (
    "Simulated reasoning from the harness simulator (not a model): the request matches a golden "
    "case, so the answer below is that case's reference."
)
_WRONG_TEXT_ANSWER = "Sure! Here is the information you asked for."
_WRONG_STRING_VALUE = "Springfield"


def tokens(text: str | None) -> int:
    """The simulator's token estimate: ceil(characters / 4)."""
    if not text:
        return 0
    return -(-len(text) // CHARS_PER_TOKEN)


@dataclass(frozen=True)
class SimToolCall:
    name: str
    arguments: str
    """JSON text, exactly what goes on the wire."""


@dataclass(frozen=True)
class Answer:
    """One assistant turn, before it is put on the wire."""

    content: str | None
    reasoning: str | None = None
    tool_calls: tuple[SimToolCall, ...] = ()
    finish_reason: str = "stop"
    slow: bool = False
    perturbation: str | None = None

    @property
    def reasoning_tokens(self) -> int:
        return tokens(self.reasoning)

    @property
    def completion_tokens(self) -> int:
        """Answer tokens, reasoning included (as DashScope and vLLM count them)."""
        return (
            tokens(self.content)
            + self.reasoning_tokens
            + sum(tokens(tc.name) + tokens(tc.arguments) for tc in self.tool_calls)
        )


def _dumps(obj: Any, pretty: bool = False) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2 if pretty else None)


def reference_answer(case: Case | None) -> Answer:
    """The case's reference as an answer; a generic simulator answer when there is none."""
    if case is None:
        return Answer(content=UNKNOWN_CASE_ANSWER)
    ref = case.reference
    if ref is None or (ref.content is None and not ref.tool_calls):
        return Answer(
            content=f"Simulator answer for case {case.id!r}: the case has no reference output.",
            reasoning=ref.reasoning if ref is not None else None,
        )
    calls = tuple(SimToolCall(tc.name, _dumps(tc.arguments)) for tc in ref.tool_calls or [])
    return Answer(
        content=ref.content,
        reasoning=ref.reasoning,
        tool_calls=calls,
        finish_reason="tool_calls" if calls else "stop",
    )


def empty_answer() -> Answer:
    return Answer(content="")


def with_thinking(answer: Answer, thinking: bool | None) -> Answer:
    """Apply the request's `enable_thinking`: synthesise reasoning when asked, drop it when off."""
    if thinking is False:
        return replace(answer, reasoning=None)
    if thinking and not answer.reasoning:
        return replace(answer, reasoning=SYNTHETIC_REASONING)
    return answer


def limit_tokens(answer: Answer, max_tokens: int | None) -> Answer:
    """Cut the answer at `max_tokens` and finish with ``length``, as a real server does.

    The budget covers content and tool-call arguments, not reasoning: DashScope gives thinking its
    own budget, and counting it would make thinking-mode cases truncate only in the simulator.
    """
    if max_tokens is None:
        return answer
    budget_chars = max_tokens * CHARS_PER_TOKEN
    used = len(answer.content or "")
    if used > budget_chars:
        return replace(
            answer,
            content=(answer.content or "")[:budget_chars],
            tool_calls=(),
            finish_reason="length",
        )
    calls: list[SimToolCall] = []
    for tc in answer.tool_calls:
        room = budget_chars - used
        if len(tc.arguments) > room:
            calls.append(SimToolCall(tc.name, tc.arguments[: max(room, 0)]))
            return replace(answer, tool_calls=tuple(calls), finish_reason="length")
        used += len(tc.arguments)
        calls.append(tc)
    return answer


# --------------------------------------------------------------------------- degraded profile


def _unit(seed: int, case_id: str, salt: str) -> float:
    digest = hashlib.sha256(f"{seed}\x00{salt}\x00{case_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def _json_object(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        obj = json.loads(text.strip())
    except ValueError:
        return None
    return obj if isinstance(obj, dict) and obj else None


def _check_types(case: Case) -> set[str]:
    return {str(spec.get("type")) for spec in case.checks}


def _perturbable(case: Case) -> bool:
    ref = case.reference
    return ref is not None and (bool(ref.content) or bool(ref.tool_calls))


def _fit_kind(case: Case, seed: int) -> str:
    """The perturbation the case's checks are most likely to notice."""
    ref = case.reference
    assert ref is not None
    if ref.tool_calls:
        return "wrong_argument"
    if _json_object(ref.content) is not None:
        return "dropped_field"
    if case.category == "coding":
        return "truncation"
    if "finish_reason" in _check_types(case) and _unit(seed, case.id, "kind") < 0.5:
        return "truncation"
    return "wrong_fact"


def degraded_cases(suite: Suite, seed: int = 0, fraction: float = 0.25) -> dict[str, str]:
    """Case id -> the perturbation the `degraded` profile applies to it (same seed, same answer).

    Exactly ``round(fraction * n)`` of the n cases that have a reference answer are perturbed
    (at least one when `fraction` > 0), chosen by a seeded hash of the case id; the kind fits the
    case (tool calls get a wrong argument, JSON a dropped field, code a truncation, text a wrong
    fact). About a fifth of the other cases are marked ``slow`` (latency x 3, same answer): they
    are listed too, so filter with `REGRESSION_KINDS` for the regressions a diff should find.
    """
    eligible = [c for c in suite.cases if _perturbable(c)]
    ranked = sorted(eligible, key=lambda c: _unit(seed, c.id, "pick"))
    count = round(fraction * len(ranked))
    if fraction > 0 and ranked and count == 0:
        count = 1
    picked = {c.id for c in ranked[:count]}
    out: dict[str, str] = {}
    for case in suite.cases:
        if case.id in picked:
            out[case.id] = _fit_kind(case, seed)
        elif _perturbable(case) and _unit(seed, case.id, "slow") < SLOW_SHARE:
            out[case.id] = "slow"
    return out


def perturb(answer: Answer, case: Case, kind: str, seed: int) -> Answer:
    """Apply one perturbation kind to a reference answer."""
    if kind == "slow":
        return replace(answer, slow=True, perturbation=kind)
    if kind == "truncation":
        text = answer.content or ""
        cut = max(1, tokens(text) // 2) * CHARS_PER_TOKEN
        return replace(answer, content=text[:cut], finish_reason="length", perturbation=kind)
    if kind == "dropped_field":
        return replace(
            answer, content=_drop_field(answer.content or "", case, seed), perturbation=kind
        )
    if kind == "wrong_argument":
        return replace(
            answer, tool_calls=_wrong_argument(answer.tool_calls, case, seed), perturbation=kind
        )
    return replace(answer, content=wrong_fact(answer.content or ""), perturbation=kind)


def _drop_field(text: str, case: Case, seed: int) -> str:
    obj = _json_object(text)
    if obj is None:
        return wrong_fact(text)
    expected: set[str] = set()
    for spec in case.checks:
        if spec.get("type") == "json_match" and isinstance(spec.get("expected"), dict):
            expected.update(spec["expected"])
    keys = [k for k in obj if k in expected and obj[k] is not None]
    keys = keys or [k for k in obj if obj[k] is not None] or list(obj)
    victim = keys[int(_unit(seed, case.id, "field") * len(keys))]
    return _dumps({k: v for k, v in obj.items() if k != victim}, pretty="\n" in text.strip())


def _tool_enum(case: Case, tool: str, param: str) -> list[Any]:
    for t in case.tools or []:
        if t.function.name == tool and t.function.parameters:
            prop = t.function.parameters.get("properties", {}).get(param, {})
            enum = prop.get("enum") if isinstance(prop, dict) else None
            return list(enum) if isinstance(enum, list) else []
    return []


def _wrong_value(value: Any, enum: list[Any]) -> Any:
    others = [e for e in enum if e != value]
    if others:
        return others[0]
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value * 2 + 1
    if isinstance(value, str):
        if re.search(r"\d", value):
            return _bump_numbers(value)
        return _WRONG_STRING_VALUE if value != _WRONG_STRING_VALUE else "Shelbyville"
    if isinstance(value, list):
        return value[:-1] if value else [_WRONG_STRING_VALUE]
    if isinstance(value, dict):
        return {}
    return _WRONG_STRING_VALUE


def _wrong_argument(
    calls: tuple[SimToolCall, ...], case: Case, seed: int
) -> tuple[SimToolCall, ...]:
    if not calls:
        return calls
    first = calls[0]
    args = json.loads(first.arguments) if first.arguments else {}
    if not isinstance(args, dict) or not args:
        args = {"unexpected_argument": True}
    else:
        keys = sorted(args)
        key = keys[int(_unit(seed, case.id, "arg") * len(keys))]
        args = {**args, key: _wrong_value(args[key], _tool_enum(case, first.name, key))}
    return (SimToolCall(first.name, _dumps(args)), *calls[1:])


_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_BRACKETS = re.compile(r"(\[[^\]]*\])")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s*")


def _bump(num: str) -> str:
    if "." in num:
        decimals = len(num.split(".")[1])
        return f"{float(num) * 2 + 1:.{decimals}f}"
    return str(int(num) * 2 + 1)


def _bump_numbers(text: str) -> str:
    return _NUMBER.sub(lambda m: _bump(m.group()), text, count=1)


def wrong_fact(text: str) -> str:
    """A plausible but wrong version of a text answer.

    Numbers outside ``[citations]`` are swapped (or the only one changed); otherwise the last
    sentences are dropped; a one-sentence answer without numbers is replaced by a confident
    non-answer. The result always differs from `text`.
    """
    parts = _BRACKETS.split(text)
    numbers: list[str] = []
    for i in range(0, len(parts), 2):
        for n in _NUMBER.findall(parts[i]):
            if n not in numbers:
                numbers.append(n)
    if numbers:
        if len(numbers) >= 2:
            a, b = numbers[0], numbers[1]
            mapping = {a: b, b: a}
        else:
            mapping = {numbers[0]: _bump(numbers[0])}
        for i in range(0, len(parts), 2):
            parts[i] = _NUMBER.sub(lambda m: mapping.get(m.group(), m.group()), parts[i])
        return "".join(parts)
    sentences = [s for s in _SENTENCE_END.split(text.strip()) if s]
    if len(sentences) >= 2:
        return sentences[0]
    return _WRONG_TEXT_ANSWER if text.strip() != _WRONG_TEXT_ANSWER else "I am not sure."


@dataclass
class AnswerBook:
    """Each case's answer for one profile, before request-specific shaping."""

    profile: str
    seed: int = 0
    fraction: float = 0.25
    kinds: dict[str, str] = field(default_factory=dict)

    def base(self, case: Case | None) -> Answer:
        if self.profile == "empty":
            return empty_answer()
        answer = reference_answer(case)
        if case is not None and self.profile == "degraded":
            kind = self.kinds.get(case.id)
            if kind is not None:
                answer = perturb(answer, case, kind, self.seed)
        return answer

    def shape(self, case: Case | None, max_tokens: int | None, thinking: bool | None) -> Answer:
        base = self.base(case)
        if self.profile == "empty":
            return base
        return limit_tokens(with_thinking(base, thinking), max_tokens)

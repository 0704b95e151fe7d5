"""Which golden case a request is for, judged from the request alone.

The client builds its messages with `harness.prompt.render_messages`, and so does this index, so
the two agree byte for byte on role and content. Cases that send identical messages (the same
prompt with thinking on and off, under two token limits, or with two versions of a tool or
output schema) are told apart by the request's answer-shaping parameters. A request whose
messages were altered on the way (a proxy adding a system prompt) still finds its case by the
text of its last user message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from harness.prompt import render_messages
from harness.sim._profiles import tokens

if TYPE_CHECKING:
    from harness.golden import Case, Suite

#: Simulated tokens an image part costs in the prompt.
IMAGE_TOKENS = 256


def message_key(messages: list[dict[str, Any]]) -> bytes:
    """Canonical role + content of every message (other keys, such as `name`, ignored)."""
    return orjson.dumps(
        [(m.get("role"), m.get("content")) for m in messages], option=orjson.OPT_SORT_KEYS
    )


def last_user_text(messages: list[dict[str, Any]]) -> str | None:
    for m in reversed(messages):
        if m.get("role") == "user":
            content = m.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            return None
    return None


def request_thinking(body: dict[str, Any]) -> bool | None:
    """`enable_thinking` as DashScope (top level) or vLLM (`chat_template_kwargs`) receives it."""
    value = body.get("enable_thinking")
    if value is None:
        kwargs = body.get("chat_template_kwargs")
        if isinstance(kwargs, dict):
            value = kwargs.get("enable_thinking")
    return value if isinstance(value, bool) else None


def request_max_tokens(body: dict[str, Any]) -> int | None:
    value = body.get("max_completion_tokens")
    if value is None:
        value = body.get("max_tokens")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError("max_tokens must be a positive integer")
    return value


def prompt_tokens(messages: list[dict[str, Any]], tools: Any) -> int:
    """The simulator's prompt-token estimate: message contents plus the tool schemas."""
    n = 0
    for m in messages:
        content = m.get("content")
        if isinstance(content, str):
            n += tokens(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict):
                    if part.get("type") == "text":
                        n += tokens(str(part.get("text", "")))
                    else:
                        n += IMAGE_TOKENS
    if tools:
        n += -(-len(orjson.dumps(tools)) // 4)
    return n


def _canonical(value: Any) -> bytes:
    """One byte string per JSON value, whatever its key order (None for an absent value)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


@dataclass(frozen=True)
class _Shape:
    max_tokens: int | None
    thinking: bool | None
    tools: tuple[str, ...]
    """Tool names: a request whose schemas were rewritten on the way still matches by name."""
    tool_defs: bytes
    """The whole tool definitions: two versions of one tool's schema are two cases."""
    tool_choice: bytes
    response_format: str | None
    response_schema: bytes
    """The whole response_format: `json_schema` with two different schemas are two cases."""


def _shape_of(params: dict[str, Any], tools: Any) -> _Shape:
    names: list[str] = []
    for t in tools or []:
        fn = t.get("function") if isinstance(t, dict) else None
        if isinstance(fn, dict):
            names.append(str(fn.get("name")))
    rf = params.get("response_format")
    try:
        max_tokens = request_max_tokens(params)
    except ValueError:
        max_tokens = None
    return _Shape(
        max_tokens=max_tokens,
        thinking=request_thinking(params),
        tools=tuple(names),
        tool_defs=_canonical(tools or None),
        tool_choice=_canonical(params.get("tool_choice")),
        response_format=str(rf.get("type")) if isinstance(rf, dict) else None,
        response_schema=_canonical(rf),
    )


def case_shape(case: Case) -> _Shape:
    params = case.params.model_dump(exclude_none=True)
    params.update(params.pop("extra_body", None) or {})
    if case.tool_choice is not None:
        params["tool_choice"] = case.tool_choice
    tools = [t.model_dump(exclude_none=True) for t in case.tools or []]
    return _shape_of(params, tools)


class CaseIndex:
    """Maps a request's messages to a case index (into `suite.cases`), or None when unknown."""

    def __init__(self, suite: Suite | None) -> None:
        self.cases: list[Case] = list(suite.cases) if suite is not None else []
        self._by_key: dict[bytes, list[int]] = {}
        self._by_user: dict[str, list[int]] = {}
        self._shapes: list[_Shape] = []
        for i, case in enumerate(self.cases):
            messages = render_messages(case)
            self._by_key.setdefault(message_key(messages), []).append(i)
            text = last_user_text(messages)
            if text is not None:
                self._by_user.setdefault(text, []).append(i)
            self._shapes.append(case_shape(case))

    def shape(self, i: int) -> _Shape:
        """Case `i`'s own answer-shaping parameters (what its requests normally carry)."""
        return self._shapes[i]

    def match(self, messages: list[dict[str, Any]], body: dict[str, Any]) -> int | None:
        found = self._by_key.get(message_key(messages))
        if found is None:
            text = last_user_text(messages)
            found = self._by_user.get(text) if text is not None else None
            if found is None:
                return None
        if len(found) == 1:
            return found[0]
        want = _shape_of(body, body.get("tools"))
        return max(found, key=lambda i: self._score(self._shapes[i], want))

    @staticmethod
    def _score(have: _Shape, want: _Shape) -> int:
        return (
            (have.max_tokens == want.max_tokens)
            + (bool(have.thinking) == bool(want.thinking)) * 2
            + (have.tools == want.tools)
            + (have.tool_defs == want.tool_defs)
            + (have.tool_choice == want.tool_choice)
            + (have.response_format == want.response_format)
            + (have.response_schema == want.response_schema)
        )

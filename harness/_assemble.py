"""Assembling one answer from chat-completions chunks (or one non-streamed body), as plain dicts.

The servers we target disagree on details that decide whether a record is right (see
../shared/wire/README.md); the rules below are the union of what they send:

- reasoning comes as `reasoning_content` (DashScope, older vLLM) or `reasoning` (vLLM >= 0.11,
  Ollama); the first non-null one of a delta is taken, never both (vLLM once sent the same text
  under both names);
- usage rides on the finish chunk, on a trailing `choices: []` chunk, or on every chunk
  (continuous usage): the last one seen wins; no usage at all stays None, never zeros;
- tool calls are assembled by `index`: the first delta brings id and name, later ones argument
  fragments; an empty id (`''`, DashScope) never overwrites a real one; a call that arrives whole
  in one delta (Ollama) is just a first delta with all its arguments; a server that reuses index 0
  for a second call with a new id and name gets a second call, not a merged one;
- `[DONE]` is optional; an `{"error": ...}` object can arrive inside a 200 stream;
- a field is None unless the server sent a string for it: `content: ""` stays `""`.

A non-streamed body goes through the same `feed`, its `message` taking the place of a delta, so
both paths assemble identically. Nothing here builds a pydantic model per chunk: `result()`
builds the record's models once. What an error object means for the record is
`harness._classify`'s to say.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson

from harness._sse import DONE, loads, parse_event
from harness.records import FinishReason, Output, Served, ToolCall, Usage

#: Server finish reasons mapped into the record's vocabulary. Synonyms only: a server that says
#: `stop` after a tool call is recorded as `stop` (DESIGN: never inferred).
FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "eos": "stop",
    "end_turn": "stop",
    "stop_sequence": "stop",
    "length": "length",
    "max_tokens": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "tool_use": "tool_calls",
    "content_filter": "content_filter",
    "error": "error",
    "abort": "error",
}


def map_finish_reason(raw: str | None) -> FinishReason | None:
    """The vocabulary value for a server's finish reason; None when it sent none."""
    if raw is None:
        return None
    return FINISH_REASONS.get(raw, "unknown")


def _count(value: Any) -> int | None:
    return value if type(value) is int else None


def usage_from(raw: Any) -> Usage | None:
    """The record's usage from a server's usage object; None when it holds no count at all."""
    if not isinstance(raw, dict):
        return None
    completion_details = raw.get("completion_tokens_details")
    prompt_details = raw.get("prompt_tokens_details")
    reasoning = (
        _count(completion_details.get("reasoning_tokens"))
        if isinstance(completion_details, dict)
        else None
    )
    cached = (
        _count(prompt_details.get("cached_tokens")) if isinstance(prompt_details, dict) else None
    )
    if cached is None:
        cached = _count(raw.get("cached_tokens"))
    usage = Usage(
        prompt_tokens=_count(raw.get("prompt_tokens")),
        completion_tokens=_count(raw.get("completion_tokens")),
        reasoning_tokens=reasoning,
        cached_tokens=cached,
        total_tokens=_count(raw.get("total_tokens")),
    )
    if all(v is None for v in usage.__dict__.values()):
        return None
    return usage


class _CallSlot:
    __slots__ = ("args", "id", "name")

    def __init__(self) -> None:
        self.id: str | None = None
        self.name: str | None = None
        self.args: list[str] = []


@dataclass(slots=True)
class Assembled:
    """What one response said, before it is judged ok or error."""

    output: Output
    raw_finish_reason: str | None
    usage: Usage | None
    error: Any
    """An error object the server sent inside a 200 response (dict or str), else None."""
    problem: str | None
    """Why the response breaks the protocol (malformed chunk, wrong shape, nothing at all)."""
    served: Served | None = None


class Assembler:
    """Accumulates one response; `feed` returns False when reading should stop."""

    __slots__ = (
        "_by_index",
        "_calls",
        "_content",
        "_fingerprint",
        "_id",
        "_model",
        "_reasoning",
        "_usage",
        "chunks",
        "error",
        "finish_reason",
        "first_token_at",
        "problem",
    )

    def __init__(self) -> None:
        self._content: list[str] | None = None
        self._reasoning: list[str] | None = None
        self._calls: list[_CallSlot] = []
        self._by_index: dict[Any, _CallSlot] = {}
        self._usage: Any = None
        self._model: Any = None
        self._id: Any = None
        self._fingerprint: Any = None
        self.finish_reason: str | None = None
        self.first_token_at: float | None = None
        self.error: Any = None
        self.problem: str | None = None
        self.chunks = 0

    def feed(self, chunk: Any) -> bool:
        self.chunks += 1
        if type(chunk) is not dict:
            self.problem = f"chunk {self.chunks} is not a JSON object: {excerpt(chunk)}"
            return False
        if self._model is None:  # id and model come with every chunk: the first ones stay
            self._model = chunk.get("model")
            self._id = chunk.get("id")
        if self._fingerprint is None:  # some servers send it on later chunks only
            self._fingerprint = chunk.get("system_fingerprint")
        error = chunk.get("error")
        if error:
            self.error = error
            return False
        usage = chunk.get("usage")
        if usage is not None:
            self._usage = usage
        choices = chunk.get("choices")
        if choices is None:
            return self._no_choices(chunk)
        if type(choices) is not list:
            self.problem = f"chunk {self.chunks}: 'choices' is not a list"
            return False
        for choice in choices:
            if type(choice) is not dict:
                self.problem = f"chunk {self.chunks}: a choice is not an object"
                return False
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or choice.get("message")
            if delta and not self._delta(delta):
                return False
            finish = choice.get("finish_reason")
            if finish is not None:
                self.finish_reason = str(finish)
        return True

    def feed_event(self, data: list[bytes]) -> bool:
        """Feed one SSE event's data lines; False at `[DONE]` or when reading should stop."""
        try:
            value = parse_event(data)
        except orjson.JSONDecodeError:
            self.chunks += 1
            self.problem = f"malformed JSON in chunk {self.chunks}: {b' '.join(data)[:200]!r}"
            return False
        if value is DONE:
            return False
        if type(value) is list:
            return all(v is not DONE and self.feed(v) for v in value)
        return self.feed(value)

    def feed_body(self, content: bytes) -> None:
        """Feed a whole non-streamed body: its `message` is assembled like one big delta."""
        try:
            value = loads(content)
        except orjson.JSONDecodeError:
            self.problem = f"the response body is not JSON: {content[:200]!r}"
            return
        self.feed(value)

    def _no_choices(self, chunk: dict[str, Any]) -> bool:
        if "output" in chunk:
            self.problem = (
                "not a chat-completions response (it has 'output' and no 'choices': DashScope's "
                "native /api/v1 shape); use the OpenAI-compatible base URL "
                "(.../compatible-mode/v1)"
            )
            return False
        if "code" in chunk and "message" in chunk:
            self.error = chunk
            return False
        if "usage" not in chunk:
            self.problem = f"chunk {self.chunks} has no 'choices': {excerpt(chunk)}"
            return False
        return True

    def _delta(self, delta: Any) -> bool:
        if type(delta) is not dict:
            self.problem = f"chunk {self.chunks}: the delta is not an object"
            return False
        content = delta.get("content")
        if content is not None:
            if type(content) is not str:
                self.problem = f"chunk {self.chunks}: content is not a string"
                return False
            if self._content is None:
                self._content = [content]
            else:
                self._content.append(content)
            if content and self.first_token_at is None:
                self.first_token_at = time.perf_counter()
        reasoning = delta.get("reasoning_content")
        if reasoning is None:
            reasoning = delta.get("reasoning")
        if type(reasoning) is str:
            if self._reasoning is None:
                self._reasoning = [reasoning]
            else:
                self._reasoning.append(reasoning)
            if reasoning and self.first_token_at is None:
                self.first_token_at = time.perf_counter()
        calls = delta.get("tool_calls")
        if calls:
            if type(calls) is not list:
                self.problem = f"chunk {self.chunks}: tool_calls is not a list"
                return False
            for position, call in enumerate(calls):
                if type(call) is not dict:
                    self.problem = f"chunk {self.chunks}: a tool call is not an object"
                    return False
                self._tool_call(call, position)
            if self.first_token_at is None:
                self.first_token_at = time.perf_counter()
        return True

    def _tool_call(self, call: dict[str, Any], position: int) -> None:
        index = call.get("index", position)
        call_id = call.get("id") or None
        function = call.get("function")
        if type(function) is not dict:
            function = {}
        name = function.get("name") or None
        slot = self._by_index.get(index)
        if slot is None or (
            call_id is not None and name is not None and slot.id not in (None, call_id)
        ):
            slot = self._by_index[index] = _CallSlot()
            self._calls.append(slot)
        if call_id is not None and slot.id is None:
            slot.id = str(call_id)
        if name is not None and slot.name is None:
            slot.name = str(name)
        args = function.get("arguments")
        if type(args) is str:
            slot.args.append(args)
        elif args is not None:
            slot.args.append(orjson.dumps(args).decode())

    def result(self) -> Assembled:
        problem = self.problem
        calls: list[ToolCall] = []
        for n, slot in enumerate(self._calls):
            if slot.name is None:
                problem = problem or f"tool call {n} has no function name"
                continue
            arguments = "".join(slot.args)
            calls.append(
                ToolCall(id=slot.id, name=slot.name, arguments=arguments, parsed=_parsed(arguments))
            )
        content = None if self._content is None else "".join(self._content)
        reasoning = None if self._reasoning is None else "".join(self._reasoning)
        if (
            problem is None
            and self.error is None
            and not content
            and not reasoning
            and not calls
            and self.finish_reason is None
        ):
            problem = (
                "the response ended with nothing (no choice, content, tool call or finish_reason)"
            )
        return Assembled(
            output=Output(content=content, reasoning=reasoning, tool_calls=calls),
            raw_finish_reason=self.finish_reason,
            usage=usage_from(self._usage),
            error=self.error,
            problem=problem,
            served=self._served(),
        )

    def _served(self) -> Served | None:
        model, id_, fingerprint = (
            v if type(v) is str and v else None for v in (self._model, self._id, self._fingerprint)
        )
        if model is None and id_ is None and fingerprint is None:
            return None
        return Served(model=model, id=id_, system_fingerprint=fingerprint)


def _parsed(arguments: str) -> dict[str, Any] | None:
    """The decoded arguments when they are a JSON object; None otherwise (never re-decoded)."""
    if not arguments:
        return None
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def excerpt(value: Any, limit: int = 200) -> str:
    """A bounded, printable piece of what a server sent, for an error message."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else repr(value)
    return text if len(text) <= limit else text[:limit] + "..."

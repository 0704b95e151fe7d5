"""The golden case model: what one case may say, its hash, and a suite of cases.

Strict on purpose (unknown keys are errors): a golden file is written by hand and a typo such as
`temprature` must not silently change what is sent. Loading and file:line reporting live in
`harness.golden`, which re-exports everything here.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, is_dataclass
from typing import Any, Literal

import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from harness.checks._base import BoundCheck, BuildEnv, CheckArgError, build_check

Category = Literal["chat", "extraction", "coding", "rag", "tool_use"]
CATEGORIES: tuple[str, ...] = ("chat", "extraction", "coding", "rag", "tool_use")
CASE_FILE_SUFFIXES = (".yaml", ".yml", ".jsonl")
#: Folders inside a golden tree that hold data for cases, not cases.
SKIP_DIRS = {"schemas", "corpora"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Message(_Strict):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None

    @model_validator(mode="after")
    def _what_the_role_needs(self) -> Message:
        # What OpenAI-compatible servers refuse with a 400, so it fails at validate time.
        if self.role == "assistant":
            if self.content is None and not self.tool_calls:
                raise ValueError("an assistant message needs content or tool_calls")
        elif self.content is None:
            raise ValueError(f"a {self.role} message needs content")
        if self.role == "tool" and not self.tool_call_id:
            raise ValueError("a tool message needs the tool_call_id of the call it answers")
        if self.tool_calls is not None and self.role != "assistant":
            raise ValueError("only an assistant message has tool_calls")
        return self


class ToolFunction(_Strict):
    name: str = Field(pattern=r"^[a-zA-Z0-9_.-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None

    @field_validator("parameters")
    @classmethod
    def _valid_schema(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is not None:
            problem = _schema_problem(orjson.dumps(v, option=orjson.OPT_SORT_KEYS))
            if problem:
                raise ValueError(problem)
            if v.get("type", "object") != "object":
                raise ValueError("tool parameters must be a JSON Schema of type 'object'")
        return v


@functools.lru_cache(maxsize=4096)
def _schema_problem(schema_json: bytes) -> str | None:
    """Why a schema is not a JSON Schema, or None; cached because suites (and imported
    benchmark sets) repeat the same tool and output schemas across hundreds of cases."""
    try:
        Draft202012Validator.check_schema(orjson.loads(schema_json))
    except SchemaError as exc:
        return f"not a valid JSON Schema: {exc.message}"
    return None


#: `response_format` types: OpenAI's three, and vLLM's structural_tag.
RESPONSE_FORMATS = ("text", "json_object", "json_schema", "structural_tag")


def _response_format_problem(v: dict[str, Any]) -> str | None:
    """What every server would refuse in a response_format (a 400 on every run), or None."""
    kind = v.get("type")
    if kind not in RESPONSE_FORMATS:
        return f"type must be one of {', '.join(RESPONSE_FORMATS)}, got {kind!r}"
    if kind != "json_schema":
        return None
    spec = v.get("json_schema")
    if not isinstance(spec, dict):
        return "a json_schema format needs json_schema: {name: NAME, schema: {...}}"
    name = spec.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", name):
        return (
            f"json_schema.name is required: letters, digits, '_' and '-', at most 64, got {name!r}"
        )
    schema = spec.get("schema")
    if schema is None:
        return None
    if not isinstance(schema, dict):
        return "json_schema.schema must be a JSON Schema object"
    problem = _schema_problem(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS))
    return f"json_schema.schema is {problem}" if problem else None


class Tool(_Strict):
    type: Literal["function"]
    function: ToolFunction


class Params(_Strict):
    """Request parameters; DashScope/vLLM-only fields (enable_thinking, top_k) go in extra_body."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = Field(default=None, gt=0)
    max_completion_tokens: int | None = Field(default=None, gt=0)
    stop: str | list[str] | None = None
    seed: int | None = None
    response_format: dict[str, Any] | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    parallel_tool_calls: bool | None = None
    reasoning_effort: str | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    n: Literal[1] | None = None
    stream: bool | None = None
    extra_body: dict[str, Any] | None = None

    @field_validator("response_format")
    @classmethod
    def _known_response_format(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        problem = _response_format_problem(v) if v is not None else None
        if problem:
            raise ValueError(problem)
        return v


class ContextChunk(_Strict):
    id: str
    text: str
    source: str | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_str(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) else v


class ReferenceToolCall(_Strict):
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class Reference(_Strict):
    """What a good answer looks like; the simulator serves it and `selftest` checks it."""

    content: str | None = None
    reasoning: str | None = None
    tool_calls: list[ReferenceToolCall] | None = None


class Case(_Strict):
    id: str = Field(min_length=1)
    category: Category
    messages: list[Message] = Field(min_length=1)
    params: Params = Field(default_factory=Params)
    tools: list[Tool] | None = None
    tool_choice: str | dict[str, Any] | None = None
    context: list[ContextChunk] | None = None
    reference: Reference | None = None
    checks: list[dict[str, Any]] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    threshold: float | None = Field(default=None, ge=0, le=1)
    description: str | None = None

    _bound: list[BoundCheck] = PrivateAttr(default_factory=list)
    _source: tuple[str, int] = PrivateAttr(default=("<memory>", 0))
    _hash: str = PrivateAttr(default="")

    @field_validator("id", mode="before")
    @classmethod
    def _id_str(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) else v

    @field_validator("messages")
    @classmethod
    def _tool_results_answer_calls(cls, v: list[Message]) -> list[Message]:
        # OpenAI-compatible servers refuse a tool message that answers no earlier call.
        called: set[str] = set()
        for i, m in enumerate(v):
            if m.role == "assistant" and m.tool_calls:
                called |= {str(c["id"]) for c in m.tool_calls if isinstance(c, dict) and "id" in c}
            elif m.role == "tool" and m.tool_call_id not in called:
                raise ValueError(
                    f"message {i}: tool_call_id {m.tool_call_id!r} answers no tool call of an "
                    "earlier assistant message"
                )
        return v

    @field_validator("tool_choice")
    @classmethod
    def _tool_choice_fits_the_tools(
        cls, v: str | dict[str, Any] | None, info: ValidationInfo
    ) -> str | dict[str, Any] | None:
        # Every server answers these with a 400, on every run: say so at validate time. Shapes
        # other than OpenAI's function choice (newer `allowed_tools`, `custom`) are let through.
        if v is None:
            return v
        tools = info.data.get("tools") or []
        names = [t.function.name for t in tools]
        if isinstance(v, str):
            if v not in ("none", "auto", "required"):
                raise ValueError(f"must be 'none', 'auto', 'required' or a function, got {v!r}")
            if v != "none" and not tools:
                raise ValueError(f"{v!r} needs tools, and the case has none")
            return v
        if v.get("type") == "function":
            fn = v.get("function")
            name = fn.get("name") if isinstance(fn, dict) else None
            if not isinstance(name, str):
                raise ValueError("a function choice is {type: function, function: {name: NAME}}")
            if name not in names:
                known = ", ".join(names) or "the case has no tools"
                raise ValueError(f"names function {name!r}, which is not among the tools ({known})")
        return v

    @property
    def bound_checks(self) -> list[BoundCheck]:
        return self._bound

    @property
    def source(self) -> tuple[str, int]:
        """(file, line) the case was loaded from."""
        return self._source

    @property
    def case_hash(self) -> str:
        if not self._hash:
            self._hash = compute_case_hash(self)
        return self._hash

    def bind(self, env: BuildEnv) -> None:
        """Build this case's checks (raises CheckArgError located inside `checks`)."""
        bound: list[BoundCheck] = []
        for i, spec in enumerate(self.checks):
            try:
                bound.append(build_check(spec, env))
            except CheckArgError as exc:
                raise CheckArgError(str(exc), ("checks", i, *exc.loc)) from None
        self._bound = bound
        self._hash = ""


def _jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in asdict(value).items() if not k.startswith("_")}
    return value


def compute_case_hash(case: Case) -> str:
    """Hash of everything sent or checked, so a diff can tell a changed case from a changed model.

    Built checks are hashed by their resolved arguments, so editing a shared schema file under
    golden/schemas/ changes the hash of every case that uses it. Tags, the description and the
    file location are not part of it: re-tagging a case does not make it "changed".
    """
    payload = {
        "category": case.category,
        "messages": [m.model_dump(exclude_none=True) for m in case.messages],
        "params": case.params.model_dump(exclude_none=True),
        "tools": [t.model_dump(exclude_none=True) for t in case.tools or []],
        "tool_choice": case.tool_choice,
        "context": [c.model_dump(exclude_none=True) for c in case.context or []],
        "reference": case.reference.model_dump(exclude_none=True) if case.reference else None,
        "checks": [
            {"type": b.name, "weight": b.weight, "negate": b.negate, "args": _jsonable(b.check)}
            for b in case.bound_checks
        ]
        if case.bound_checks or not case.checks
        else case.checks,
        "threshold": case.threshold,
    }
    blob = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(blob).hexdigest()[:16]


class Suite(BaseModel):
    """A loaded, validated set of cases."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    path: str
    cases: list[Case]

    @property
    def hash(self) -> str:
        h = hashlib.sha256()
        for c in sorted(self.cases, key=lambda c: c.id):
            h.update(f"{c.id}:{c.case_hash}\n".encode())
        return h.hexdigest()[:16]

    def __len__(self) -> int:
        return len(self.cases)

    def __iter__(self) -> Iterator[Case]:  # type: ignore[override]
        return iter(self.cases)

    def by_id(self) -> dict[str, Case]:
        return {c.id: c for c in self.cases}

    def select(
        self,
        *,
        categories: Iterable[str] | None = None,
        filter_text: str | None = None,
        tags: Iterable[str] | None = None,
        ids: Iterable[str] | None = None,
    ) -> Suite:
        """A sub-suite; `filter_text` matches a case id or tag (case-insensitive substring)."""
        cats = set(categories or [])
        tagset = set(tags or [])
        idset = set(ids) if ids is not None else None
        needle = (filter_text or "").lower()
        out = []
        for c in self.cases:
            if cats and c.category not in cats:
                continue
            if tagset and not tagset.intersection(c.tags):
                continue
            if idset is not None and c.id not in idset:
                continue
            if (
                needle
                and needle not in c.id.lower()
                and not any(needle in t.lower() for t in c.tags)
            ):
                continue
            out.append(c)
        return Suite(path=self.path, cases=out)

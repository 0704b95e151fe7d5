"""Tool-use checks: `tool_call` (BFCL's AST-checker semantics), `no_call`, `tool_args_schema`.

`tool_call` takes BFCL's possible-answer shape, so an imported BFCL case and a hand-written one
read the same: ``calls: [{name: get_weather, arguments: {city: [Paris, "Paris, France"],
unit: [celsius, ""]}}]``. The matching rules live in `_bfcl.py`, the load-time checks of the
expected calls against the case's own tools in `_tool_expected.py`; this module turns a record
into calls and writes the verdict.
Free-text arguments may use a rule instead of listing phrasings (``query: [{$pattern: e4}]``,
see `Form`); rules are compiled once, when the golden file loads.

Every failure carries a typed label in ``data["label"]`` (`wrong_function`, `missing_required`,
`unexpected_param`, `type_error`, `value_error`, `wrong_count`, `no_call`,
`bad_arguments_json`), so a report can count failures by kind.
"""

from __future__ import annotations

import re
from dataclasses import field
from functools import cached_property, lru_cache
from typing import Annotated, Any, Literal

import orjson
from jsonschema import Draft202012Validator
from pydantic import Field
from pydantic.dataclasses import dataclass

from harness.checks._base import (
    CHECK_CONFIG,
    BuildEnv,
    CheckArgError,
    CheckContext,
    CheckResult,
    register,
)
from harness.checks._bfcl import Actual, Expected, norm_name, pair_calls
from harness.checks._bfcl_types import Label
from harness.checks._tool_expected import compile_calls, vet_calls
from harness.records import Output, ToolCall

# Qwen / Hermes chat templates write `<tool_call>{"name": ..., "arguments": ...}</tool_call>`;
# a block cut off by the length limit (no closing tag) still counts as an attempted call.
_TEXT_CALL = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|\Z)", re.DOTALL)
_NAME_IN_TEXT = re.compile(r'"name"\s*:\s*"([^"]*)"')


def calls_from_text(text: str) -> list[ToolCall]:
    """Read Qwen-style ``<tool_call>`` blocks that a server left in the content as plain text."""
    calls: list[ToolCall] = []
    for block in _TEXT_CALL.findall(text):
        try:
            obj = orjson.loads(block)
        except orjson.JSONDecodeError:
            found = _NAME_IN_TEXT.search(block)
            calls.append(ToolCall(name=found.group(1) if found else "", arguments=block))
            continue
        if not isinstance(obj, dict):
            calls.append(ToolCall(name="", arguments=block))
            continue
        args = obj.get("arguments", obj.get("parameters", {}))
        if isinstance(args, str):  # some templates encode the arguments a second time
            raw = args
            try:
                args = orjson.loads(args)
            except orjson.JSONDecodeError:
                args = None
        else:
            raw = orjson.dumps(args).decode()
        calls.append(ToolCall(name=str(obj.get("name", "")), arguments=raw, parsed=args))
    return calls


def _decoded(call: ToolCall) -> Any:
    """The call's arguments as an object, or None when they are not JSON.

    An empty argument string means "no arguments" (servers send it for parameterless tools).
    """
    if call.parsed is not None:
        return call.parsed
    if not call.arguments.strip():
        return {}
    try:
        return orjson.loads(call.arguments)
    except orjson.JSONDecodeError:
        return None


def model_calls(output: Output, from_text: bool) -> tuple[list[ToolCall], str]:
    """The calls to judge and where they came from ("tool_calls" or "text")."""
    if output.tool_calls or not from_text:
        return list(output.tool_calls), "tool_calls"
    return calls_from_text(output.content or ""), "text"


def _tools(case: Any) -> list[tuple[str, dict[str, Any] | None]] | None:
    """(name, parameters schema) of each tool of a case (a `Case` or a raw mapping)."""
    tools = case.get("tools") if isinstance(case, dict) else getattr(case, "tools", None)
    if not tools:
        return None
    out: list[tuple[str, dict[str, Any] | None]] = []
    for tool in tools:
        fn = tool.get("function", {}) if isinstance(tool, dict) else tool.function
        if isinstance(fn, dict):
            out.append((str(fn.get("name", "")), fn.get("parameters")))
        else:
            out.append((fn.name, fn.parameters))
    return out


def _schemas(case: Any) -> dict[str, dict[str, Any] | None]:
    return {norm_name(name): params for name, params in _tools(case) or []}


def _show_call(call: ToolCall) -> str:
    args = call.arguments if len(call.arguments) <= 60 else call.arguments[:57] + "..."
    return f"{call.name}({args})"


def _fail(label: Label, detail: str, **data: Any) -> CheckResult:
    return CheckResult(passed=False, score=0.0, detail=detail, data={"label": label, **data})


@dataclass(config=CHECK_CONFIG)
class CallSpec:
    """One expected call: a function name and, per parameter, the list of allowed values."""

    name: str
    arguments: dict[str, list[Any]] = field(default_factory=dict)


@register("tool_call")
@dataclass(config=CHECK_CONFIG)
class ToolCallCheck:
    """The model made the expected calls, judged like BFCL's AST checker."""

    calls: Annotated[list[CallSpec], Field(min_length=1)]
    order: Literal["any", "strict"] = "any"
    allow_extra_calls: bool = False
    from_text: bool = False

    @cached_property
    def _expected(self) -> list[Expected]:
        """The expected calls with their rules compiled: once per case, not once per record."""
        return compile_calls(self.calls)

    def bind(self, env: BuildEnv) -> None:
        """Catch expected calls that no answer could match, while the golden file is loaded."""
        expected = self._expected  # a bad rule (a regex that does not compile) fails here
        tools = _tools(env.case)
        if tools is not None:
            vet_calls(expected, tools)

    def __call__(self, ctx: CheckContext) -> CheckResult:
        calls, source = model_calls(ctx.output, self.from_text)
        wanted = ", ".join(c.name for c in self.calls)
        if not calls:
            hint = ""
            if not self.from_text and "<tool_call>" in ctx.text:
                hint = " (the text holds a <tool_call> block; set from_text: true to read it)"
            return _fail("no_call", f"no tool call made; expected {wanted}{hint}", source=source)
        expected = self._expected
        actual = [Actual(c.name, _decoded(c), c.arguments) for c in calls]
        pairing = pair_calls(expected, actual, _schemas(ctx.case), ordered=self.order == "strict")
        n_exp, n_act = len(expected), len(actual)
        count_ok = n_act == n_exp or (self.allow_extra_calls and n_act > n_exp)
        failures: list[dict[str, Any]] = []
        used = {j for _, j, _ in pairing.pairs if j is not None}
        for i, j, miss in pairing.pairs:
            name = expected[i].name
            if j is None:
                failures.append(
                    {
                        "call": i + 1,
                        "name": name,
                        "label": "wrong_count",
                        "message": f"call {i + 1} {name}: not made",
                    }
                )
            elif miss is not None:
                failures.append(
                    {
                        "call": i + 1,
                        "name": name,
                        "label": miss.label,
                        "model_call": j + 1,
                        "message": f"call {i + 1} {name}: {miss.message}",
                    }
                )
        if not self.allow_extra_calls:
            for j, call in enumerate(calls):
                if j not in used:
                    failures.append(
                        {
                            "call": None,
                            "name": call.name,
                            "label": "wrong_count",
                            "model_call": j + 1,
                            "message": f"extra call {j + 1}: {_show_call(call)}",
                        }
                    )
        denom = n_exp if self.allow_extra_calls else max(n_exp, n_act)
        score = pairing.matched / denom
        data: dict[str, Any] = {
            "matched": pairing.matched,
            "expected": n_exp,
            "got": n_act,
            "source": source,
        }
        if count_ok and pairing.matched == n_exp:
            return CheckResult(passed=True, score=1.0, detail="", data=data)
        parts = [f["message"] for f in failures]
        if not count_ok:
            got = ", ".join(c.name for c in calls)
            parts.insert(0, f"expected {n_exp} call(s) ({wanted}), got {n_act} ({got})")
            label: str = "wrong_count"
        else:
            label = next(f["label"] for f in failures)
        data.update(label=label, failures=failures)
        return CheckResult(passed=False, score=score, detail="; ".join(parts), data=data)


@register("no_call")
@dataclass(config=CHECK_CONFIG)
class NoCall:
    """Calling any tool is wrong here; a ``<tool_call>`` block left in the text counts too."""

    def __call__(self, ctx: CheckContext) -> CheckResult:
        calls = list(ctx.output.tool_calls) or calls_from_text(ctx.text)
        if not calls:
            return CheckResult(passed=True, detail="")
        shown = ", ".join(_show_call(c) for c in calls)
        where = "" if ctx.output.tool_calls else " (in the text)"
        return _fail(
            "wrong_count",
            f"expected no tool call, got {len(calls)}{where}: {shown}",
            got=len(calls),
        )


@lru_cache(maxsize=1024)
def _validator(schema_json: bytes) -> Draft202012Validator:
    return Draft202012Validator(orjson.loads(schema_json))


_NO_PARAMS: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}
_LABEL_OF_KEYWORD: dict[str, Label] = {
    "required": "missing_required",
    "additionalProperties": "unexpected_param",
    "unevaluatedProperties": "unexpected_param",
    "type": "type_error",
}


@register("tool_args_schema")
@dataclass(config=CHECK_CONFIG)
class ToolArgsSchema:
    """Every call names a tool of the case and its arguments validate against that tool's schema.

    Draft 2020-12; `format` is an annotation (not enforced), as the draft specifies by default.
    A tool without `parameters` takes no arguments.
    """

    from_text: bool = False
    allow_no_call: bool = False

    def bind(self, env: BuildEnv) -> None:
        if env.case is not None and not _tools(env.case):
            raise CheckArgError("the case has no tools to validate the arguments against")

    def __call__(self, ctx: CheckContext) -> CheckResult:
        calls, source = model_calls(ctx.output, self.from_text)
        if not calls:
            if self.allow_no_call:
                return CheckResult(passed=True, detail="no tool call made")
            return _fail("no_call", "no tool call made", source=source)
        tools = _tools(ctx.case) or []
        schemas = {norm_name(name): params for name, params in tools}
        problems: list[tuple[Label, str]] = []
        bad_calls = 0
        for i, call in enumerate(calls, start=1):
            before = len(problems)
            head = f"call {i} {call.name}"
            args = _decoded(call)
            if norm_name(call.name) not in schemas:
                known = ", ".join(name for name, _ in tools)
                problems.append(("wrong_function", f"{head}: no such tool (tools: {known})"))
            elif args is None:
                problems.append(("bad_arguments_json", f"{head}: arguments are not valid JSON"))
            else:
                schema = schemas[norm_name(call.name)] or _NO_PARAMS
                validator = _validator(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS))
                errors = sorted(validator.iter_errors(args), key=lambda e: list(map(str, e.path)))
                for err in errors:
                    label = _LABEL_OF_KEYWORD.get(str(err.validator), "value_error")
                    problems.append((label, f"{head}: {err.json_path}: {err.message}"))
            bad_calls += len(problems) > before
        if not problems:
            return CheckResult(passed=True, detail="", data={"calls": len(calls), "source": source})
        return CheckResult(
            passed=False,
            score=1.0 - bad_calls / len(calls),
            detail="; ".join(msg for _, msg in problems),
            data={
                "label": problems[0][0],
                "violations": len(problems),
                "calls": len(calls),
                "source": source,
            },
        )

"""The expected calls of a `tool_call` check, compiled and vetted when the golden file loads.

A call that no answer could match (a misspelt function, a parameter the tool does not have, a
rule that cannot fit its parameter's type) would otherwise be a case that fails every model
silently; here it becomes a load error with the file and line. Apart from `tool_call.py` because
this is about what a golden file may say, not about judging a record.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.checks._base import CheckArgError
from harness.checks._bfcl import Expected, norm_name
from harness.checks._bfcl_types import schema_types
from harness.checks._forms import FORM_KINDS, Form, parse_form

if TYPE_CHECKING:
    from harness.checks.tool_call import CallSpec


def compile_calls(calls: list[CallSpec]) -> list[Expected]:
    """Rules become `Form`s here, once, so a bad regex fails the load, not a record."""
    out: list[Expected] = []
    for i, spec in enumerate(calls):
        args: dict[str, list[Any]] = {}
        for param, allowed in spec.arguments.items():
            try:
                args[param] = _compile_value(allowed, ("calls", i, "arguments", param), param)
            except CheckArgError as exc:
                raise CheckArgError(f"call {i + 1} {spec.name}: {exc}", exc.loc) from None
        out.append(Expected(spec.name, args))
    return out


def _compile_value(value: Any, loc: tuple[int | str, ...], path: str) -> Any:
    """`value` with every rule mapping (``{$pattern: ...}``) turned into a `Form`, at any depth."""
    if isinstance(value, list):
        return [_compile_value(v, (*loc, i), path) for i, v in enumerate(value)]
    if isinstance(value, dict):
        try:
            form = parse_form(value)
        except ValueError as exc:
            kind = next((k for k in value if k in FORM_KINDS), "")
            raise CheckArgError(f"argument {path!r}: {exc}", (*loc, kind)) from None
        if form is not None:
            return form
        return {k: _compile_value(v, (*loc, k), f"{path}.{k}") for k, v in value.items()}
    return value


def vet_calls(expected: list[Expected], tools: list[tuple[str, dict[str, Any] | None]]) -> None:
    """Fail the load on an expected call that no call to `tools` could match.

    Judged against the case's own tools, since that is all a model is offered; without this
    the case would fail every model, and the failure would read as the model's.
    """
    by_name = {norm_name(name): params for name, params in tools}
    known = ", ".join(name for name, _ in tools)
    for i, exp in enumerate(expected):
        where: tuple[int | str, ...] = ("calls", i)
        if norm_name(exp.name) not in by_name:
            msg = f"call {i + 1}: function {exp.name!r} is not among the tools ({known})"
            raise CheckArgError(msg, (*where, "name"))
        params = by_name[norm_name(exp.name)] or {}
        props = params.get("properties")
        props = props if isinstance(props, dict) else {}
        for param, allowed in exp.arguments.items():
            loc = (*where, "arguments", param)
            label = f"call {i + 1} {exp.name}: argument {param!r}"
            if param not in props and "" not in allowed:
                have = ", ".join(props) or "none"
                msg = f"{label} is not a parameter of the tool ({have}), so no call can match"
                raise CheckArgError(msg, loc)
            if not allowed:
                msg = f"{label}: the list of allowed values is empty, so no call can match"
                raise CheckArgError(msg, loc)
            _check_shape(label, allowed, props.get(param), loc)
            for k, value in enumerate(allowed):
                _check_forms(f"call {i + 1} {exp.name}", param, value, props.get(param), (*loc, k))
        for param in params.get("required") or []:
            if param not in exp.arguments:
                msg = f"call {i + 1} {exp.name}: required parameter {param!r} has no values"
                raise CheckArgError(msg, (*where, "arguments"))


def _check_shape(label: str, allowed: list[Any], schema: Any, loc: tuple[int | str, ...]) -> None:
    """Catch `tags: [a, b]` written for the one list value `[a, b]` (it means "a or b").

    Only the unambiguous form is an error: BFCL's own answers hold single strings (variable
    names) and nulls where the schema wants something else, and those must keep loading.
    """
    types = schema_types(schema)
    scalars = [v for v in allowed if v != "" and not isinstance(v, list | dict | Form)]
    if len(scalars) < 2 or len(scalars) != len([v for v in allowed if v != ""]):
        return
    if types == {"array"}:
        shown = ", ".join(repr(v) for v in scalars)
        msg = f"{label}: each allowed value of an array parameter is a list; for the list value"
        raise CheckArgError(f"{msg} [{shown}] write [[{shown}]]", loc)
    if types == {"object"}:
        raise CheckArgError(f"{label}: each allowed value of an object parameter is a mapping", loc)


def _check_forms(head: str, path: str, value: Any, schema: Any, loc: tuple[int | str, ...]) -> None:
    """Catch a rule that cannot match its parameter's type, and a misspelt rule.

    `value` is one allowed value, walked into with its schema. `{$patern: x}` would otherwise be
    read as a BFCL nested mapping and fail every answer with a type error; it is only called a
    typo where the schema rules out an object value.
    """
    types = schema_types(schema)
    if isinstance(value, Form):
        if value.kind != "$any" and types and "string" not in types:
            kinds = "/".join(sorted(types))
            msg = f"{head}: argument {path!r}: {value.kind} matches strings, not {kinds}"
            raise CheckArgError(msg, (*loc, value.kind))
    elif isinstance(value, dict):
        if types and "object" not in types and value and all(str(k)[:1] == "$" for k in value):
            known = ", ".join(FORM_KINDS)
            msg = f"{head}: argument {path!r}: unknown rule {next(iter(value))!r} (rules: {known})"
            raise CheckArgError(msg, loc)
        props = schema.get("properties") if isinstance(schema, dict) else None
        for key, sub in value.items():
            sub_schema = props.get(key) if isinstance(props, dict) else None
            for j, option in enumerate(sub if isinstance(sub, list) else [sub]):
                _check_forms(head, f"{path}.{key}", option, sub_schema, (*loc, key, j))
    elif isinstance(value, list):
        items = schema.get("items") if isinstance(schema, dict) else None
        for j, item in enumerate(value):
            _check_forms(head, f"{path}[{j}]", item, items, (*loc, j))

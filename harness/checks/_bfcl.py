"""The matcher behind `tool_call`: BFCL's AST-checker semantics, as plain functions.

Learned from the Berkeley Function Calling Leaderboard's checker (``bfcl_eval``'s
``ast_checker.py``) and kept compatible with its possible-answer shape: every parameter maps to a
list of allowed values, ``""`` among them meaning "may be omitted". Where we deliberately differ:

* Parallel calls are paired by a maximum bipartite matching (scipy's `linear_sum_assignment`),
  not BFCL's first-fit, which can fail a set of calls that does have a valid pairing.
* Nested values are checked recursively at every depth (BFCL goes one level deep), and the
  int-for-float allowance applies at every depth too (BFCL applies it to top-level values only).
* Types come from JSON Schema (`number`, `object`) as sent to OpenAI-compatible servers, instead
  of BFCL's Python names (`float`, `dict`).

Kept from BFCL on purpose: a float such as ``10.0`` where the schema says `integer` is a type
error; a value whose type is that of an allowed value is accepted even when the schema disagrees
(BFCL's "variable" rule); dots in function names compare equal to underscores; strings compare
after lower-casing and removing spaces and ``,./-_*^``.

Our one addition to the answer format: an allowed value may be a `Form`, a rule instead of a
literal (``{$pattern: ...}``, ``{$any: true}``, ``{$contains_all: [...]}``), for free-text
arguments that no list of phrasings covers (see `_forms.py`). Their keys start with ``$``, which
no key in BFCL's possible answers does, so imported cases compare exactly as before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from harness.checks._bfcl_types import (
    QUIET_VALUE,
    Label,
    Mismatch,
    compatible,
    fmt,
    is_number,
    json_type,
    schema_types,
    type_error,
    value_error,
)
from harness.checks._forms import FORM_KINDS, Form, FormKind, parse_form

# Re-exported: callers and tests import these from here, where the matcher lives.
__all__ = [
    "FORM_KINDS",
    "Actual",
    "Expected",
    "Form",
    "FormKind",
    "Label",
    "Mismatch",
    "Pairing",
    "json_type",
    "match_call",
    "norm_name",
    "pair_calls",
    "parse_form",
    "schema_types",
    "standardize",
]

_STRIP = re.compile(r"[ ,./\-_*^]")
_NUMERIC = {"integer", "number"}


@dataclass(frozen=True)
class Expected:
    name: str
    arguments: dict[str, list[Any]]


@dataclass(frozen=True)
class Actual:
    """A call as the model made it; `arguments` is None when they were not valid JSON."""

    name: str
    arguments: Any
    raw: str = ""


def norm_name(name: str) -> str:
    """BFCL rewrites `math.factorial` to `math_factorial` for OpenAI-style servers."""
    return name.replace(".", "_")


@lru_cache(maxsize=8192)
def standardize(text: str) -> str:
    """BFCL's string normalisation, so "April 1, 2024" equals "april 1 2024".

    Cached: the same allowed values are normalised for every record of a run.
    """
    return _STRIP.sub("", text).lower().replace("'", '"')


def _sub(schema: Any, key: str) -> Any:
    if isinstance(schema, dict):
        props = schema.get("properties")
        if isinstance(props, dict):
            return props.get(key)
    return None


def _items(schema: Any) -> Any:
    return schema.get("items") if isinstance(schema, dict) else None


def _match(value: Any, exp: Any, schema: Any, path: str, explain: bool) -> Mismatch | None:
    """Compare a value with one allowed literal (dicts inside are allowed-value maps again)."""
    if isinstance(exp, str):
        if isinstance(value, str):
            if standardize(value) == standardize(exp):
                return None
            return value_error(path, None, value, exp, explain)
        return type_error(path, "string", value, explain)
    if isinstance(exp, bool) or exp is None:
        if value is exp:
            return None
        if json_type(value) == json_type(exp):
            return value_error(path, None, value, exp, explain)
        return type_error(path, json_type(exp), value, explain)
    if is_number(exp):
        if not is_number(value):
            return type_error(path, json_type(exp), value, explain)
        float_for_int = isinstance(value, float) and isinstance(exp, int)
        if float_for_int and "number" not in schema_types(schema):
            return type_error(path, "integer", value, explain)
        return None if value == exp else value_error(path, None, value, exp, explain)
    if isinstance(exp, dict):
        if not isinstance(value, dict):
            return type_error(path, "object", value, explain)
        for key in value:
            if key not in exp:
                return value_error(path, f"unexpected key {key!r}", value, exp, explain)
        for key, allowed in exp.items():
            options = allowed if isinstance(allowed, list) else [allowed]
            if key not in value:
                if "" not in options:
                    return value_error(path, f"missing key {key!r}", value, exp, explain)
                continue
            sub = _sub(schema, key)
            miss = _check_allowed(value[key], options, sub, f"{path}.{key}", explain)
            if miss is not None:
                return miss
        return None
    if isinstance(exp, list):
        if not isinstance(value, list):
            return type_error(path, "array", value, explain)
        if len(value) != len(exp):
            text = f"{len(value)} items {fmt(value)}, expected {fmt(exp)}"
            return value_error(path, text, value, exp, explain)
        item_schema = _items(schema)
        for i, (v, e) in enumerate(zip(value, exp, strict=True)):
            miss = _match(v, e, item_schema, f"{path}[{i}]", explain)
            if miss is not None:
                return miss
        return None
    if isinstance(exp, Form):
        return exp.match(value, schema, path, explain)
    return None if value == exp else value_error(path, None, value, exp, explain)


def _check_allowed(
    value: Any, allowed: Sequence[Any], schema: Any, path: str, explain: bool
) -> Mismatch | None:
    """Does `value` match one of `allowed` (BFCL's possible-answer list for one parameter)?"""
    cands = [a for a in allowed if a != ""]
    declared = schema_types(schema)
    strings = isinstance(value, str) and value and all(type(c) is str for c in cands)
    if strings and (not declared or "string" in declared):
        # The common case, decided without the general machinery.
        key = standardize(value)
        if any(standardize(c) == key for c in cands):
            return None
        if not explain:
            return QUIET_VALUE
        text = f"{fmt(value)} not among allowed {fmt(cands, 200)}"
        return value_error(path, text, value, cands, explain)
    forms = [c for c in cands if isinstance(c, Form)]
    types = declared | {json_type(a) for a in cands if not isinstance(a, Form)}
    if forms:
        types |= {"string" for f in forms if f.kind != "$any"}
        if not declared and any(f.kind == "$any" for f in forms):
            types = set()  # `$any` without a schema admits every type
    vtype = json_type(value)
    if types and not compatible(vtype, types):
        return type_error(path, "/".join(sorted(types)), value, explain)
    if value == "" and "" in allowed:
        return None
    if declared and not compatible(vtype, declared):
        # BFCL's "variable" rule: a value of an allowed value's type but not of the schema's
        # (a string naming a variable where an array is expected) is compared exactly.
        if value in cands:
            return None
        text = f"{fmt(value)} not among allowed {fmt(cands, 200)}"
        return value_error(path, text, value, cands, explain)
    misses = []
    for cand in cands:
        miss = _match(value, cand, schema, path, explain)
        if miss is None:
            return None
        misses.append(miss)
    if len(misses) == 1 and (
        isinstance(cands[0], dict | list | Form) or misses[0].label == "type_error"
    ):
        return misses[0]
    if misses and all(m.label == "type_error" for m in misses):
        return misses[0]
    if not explain:
        return QUIET_VALUE
    if forms:
        literals = [c for c in cands if not isinstance(c, Form)]
        clauses = [f"not among allowed {fmt(literals, 200)}"] if literals else []
        clauses += [why for f in forms if (why := f.why_not(value, schema)) is not None]
        return value_error(path, f"{fmt(value)} {' and '.join(clauses)}", value, cands, explain)
    text = f"{fmt(value)} not among allowed {fmt(cands, 200)}"
    return value_error(path, text, value, cands, explain)


@dataclass(frozen=True)
class _Param:
    allowed: Sequence[Any]
    schema: Any
    strings: frozenset[str] | None
    """Normalised allowed strings, when every allowed value is a string of a string parameter."""
    numbers: frozenset[int | float] | None
    """Allowed numbers, when every allowed value is a number of a numeric parameter."""


@dataclass(frozen=True)
class _Compiled:
    """An expected call with its tool schema, prepared once per record rather than per pair."""

    exp: Expected
    name: str
    props: dict[str, Any] | None
    required: list[str]
    params: dict[str, _Param]


def _compile(exp: Expected, schema: dict[str, Any] | None) -> _Compiled:
    props = schema.get("properties") if isinstance(schema, dict) else None
    props = props if isinstance(props, dict) else None
    required = schema.get("required") if isinstance(schema, dict) else None
    params = {}
    for param, allowed in exp.arguments.items():
        sub = props.get(param) if props is not None else None
        declared = schema_types(sub)
        cands = [a for a in allowed if a != ""]
        strings = numbers = None
        if all(type(c) is str for c in cands) and (not declared or "string" in declared):
            strings = frozenset(standardize(c) for c in cands)
        if all(is_number(c) for c in cands) and (not declared or declared & _NUMERIC):
            numbers = frozenset(cands)
        params[param] = _Param(allowed, sub, strings, numbers)
    req = [r for r in required if isinstance(r, str)] if isinstance(required, list) else []
    return _Compiled(exp, norm_name(exp.name), props, req, params)


def match_call(
    exp: Expected, act: Actual, schema: dict[str, Any] | None, explain: bool = True
) -> Mismatch | None:
    """One model call against one expected call, in BFCL's order of checks (first error wins)."""
    return _match_compiled(_compile(exp, schema), act, explain)


def _match_compiled(cc: _Compiled, act: Actual, explain: bool) -> Mismatch | None:
    exp = cc.exp
    if norm_name(act.name) != cc.name:
        return Mismatch("wrong_function", f"called {act.name!r}, expected {exp.name!r}")
    args = act.arguments
    if args is None:
        return Mismatch("bad_arguments_json", f"arguments are not valid JSON: {fmt(act.raw)}")
    if not isinstance(args, dict):
        return Mismatch(
            "bad_arguments_json", f"arguments are a JSON {json_type(args)}, not an object"
        )
    for param in cc.required:
        if param not in args:
            return Mismatch("missing_required", f"missing required argument {param!r}")
    for param, value in args.items():
        spec = cc.params.get(param)
        if spec is None or (cc.props is not None and param not in cc.props):
            in_tool = cc.props is None or param in cc.props
            why = "not in the expected call" if in_tool else "not a parameter of the tool"
            return Mismatch("unexpected_param", f"unexpected argument {param!r} ({why})")
        # Fast paths for the common shapes; anything unusual goes through `_check_allowed`.
        if spec.strings is not None and type(value) is str and value:
            if standardize(value) in spec.strings:
                continue
            if not explain:
                return QUIET_VALUE
        elif spec.numbers is not None and type(value) is int:
            if value in spec.numbers:
                continue
            if not explain:
                return QUIET_VALUE
        miss = _check_allowed(value, spec.allowed, spec.schema, param, explain)
        if miss is not None:
            return miss
    for param, spec in cc.params.items():
        if param not in args and "" not in spec.allowed:
            return Mismatch(
                "missing_required",
                f'missing argument {param!r} (the expected call has no "" among its values)',
            )
    return None


@dataclass(frozen=True)
class Pairing:
    """The result of pairing model calls with expected calls."""

    matched: int
    pairs: list[tuple[int, int | None, Mismatch | None]]
    """(expected index, model call index or None, mismatch or None when the pair matches)."""


def pair_calls(
    expected: Sequence[Expected],
    actual: Sequence[Actual],
    schemas: dict[str, dict[str, Any] | None],
    *,
    ordered: bool,
) -> Pairing:
    """Pair calls: position by position when `ordered`, else by a maximum bipartite matching.

    Among pairings with the most matches, the assignment prefers pairing calls of the same
    function, so that an unmatched call is reported against its namesake (a useful detail)
    rather than against an unrelated call (a useless "wrong function").
    """

    compiled = [_compile(e, schemas.get(norm_name(e.name))) for e in expected]
    if not ordered and len(expected) == len(actual) > 1:
        # A complete first-fit pairing is a maximum matching too, and it is what a passing answer
        # usually gets at a fraction of the comparisons; only a failure needs the full grid.
        free = list(range(len(actual)))
        quick: list[tuple[int, int | None, Mismatch | None]] = []
        for i, cc in enumerate(compiled):
            hit = next((j for j in free if _match_compiled(cc, actual[j], False) is None), None)
            if hit is None:
                break
            free.remove(hit)
            quick.append((i, hit, None))
        else:
            return Pairing(len(expected), quick)
    grid = [[_match_compiled(cc, a, False) for a in actual] for cc in compiled]
    assigned: dict[int, int] = {}
    if ordered:
        assigned = {i: i for i in range(min(len(expected), len(actual)))}
    elif len(expected) == 1 and actual:
        row = grid[0]
        best = next((j for j, m in enumerate(row) if m is None), None)
        if best is None:
            named = (j for j, m in enumerate(row) if m is not None and m.label != "wrong_function")
            best = next(named, 0)
        assigned = {0: best}
    elif actual:
        from scipy.optimize import linear_sum_assignment  # lazy: scipy is slow to import

        big = min(len(expected), len(actual)) + 1
        cost = [
            [0 if m is None else (big if m.label != "wrong_function" else big + 1) for m in row]
            for row in grid
        ]
        rows, cols = linear_sum_assignment(cost)
        assigned = {int(r): int(c) for r, c in zip(rows, cols, strict=True)}
    pairs: list[tuple[int, int | None, Mismatch | None]] = []
    matched = 0
    for i, cc in enumerate(compiled):
        j = assigned.get(i)
        if j is None:
            pairs.append((i, None, None))
        elif grid[i][j] is None:
            matched += 1
            pairs.append((i, j, None))
        else:
            pairs.append((i, j, _match_compiled(cc, actual[j], True)))
    return Pairing(matched, pairs)

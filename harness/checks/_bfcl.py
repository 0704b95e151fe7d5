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
arguments that no list of phrasings covers. Their keys start with ``$``, which no key in BFCL's
possible answers does, so imported cases compare exactly as before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

Label = Literal[
    "wrong_function",
    "missing_required",
    "unexpected_param",
    "type_error",
    "value_error",
    "wrong_count",
    "no_call",
    "bad_arguments_json",
]

_STRIP = re.compile(r"[ ,./\-_*^]")
_NUMERIC = {"integer", "number"}


@dataclass(frozen=True)
class Mismatch:
    """Why one model call does not match one expected call."""

    label: Label
    message: str


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


_JSON_TYPES: dict[type, str] = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    tuple: "array",
    dict: "object",
    type(None): "null",
}


def json_type(value: Any) -> str:
    found = _JSON_TYPES.get(type(value))
    if found is not None:
        return found
    for kind, name in _JSON_TYPES.items():  # subclasses (an IntEnum, an OrderedDict)
        if isinstance(value, kind):
            return name
    return type(value).__name__


def schema_types(schema: Any) -> set[str]:
    """The JSON types a schema admits (empty when it does not say)."""
    if not isinstance(schema, dict):
        return set()
    t = schema.get("type")
    if isinstance(t, str):
        return {t}
    if isinstance(t, list):
        return {x for x in t if isinstance(x, str)}
    out: set[str] = set()
    for key in ("anyOf", "oneOf"):
        for sub in schema.get(key) or []:
            out |= schema_types(sub)
    return out


def _compatible(vtype: str, types: set[str]) -> bool:
    return vtype in types or (vtype == "integer" and "number" in types)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _fmt(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _sub(schema: Any, key: str) -> Any:
    if isinstance(schema, dict):
        props = schema.get("properties")
        if isinstance(props, dict):
            return props.get(key)
    return None


def _items(schema: Any) -> Any:
    return schema.get("items") if isinstance(schema, dict) else None


# Messages are only formatted when asked for (`explain`): pairing parallel calls compares every
# call with every expected call, and formatting the failures nobody reads dominated the cost.
_QUIET_TYPE = Mismatch("type_error", "")
_QUIET_VALUE = Mismatch("value_error", "")


def _type_error(path: str, want: str, value: Any, explain: bool) -> Mismatch:
    if not explain:
        return _QUIET_TYPE
    got = f"{json_type(value)} {_fmt(value)}"
    return Mismatch("type_error", f"argument {path!r}: expected {want}, got {got}")


def _value_error(path: str, message: str | None, value: Any, exp: Any, explain: bool) -> Mismatch:
    if not explain:
        return _QUIET_VALUE
    text = message if message is not None else f"{_fmt(value)} != {_fmt(exp)}"
    return Mismatch("value_error", f"argument {path!r}: {text}")


FormKind = Literal["$pattern", "$any", "$contains_all"]
FORM_KINDS: tuple[FormKind, ...] = ("$pattern", "$any", "$contains_all")


@dataclass(frozen=True)
class Form:
    """An allowed value that is a rule: a regex, "any value of the right type", or words to hold.

    Built once, when the golden file loads (`parse_form`), so a bad regex is a load error and
    matching never compiles anything.
    """

    kind: FormKind
    source: Any
    """The argument as written (the regex text, the word list), for messages."""
    regex: re.Pattern[str] | None = None
    words: tuple[str, ...] = ()

    def __repr__(self) -> str:
        """As written in YAML; a regex unescaped (repr doubles backslashes, misread in a regex)."""
        if self.kind == "$any":
            return "{$any: true}"
        return f"{{{self.kind}: {self._shown()}}}"

    def _shown(self) -> str:
        return f"'{self.source}'" if self.kind == "$pattern" else repr(self.source)

    def why_not(self, value: Any, schema: Any) -> str | None:
        """None when `value` is accepted, else the clause that says why not."""
        if self.kind == "$any":
            declared = schema_types(schema)
            if not declared or _compatible(json_type(value), declared):
                return None
            return f"is not of type {'/'.join(sorted(declared))}"
        if not isinstance(value, str):
            return f"is not a string (for {self!r})"
        if self.regex is not None:
            if self.regex.search(value):
                return None
            return f"does not match pattern {self._shown()}"
        low = value.casefold()
        missing = [w for w in self.words if w.casefold() not in low]
        return "does not contain " + ", ".join(map(repr, missing)) if missing else None

    def match(self, value: Any, schema: Any, path: str, explain: bool) -> Mismatch | None:
        why = self.why_not(value, schema)
        if why is None:
            return None
        if self.kind == "$any":
            return _type_error(path, "/".join(sorted(schema_types(schema))), value, explain)
        if not isinstance(value, str):
            return _type_error(path, "string", value, explain)
        return _value_error(path, f"{_fmt(value)} {why}", value, self, explain)


def parse_form(raw: dict[Any, Any]) -> Form | None:
    """The `Form` a mapping spells, None when it is an ordinary (BFCL nested) mapping.

    Raises ValueError for a form that is misspelt or could not fail: a regex that does not
    compile or that matches the empty string (``.*``, ``x?``), an empty word list.
    """
    kinds = [k for k in raw if k in FORM_KINDS]
    if not kinds:
        return None
    if len(raw) != 1:
        others = ", ".join(repr(k) for k in raw if k != kinds[0])
        raise ValueError(f"{{{kinds[0]}: ...}} takes no other keys (got {others})")
    kind: FormKind = kinds[0]
    arg = raw[kind]
    if kind == "$any":
        if arg is not True:
            raise ValueError(f"$any takes true, got {arg!r}")
        return Form(kind, arg)
    if kind == "$pattern":
        if not isinstance(arg, str) or not arg:
            raise ValueError(f"$pattern takes a regular expression as a string, got {arg!r}")
        try:
            regex = re.compile(arg, re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"$pattern '{arg}' is not a valid regular expression: {exc}") from None
        if regex.search(""):
            raise ValueError(
                f"$pattern '{arg}' matches an empty string, so it accepts any string; "
                "make it require something"
            )
        return Form(kind, arg, regex=regex)
    words = arg if isinstance(arg, list) else None
    if not words or not all(isinstance(w, str) and w.strip() for w in words):
        raise ValueError(f"$contains_all takes a non-empty list of non-empty strings, got {arg!r}")
    return Form(kind, arg, words=tuple(words))


def _match(value: Any, exp: Any, schema: Any, path: str, explain: bool) -> Mismatch | None:
    """Compare a value with one allowed literal (dicts inside are allowed-value maps again)."""
    if isinstance(exp, str):
        if isinstance(value, str):
            if standardize(value) == standardize(exp):
                return None
            return _value_error(path, None, value, exp, explain)
        return _type_error(path, "string", value, explain)
    if isinstance(exp, bool) or exp is None:
        if value is exp:
            return None
        if json_type(value) == json_type(exp):
            return _value_error(path, None, value, exp, explain)
        return _type_error(path, json_type(exp), value, explain)
    if _is_number(exp):
        if not _is_number(value):
            return _type_error(path, json_type(exp), value, explain)
        float_for_int = isinstance(value, float) and isinstance(exp, int)
        if float_for_int and "number" not in schema_types(schema):
            return _type_error(path, "integer", value, explain)
        return None if value == exp else _value_error(path, None, value, exp, explain)
    if isinstance(exp, dict):
        if not isinstance(value, dict):
            return _type_error(path, "object", value, explain)
        for key in value:
            if key not in exp:
                return _value_error(path, f"unexpected key {key!r}", value, exp, explain)
        for key, allowed in exp.items():
            options = allowed if isinstance(allowed, list) else [allowed]
            if key not in value:
                if "" not in options:
                    return _value_error(path, f"missing key {key!r}", value, exp, explain)
                continue
            sub = _sub(schema, key)
            miss = _check_allowed(value[key], options, sub, f"{path}.{key}", explain)
            if miss is not None:
                return miss
        return None
    if isinstance(exp, list):
        if not isinstance(value, list):
            return _type_error(path, "array", value, explain)
        if len(value) != len(exp):
            text = f"{len(value)} items {_fmt(value)}, expected {_fmt(exp)}"
            return _value_error(path, text, value, exp, explain)
        item_schema = _items(schema)
        for i, (v, e) in enumerate(zip(value, exp, strict=True)):
            miss = _match(v, e, item_schema, f"{path}[{i}]", explain)
            if miss is not None:
                return miss
        return None
    if isinstance(exp, Form):
        return exp.match(value, schema, path, explain)
    return None if value == exp else _value_error(path, None, value, exp, explain)


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
            return _QUIET_VALUE
        text = f"{_fmt(value)} not among allowed {_fmt(cands, 200)}"
        return _value_error(path, text, value, cands, explain)
    forms = [c for c in cands if isinstance(c, Form)]
    types = declared | {json_type(a) for a in cands if not isinstance(a, Form)}
    if forms:
        types |= {"string" for f in forms if f.kind != "$any"}
        if not declared and any(f.kind == "$any" for f in forms):
            types = set()  # `$any` without a schema admits every type
    vtype = json_type(value)
    if types and not _compatible(vtype, types):
        return _type_error(path, "/".join(sorted(types)), value, explain)
    if value == "" and "" in allowed:
        return None
    if declared and not _compatible(vtype, declared):
        # BFCL's "variable" rule: a value of an allowed value's type but not of the schema's
        # (a string naming a variable where an array is expected) is compared exactly.
        if value in cands:
            return None
        text = f"{_fmt(value)} not among allowed {_fmt(cands, 200)}"
        return _value_error(path, text, value, cands, explain)
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
        return _QUIET_VALUE
    if forms:
        literals = [c for c in cands if not isinstance(c, Form)]
        clauses = [f"not among allowed {_fmt(literals, 200)}"] if literals else []
        clauses += [why for f in forms if (why := f.why_not(value, schema)) is not None]
        return _value_error(path, f"{_fmt(value)} {' and '.join(clauses)}", value, cands, explain)
    text = f"{_fmt(value)} not among allowed {_fmt(cands, 200)}"
    return _value_error(path, text, value, cands, explain)


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
        if all(_is_number(c) for c in cands) and (not declared or declared & _NUMERIC):
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
        return Mismatch("bad_arguments_json", f"arguments are not valid JSON: {_fmt(act.raw)}")
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
                return _QUIET_VALUE
        elif spec.numbers is not None and type(value) is int:
            if value in spec.numbers:
                continue
            if not explain:
                return _QUIET_VALUE
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

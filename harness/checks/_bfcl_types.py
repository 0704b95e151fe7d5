"""Low-level pieces shared by the BFCL matcher (`_bfcl.py`) and its rules (`_forms.py`).

A module of its own so that `_forms.py` can use them and `_bfcl.py` can use `Form` without an
import cycle between the two.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class Mismatch:
    """Why one model call does not match one expected call."""

    label: Label
    message: str


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


def compatible(vtype: str, types: set[str]) -> bool:
    return vtype in types or (vtype == "integer" and "number" in types)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def fmt(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# Messages are only formatted when asked for (`explain`): pairing parallel calls compares every
# call with every expected call, and formatting the failures nobody reads dominated the cost.
QUIET_TYPE = Mismatch("type_error", "")
QUIET_VALUE = Mismatch("value_error", "")


def type_error(path: str, want: str, value: Any, explain: bool) -> Mismatch:
    if not explain:
        return QUIET_TYPE
    got = f"{json_type(value)} {fmt(value)}"
    return Mismatch("type_error", f"argument {path!r}: expected {want}, got {got}")


def value_error(path: str, message: str | None, value: Any, exp: Any, explain: bool) -> Mismatch:
    if not explain:
        return QUIET_VALUE
    text = message if message is not None else f"{fmt(value)} != {fmt(exp)}"
    return Mismatch("value_error", f"argument {path!r}: {text}")

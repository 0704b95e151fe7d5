"""The Berkeley Function Calling Leaderboard's single-turn categories as tool_use cases.

Reads the question files and possible answers shipped inside the PyPI package `bfcl-eval`
(``bfcl_eval/data/BFCL_v*_<category>.json`` and ``data/possible_answer/...``), found without
importing the package: install it with ``pip install --no-deps bfcl-eval``, since its
dependencies (numpy pinned to 1.26.4, a dozen provider SDKs) are not needed for the data.

Conversion follows what BFCL itself sends to OpenAI-style servers (``convert_to_tool``): dots in
function names become underscores, BFCL's Python type names become JSON Schema types (``dict`` ->
object, ``float`` -> number, ``tuple`` -> array, ...), a property without a type is a string.
One deliberate difference: ``any`` becomes an unconstrained schema ``{}`` (BFCL sends
``string``), so the tool's schema does not reject the non-string values BFCL's answers allow.
Possible answers become `tool_call` checks unchanged (they already are BFCL's allowed-value
lists); the reference calls take the first allowed value of each parameter.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import orjson

from harness.errors import InputError, Problem
from harness.importers._common import log, package_dir, validate

INSTALL_HINT = (
    "install its data with `pip install --no-deps bfcl-eval` (--no-deps: only the data files are "
    "needed; its dependencies pin numpy 1.26.4 and pull a dozen provider SDKs)"
)
#: Categories with an AST ground truth (possible answers) that map onto `tool_call`.
AST_CATEGORIES = (
    "simple_python",
    "multiple",
    "parallel",
    "parallel_multiple",
    "live_simple",
    "live_multiple",
    "live_parallel",
    "live_parallel_multiple",
)
#: Categories where the right answer is to call nothing; they map onto `no_call`.
IRRELEVANCE_CATEGORIES = ("irrelevance", "live_irrelevance")
CATEGORIES = AST_CATEGORIES + IRRELEVANCE_CATEGORIES
ALIASES = {"simple": "simple_python"}
DEFAULT_CATEGORIES = ("simple_python", "multiple", "parallel", "parallel_multiple")
_UNSUPPORTED = {
    "simple_java": "its answers are Java source strings, judged by BFCL's Java type converter",
    "simple_javascript": (
        "its answers are JavaScript source strings, judged by BFCL's JS type converter"
    ),
    "live_relevance": "it has no ground truth (any call passes)",
    "format_sensitivity": "it tests prompt formats, not calls",
}
_MULTI_TURN = ("multi_turn", "memory", "web_search")

TYPE_MAP: dict[str, str | None] = {
    "integer": "integer",
    "int": "integer",
    "number": "number",
    "float": "number",
    "double": "number",
    "string": "string",
    "str": "string",
    "boolean": "boolean",
    "bool": "boolean",
    "array": "array",
    "list": "array",
    "tuple": "array",
    "dict": "object",
    "object": "object",
    "any": None,
}
NO_CALL_REFERENCE = "None of the available functions can do this, so I won't call any of them."


def resolve_category(name: str) -> str:
    cat = ALIASES.get(name, name)
    if cat in CATEGORIES:
        return cat
    if cat in _UNSUPPORTED:
        raise InputError(f"bfcl category {name!r} is not supported: {_UNSUPPORTED[cat]}")
    if cat.startswith(_MULTI_TURN):
        raise InputError(
            f"bfcl category {name!r} is not supported: "
            "it is multi-turn and stateful (BFCL executes the calls)"
        )
    known = ", ".join((*CATEGORIES, *ALIASES))
    raise InputError(f"unknown bfcl category {name!r} (known: {known})")


def data_file(root: Path, category: str, *, answers: bool) -> Path | None:
    """The newest ``BFCL_v<N>_<category>.json`` (question or possible-answer file)."""
    folder = root / "data" / ("possible_answer" if answers else "")
    pattern = re.compile(rf"^BFCL_v(\d+)_{re.escape(category)}\.json$")
    found = [
        (int(m.group(1)), p) for p in folder.glob("BFCL_v*.json") if (m := pattern.match(p.name))
    ]
    return max(found)[1] if found else None


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for i, line in enumerate(path.read_bytes().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise InputError(Problem(str(path), i, f"malformed JSON: {exc}")) from None
        rows.append(row)
    return rows


def tool_name(name: str) -> str:
    """OpenAI-style servers reject dots in function names; BFCL sends underscores."""
    return name.replace(".", "_")


def to_schema(prop: dict[str, Any]) -> dict[str, Any]:
    """One BFCL parameter schema as JSON Schema (recursively: properties and items)."""
    out = copy.deepcopy(prop)
    bfcl_type = out.pop("type", "string")
    mapped = TYPE_MAP.get(bfcl_type, "string") if isinstance(bfcl_type, str) else "string"
    if mapped is not None:
        out["type"] = mapped
    if isinstance(out.get("properties"), dict):
        out["properties"] = {k: to_schema(v) for k, v in out["properties"].items()}
    if isinstance(out.get("items"), dict):
        out["items"] = to_schema(out["items"])
    return out


def to_tool(function: dict[str, Any]) -> dict[str, Any]:
    params = to_schema(function.get("parameters") or {"type": "dict", "properties": {}})
    params["type"] = "object"
    params.setdefault("properties", {})
    fn: dict[str, Any] = {"name": tool_name(str(function["name"])), "parameters": params}
    if function.get("description"):
        fn["description"] = str(function["description"])
    return {"type": "function", "function": fn}


def _first(alternatives: Any) -> tuple[bool, Any]:
    """(found, value): the first allowed value that is not "" (the "may be omitted" marker)."""
    options = alternatives if isinstance(alternatives, list) else [alternatives]
    for option in options:
        if option != "":
            return True, _literal(option)
    return False, None


def _literal(value: Any) -> Any:
    """An allowed value as a concrete argument: nested dicts hold allowed lists again."""
    if isinstance(value, dict):
        out = {}
        for key, alternatives in value.items():
            found, chosen = _first(alternatives)
            if found:
                out[key] = chosen
        return out
    if isinstance(value, list):
        return [_literal(v) for v in value]
    return value


def _params(tools: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {t["function"]["name"]: t["function"]["parameters"] for t in tools}


def reference_calls(
    ground_truth: list[dict[str, Any]], tools: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One concrete call per expected call: the first allowed value of each parameter.

    Parameters that may be omitted and are not in the tool's schema are left out (BFCL's
    answers sometimes list another function's optional parameter with "").
    """
    schemas = _params(tools)
    calls = []
    for call in ground_truth:
        for name, params in call.items():
            props = schemas.get(tool_name(name), {}).get("properties", {})
            args = {}
            for param, allowed in params.items():
                found, value = _first(allowed)
                if found and (param in props or "" not in allowed):
                    args[param] = value
            calls.append({"name": tool_name(name), "arguments": args})
    return calls


def unmatchable(ground_truth: list[dict[str, Any]], tools: list[dict[str, Any]]) -> str | None:
    """Why no call can match the possible answer, for what `tool_call` does not catch itself."""
    schemas = _params(tools)
    for call in ground_truth:
        for name, params in call.items():
            required = schemas.get(tool_name(name), {}).get("required") or []
            for param in required:
                allowed = params.get(param)
                if isinstance(allowed, list) and allowed and all(v == "" for v in allowed):
                    return (
                        f'{name}: required parameter {param!r} may only be omitted ([""]) '
                        "in the possible answer, so no call can match"
                    )
    return None


def expected_calls(ground_truth: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"name": tool_name(name), "arguments": params}
        for call in ground_truth
        for name, params in call.items()
    ]


def to_case(row: dict[str, Any], category: str, answer: dict[str, Any] | None) -> dict[str, Any]:
    turns = row.get("question") or [[]]
    case: dict[str, Any] = {
        "id": f"bfcl-{row['id']}",
        "category": "tool_use",
        "description": f"BFCL {category} {row['id']}",
        "tags": ["bfcl", f"bfcl-{category}", "imported"],
        "messages": list(turns[0]),
        "tools": [to_tool(f) for f in row.get("function") or []],
    }
    if answer is None:
        case["reference"] = {"content": NO_CALL_REFERENCE}
        # BFCL passes any answer without a call; the length check keeps an empty answer failing.
        case["checks"] = [{"type": "no_call"}, {"type": "length", "min_chars": 1}]
    else:
        truth = answer["ground_truth"]
        case["reference"] = {"tool_calls": reference_calls(truth, case["tools"])}
        case["checks"] = [{"type": "tool_call", "calls": expected_calls(truth)}]
    return case


def load_cases(
    categories: list[str], limit: int | None, out: Path
) -> dict[str, list[dict[str, Any]]]:
    """Category -> valid case mappings; invalid BFCL rows are logged and skipped."""
    root = package_dir("bfcl_eval", INSTALL_HINT)
    wanted = [resolve_category(c) for c in categories] or list(DEFAULT_CATEGORIES)
    sets: dict[str, list[dict[str, Any]]] = {}
    for category in dict.fromkeys(wanted):
        questions = data_file(root, category, answers=False)
        if questions is None:
            raise InputError(
                f"bfcl-eval at {root} has no data file for {category!r}; upgrade it: {INSTALL_HINT}"
            )
        answers: dict[str, dict[str, Any]] = {}
        if category in AST_CATEGORIES:
            answer_file = data_file(root, category, answers=True)
            if answer_file is None:
                raise InputError(f"bfcl-eval at {root} has no possible answers for {category!r}")
            answers = {str(a["id"]): a for a in _read_jsonl(answer_file)}
        cases: list[dict[str, Any]] = []
        for row in _read_jsonl(questions):
            if limit is not None and len(cases) >= limit:
                break
            answer = answers.get(str(row["id"])) if category in AST_CATEGORIES else None
            if category in AST_CATEGORIES and answer is None:
                log.warning("bfcl %s: skipped: no possible answer for this question", row["id"])
                continue
            case = to_case(row, category, answer)
            reason = validate(case, out)
            if reason is None and answer is not None:
                reason = unmatchable(answer["ground_truth"], case["tools"])
            if reason is not None:
                log.warning("bfcl %s: skipped: %s", row["id"], reason)
                continue
            cases.append(case)
        sets[f"bfcl_{category}"] = cases
    warn_contradictions(sets)
    return sets


def warn_contradictions(sets: dict[str, list[dict[str, Any]]]) -> None:
    """Log rows that send the same request but expect different answers.

    BFCL has a few questions that appear, with the same tools, both in an AST category (a call
    is expected) and in `live_irrelevance` (no call is expected). They are kept as BFCL ships
    them; a person reading the results should know that no model can pass both.
    """
    seen: dict[bytes, dict[str, Any]] = {}
    for cases in sets.values():
        for case in cases:
            key = orjson.dumps([case["messages"], case["tools"]], option=orjson.OPT_SORT_KEYS)
            first = seen.setdefault(key, case)
            if first is not case and first["checks"] != case["checks"]:
                log.warning(
                    "bfcl %s and %s: the same question with the same tools, but different "
                    "expected answers; no model can pass both",
                    first["id"].removeprefix("bfcl-"),
                    case["id"].removeprefix("bfcl-"),
                )

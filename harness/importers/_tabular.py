"""Your own data as golden cases: JSON Lines, Parquet, CSV or a saved `datasets` dataset.

A small spec maps columns to case fields (docs/import.md has the reference):

    --spec "id=task_id,prompt=question,reference=answer,category=chat,check=contains"

Keys naming a column: ``id``, ``prompt``, ``system``, ``messages``, ``reference``, ``context``,
``tests``, ``entry_point``, ``description``. Keys holding a literal: ``category``, ``check``
(check types built from the reference, joined with ``|``), ``tags`` (joined with ``|``),
``split`` (for a saved dataset with several splits), ``max_tokens``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import orjson

from harness.errors import InputError, Problem
from harness.golden import CATEGORIES
from harness.importers._common import read_rows, validate

COLUMN_KEYS = (
    "id",
    "prompt",
    "system",
    "messages",
    "reference",
    "context",
    "tests",
    "entry_point",
    "description",
)
LITERAL_KEYS = ("category", "check", "tags", "split", "max_tokens")
#: Checks the importer can build from a row; what each needs from the reference or a column.
CHECKS = (
    "contains",
    "equals",
    "similarity",
    "numeric",
    "one_of",
    "json_valid",
    "json_match",
    "code_tests",
    "abstain",
    "citations",
    "refusal",
    "no_call",
    "none",
)
_SUFFIX_KIND = {
    ".jsonl": "json",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
}


def parse_spec(text: str | None, category: str | None = None) -> dict[str, str]:
    """``"a=b,c=d"`` -> {a: b, c: d}; unknown keys and a missing prompt are errors.

    `category` (from ``--category``) fills in ``category`` when the spec does not name one.
    """
    if not text:
        raise InputError(
            "--spec is required for jsonl, parquet and hf, e.g. "
            '--spec "prompt=question,reference=answer,check=contains"'
        )
    spec: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not value:
            raise InputError(f"--spec: {part.strip()!r} is not KEY=VALUE")
        if key not in COLUMN_KEYS + LITERAL_KEYS:
            raise InputError(
                f"--spec: unknown key {key!r} (known: {', '.join(COLUMN_KEYS + LITERAL_KEYS)})"
            )
        if key in spec:
            raise InputError(f"--spec: {key!r} given twice")
        spec[key] = value
    if "prompt" not in spec and "messages" not in spec:
        raise InputError(
            "--spec: name the column with the prompt (prompt=COLUMN) "
            "or with chat messages (messages=COLUMN)"
        )
    if category is not None:
        spec.setdefault("category", category)
    spec.setdefault("category", "chat")
    category = spec["category"]
    if category not in CATEGORIES:
        raise InputError(f"--spec: category {category!r} is not one of {', '.join(CATEGORIES)}")
    for check in _checks(spec):
        if check not in CHECKS:
            raise InputError(
                f"--spec: check {check!r} cannot be built from a row "
                f"(supported: {', '.join(CHECKS)})"
            )
    if "code_tests" in _checks(spec) and "tests" not in spec:
        raise InputError("--spec: check=code_tests needs the column with the tests (tests=COLUMN)")
    if "max_tokens" in spec and not spec["max_tokens"].isdigit():
        raise InputError(
            f"--spec: max_tokens must be a positive integer, not {spec['max_tokens']!r}"
        )
    return spec


def _checks(spec: dict[str, str]) -> list[str]:
    return [c.strip() for c in spec.get("check", "none").split("|") if c.strip()]


def source_kind(source: str, path: Path) -> str:
    if source == "parquet":
        return "parquet"
    if source == "jsonl":
        return "json"
    if path.is_dir():
        return "saved"
    kind = _SUFFIX_KIND.get(path.suffix.lower())
    if kind is None:
        raise InputError(
            Problem(
                str(path),
                0,
                "hf reads a dataset folder saved with save_to_disk, "
                "or a .jsonl/.json/.parquet/.csv file",
            )
        )
    return kind


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float | bool):
        return str(value)
    return orjson.dumps(value).decode()


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def _context(value: Any) -> list[dict[str, Any]]:
    """A context column: a list of strings (ids become 1, 2, ...) or of {id, text, source}."""
    items = _maybe_json(value)
    if not isinstance(items, list):
        raise ValueError("the context column must hold a list")
    chunks = []
    for i, item in enumerate(items, start=1):
        if isinstance(item, str):
            chunks.append({"id": str(i), "text": item})
        elif isinstance(item, dict) and "text" in item:
            chunk = {"id": str(item.get("id", i)), "text": str(item["text"])}
            if item.get("source"):
                chunk["source"] = str(item["source"])
            chunks.append(chunk)
        else:
            raise ValueError(f"context item {i} is neither a string nor {{id, text}}")
    return chunks


def _check(
    name: str, ref: str | None, row: dict[str, Any], spec: dict[str, str]
) -> dict[str, Any] | None:
    """The check `name` for one row (None for "none")."""
    if name == "none":
        return None
    if name in ("json_valid", "abstain", "citations", "refusal", "no_call"):
        return {"type": name}
    if name == "code_tests":
        check: dict[str, Any] = {"type": "code_tests", "tests": _text(row.get(spec["tests"])) or ""}
        entry_point = _text(row.get(spec["entry_point"])) if "entry_point" in spec else None
        if entry_point:
            check["entry_point"] = entry_point
        return check
    if ref is None:
        raise ValueError(f"check {name!r} needs a reference and the row has none")
    if name == "contains":
        return {"type": "contains", "value": ref}
    if name == "equals":
        return {"type": "equals", "value": ref, "ignore_case": True, "ignore_whitespace": True}
    if name == "similarity":
        return {"type": "similarity", "expected": ref}
    if name == "numeric":
        try:
            return {"type": "numeric", "expected": float(ref.replace(",", "")), "pick": "last"}
        except ValueError:
            raise ValueError(f"check 'numeric': the reference {ref!r} is not a number") from None
    if name == "one_of":
        values = _maybe_json(ref)
        return {
            "type": "one_of",
            "values": [str(v) for v in values] if isinstance(values, list) else [ref],
        }
    expected = _maybe_json(ref)
    if isinstance(expected, str):
        raise ValueError("check 'json_match': the reference is not JSON")
    return {"type": "json_match", "expected": expected}


def to_case(row: dict[str, Any], index: int, spec: dict[str, str], stem: str) -> dict[str, Any]:
    """One row as a case mapping (raises ValueError with a reason for a row that cannot be one)."""
    row_id = _text(row.get(spec["id"])) if "id" in spec else None
    case: dict[str, Any] = {
        "id": row_id or f"{stem}-{index}",
        "category": spec.get("category", "chat"),
        "tags": [t for t in spec.get("tags", f"imported|{stem}").split("|") if t],
    }
    if "messages" in spec:
        messages = _maybe_json(row.get(spec["messages"]))
        if not isinstance(messages, list) or not messages:
            raise ValueError(f"column {spec['messages']!r} does not hold a list of messages")
        case["messages"] = [{k: v for k, v in dict(m).items() if v is not None} for m in messages]
    else:
        prompt = _text(row.get(spec["prompt"]))
        if not prompt:
            raise ValueError(f"column {spec['prompt']!r} is empty")
        case["messages"] = []
        system = _text(row.get(spec["system"])) if "system" in spec else None
        if system:
            case["messages"].append({"role": "system", "content": system})
        case["messages"].append({"role": "user", "content": prompt})
    ref = _text(row.get(spec["reference"])) if "reference" in spec else None
    if ref is not None:
        case["reference"] = {"content": ref}
    if "context" in spec and row.get(spec["context"]) is not None:
        case["context"] = _context(row.get(spec["context"]))
    if "description" in spec and _text(row.get(spec["description"])):
        case["description"] = _text(row.get(spec["description"]))
    if "max_tokens" in spec:
        case["params"] = {"max_tokens": int(spec["max_tokens"])}
    checks = [c for name in _checks(spec) if (c := _check(name, ref, row, spec)) is not None]
    case["checks"] = checks
    return case


def load_cases(
    source: str,
    path: str | None,
    spec_text: str | None,
    limit: int | None,
    out: Path,
    *,
    category: str | None = None,
) -> dict[str, list[dict[str, Any]]]:
    if not path:
        raise InputError(
            f"harness import {source} needs a PATH (a file, or a dataset folder for hf)"
        )
    file = Path(path)
    if not file.exists():
        hint = (
            " (hf reads datasets saved on disk; it never downloads from the Hub)"
            if source == "hf"
            else ""
        )
        raise InputError(Problem(str(file), 0, f"no such file or directory{hint}"))
    spec = parse_spec(spec_text, category)
    missing_cols: list[str] = []
    rows = read_rows(file, source_kind(source, file), split=spec.get("split"))
    if rows:
        missing_cols = [spec[k] for k in COLUMN_KEYS if k in spec and spec[k] not in rows[0]]
    if missing_cols:
        have = ", ".join(rows[0])
        raise InputError(
            Problem(
                str(file),
                0,
                f"--spec names columns the data lacks: {', '.join(missing_cols)} (columns: {have})",
            )
        )
    stem = file.name.split(".")[0] if file.is_file() else file.name
    problems: list[Problem] = []
    cases: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for i, row in enumerate(rows, start=1):
        if limit is not None and len(cases) >= limit:
            break
        try:
            case = to_case(row, i, spec, stem)
        except ValueError as exc:
            problems.append(Problem(str(file), i, str(exc)))
            continue
        reason = validate(case, out)
        if reason is not None:
            problems.append(Problem(str(file), i, reason))
            continue
        if case["id"] in seen:
            problems.append(
                Problem(
                    str(file), i, f"duplicate id {case['id']!r} (first in row {seen[case['id']]})"
                )
            )
            continue
        seen[case["id"]] = i
        cases.append(case)
    if problems:
        raise InputError(problems[:50])
    return {stem: cases}

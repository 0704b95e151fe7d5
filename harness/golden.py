"""Golden cases: loading YAML / JSONL into validated cases, every problem as `file:line`.

A suite is the product's test data; it is written by hand, reviewed in pull requests and must
fail loudly and precisely when wrong. Every problem found is collected (not just the first) and
reported as ``file:line: message``. Loading also builds each case's checks, so a bad check
argument is a load error rather than a crash in the middle of a paid run. The models themselves
are in `harness._case` and re-exported here: import them from `harness.golden`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import yaml
from pydantic import ValidationError

from harness import _yamlpos
from harness._case import (
    CASE_FILE_SUFFIXES,
    CATEGORIES,
    SKIP_DIRS,
    Case,
    Category,
    ContextChunk,
    Message,
    Params,
    Reference,
    ReferenceToolCall,
    Suite,
    Tool,
    ToolFunction,
    compute_case_hash,
)
from harness.checks._base import BuildEnv, CheckArgError
from harness.errors import InputError, Problem, describe_validation_error

__all__ = [
    "CASE_FILE_SUFFIXES",
    "CATEGORIES",
    "SKIP_DIRS",
    "Case",
    "Category",
    "ContextChunk",
    "Message",
    "Params",
    "Reference",
    "ReferenceToolCall",
    "Suite",
    "Tool",
    "ToolFunction",
    "case_from_dict",
    "compute_case_hash",
    "find_golden_root",
    "load_suite",
]


def _describe(err: Any) -> str:
    if err["type"] == "literal_error" and err["loc"] and err["loc"][-1] == "category":
        return f"unknown category {err['input']!r} (expected one of: {', '.join(CATEGORIES)})"
    return describe_validation_error(err)


def _validation_problems(exc: ValidationError, file: str, line_for: Any) -> list[Problem]:
    problems = []
    seen: set[tuple[int, str]] = set()
    for err in exc.errors():
        loc = tuple(err["loc"])
        # Union members produce one error each; keep the first per location.
        loc = tuple(
            p
            for p in loc
            if not (isinstance(p, str) and ("[" in p or p in {"str", "list[dict[str,any]]"}))
        )
        line = line_for(loc)
        msg = _describe({**err, "loc": loc})
        if (line, msg) in seen:
            continue
        seen.add((line, msg))
        problems.append(Problem(file, line, msg))
    return problems


def _iter_case_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = []
    for p in sorted(path.rglob("*")):
        rel = p.relative_to(path).parts
        if any(part in SKIP_DIRS or part.startswith((".", "_")) for part in rel[:-1]):
            continue
        if p.is_file() and p.suffix in CASE_FILE_SUFFIXES and not p.name.startswith((".", "_")):
            files.append(p)
    return files


def _raw_cases(file: Path, problems: list[Problem]) -> Iterator[tuple[dict[str, Any], int, Any]]:
    """Yield (raw mapping, line, locator) per case; a locator maps a loc tuple to a line."""
    name = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(name, 1, f"cannot read: {exc}"))
        return
    if file.suffix == ".jsonl":
        count = 0
        for i, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                problems.append(Problem(name, i, f"malformed JSON: {exc}"))
                continue
            count += 1
            if not isinstance(obj, dict):
                problems.append(Problem(name, i, "a case must be a JSON object"))
                continue
            yield obj, i, (lambda loc, i=i: i)
        if count == 0 and not any(p.file == name for p in problems):
            problems.append(Problem(name, 1, "no cases"))
        return
    try:
        root = _yamlpos.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        yaml_line: int = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        problems.append(Problem(name, yaml_line, f"malformed YAML: {problem}"))
        return
    defaults: dict[str, Any] = {}
    items: yaml.Node | None = root
    if isinstance(root, yaml.MappingNode):
        items = None
        for key, value in root.value:
            if key.value == "cases":
                items = value
            elif key.value == "defaults":
                d = _yamlpos.construct(value)
                if not isinstance(d, dict):
                    problems.append(
                        Problem(name, value.start_mark.line + 1, "'defaults' must be a mapping")
                    )
                else:
                    defaults = d
            else:
                problems.append(
                    Problem(
                        name,
                        key.start_mark.line + 1,
                        f"unknown top-level key {key.value!r} "
                        "(expected 'cases' and optional 'defaults')",
                    )
                )
    if items is None or (isinstance(items, yaml.SequenceNode) and not items.value):
        problems.append(Problem(name, 1, "no cases"))
        return
    if not isinstance(items, yaml.SequenceNode):
        problems.append(Problem(name, items.start_mark.line + 1, "expected a list of cases"))
        return
    for node in items.value:
        line = node.start_mark.line + 1
        if not isinstance(node, yaml.MappingNode):
            problems.append(Problem(name, line, "a case must be a mapping"))
            continue
        raw = _yamlpos.construct(node)
        merged = {**defaults, **raw}
        yield merged, line, (lambda loc, node=node: _yamlpos.line_of(node, loc))


def find_golden_root(path: Path) -> Path:
    """The folder that holds `schemas/` and `corpora/` for the cases under `path`."""
    start = path if path.is_dir() else path.parent
    for p in (start, *start.parents):
        if (p / "schemas").is_dir() or (p / "corpora").is_dir():
            return p
    return start


def load_suite(path: str | Path = "golden", *, root: str | Path | None = None) -> Suite:
    """Load and validate every case under `path`; raise InputError listing every problem."""
    p = Path(path)
    if not p.exists():
        raise InputError(Problem(str(p), 0, "no such file or directory"))
    files = _iter_case_files(p)
    if not files:
        raise InputError(Problem(str(p), 0, f"no case files ({', '.join(CASE_FILE_SUFFIXES)})"))
    golden_root = Path(root) if root else find_golden_root(p)
    problems: list[Problem] = []
    cases: list[Case] = []
    first_seen: dict[str, tuple[str, int]] = {}
    for file in files:
        for raw, line, locate in _raw_cases(file, problems):
            try:
                case = Case.model_validate(raw)
            except ValidationError as exc:
                problems.extend(_validation_problems(exc, str(file), locate))
                continue
            env = BuildEnv(case_file=file, golden_root=golden_root, case=case)
            try:
                case.bind(env)
            except CheckArgError as exc:
                problems.append(Problem(str(file), locate(exc.loc), str(exc)))
                continue
            case._source = (str(file), line)
            if case.id in first_seen:
                f0, l0 = first_seen[case.id]
                problems.append(
                    Problem(str(file), line, f"duplicate case id {case.id!r} (first at {f0}:{l0})")
                )
                continue
            first_seen[case.id] = (str(file), line)
            cases.append(case)
    if problems:
        raise InputError(problems)
    return Suite(path=str(p), cases=cases)


def case_from_dict(raw: dict[str, Any], *, golden_root: str | Path = "golden") -> Case:
    """Build one case in code (tests, notebooks, importers); raises InputError when invalid."""
    try:
        case = Case.model_validate(raw)
        case.bind(
            BuildEnv(
                case_file=Path(golden_root) / "<memory>", golden_root=Path(golden_root), case=case
            )
        )
    except ValidationError as exc:
        raise InputError(_validation_problems(exc, "<memory>", lambda loc: 0)) from None
    except CheckArgError as exc:
        raise InputError(Problem("<memory>", 0, str(exc))) from None
    return case

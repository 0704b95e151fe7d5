"""Golden cases: the models, loading from YAML / JSONL, and `file:line` validation.

A suite is the product's test data; it is written by hand, reviewed in pull requests and must
fail loudly and precisely when wrong. Every problem found is collected (not just the first) and
reported as ``file:line: message``. Loading also builds each case's checks, so a bad check
argument is a load error rather than a crash in the middle of a paid run.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any, Literal

import orjson
import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from harness import _yamlpos
from harness.checks._base import BoundCheck, BuildEnv, CheckArgError, build_check
from harness.errors import InputError, Problem

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
        return v


@functools.lru_cache(maxsize=4096)
def _schema_problem(schema_json: bytes) -> str | None:
    """Why a tool's parameter schema is unusable, or None; cached because suites (and
    imported benchmark sets) repeat the same tool definitions across hundreds of cases."""
    schema = orjson.loads(schema_json)
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return f"not a valid JSON Schema: {exc.message}"
    if schema.get("type", "object") != "object":
        return "tool parameters must be a JSON Schema of type 'object'"
    return None


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


# --------------------------------------------------------------------------- loading


def _describe(err: Any) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        return f"unknown key {loc!r}"
    if err["type"] == "missing":
        return f"missing required key {loc!r}"
    if err["type"] == "literal_error" and err["loc"] and err["loc"][-1] == "category":
        return f"unknown category {err['input']!r} (expected one of: {', '.join(CATEGORIES)})"
    msg = str(err["msg"])
    msg = re.sub(r"^Value error, ", "", msg)
    return f"{loc}: {msg}" if loc else msg


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

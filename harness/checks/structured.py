"""Structured-output checks: `json_valid`, `json_schema`, `json_match`.

All three find the JSON the same way (`_json_extract`: the whole answer, a fenced block, or the
longest balanced ``{...}``/``[...]`` in prose; `strict: true` accepts only the whole answer) and
say where they found it or where they looked. Schemas are checked and compiled when the golden
file loads, and one compiled validator is shared by every case that uses the same schema.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import orjson
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError, ValidationError, best_match
from pydantic import Field
from pydantic.dataclasses import dataclass

from harness.checks._base import CHECK_CONFIG, BuildEnv, CheckContext, CheckResult, register
from harness.checks._json_extract import Found, find_json
from harness.checks._json_match import Matcher, Opts, norm_path
from harness.checks._text_norm import answer_text

MAX_LISTED = 20
"""Violations listed in a detail; the rest are counted."""


def _extract(ctx: CheckContext, strict: bool) -> Found | CheckResult:
    found = find_json(answer_text(ctx), strict=strict)
    if isinstance(found, Found):
        return found
    return CheckResult(passed=False, detail=f"no valid JSON: {found.detail}")


@register("json_valid")
@dataclass(config=CHECK_CONFIG)
class JsonValid:
    """The answer holds valid JSON (see the module doc for where it looks)."""

    strict: bool = False

    def __call__(self, ctx: CheckContext) -> CheckResult:
        found = _extract(ctx, self.strict)
        if isinstance(found, CheckResult):
            return found
        return CheckResult(passed=True, detail=f"JSON found in {found.where}")


@lru_cache(maxsize=256)
def _validator(schema_json: bytes, formats: bool) -> Draft202012Validator:
    schema = orjson.loads(schema_json)
    return Draft202012Validator(schema, format_checker=FormatChecker() if formats else None)


def _load_schema_file(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        return yaml.safe_load(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"schema file {str(path)!r} is not valid JSON: {exc}") from None


def _message(err: ValidationError) -> str:
    msg = err.message
    if len(msg) > 200:
        msg = msg[:199] + "…"
    if err.context:
        # A branch of the right type that failed deeper says more than "is not of type 'array'".
        deeper = [e for e in err.context if e.validator != "type"]
        closest = best_match(deeper or err.context)
        msg += f" (closest: {closest.json_path}: {closest.message[:120]})"
    return f"{err.json_path}: {msg}"


@register("json_schema")
@dataclass(config=CHECK_CONFIG)
class JsonSchema:
    """The answer's JSON validates against a JSON Schema (Draft 2020-12).

    `schema` is an inline schema or a file name (``invoice.json``, ``.yaml``) looked up next to
    the case file, then under golden/schemas/. Once loaded, the file's content replaces the
    name (so editing the file changes the case hash). `formats` (default true) enforces
    ``format`` (date, date-time, email, uuid, ipv4, ...), which the draft otherwise treats as an
    annotation. Every violation is listed with its JSON path.
    """

    schema: dict[str, Any] | bool | str
    formats: bool = True
    strict: bool = False

    def __post_init__(self) -> None:
        self._name = "inline schema"
        self._validator: Draft202012Validator | None = None
        if not isinstance(self.schema, str):
            self._compile(self.schema)

    def _compile(self, schema: Any) -> None:
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            where = exc.json_path if exc.path else "the schema"
            raise ValueError(f"{self._name} is invalid: {where}: {exc.message}") from None
        blob = orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)
        self._validator = _validator(blob, self.formats)

    def bind(self, env: BuildEnv) -> None:
        if isinstance(self.schema, str):
            path = env.resolve(self.schema, "schemas")
            self._name = f"schema {self.schema!r}"
            try:
                loaded = _load_schema_file(path)
            except (OSError, yaml.YAMLError) as exc:
                raise ValueError(f"cannot read {self._name}: {exc}") from None
            self._compile(loaded)
            self.schema = loaded

    def __call__(self, ctx: CheckContext) -> CheckResult:
        if self._validator is None:
            return CheckResult(
                passed=False, error=True, detail=f"{self._name} was never loaded (check not bound)"
            )
        found = _extract(ctx, self.strict)
        if isinstance(found, CheckResult):
            return found
        errors = sorted(
            self._validator.iter_errors(found.value),
            key=lambda e: [str(p) for p in e.absolute_path],
        )
        if not errors:
            return CheckResult(passed=True, detail=f"valid (JSON from {found.where})")
        lines = [_message(e) for e in errors[:MAX_LISTED]]
        more = f"; and {len(errors) - MAX_LISTED} more" if len(errors) > MAX_LISTED else ""
        n = len(errors)
        return CheckResult(
            passed=False,
            detail=f"{n} violation{'s' if n != 1 else ''} of {self._name}: "
            + "; ".join(lines)
            + more,
            data={"violations": [f"{e.json_path}: {e.message[:200]}" for e in errors[:100]]},
        )


@dataclass(config=CHECK_CONFIG)
class FieldOptions:
    """Per-field overrides of json_match's normalisation; unset ones inherit the check's."""

    ignore_case: bool | None = None
    strip: bool | None = None
    numeric_tolerance: Annotated[float, Field(ge=0)] | None = None


@register("json_match")
@dataclass(config=CHECK_CONFIG)
class JsonMatch:
    """The answer's JSON contains `expected` as a subset; the score is the share of leaves matched.

    Strings compare after `strip` (default true) and `ignore_case` (default false); numbers
    within `numeric_tolerance` (absolute; an int matches an equal float); booleans and null
    exactly. Lists are ordered unless `unordered: true` (all lists) or listed in
    `unordered_lists` by path (``$.tags``, ``$.items[*].codes``). `fields` overrides the
    normalisation per path: ``fields: {$.name: {ignore_case: true}}``.
    """

    expected: Any
    ignore_case: bool = False
    strip: bool = True
    numeric_tolerance: Annotated[float, Field(ge=0)] = 0.0
    unordered: bool = False
    unordered_lists: list[str] = Field(default_factory=list)
    allow_extra_items: bool = False
    fields: dict[str, FieldOptions] = Field(default_factory=dict)
    strict: bool = False

    def __post_init__(self) -> None:
        base = Opts(self.ignore_case, self.strip, self.numeric_tolerance)
        per_field = {
            norm_path(path): Opts(
                base.ignore_case if o.ignore_case is None else o.ignore_case,
                base.strip if o.strip is None else o.strip,
                base.numeric_tolerance if o.numeric_tolerance is None else o.numeric_tolerance,
            )
            for path, o in self.fields.items()
        }
        self._matcher = Matcher(
            base,
            per_field,
            self.unordered,
            frozenset(norm_path(p) for p in self.unordered_lists),
            self.allow_extra_items,
        )

    def __call__(self, ctx: CheckContext) -> CheckResult:
        found = _extract(ctx, self.strict)
        if isinstance(found, CheckResult):
            return found
        out = self._matcher.compare(self.expected, found.value)
        score = out.matched / out.total if out.total else 1.0
        data = {"matched": out.matched, "leaves": out.total}
        if not out.problems:
            return CheckResult(
                passed=True, score=1.0, detail=f"{out.matched} fields match", data=data
            )
        shown = "; ".join(out.problems[:MAX_LISTED])
        more = (
            f"; and {len(out.problems) - MAX_LISTED} more" if len(out.problems) > MAX_LISTED else ""
        )
        return CheckResult(
            passed=False,
            score=score,
            detail=f"{out.total - out.matched} of {out.total} fields differ: {shown}{more}",
            data=data,
        )

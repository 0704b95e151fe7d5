"""What a check is, what it sees, and the registry that names checks in golden files.

A check is a small dataclass whose fields are its arguments (so a golden case can write
``{type: contains, value: "refund"}``) and whose ``__call__`` turns one output into a verdict.
Checks are pydantic dataclasses with unknown fields forbidden: bad arguments fail when the
golden file is loaded, with the file and line, never half-way through a run.

Built-in checks register exactly the way third-party ones do: with `@register("name")`, or from
another package through the ``harness.checks`` entry-point group (simonw/llm's plugin idea).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pydantic import ConfigDict, ValidationError

from harness.records import FinishReason, Output, Usage

if TYPE_CHECKING:
    from harness.endpoints import Endpoint
    from harness.golden import Case

#: The pydantic config every check dataclass should use: unknown arguments are an error.
CHECK_CONFIG = ConfigDict(extra="forbid", arbitrary_types_allowed=True)


@dataclass
class CheckContext:
    """Everything a check may look at for one record."""

    case: Case
    output: Output
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    latency_s: float | None = None
    ttft_s: float | None = None
    attempts: int = 1
    endpoint: Endpoint | None = None

    @property
    def text(self) -> str:
        """The answer text ('' when the model said nothing), reasoning excluded."""
        return self.output.content or ""


@dataclass
class CheckResult:
    passed: bool
    score: float | None = None
    """0..1; defaults to 1.0 when passed and 0.0 when not."""
    detail: str = ""
    """What exactly was wrong, for a person: the JSON path, the argument, the test, the citation."""
    error: bool = False
    """The check could not reach a verdict (it is then counted as failed and shown as an error)."""
    data: dict[str, Any] | None = None

    def final_score(self) -> float:
        if self.score is not None:
            return float(self.score)
        return 1.0 if self.passed else 0.0


class Check(Protocol):
    def __call__(self, ctx: CheckContext) -> CheckResult | Awaitable[CheckResult]: ...


@dataclass
class BuildEnv:
    """Where a check being built can find the files its arguments name."""

    case_file: Path
    golden_root: Path
    """The suite's root folder; `golden_root / 'schemas'` holds shared JSON Schemas."""
    case: Any = None
    """The raw case mapping being built, for checks that validate against the case itself."""

    def resolve(self, name: str, subdir: str) -> Path:
        """Find a named file: beside the case file, under the root's `subdir`, or at the root."""
        candidates = [
            self.case_file.parent / name,
            self.golden_root / subdir / name,
            self.golden_root / name,
            Path(name),
        ]
        for c in candidates:
            if c.is_file():
                return c
        raise ValueError(f"file {name!r} not found (looked in {self.golden_root / subdir})")


class CheckArgError(ValueError):
    """A check's arguments are wrong; `loc` is the argument's path inside the check spec."""

    def __init__(self, message: str, loc: tuple[int | str, ...] = ()) -> None:
        super().__init__(message)
        self.loc = loc


T = TypeVar("T")
_REGISTRY: dict[str, type[Any]] = {}
_PLUGINS_LOADED = False


def register(name: str) -> Callable[[type[T]], type[T]]:
    """Class decorator: make a check available to golden files under `name`."""

    def deco(cls: type[T]) -> type[T]:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"check {name!r} registered twice")
        _REGISTRY[name] = cls
        cls.check_name = name  # type: ignore[attr-defined]
        return cls

    return deco


def _load_plugins() -> None:
    global _PLUGINS_LOADED
    if _PLUGINS_LOADED:
        return
    _PLUGINS_LOADED = True
    import harness.checks  # noqa: F401  (registers the built-ins)

    for ep in entry_points(group="harness.checks"):
        ep.load()


def check_names() -> list[str]:
    _load_plugins()
    return sorted(_REGISTRY)


def get_check_class(name: str) -> type[Any]:
    _load_plugins()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise CheckArgError(
            f"unknown check type {name!r} (known: {', '.join(sorted(_REGISTRY))})", ("type",)
        ) from None


@dataclass
class BoundCheck:
    """A check built from a case's spec, with the case-level knobs that wrap it."""

    name: str
    check: Any
    weight: float = 1.0
    negate: bool = False
    spec: dict[str, Any] = field(default_factory=dict)


def build_check(spec: dict[str, Any], env: BuildEnv) -> BoundCheck:
    """Build one check from its spec; raises CheckArgError with the argument's location."""
    if not isinstance(spec, dict) or "type" not in spec:
        raise CheckArgError("a check needs a 'type'", ())
    args = dict(spec)
    name = args.pop("type")
    weight = args.pop("weight", 1.0)
    negate = args.pop("negate", False)
    if not isinstance(weight, int | float) or isinstance(weight, bool) or weight < 0:
        raise CheckArgError("'weight' must be a number >= 0", ("weight",))
    if not isinstance(negate, bool):
        raise CheckArgError("'negate' must be true or false", ("negate",))
    cls = get_check_class(str(name))
    try:
        check = cls(**args)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(p for p in err["loc"] if p != "__root__")
        where = ".".join(str(p) for p in loc)
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "unexpected_keyword_argument" or err["type"] == "extra_forbidden":
            msg = f"unknown argument {where!r}"
            allowed = [f for f in getattr(cls, "__dataclass_fields__", {}) if not f.startswith("_")]
            msg += f" (allowed: {', '.join(allowed)})"
        elif err["type"] == "missing_argument" or err["type"] == "missing":
            msg = f"missing argument {where!r}"
        else:
            msg = f"argument {where!r}: {msg}" if where else msg
        raise CheckArgError(f"check {name!r}: {msg}", loc) from None
    except (TypeError, ValueError) as exc:
        raise CheckArgError(f"check {name!r}: {exc}", ()) from None
    bind = getattr(check, "bind", None)
    if bind is not None:
        try:
            bind(env)
        except CheckArgError as exc:
            raise CheckArgError(f"check {name!r}: {exc}", exc.loc) from None
        except (TypeError, ValueError) as exc:
            raise CheckArgError(f"check {name!r}: {exc}", ()) from None
    return BoundCheck(name=str(name), check=check, weight=float(weight), negate=negate, spec=spec)


async def run_check(bound: BoundCheck, ctx: CheckContext) -> CheckResult:
    """Call a check (sync or async) and apply `negate`; a crashing check is an error verdict."""
    try:
        result = bound.check(ctx)
        if inspect.isawaitable(result):
            result = await result
    except Exception as exc:  # a check bug must not kill a run; it shows as an error verdict
        return CheckResult(False, 0.0, f"check raised {type(exc).__name__}: {exc}", error=True)
    if not isinstance(result, CheckResult):  # e.g. a plugin check that returns a bare bool
        return CheckResult(
            False, 0.0, f"check returned {type(result).__name__}, not a CheckResult", error=True
        )
    if bound.negate and not result.error:
        return CheckResult(
            passed=not result.passed,
            score=1.0 - result.final_score(),
            detail=("negated; the check passed: " if result.passed else "negated: ")
            + result.detail,
            data=result.data,
        )
    return result

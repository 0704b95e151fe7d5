"""`json_match`'s comparison: expected values as a subset of the answer's JSON, leaf by leaf.

A leaf is a scalar of the expected value (string, number, boolean, null) or an empty object or
list. Objects match as subsets: every expected key must be present, extra keys are fine. Lists
match item by item, or, where asked, regardless of order through an optimal assignment (the
pairing that matches the most leaves, `scipy.optimize.linear_sum_assignment`, not first-fit).
An actual list longer than the expected one is a failure unless extra items are allowed.

Paths are written like JSONPath: ``$.items[2].price``; options that target fields take the
same form with ``[*]`` for "any index" (``$.items[*].name``), and a leading ``$.`` may be left
out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
from scipy.optimize import linear_sum_assignment

from harness.checks._numbers import format_number


@dataclass(frozen=True, slots=True)
class Opts:
    ignore_case: bool = False
    strip: bool = True
    numeric_tolerance: float = 0.0


@dataclass(slots=True)
class Outcome:
    matched: int = 0
    total: int = 0
    problems: list[str] = field(default_factory=list)

    def add(self, other: Outcome) -> None:
        self.matched += other.matched
        self.total += other.total
        self.problems.extend(other.problems)


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_INDEX = re.compile(r"\[\d+\]")


def key_path(path: str, key: str) -> str:
    return f"{path}.{key}" if _IDENT.match(key) else f"{path}[{orjson.dumps(key).decode()}]"


def norm_path(path: str) -> str:
    """A user's path in canonical form: ``items[].name`` -> ``$.items[*].name``."""
    p = path.strip().replace("[]", "[*]")
    if p == "$" or p.startswith(("$.", "$[")):
        return p
    return "$" + p if p.startswith("[") else "$." + p


def leaves(value: Any) -> int:
    if isinstance(value, dict) and value:
        return sum(leaves(v) for v in value.values())
    if isinstance(value, list) and value:
        return sum(leaves(v) for v in value)
    return 1


def show(value: Any, limit: int = 60) -> str:
    if isinstance(value, float | int) and not isinstance(value, bool):
        return format_number(float(value)) if isinstance(value, float) else str(value)
    text = orjson.dumps(value).decode()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


class Matcher:
    def __init__(
        self,
        opts: Opts,
        fields: dict[str, Opts],
        unordered: bool,
        unordered_paths: frozenset[str],
        allow_extra_items: bool,
    ) -> None:
        self.opts = opts
        self.fields = fields
        self.unordered = unordered
        self.unordered_paths = unordered_paths
        self.allow_extra_items = allow_extra_items
        self._wild_cache: dict[str, str] = {}

    def _wild(self, path: str) -> str:
        wild = self._wild_cache.get(path)
        if wild is None:
            if len(self._wild_cache) > 10_000:
                self._wild_cache.clear()
            wild = self._wild_cache[path] = _INDEX.sub("[*]", path)
        return wild

    def _opts(self, path: str) -> Opts:
        if not self.fields:
            return self.opts
        found = self.fields.get(path)
        if found is None:
            found = self.fields.get(self._wild(path))
        return found or self.opts

    def _is_unordered(self, path: str) -> bool:
        return self.unordered or (
            bool(self.unordered_paths)
            and (path in self.unordered_paths or self._wild(path) in self.unordered_paths)
        )

    def compare(self, exp: Any, act: Any, path: str = "$", explain: bool = True) -> Outcome:
        """Leaves matched of `exp` in `act`; `explain=False` skips writing the problems."""
        if isinstance(exp, dict):
            return self._dict(exp, act, path, explain)
        if isinstance(exp, list):
            return self._list(exp, act, path, explain)
        return self._scalar(exp, act, path, explain)

    def _dict(self, exp: dict[str, Any], act: Any, path: str, explain: bool) -> Outcome:
        if not isinstance(act, dict):
            if not explain:
                return Outcome(0, leaves(exp))
            return Outcome(
                0, leaves(exp), [f"{path}: expected an object, got {_kind(act)} {show(act)}"]
            )
        if not exp:
            return Outcome(1, 1)
        out = Outcome()
        for key, value in exp.items():
            sub = key_path(path, key)
            if key not in act:
                msg = [f"{sub}: missing (expected {show(value)})"] if explain else []
                out.add(Outcome(0, leaves(value), msg))
            else:
                out.add(self.compare(value, act[key], sub, explain))
        return out

    def _list(self, exp: list[Any], act: Any, path: str, explain: bool) -> Outcome:
        if not isinstance(act, list):
            if not explain:
                return Outcome(0, leaves(exp))
            return Outcome(
                0, leaves(exp), [f"{path}: expected a list, got {_kind(act)} {show(act)}"]
            )
        if not exp:
            ok = not act or self.allow_extra_items
            return Outcome(
                int(ok), 1, [] if ok else [f"{path}: expected an empty list, got {show(act)}"]
            )
        out = Outcome()
        if self._is_unordered(path):
            pairs = self._assign(exp, act, path, explain)
        else:
            pairs = [
                (i, i, self.compare(exp[i], act[i], f"{path}[{i}]", explain))
                for i in range(min(len(exp), len(act)))
            ]
        paired = {i for i, _, _ in pairs}
        for _, _, sub in pairs:
            out.add(sub)
        for i, value in enumerate(exp):
            if i not in paired:
                where = (
                    f"{path}[{i}]"
                    if not self._is_unordered(path)
                    else f"{path} item {show(value, 40)}"
                )
                out.add(Outcome(0, leaves(value), [f"{where}: missing"]))
        extra = len(act) - len(exp)
        if extra > 0 and not self.allow_extra_items:
            out.total += 1
            out.problems.append(
                f"{path}: expected {len(exp)} items, got {len(act)} ({extra} extra)"
            )
        return out

    def _assign(
        self, exp: list[Any], act: list[Any], path: str, explain: bool
    ) -> list[tuple[int, int, Outcome]]:
        """Pair expected and actual items so that the most leaves match (a true matching).

        The grid is scored without explanations; only the chosen pairs are explained.
        """
        gain = np.array(
            [
                [self.compare(e, a, f"{path}[{j}]", False).matched for j, a in enumerate(act)]
                for e in exp
            ],
            dtype=float,
        )
        rows, cols = linear_sum_assignment(gain, maximize=True)
        return [
            (int(i), int(j), self.compare(exp[i], act[j], f"{path}[{j}]", explain))
            for i, j in zip(rows, cols, strict=True)
        ]

    def _scalar(self, exp: Any, act: Any, path: str, explain: bool) -> Outcome:
        opts = self._opts(path)
        ok = False
        note = ""
        if isinstance(exp, bool) or exp is None:
            ok = act is exp
        elif isinstance(exp, int | float):
            if isinstance(act, int | float) and not isinstance(act, bool):
                ok = abs(float(act) - float(exp)) <= opts.numeric_tolerance + 1e-12
                if opts.numeric_tolerance:
                    note = f" (tolerance {format_number(opts.numeric_tolerance)})"
        elif isinstance(exp, str) and isinstance(act, str):
            a, e = act, exp
            if opts.strip:
                a, e = a.strip(), e.strip()
            if opts.ignore_case:
                a, e = a.casefold(), e.casefold()
                note = " (ignoring case)"
            ok = a == e
        if ok:
            return Outcome(1, 1)
        if not explain:
            return Outcome(0, 1)
        got = show(act)
        if type(act) is not type(exp) and not (
            isinstance(act, int | float)
            and isinstance(exp, int | float)
            and not isinstance(act, bool)
            and not isinstance(exp, bool)
        ):
            got = f"{_kind(act)} {got}"
        return Outcome(0, 1, [f"{path}: expected {show(exp)}, got {got}{note}"])

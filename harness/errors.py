"""Errors a user can act on.

Bad input (a golden file, a config, a flag) is never a traceback: it is raised as
`InputError` carrying one or more `file:line: message` problems, and the command line prints
them and exits 2. Keeping the problems as data lets `harness validate` report every problem in
a suite at once instead of stopping at the first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, located as precisely as we can."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        if self.line <= 0:  # a problem with the file as a whole (missing, empty folder)
            return f"{self.file}: {self.message}"
        return f"{self.file}:{self.line}: {self.message}"


def describe_validation_error(err: Mapping[str, Any]) -> str:
    """One pydantic error as a person reads it: `unknown key 'x'`, `missing required key 'y'`.

    Shared by every file the harness validates (golden cases, endpoint configs, the gate), so
    the same mistake reads the same way wherever it is made.
    """
    loc = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        return f"unknown key {loc!r}"
    if err["type"] == "missing":
        return f"missing required key {loc!r}"
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"{loc}: {msg}" if loc else msg


class InputError(Exception):
    """Bad user input; the CLI prints each problem on one line and exits 2."""

    def __init__(self, problems: Sequence[Problem | str] | Problem | str) -> None:
        if isinstance(problems, str | Problem):
            problems = [problems] if problems else []
        self.problems: list[Problem] = [
            Problem("<input>", 0, p) if isinstance(p, str) else p for p in problems
        ]
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        return [p.message if p.file == "<input>" else str(p) for p in self.problems]


class UsageError(InputError):
    """A command-line usage mistake (conflicting or missing flags)."""


class EndpointFailing(InputError):
    """Records in a row failed with an error no other case can escape (key, quota, model, host).

    Raised by the runner after `limits.fail_fast_after` such records, so a wrong key or model
    name costs ten calls instead of a whole suite (hours, under an RPM limit).
    """

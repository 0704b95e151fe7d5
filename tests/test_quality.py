"""The code stays typed and linted: mypy --strict and ruff, as part of the test command."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_ruff_clean() -> None:
    if importlib.util.find_spec("ruff") is None:
        pytest.skip("ruff not installed (pip install -e '.[dev]')")
    for command in (["check"], ["format", "--check"]):
        proc = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "harness", "tests", "benchmarks", "evals"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_mypy_strict_clean() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "harness", "tests", "benchmarks", "evals"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if "No module named mypy" in proc.stderr:
        pytest.skip("mypy not installed (pip install -e '.[dev]')")
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]

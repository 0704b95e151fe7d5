"""Progress when stderr is a log (CI): plain status lines, and nothing when told to be quiet."""

from __future__ import annotations

import re

import pytest

from harness._progress import Progress
from harness.records import ErrorInfo, Record

from .conftest import make_record


def _rec(ok: bool) -> Record:
    error = None if ok else ErrorInfo(type="timeout", message="slow")
    return make_record(status="ok" if ok else "error", passed=ok, error=error)


def test_status_lines_go_to_a_log_and_stop_before_the_end(
    capsys: pytest.CaptureFixture[str],
) -> None:
    progress = Progress(4, every_s=0.0)  # stderr is captured: not a terminal
    for ok in (True, False, True, True):
        progress.update(_rec(ok))
    progress.close()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3  # the last record ends the run; the summary follows it instead
    pattern = r"harness: (\d)/4 cases \(\d+%\), passed (\d), errors (\d), [\d.]+ cases/s(, about \S+ left)?"
    parsed = [re.fullmatch(pattern, line) for line in lines]
    assert all(parsed), lines
    assert [m.group(1, 2, 3) for m in parsed if m] == [
        ("1", "1", "0"),
        ("2", "1", "1"),
        ("3", "2", "1"),
    ]


def test_no_lines_when_quiet_or_before_the_interval(capsys: pytest.CaptureFixture[str]) -> None:
    for progress in (Progress(3, show=False, every_s=0.0), Progress(3)):  # quiet; 30 s interval
        for _ in range(2):
            progress.update(_rec(True))
        progress.close()
    assert capsys.readouterr().err == ""


def test_the_status_line_reads_as_a_person_would_say_it() -> None:
    progress = Progress(2000, show=False)
    progress.done, progress.passed, progress.errors = 500, 480, 3
    assert progress.status_line(100.0) == (
        "harness: 500/2000 cases (25%), passed 480, errors 3, 5.0 cases/s, about 5m00s left"
    )
    progress.done = 100
    assert progress.status_line(100.0).endswith("1.0 cases/s, about 31m40s left")
    progress.done = 10
    assert progress.status_line(100.0).endswith("0.1 cases/s, about 5h31m left")

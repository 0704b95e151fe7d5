"""The run directory: flushed appends, a torn last line repaired, atomic manifest."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import InputError
from harness.records import Manifest, Record, SuiteInfo
from harness.store import RESULTS, ResultsWriter, load_manifest, load_records, write_manifest


def _rec(i: int, status: str = "ok", repeat: int = 0) -> Record:
    return Record(
        case_id=f"c{i}",
        case_hash="h",
        category="chat",
        repeat=repeat,
        endpoint="e",
        model="m",
        status=status,
        started_at="2026-01-01T00:00:00Z",
        passed=status == "ok",
    )


def test_append_and_torn_tail_repair(tmp_path: Path) -> None:
    w = ResultsWriter(tmp_path)
    for i in range(3):
        w.append(_rec(i))
    w.close()
    with (tmp_path / RESULTS).open("ab") as f:
        f.write(b'{"case_id": "c3", "case_ha')  # a kill in the middle of a write
    assert [r.case_id for r in load_records(tmp_path)] == ["c0", "c1", "c2"]
    w = ResultsWriter(tmp_path)
    w.append(_rec(3))
    w.close()
    lines = (tmp_path / RESULTS).read_bytes().splitlines()
    assert len(lines) == 4
    assert [r.case_id for r in load_records(tmp_path)] == ["c0", "c1", "c2", "c3"]


def test_corruption_in_the_middle_is_an_error(tmp_path: Path) -> None:
    (tmp_path / RESULTS).write_bytes(b'{"x": 1\n' + _rec(0).model_dump_json().encode() + b"\n")
    with pytest.raises(InputError, match=r"results.jsonl:1: corrupt record line"):
        load_records(tmp_path)


def test_latest_record_per_key_wins(tmp_path: Path) -> None:
    w = ResultsWriter(tmp_path)
    w.append(_rec(0, "error"))
    w.append(_rec(0, "ok"))
    w.close()
    recs = load_records(tmp_path)
    assert len(recs) == 1 and recs[0].status == "ok"
    assert len(load_records(tmp_path, latest_only=False)) == 2


def test_manifest_round_trip_and_missing(tmp_path: Path) -> None:
    m = Manifest(
        run_id="r",
        harness_version="0",
        suite=SuiteInfo(path="golden", hash="x", cases=1),
        endpoint={"name": "e"},
        started_at="t",
    )
    write_manifest(tmp_path, m)
    assert load_manifest(tmp_path).run_id == "r"
    assert not list(tmp_path.glob(".manifest*"))  # no temp files left behind
    with pytest.raises(InputError, match="not a run directory"):
        load_manifest(tmp_path / "nope")

"""rescore (verdicts from stored outputs, no calls) and selftest (checks that can pass and fail)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from harness.endpoints import Endpoint, Limits
from harness.rescore import rescore_run
from harness.runner import run_suite
from harness.selftest import selftest
from harness.sim import SimConfig, SimServer
from harness.store import load_manifest, load_records

from .conftest import make_cases, make_record, write_suite


def test_rescore_uses_stored_outputs_only(tmp_path: Path) -> None:
    cases = make_cases(6)
    suite = write_suite(tmp_path / "g" / "c.yaml", cases)
    with SimServer(suite, SimConfig()) as sim:
        ep = Endpoint(name="sim", base_url=sim.base_url, model="sim", limits=Limits(concurrency=4))
        res = asyncio.run(run_suite(suite, ep, out_dir=tmp_path / "run", progress=False))
    assert all(r.passed for r in load_records(res.path))
    # The simulator is gone: any call now would be an error record. Tighten two checks.
    cases[0]["checks"] = [{"type": "contains", "value": "banana"}]
    cases[1]["checks"].append({"type": "length", "max_words": 3})
    write_suite(tmp_path / "g" / "c.yaml", cases)
    result = rescore_run(res.path)
    assert (result.total, result.flipped, result.missing) == (6, 2, 0)
    recs = {r.case_id: r for r in load_records(res.path)}
    assert [c.detail for c in recs["c00000"].checks] == [
        "missing 'banana' (ignoring case) in 'The code word for item 0 is kiwi-0.'"
    ] or not recs["c00000"].passed
    assert not recs["c00000"].passed and not recs["c00001"].passed
    assert all(r.status == "ok" for r in recs.values())
    assert recs["c00000"].case_hash != suite.by_id()["c00000"].case_hash  # the case changed
    assert load_manifest(res.path).rescored_at is not None


def test_selftest_reports_broken_and_unfailable_cases(tmp_path: Path) -> None:
    cases = make_cases(4)
    cases[1]["reference"]["content"] = "no code word here"  # the reference fails its own check
    cases[2]["checks"] = [{"type": "length", "max_words": 50}]  # an empty answer passes this
    cases[3]["checks"] = []  # only measured
    write_suite(tmp_path / "g" / "c.yaml", cases)
    result = selftest(tmp_path / "g")
    assert not result.ok
    assert [r.case_id for r in result.reference_failures] == ["c00001"]
    assert result.empty_passes == ["c00002"]
    assert result.unchecked == ["c00003"]
    text = "\n".join(result.lines())
    assert "FAIL reference c00001: contains: missing 'kiwi-1'" in text
    assert "CANNOT FAIL c00002" in text and "UNCHECKED c00003" in text


def test_measured_only_cases_are_left_out_of_the_pass_rate() -> None:
    """The terminal summary and the --min-pass-rate gates use the report's definition."""
    from harness.records import CheckOutcome, Record
    from harness.summary import min_pass_rate_verdict, summarize, summary_lines

    def rec(i: int, passed: bool, checked: bool = True, status: str = "ok") -> Record:
        checks = [CheckOutcome(name="contains", passed=passed, score=float(passed))]
        return make_record(
            case_id=f"c{i}", status=status, passed=passed, checks=checks if checked else []
        )

    recs = [rec(0, True), rec(1, False), rec(2, True, checked=False), rec(3, False, status="error")]
    s = summarize(recs)
    assert (s.records, s.checked, s.passed) == (4, 3, 1)  # the error counts, measured-only not
    assert s.pass_rate == pytest.approx(1 / 3)
    assert "passed 1/3" in summary_lines(recs)[0] and "1 measured only" in summary_lines(recs)[0]
    assert min_pass_rate_verdict(recs, 0.3) is None
    assert "under --min-pass-rate" in (min_pass_rate_verdict(recs, 0.5) or "")
    assert "unknown" in (min_pass_rate_verdict([rec(5, True, checked=False)], 0.5) or "")

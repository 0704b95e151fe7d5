"""harness.diff: transitions, significance (against statsmodels/scipy on the same data), the gate."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar

from harness.cli import main as cli
from harness.diff import build_diff, terminal_summary
from harness.records import Record
from tests.render._runs import check, record, write_run


def _pair_runs(
    tmp_path: Path, outcomes: list[tuple[str, str, bool, bool]], **kw: object
) -> tuple[Path, Path]:
    """(case_id, category, base passed, cand passed) -> two run dirs; scores vary a little."""
    base, cand = [], []
    for i, (cid, cat, pb, pc) in enumerate(outcomes):
        sb = (0.6 + 0.4 * pb) - 0.01 * (i % 7)
        sc = (0.6 + 0.4 * pc) - 0.01 * (i % 5)
        base.append(
            record(cid, pb, category=cat, checks=[check("contains", pb, sb)], latency_s=1.0)
        )
        cand.append(
            record(cid, pc, category=cat, checks=[check("contains", pc, sc)], latency_s=1.5)
        )
    return write_run(tmp_path / "base", base, **kw), write_run(tmp_path / "cand", cand, **kw)  # type: ignore[arg-type]


def _outcomes(
    n: int, regress: int, improve: int, still_fail: int = 5
) -> list[tuple[str, str, bool, bool]]:
    out = []
    for i in range(n):
        if i < regress:
            pb, pc = True, False
        elif i < regress + improve:
            pb, pc = False, True
        elif i < regress + improve + still_fail:
            pb, pc = False, False
        else:
            pb, pc = True, True
        out.append((f"case-{i:03d}", "chat" if i % 2 else "rag", pb, pc))
    return out


def _frame(run: Path) -> pd.DataFrame:
    rows = [orjson.loads(x) for x in (run / "results.jsonl").read_bytes().splitlines()]
    return pd.DataFrame(rows)


def test_mcnemar_and_bootstrap_match_statsmodels_and_scipy(tmp_path: Path) -> None:
    base, cand = _pair_runs(tmp_path, _outcomes(80, regress=11, improve=3))
    d = build_diff(base, cand)
    s = d.summary
    # Independent computation from the raw files.
    m = _frame(base)[["case_id", "category", "passed", "score"]].merge(
        _frame(cand)[["case_id", "passed", "score"]], on="case_id", suffixes=("_b", "_c")
    )
    table = (
        pd.crosstab(m["passed_b"], m["passed_c"])
        .reindex(index=[True, False], columns=[True, False])
        .to_numpy()
    )
    assert s["mcnemar_p"] == pytest.approx(mcnemar(table, exact=True).pvalue, rel=1e-12)
    assert s["mcnemar_p"] == pytest.approx(sps.binomtest(3, 14, 0.5).pvalue, rel=1e-12)
    assert s["discordant"] == {"regressed": 11, "improved": 3}
    assert s["base"] == pytest.approx(m["passed_b"].mean()) and s["cand"] == pytest.approx(
        m["passed_c"].mean()
    )
    assert s["delta"] == pytest.approx(m["passed_c"].mean() - m["passed_b"].mean())
    # The paired percentile bootstrap: same distribution as scipy's, different random draws.
    xb, xc = m["passed_b"].to_numpy(float), m["passed_c"].to_numpy(float)
    ref = sps.bootstrap((xb, xc), lambda b, c, axis=-1: c.mean(axis) - b.mean(axis), paired=True,
                        method="percentile", n_resamples=10_000, random_state=1).confidence_interval  # fmt: skip
    assert s["delta_ci"][0] == pytest.approx(ref.low, abs=0.02)
    assert s["delta_ci"][1] == pytest.approx(ref.high, abs=0.02)
    sb, sc = m["score_b"].to_numpy(float), m["score_c"].to_numpy(float)
    ref_s = sps.bootstrap((sb, sc), lambda b, c, axis=-1: c.mean(axis) - b.mean(axis), paired=True,
                          method="percentile", n_resamples=10_000, random_state=1).confidence_interval  # fmt: skip
    assert s["score"]["delta"] == pytest.approx(sc.mean() - sb.mean())
    assert s["score"]["delta_ci"] == pytest.approx([ref_s.low, ref_s.high], abs=0.01)
    # Per category: the same figures on each subset.
    for cat, g in m.groupby("category"):
        c = s["categories"][cat]
        t = (
            pd.crosstab(g["passed_b"], g["passed_c"])
            .reindex(index=[True, False], columns=[True, False])
            .fillna(0)
        )
        assert c["mcnemar_p"] == pytest.approx(mcnemar(t.to_numpy(), exact=True).pvalue, rel=1e-12)
        assert c["delta"] == pytest.approx(g["passed_c"].mean() - g["passed_b"].mean())
        assert sorted(c["regressions"]) == sorted(g.loc[g["passed_b"] & ~g["passed_c"], "case_id"])


def test_repeats_pair_by_case_and_repeat_and_resample_cases(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    base, cand = [], []
    for i in range(25):
        p_case = rng.uniform(0.3, 1.0)
        for k in range(3):
            pb = bool(rng.random() < p_case)
            pc = bool(rng.random() < p_case - (0.25 if i < 10 else 0.0))
            base.append(record(f"c{i}", pb, repeat=k))
            cand.append(record(f"c{i}", pc, repeat=k))
    d = build_diff(
        write_run(tmp_path / "b", base, repeats=3), write_run(tmp_path / "c", cand, repeats=3)
    )
    s = d.summary
    m = pd.DataFrame(
        {
            "case": [r.case_id for r in base],
            "b": [bool(r.passed) for r in base],
            "c": [bool(r.passed) for r in cand],
        }
    )
    # McNemar over the (case, repeat) pairs ...
    table = (
        pd.crosstab(m["b"], m["c"])
        .reindex(index=[True, False], columns=[True, False])
        .fillna(0)
        .to_numpy()
    )
    assert s["mcnemar_p"] == pytest.approx(mcnemar(table, exact=True).pvalue, rel=1e-12)
    assert s["compared"] == 75 and s["compared_cases"] == 25
    # ... the interval resamples cases (per-case pass rates), like scipy on the per-case means.
    per = m.groupby("case")[["b", "c"]].mean()
    ref = sps.bootstrap((per["b"].to_numpy(), per["c"].to_numpy()), lambda b, c, axis=-1: c.mean(axis) - b.mean(axis),
                        paired=True, method="percentile", n_resamples=10_000, random_state=0).confidence_interval  # fmt: skip
    assert s["delta_ci"] == pytest.approx([ref.low, ref.high], abs=0.03)
    # Case lists compare per-case pass counts over the repeats.
    counts = m.groupby("case")[["b", "c"]].sum()
    assert s["regressions"] == sorted(counts.index[counts["c"] < counts["b"]])
    assert s["improvements"] == sorted(counts.index[counts["c"] > counts["b"]])
    assert s["transitions"]["regressed"] == int((m["b"] & ~m["c"]).sum())


def test_significant_drop_fails_the_gate_and_the_cli_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, cand = _pair_runs(tmp_path, _outcomes(60, regress=12, improve=0))
    d = build_diff(base, cand)
    assert d.verdict == "fail" and d.summary["gate"]["significant_drop"]
    assert "significant drop" in d.reason and "McNemar p = 0.000488" in d.reason
    out = tmp_path / "diff.json"
    assert cli(["diff", str(base), str(cand), "--fail-on-regression", "--json", str(out)]) == 1
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("FAIL: ") and "\n" not in d.reason
    summary = orjson.loads(out.read_bytes())
    assert summary["verdict"] == "fail" and len(summary["regressions"]) == 12
    for key in (
        "reason",
        "improvements",
        "changed_cases",
        "base",
        "cand",
        "delta",
        "delta_ci",
        "mcnemar_p",
    ):
        assert key in summary
    assert set(summary["categories"]["chat"]) >= {"base", "cand", "delta", "delta_ci", "mcnemar_p",
                                                  "regressions", "improvements"}  # fmt: skip
    # Without --fail-on-regression the verdict is reported but the exit code is 0.
    assert cli(["diff", str(base), str(cand)]) == 0


def test_a_run_against_itself_passes_with_no_change(tmp_path: Path) -> None:
    base, _ = _pair_runs(tmp_path, _outcomes(40, regress=3, improve=2))
    d = build_diff(base, base)
    s = d.summary
    assert d.verdict == "pass" and s["delta"] == 0 and s["mcnemar_p"] == 1.0
    assert s["delta_ci"] == [0.0, 0.0] and s["regressions"] == [] and s["improvements"] == []
    assert s["score_changes"] == [] and s["changed_cases"] == []
    assert "no case changed its verdict" in d.reason
    assert cli(["diff", str(base), str(base), "--fail-on-regression"]) == 0


def test_small_drop_passes_unless_max_drop_or_critical(tmp_path: Path) -> None:
    base, cand = _pair_runs(tmp_path, _outcomes(60, regress=2, improve=0))
    assert build_diff(base, cand).verdict == "pass"  # p = 0.5: could be noise
    d = build_diff(base, cand, max_drop=0.02)
    assert d.verdict == "fail" and "more than --max-drop 2.0" in d.reason
    assert build_diff(base, cand, max_drop=0.05).verdict == "pass"
    # A critical case that regresses fails the gate whatever the statistics say.
    b = [record("crit", True, tags=["critical"]), *(record(f"x{i}", True) for i in range(30))]
    c = [record("crit", False, tags=["critical"]), *(record(f"x{i}", True) for i in range(30))]
    d = build_diff(write_run(tmp_path / "cb", b), write_run(tmp_path / "cc", c))
    assert d.verdict == "fail" and d.summary["gate"]["critical_regressions"] == ["crit"]
    assert "tagged 'critical' regressed: crit" in d.reason


def test_changed_added_removed_cases_are_apart(tmp_path: Path) -> None:
    base = [record("same", True), record("edited", True, case_hash="v1"), record("gone", True)]
    cand = [record("same", True), record("edited", False, case_hash="v2"), record("new", False)]
    s = build_diff(write_run(tmp_path / "b", base), write_run(tmp_path / "c", cand)).summary
    assert (
        s["changed_cases"] == ["edited"]
        and s["added_cases"] == ["new"]
        and s["removed_cases"] == ["gone"]
    )
    assert s["regressions"] == [] and s["compared"] == 1 and s["base"] == 1.0 and s["cand"] == 1.0


def test_errors_count_as_failures_and_measured_only_is_not_compared(tmp_path: Path) -> None:
    base = [record("a", True), record("b", True), record("m", True, checks=[], score=None)]
    cand = [
        record("a", status="error", error_type="server"),
        record("b", True),
        record("m", True, checks=[]),
    ]
    s = build_diff(write_run(tmp_path / "b", base), write_run(tmp_path / "c", cand)).summary
    assert s["regressions"] == ["a"] and s["compared"] == 2
    assert s["transitions"]["measured"] == 1
    assert s["telemetry"]["errors"] == {"base": 0, "cand": 1, "delta": 1, "delta_pct": None}


def test_cost_of_the_change(tmp_path: Path) -> None:
    price = {"input_per_mtok": 1.0, "output_per_mtok": 3.0}
    base, cand = _pair_runs(tmp_path, _outcomes(20, regress=0, improve=0), price=price)
    t = build_diff(base, cand).summary["telemetry"]
    assert t["latency_s"]["p50"] == {
        "base": 1.0,
        "cand": 1.5,
        "delta": 0.5,
        "delta_pct": pytest.approx(50.0),
    }
    assert t["tokens"]["reasoning"]["mean"]["base"] is None  # never reported: n/a, not 0
    assert t["tokens"]["reasoning"]["mean"]["delta_pct"] is None
    assert t["cost"]["currency"] == "USD" and t["cost"]["delta_pct"] == pytest.approx(0.0)


def test_terminal_summary_leads_with_the_verdict(tmp_path: Path) -> None:
    base, cand = _pair_runs(tmp_path, _outcomes(40, regress=1, improve=4))
    lines = terminal_summary(build_diff(base, cand)).splitlines()
    assert lines[0].startswith("PASS: no significant change")
    assert "regressed 1" in lines[1] and "improved 4" in lines[1]
    assert "latency p50 500 ms -> 500 ms" not in lines[3] and "+50.0%" in lines[3]


def test_bad_alpha_is_rejected(tmp_path: Path) -> None:
    base, cand = _pair_runs(tmp_path, _outcomes(4, 0, 0))
    with pytest.raises(ValueError, match="alpha"):
        build_diff(base, cand, alpha=1.5)
    assert cli(["diff", str(base), str(cand), "--alpha", "0"]) == 2
    assert cli(["diff", str(base), str(tmp_path / "nope")]) == 2


# ------------------------------------------------------------------ simulator: reference vs degraded


def _sim_runs(suite_path: Path, tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    from harness.endpoints import Endpoint, Limits
    from harness.golden import load_suite
    from harness.runner import run_suite
    from harness.sim import REGRESSION_KINDS, SimConfig, SimServer, degraded_cases

    suite = load_suite(suite_path)
    runs = {}
    for profile in ("reference", "degraded"):
        with SimServer(suite, SimConfig(profile=profile)) as sim:
            ep = Endpoint(name=f"sim-{profile}", base_url=sim.base_url, model=f"sim-{profile}",
                          limits=Limits(concurrency=16, timeout_s=20))  # fmt: skip
            res = asyncio.run(run_suite(suite, ep, out_dir=tmp_path / profile, progress=False))
            runs[profile] = res.path
    injected = {k: v for k, v in degraded_cases(suite).items() if v in REGRESSION_KINDS}
    return runs["reference"], runs["degraded"], injected


def _records(run: Path) -> list[Record]:
    return [Record.model_validate_json(x) for x in (run / "results.jsonl").read_text().splitlines()]


def _check_sim_diff(ref: Path, deg: Path, injected: dict[str, str], tmp_path: Path) -> None:
    d = build_diff(ref, deg)
    s = d.summary
    assert s["base"] == 1.0, "the reference profile passes every case"
    failing = {r.case_id for r in _records(deg) if not r.passed}
    # Every case the degraded run fails is listed, and each is one the simulator perturbed.
    # (Whether a perturbation is caught at all is up to the case's checks, not the diff.)
    assert set(s["regressions"]) == failing
    assert failing <= set(injected)
    assert s["improvements"] == [] and s["changed_cases"] == []
    assert d.verdict == "fail"
    assert cli(["diff", str(ref), str(deg), "--fail-on-regression", "--md", str(tmp_path / "d.md"),
                "--html", str(tmp_path / "d.html")]) == 1  # fmt: skip
    md = (tmp_path / "d.md").read_text()
    assert md.startswith("## ❌ harness diff: FAIL")
    assert all(f"d.html#case-{cid}" in md for cid in s["regressions"][:50])
    same = build_diff(ref, ref)
    assert (
        same.verdict == "pass" and same.summary["mcnemar_p"] == 1.0 and same.summary["delta"] == 0
    )
    assert cli(["diff", str(ref), str(ref), "--fail-on-regression"]) == 0


def test_simulator_degraded_profile_regressions_are_found(tmp_path: Path) -> None:
    from tests.conftest import make_cases, write_suite

    write_suite(tmp_path / "g" / "cases.yaml", make_cases(48))
    ref, deg, injected = _sim_runs(tmp_path / "g", tmp_path)
    assert len(injected) == 12
    _check_sim_diff(ref, deg, injected, tmp_path)
    assert {r.case_id for r in _records(deg) if not r.passed} == set(injected)


@pytest.mark.slow
def test_golden_set_reference_vs_degraded(tmp_path: Path) -> None:
    from harness.errors import InputError
    from harness.golden import load_suite

    golden = Path(__file__).resolve().parents[1] / "golden"
    try:
        load_suite(golden)
    except InputError as exc:
        pytest.skip(f"the shipped golden set does not load yet: {exc.lines()[0]}")
    ref, deg, injected = _sim_runs(golden, tmp_path)
    _check_sim_diff(ref, deg, injected, tmp_path)

"""harness.report: one run's tables, checked against statsmodels/numpy/scipy on the same data."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import orjson
import pytest
from scipy.special import comb
from statsmodels.stats.proportion import proportion_confint

from harness.endpoints import Price
from harness.errors import InputError
from harness.report import build_report, load_run_data, terminal_summary
from harness.store import load_run
from tests.render._runs import check, record, write_run

PRICE = {"input_per_mtok": 2.0, "output_per_mtok": 6.0, "cached_input_per_mtok": 0.5}


def _mixed_run(tmp_path: Path) -> Path:
    """Two categories, failures, two error types, a truncation, a measured-only case."""
    recs = []
    for i in range(30):
        cat = "chat" if i % 3 else "rag"
        passed = i % 5 != 0
        recs.append(
            record(
                f"c{i:02d}",
                passed,
                category=cat,
                latency_s=0.1 * (i + 1),
                ttft_s=None if i % 4 == 0 else 0.01 * (i + 1),
                usage=None
                if i % 6 == 0
                else {
                    "prompt_tokens": 100 + i,
                    "completion_tokens": 10 + i,
                    "cached_tokens": 5 if i % 2 else None,
                },
                finish_reason="length" if i == 7 else "stop",
            )
        )
    recs.append(record("e-timeout", status="error", error_type="timeout", category="chat"))
    recs.append(
        record("e-429", status="error", error_type="rate_limit", category="rag", attempts=5)
    )
    recs.append(record("measured", True, checks=[], score=None, category="chat"))
    return write_run(tmp_path / "run", recs, price=PRICE)


def test_pass_rates_and_wilson_intervals_match_statsmodels(tmp_path: Path) -> None:
    s = build_report(_mixed_run(tmp_path)).summary
    # 30 checked records (6 fail) + 2 errors count; the measured-only case does not.
    assert (s["cases"], s["passed"], s["records"], s["measured_only"]) == (32, 24, 33, 1)
    assert s["pass_rate"] == pytest.approx(24 / 32)
    assert s["ci"] == pytest.approx(
        list(proportion_confint(24, 32, alpha=0.05, method="wilson")), rel=1e-12
    )
    for name, block in s["categories"].items():
        low, high = proportion_confint(block["passed"], block["cases"], alpha=0.05, method="wilson")
        assert block["ci"] == pytest.approx([low, high], rel=1e-12), name
    assert s["categories"]["rag"]["cases"] == 11  # c00, c03, ... c27 and the 429
    assert s["categories"]["rag"]["passed"] == sum(1 for i in range(0, 30, 3) if i % 5)
    assert s["errors"] == {"total": 2, "by_type": {"rate_limit": 1, "timeout": 1}}
    assert s["finish_reasons"]["length"] == 1 and s["truncated"] == 1
    assert s["attempts"]["max"] == 5 and s["attempts"]["retried"] == 1


def test_unknown_values_are_skipped_not_zero(tmp_path: Path) -> None:
    run = _mixed_run(tmp_path)
    s = build_report(run).summary
    raws = [orjson.loads(x) for x in (run / "results.jsonl").read_bytes().splitlines()]
    ok = [r for r in raws if r["status"] == "ok"]
    usage = [r["usage"] for r in ok if r["usage"]]
    prompt = [u["prompt_tokens"] for u in usage]
    assert s["tokens"]["prompt"] == {
        "sum": sum(prompt),
        "mean": pytest.approx(np.mean(prompt)),
        "known": len(prompt),
    }
    assert s["tokens"]["reasoning"] == {"sum": None, "mean": None, "known": 0}
    ttft = [r["ttft_s"] for r in ok if r["ttft_s"] is not None]
    assert s["ttft_s"]["p50"] == pytest.approx(np.percentile(ttft, 50))
    assert s["ttft_s"]["mean"] == pytest.approx(np.mean(ttft))  # not dragged down by missing ones
    lat = [r["latency_s"] for r in ok]
    for q in (50, 95, 99):
        assert s["latency_s"][f"p{q}"] == pytest.approx(np.percentile(lat, q))
    price = Price.model_validate(PRICE)
    costs = [
        price.cost(u["prompt_tokens"], u["completion_tokens"], u.get("cached_tokens"))
        for u in usage
    ]
    assert s["cost"]["sum"] == pytest.approx(sum(c for c in costs if c is not None))
    assert s["cost"]["known"] == len(usage) and s["cost"]["currency"] == "USD"


def test_no_price_means_no_cost(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", [record("a", True)])
    rep = build_report(run)
    assert rep.summary["cost"] is None
    assert "cost" not in terminal_summary(rep)


def test_per_check_table(tmp_path: Path) -> None:
    recs = [
        record(f"c{i}", i % 2 == 0, checks=[check("contains", i % 2 == 0), check("length", True, 0.5),
                                            check("regex", False, error=i == 3)])
        for i in range(8)
    ]  # fmt: skip
    s = build_report(write_run(tmp_path / "run", recs)).summary
    assert s["checks"]["contains"]["passed"] == 4 and s["checks"]["contains"]["cases"] == 8
    assert s["checks"]["length"]["mean_score"] == pytest.approx(0.5)
    assert s["checks"]["regex"]["check_errors"] == 1
    low, high = proportion_confint(4, 8, method="wilson")
    assert s["checks"]["contains"]["ci"] == pytest.approx([low, high])


def test_last_line_per_case_and_repeat_wins(tmp_path: Path) -> None:
    first = record("a", status="error", error_type="timeout")
    retried = record("a", True, content="second try")
    run = write_run(tmp_path / "run", [first, record("b", False), retried])
    data = load_run_data(run)
    assert data.raw_lines == 3 and len(data.records) == 2
    a = data.records.set_index("case_id").loc["a"]
    assert a["status"] == "ok" and a["content"] == "second try"
    assert build_report(data).summary["errors"]["total"] == 0
    # The superseded line's checks are gone too; the kept line's checks point at its row.
    assert sorted(data.checks["row"].tolist()) == [0, 1]


def test_torn_last_line_is_skipped_but_corruption_is_an_error(tmp_path: Path) -> None:
    good = record("a", True).model_dump_json()
    run = write_run(tmp_path / "run", [record("b", True)], extra_lines=[good[: len(good) // 2]])
    assert build_report(run).summary["records"] == 1
    bad = write_run(tmp_path / "bad", [record("b", True)], extra_lines=["{not json", good])
    with pytest.raises(InputError, match=r"results\.jsonl:2: corrupt record line"):
        build_report(bad)


def test_invalid_record_names_its_line(tmp_path: Path) -> None:
    broken = orjson.dumps({"case_id": "x", "status": "ok"}).decode()
    run = write_run(
        tmp_path / "run",
        [record("a", True)],
        extra_lines=[broken, record("c", True).model_dump_json()],
    )
    with pytest.raises(InputError, match=r"results\.jsonl:2: invalid record"):
        build_report(run)


def test_not_a_run_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a run directory"):
        build_report(tmp_path)


def test_repeats_pass_at_k_matches_the_combinatorial_definition(tmp_path: Path) -> None:
    outcomes = {
        "always": [1, 1, 1, 1],
        "never": [0, 0, 0, 0],
        "flaky1": [1, 0, 0, 1],
        "flaky2": [0, 0, 1, 0],
    }
    recs = [
        record(cid, bool(v), repeat=k) for cid, vs in outcomes.items() for k, v in enumerate(vs)
    ]
    rep = build_report(write_run(tmp_path / "run", recs, repeats=4))
    r = rep.summary["repeats"]
    assert sorted(r["flaky"]) == ["flaky1", "flaky2"]
    for k in range(1, 5):
        # pass@k = 1 - C(n-c, k) / C(n, k), averaged over cases (Chen et al. 2021)
        exp = np.mean(
            [
                1 - comb(4 - sum(v), k, exact=True) / comb(4, k, exact=True)
                for v in outcomes.values()
            ]
        )
        # ... which is the chance that a random k-subset of the samples holds a pass:
        brute = np.mean(
            [np.mean([any(c) for c in itertools.combinations(v, k)]) for v in outcomes.values()]
        )
        assert r["pass_at_k"][str(k)] == pytest.approx(exp) == pytest.approx(brute)
    assert rep.per_case is not None
    assert rep.per_case.set_index("case_id").loc["flaky1", "pass_rate"] == pytest.approx(0.5)


def test_no_repeats_section_without_repeats(tmp_path: Path) -> None:
    assert build_report(write_run(tmp_path / "run", [record("a", True)])).summary["repeats"] is None


def test_run_object_and_path_give_the_same_summary(tmp_path: Path) -> None:
    run = _mixed_run(tmp_path)
    from_path = build_report(run).summary
    from_run = build_report(load_run(run)).summary
    assert from_run == from_path


def test_empty_run_reports_na(tmp_path: Path) -> None:
    s = build_report(write_run(tmp_path / "run", [])).summary
    assert s["cases"] == 0 and s["pass_rate"] is None and s["ci"] == [None, None]
    assert s["latency_s"]["p50"] is None
    assert "n/a" in terminal_summary(build_report(tmp_path / "run"))


def test_terminal_summary(tmp_path: Path) -> None:
    text = terminal_summary(build_report(_mixed_run(tmp_path)))
    lines = text.splitlines()
    assert len(lines) == 3
    assert "passed 24/32 (75.0%, 95% CI" in lines[1]
    assert "errors 2 (rate_limit 1, timeout 1)" in lines[1]
    assert "truncated (finish_reason length) 1" in lines[1]
    assert "reasoning n/a" in lines[2] and "cost" in lines[2]

"""The pytest plugin run the way CI runs it: `pytest evals/ ...` in a subprocess."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import orjson
import pytest

from harness.sim import SimConfig, SimServer, degraded_cases
from harness.store import RESULTS, load_manifest

from .conftest import make_cases, write_suite

ROOT = Path(__file__).resolve().parents[1]
EVALS = str(ROOT / "evals" / "test_golden.py")


def pytest_evals(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", EVALS, "-p", "no:randomly", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=timeout,
    )


@pytest.fixture
def golden(tmp_path: Path) -> Path:
    cases = make_cases(16)
    cases[3]["tags"] = ["critical", "invoice"]
    cases[4]["category"] = "rag"
    cases[5]["category"] = "rag"
    write_suite(tmp_path / "golden" / "cases.yaml", cases)
    return tmp_path / "golden"


def _records(run_dir: Path) -> list[dict[str, object]]:
    return [orjson.loads(x) for x in (run_dir / RESULTS).read_bytes().splitlines()]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--golden", "{tmp}/missing"], "ERROR: {tmp}/missing: no such file or directory"),
        (["--golden", "{tmp}/bad.yaml"], "ERROR: {tmp}/bad.yaml:2: unknown category 'chatt'"),
        (["--repeat", "0"], "ERROR: --repeat must be at least 1"),
        (["--base-url", "notaurl", "--model", "m"], "base_url: must be an absolute http(s) URL"),
    ],
)
def test_bad_golden_input_is_a_usage_error_without_traceback(
    tmp_path: Path, flags: list[str], message: str
) -> None:
    (tmp_path / "bad.yaml").write_text(
        "- id: a\n  category: chatt\n  messages: [{role: user, content: hi}]\n"
    )
    run = tmp_path / "run"
    args = [f.replace("{tmp}", str(tmp_path)) for f in flags]
    proc = pytest_evals(*args, "--run-dir", str(run))
    out = proc.stdout + proc.stderr
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR, out[-3000:]
    assert message.replace("{tmp}", str(tmp_path)) in out
    assert "Traceback" not in out and "_pytest" not in out and "error during collection" not in out
    assert not run.exists()


def test_reference_profile_every_case_passes(golden: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc = pytest_evals("--golden", str(golden), "--run-dir", str(run), "--repeat", "2")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "32 passed" in proc.stdout
    assert "passed 32/32 (100.0%, 95% CI" in proc.stdout and f"run directory: {run}" in proc.stdout
    assert len(_records(run)) == 32
    assert load_manifest(run).status == "complete"


def test_degraded_failures_name_the_check_and_the_reason(golden: Path, tmp_path: Path) -> None:
    from harness.golden import load_suite

    injected = degraded_cases(load_suite(golden))
    assert injected
    proc = pytest_evals(
        "--golden", str(golden), "--run-dir", str(tmp_path / "run"), "--sim-profile", "degraded"
    )
    assert proc.returncode == 1
    failed = set(re.findall(r"FAILED \S+::test_golden\[\w+/(c\d+)\]", proc.stdout))
    assert failed and failed <= set(injected)
    assert "FAIL contains: missing 'kiwi-" in proc.stdout
    assert "finish_reason:" in proc.stdout and "latency:" in proc.stdout


def test_gates_fail_the_session(golden: Path, tmp_path: Path) -> None:
    base = tmp_path / "base"
    assert pytest_evals("--golden", str(golden), "--run-dir", str(base)).returncode == 0
    same = pytest_evals(
        "--golden", str(golden), "--run-dir", str(tmp_path / "same"), "--baseline", str(base)
    )
    assert same.returncode == 0, same.stdout[-2000:]
    rate = pytest_evals(
        "--golden",
        str(golden),
        "--run-dir",
        str(tmp_path / "deg1"),
        "--sim-profile",
        "degraded",
        "--min-pass-rate",
        "1.0",
    )
    assert rate.returncode == 1 and "under --min-pass-rate" in rate.stdout
    # Regressions against the baseline fail the session even when each item is deselected
    # from the failure count: run only the cases that did not regress, plus the gate.
    cand = pytest_evals(
        "--golden",
        str(golden),
        "--run-dir",
        str(tmp_path / "deg2"),
        "--sim-profile",
        "degraded",
        "--baseline",
        str(base),
    )
    assert cand.returncode == 1 and "harness gate failed against baseline" in cand.stdout


def test_markers_and_keywords_select_cases(golden: Path, tmp_path: Path) -> None:
    rag = pytest_evals("--golden", str(golden), "--run-dir", str(tmp_path / "r1"), "-m", "rag")
    assert rag.returncode == 0 and "2 passed, 14 deselected" in rag.stdout
    assert len(_records(tmp_path / "r1")) == 2  # deselected cases are never called
    not_chat = pytest_evals(
        "--golden", str(golden), "--run-dir", str(tmp_path / "r2"), "-m", "not chat and not rag"
    )
    assert not_chat.returncode == 5  # nothing left: pytest's "no tests ran"
    k = pytest_evals(
        "--golden", str(golden), "--run-dir", str(tmp_path / "r3"), "-k", "c00003", "-m", "critical"
    )
    assert k.returncode == 0 and "1 passed" in k.stdout


def test_xdist_and_junitxml_call_each_case_once(golden: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    xml = tmp_path / "evals.xml"
    proc = pytest_evals(
        "--golden",
        str(golden),
        "--run-dir",
        str(run),
        "-n",
        "2",
        "--junitxml",
        str(xml),
        "--sim-profile",
        "degraded",
    )
    assert proc.returncode == 1
    recs = _records(run)
    counts = Counter(str(r["case_id"]) for r in recs)
    assert len(recs) == 16 and max(counts.values()) == 1
    cases = ET.parse(xml).getroot().findall(".//testcase")
    assert len(cases) == 16
    failures = [f for c in cases if (f := c.find("failure")) is not None]
    assert failures and all("golden case" in (f.get("message") or "") for f in failures)
    assert all("FAIL contains" in (f.get("message") or "") for f in failures)
    assert load_manifest(run).status == "complete"


def test_a_refused_key_stops_the_eval_run_after_ten_calls(tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "golden" / "c.yaml", make_cases(40))
    with SimServer(suite, SimConfig(require_key="k")) as sim:
        proc = pytest_evals(
            "--golden", str(tmp_path / "golden"), "--run-dir", str(tmp_path / "run"),
            "--base-url", sim.base_url, "--model", "sim",
        )  # fmt: skip
        calls = sim.stats.requests
    assert proc.returncode == 1
    assert "40 errors" in proc.stdout
    assert "RuntimeError: stopped: 10 records in a row failed with auth 401" in proc.stdout
    assert calls <= 10 + 8  # the tenth refusal, plus at most the calls in flight (concurrency 8)


def test_endpoint_errors_are_errors_not_failures(tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "golden" / "c.yaml", make_cases(3))
    with SimServer(suite, SimConfig(require_key="k")) as sim:
        proc = pytest_evals(
            "--golden",
            str(tmp_path / "golden"),
            "--run-dir",
            str(tmp_path / "run"),
            "--base-url",
            sim.base_url,
            "--model",
            "sim",
        )
    assert proc.returncode == 1
    assert (
        "3 errors" in proc.stdout
        and "failed" not in proc.stdout.split("short test summary")[-1].split("\n")[-2]
    )
    assert "EndpointError: auth (status 401" in proc.stdout


def test_shipped_golden_set_as_evals(tmp_path: Path) -> None:
    """`pytest evals/` on the shipped set: all pass on the reference profile; on the degraded
    profile exactly the cases whose answers the simulator changed fail, naming check and reason."""
    from harness.golden import load_suite
    from harness.sim import REGRESSION_KINDS

    suite = load_suite(ROOT / "golden")
    ref = pytest_evals("--run-dir", str(tmp_path / "ref"), "-q")
    assert ref.returncode == 0, ref.stdout[-3000:]
    assert f"{len(suite)} passed" in ref.stdout
    deg = pytest_evals("--run-dir", str(tmp_path / "deg"), "-q", "--sim-profile", "degraded")
    assert deg.returncode == 1
    changed = {cid for cid, kind in degraded_cases(suite).items() if kind in REGRESSION_KINDS}
    failed = set(re.findall(r"FAILED \S+::test_golden\[\w+/([^\]]+)\]", deg.stdout))
    assert failed and failed <= changed
    assert len(failed) >= 0.8 * len(changed)  # a perturbation may leave a lenient case passing
    blocks = deg.stdout.split("golden case ")[1:]
    assert blocks and all(
        re.search(r"\n  (FAIL|ERROR) \w+: ", b) for b in blocks if " failed: score" in b
    )


def test_plugin_loads_without_xdist(tmp_path: Path) -> None:
    """The plugin is always loaded (pytest11); without pytest-xdist it must not break pytest."""
    (tmp_path / "test_plain.py").write_text("def test_ok():\n    assert True\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:xdist", "-q", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout

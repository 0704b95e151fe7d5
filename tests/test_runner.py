"""The runner against the real simulator over HTTP: one record per case x repeat, always."""

from __future__ import annotations

import asyncio
import collections
import itertools
import time
from pathlib import Path

import orjson
import pytest

from harness.endpoints import Endpoint, Limits
from harness.errors import InputError
from harness.golden import Suite
from harness.runner import resume_run, run_suite
from harness.selection import parse_shard
from harness.sim import SimConfig, SimServer
from harness.store import RESULTS, load_manifest, load_records

from .conftest import make_cases, make_record, write_suite


def _ep(url: str, **limits: float) -> Endpoint:
    return Endpoint(
        name="sim",
        base_url=url,
        model="sim-reference",
        limits=Limits(**{"concurrency": 8, "timeout_s": 10, **limits}),
    )


def _lines(run_dir: Path) -> list[dict[str, object]]:
    return [orjson.loads(x) for x in (run_dir / RESULTS).read_bytes().splitlines()]


def test_run_writes_one_record_per_case_and_repeat(
    small_suite: Suite, sim_url: str, tmp_path: Path
) -> None:
    res = asyncio.run(
        run_suite(small_suite, _ep(sim_url), out_dir=tmp_path / "run", repeats=2, progress=False)
    )
    recs = load_records(res.path)
    assert len(recs) == 24 and len(_lines(res.path)) == 24
    assert {(r.case_id, r.repeat) for r in recs} == {(c.id, k) for c in small_suite for k in (0, 1)}
    assert all(r.status == "ok" and r.passed for r in recs)
    r = recs[0]
    assert r.usage is not None and r.usage.prompt_tokens and r.usage.completion_tokens
    assert r.ttft_s is not None and r.latency_s is not None and 0 <= r.ttft_s <= r.latency_s
    m = load_manifest(res.path)
    assert m.status == "complete" and m.scheduled == 24 and m.suite.cases == 12
    assert m.endpoint["base_url"] == sim_url and "api_key" not in m.endpoint


def test_selection_and_shards_cover_the_suite_once(
    small_suite: Suite, sim_url: str, tmp_path: Path
) -> None:
    seen: list[str] = []
    for i in (1, 2, 3):
        res = asyncio.run(
            run_suite(
                small_suite,
                _ep(sim_url),
                out_dir=tmp_path / f"s{i}",
                shard=f"{i}/3",
                progress=False,
            )
        )
        seen += [r.case_id for r in load_records(res.path)]
    assert sorted(seen) == sorted(c.id for c in small_suite)
    res = asyncio.run(
        run_suite(
            small_suite, _ep(sim_url), out_dir=tmp_path / "f", filter_text="c0000", progress=False
        )
    )
    assert len(load_records(res.path)) == 10
    with pytest.raises(InputError, match="I/N"):
        parse_shard("4/3")
    with pytest.raises(InputError, match=r"no case matches the selection \(category rag\)"):
        asyncio.run(
            run_suite(
                small_suite,
                _ep(sim_url),
                out_dir=tmp_path / "none",
                categories=["rag"],
                progress=False,
            )
        )
    assert not (tmp_path / "none").exists()


def test_existing_output_dir_is_refused(small_suite: Suite, sim_url: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty"):
        asyncio.run(run_suite(small_suite, _ep(sim_url), out_dir=out, progress=False))
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_resume_and_retry_errors(tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "g" / "c.yaml", make_cases(30))
    # A server that refuses every call (401: final, never retried) leaves 30 error records.
    with SimServer(suite, SimConfig(require_key="right-key")) as sim:
        url = sim.base_url
        ep = _ep(url, fail_fast_after=0)  # this test wants every refused record
        res = asyncio.run(run_suite(suite, ep, out_dir=tmp_path / "run", progress=False))
        recs = load_records(res.path)
        assert len(recs) == 30
        assert all(
            r.status == "error" and r.error and r.error.type == "auth" and r.attempts == 1
            for r in recs
        )
    # Resume without --retry-errors: nothing is missing, nothing is called.
    with SimServer(suite, SimConfig()) as sim:
        url2 = sim.base_url
        m = load_manifest(tmp_path / "run")
        m.endpoint["base_url"] = url2  # the server moved; the manifest is the source of truth
        from harness.store import write_manifest

        write_manifest(tmp_path / "run", m)
        again = asyncio.run(resume_run(tmp_path / "run", progress=False))
        assert again.written == 0
        fixed = asyncio.run(resume_run(tmp_path / "run", retry_errors=True, progress=False))
        assert fixed.written == 30
    recs = load_records(tmp_path / "run")
    assert len(recs) == 30 and all(r.status == "ok" for r in recs)
    assert len(_lines(tmp_path / "run")) == 60  # the error lines stay as history


def test_resume_refuses_a_changed_suite(tmp_path: Path) -> None:
    cases = make_cases(5)
    suite = write_suite(tmp_path / "g" / "c.yaml", cases)
    with SimServer(suite) as sim:
        url = sim.base_url
        asyncio.run(run_suite(suite, _ep(url), out_dir=tmp_path / "run", progress=False))
    cases[0]["reference"]["content"] = "changed"
    write_suite(tmp_path / "g" / "c.yaml", cases)
    with pytest.raises(InputError, match="changed since run"):
        asyncio.run(resume_run(tmp_path / "run", progress=False))


def test_rate_limits_hold(tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "g" / "c.yaml", make_cases(30))
    with SimServer(suite) as sim:
        url = sim.base_url
        t0 = time.perf_counter()
        asyncio.run(
            run_suite(
                suite, _ep(url, concurrency=30, rps=10), out_dir=tmp_path / "run", progress=False
            )
        )
        elapsed = time.perf_counter() - t0
    # 10/s with a full bucket at the start: 30 calls need at least ~2 s. Only a lower bound is
    # asserted (a slow machine may take longer; it may never be faster).
    assert elapsed >= 1.8


def test_faults_lose_nothing(tmp_path: Path) -> None:
    """2,000 cases at concurrency 64 through 429 10%, 5xx 5%, hang 2%, cut stream 2% (+ 400 1%)."""
    n = 2000
    suite = write_suite(tmp_path / "g" / "c.yaml", make_cases(n))
    cfg = SimConfig(
        faults="429=10%,5xx=5%,hang=2%,cut=2%,400=1%", retry_after_s=0.3, hang_s=30, seed=7
    )
    with SimServer(suite, cfg) as sim:
        ep = _ep(
            sim.base_url,
            concurrency=64,
            timeout_s=2.0,
            max_retries=6,
            backoff_initial_s=0.01,
            backoff_max_s=0.1,
        )
        res = asyncio.run(run_suite(suite, ep, out_dir=tmp_path / "run", progress=False))
        log = list(sim.stats.log)
        injected = dict(sim.stats.faults)
    lines = _lines(res.path)
    keys = collections.Counter((str(x["case_id"]), x["repeat"]) for x in lines)
    assert len(lines) == n and len(keys) == n and max(keys.values()) == 1
    recs = {r.case_id: r for r in load_records(res.path)}
    assert all((r.status == "error") == (r.error is not None) for r in recs.values())
    assert all(r.error.type for r in recs.values() if r.error)
    assert (
        injected["429"] > 100
        and injected["5xx"] > 40
        and injected["hang"] > 10
        and injected["cut"] > 10
    )

    per_case: dict[str, list[tuple[float, str | None]]] = collections.defaultdict(list)
    for t, case_id, fault in log:
        assert case_id is not None
        per_case[case_id].append((t, fault))
    waited_429 = 0
    for case_id, calls in per_case.items():
        rec = recs[case_id]
        assert rec.attempts == len(calls)  # every attempt the server saw is counted, no more
        for (t0, fault), (t1, _) in itertools.pairwise(calls):
            assert fault != "400"  # a 4xx is never retried
            if fault == "429":
                # Retry-After 0.3 s is a floor (the client clock starts after the response,
                # the server's before it, so a few ms of slack only in that direction).
                assert t1 - t0 >= 0.3 - 0.01, (case_id, t1 - t0)
                waited_429 += 1
        if calls[-1][1] == "400":
            assert rec.status == "error" and rec.error is not None
            assert rec.error.type == "bad_request" and rec.attempts == len(calls)
    assert waited_429 > 100
    ok = [r for r in recs.values() if r.status == "ok"]
    bad = [r for r in recs.values() if r.status == "error"]
    assert all(r.passed for r in ok)
    # Only the 400s (final) and the rare case that hit faults on all 7 attempts end as errors.
    assert all(r.error.type == "bad_request" for r in bad if r.error and r.attempts < 7)
    assert len(ok) >= n - injected["400"] - 3


def test_a_deployment_that_changes_mid_run_is_named_in_every_output(tmp_path: Path) -> None:
    """Half a run answered by one server, the rest (after a crash and --resume) by another.

    The records keep what each server said it was; the summary, the report's JSON and HTML,
    and the CSV say that more than one model answered.
    """

    from harness.diff import diff_runs, write_diff
    from harness.render.csv import read_csv
    from harness.report import build_report, write_report
    from harness.summary import summary_lines

    suite = write_suite(tmp_path / "g" / "c.yaml", make_cases(6))
    run = tmp_path / "run"
    with SimServer(suite) as first:
        asyncio.run(run_suite(suite, _ep(first.base_url), out_dir=run, progress=False))
    lines = (run / RESULTS).read_bytes().splitlines(keepends=True)
    (run / RESULTS).write_bytes(b"".join(lines[:3]))  # a crash lost the last three
    manifest = orjson.loads((run / "manifest.json").read_bytes())
    with SimServer(suite, SimConfig(profile="degraded", degraded_fraction=0.0)) as second:
        manifest["endpoint"]["base_url"] = second.base_url  # the deployment moved meanwhile
        (run / "manifest.json").write_bytes(orjson.dumps(manifest))
        asyncio.run(resume_run(run, progress=False))
    records = load_records(run)
    assert len(records) == 6
    assert collections.Counter(r.served.model for r in records if r.served) == {
        "sim-reference": 3,
        "sim-degraded": 3,
    }
    assert all(r.served and r.served.id and r.served.system_fingerprint for r in records)
    assert all(r.model == "sim-reference" for r in records)  # what was requested

    (line,) = [x for x in summary_lines(records) if x.startswith("served")]
    assert line == (
        "served models: sim-reference (3), sim-degraded (3): more than one model answered this run"
    )
    report = build_report(run)
    assert report.summary["run"]["served_models"] == {"sim-reference": 3, "sim-degraded": 3}
    assert report.summary["run"]["system_fingerprints"] == ["harness-simulator"]
    write_report(report, html=tmp_path / "r.html", csv=tmp_path / "r.csv", md=tmp_path / "r.md")
    html = (tmp_path / "r.html").read_text()
    assert f'<p class="sim-note">{line}</p>' in html
    assert f"> {line}" in (tmp_path / "r.md").read_text().splitlines()
    diff = diff_runs(run, run)
    assert diff.summary["cand_run"]["served_models"] == {"sim-reference": 3, "sim-degraded": 3}
    write_diff(diff, html=tmp_path / "d.html", md=tmp_path / "d.md")
    side = "served models: sim-reference (3), sim-degraded (3): more than one model answered"
    for which in ("the base run", "the candidate run"):
        assert f"{side} {which}" in (tmp_path / "d.html").read_text()
        assert f"> {side} {which}" in (tmp_path / "d.md").read_text().splitlines()
    csv = read_csv(tmp_path / "r.csv")
    assert sorted(csv["served.model"]) == ["sim-degraded"] * 3 + ["sim-reference"] * 3
    assert csv["served.id"].str.startswith("chatcmpl-sim-").all()


def test_the_summary_names_a_served_model_only_when_it_is_news() -> None:
    from harness.records import Served
    from harness.summary import summary_lines

    def served_lines(*served: Served | None) -> list[str]:
        records = [
            make_record(case_id=f"c{i}", model="gpt-4o", served=s) for i, s in enumerate(served)
        ]
        lines = summary_lines(records)
        return [x for x in lines if "served" in x or "fingerprint" in x]

    assert served_lines(None, None) == []  # the server said nothing: nothing to say
    assert served_lines(Served(model="gpt-4o"), Served(model="gpt-4o")) == []
    assert served_lines(Served(model="gpt-4o-2024-08-06"), None) == [
        "served model: gpt-4o-2024-08-06 (requested gpt-4o)"
    ]
    assert served_lines(
        Served(model="gpt-4o", system_fingerprint="fp_a"),
        Served(model="gpt-4o", system_fingerprint="fp_b"),
    ) == ["2 system fingerprints: the backend changed during this run"]


def test_a_crash_mid_run_leaves_an_interrupted_run_that_resumes(tmp_path: Path) -> None:
    """Not only signals: any exception that ends a run early must not mark it complete."""
    suite = write_suite(tmp_path / "g" / "c.yaml", make_cases(12))
    seen: list[str] = []

    def crash_after_three(rec: object) -> None:
        seen.append("x")
        if len(seen) == 3:
            raise RuntimeError("a bug in a callback")

    with SimServer(suite) as sim:
        ep = _ep(sim.base_url, concurrency=1)
        with pytest.raises(RuntimeError, match="a bug in a callback"):
            asyncio.run(
                run_suite(
                    suite, ep, out_dir=tmp_path / "run", progress=False, on_record=crash_after_three
                )
            )
        assert load_manifest(tmp_path / "run").status == "interrupted"
        assert 3 <= len(_lines(tmp_path / "run")) < 12
        done = asyncio.run(resume_run(tmp_path / "run", progress=False))
    assert done.manifest.status == "complete"
    keys = [(str(x["case_id"]), x["repeat"]) for x in _lines(tmp_path / "run")]
    assert len(keys) == 12 and len(set(keys)) == 12


def test_a_refused_key_stops_the_run_after_ten_records_and_resume_finishes_it(
    tmp_path: Path,
) -> None:
    from harness.errors import EndpointFailing

    suite = write_suite(tmp_path / "g" / "c.yaml", make_cases(40))
    run = tmp_path / "run"
    with SimServer(suite, SimConfig(require_key="right-key")) as sim:
        ep = _ep(sim.base_url, concurrency=1)
        with pytest.raises(EndpointFailing) as info:
            asyncio.run(run_suite(suite, ep, out_dir=run, progress=False))
        calls = sim.stats.requests
    assert calls == 10  # ten calls, not forty
    message = str(info.value)
    assert message.startswith("stopped: 10 records in a row failed with auth 401 (")
    assert f"`harness run --resume {run} --retry-errors`" in message
    assert load_manifest(run).status == "interrupted"
    assert len(_lines(run)) == 10
    with SimServer(suite) as fixed:
        m = load_manifest(run)
        m.endpoint["base_url"] = fixed.base_url
        from harness.store import write_manifest

        write_manifest(run, m)
        done = asyncio.run(resume_run(run, retry_errors=True, progress=False))
    assert done.manifest.status == "complete"
    assert len(load_records(run)) == 40 and all(r.status == "ok" for r in load_records(run))


def test_what_counts_towards_fail_fast() -> None:
    from harness._failfast import FailFast
    from harness.errors import EndpointFailing
    from harness.records import ErrorInfo, Record

    def rec(error: ErrorInfo | None) -> Record:
        return make_record(status="error" if error else "ok", error=error)

    auth = rec(ErrorInfo(type="auth", status_code=401, message="bad key"))
    quota = rec(ErrorInfo(type="quota", status_code=400, code="Arrearage", message="unpaid"))
    missing = rec(ErrorInfo(type="bad_request", status_code=404, message="no such model"))
    one_case = rec(ErrorInfo(type="bad_request", status_code=400, message="prompt too long"))
    timeout = rec(ErrorInfo(type="timeout", message="slow"))
    refused = rec(ErrorInfo(type="connection", message="no response (refused)"))

    watch = FailFast(3)
    for r in (auth, quota, rec(None), auth, one_case, timeout, quota):
        watch.watch(r)  # an ok record resets; case-specific errors neither count nor reset
    with pytest.raises(EndpointFailing, match=r"3 records in a row failed with bad_request 404"):
        watch.watch(missing)
    watch = FailFast(2)
    watch.watch(refused)
    with pytest.raises(EndpointFailing, match=r"2 records in a row failed with connection \("):
        watch.watch(refused)
    never = FailFast(0)
    for _ in range(100):
        never.watch(auth)


def test_an_unreachable_server_stops_the_run(tmp_path: Path) -> None:
    """A typo'd port: every case would retry into the same refused connection."""
    import socket

    from harness.errors import EndpointFailing

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    suite = write_suite(tmp_path / "g" / "c.yaml", make_cases(40))
    ep = Endpoint(
        name="typo",
        base_url=f"http://127.0.0.1:{port}/v1",
        model="m",
        limits=Limits(concurrency=2, max_retries=1, backoff_initial_s=0.01, backoff_max_s=0.02),
    )
    with pytest.raises(EndpointFailing, match=r"10 records in a row failed with connection \("):
        asyncio.run(run_suite(suite, ep, out_dir=tmp_path / "run", progress=False))
    assert load_manifest(tmp_path / "run").status == "interrupted"
    assert 10 <= len(_lines(tmp_path / "run")) <= 12

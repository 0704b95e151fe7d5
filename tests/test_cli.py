"""The command line as a user meets it: exit codes, one-line errors, nothing half-written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from harness.sim import SimConfig, SimServer
from harness.store import RESULTS, load_manifest, load_records

from .conftest import make_cases, write_suite


def harness(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


def _assert_input_error(proc: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    for frag in fragments:
        assert frag in proc.stderr, proc.stderr


BAD_INPUTS = {
    "unknown_key": (
        "- id: a\n  category: chat\n  messages: [{role: user, content: hi}]\n  temprature: 1\n",
        ":4: unknown key 'temprature'",
    ),
    "duplicate": (
        "- id: a\n  category: chat\n  messages: [{role: user, content: hi}]\n- id: a\n  category: chat\n  messages: [{role: user, content: x}]\n",
        ":4: duplicate case id 'a'",
    ),
    "category": (
        "- id: a\n  category: smalltalk\n  messages: [{role: user, content: hi}]\n",
        ":2: unknown category 'smalltalk'",
    ),
    "check": (
        "- id: a\n  category: chat\n  messages: [{role: user, content: hi}]\n  checks: [{type: nope}]\n",
        ":4: unknown check type 'nope'",
    ),
    "yaml": (
        "- id: a\n  category: chat\n  messages: [{role: user, content: hi}\n",
        "malformed YAML",
    ),
    "empty": ("\n", ":1: no cases"),
    "tool": (
        "- id: a\n  category: tool_use\n  messages: [{role: user, content: hi}]\n  tools: [{type: function, function: {name: 'bad name'}}]\n",
        ":4: tools.0.function.name",
    ),
    "tool_choice_unknown_function": (
        "- id: a\n  category: tool_use\n  messages: [{role: user, content: hi}]\n  tools: [{type: function, function: {name: ok}}]\n  tool_choice: {type: function, function: {name: missing}}\n",
        ":5: tool_choice: names function 'missing', which is not among the tools (ok)",
    ),
    "tool_choice_without_tools": (
        "- id: a\n  category: tool_use\n  messages: [{role: user, content: hi}]\n  tool_choice: required\n",
        ":4: tool_choice: 'required' needs tools, and the case has none",
    ),
    "response_format_schema": (
        "- id: a\n  category: extraction\n  messages: [{role: user, content: hi}]\n  params:\n    response_format: {type: json_schema, json_schema: {name: x, schema: {type: objekt}}}\n",
        ":5: params.response_format: json_schema.schema is not a valid JSON Schema",
    ),
    "response_format_type": (
        "- id: a\n  category: extraction\n  messages: [{role: user, content: hi}]\n  params: {response_format: {type: jsonschema}}\n",
        ":4: params.response_format: type must be one of text, json_object, json_schema",
    ),
    "response_format_name": (
        "- id: a\n  category: extraction\n  messages: [{role: user, content: hi}]\n  params: {response_format: {type: json_schema, json_schema: {schema: {type: object}}}}\n",
        ":4: params.response_format: json_schema.name is required",
    ),
    "message_without_content": (
        "- id: a\n  category: chat\n  messages:\n    - {role: user}\n",
        ":4: messages.0: a user message needs content",
    ),
    "tool_message_without_id": (
        "- id: a\n  category: tool_use\n  messages:\n    - {role: user, content: hi}\n    - {role: tool, content: '42'}\n",
        ":5: messages.1: a tool message needs the tool_call_id of the call it answers",
    ),
    "tool_message_answers_no_call": (
        "- id: a\n  category: tool_use\n  messages:\n    - {role: user, content: hi}\n    - {role: assistant, tool_calls: [{id: c1, type: function, function: {name: f, arguments: '{}'}}]}\n    - {role: tool, tool_call_id: c2, content: '42'}\n",
        "message 2: tool_call_id 'c2' answers no tool call of an earlier assistant message",
    ),
    "tool_choice_word": (
        "- id: a\n  category: tool_use\n  messages: [{role: user, content: hi}]\n  tools: [{type: function, function: {name: ok}}]\n  tool_choice: any\n",
        ":5: tool_choice: must be 'none', 'auto', 'required' or a function, got 'any'",
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_golden_files_exit_2_and_write_nothing(name: str, tmp_path: Path) -> None:
    text, fragment = BAD_INPUTS[name]
    golden = tmp_path / "g.yaml"
    golden.write_text(text)
    _assert_input_error(harness("validate", str(golden)), f"{golden}", fragment)
    out = tmp_path / "run"
    proc = harness(
        "run",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--model",
        "m",
        "--suite",
        str(golden),
        "--out",
        str(out),
    )
    _assert_input_error(proc, fragment)
    assert not out.exists()


def test_bad_flags_and_config(tmp_path: Path) -> None:
    _assert_input_error(harness("run", "--suite", str(tmp_path)), "")
    _assert_input_error(harness("run", "--endpoint", "nope"), "unknown endpoint 'nope'")
    _assert_input_error(harness("report", str(tmp_path / "missing")), "not a run directory")
    _assert_input_error(
        harness(
            "run",
            "--endpoint",
            "dashscope-intl",
            "--model",
            "qwen3.5-plus",
            env={"DASHSCOPE_API_KEY": ""},
        ),
        "set the environment variable DASHSCOPE_API_KEY",
    )
    cfg = tmp_path / "h.yaml"
    cfg.write_text(
        "endpoints:\n  a:\n    model: m\n    base_url: http://x\n    limits: {rpm: -1}\n"
    )
    _assert_input_error(
        harness("run", "--endpoint", "a", "--config", str(cfg)),
        f"{cfg}:5: endpoint 'a': limits.rpm",
    )
    _assert_input_error(harness("frobnicate"), "invalid choice")


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ("{top_k: 3}", "params.top_k is not a chat.completions field"),
        ("{extra_headers: {X-Team: [a]}}", "params.extra_headers must map names to strings"),
    ],
)
def test_bad_endpoint_params_write_no_run_directory(
    tmp_path: Path, params: str, fragment: str
) -> None:
    suite = write_suite(tmp_path / "golden" / "c.yaml", make_cases(2))
    cfg = tmp_path / "h.yaml"
    cfg.write_text(f"endpoints:\n  a:\n    preset: sim\n    model: m\n    params: {params}\n")
    out = tmp_path / "run"
    proc = harness(
        "run", "--endpoint", "a", "--config", str(cfg), "--suite", suite.path, "--out", str(out)
    )
    _assert_input_error(proc, fragment)
    assert not out.exists()


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (["--base-url", "notaurl", "--model", "m"], "base_url: must be an absolute http(s) URL"),
        (["--endpoint", "sim", "--category", "chatt"], "argument --category: invalid choice"),
    ],
)
def test_bad_run_flags_write_nothing(tmp_path: Path, flags: list[str], fragment: str) -> None:
    suite = write_suite(tmp_path / "golden" / "c.yaml", make_cases(2))
    out = tmp_path / "run"
    proc = harness("run", *flags, "--suite", suite.path, "--out", str(out))
    _assert_input_error(proc, fragment)
    assert not out.exists()


def test_out_that_is_a_file_and_a_resume_of_a_bad_manifest_exit_2(tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "golden" / "c.yaml", make_cases(2))
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    for out, fragment in [
        (afile, "output path exists and is not a directory"),
        (afile / "run", "cannot create the run directory"),
    ]:
        proc = harness("run", "--endpoint", "sim", "--suite", suite.path, "--out", str(out))
        _assert_input_error(proc, f"{out}: {fragment}")
    assert afile.read_text() == "keep me"

    out = tmp_path / "run"
    proc = harness(
        "run", "--endpoint", "sim", "--suite", suite.path, "--out", str(out), "--no-progress"
    )
    assert proc.returncode == 0, proc.stderr
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    manifest["endpoint"]["base_url"] = "localhost:8000/v1"  # edited by hand
    (out / "manifest.json").write_bytes(orjson.dumps(manifest))
    before = (out / RESULTS).read_bytes()
    _assert_input_error(
        harness("run", "--resume", str(out), "--retry-errors"),
        f"{out / 'manifest.json'}:1: endpoint: base_url: must be an absolute http(s) URL",
    )
    assert (out / RESULTS).read_bytes() == before
    assert orjson.loads((out / "manifest.json").read_bytes()) == manifest


def test_sim_on_an_unusable_port_exits_2(tmp_path: Path) -> None:
    import socket

    suite = write_suite(tmp_path / "golden" / "c.yaml", make_cases(1))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        _assert_input_error(
            harness("sim", "--suite", suite.path, "--port", port), "address already in use"
        )
    _assert_input_error(harness("sim", "--suite", suite.path, "--port", "99999"), "0 and 65535")


def test_run_report_on_the_in_process_simulator(tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "golden" / "c.yaml", make_cases(6))
    out = tmp_path / "run"
    proc = harness(
        "run", "--endpoint", "sim", "--suite", suite.path, "--out", str(out), "--no-progress"
    )
    assert proc.returncode == 0, proc.stderr
    assert "passed 6/6" in proc.stdout and "simulator (not a model" in proc.stderr
    assert len(load_records(out)) == 6
    gate = harness(
        "run",
        "--endpoint",
        "sim",
        "--sim-profile",
        "empty",
        "--suite",
        suite.path,
        "--out",
        str(tmp_path / "empty"),
        "--no-progress",
        "--min-pass-rate",
        "0.5",
    )
    assert gate.returncode == 1 and "under --min-pass-rate" in gate.stdout


def _wait_for_lines(path: Path, n: int, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.is_file() and path.read_bytes().count(b"\n") >= n:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path}: fewer than {n} lines after {timeout}s")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_killed_run_resumes_to_exactly_n_records(sig: signal.Signals, tmp_path: Path) -> None:
    n = 120
    suite = write_suite(tmp_path / "golden" / "c.yaml", make_cases(n))
    out = tmp_path / "run"
    with SimServer(suite, SimConfig(latency_s=0.05)) as sim:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "harness",
                "run",
                "--base-url",
                sim.base_url,
                "--model",
                "sim",
                "--suite",
                suite.path,
                "--out",
                str(out),
                "--concurrency",
                "4",
                "--no-progress",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        _wait_for_lines(out / RESULTS, 20)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        assert "Traceback" not in err
        if sig == signal.SIGKILL:
            assert proc.returncode == -9
            assert load_manifest(out).status == "running"  # nobody could mark it
        else:
            assert proc.returncode == 130, err
            assert load_manifest(out).status == "interrupted"
        kept = len(load_records(out))
        assert 20 <= kept < n
        resumed = harness("run", "--resume", str(out), "--no-progress")
        assert resumed.returncode == 0, resumed.stderr
    raw = (out / RESULTS).read_bytes()
    assert raw.endswith(b"\n")
    lines = [orjson.loads(x) for x in raw.splitlines()]  # no torn line anywhere
    assert len(lines) == n
    assert len({x["case_id"] for x in lines}) == n
    assert load_manifest(out).status == "complete"


def test_diff_gate_thresholds_from_config(tmp_path: Path) -> None:
    """`gate:` in the config sets the diff's defaults; flags override; bad values are file:line."""
    import shutil

    suite = write_suite(tmp_path / "golden" / "c.yaml", make_cases(40))
    base, cand = tmp_path / "base", tmp_path / "cand"
    proc = harness(
        "run", "--endpoint", "sim", "--suite", suite.path, "--out", str(base), "--no-progress"
    )
    assert proc.returncode == 0, proc.stderr
    # The candidate: the same run with two verdicts turned to failures, a 5-point drop that
    # McNemar cannot call significant with 40 cases (p = 0.5).
    shutil.copytree(base, cand)
    lines = [orjson.loads(x) for x in (cand / RESULTS).read_bytes().splitlines()]
    for rec in lines[:2]:
        rec["passed"], rec["score"] = False, 0.0
    (cand / RESULTS).write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    plain = harness("diff", str(base), str(cand), "--fail-on-regression")
    assert plain.returncode == 0, plain.stdout
    cfg = tmp_path / "harness.yaml"
    cfg.write_text("endpoints:\n  x: {preset: sim}\ngate:\n  max_drop: 0.02\n")
    strict = harness("diff", str(base), str(cand), "--fail-on-regression", "--config", str(cfg))
    assert strict.returncode == 1, strict.stdout
    loose = harness(
        "diff",
        str(base),
        str(cand),
        "--fail-on-regression",
        "--config",
        str(cfg),
        "--max-drop",
        "0.1",
    )
    assert loose.returncode == 0, loose.stdout
    cfg.write_text("gate:\n  max_drop: 0.02\n  alpah: 0.1\n")
    _assert_input_error(
        harness("diff", str(base), str(cand), "--config", str(cfg)),
        f"{cfg}:3: gate: unknown key 'alpah'",
    )


def test_the_api_key_is_written_nowhere(tmp_path: Path) -> None:
    """A run that succeeds, a run whose key is refused, and every report and diff format:
    the key is in no file the harness writes and in nothing it prints."""
    key = "sk-test-3f9a1c-never-write-me"
    suite = write_suite(tmp_path / "golden" / "c.yaml", make_cases(4))
    cfg = tmp_path / "h.yaml"
    outputs = tmp_path / "out"
    printed = []
    for require, name in ((key, "good"), ("a-different-key", "refused")):
        with SimServer(suite, SimConfig(require_key=require)) as sim:
            cfg.write_text(
                f"endpoints:\n  s:\n    base_url: {sim.base_url}\n    model: sim-reference\n"
                "    api_key_env: HARNESS_TEST_KEY\n"
            )
            run = harness(
                "run", "--config", str(cfg), "--endpoint", "s", "--suite", suite.path,
                "--out", str(outputs / name), "--no-progress", env={"HARNESS_TEST_KEY": key},
            )  # fmt: skip
            assert run.returncode == 0, run.stderr
            printed += [run.stdout, run.stderr]
    refused = load_records(outputs / "refused")
    assert all(r.error and r.error.type == "auth" for r in refused)
    assert all(r.error and "$HARNESS_TEST_KEY" in r.error.message for r in refused)
    for name in ("good", "refused"):
        rep = harness(
            "report", str(outputs / name),
            "--html", str(outputs / f"{name}.html"), "--csv", str(outputs / f"{name}.csv"),
            "--md", str(outputs / f"{name}.md"), "--json", str(outputs / f"{name}.json"),
        )  # fmt: skip
        assert rep.returncode == 0, rep.stderr
        printed += [rep.stdout, rep.stderr]
    diff = harness(
        "diff", str(outputs / "good"), str(outputs / "refused"),
        "--html", str(outputs / "d.html"), "--csv", str(outputs / "d.csv"),
        "--md", str(outputs / "d.md"), "--json", str(outputs / "d.json"),
    )  # fmt: skip
    printed += [diff.stdout, diff.stderr]
    written = [p for p in outputs.rglob("*") if p.is_file()]
    assert len(written) >= 2 * 2 + 2 * 4 + 4  # two run dirs, two reports, one diff
    for path in written:
        assert key.encode() not in path.read_bytes(), path
    for text in printed:
        assert key not in text


def test_a_refused_key_stops_the_run_with_one_line_and_exit_2(tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "golden" / "c.yaml", make_cases(30))
    out = tmp_path / "run"
    with SimServer(suite, SimConfig(require_key="right-key")) as sim:
        proc = harness(
            "run", "--base-url", sim.base_url, "--model", "m", "--suite", suite.path,
            "--out", str(out), "--no-progress",
        )  # fmt: skip
    _assert_input_error(proc, "stopped: 10 records in a row failed with auth 401", "--resume")
    assert len(proc.stderr.strip().splitlines()) == 1
    assert load_manifest(out).status == "interrupted"
    assert 10 <= len(load_records(out)) < 30

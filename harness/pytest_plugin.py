"""Golden cases as pytest items: `pytest evals/` gates a merge like any other test suite.

A test that asks for the `golden_case` fixture is parametrized over the suite (`--golden`),
one item per case x repeat, with a readable id (`chat/refund-policy` or `chat/refund-policy#2`)
and a marker per category and per tag (`-m rag`, `-m "not coding"`, `-k invoice`).

Calls run concurrently even though pytest reports items one by one: when the session starts
running items, every selected case is submitted to the runner on a background event loop, and
each item waits only for its own record. Endpoint errors surface while setting up the fixture,
so pytest reports them as errors, not failures. Under pytest-xdist each worker calls only the
items it is given (one at a time; the workers give the parallelism) and appends to the run
directory the controller created, so no case is called twice.

The session writes a normal run directory (`harness report` / `harness diff` work on it) and
ends with a pass rate, its interval and token / latency totals. `--min-pass-rate` and
`--baseline RUN_DIR` (the diff's regression gate) make the session fail.
"""

from __future__ import annotations

from typing import Any

import pytest

from harness._pytest_session import FIXTURE, EvalSession
from harness.golden import Case
from harness.records import Record
from harness.store import MANIFEST, load_records

_STATE_KEY = pytest.StashKey[EvalSession]()


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("harness", "golden evals (harness)")
    g.addoption(
        "--endpoint",
        dest="harness_endpoint",
        metavar="NAME",
        help="endpoint name from --harness-config, or a preset; default: the built-in simulator",
    )
    g.addoption("--base-url", dest="harness_base_url", metavar="URL")
    g.addoption("--model", dest="harness_model", metavar="M")
    g.addoption("--api-key-env", dest="harness_api_key_env", metavar="VAR")
    g.addoption("--harness-config", dest="harness_config", metavar="FILE")
    g.addoption(
        "--golden",
        dest="harness_golden",
        default=None,
        metavar="PATH",
        help="golden file or folder (default: golden/ under the rootdir)",
    )
    g.addoption("--repeat", dest="harness_repeat", type=int, default=1, metavar="N")
    g.addoption(
        "--min-pass-rate", dest="harness_min_pass_rate", type=float, default=None, metavar="X"
    )
    g.addoption("--baseline", dest="harness_baseline", default=None, metavar="RUN_DIR")
    g.addoption("--run-dir", dest="harness_run_dir", default=None, metavar="DIR")
    g.addoption(
        "--sim-profile",
        dest="harness_sim_profile",
        default="reference",
        choices=["reference", "degraded", "empty"],
        help="profile of the in-process simulator used when no endpoint is given",
    )
    g.addoption("--max-drop", dest="harness_max_drop", type=float, default=None, metavar="X")
    g.addoption("--alpha", dest="harness_alpha", type=float, default=None, metavar="A")


def _case_id(case: Case, repeat: int, repeats: int) -> str:
    return f"{case.category}/{case.id}" + (f"#{repeat + 1}" if repeats > 1 else "")


def _is_golden(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    return callspec is not None and FIXTURE in callspec.params


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_STATE_KEY] = EvalSession(config)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if FIXTURE not in metafunc.fixturenames:
        return
    state = metafunc.config.stash[_STATE_KEY]
    repeats = metafunc.config.getoption("harness_repeat")
    try:
        suite = state.load()
        if repeats < 1:
            raise pytest.UsageError("--repeat must be at least 1")
    except pytest.UsageError as exc:
        # Raised inside a collector, pytest would report a collection error with its own
        # traceback; a bad golden file or option is the user's input, so it is raised once
        # collection is over (pytest_collection_modifyitems), where it is a usage error.
        state.usage_error = str(exc)
        metafunc.parametrize(FIXTURE, [], indirect=True)
        return
    names = {c.category for c in suite} | {t for c in suite for t in c.tags}
    for name in sorted(names):
        metafunc.config.addinivalue_line(
            "markers", f"{name}: golden cases in category or tag {name!r}"
        )
    params = []
    for repeat in range(repeats):
        for case in suite:
            marks = [getattr(pytest.mark, case.category)] + [
                getattr(pytest.mark, t) for t in case.tags
            ]
            params.append(
                pytest.param((case, repeat), id=_case_id(case, repeat, repeats), marks=marks)
            )
    metafunc.parametrize(FIXTURE, params, indirect=True)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Remember which golden items survived -m / -k; they are the ones to call."""
    state = config.stash[_STATE_KEY]
    if state.usage_error is not None:
        raise pytest.UsageError(state.usage_error)
    state.selected = [it for it in items if _is_golden(it)]


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    state = session.config.stash[_STATE_KEY]
    if state.selected and not session.config.option.collectonly:
        state.start(state.selected)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller -> worker: where the shared run directory goes."""
    state: EvalSession = node.config.stash[_STATE_KEY]
    node.workerinput["harness_run_dir"] = str(state.planned_run_dir())


class GoldenCase:
    """What an eval test receives: the case, its record, and an assertion with a readable story."""

    def __init__(self, case: Case, record: Record) -> None:
        self.case = case
        self.record = record

    @property
    def passed(self) -> bool:
        return bool(self.record.passed)

    def explain(self) -> str:
        from harness.pytest_report import explain_failure

        return explain_failure(self.case, self.record)

    def assert_passed(self) -> None:
        __tracebackhide__ = True
        if not self.record.passed:
            pytest.fail(self.explain(), pytrace=False)


@pytest.fixture
def golden_case(request: pytest.FixtureRequest) -> GoldenCase:
    case, repeat = request.param
    state: EvalSession = request.config.stash[_STATE_KEY]
    if state.loop is None:  # run directly without the session hook (e.g. a plugin conflict)
        state.start([request.node])
    rec = state.record_for((case.id, repeat))
    if rec.status == "error" and rec.error is not None:
        raise EndpointError(
            f"{rec.error.type} (status {rec.error.status_code or 'n/a'}, "
            f"code {rec.error.code or 'n/a'}) "
            f"after {rec.attempts} attempt(s): {rec.error.message}"
        )
    return GoldenCase(case, rec)


class EndpointError(Exception):
    """The endpoint failed for this case: an error in the session, not a failed eval."""


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Close the run, then apply the gates; a failed gate fails the session (exit 1)."""
    state: EvalSession = session.config.stash[_STATE_KEY]
    state.finish()
    if state.run_dir is None or state.is_worker or not (state.run_dir / MANIFEST).is_file():
        return
    from harness.pytest_report import gate

    records = load_records(state.run_dir)
    if records:
        state.gate_verdict = gate(session.config, records, state.run_dir)
        if state.gate_verdict is not None and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state: EvalSession = config.stash[_STATE_KEY]
    if state.run_dir is None or state.is_worker or not (state.run_dir / MANIFEST).is_file():
        return
    from harness.pytest_report import summary_lines

    records = load_records(state.run_dir)
    if not records:
        return
    tr = terminalreporter
    tr.section("harness golden evals")
    for line in summary_lines(records, state.run_dir):
        tr.write_line(line)
    if state.gate_verdict is not None:
        tr.write_line(state.gate_verdict, red=True, bold=True)

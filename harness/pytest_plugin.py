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

import asyncio
import fcntl
import tempfile
import threading
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.endpoints import Endpoint, Limits, resolve_endpoint
from harness.errors import InputError
from harness.golden import Case, Suite, load_suite
from harness.records import Record
from harness.store import MANIFEST, ResultsWriter, load_manifest, load_records, write_manifest

_STATE_KEY = pytest.StashKey["_Session"]()
FIXTURE = "golden_case"


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


class _LoopThread:
    """An event loop on a daemon thread: pytest is synchronous, the runner is not."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="harness-evals", daemon=True
        )
        self._thread.start()

    def submit(self, coro: Any) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


@dataclass
class _Session:
    config: pytest.Config
    suite: Suite | None = None
    endpoint: Endpoint | None = None
    run_dir: Path | None = None
    sim: Any = None
    loop: _LoopThread | None = None
    writer: ResultsWriter | None = None
    waiting: dict[tuple[str, int], Future[Record]] = field(default_factory=dict)
    started: set[tuple[str, int]] = field(default_factory=set)
    """Under xdist: the cases this worker has already sent (each item sends its own)."""
    prefetch: Future[Any] | None = None
    is_worker: bool = False
    selected: list[pytest.Item] = field(default_factory=list)
    gate_verdict: str | None = None

    # -- setup ----------------------------------------------------------------

    def golden_path(self) -> Path:
        opt = self.config.getoption("harness_golden")
        return Path(opt) if opt else Path(self.config.rootpath) / "golden"

    def load(self) -> Suite:
        if self.suite is None:
            try:
                self.suite = load_suite(self.golden_path())
            except InputError as exc:
                raise pytest.UsageError("\n".join(exc.lines())) from None
        return self.suite

    def resolve_endpoint(self) -> Endpoint:
        o = self.config.getoption
        name, base_url, model = o("harness_endpoint"), o("harness_base_url"), o("harness_model")
        if name is None and base_url is None:
            return Endpoint(
                name="sim",
                preset="sim",
                base_url="",
                model=f"sim-{o('harness_sim_profile')}",
                limits=Limits(concurrency=16, timeout_s=60),
            )
        try:
            ep = resolve_endpoint(
                name=name,
                config=o("harness_config"),
                base_url=base_url,
                model=model,
                api_key_env=o("harness_api_key_env"),
            )
        except InputError as exc:
            raise pytest.UsageError("\n".join(exc.lines())) from None
        missing = ep.missing_key()
        if missing:
            raise pytest.UsageError(f"endpoint {ep.name!r} needs an API key: set {missing}")
        return ep

    def start(self, items: list[pytest.Item]) -> None:
        """Open the run directory (controller) and the loop; prefetch every selected case."""
        suite = self.load()
        self.endpoint = self.resolve_endpoint()
        self.loop = _LoopThread()
        if self.endpoint.preset == "sim" and not self.endpoint.base_url:
            from harness.sim import SimConfig, SimServer

            self.sim = SimServer(
                suite, SimConfig(profile=self.config.getoption("harness_sim_profile"))
            )
            url = self.loop.submit(self.sim.start()).result(timeout=30)
            self.endpoint = self.endpoint.model_copy(update={"base_url": url})
        workerinput = getattr(self.config, "workerinput", None)
        if workerinput is not None:
            self.is_worker = True
            self.run_dir = Path(workerinput["harness_run_dir"])
        self.writer = ResultsWriter(self.ensure_run_dir(self.endpoint))
        keys = [_item_key(it) for it in items]
        for key in keys:
            self.waiting[key] = Future()
        if not self.is_worker:
            self.prefetch = self.loop.submit(self._run([k for k in keys]))

    def planned_run_dir(self) -> Path:
        """Where this session's run goes (chosen up front, created only when a case runs)."""
        if self.run_dir is None:
            opt_dir = self.config.getoption("harness_run_dir")
            self.run_dir = (
                Path(opt_dir)
                if opt_dir
                else Path(tempfile.gettempdir()) / f"harness-evals-{uuid.uuid4().hex[:12]}" / "run"
            )
        return self.run_dir

    def ensure_run_dir(self, endpoint: Endpoint) -> Path:
        """Create the run directory and manifest once, whichever process gets here first.

        Under xdist every worker that runs a golden item calls this; a lock file beside the run
        directory makes exactly one of them write the manifest. Sessions that run no golden
        item never create anything.
        """
        from harness.runner import create_run
        from harness.selection import Selection

        run_dir = self.planned_run_dir()
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        lock_path = run_dir.parent / f".{run_dir.name}.lock"
        with lock_path.open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (run_dir / MANIFEST).is_file():
                create_run(
                    self.load(),
                    endpoint,
                    out_dir=run_dir,
                    repeats=self.config.getoption("harness_repeat"),
                    selection=Selection(),
                    argv=["pytest", *self.config.invocation_params.args],
                )
        lock_path.unlink(missing_ok=True)
        return run_dir

    async def _run(self, keys: list[tuple[str, int]]) -> None:
        from harness.runner import run_jobs

        assert self.suite is not None
        assert self.endpoint is not None
        assert self.writer is not None
        by_id = self.suite.by_id()
        jobs = [(by_id[cid], rep) for cid, rep in keys]

        def done(rec: Record) -> None:
            fut = self.waiting.get(rec.key)
            if fut is not None and not fut.done():
                fut.set_result(rec)

        try:
            await run_jobs(
                jobs,
                self.endpoint,
                self.writer,
                concurrency=self.endpoint.limits.concurrency,
                progress=False,
                on_record=done,
            )
        except BaseException as exc:
            for key in keys:
                fut = self.waiting[key]
                if not fut.done():
                    fut.set_exception(RuntimeError(f"the eval run stopped: {exc!r}"))
            raise

    def record_for(self, key: tuple[str, int]) -> Record:
        fut = self.waiting.get(key)
        if fut is None:
            raise RuntimeError(f"golden case {key} was not scheduled")
        if self.is_worker and not fut.done() and key not in self.started:
            self.started.add(key)
            assert self.loop is not None
            self.loop.submit(self._run([key]))
        timeout = (
            (self.endpoint.limits.timeout_s * (self.endpoint.limits.max_retries + 2))
            if self.endpoint
            else None
        )
        return fut.result(timeout=None if not self.is_worker else timeout)

    # -- teardown ---------------------------------------------------------------

    def finish(self) -> None:
        if self.loop is not None:
            if self.prefetch is not None and not self.prefetch.done():
                self.prefetch.cancel()
            if self.sim is not None:
                self.loop.submit(self.sim.stop()).result(timeout=30)
            self.loop.close()
            self.loop = None
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        if not self.is_worker and self.run_dir is not None and (self.run_dir / MANIFEST).is_file():
            from harness.runner import now_iso

            m = load_manifest(self.run_dir)
            m.finished_at = now_iso()
            m.status = "complete"
            write_manifest(self.run_dir, m)


def _case_id(case: Case, repeat: int, repeats: int) -> str:
    return f"{case.category}/{case.id}" + (f"#{repeat + 1}" if repeats > 1 else "")


def _item_key(item: pytest.Item) -> tuple[str, int]:
    callspec = getattr(item, "callspec", None)
    param = callspec.params[FIXTURE] if callspec is not None else None
    if not isinstance(param, tuple):
        raise RuntimeError(f"{item.nodeid}: not a golden case item")
    case, repeat = param
    return (case.id, repeat)


def _is_golden(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    return callspec is not None and FIXTURE in callspec.params


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_STATE_KEY] = _Session(config)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if FIXTURE not in metafunc.fixturenames:
        return
    state = metafunc.config.stash[_STATE_KEY]
    suite = state.load()
    repeats = metafunc.config.getoption("harness_repeat")
    if repeats < 1:
        raise pytest.UsageError("--repeat must be at least 1")
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
    config.stash[_STATE_KEY].selected = [it for it in items if _is_golden(it)]


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    state = session.config.stash[_STATE_KEY]
    if state.selected and not session.config.option.collectonly:
        state.start(state.selected)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller -> worker: where the shared run directory goes."""
    state: _Session = node.config.stash[_STATE_KEY]
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
    state: _Session = request.config.stash[_STATE_KEY]
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
    state: _Session = session.config.stash[_STATE_KEY]
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
    state: _Session = config.stash[_STATE_KEY]
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

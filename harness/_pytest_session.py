"""One pytest session's eval run: the suite, the endpoint, the run directory, the calls.

The state behind `harness.pytest_plugin`, apart from its hooks: the controller (or a lone
process) opens the run directory and submits every selected case to the runner on a background
loop; an xdist worker appends to the directory the controller chose, calling only the items it
is given. Each item then waits for its own record (`record_for`).
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
from harness.golden import Suite, load_suite
from harness.records import Record
from harness.store import MANIFEST, ResultsWriter, load_manifest, write_manifest

#: The fixture that makes a test a golden eval; its parameter is (case, repeat).
FIXTURE = "golden_case"


def item_key(item: pytest.Item) -> tuple[str, int]:
    callspec = getattr(item, "callspec", None)
    param = callspec.params[FIXTURE] if callspec is not None else None
    if not isinstance(param, tuple):
        raise RuntimeError(f"{item.nodeid}: not a golden case item")
    case, repeat = param
    return (case.id, repeat)


class LoopThread:
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
class EvalSession:
    config: pytest.Config
    suite: Suite | None = None
    endpoint: Endpoint | None = None
    run_dir: Path | None = None
    sim: Any = None
    loop: LoopThread | None = None
    writer: ResultsWriter | None = None
    waiting: dict[tuple[str, int], Future[Record]] = field(default_factory=dict)
    started: set[tuple[str, int]] = field(default_factory=set)
    """Under xdist: the cases this worker has already sent (each item sends its own)."""
    prefetch: Future[Any] | None = None
    is_worker: bool = False
    selected: list[pytest.Item] = field(default_factory=list)
    gate_verdict: str | None = None
    usage_error: str | None = None
    """A bad golden file or option met during collection, raised once collection is over."""

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

    def resolve_endpoint(self) -> Endpoint | None:
        """The endpoint the options name; None for the default, a simulator in this process."""
        o = self.config.getoption
        name, base_url, model = o("harness_endpoint"), o("harness_base_url"), o("harness_model")
        if name is None and base_url is None:
            return None
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
        endpoint = self.resolve_endpoint()
        self.loop = LoopThread()
        if endpoint is None:
            from harness.sim import SimConfig, SimServer

            profile = self.config.getoption("harness_sim_profile")
            self.sim = SimServer(suite, SimConfig(profile=profile))
            url = self.loop.submit(self.sim.start()).result(timeout=30)
            endpoint = Endpoint(
                name="sim",
                preset="sim",
                base_url=url,
                model=f"sim-{profile}",
                limits=Limits(concurrency=16, timeout_s=60),
            )
        self.endpoint = endpoint
        workerinput = getattr(self.config, "workerinput", None)
        if workerinput is not None:
            self.is_worker = True
            self.run_dir = Path(workerinput["harness_run_dir"])
        self.writer = ResultsWriter(self.ensure_run_dir(self.endpoint))
        keys = [item_key(it) for it in items]
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
                    why = (
                        str(exc)
                        if isinstance(exc, InputError)
                        else f"the eval run stopped: {exc!r}"
                    )
                    fut.set_exception(RuntimeError(why))
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

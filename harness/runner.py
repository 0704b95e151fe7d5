"""Suite x endpoint x repeats -> one record per case x repeat in a run directory.

A fixed pool of workers pulls (case, repeat) jobs from a queue, so 100,000 jobs do not become
100,000 tasks. Each job is one call (with retries) followed by its checks, and its record is
appended and flushed before the worker takes the next job: that is what makes a run resumable
and a crash cheap. Rate limits (requests per minute AND per second, DashScope enforces both)
are taken before every attempt, retries included, with aiolimiter.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import re
import signal
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness._failfast import FailFast
from harness._progress import Progress
from harness._version import __version__
from harness.checks import CheckContext, score_output
from harness.checks.judge import judge_session
from harness.client import Client, build_request, endpoint_params
from harness.endpoints import Endpoint
from harness.errors import EndpointFailing, InputError, Problem, describe_validation_error
from harness.golden import Case, Suite, load_suite
from harness.ratelimit import RateLimits, rate_limits
from harness.records import Manifest, Record, SuiteInfo
from harness.retry import complete_with_retries
from harness.selection import Selection, parse_shard
from harness.store import (
    MANIFEST,
    ResultsWriter,
    is_run_dir,
    load_manifest,
    load_records,
    write_manifest,
)

DEFAULT_RUNS_DIR = Path("reports") / "runs"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class RunResult:
    path: Path
    manifest: Manifest
    scheduled: int
    written: int
    """Records this invocation appended."""
    errors: int
    interrupted: bool = False


async def _run_one(
    case: Case,
    repeat: int,
    body: dict[str, Any],
    client: Client,
    endpoint: Endpoint,
    limiters: RateLimits,
) -> Record:
    started = now_iso()
    attempt, attempts = await complete_with_retries(
        client, body, endpoint.limits, before_attempt=limiters.acquire
    )
    base: dict[str, Any] = {
        "case_id": case.id,
        "case_hash": case.case_hash,
        "category": case.category,
        "repeat": repeat,
        "endpoint": endpoint.name,
        "model": endpoint.model,
        "output": attempt.output,
        "finish_reason": attempt.finish_reason,
        "usage": attempt.usage,
        "latency_s": attempt.latency_s,
        "ttft_s": attempt.ttft_s,
        "attempts": attempts,
        "started_at": started,
        "tags": case.tags,
        "served": attempt.served,
    }
    if attempt.error is not None:
        # An endpoint error is a failure with an unknown score, and no check ran.
        return Record(status="error", error=attempt.error, passed=False, score=None, **base)
    ctx = CheckContext(
        case=case,
        output=attempt.output,
        finish_reason=attempt.finish_reason,
        usage=attempt.usage,
        latency_s=attempt.latency_s,
        ttft_s=attempt.ttft_s,
        attempts=attempts,
        endpoint=endpoint,
    )
    outcomes, score, passed = await score_output(ctx)
    return Record(status="ok", error=None, checks=outcomes, score=score, passed=passed, **base)


def _make_run_id(endpoint: Endpoint) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", endpoint.model).strip("-")[:40] or "model"
    return f"{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}-{slug}-{uuid.uuid4().hex[:6]}"


async def run_jobs(
    jobs: list[tuple[Case, int]],
    endpoint: Endpoint,
    writer: ResultsWriter,
    *,
    concurrency: int,
    progress: bool | None = None,
    on_record: Callable[[Record], None] | None = None,
) -> tuple[int, int]:
    """Call and score `jobs`, appending each record as it finishes; returns (written, errors).

    The building block under `run_suite`, `resume_run` and the pytest plugin. Cancelling it
    loses only the calls in flight: every finished record is already on disk.
    """
    prog = Progress(len(jobs), show=progress)
    limiters = rate_limits(endpoint)
    queue: asyncio.Queue[tuple[Case, int]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    bodies: dict[str, dict[str, Any]] = {}
    fail_fast = FailFast(endpoint.limits.fail_fast_after)

    async def worker(client: Client) -> None:
        while True:
            try:
                case, repeat = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            body = bodies.get(case.id)
            if body is None:
                body = bodies[case.id] = build_request(case, endpoint)
            rec = await _run_one(case, repeat, body, client, endpoint, limiters)
            writer.append(rec)
            prog.update(rec)
            if on_record is not None:
                on_record(rec)
            fail_fast.watch(rec)

    # The suite, its built checks and the SDK are long-lived: keep the collector from walking
    # them again and again during the run (a full collection then stalls a whole wave of calls).
    gc.freeze()
    try:
        async with Client(endpoint) as client, judge_session():
            n = max(1, min(concurrency, len(jobs)))
            workers = [asyncio.create_task(worker(client)) for _ in range(n)]
            try:
                await asyncio.gather(*workers)
            except BaseException:
                for w in workers:
                    w.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
                raise
    finally:
        gc.unfreeze()
        prog.close()
    return prog.done, prog.errors


async def _execute(
    *,
    run_dir: Path,
    manifest: Manifest,
    jobs: list[tuple[Case, int]],
    endpoint: Endpoint,
    concurrency: int,
    progress: bool | None,
    on_record: Callable[[Record], None] | None,
) -> RunResult:
    """`run_jobs` plus the manifest's life cycle and Ctrl-C / SIGTERM handling."""
    writer = ResultsWriter(run_dir)
    counts: list[int] = []

    def _count(rec: Record) -> None:
        counts.append(1 if rec.status == "error" else 0)
        if on_record is not None:
            on_record(rec)

    main = asyncio.current_task()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    stop_signal: list[signal.Signals] = []

    def _on_signal(sig: signal.Signals) -> None:
        stop_signal.append(sig)
        if main is not None:
            main.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, _on_signal, sig)
            installed.append(sig)
    finished = False
    try:
        await run_jobs(
            jobs, endpoint, writer, concurrency=concurrency, progress=progress, on_record=_count
        )
        finished = True
    except asyncio.CancelledError:
        if not stop_signal:
            raise
    except EndpointFailing as exc:
        raise EndpointFailing(
            f"{exc}; fix it, then `harness run --resume {run_dir} --retry-errors`"
        ) from None
    except KeyboardInterrupt:
        pass  # the manifest says interrupted, and so does the result
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        writer.close()
        manifest.finished_at = now_iso()
        # Anything but a normal end (a signal, a crash in a check or a callback) leaves the run
        # resumable: "complete" would make --resume believe nothing is missing.
        manifest.status = "complete" if finished and not stop_signal else "interrupted"
        write_manifest(run_dir, manifest)
    return RunResult(
        path=run_dir,
        manifest=manifest,
        scheduled=manifest.scheduled,
        written=len(counts),
        errors=sum(counts),
        interrupted=manifest.status == "interrupted",
    )


def _jobs(suite: Suite, repeats: int, skip: set[tuple[str, int]]) -> list[tuple[Case, int]]:
    # Repeat-major order: every case once before any case twice, so an interrupted
    # `--repeat 5` run still covers the whole suite.
    return [(c, r) for r in range(repeats) for c in suite.cases if (c.id, r) not in skip]


def create_run(
    chosen: Suite,
    endpoint: Endpoint,
    *,
    out_dir: str | Path | None,
    repeats: int,
    selection: Selection,
    argv: list[str] | None,
    concurrency: int | None = None,
) -> tuple[Path, Manifest]:
    """Make the run directory and its first manifest (status "running")."""
    endpoint_params(endpoint)  # a bad endpoint config fails here, before anything is written
    run_id = _make_run_id(endpoint)
    run_dir = Path(out_dir) if out_dir is not None else DEFAULT_RUNS_DIR / run_id
    if run_dir.exists() and not run_dir.is_dir():
        raise InputError(f"{run_dir}: output path exists and is not a directory")
    if run_dir.exists() and any(run_dir.iterdir()):
        raise InputError(
            f"{run_dir}: output directory exists and is not empty (use --resume to continue a run)"
        )
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a parent that is a file, or no permission
        raise InputError(f"{run_dir}: cannot create the run directory: {exc.strerror}") from None
    manifest = Manifest(
        run_id=run_id,
        harness_version=__version__,
        suite=SuiteInfo(path=str(chosen.path), hash=chosen.hash, cases=len(chosen.cases)),
        endpoint=endpoint.public_dict(),
        repeats=repeats,
        started_at=now_iso(),
        argv=list(argv or []),
        selection=selection.to_dict(),
        scheduled=len(chosen.cases) * repeats,
    )
    if concurrency is not None:
        manifest.endpoint["limits"]["concurrency"] = concurrency
    write_manifest(run_dir, manifest)
    return run_dir, manifest


async def run_suite(
    suite: Suite | str | Path,
    endpoint: Endpoint,
    *,
    out_dir: str | Path | None = None,
    repeats: int = 1,
    concurrency: int | None = None,
    categories: Iterable[str] = (),
    filter_text: str | None = None,
    shard: tuple[int, int] | str | None = None,
    progress: bool | None = None,
    argv: list[str] | None = None,
    on_record: Callable[[Record], None] | None = None,
) -> RunResult:
    """Run a suite against an endpoint into a new run directory."""
    if not isinstance(suite, Suite):
        suite = load_suite(suite)
    if repeats < 1:
        raise InputError("--repeat must be at least 1")
    if isinstance(shard, str):
        shard = parse_shard(shard)
    selection = Selection(tuple(categories), filter_text, shard)
    chosen = selection.apply(suite)
    if not chosen.cases:
        raise InputError(f"{suite.path}: no case matches the selection ({selection.describe()})")
    run_dir, manifest = create_run(
        chosen,
        endpoint,
        out_dir=out_dir,
        repeats=repeats,
        selection=selection,
        argv=argv,
        concurrency=concurrency,
    )
    return await _execute(
        run_dir=run_dir,
        manifest=manifest,
        jobs=_jobs(chosen, repeats, set()),
        endpoint=endpoint,
        concurrency=concurrency or endpoint.limits.concurrency,
        progress=progress,
        on_record=on_record,
    )


async def resume_run(
    run_dir: str | Path,
    *,
    retry_errors: bool = False,
    concurrency: int | None = None,
    progress: bool | None = None,
    suite: Suite | None = None,
    on_record: Callable[[Record], None] | None = None,
) -> RunResult:
    """Finish a run: call only the case x repeat pairs that have no record (or an error one).

    The endpoint and the selection come from the manifest; the key comes from the environment
    again. If the golden cases changed since the run started, resuming would mix two versions
    of the suite in one run, so it is refused.
    """
    path = Path(run_dir)
    if not is_run_dir(path):
        raise InputError(f"{path}: not a run directory (no manifest.json)")
    manifest = load_manifest(path)
    try:
        endpoint = Endpoint.model_validate(manifest.endpoint)
    except ValidationError as exc:  # a manifest edited by hand, or written before a check
        raise InputError(
            [
                Problem(str(path / MANIFEST), 1, f"endpoint: {describe_validation_error(err)}")
                for err in exc.errors()
            ]
        ) from None
    if suite is None:
        suite = load_suite(manifest.suite.path)
    selection = Selection.from_dict(manifest.selection)
    chosen = selection.apply(suite)
    if chosen.hash != manifest.suite.hash:
        raise InputError(
            f"{manifest.suite.path}: the golden cases changed since run {manifest.run_id} started "
            f"(suite hash {manifest.suite.hash} -> {chosen.hash}); start a new run"
        )
    done: set[tuple[str, int]] = set()
    for rec in load_records(path):
        if retry_errors and rec.status == "error":
            continue
        done.add(rec.key)
    jobs = _jobs(chosen, manifest.repeats, done)
    manifest.status = "running"
    manifest.finished_at = None
    write_manifest(path, manifest)
    return await _execute(
        run_dir=path,
        manifest=manifest,
        jobs=jobs,
        endpoint=endpoint,
        concurrency=concurrency or endpoint.limits.concurrency,
        progress=progress,
        on_record=on_record,
    )


def run_suite_sync(*args: Any, **kwargs: Any) -> RunResult:
    """`run_suite` for scripts and notebooks without an event loop of their own."""
    return asyncio.run(run_suite(*args, **kwargs))


def resume_run_sync(*args: Any, **kwargs: Any) -> RunResult:
    return asyncio.run(resume_run(*args, **kwargs))

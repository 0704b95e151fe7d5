"""Run untrusted, model-written Python against tests, contained.

Model output is the only untrusted code the harness ever executes, and it is executed only here.
The containment is layered so that each layer covers what the one before it misses:

* **Process layout.** The harness starts a small *supervisor* (``python -S -P``) in a new
  session. The supervisor enters fresh namespaces, then forks ``init`` (pid 1 of a new PID
  namespace, reaps orphans) which forks the *contained* process. The contained process drops
  privileges, sets rlimits and only then imports ``solution.py`` and runs the tests. Forking
  instead of exec'ing the contained interpreter saves a second interpreter start per check.
* **Kill everything.** When ``init`` exits the kernel kills every process in its PID namespace,
  so no grandchild survives, including ones that called ``setsid()`` to leave the process group.
  Where the PID namespace is unavailable the harness scans ``/proc`` for the session and (as
  root) the sandbox uid and kills what it finds.
* **Privileges (root).** The contained process runs as an otherwise unused uid (64999 and
  down, skipping real accounts) that the run holds exclusively, machine-wide (an ``flock``): it
  cannot signal the harness (EPERM), cannot write files owned by others, and ``RLIMIT_NPROC``
  (which root ignores) bounds a fork bomb, counting only this run's processes.
  ``PR_SET_NO_NEW_PRIVS`` prevents regaining privileges through setuid binaries.
* **Namespaces.** A network namespace (loopback down: even 127.0.0.1 is unreachable), a mount
  namespace (a private size-limited tmpfs over /tmp, /var/tmp, /dev/shm, /run/lock; directories
  the sandbox uid cannot traverse, such as a 0700 /root holding the interpreter, are masked
  with a tmpfs and only the interpreter's own directories are bound back), an IPC namespace and
  a PID namespace with a private /proc (host processes and their command lines are invisible).
  As non-root the same namespaces are created inside a new user namespace (uid mapped to
  itself, capabilities dropped before untrusted code runs).
* **In-process guard.** An audit hook, installed before the solution is imported, refuses
  socket connect/bind/send/name-resolution and signals to the harness. It is bypassable (ctypes)
  and therefore only the last layer, but it is always on.
* **Resources.** RLIMIT_CPU, RLIMIT_AS, RLIMIT_FSIZE, core dumps off, a wall-clock timeout in the
  harness, and an output cap enforced while reading (the harness never buffers more than the
  cap). The environment is built from scratch, so no API key reaches the child.

``isolation_report()`` says which layers were actually achieved on this machine.

What it does not stop: code that wants to *cheat* (e.g. ``os._exit(0)`` after forging the
completion marker) rather than escape; the sandbox contains harm, it does not judge intent.

This module runs one check and judges what came back. Who may run and as which uid is in
``_sandbox_slots.py``, the contract with the supervisor in ``_sandbox_protocol.py``, killing what
a run leaves behind in ``_sandbox_cleanup.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from harness._sandbox_cleanup import GRACE_S, stop, sweep
from harness._sandbox_protocol import child_env, prepare, read_status
from harness._sandbox_slots import acquire_slot, sandbox_uid

__all__ = ["SandboxLimits", "SandboxResult", "isolation_report", "run_python"]


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits for one check; the defaults suit HumanEval/MBPP-sized tasks."""

    wall_s: float = 10.0
    cpu_s: float = 10.0  # RLIMIT_CPU has whole-second granularity: rounded up
    memory_mb: int = 512
    #: Cap on captured stdout+stderr together. Exceeding it kills the process and fails the
    #: check (deterministically, whether or not the process would have finished in time).
    output_bytes: int = 64_000
    #: RLIMIT_NPROC of the contained process (threads count too). Enforced when the contained
    #: process has a uid (root harness) or user namespace of its own; see ``isolation_report``.
    max_processes: int = 64
    #: Size of the private tmpfs holding the working directory and /tmp, and RLIMIT_FSIZE.
    disk_mb: int = 64

    def __post_init__(self) -> None:
        for name in ("wall_s", "cpu_s", "memory_mb", "output_bytes", "max_processes", "disk_mb"):
            if getattr(self, name) <= 0:
                raise ValueError(f"SandboxLimits.{name} must be positive")


@dataclass(frozen=True)
class SandboxResult:
    """Outcome of one contained run; ``passed`` is the only field a score should rely on."""

    passed: bool  # exit code 0, not killed, and the tests ran to completion
    exit_code: int | None  # None when the process was killed (by us or by a signal)
    timed_out: bool  # wall clock or CPU time exhausted
    #: "wall_timeout" | "cpu_limit" | "memory" | "output_limit" | "signal N" | "sandbox_error"
    killed_reason: str | None
    stdout: str  # truncated to the cap
    stderr: str
    duration_s: float


_DEFAULT_LIMITS = SandboxLimits()
_WORKDIR_PREFIX = "harness-sandbox-"


class _Capture:
    """stdout+stderr read incrementally; bytes beyond the shared cap are counted, not kept."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.total = 0
        self.overflow = asyncio.Event()

    async def pump(self, stream: asyncio.StreamReader | None, into: bytearray) -> None:
        if stream is None:
            return
        while chunk := await stream.read(65536):
            room = self.cap - self.total
            if room > 0:
                into += chunk[:room]
            self.total += len(chunk)
            if self.total > self.cap:
                self.overflow.set()


async def run_python(
    code: str,
    tests: str,
    *,
    entry_point: str | None = None,
    limits: SandboxLimits = _DEFAULT_LIMITS,
) -> SandboxResult:
    """Run ``tests`` against ``code`` (executed as module ``solution``) in the sandbox.

    ``tests`` run in a namespace seeded with the solution's names (so MBPP-style bare asserts
    work) plus ``solution`` itself; if they define ``check`` and ``entry_point`` is given,
    ``check(solution.<entry_point>)`` is called HumanEval-style. At most ``os.cpu_count()``
    runs execute at once per process. Never raises for anything the code does.
    """
    async with acquire_slot() as slot:
        with sandbox_uid(slot) as uid:
            return await _run(code, tests, entry_point, limits, uid)


async def _run(
    code: str, tests: str, entry_point: str | None, limits: SandboxLimits, uid: int
) -> SandboxResult:
    workdir = tempfile.mkdtemp(prefix=_WORKDIR_PREFIX)
    status_r, status_w = os.pipe()
    proc: asyncio.subprocess.Process | None = None
    tasks: list[asyncio.Future[Any]] = []
    try:
        argv = prepare(workdir, code, tests, entry_point, limits, uid, status_w)
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=workdir,
            env=child_env(workdir),
            start_new_session=True,
            pass_fds=(status_w,),
        )
        os.close(status_w)
        status_w = -1
        capture = _Capture(limits.output_bytes)
        out, err = bytearray(), bytearray()
        pumps = [
            asyncio.ensure_future(capture.pump(proc.stdout, out)),
            asyncio.ensure_future(capture.pump(proc.stderr, err)),
        ]
        waiter = asyncio.ensure_future(proc.wait())
        overflow = asyncio.ensure_future(capture.overflow.wait())
        tasks = [*pumps, waiter, overflow]
        await asyncio.wait(
            {waiter, overflow}, timeout=limits.wall_s, return_when=asyncio.FIRST_COMPLETED
        )
        reason: str | None = None
        if not waiter.done():
            reason = "output_limit" if capture.overflow.is_set() else "wall_timeout"
            await stop(proc, waiter)
        duration = time.monotonic() - started
        layers, markers = read_status(status_r)
        if reason is not None or not layers.get("pid_namespace"):
            await sweep(proc.pid, uid if os.geteuid() == 0 else None)
        await asyncio.wait(pumps, timeout=GRACE_S)
        if reason is None and capture.overflow.is_set():
            reason = "output_limit"
        return _result(proc.returncode, reason, markers, bytes(out), bytes(err), duration, limits)
    finally:
        for task in tasks:
            task.cancel()
        if proc is not None and proc.returncode is None:  # cancelled: stop it, then reap
            with contextlib.suppress(asyncio.CancelledError):
                await stop(proc, asyncio.ensure_future(proc.wait()))
        for fd in (status_r, status_w):
            if fd >= 0:
                os.close(fd)
        shutil.rmtree(workdir, ignore_errors=True)


def _result(
    returncode: int | None,
    reason: str | None,
    markers: set[str],
    out: bytes,
    err: bytes,
    duration: float,
    limits: SandboxLimits,
) -> SandboxResult:
    """Classify the run. A signal death is reported through the supervisor as ``-signum``."""
    if reason is None:
        if "setup_error" in markers:
            reason = "sandbox_error"
        elif "memory" in markers:
            reason = "memory"
        elif returncode is not None and returncode < 0:
            sig = -returncode
            reason = "cpu_limit" if sig == signal.SIGXCPU else f"signal {sig}"
    exit_code = returncode if reason is None or reason == "memory" else None
    passed = reason is None and exit_code == 0 and "done" in markers
    stderr = err.decode("utf-8", "replace")
    if reason == "output_limit":
        stderr += f"\n[sandbox] killed: output exceeded {limits.output_bytes} bytes"
    elif reason in ("wall_timeout", "cpu_limit"):
        stderr += f"\n[sandbox] killed: {reason}"
    elif reason is None and exit_code == 0 and not passed:
        stderr += "\n[sandbox] the code exited before the tests ran to completion"
    return SandboxResult(
        passed=passed,
        exit_code=exit_code,
        timed_out=reason in ("wall_timeout", "cpu_limit"),
        killed_reason=reason,
        stdout=out.decode("utf-8", "replace"),
        stderr=stderr,
        duration_s=duration,
    )


@functools.cache
def isolation_report() -> dict[str, bool]:
    """Which containment layers this machine actually provides, measured by one probe run.

    Keys: ``process_session``, ``env_scrubbed``, ``rlimits``, ``output_cap`` (always on, done by
    the harness); ``user_namespace`` (non-root only), ``network_namespace``,
    ``mount_namespace``, ``ipc_namespace``, ``pid_namespace``, ``private_proc``,
    ``dedicated_uid`` (root only), ``nproc_limit``, ``no_new_privs``, ``caps_dropped`` and
    ``audit_hook`` as reported from inside the sandbox.
    """
    workdir = tempfile.mkdtemp(prefix=_WORKDIR_PREFIX)
    status_r, status_w = os.pipe()
    try:
        with sandbox_uid(0) as uid:
            argv = prepare(workdir, "", "", None, _DEFAULT_LIMITS, uid, status_w)
            subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                cwd=workdir,
                env=child_env(workdir),
                start_new_session=True,
                pass_fds=(status_w,),
                timeout=60,
                check=False,
            )
        os.close(status_w)
        status_w = -1
        layers, markers = read_status(status_r)
    finally:
        for fd in (status_r, status_w):
            if fd >= 0:
                os.close(fd)
        shutil.rmtree(workdir, ignore_errors=True)
    report = {"process_session": True, "env_scrubbed": True, "rlimits": True, "output_cap": True}
    keys = (
        "user_namespace network_namespace mount_namespace ipc_namespace pid_namespace "
        "private_proc dedicated_uid nproc_limit no_new_privs caps_dropped audit_hook"
    )
    for key in keys.split():
        report[key] = layers.get(key, False) and "done" in markers
    return report

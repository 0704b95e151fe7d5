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
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fcntl
import functools
import marshal
import os
import pwd
import shutil
import signal
import site
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
_UID_TOP = 64999  # slot uids count down from here, skipping uids that name real accounts
_ENV_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_GRACE_S = 1.0  # how long the supervisor gets to tear its namespace down before SIGKILL
# The supervisor runs as a script in a fresh interpreter (it never imports the harness), so it is
# read as source text once and written into each work dir. It reads its config from argv[1] and
# reports on status_fd.
_SUPERVISOR = Path(__file__).with_name("_sandbox_supervisor.py").read_text(encoding="utf-8")


class _SlotPool:
    """A semaphore that hands out slot numbers and works across event loops and threads.

    ``asyncio.Semaphore`` binds to the first loop that waits on it, so a module-level one
    breaks the second ``asyncio.run`` in a process. The slot number seeds the uid search.
    """

    def __init__(self, size: int) -> None:
        self._lock = threading.Lock()
        self._free = list(range(size - 1, -1, -1))
        self._waiters: collections.deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[int]]] = (
            collections.deque()
        )

    async def acquire(self) -> int:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._free and not self._waiters:
                return self._free.pop()
            fut: asyncio.Future[int] = loop.create_future()
            self._waiters.append((loop, fut))
        try:
            return await fut
        except asyncio.CancelledError:
            with self._lock, contextlib.suppress(ValueError):
                self._waiters.remove((loop, fut))
            if fut.done() and not fut.cancelled():
                self.release(fut.result())
            raise

    def release(self, slot: int) -> None:
        with self._lock:
            while self._waiters:
                loop, fut = self._waiters.popleft()
                try:
                    loop.call_soon_threadsafe(self._deliver, fut, slot)
                    return
                except RuntimeError:  # that loop is closed; try the next waiter
                    continue
            self._free.append(slot)

    def _deliver(self, fut: asyncio.Future[int], slot: int) -> None:
        if fut.done():  # cancelled between hand-over and delivery
            self.release(slot)
        else:
            fut.set_result(slot)


_CONCURRENCY = os.cpu_count() or 1
_SLOTS = _SlotPool(_CONCURRENCY)


@contextlib.asynccontextmanager
async def _slot() -> AsyncIterator[int]:
    slot = await _SLOTS.acquire()
    try:
        yield slot
    finally:
        _SLOTS.release(slot)


_UID_POOL = 256  # candidate uids; a run holds one exclusively (flock), machine-wide


@functools.cache
def _uid_candidates() -> tuple[int, ...]:
    """Sandbox uids: counting down from 64999, never a uid that names an account."""
    uids: list[int] = []
    uid = _UID_TOP
    while len(uids) < _UID_POOL and uid > 1000:
        try:
            pwd.getpwuid(uid)
        except KeyError:
            uids.append(uid)
        uid -= 1
    return tuple(uids)


def _claim_uid(hint: int) -> tuple[int, int]:
    """Claim a sandbox uid for one run; returns ``(uid, lock_fd)``, release by closing the fd.

    The claim is an ``flock`` on a file in a root-owned directory, so two harness processes on
    one machine (pytest-xdist workers, parallel CI jobs) never share a uid: RLIMIT_NPROC and the
    uid sweep then only ever concern this run's processes. Only meaningful as root.
    """
    lock_dir = Path(tempfile.gettempdir()) / "harness-uid-locks"
    lock_dir.mkdir(mode=0o755, exist_ok=True)
    info = lock_dir.lstat()
    if info.st_uid != os.geteuid() or info.st_mode & 0o022 or not lock_dir.is_dir():
        raise RuntimeError(f"{lock_dir} must be a directory owned by the harness user, mode 0755")
    candidates = _uid_candidates()
    start = (os.getpid() * 7 + hint) % len(candidates)
    for i in range(len(candidates)):
        uid = candidates[(start + i) % len(candidates)]
        fd = os.open(lock_dir / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return uid, fd
    raise RuntimeError("every sandbox uid is in use")


@contextlib.contextmanager
def _sandbox_uid(hint: int) -> Iterator[int]:
    """The uid the contained process runs as: a claimed one as root, else our own."""
    if os.geteuid() != 0:
        yield os.geteuid()
        return
    uid, fd = _claim_uid(hint)
    try:
        yield uid
    finally:
        os.close(fd)


def _child_env(home: str) -> dict[str, str]:
    """The whole environment of the child: built from scratch so no secret is inherited."""
    return {
        "PATH": _ENV_PATH,
        "LANG": "C.UTF-8",
        "HOME": home,
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _prepare(
    workdir: str,
    code: str,
    tests: str,
    entry_point: str | None,
    limits: SandboxLimits,
    uid: int,
    status_fd: int,
) -> list[str]:
    """Write the inputs and the supervisor into ``workdir``; return the command line.

    ``-S -P`` instead of ``-I``: ``-E`` buys nothing when the environment is built from scratch,
    and honouring it is what makes ``PYTHONHASHSEED=0`` (reproducible set order) take effect.
    ``-S`` skips ``site``, whose ``.pth`` processing was ~3/4 of the start-up time; the
    supervisor puts this interpreter's site-packages on ``sys.path`` itself (see
    ``_site_packages``).
    """
    root = Path(workdir)
    (root / "solution.py").write_text(code, encoding="utf-8")
    (root / "tests.py").write_text(tests, encoding="utf-8")
    supervisor = root / "_supervisor.py"
    supervisor.write_text(_SUPERVISOR, encoding="utf-8")
    cfg = {
        "workdir": workdir,
        "entry_point": entry_point,
        "uid": uid,
        "status_fd": status_fd,
        "cpu_s": max(1, int(limits.cpu_s + 0.999)),
        "wall_s": limits.wall_s,
        "memory_bytes": limits.memory_mb * 1024 * 1024,
        "disk_mb": limits.disk_mb,
        "max_processes": limits.max_processes,
        "site_packages": _site_packages(),
        # The supervisor runs with -S, so its own sys.prefix is the base interpreter's: pass the
        # venv's root and bin/ (sys.executable) so a venv under /tmp or a 0700 home stays reachable.
        "interpreter_roots": [sys.prefix, os.path.dirname(sys.executable)],
    }
    # marshal: the supervisor is this same interpreter, and unlike json it costs no imports.
    return [sys.executable, "-S", "-P", str(supervisor), marshal.dumps(cfg).hex()]


@functools.cache
def _site_packages() -> list[str]:
    """site-packages of the harness's interpreter (venv-aware), without the ``.pth`` extras.

    Packages installed normally are importable in the sandbox; editable installs and other
    ``.pth`` path hooks are not, which also keeps the harness itself out of reach.
    """
    return [p for p in site.getsitepackages() if os.path.isdir(p)]


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


def _read_status(fd: int) -> tuple[dict[str, bool], set[str]]:
    """Parse the status pipe: ``layers name=0|1 ...`` lines, then bare markers (done, memory).

    The first value of each layer key wins: those lines are written by trusted code before the
    solution is imported, so later forgeries cannot override them.
    """
    os.set_blocking(fd, False)
    data = b""
    with contextlib.suppress(BlockingIOError, OSError):
        while len(data) < 1 << 20 and (chunk := os.read(fd, 65536)):
            data += chunk
    layers: dict[str, bool] = {}
    markers: set[str] = set()
    for line in data.decode("utf-8", "replace").splitlines():
        head, _, rest = line.partition(" ")
        if head == "layers":
            for item in rest.split():
                key, _, value = item.partition("=")
                layers.setdefault(key, value == "1")
        elif head:
            markers.add(head)
    return layers, markers


def _stragglers(session: int, uid: int | None) -> list[int]:
    """Live processes in the sandbox session or owned by the sandbox uid (zombies excluded)."""
    found: list[int] = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
            fields = stat[stat.rfind(b")") + 2 :].split()
            if fields[0] == b"Z":
                continue
            if int(fields[3]) == session:
                found.append(int(name))
            elif uid is not None:
                with open(f"/proc/{name}/status", "rb") as fh:
                    for line in fh:
                        if line.startswith(b"Uid:"):
                            if int(line.split()[1]) == uid:
                                found.append(int(name))
                            break
        except (OSError, ValueError, IndexError):
            continue
    return found


async def _sweep(session: int, uid: int | None) -> None:
    """Fallback for when no PID namespace kills the tree for us; a few passes beat a fork race."""
    for _ in range(50):
        victims = _stragglers(session, uid)
        if not victims:
            return
        for pid in victims:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        await asyncio.sleep(0.01)


async def _stop(proc: asyncio.subprocess.Process, waiter: asyncio.Future[int]) -> None:
    """Ask the supervisor to kill its namespace (clean, reaped), then SIGKILL the group."""
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(asyncio.shield(waiter), _GRACE_S)
    except TimeoutError:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        await waiter


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
    async with _slot() as slot:
        with _sandbox_uid(slot) as uid:
            return await _run(code, tests, entry_point, limits, uid)


async def _run(
    code: str, tests: str, entry_point: str | None, limits: SandboxLimits, uid: int
) -> SandboxResult:
    workdir = tempfile.mkdtemp(prefix=_WORKDIR_PREFIX)
    status_r, status_w = os.pipe()
    proc: asyncio.subprocess.Process | None = None
    tasks: list[asyncio.Future[Any]] = []
    try:
        argv = _prepare(workdir, code, tests, entry_point, limits, uid, status_w)
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=workdir,
            env=_child_env(workdir),
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
            await _stop(proc, waiter)
        duration = time.monotonic() - started
        layers, markers = _read_status(status_r)
        if reason is not None or not layers.get("pid_namespace"):
            await _sweep(proc.pid, uid if os.geteuid() == 0 else None)
        await asyncio.wait(pumps, timeout=_GRACE_S)
        if reason is None and capture.overflow.is_set():
            reason = "output_limit"
        return _result(proc.returncode, reason, markers, bytes(out), bytes(err), duration, limits)
    finally:
        for task in tasks:
            task.cancel()
        if proc is not None and proc.returncode is None:  # cancelled: stop it, then reap
            with contextlib.suppress(asyncio.CancelledError):
                await _stop(proc, asyncio.ensure_future(proc.wait()))
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
        with _sandbox_uid(0) as uid:
            argv = _prepare(workdir, "", "", None, _DEFAULT_LIMITS, uid, status_w)
            subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                cwd=workdir,
                env=_child_env(workdir),
                start_new_session=True,
                pass_fds=(status_w,),
                timeout=60,
                check=False,
            )
        os.close(status_w)
        status_w = -1
        layers, markers = _read_status(status_r)
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

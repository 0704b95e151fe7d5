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


# The supervisor runs as a script in a fresh interpreter, so it is kept as source text here
# (the module is its only user). It reads its config from argv[1] and reports on status_fd.
_SUPERVISOR = r'''
"""Sandbox supervisor written by harness/sandbox.py: namespaces, init, then the contained run."""
import _signal as signal  # the C module: the public one imports enum, re... (start-up time)
import ctypes
import marshal
import os
import resource
import sys

NEWNS, NEWIPC, NEWUSER, NEWPID, NEWNET = 0x20000, 0x8000000, 0x10000000, 0x20000000, 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 8, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38
TMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")
SANDBOX_CWD = "/tmp/sandbox"
BLOCKED = frozenset((
    "socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo",
    "socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr",
    "socket.getnameinfo",
))

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                       ctypes.c_char_p]
CFG = marshal.loads(bytes.fromhex(sys.argv[1]))
STATUS = CFG["status_fd"]
ROOT = os.geteuid() == 0


def report(line):
    os.write(STATUS, (line + "\n").encode())


def report_layers(layers):
    report("layers " + " ".join(f"{k}={int(bool(v))}" for k, v in layers.items()))


def enc(text):
    return None if text is None else text.encode()


def mount(src, dst, fstype, flags, data=None):
    if libc.mount(enc(src), enc(dst), enc(fstype), flags, enc(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), dst)


def write_proc(path, data):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def enter_namespaces():
    layers = {"user_namespace": False}
    uid, gid = os.getuid(), os.getgid()  # read first: after unshare they are the overflow ids
    if not ROOT and libc.unshare(NEWUSER) == 0:
        try:
            write_proc("/proc/self/setgroups", b"deny")
            write_proc("/proc/self/uid_map", f"{uid} {uid} 1".encode())
            write_proc("/proc/self/gid_map", f"{gid} {gid} 1".encode())
            layers["user_namespace"] = True
        except OSError:
            pass
    for name, flag in (("network_namespace", NEWNET), ("ipc_namespace", NEWIPC),
                       ("pid_namespace", NEWPID), ("mount_namespace", NEWNS)):
        layers[name] = libc.unshare(flag) == 0
    return layers


def interpreter_dirs():
    """The directories the contained interpreter must still reach, outermost only."""
    paths = set()
    roots = CFG.get("interpreter_roots", [])
    prefixes = (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)
    for p in (*prefixes, *roots, *sys.path):
        if p and os.path.isdir(p):
            paths.add(os.path.realpath(p))
    keep = []
    for p in sorted(paths):
        if not any(p.startswith(k.rstrip("/") + "/") for k in keep):
            keep.append(p)
    return keep


def untraversable(paths):
    """Topmost ancestors the sandbox uid could not pass (no o+x), e.g. a 0700 /root."""
    out = set()
    for p in paths:
        cur = ""
        for part in p.strip("/").split("/")[:-1]:
            cur += "/" + part
            if not os.stat(cur).st_mode & 0o001:
                out.add(cur)
                break
    return sorted(d for d in out if not any(d.startswith(o + "/") for o in out))


def private_mounts():
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    keep = interpreter_dirs()
    hidden = untraversable(keep) if ROOT else []
    fds = {p: os.open(p, os.O_PATH | os.O_DIRECTORY) for p in keep}
    mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={CFG['disk_mb']}m,mode=1777")
    seen = {"/tmp"}
    for d in TMP_DIRS[1:]:
        if os.path.isdir(d) and os.path.realpath(d) not in seen:
            seen.add(os.path.realpath(d))
            mount("/tmp", d, None, MS_BIND)
    for d in hidden:
        if os.path.isdir(d):  # one under /tmp is already gone with the host's /tmp
            mount("tmpfs", d, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    for p, fd in fds.items():
        want = os.fstat(fd)
        try:
            st = os.stat(p)
            same = (st.st_dev, st.st_ino) == (want.st_dev, want.st_ino)
        except OSError:
            same = False
        if not same:
            os.makedirs(p, 0o755, exist_ok=True)
            mount(f"/proc/self/fd/{fd}", p, None, MS_BIND | MS_REC)
        os.close(fd)


def drop_caps():
    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    if libc.capset(ctypes.byref(Header(0x20080522, 0)), (Data * 2)()) != 0:
        raise OSError(ctypes.get_errno(), "capset")


def contain(cwd, layers):
    """Limits and privilege drop, in the contained process, before any untrusted byte runs."""
    resource.setrlimit(resource.RLIMIT_CPU, (CFG["cpu_s"], CFG["cpu_s"] + 1))
    resource.setrlimit(resource.RLIMIT_AS, (CFG["memory_bytes"], CFG["memory_bytes"]))
    disk = CFG["disk_mb"] * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (disk, disk))
    if layers["nproc_limit"]:
        resource.setrlimit(resource.RLIMIT_NPROC, (CFG["max_processes"], CFG["max_processes"]))
    if ROOT:
        uid = CFG["uid"]
        if cwd == CFG["workdir"]:  # no private tmpfs: the sandbox works in the host directory
            for name in ("", "solution.py", "tests.py"):
                os.chown(os.path.join(cwd, name), uid, uid)
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    elif layers["user_namespace"]:
        drop_caps()
    no_new_privs = libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
    os.chdir(cwd)
    os.environ["HOME"] = cwd
    caps = "-1"
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("CapEff:"):
                caps = line.split()[1]
    return {"no_new_privs": no_new_privs, "caps_dropped": int(caps, 16) == 0}


def audit_hook(protected):
    def hook(event, args):
        if event in BLOCKED:
            raise PermissionError(f"sandbox: {event} is not allowed (no network)")
        if event in ("os.kill", "os.killpg") and (args[0] in protected or args[0] == -1):
            raise PermissionError(f"sandbox: {event}({args[0]}) is not allowed")
    return hook


def exit_code(exc):
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def print_trimmed(exc):
    """The traceback without the supervisor's own frames: the user's code starts the story."""
    import traceback
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    traceback.print_exception(type(exc), exc, tb)


def run_tests(cwd, protected):
    import builtins
    import types
    sys.addaudithook(audit_hook(protected))
    report_layers({"audit_hook": True})
    sys.dont_write_bytecode = True
    sys.path.insert(0, cwd)
    sys.argv = [os.path.join(cwd, "tests.py")]
    sys.stdout.reconfigure(line_buffering=True)
    entry = CFG["entry_point"]
    solution_file = os.path.join(cwd, "solution.py")
    try:
        with open(os.path.join(cwd, "tests.py"), encoding="utf-8") as fh:
            tests = compile(fh.read(), os.path.join(cwd, "tests.py"), "exec")
        # exec into a registered module rather than import: code that runs at module level
        # (say, a multiprocessing.Pool) must not hold the import lock, as a script would not.
        solution = types.ModuleType("solution")
        solution.__file__ = solution_file
        sys.modules["solution"] = solution
        with open(solution_file, encoding="utf-8") as fh:
            exec(compile(fh.read(), solution_file, "exec"), solution.__dict__)
        candidate = getattr(solution, entry) if entry else None
        # The tests get a module of their own, registered as __main__ (unittest.main() looks
        # there), seeded with the solution's names so bare MBPP-style asserts work.
        main = types.ModuleType("__main__")
        scope = main.__dict__
        scope.update({k: v for k, v in vars(solution).items() if not k.startswith("__")})
        scope.update(__builtins__=builtins, __file__=sys.argv[0], solution=solution)
        sys.modules["__main__"] = main
        try:
            exec(tests, scope)
            if entry and callable(scope.get("check")):
                scope["check"](candidate)
        except SystemExit as exc:
            # unittest.main() ends with sys.exit(0); an exit from the solution's own code never
            # counts as the tests completing.
            tb = exc.__traceback__
            while tb is not None and tb.tb_next is not None:
                tb = tb.tb_next
            if exit_code(exc) != 0 or tb is None or tb.tb_frame.f_code.co_filename == solution_file:
                raise
        report("done")
        return 0
    except SystemExit as exc:
        return exit_code(exc)
    except MemoryError as exc:
        report("memory")
        print_trimmed(exc)
        return 1
    except BaseException as exc:
        print_trimmed(exc)
        return 1


def contained(cwd, layers, protected):
    try:
        layers = dict(layers, **contain(cwd, layers))
        report_layers(layers)
    except BaseException as exc:
        report("setup_error")
        print(f"sandbox: cannot contain the process: {exc!r}", file=sys.stderr)
        os._exit(125)
    code = 1
    try:
        code = run_tests(cwd, protected)
        if "threading" in sys.modules:
            sys.modules["threading"]._shutdown()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
        os._exit(code)


def init(layers, cwd, protected, status_w):
    """pid 1 of the new PID namespace: reap orphans, and die with the contained process."""
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    private_proc = False
    if layers["pid_namespace"] and layers["mount_namespace"]:
        try:
            mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
            private_proc = True
        except OSError:
            pass
    report_layers({"private_proc": private_proc})
    child = os.fork()
    if child == 0:
        os.close(status_w)
        contained(cwd, layers, protected)
    while True:
        pid, status = os.waitpid(-1, 0)
        if pid == child:
            break
    os.write(status_w, str(status).encode())
    os._exit(0)


def main():
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    os.umask(0o022)
    import site  # under -S this only defines functions; restore what site.main() would add
    site.setquit()
    site.setcopyright()
    site.sethelper()
    sys.path.extend(p for p in CFG["site_packages"] if p not in sys.path)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    sources = {}
    for name in ("solution.py", "tests.py"):
        with open(os.path.join(CFG["workdir"], name), "rb") as fh:
            sources[name] = fh.read()
    harness = os.getppid()
    protected = {harness, os.getpgid(harness)}
    layers = enter_namespaces()
    cwd = CFG["workdir"]
    if layers["mount_namespace"]:
        try:
            private_mounts()
        except OSError as exc:
            report("setup_error")
            print(f"sandbox: private mounts failed: {exc!r}", file=sys.stderr)
            os._exit(125)
        cwd = SANDBOX_CWD
        os.makedirs(cwd, 0o700)
        for name, data in sources.items():
            with open(os.path.join(cwd, name), "wb") as fh:
                fh.write(data)
        if ROOT:
            for name in ("", *sources):
                os.chown(os.path.join(cwd, name), CFG["uid"], CFG["uid"])
    if layers["pid_namespace"]:
        protected = set()  # harness pids mean nothing (and are unreachable) in there
    layers["dedicated_uid"] = ROOT
    layers["nproc_limit"] = ROOT or layers["user_namespace"]
    report_layers(layers)
    status_r, status_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(status_r)
        init(layers, cwd, protected, status_w)
    os.close(status_w)
    # SIGTERM is the harness asking for a clean stop; the alarm is a backstop for a harness
    # that died without asking (PR_SET_PDEATHSIG covers a SIGKILLed one).
    stop = lambda *_: os.kill(pid, signal.SIGKILL)  # noqa: E731
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGALRM, stop)
    signal.alarm(int(CFG["wall_s"]) + 10)
    os.waitpid(pid, 0)
    data = os.read(status_r, 64)
    if not data:
        os._exit(125)
    status = int(data)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # die of the same signal, without a core
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):  # SIGKILL cannot be (and need not be) reset
            pass
        os.kill(os.getpid(), sig)
        os._exit(128 + sig)
    os._exit(os.waitstatus_to_exitcode(status))


main()
'''

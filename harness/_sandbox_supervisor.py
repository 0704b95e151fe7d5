"""Sandbox supervisor, written out by harness/_sandbox_protocol.py: namespaces, init, the run.

A standalone script, run as ``python -S -P`` in a minimal environment: it must not import the
harness package, and every import here costs start-up time on each check (so no ``typing``).
"""

import ctypes
import marshal
import os
import resource
import sys

TYPE_CHECKING = False  # mypy treats the name as true; at run time it saves importing typing
if TYPE_CHECKING:
    import signal
    from collections.abc import Callable, Iterable
    from typing import Any
else:
    import _signal as signal  # the C module: the public one imports enum, re... (start-up time)

NEWNS, NEWIPC, NEWUSER, NEWPID, NEWNET = 0x20000, 0x8000000, 0x10000000, 0x20000000, 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 8, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38
TMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")
SANDBOX_CWD = "/tmp/sandbox"
BLOCKED = frozenset(
    (
        "socket.connect",
        "socket.bind",
        "socket.sendto",
        "socket.sendmsg",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyname_ex",
        "socket.gethostbyaddr",
        "socket.getnameinfo",
    )
)

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
]
CFG: "dict[str, Any]" = marshal.loads(bytes.fromhex(sys.argv[1]))
STATUS = CFG["status_fd"]
ROOT = os.geteuid() == 0


def report(line: str) -> None:
    os.write(STATUS, (line + "\n").encode())


def report_layers(layers: "dict[str, bool]") -> None:
    report("layers " + " ".join(f"{k}={int(bool(v))}" for k, v in layers.items()))


def enc(text: str | None) -> bytes | None:
    return None if text is None else text.encode()


def mount(
    src: str | None, dst: str, fstype: str | None, flags: int, data: str | None = None
) -> None:
    if libc.mount(enc(src), enc(dst), enc(fstype), flags, enc(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), dst)


def write_proc(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def enter_namespaces() -> "dict[str, bool]":
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
    for name, flag in (
        ("network_namespace", NEWNET),
        ("ipc_namespace", NEWIPC),
        ("pid_namespace", NEWPID),
        ("mount_namespace", NEWNS),
    ):
        layers[name] = libc.unshare(flag) == 0
    return layers


def interpreter_dirs() -> "list[str]":
    """The directories the contained interpreter must still reach, outermost only."""
    paths: set[str] = set()
    roots = CFG.get("interpreter_roots", [])
    prefixes = (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)
    for p in (*prefixes, *roots, *sys.path):
        if p and os.path.isdir(p):
            paths.add(os.path.realpath(p))
    keep: list[str] = []
    for p in sorted(paths):
        if not any(p.startswith(k.rstrip("/") + "/") for k in keep):
            keep.append(p)
    return keep


def untraversable(paths: "Iterable[str]") -> "list[str]":
    """Topmost ancestors the sandbox uid could not pass (no o+x), e.g. a 0700 /root."""
    out: set[str] = set()
    for p in paths:
        cur = ""
        for part in p.strip("/").split("/")[:-1]:
            cur += "/" + part
            if not os.stat(cur).st_mode & 0o001:
                out.add(cur)
                break
    return sorted(d for d in out if not any(d.startswith(o + "/") for o in out))


def private_mounts() -> None:
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


def drop_caps() -> None:
    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [
            ("effective", ctypes.c_uint32),
            ("permitted", ctypes.c_uint32),
            ("inheritable", ctypes.c_uint32),
        ]

    if libc.capset(ctypes.byref(Header(0x20080522, 0)), (Data * 2)()) != 0:
        raise OSError(ctypes.get_errno(), "capset")


def contain(cwd: str, layers: "dict[str, bool]") -> "dict[str, bool]":
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


def audit_hook(protected: "set[int]") -> "Callable[[str, tuple[Any, ...]], None]":
    def hook(event: str, args: "tuple[Any, ...]") -> None:
        if event in BLOCKED:
            raise PermissionError(f"sandbox: {event} is not allowed (no network)")
        if event in ("os.kill", "os.killpg") and (args[0] in protected or args[0] == -1):
            raise PermissionError(f"sandbox: {event}({args[0]}) is not allowed")

    return hook


def exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def print_trimmed(exc: BaseException) -> None:
    """The traceback without the supervisor's own frames: the user's code starts the story."""
    import traceback

    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    traceback.print_exception(type(exc), exc, tb)


def run_tests(cwd: str, protected: "set[int]") -> int:
    import builtins
    import types

    sys.addaudithook(audit_hook(protected))
    report_layers({"audit_hook": True})
    sys.dont_write_bytecode = True
    sys.path.insert(0, cwd)
    sys.argv = [os.path.join(cwd, "tests.py")]
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
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


def contained(cwd: str, layers: "dict[str, bool]", protected: "set[int]") -> None:
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
            try:  # noqa: SIM105 - contextlib costs ~6 ms of start-up per check
                stream.flush()
            except BaseException:
                pass
        os._exit(code)


def init(layers: "dict[str, bool]", cwd: str, protected: "set[int]", status_w: int) -> None:
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


def main() -> None:
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    os.umask(0o022)
    import site  # under -S this only defines functions; restore what site.main() would add

    site.setquit()
    site.setcopyright()
    site.sethelper()
    sys.path.extend(p for p in CFG["site_packages"] if p not in sys.path)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    sources: dict[str, bytes] = {}
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
        try:  # noqa: SIM105 - contextlib costs ~6 ms of start-up per check
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):  # SIGKILL cannot be (and need not be) reset
            pass
        os.kill(os.getpid(), sig)
        os._exit(128 + sig)
    os._exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":  # a script; importing it (by a doc tool, say) runs nothing
    main()

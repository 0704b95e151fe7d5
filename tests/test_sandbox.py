"""Tests of harness/sandbox.py: normal verdicts, and hostile code that must stay contained.

Every hostile case must be scored as failed, leave no process and no file behind, and leave the
harness able to run the next check (the ``contained`` fixture asserts the last two).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.sandbox import SandboxLimits, SandboxResult, isolation_report, run_python

REPO = Path(__file__).resolve().parents[1]
SHORT = SandboxLimits(wall_s=3.0, cpu_s=3.0)
IS_ROOT = os.geteuid() == 0


def run(code: str, tests: str, **kwargs: object) -> SandboxResult:
    return asyncio.run(run_python(code, tests, **kwargs))  # type: ignore[arg-type]


PR_SET_CHILD_SUBREAPER = 36
LIBC = ctypes.CDLL(None, use_errno=True)


def _descendants() -> list[str]:
    """Every process below this one, zombies included (the fixture makes us their reaper)."""
    children: dict[int, list[int]] = {}
    info: dict[int, str] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(name))
        info[int(name)] = f"pid {name} state {fields[0].decode()} {stat[:60]!r}"
    found, stack = [], list(children.get(os.getpid(), []))
    while stack:
        pid = stack.pop()
        found.append(info[pid])
        stack.extend(children.get(pid, []))
    return found


@pytest.fixture
def contained(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """After a hostile case: no process, no work directory left, and the harness runs on.

    As a child subreaper this process inherits every orphan of the run (even one that called
    ``setsid()``), so "no descendant remains" is an exact check that also ignores processes of
    concurrent test workers.
    """
    workdirs: list[str] = []
    mkdtemp = tempfile.mkdtemp

    def recording_mkdtemp(*args: Any, **kwargs: Any) -> str:
        path = str(mkdtemp(*args, **kwargs))
        workdirs.append(path)
        return path

    monkeypatch.setattr(tempfile, "mkdtemp", recording_mkdtemp)
    # Servers other tests left running for the session (the engine, simulators) are not ours.
    before = {line.split()[1] for line in _descendants()}
    assert LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    try:
        yield
        deadline = time.monotonic() + 2
        while (
            left := [x for x in _descendants() if x.split()[1] not in before]
        ) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert left == []
        assert workdirs
        assert [path for path in workdirs if os.path.exists(path)] == []
        after = run("def ok():\n    return 1\n", "assert ok() == 1\n")
        assert after.passed, after.stderr
    finally:
        LIBC.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
        for line in _descendants():  # reap what we inherited, so one failure stays one
            if line.split()[1] in before:
                continue
            with contextlib.suppress(ChildProcessError, ValueError):
                os.waitpid(int(line.split()[1]), os.WNOHANG)


# --- normal cases -------------------------------------------------------------------------


def test_correct_solution_passes() -> None:
    r = run("def add(a, b):\n    return a + b\n", "assert add(2, 3) == 5\nprint('fine')\n")
    assert r.passed
    assert r.exit_code == 0
    assert r.killed_reason is None
    assert not r.timed_out
    assert r.stdout == "fine\n"


def test_wrong_solution_fails_with_assertion_message() -> None:
    r = run("def add(a, b):\n    return a - b\n", "assert add(2, 3) == 5, 'add(2, 3) must be 5'\n")
    assert not r.passed
    assert r.exit_code == 1
    assert r.killed_reason is None
    assert "AssertionError: add(2, 3) must be 5" in r.stderr
    assert "_supervisor.py" not in r.stderr  # the traceback starts in the user's code


def test_humaneval_check_with_entry_point() -> None:
    tests = textwrap.dedent(
        """
        METADATA = {}

        def check(candidate):
            assert candidate([1, 2, 3]) == 6
            assert candidate([]) == 0
        """
    )
    good = run("def total(xs):\n    return sum(xs)\n", tests, entry_point="total")
    assert good.passed, good.stderr
    bad = run("def total(xs):\n    return len(xs)\n", tests, entry_point="total")
    assert not bad.passed
    assert "AssertionError" in bad.stderr
    missing = run("def other(xs):\n    return 0\n", tests, entry_point="total")
    assert not missing.passed
    assert "total" in missing.stderr


def test_helper_named_check_in_solution_is_not_overwritten_by_tests() -> None:
    code = "def check(x):\n    return x > 0\n\ndef f(x):\n    return check(x)\n"
    tests = "def check(candidate):\n    assert candidate(1) is True\n"
    assert run(code, tests, entry_point="f").passed


def test_syntax_error_fails_cleanly() -> None:
    r = run("def broken(:\n    pass\n", "assert True\n")
    assert not r.passed
    assert r.exit_code == 1
    assert r.killed_reason is None
    assert "SyntaxError" in r.stderr


def test_exit_zero_from_solution_is_not_a_pass() -> None:
    r = run("import sys\nsys.exit(0)\n", "assert False\n")
    assert not r.passed
    assert r.exit_code == 0
    assert "before the tests ran to completion" in r.stderr


def test_unittest_main_in_tests_is_a_pass() -> None:
    tests = textwrap.dedent(
        """
        import unittest

        class T(unittest.TestCase):
            def test_it(self):
                self.assertEqual(double(2), 4)

        if __name__ == "__main__":
            unittest.main()
        """
    )
    assert run("def double(x):\n    return 2 * x\n", tests).passed
    assert not run("def double(x):\n    return x\n", tests).passed


def test_hash_seed_is_fixed() -> None:
    code = "def order():\n    return list({'alpha', 'beta', 'gamma', 'delta'})\n"
    tests = "print(order())\n"
    assert run(code, tests).stdout == run(code, tests).stdout


def test_runs_in_parallel_and_across_event_loops() -> None:
    async def many() -> list[SandboxResult]:
        jobs = [run_python(f"x = {i}\n", f"assert x == {i}\n") for i in range(6)]
        return await asyncio.gather(*jobs)

    assert all(r.passed for r in asyncio.run(many()))
    assert all(r.passed for r in asyncio.run(many()))  # the slot pool is not bound to a loop


def test_cancellation_kills_and_cleans_up(contained: None) -> None:
    async def cancelled() -> None:
        task = asyncio.ensure_future(run_python("import time\ntime.sleep(30)\n", ""))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancelled())


def test_isolation_report_as_root() -> None:
    report = isolation_report()
    assert report["audit_hook"]
    assert report["env_scrubbed"]
    assert report["rlimits"]
    if not IS_ROOT:
        pytest.skip("the root layers are checked when the tests run as root (as CI does)")
    for layer in (
        "network_namespace",
        "mount_namespace",
        "pid_namespace",
        "private_proc",
        "dedicated_uid",
        "nproc_limit",
        "no_new_privs",
        "caps_dropped",
    ):
        assert report[layer], layer


def test_legitimate_process_use_still_works(contained: None) -> None:
    """The uid drop and mount masking must leave the interpreter runnable by the code."""
    code = textwrap.dedent(
        """
        import multiprocessing, subprocess, sys

        def square(x):
            return x * x

        with multiprocessing.Pool(2) as pool:  # at module level: no import-lock deadlock
            SQUARES = pool.map(square, [1, 2, 3])
        CHILD = subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True)
        """
    )
    tests = "assert SQUARES == [1, 4, 9]\nassert CHILD.stdout.strip() == b'42', CHILD.stderr\n"
    r = run(code, tests)
    assert r.passed, r.stderr


def test_death_by_signal_is_reported() -> None:
    r = run("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n", "")
    assert not r.passed
    assert r.killed_reason == "signal 9"
    assert r.exit_code is None
    segv = run("import ctypes\nctypes.string_at(0)\n", "")
    assert segv.killed_reason == "signal 11"


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="wall_s"):
        SandboxLimits(wall_s=0)


# --- hostile cases ------------------------------------------------------------------------


def test_infinite_loop_hits_wall_timeout(contained: None) -> None:
    r = run("while True:\n    pass\n", "", limits=SandboxLimits(wall_s=2.0, cpu_s=10.0))
    assert not r.passed
    assert r.timed_out
    assert r.killed_reason == "wall_timeout"
    assert r.exit_code is None
    assert 1.9 < r.duration_s < 4.0


def test_cpu_limit(contained: None) -> None:
    r = run("while True:\n    pass\n", "", limits=SandboxLimits(wall_s=6.0, cpu_s=1.0))
    assert not r.passed
    assert r.timed_out
    assert r.killed_reason == "cpu_limit"


def test_fork_bomb_is_contained(contained: None) -> None:
    r = run("import os\nwhile True:\n    os.fork()\n", "", limits=SHORT)
    assert not r.passed
    assert r.duration_s < 5.0


def test_daemonized_grandchild_does_not_survive(contained: None) -> None:
    code = textwrap.dedent(
        """
        import os, time
        if os.fork() == 0:
            os.setsid()  # leaves the process group: only the PID namespace / sweep catch it
            if os.fork() == 0:
                time.sleep(60)
            os._exit(0)
        """
    )
    r = run(code, "assert True\n", limits=SHORT)
    assert r.passed, r.stderr  # harmless to the verdict; the fixture checks nothing survives


def test_allocating_8_gb_fails_with_memory(contained: None) -> None:
    r = run("blob = b' ' * 8 * 1024**3\n", "", limits=SHORT)
    assert not r.passed
    assert r.killed_reason == "memory"
    assert "MemoryError" in r.stderr


def test_no_connection_to_localhost(contained: None) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        port = server.getsockname()[1]
        code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
        r = run(code, "", limits=SHORT)
        assert not r.passed
        with pytest.raises(BlockingIOError):
            server.accept()


def test_raw_connect_bypassing_the_audit_hook_still_fails(contained: None) -> None:
    if not isolation_report()["network_namespace"]:
        pytest.skip("no network namespace on this machine; only the audit hook guards sockets")
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        port = server.getsockname()[1]
        code = textwrap.dedent(
            f"""
            import ctypes, ctypes.util, struct, socket
            libc = ctypes.CDLL(None, use_errno=True)
            fd = libc.socket(socket.AF_INET, socket.SOCK_STREAM, 0)
            addr = struct.pack("!HHI8x", socket.AF_INET, {port}, 0x7F000001)
            addr = struct.pack("=H", socket.AF_INET) + addr[2:]
            rc = libc.connect(fd, addr, len(addr))
            print("connect", rc, ctypes.get_errno())
            assert rc == 0
            """
        )
        r = run(code, "", limits=SHORT)
        assert not r.passed
        assert "connect -1" in r.stdout
        with pytest.raises(BlockingIOError):
            server.accept()


def test_api_keys_do_not_reach_the_code(contained: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-should-not-leak")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-leak-either")
    absent = run(
        "import os\n",
        "assert 'DASHSCOPE_API_KEY' not in os.environ\n"
        "assert 'OPENAI_API_KEY' not in os.environ\n"
        "print(sorted(os.environ))\n",
    )
    assert absent.passed, absent.stderr
    assert "sk-should-not-leak" not in absent.stdout
    required = run("import os\n", "print(os.environ['DASHSCOPE_API_KEY'])\n")
    assert not required.passed
    assert "KeyError" in required.stderr


def test_writing_outside_its_directory_fails(contained: None) -> None:
    if not isolation_report()["dedicated_uid"]:
        pytest.skip("without a dedicated uid the code may write wherever the harness user can")
    target_repo = REPO / "SHOULD_NOT_EXIST"
    owned = Path(tempfile.mkdtemp(prefix="root-owned-"))
    owned.chmod(0o755)
    loose = Path(tempfile.gettempdir()) / f"sandbox-escape-{uuid.uuid4().hex}"
    try:
        code = textwrap.dedent(
            f"""
            errors = []
            for path in ({str(target_repo)!r}, {str(owned / "x")!r}, {str(loose)!r}):
                try:
                    with open(path, "w") as fh:
                        fh.write("escaped")
                except OSError as exc:
                    errors.append(path)
            print(errors)
            """
        )
        r = run(code, "assert len(errors) == 3\n", limits=SHORT)
        assert str(target_repo) in r.stdout
        assert str(owned / "x") in r.stdout
        assert not target_repo.exists()
        assert list(owned.iterdir()) == []
        if isolation_report()["mount_namespace"]:
            # /tmp itself is world-writable; the write lands in the private tmpfs and vanishes.
            assert not loose.exists()
    finally:
        target_repo.unlink(missing_ok=True)
        loose.unlink(missing_ok=True)
        for child in owned.iterdir():
            child.unlink()
        owned.rmdir()


def test_killing_its_parent_fails_and_the_harness_survives(contained: None) -> None:
    me = os.getpid()
    code = textwrap.dedent(
        f"""
        import os, signal
        outcomes = []
        for attempt in (
            lambda: os.kill(os.getppid(), signal.SIGKILL),
            lambda: os.kill({me}, signal.SIGKILL),
            lambda: os.killpg(os.getpgid({me}), signal.SIGKILL),
            lambda: os.killpg({os.getpgid(me)}, signal.SIGKILL),
        ):
            try:
                attempt()
                outcomes.append("sent")
            except OSError as exc:
                outcomes.append(type(exc).__name__)
        print(outcomes)
        """
    )
    r = run(code, "raise SystemExit('tried to kill the harness')\n", limits=SHORT)
    assert os.getpid() == me  # still here
    assert not r.passed


def test_printing_1_gb_is_capped(contained: None) -> None:
    import resource

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    code = "import sys\nfor _ in range(1000):\n    sys.stdout.write('x' * 10**6)\n"
    r = run(code, "", limits=SandboxLimits(wall_s=10.0, output_bytes=64_000))
    assert not r.passed
    assert r.killed_reason == "output_limit"
    assert r.exit_code is None
    assert len(r.stdout) + len(r.stderr) < 64_000 + 200
    assert r.duration_s < 5.0
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    assert grown_kb < 100 * 1024


def test_output_cap_is_shared_by_stdout_and_stderr(contained: None) -> None:
    code = "import sys\nprint('o' * 600)\nprint('e' * 600, file=sys.stderr)\n"
    r = run(code, "", limits=SandboxLimits(output_bytes=1000))
    assert r.killed_reason == "output_limit"
    assert not r.passed
    stderr = r.stderr.split("\n[sandbox]")[0]
    assert len(r.stdout) + len(stderr) == 1000  # exactly the cap, split between the two


def test_harness_running_from_a_venv_under_tmp(tmp_path: Path) -> None:
    """A venv under /tmp (hidden by the sandbox's private /tmp) must stay reachable."""
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
        check=True,
        timeout=120,
    )
    script = textwrap.dedent(
        """
        import asyncio, sys
        from harness.sandbox import run_python
        code = "import subprocess, sys\\nOUT = subprocess.run([sys.executable, '-c', 'print(42)'], capture_output=True)\\n"
        r = asyncio.run(run_python(code, "assert OUT.stdout.strip() == b'42', OUT.stderr\\n"))
        print("PASSED" if r.passed else "FAILED " + r.stderr[-500:])
        """
    )
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert "PASSED" in proc.stdout, proc.stdout + proc.stderr

"""Stopping a sandboxed run and killing whatever it left behind.

Normally the kernel does this: when the supervisor's ``init`` exits, its PID namespace dies with
it. These are for when it cannot: the run overran (the supervisor is asked, then forced) or the
machine gave no PID namespace (the harness hunts the processes down itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

GRACE_S = 1.0  # how long the supervisor gets to tear its namespace down before SIGKILL


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


async def sweep(session: int, uid: int | None) -> None:
    """Fallback for when no PID namespace kills the tree for us; a few passes beat a fork race."""
    for _ in range(50):
        victims = _stragglers(session, uid)
        if not victims:
            return
        for pid in victims:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        await asyncio.sleep(0.01)


async def stop(proc: asyncio.subprocess.Process, waiter: asyncio.Future[int]) -> None:
    """Ask the supervisor to kill its namespace (clean, reaped), then SIGKILL the group."""
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(asyncio.shield(waiter), GRACE_S)
    except TimeoutError:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        await waiter

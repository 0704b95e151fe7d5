"""Who may run a sandboxed check, and as whom: a concurrency slot and an exclusive uid.

Kept apart from the run because both are shared state with a wider reach than one call: the
slot pool is per process (and must outlive any one event loop), the uid claim is machine-wide.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fcntl
import functools
import os
import pwd
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

_UID_TOP = 64999  # slot uids count down from here, skipping uids that name real accounts


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
async def acquire_slot() -> AsyncIterator[int]:
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
def sandbox_uid(hint: int) -> Iterator[int]:
    """The uid the contained process runs as: a claimed one as root, else our own."""
    if os.geteuid() != 0:
        yield os.geteuid()
        return
    uid, fd = _claim_uid(hint)
    try:
        yield uid
    finally:
        os.close(fd)

"""The run's progress: counts for the caller, a tqdm bar on a terminal, status lines in CI.

Apart from the runner because this is presentation. On a terminal a bar redraws in place; when
stderr is a log instead (GitHub Actions, a redirected file) a bar would be off or smeared, yet a
20-minute golden run that prints nothing until it ends looks hung: so a plain line goes out at
most every `LOG_EVERY_S`. `progress=False` (the pytest plugin, `--no-progress`) prints nothing.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from tqdm import tqdm

from harness.records import Record

#: Seconds between two status lines when stderr is not a terminal.
LOG_EVERY_S = 30.0


class Progress:
    """Counts records as they are written; shows them as `show` says (None: as stderr allows)."""

    def __init__(self, total: int, show: bool | None = None, every_s: float = LOG_EVERY_S) -> None:
        tty = sys.stderr.isatty()
        self._bar: tqdm[Any] | None = (
            tqdm(total=total, unit="case", dynamic_ncols=True, file=sys.stderr)
            if show or (show is None and tty)
            else None
        )
        self._log = show is None and not tty
        self._every_s = every_s
        self._started = self._last = time.monotonic()
        self.total = total
        self.done = 0
        self.errors = 0
        self.passed = 0

    def update(self, rec: Record) -> None:
        self.done += 1
        if rec.status == "error":
            self.errors += 1
        elif rec.passed:
            self.passed += 1
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix(passed=self.passed, errors=self.errors, refresh=False)
        elif self._log:
            now = time.monotonic()
            if now - self._last >= self._every_s and self.done < self.total:
                self._last = now
                print(self.status_line(now - self._started), file=sys.stderr, flush=True)

    def status_line(self, elapsed_s: float) -> str:
        rate = self.done / elapsed_s if elapsed_s > 0 else 0.0
        left = f", about {_duration((self.total - self.done) / rate)} left" if rate else ""
        return (
            f"harness: {self.done}/{self.total} cases ({self.done / self.total:.0%}), "
            f"passed {self.passed}, errors {self.errors}, {rate:.1f} cases/s{left}"
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _duration(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"

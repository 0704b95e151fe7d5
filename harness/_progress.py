"""The run's progress: counts for the caller, and a tqdm bar on a terminal.

Apart from the runner because the bar is presentation: a run without a TTY (CI, a notebook
cell's captured stderr, the pytest plugin) counts the same records and draws nothing.
"""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm

from harness.records import Record


class Progress:
    """Counts records as they are written; draws counts, errors, rate and ETA when `show`."""

    def __init__(self, total: int, show: bool | None = None) -> None:
        show = sys.stderr.isatty() if show is None else show
        self._bar: tqdm[Any] | None = (
            tqdm(total=total, unit="case", dynamic_ncols=True, file=sys.stderr) if show else None
        )
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

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

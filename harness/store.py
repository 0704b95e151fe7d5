"""The run directory: `manifest.json` + `results.jsonl`, written so that nothing is lost.

Records are appended one line at a time and flushed as each case finishes, so a crash, a
SIGKILL or Ctrl-C loses at most the calls in flight. A kill can tear the last line; readers skip
a torn final line and `open_for_append` truncates it before writing more, so a resumed run never
has a broken line in the middle. The manifest is replaced atomically (write + fsync + rename),
so it is always either the old or the new version.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson
from pydantic import ValidationError

from harness.errors import InputError, Problem
from harness.records import Manifest, Record

MANIFEST = "manifest.json"
RESULTS = "results.jsonl"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so readers see the old file or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_manifest(run_dir: Path, manifest: Manifest) -> None:
    atomic_write_bytes(
        run_dir / MANIFEST,
        orjson.dumps(manifest.model_dump(mode="json"), option=orjson.OPT_INDENT_2) + b"\n",
    )


def is_run_dir(path: Path) -> bool:
    return (path / MANIFEST).is_file()


def load_manifest(run_dir: str | Path) -> Manifest:
    path = Path(run_dir) / MANIFEST
    if not path.is_file():
        raise InputError(Problem(str(run_dir), 0, f"not a run directory (no {MANIFEST})"))
    try:
        return Manifest.model_validate(orjson.loads(path.read_bytes()))
    except (orjson.JSONDecodeError, ValidationError) as exc:
        first = str(exc).splitlines()[0]
        raise InputError(Problem(str(path), 1, f"corrupt manifest: {first}")) from None


def iter_raw_records(run_dir: str | Path) -> Iterator[dict[str, Any]]:
    """Every record line as a plain dict, streamed (the fast path for 100k-record reports).

    Blank lines are skipped. A line that does not parse is skipped only if it is the last one
    (a torn write from a kill); anywhere else it is corruption and an error with its line.
    Lines are read one at a time, one ahead, so a large run never sits in memory twice.
    """
    path = Path(run_dir) / RESULTS
    if not path.is_file():
        return
    with path.open("rb") as f:
        pending: tuple[int, bytes] | None = None
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            if pending is not None:
                yield _parse_line(path, *pending, last=False)
            pending = (lineno, line)
        if pending is not None:
            try:
                yield _parse_line(path, *pending, last=True)
            except _TornLine:
                return


class _TornLine(Exception):
    pass


def _parse_line(file: Path, lineno: int, line: bytes, *, last: bool) -> dict[str, Any]:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        if last:
            raise _TornLine from None
        raise InputError(Problem(str(file), lineno, "corrupt record line (not JSON)")) from None
    if not isinstance(obj, dict):
        raise InputError(Problem(str(file), lineno, "a record must be a JSON object"))
    return obj


def load_records(run_dir: str | Path, *, latest_only: bool = True) -> list[Record]:
    """Records of a run; with `latest_only`, the last line per (case_id, repeat) wins.

    `--retry-errors` appends a new record for a case whose earlier record was an error; the
    newer line supersedes the older one, which stays in the file as history.
    """
    path = Path(run_dir) / RESULTS
    records: dict[tuple[str, int], Record] | list[Record]
    out: dict[tuple[str, int], Record] = {}
    allr: list[Record] = []
    for i, raw in enumerate(iter_raw_records(run_dir), start=1):
        try:
            rec = Record.model_validate(raw)
        except ValidationError as exc:
            raise InputError(
                Problem(str(path), i, f"invalid record: {str(exc).splitlines()[0]}")
            ) from None
        if latest_only:
            out[rec.key] = rec
        else:
            allr.append(rec)
    records = out if latest_only else allr
    return list(records.values()) if isinstance(records, dict) else records


@dataclass
class Run:
    """A loaded run directory."""

    path: Path
    manifest: Manifest
    records: list[Record]


def load_run(run_dir: str | Path) -> Run:
    p = Path(run_dir)
    manifest = load_manifest(p)
    return Run(path=p, manifest=manifest, records=load_records(p))


class ResultsWriter:
    """Append-only writer for results.jsonl: one flushed line per finished record."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / RESULTS
        _repair_torn_tail(self.path)
        self._f: IO[bytes] = self.path.open("ab")

    def append(self, record: Record) -> None:
        # `fallback`: a value JSON has no form for (a plugin check's `data` holding an object)
        # is kept as its repr; refusing it would stop the run and lose every later record.
        line = orjson.dumps(record.model_dump(mode="json", fallback=repr)) + b"\n"
        # One write call per line keeps a line whole unless the process dies mid-syscall.
        self._f.write(line)
        self._f.flush()

    def sync(self) -> None:
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        if not self._f.closed:
            self.sync()
            self._f.close()


def _repair_torn_tail(path: Path) -> None:
    """Cut a partial last line left by a kill, so appended records start on a fresh line."""
    if not path.is_file():
        return
    with path.open("rb+") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        if size == 0:
            return
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return
        # Find the last newline; everything after it is a torn record.
        pos = size
        chunk = 65536
        while pos > 0:
            start = max(0, pos - chunk)
            f.seek(start)
            buf = f.read(pos - start)
            idx = buf.rfind(b"\n")
            if idx >= 0:
                f.truncate(start + idx + 1)
                return
            pos = start
        f.truncate(0)

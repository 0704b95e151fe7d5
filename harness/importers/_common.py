"""What every importer shares: reading tables with `datasets`, validating cases, atomic writes.

Imported rows become plain case mappings, are validated exactly as a golden file would be
(`case_from_dict`, which also builds their checks), and only then written. All files of one
import are written to hidden temporary names first and renamed at the end, so a failure never
leaves half a set behind, and a folder the loader reads never holds a partial file.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from harness.errors import InputError, Problem
from harness.golden import case_from_dict

log = logging.getLogger("harness.importers")

#: The shipped golden set; imports never write into it.
SHIPPED_GOLDEN = Path(__file__).resolve().parents[2] / "golden"


def package_dir(package: str, install_hint: str) -> Path:
    """The installed folder of `package`, found without importing it.

    Importing is avoided on purpose: `bfcl-eval` installed with ``--no-deps`` lacks the provider
    SDKs its modules import, and only its data files are needed.
    """
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise InputError(f"the Python package {package!r} is not installed: {install_hint}")
    return Path(locations[0])


@contextlib.contextmanager
def quiet_datasets() -> Iterator[None]:
    """Silence `datasets`' progress bars and info logs for the duration, then restore them."""
    from datasets.utils import logging as ds_logging

    bars = ds_logging.is_progress_bar_enabled()
    level = ds_logging.get_verbosity()
    ds_logging.disable_progress_bar()
    ds_logging.set_verbosity_error()
    try:
        yield
    finally:
        ds_logging.set_verbosity(level)
        if bars:
            ds_logging.enable_progress_bar()


def read_rows(path: Path, kind: str, *, split: str | None = None) -> list[dict[str, Any]]:
    """Rows of a JSON Lines / Parquet / CSV file or a dataset saved with `save_to_disk`.

    Read through `datasets` with its cache in a temporary folder (an import leaves nothing in
    ``~/.cache``); nothing is ever downloaded.
    """
    import datasets

    with quiet_datasets(), tempfile.TemporaryDirectory(prefix="harness-import-") as cache:
        try:
            if kind == "saved":
                loaded = datasets.load_from_disk(str(path), keep_in_memory=True)
                if isinstance(loaded, datasets.DatasetDict):
                    loaded = _pick_split(loaded, split, path)
                table = loaded
            elif kind == "parquet":
                table = datasets.Dataset.from_parquet(
                    str(path), cache_dir=cache, keep_in_memory=True
                )
            elif kind == "csv":
                table = datasets.Dataset.from_csv(str(path), cache_dir=cache, keep_in_memory=True)
            else:
                table = datasets.Dataset.from_json(str(path), cache_dir=cache, keep_in_memory=True)
        except InputError:
            raise
        except Exception as exc:  # datasets/pyarrow raise many types for unreadable files
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(Problem(str(path), 0, f"cannot read as {kind}: {reason}")) from None
        assert isinstance(table, datasets.Dataset)
        return [dict(row) for row in table]


def _pick_split(dd: Any, split: str | None, path: Path) -> Any:
    names = list(dd.keys())
    if split is None:
        if len(names) == 1:
            return dd[names[0]]
        shown = ", ".join(names)
        raise InputError(
            Problem(
                str(path),
                0,
                f"the dataset has several splits ({shown}); name one with split=NAME in --spec",
            )
        )
    if split not in dd:
        raise InputError(Problem(str(path), 0, f"no split {split!r} (splits: {', '.join(names)})"))
    return dd[split]


def validate(raw: dict[str, Any], out: Path) -> str | None:
    """None when `raw` is a valid case, else the reason (one line) it is not."""
    try:
        case_from_dict(raw, golden_root=out)
    except InputError as exc:
        return "; ".join(p.message for p in exc.problems) or "invalid case"
    return None


def check_out_dir(out: Path) -> None:
    """Refuse an --out that is a file or the shipped golden set."""
    resolved = out.resolve()
    for golden in {SHIPPED_GOLDEN, (Path.cwd() / "golden").resolve()}:
        if resolved == golden or golden in resolved.parents:
            raise InputError(
                f"--out {out}: imported sets go to a folder of their own, not into the golden set "
                f"({golden}); choose another folder, e.g. --out imported/"
            )
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a folder")


def write_sets(out: Path, sets: dict[str, list[dict[str, Any]]]) -> list[tuple[Path, int]]:
    """Write each named list of cases to ``out/<name>.jsonl`` atomically (all or nothing)."""
    empty = [name for name, cases in sets.items() if not cases]
    if empty:
        raise InputError(f"nothing to write for {', '.join(empty)}: no valid cases")
    out.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path, int]] = []
    try:
        for name, cases in sets.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out)
            staged.append((Path(tmp), out / f"{name}.jsonl", len(cases)))
            with os.fdopen(fd, "wb") as fh:
                for case in cases:
                    fh.write(orjson.dumps(case, option=orjson.OPT_APPEND_NEWLINE))
        written = []
        for tmp_path, final, count in staged:
            os.replace(tmp_path, final)
            written.append((final, count))
        return written
    finally:
        for tmp_path, _, _ in staged:
            tmp_path.unlink(missing_ok=True)

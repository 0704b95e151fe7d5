"""harness: golden-set evaluation and regression testing for OpenAI-compatible LLM endpoints.

The whole public surface is here. One case flows: `load_suite` -> `run_suite` (client, checks,
store) -> `load_run` -> `build_report` / `build_diff` -> HTML / CSV / Markdown / JSON.
The runner (HTTP client), report and diff (pandas, matplotlib) load on first use, so
`import harness` stays cheap for tools that only read golden files or records.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness._version import __version__
from harness.checks import CheckContext, CheckResult, check_names, register
from harness.endpoints import PRESETS, Endpoint, Limits, Price, load_config, resolve_endpoint
from harness.errors import InputError, Problem
from harness.golden import Case, Suite, case_from_dict, load_suite
from harness.records import Manifest, Output, Record, Served, ToolCall, Usage
from harness.store import Run, load_run

if TYPE_CHECKING:
    from harness.diff import build_diff, write_diff
    from harness.report import build_report, write_report
    from harness.runner import resume_run, resume_run_sync, run_suite, run_suite_sync

_LAZY = {
    "build_report": "harness.report",
    "write_report": "harness.report",
    "build_diff": "harness.diff",
    "write_diff": "harness.diff",
    "diff_runs": "harness.diff",
    "run_suite": "harness.runner",
    "run_suite_sync": "harness.runner",
    "resume_run": "harness.runner",
    "resume_run_sync": "harness.runner",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module = importlib.import_module(_LAZY[name])
        attr = "build_diff" if name == "diff_runs" else name
        return getattr(module, attr)
    raise AttributeError(f"module 'harness' has no attribute {name!r}")


__all__ = [
    "PRESETS",
    "Case",
    "CheckContext",
    "CheckResult",
    "Endpoint",
    "InputError",
    "Limits",
    "Manifest",
    "Output",
    "Price",
    "Problem",
    "Record",
    "Run",
    "Served",
    "Suite",
    "ToolCall",
    "Usage",
    "__version__",
    "build_diff",
    "build_report",
    "case_from_dict",
    "check_names",
    "diff_runs",
    "load_config",
    "load_run",
    "load_suite",
    "register",
    "resolve_endpoint",
    "resume_run",
    "resume_run_sync",
    "run_suite",
    "run_suite_sync",
    "write_diff",
    "write_report",
]

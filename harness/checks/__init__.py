"""Checks: one module per family, one registry (name -> check).

Import from here, not from the private modules. Third-party checks register through the
``harness.checks`` entry-point group with the same `register` decorator.
"""

from harness.checks._base import (
    CHECK_CONFIG,
    BoundCheck,
    BuildEnv,
    Check,
    CheckArgError,
    CheckContext,
    CheckResult,
    build_check,
    check_names,
    register,
    run_check,
)
from harness.checks._score import combine, score_output

# Built-in families register themselves on import.
from harness.checks import text as _text  # noqa: F401  isort: skip
from harness.checks import code as _code  # noqa: F401  isort: skip
from harness.checks import tool_call as _tool_call  # noqa: F401  isort: skip
from harness.checks import structured as _structured  # noqa: F401  isort: skip
from harness.checks import rag as _rag  # noqa: F401  isort: skip
from harness.checks import telemetry as _telemetry  # noqa: F401  isort: skip
from harness.checks import judge as _judge  # noqa: F401  isort: skip

__all__ = [
    "CHECK_CONFIG",
    "BoundCheck",
    "BuildEnv",
    "Check",
    "CheckArgError",
    "CheckContext",
    "CheckResult",
    "build_check",
    "check_names",
    "combine",
    "register",
    "run_check",
    "score_output",
]

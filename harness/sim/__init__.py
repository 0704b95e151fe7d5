"""The built-in simulator: an OpenAI-compatible server that answers a golden suite.

It is a simulator, not a model: the offline default of the README demo, the test double of the
runner, and the reference that `harness selftest` serves. Profiles: ``reference`` (each case's
reference answer), ``degraded`` (a seeded share of cases perturbed; `degraded_cases` says which
and how), ``empty`` (every answer empty). Faults (``--faults "429=10%,hang=2%"``) are injected
independently of the profile and counted in `SimServer.stats`.
"""

from harness.sim._config import SimConfig, SimStats
from harness.sim._faults import FAULT_KINDS, parse_faults
from harness.sim._profiles import PROFILES, REGRESSION_KINDS, degraded_cases
from harness.sim._serve import serve
from harness.sim._server import SimServer
from harness.sim._wire import SYSTEM_FINGERPRINT

__all__ = [
    "FAULT_KINDS",
    "PROFILES",
    "REGRESSION_KINDS",
    "SYSTEM_FINGERPRINT",
    "SimConfig",
    "SimServer",
    "SimStats",
    "degraded_cases",
    "parse_faults",
    "serve",
]

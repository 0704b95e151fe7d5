"""The simulator's configuration, its ground-truth counters and its error bodies."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from aiohttp import web

#: Sent on every response, so a capture or a log line cannot be mistaken for a real model's.
HEADERS = {"X-Harness-Simulator": "1"}


@dataclass
class SimConfig:
    """How the simulator behaves; the defaults answer every case at once with its reference."""

    profile: Literal["reference", "degraded", "empty"] = "reference"
    latency_s: float = 0.0
    """Time before the first token (x 3 for the `degraded` profile's ``slow`` cases)."""
    token_latency_s: float = 0.0
    """Extra time per simulated token after the first (x 3 for ``slow`` cases too)."""
    faults: str | None = None
    """Fault spec, e.g. ``"429=10%,5xx=5%,hang=2%,cut=2%,malformed=1%,stream_error=1%"``."""
    seed: int = 0
    """Seeds both the `degraded` choice of cases and the fault draws."""
    degraded_fraction: float = 0.25
    retry_after_s: float = 1.0
    """Sent with a 429 as ``Retry-After`` (seconds) and ``retry-after-ms``."""
    hang_s: float = 3600.0
    """How long a ``hang`` fault waits before answering (cut short when the client hangs up)."""
    require_key: str | None = None
    """When set, requests without ``Authorization: Bearer <key>`` get a 401."""

    @property
    def model(self) -> str:
        return f"sim-{self.profile}"


@dataclass
class SimStats:
    """Ground truth for tests: what the server received and what it injected."""

    requests: int = 0
    """Chat-completion requests received (including rejected ones)."""
    answered: int = 0
    """Requests answered normally (a hang that ended in an answer counts here too)."""
    streamed: int = 0
    unknown_cases: int = 0
    unauthorized: int = 0
    bad_requests: int = 0
    cached_hits: int = 0
    hangs_cancelled: int = 0
    """Hangs that ended because the client went away or the server stopped."""
    faults: Counter[str] = field(default_factory=Counter)
    case_requests: Counter[str] = field(default_factory=Counter)
    log: list[tuple[float, str | None, str | None]] = field(default_factory=list)
    """(time.monotonic(), case id or None, injected fault or None) per chat request, in order:
    lets a test check, e.g., that a retry after a 429 came no sooner than its Retry-After."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "answered": self.answered,
            "streamed": self.streamed,
            "unknown_cases": self.unknown_cases,
            "unauthorized": self.unauthorized,
            "bad_requests": self.bad_requests,
            "cached_hits": self.cached_hits,
            "hangs_cancelled": self.hangs_cancelled,
            "faults": dict(self.faults),
        }


def error_response(
    status: int,
    message: str,
    type_: str,
    code: str | int | None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body = {
        "error": {
            "message": f"{message} (harness simulator)",
            "type": type_,
            "param": None,
            "code": code,
        }
    }
    return web.Response(
        status=status,
        body=orjson.dumps(body),
        content_type="application/json",
        headers={**HEADERS, **(headers or {})},
    )

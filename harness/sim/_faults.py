"""Fault injection for the simulator: the spec string and the per-request draw.

Faults are how the runner's retry and error classification are tested against ground truth, so
the draw is seeded (same seed, same sequence of faults) and every injected fault is counted by
the server. One uniform draw per request picks at most one fault, so the rates add up and a
spec whose rates sum above 100% is rejected rather than silently rescaled.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from harness.errors import InputError

#: The fault kinds, in the order the spec documents them.
FAULT_KINDS: tuple[str, ...] = ("429", "5xx", "hang", "cut", "malformed", "stream_error", "400")

_ALIASES: dict[str, str] = {
    "429": "429",
    "rate_limit": "429",
    "ratelimit": "429",
    "throttle": "429",
    "5xx": "5xx",
    "500": "5xx",
    "503": "5xx",
    "server": "5xx",
    "server_error": "5xx",
    "hang": "hang",
    "timeout": "hang",
    "cut": "cut",
    "cut_stream": "cut",
    "disconnect": "cut",
    "malformed": "malformed",
    "malformed_chunk": "malformed",
    "stream_error": "stream_error",
    "error_in_stream": "stream_error",
    "400": "400",
    "bad_request": "400",
}

_ITEM = re.compile(r"^(?P<name>.+?)\s*(?:=|:|\s)\s*(?P<rate>[0-9]*\.?[0-9]+)\s*(?P<pct>%?)$")


def parse_faults(spec: str | None) -> dict[str, float]:
    """Parse ``"429=10%,5xx=5%"`` (also ``"429 10%"``, ``"429: 0.1"``) into kind -> probability.

    Raises InputError naming the offending item; an empty or None spec means no faults.
    """
    rates: dict[str, float] = {}
    if spec is None or not spec.strip():
        return rates
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        m = _ITEM.match(item)
        if m is None:
            raise InputError(
                f"--faults: cannot read {item!r}: expected KIND=RATE such as '429=10%' or "
                f"'hang 0.02' (kinds: {', '.join(FAULT_KINDS)})"
            )
        name = re.sub(r"[\s-]+", "_", m["name"].strip().lower())
        kind = _ALIASES.get(name)
        if kind is None:
            raise InputError(
                f"--faults: unknown fault {m['name'].strip()!r} (kinds: {', '.join(FAULT_KINDS)})"
            )
        value = float(m["rate"])
        if m["pct"]:
            value /= 100.0
        elif value > 1.0:
            raise InputError(
                f"--faults: rate {m['rate']} for {kind!r} must be a fraction in [0, 1] "
                f"or a percentage such as {m['rate']}%"
            )
        if not 0.0 <= value <= 1.0:
            raise InputError(f"--faults: rate for {kind!r} must be between 0% and 100%")
        if kind in rates:
            raise InputError(f"--faults: {kind!r} is given twice")
        rates[kind] = value
    total = sum(rates.values())
    if total > 1.0 + 1e-9:
        raise InputError(
            f"--faults: the rates add up to {total:.0%}; at most 100% of requests can fail"
        )
    return rates


@dataclass
class FaultPicker:
    """Draws at most one fault per request from a seeded RNG (deterministic in request order)."""

    rates: dict[str, float]
    seed: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        bounds: list[tuple[float, str]] = []
        acc = 0.0
        for kind in FAULT_KINDS:
            rate = self.rates.get(kind, 0.0)
            if rate > 0.0:
                acc += rate
                bounds.append((acc, kind))
        self._bounds = bounds

    def __bool__(self) -> bool:
        return bool(self._bounds)

    def draw(self) -> str | None:
        if not self._bounds:
            return None
        u = self._rng.random()
        for bound, kind in self._bounds:
            if u < bound:
                return kind
        return None

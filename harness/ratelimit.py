"""Requests per minute AND per second, taken before every attempt (DashScope enforces both).

Shared by the runner (one set per run) and the LLM judge (one set per judge endpoint and event
loop), so a judge on a rate-limited endpoint waits for its turn instead of collecting 429s.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass

from aiolimiter import AsyncLimiter

from harness.endpoints import Endpoint


@dataclass
class RateLimits:
    rpm: AsyncLimiter | None
    rps: AsyncLimiter | None

    async def acquire(self) -> None:
        if self.rpm is not None:
            await self.rpm.acquire()
        if self.rps is not None:
            await self.rps.acquire()


def rate_limits(endpoint: Endpoint) -> RateLimits:
    lim = endpoint.limits
    # A bucket of 1 per (60/rpm) s would forbid any burst; aiolimiter's leaky bucket with the
    # full per-period capacity matches how DashScope counts (requests within the window).
    rpm = AsyncLimiter(lim.rpm, 60) if lim.rpm else None
    rps = AsyncLimiter(lim.rps, 1) if lim.rps else None
    return RateLimits(rpm, rps)


@dataclass
class Lane:
    """What bounds the calls to one endpoint from one event loop: concurrency and rates."""

    slots: asyncio.Semaphore
    rates: RateLimits


_LANES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Lane]] = (
    weakref.WeakKeyDictionary()
)


def lane(endpoint: Endpoint) -> Lane:
    """The endpoint's lane in the running loop (asyncio primitives belong to one loop)."""
    per_loop = _LANES.setdefault(asyncio.get_running_loop(), {})
    found = per_loop.get(endpoint.name)
    if found is None:
        found = per_loop[endpoint.name] = Lane(
            asyncio.Semaphore(endpoint.limits.concurrency), rate_limits(endpoint)
        )
    return found

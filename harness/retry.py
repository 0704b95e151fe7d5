"""Retries: a typed decision per failure, tenacity for the loop and the backoff.

Only what can succeed on a second try is retried: a 429 (`rate_limit`), and the transient types
(`server`, `timeout`, `connection`, `protocol`: 5xx, hangs, dropped connections, cut or
malformed streams). A 4xx other than 429, a quota or billing error and a content-policy refusal
are final: repeating them spends money and rate limit for the same answer.

Backoff is capped exponential with full jitter (`limits.backoff_initial_s` doubling up to
`limits.backoff_max_s`, then a uniform draw below that). A server's Retry-After (or
retry-after-ms) is a floor: the wait is at least what it asked for. A server that asks for more
than `max(limits.backoff_max_s, RETRY_AFTER_CAP_S)` is not retried at all: retrying sooner than
asked is disrespectful and usually fails again, and waiting longer would stall a run on one case.
The record then carries the 429 and `--retry-errors` can pick it up later.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_result,
    stop_after_attempt,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from harness.records import ErrorInfo

if TYPE_CHECKING:
    from harness.client import Attempt, Client
    from harness.endpoints import Limits

__all__ = ["RETRY_AFTER_CAP_S", "RetryDecision", "complete_with_retries", "decide"]

#: The longest server-requested wait honoured when `limits.backoff_max_s` is shorter.
RETRY_AFTER_CAP_S = 60.0

_TRANSIENT = frozenset({"server", "timeout", "connection", "protocol"})


@dataclass(frozen=True)
class RetryDecision:
    retry: bool
    kind: Literal["rate_limit", "transient", "final"]
    retry_after: float | None = None
    """Seconds, when the server said so."""


def decide(error: ErrorInfo, retry_after_s: float | None = None) -> RetryDecision:
    """Whether a failure is worth another attempt, and why."""
    if error.type == "rate_limit":
        return RetryDecision(True, "rate_limit", retry_after_s)
    if error.type in _TRANSIENT:
        return RetryDecision(True, "transient", retry_after_s)
    return RetryDecision(False, "final", retry_after_s)


def _decision(state: RetryCallState) -> RetryDecision | None:
    """The decision for the attempt that just ended; None when it succeeded."""
    outcome = state.outcome
    if outcome is None or outcome.failed:
        return None
    attempt: Attempt = outcome.result()
    if attempt.error is None:
        return None
    return decide(attempt.error, attempt.retry_after_s)


class _stop_on_long_retry_after(stop_base):
    def __init__(self, cap: float) -> None:
        self.cap = cap

    def __call__(self, retry_state: RetryCallState) -> bool:
        decision = _decision(retry_state)
        return (
            decision is not None
            and decision.retry_after is not None
            and decision.retry_after > self.cap
        )


async def complete_with_retries(
    client: Client,
    body: dict[str, Any],
    limits: Limits,
    *,
    before_attempt: Callable[[], Awaitable[None]] | None = None,
) -> tuple[Attempt, int]:
    """The last Attempt and how many were made (1 + retries, at most 1 + limits.max_retries).

    `before_attempt` is awaited before every attempt, retries included: the runner passes its
    RPM/RPS limiter so that retries count against the endpoint's rate limits.

    Most calls succeed at once, so the first attempt runs outside tenacity (its machinery costs
    ~40 us a call, paid 50 times in a row when a wave of answers lands together). A retryable
    failure then enters the tenacity loop as its first outcome, so waits and stops are the same.
    """
    if before_attempt is not None:
        await before_attempt()
    first: Attempt | None = await client.complete(body)
    assert first is not None
    if first.error is None or not decide(first.error).retry or limits.max_retries == 0:
        return first, 1

    jitter = wait_random_exponential(multiplier=limits.backoff_initial_s, max=limits.backoff_max_s)
    cap = max(limits.backoff_max_s, RETRY_AFTER_CAP_S)

    def wait(state: RetryCallState) -> float:
        decision = _decision(state)
        floor = decision.retry_after if decision is not None else None
        backoff = float(jitter(state))
        return backoff if floor is None else max(backoff, floor)

    def should_retry(attempt: Attempt) -> bool:
        return attempt.error is not None and decide(attempt.error).retry

    count = 1

    async def once() -> Attempt:
        nonlocal count, first
        if first is not None:  # the attempt already made above, replayed as tenacity's first
            made, first = first, None
            return made
        if before_attempt is not None:
            await before_attempt()
        count += 1
        return await client.complete(body)

    retrying = AsyncRetrying(
        stop=stop_after_attempt(1 + limits.max_retries) | _stop_on_long_retry_after(cap),
        wait=wait,
        retry=retry_if_result(should_retry),
        retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
        reraise=True,
    )
    attempt: Attempt = await retrying(once)
    return attempt, count

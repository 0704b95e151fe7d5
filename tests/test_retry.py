"""Retry decisions, and the retry loop against a real server (waits measured, attempts counted)."""

from __future__ import annotations

import asyncio
import time

import pytest

from harness.client import Attempt, Client
from harness.endpoints import Limits
from harness.records import ErrorInfo, ErrorType
from harness.retry import RETRY_AFTER_CAP_S, RetryDecision, complete_with_retries, decide
from tests.wire_server import Reply, WireServer

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
OK = Reply(sse=[{"choices": [{"index": 0, "delta": {"content": "ok"}, "finish_reason": "stop"}]}])
FAST = Limits(timeout_s=5, max_retries=4, backoff_initial_s=0.01, backoff_max_s=0.05)


def status(code: int, **headers: str) -> Reply:
    return Reply(status=code, json={"error": {"message": f"HTTP {code}"}}, headers=headers)


@pytest.mark.parametrize(
    ("error_type", "retry", "kind"),
    [
        ("rate_limit", True, "rate_limit"),
        ("server", True, "transient"),
        ("timeout", True, "transient"),
        ("connection", True, "transient"),
        ("protocol", True, "transient"),
        ("bad_request", False, "final"),
        ("auth", False, "final"),
        ("quota", False, "final"),
        ("content_filter", False, "final"),
    ],
)
def test_decide(error_type: ErrorType, retry: bool, kind: str) -> None:
    decision = decide(ErrorInfo(type=error_type), 1.5)
    assert decision == RetryDecision(retry, kind, 1.5)  # type: ignore[arg-type]


def retry_run(replies: list[Reply], limits: Limits = FAST) -> tuple[Attempt, int, int, float, int]:
    """(last attempt, attempts, limiter calls, seconds, requests the server saw)."""
    calls = 0

    async def limiter() -> None:
        nonlocal calls
        calls += 1

    async def go() -> tuple[Attempt, int, int, float, int]:
        async with WireServer(replies) as server:
            async with Client(server.endpoint(limits=limits)) as client:
                start = time.perf_counter()
                attempt, n = await complete_with_retries(
                    client, BODY, limits, before_attempt=limiter
                )
                elapsed = time.perf_counter() - start
            return attempt, n, calls, elapsed, len(server.requests)

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("headers", "floor"), [({"Retry-After": "1"}, 1.0), ({"retry-after-ms": "300"}, 0.3)]
)
def test_429_waits_at_least_retry_after(headers: dict[str, str], floor: float) -> None:
    attempt, n, calls, elapsed, seen = retry_run([status(429, **headers), OK])
    assert attempt.error is None
    assert attempt.output.content == "ok"
    assert (n, calls, seen) == (2, 2, 2)
    assert elapsed >= floor
    assert elapsed < floor + 1.0


def test_500_twice_then_200() -> None:
    attempt, n, calls, _, seen = retry_run([status(500), status(503), OK])
    assert attempt.error is None
    assert (n, calls, seen) == (3, 3, 3)


def test_transient_stream_failures_are_retried() -> None:
    cut = Reply(sse=OK.sse, cut_after=0)
    empty = Reply(sse=["[DONE]"])
    attempt, n, *_ = retry_run([cut, empty, OK])
    assert attempt.error is None
    assert n == 3


@pytest.mark.parametrize("code", [400, 401, 403, 404, 422])
def test_4xx_is_never_retried(code: int) -> None:
    attempt, n, calls, _, seen = retry_run([status(code), OK])
    assert attempt.error is not None
    assert attempt.error.status_code == code
    assert (n, calls, seen) == (1, 1, 1)


def test_content_policy_refusal_is_never_retried() -> None:
    moderation = {"error": {"message": "inappropriate", "code": "data_inspection_failed"}}
    refusal = Reply(sse=[{"choices": [{"index": 0, "delta": {"content": "x"}}]}, moderation])
    attempt, n, *_ = retry_run([refusal, OK])
    assert attempt.error is not None
    assert attempt.error.type == "content_filter"
    assert n == 1


@pytest.mark.parametrize("max_retries", [0, 2])
def test_max_retries_is_respected(max_retries: int) -> None:
    limits = FAST.model_copy(update={"max_retries": max_retries})
    attempt, n, calls, elapsed, seen = retry_run([status(503)], limits)
    assert attempt.error is not None
    assert attempt.error.type == "server"
    assert (n, calls, seen) == (1 + max_retries,) * 3
    assert elapsed < 2  # backoff capped at backoff_max_s


def test_retry_after_beyond_the_cap_is_not_retried() -> None:
    too_long = str(int(RETRY_AFTER_CAP_S) + 1)
    attempt, n, _, elapsed, _ = retry_run([status(429, **{"Retry-After": too_long}), OK])
    assert attempt.error is not None
    assert attempt.error.type == "rate_limit"
    assert attempt.retry_after_s == RETRY_AFTER_CAP_S + 1
    assert n == 1
    assert elapsed < 2


def test_backoff_grows_with_jitter_below_the_cap() -> None:
    """Full jitter: each wait is drawn in [0, min(max, initial * 2^k)]."""
    limits = Limits(timeout_s=5, max_retries=3, backoff_initial_s=0.1, backoff_max_s=0.15)
    _, n, _, elapsed, _ = retry_run([status(500)], limits)
    assert n == 4
    assert elapsed < 0.1 + 0.15 + 0.15 + 1.0  # never above the per-wait caps (+ request time)

"""Telemetry checks: finish reasons and budgets, with unknown values never read as zero."""

from __future__ import annotations

import pytest

import harness.checks.telemetry  # noqa: F401  (registers the telemetry checks)
from harness.endpoints import Endpoint, Price
from harness.errors import InputError
from harness.records import Usage
from tests.checks._helpers import make_case, verdict, verdicts


def test_finish_reason_default_allows_stop_and_tool_calls() -> None:
    assert verdict({"type": "finish_reason"}, "ok", finish_reason="stop").passed
    assert verdict({"type": "finish_reason"}, "", finish_reason="tool_calls").passed


def test_length_finish_is_a_silent_truncation() -> None:
    case = make_case([{"type": "finish_reason"}], params={"max_tokens": 256})
    [r] = verdicts(
        case, "The answer is", finish_reason="length", usage=Usage(completion_tokens=256)
    )
    assert not r.passed
    assert r.detail == (
        "finish_reason length: the answer hit the token limit (256 completion tokens, "
        "max_tokens 256) and was silently truncated (expected stop or tool_calls)"
    )


def test_finish_reason_unknown_is_na_not_a_pass() -> None:
    r = verdict({"type": "finish_reason"}, "ok", finish_reason="unknown")
    assert not r.passed
    assert r.error
    assert r.detail == "n/a: the server reported no finish_reason (unknown: fail)"
    r = verdict({"type": "finish_reason", "unknown": "pass"}, "ok", finish_reason=None)
    assert r.passed
    assert r.detail.startswith("n/a:")


def test_finish_reason_custom_allowed_and_validated_at_load() -> None:
    check = {"type": "finish_reason", "allowed": ["length"]}
    assert verdict(check, "...", finish_reason="length").passed
    r = verdict(check, "...", finish_reason="stop")
    assert r.detail == "finish_reason stop, expected length"
    with pytest.raises(InputError, match=r"check 'finish_reason': argument 'allowed.0'"):
        make_case([{"type": "finish_reason", "allowed": ["done"]}])


def test_latency_and_ttft_budgets() -> None:
    r = verdict({"type": "max_latency", "seconds": 2}, "x", latency_s=2.5)
    assert not r.passed
    assert r.detail == "latency 2.5 s > limit 2 s"
    assert r.data == {"value": 2.5, "limit": 2}
    assert verdict({"type": "max_latency", "seconds": 2}, "x", latency_s=1.2).passed
    assert verdict({"type": "max_ttft", "seconds": 0.5}, "x", ttft_s=0.1).passed


def test_ttft_without_streaming_is_na() -> None:
    r = verdict({"type": "max_ttft", "seconds": 0.5}, "x", ttft_s=None)
    assert not r.passed
    assert r.error
    assert "n/a: no time to first token (it is measured only with streaming)" in r.detail
    # negate must not turn "unknown" into a pass
    r = verdict({"type": "max_ttft", "seconds": 0.5, "negate": True}, "x", ttft_s=None)
    assert not r.passed


def test_max_tokens_which_and_unknown_usage() -> None:
    usage = Usage(
        prompt_tokens=100, completion_tokens=900, reasoning_tokens=None, total_tokens=1000
    )
    r = verdict({"type": "max_tokens", "tokens": 800}, "x", usage=usage)
    assert not r.passed
    assert r.detail == "completion_tokens 900 > limit 800"
    assert verdict(
        {"type": "max_tokens", "tokens": 1000, "which": "total"}, "x", usage=usage
    ).passed
    r = verdict({"type": "max_tokens", "tokens": 10, "which": "reasoning"}, "x", usage=usage)
    assert r.detail == "n/a: the server reported no reasoning_tokens (unknown: fail)"
    r = verdict({"type": "max_tokens", "tokens": 10}, "x", usage=None)
    assert r.detail == "n/a: the server reported no usage (unknown: fail)"
    with pytest.raises(InputError, match=r"check 'max_tokens': argument 'which'"):
        make_case([{"type": "max_tokens", "tokens": 10, "which": "output"}])


def test_max_cost_needs_a_price() -> None:
    priced = Endpoint(
        name="q",
        base_url="http://127.0.0.1:1/v1",
        model="m",
        price=Price(input_per_mtok=1.0, output_per_mtok=4.0),
    )
    usage = Usage(prompt_tokens=1000, completion_tokens=500)
    r = verdict({"type": "max_cost", "cost": 0.002}, "x", usage=usage, endpoint=priced)
    assert not r.passed
    assert r.detail == "cost 0.003 USD > limit 0.002 USD"
    assert verdict({"type": "max_cost", "cost": 0.01}, "x", usage=usage, endpoint=priced).passed
    unpriced = priced.model_copy(update={"price": None})
    r = verdict({"type": "max_cost", "cost": 0.01}, "x", usage=usage, endpoint=unpriced)
    assert r.detail == "n/a: the endpoint has no price configured (unknown: fail)"
    r = verdict({"type": "max_cost", "cost": 0.01}, "x", usage=Usage(), endpoint=priced)
    assert r.detail.startswith("n/a: the server did not report prompt and completion tokens")


def test_budget_must_be_positive() -> None:
    with pytest.raises(InputError, match=r"check 'max_latency': argument 'seconds'"):
        make_case([{"type": "max_latency", "seconds": 0}])

"""Checks from outside the package (entry points) go through the same guard as the built-ins."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.checks import CheckContext, CheckResult
from harness.checks._base import _REGISTRY, register
from harness.endpoints import Endpoint, Limits
from harness.golden import Suite, case_from_dict
from harness.runner import RunResult, run_suite
from harness.sim import SimServer
from harness.store import load_records


@pytest.fixture
def misbehaving_checks() -> Iterator[None]:
    """Two plugin checks with the bugs plugin authors make; unregistered afterwards."""

    @dataclass
    class Raises:
        def __call__(self, ctx: CheckContext) -> Any:
            raise KeyError("usage")

    @dataclass
    class ReturnsBool:
        def __call__(self, ctx: CheckContext) -> Any:
            return True

    @dataclass
    class OddData:
        def __call__(self, ctx: CheckContext) -> Any:
            return CheckResult(True, 1.0, "ok", data={"thing": object(), "ids": {3}})

    register("test_raises")(Raises)
    register("test_returns_bool")(ReturnsBool)
    register("test_odd_data")(OddData)
    try:
        yield
    finally:
        for name in ("test_raises", "test_returns_bool", "test_odd_data"):
            _REGISTRY.pop(name, None)


def _run_three(tmp_path: Path, checks: Callable[[int], list[dict[str, Any]]]) -> RunResult:
    """Three simulator-answered cases ("hello 0".."hello 2") with the given checks, run."""
    cases = [
        {
            "id": f"c{i}",
            "category": "chat",
            "messages": [{"role": "user", "content": f"Say hello {i}"}],
            "reference": {"content": f"hello {i}"},
            "checks": checks(i),
        }
        for i in range(3)
    ]
    suite = Suite(path="<test>", cases=[case_from_dict(c) for c in cases])
    with SimServer(suite) as sim:
        ep = Endpoint(name="sim", base_url=sim.base_url, model="sim", limits=Limits(concurrency=3))
        return asyncio.run(run_suite(suite, ep, out_dir=tmp_path / "run", progress=False))


def test_a_check_that_raises_or_returns_a_bool_is_an_error_verdict_not_a_crash(
    misbehaving_checks: None, tmp_path: Path
) -> None:
    result = _run_three(
        tmp_path,
        lambda i: [
            {"type": "contains", "value": f"hello {i}"},
            {"type": ["test_raises", "test_returns_bool", "test_raises"][i], "negate": True},
        ],
    )
    assert result.manifest.status == "complete"
    records = sorted(load_records(tmp_path / "run"), key=lambda r: r.case_id)
    assert [r.case_id for r in records] == ["c0", "c1", "c2"]
    for rec in records:
        assert rec.status == "ok" and rec.passed is False
        contains, bad = rec.checks
        assert contains.passed is True
        assert bad.passed is False and bad.error  # negate cannot turn a broken check into a pass
    assert records[0].checks[1].detail == "check raised KeyError: 'usage'"
    assert records[1].checks[1].detail == "check returned bool, not a CheckResult"


def test_check_data_json_cannot_hold_is_kept_as_text_and_the_run_goes_on(
    misbehaving_checks: None, tmp_path: Path
) -> None:
    result = _run_three(tmp_path, lambda i: [{"type": "test_odd_data"}])
    assert result.manifest.status == "complete"
    records = load_records(tmp_path / "run")
    assert len(records) == 3 and all(r.passed for r in records)
    data = records[0].checks[0].data
    assert data is not None and data["ids"] == [3]
    assert isinstance(data["thing"], str) and data["thing"].startswith("<object object at")

"""Shared fixtures: small suites built in code, and the simulator on a background thread."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.golden import Suite, load_suite
from harness.records import Record
from harness.sim import SimConfig, SimServer
from tests import wire_server

ROOT = Path(__file__).resolve().parents[1]


def make_cases(n: int, *, prefix: str = "c") -> list[dict[str, Any]]:
    """n small chat cases whose reference passes a `contains` check."""
    return [
        {
            "id": f"{prefix}{i:05d}",
            "category": "chat",
            "messages": [{"role": "user", "content": f"Say the code word for item {i}."}],
            "reference": {"content": f"The code word for item {i} is kiwi-{i}."},
            "checks": [{"type": "contains", "value": f"kiwi-{i}"}],
            "tags": ["synthetic"],
        }
        for i in range(n)
    ]


def make_record(**fields: Any) -> Record:
    """A record with placeholder identity fields; tests set only what they are about."""
    defaults: dict[str, Any] = {
        "case_id": "c",
        "case_hash": "h",
        "category": "chat",
        "endpoint": "e",
        "model": "m",
        "status": "ok",
        "started_at": "t",
    }
    return Record(**{**defaults, **fields})


def write_suite(path: Path, cases: list[dict[str, Any]]) -> Suite:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cases, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return load_suite(path)


@pytest.fixture
def small_suite(tmp_path: Path) -> Suite:
    return write_suite(tmp_path / "golden" / "cases.yaml", make_cases(12))


@pytest.fixture
def sim_url(small_suite: Suite) -> Iterator[str]:
    with SimServer(small_suite, SimConfig()) as sim:
        url = sim.base_url
        yield url


@pytest.fixture(params=["direct", "sdk"])
def each_transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a client test once per transport: `WireServer.endpoint()` uses it unless told."""
    monkeypatch.setattr(wire_server, "TRANSPORT", request.param)
    return str(request.param)

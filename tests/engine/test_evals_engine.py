"""`pytest evals/` against the real local engine: outcomes known from the scripted model."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.store import load_records

from .build import CHAT_ANSWER
from .conftest import EngineTarget

pytestmark = pytest.mark.engine
ROOT = Path(__file__).resolve().parents[2]

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
CASES = [
    # The scripted model always answers CHAT_ANSWER, so each verdict is known in advance.
    {
        "id": "capital-exact",
        "category": "chat",
        "messages": QUESTION,
        "tags": ["smoke"],
        "checks": [{"type": "equals", "value": CHAT_ANSWER}, {"type": "finish_reason"}],
    },
    {
        "id": "capital-mentions-paris",
        "category": "chat",
        "messages": QUESTION,
        "checks": [{"type": "contains", "value": "Paris"}, {"type": "max_latency", "seconds": 60}],
    },
    {
        "id": "capital-truncated",
        "category": "chat",
        "messages": QUESTION,
        "params": {"max_tokens": 2},
        "checks": [{"type": "contains", "value": "Paris"}, {"type": "finish_reason"}],
    },
    {
        "id": "capital-wrong-city",
        "category": "chat",
        "messages": QUESTION,
        "checks": [{"type": "contains", "value": "Lyon"}],
    },
]


def test_evals_against_the_engine(tmp_path: Path, chat_engine: EngineTarget) -> None:
    golden = tmp_path / "golden"
    golden.mkdir()
    (golden / "engine.yaml").write_text(yaml.safe_dump(CASES, sort_keys=False))
    run = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(ROOT / "evals" / "test_golden.py"),
            "-p",
            "no:randomly",
            "--golden",
            str(golden),
            "--base-url",
            chat_engine.base_url,
            "--model",
            chat_engine.model,
            "--run-dir",
            str(run),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=600,
    )
    out = proc.stdout
    assert proc.returncode == 1, out[-3000:]
    assert "2 failed, 2 passed" in out
    failed = set(re.findall(r"FAILED \S+::test_golden\[chat/([\w-]+)\]", out))
    assert failed == {"capital-truncated", "capital-wrong-city"}
    assert "FAIL finish_reason" in out and "FAIL contains: missing 'Lyon'" in out
    recs = {r.case_id: r for r in load_records(run)}
    assert recs["capital-exact"].output.content == CHAT_ANSWER
    assert recs["capital-truncated"].finish_reason == "length"

"""`harness run` against a real inference engine (transformers serve + a scripted tiny Qwen2).

The model's answers are known in advance (tests/engine/build.py wires each token to the next),
so these tests can assert exact content, finish reasons, tool calls and usage end to end:
golden file -> CLI -> client over real HTTP (both transports) -> a real server running a real
model -> record.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.store import load_manifest, load_records

from .build import CHAT_ANSWER, TOOL_ARGUMENTS, TOOL_NAME, WEATHER_TOOL
from .conftest import EngineTarget

pytestmark = pytest.mark.engine

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


def _run(
    tmp_path: Path,
    target: EngineTarget,
    cases: list[dict[str, Any]],
    name: str,
    transport: str | None = None,
) -> list[Any]:
    golden = tmp_path / f"{name}.yaml"
    golden.write_text(yaml.safe_dump(cases, sort_keys=False))
    out = tmp_path / name
    if transport is None:
        where = ["--base-url", target.base_url, "--model", target.model]
    else:  # a config file: the transport is an endpoint setting
        config = tmp_path / f"{name}-config.yaml"
        endpoint = {"base_url": target.base_url, "model": target.model, "transport": transport}
        config.write_text(yaml.safe_dump({"endpoints": {"engine": endpoint}}))
        where = ["--endpoint", "engine", "--config", str(config)]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness",
            "run",
            *where,
            "--suite",
            str(golden),
            "--out",
            str(out),
            "--no-progress",
            "--concurrency",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    manifest = load_manifest(out)
    assert manifest.status == "complete"
    assert manifest.endpoint["transport"] == (transport or "direct")
    return sorted(load_records(out), key=lambda r: r.case_id)


CHAT_CASES: list[dict[str, Any]] = [
    {
        "id": "full",
        "category": "chat",
        "messages": QUESTION,
        "checks": [{"type": "contains", "value": CHAT_ANSWER}],
    },
    {
        "id": "short",
        "category": "chat",
        "messages": QUESTION,
        "params": {"max_tokens": 3},
        "checks": [{"type": "contains", "value": CHAT_ANSWER}],
    },
    {
        "id": "unstreamed",
        "category": "chat",
        "messages": QUESTION,
        "params": {"stream": False},
        "checks": [{"type": "contains", "value": "capital of France"}],
    },
]


def test_chat_model_stop_length_and_non_streaming(
    tmp_path: Path, chat_engine: EngineTarget
) -> None:
    full, short, unstreamed = _run(tmp_path, chat_engine, CHAT_CASES, "chat")
    assert full.status == "ok" and full.output.content == CHAT_ANSWER
    assert full.finish_reason == "stop" and full.passed
    assert full.usage is not None and full.usage.prompt_tokens and full.usage.completion_tokens
    assert full.usage.total_tokens == full.usage.prompt_tokens + full.usage.completion_tokens
    assert (
        full.usage.reasoning_tokens is None and full.usage.cached_tokens is None
    )  # not reported: unknown
    assert (
        full.ttft_s is not None and full.latency_s is not None and 0 < full.ttft_s <= full.latency_s
    )
    assert short.finish_reason == "length" and not short.passed
    assert short.output.content and CHAT_ANSWER.startswith(short.output.content)
    assert short.usage is not None and short.usage.completion_tokens == 3
    assert unstreamed.output.content == CHAT_ANSWER and unstreamed.finish_reason == "stop"
    assert unstreamed.ttft_s is None  # without streaming there is no first token to time
    # The engine names what it served (its quirk: "@main" on the path), streamed or not.
    for rec in (full, short, unstreamed):
        assert rec.served is not None and rec.served.model == f"{chat_engine.model}@main"
        assert rec.served.id and len(rec.served.id) >= 16  # a bare uuid, no "chatcmpl-"


def test_tool_model_returns_a_structured_call(tmp_path: Path, tool_engine: EngineTarget) -> None:
    cases = [
        {
            "id": "weather",
            "category": "tool_use",
            "messages": [{"role": "user", "content": "What's the weather in Paris?"}],
            "tools": [WEATHER_TOOL],
            "checks": [
                {
                    "type": "tool_call",
                    "calls": [{"name": TOOL_NAME, "arguments": {"city": ["Paris"]}}],
                }
            ],
        }
    ]
    (rec,) = _run(tmp_path, tool_engine, cases, "tool")
    assert rec.status == "ok" and rec.finish_reason == "tool_calls" and rec.passed, rec.checks
    assert [tc.name for tc in rec.output.tool_calls] == [TOOL_NAME]
    call = rec.output.tool_calls[0]
    assert call.parsed == TOOL_ARGUMENTS and json.loads(call.arguments) == TOOL_ARGUMENTS
    assert call.id
    assert rec.usage is not None and rec.usage.completion_tokens
    assert rec.ttft_s is not None and rec.latency_s is not None and rec.ttft_s <= rec.latency_s


def test_both_transports_get_the_same_answers(tmp_path: Path, chat_engine: EngineTarget) -> None:
    """`transport: sdk` (every request through the openai SDK) and the default `direct`."""

    def answers(records: list[Any]) -> list[Any]:
        return [(r.status, r.output, r.finish_reason, r.usage, r.ttft_s is None) for r in records]

    direct = _run(tmp_path, chat_engine, CHAT_CASES, "direct", transport="direct")
    sdk = _run(tmp_path, chat_engine, CHAT_CASES, "sdk", transport="sdk")
    assert answers(direct) == answers(sdk)
    assert direct[0].output.content == CHAT_ANSWER

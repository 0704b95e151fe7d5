"""Run directories for the report/diff tests, written the way the runner writes them.

Records go through the real `Record` / `Manifest` models (`model_dump_json` per line), so a
fixture can never drift from the on-disk contract.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.records import CheckOutcome, Manifest, Record, SuiteInfo


def check(
    name: str, passed: bool, score: float | None = None, detail: str = "", *, error: bool = False
) -> CheckOutcome:
    return CheckOutcome(
        name=name,
        passed=passed,
        score=(1.0 if passed else 0.0) if score is None else score,
        detail=detail,
        error=error,
    )


def record(
    case_id: str,
    passed: bool | None = True,
    *,
    category: str = "chat",
    repeat: int = 0,
    case_hash: str | None = None,
    content: str | None = "ok",
    reasoning: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    status: str = "ok",
    error_type: str | None = None,
    checks: list[CheckOutcome] | None = None,
    score: float | None = None,
    **extra: Any,
) -> Record:
    """One record; `checks` default to one `contains` check agreeing with `passed`."""
    if status == "error":
        data: dict[str, Any] = dict(
            status="error",
            error={"type": error_type or "server", "status_code": 500, "message": "boom"},
            passed=False,
            score=None,
            checks=[],
            finish_reason="error",
            output={},
        )
    else:
        chk = checks if checks is not None else [check("contains", bool(passed))]
        if score is None and chk:
            score = sum(c.score for c in chk) / len(chk)
        data = dict(
            status="ok",
            passed=passed,
            score=score,
            checks=chk,
            finish_reason="stop",
            output={"content": content, "reasoning": reasoning, "tool_calls": tool_calls or []},
            usage={"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
            latency_s=0.5,
            ttft_s=0.1,
        )
    data.update(
        case_id=case_id,
        case_hash=case_hash or f"h-{case_id}",
        category=category,
        repeat=repeat,
        endpoint="ep",
        model="m",
        started_at="2025-01-01T00:00:00Z",
    )
    data.update(extra)
    return Record.model_validate(data)


def write_run(
    run_dir: Path,
    records: list[Record],
    *,
    repeats: int = 1,
    price: dict[str, Any] | None = None,
    suite_path: str = "<no suite>",
    model: str = "m",
    extra_lines: list[str] | None = None,
) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    endpoint: dict[str, Any] = {"name": "ep", "base_url": "http://127.0.0.1:1/v1", "model": model}
    if price is not None:
        endpoint["price"] = price
    manifest = Manifest(
        run_id=run_dir.name,
        harness_version="0.1.0",
        suite=SuiteInfo(path=suite_path, hash="x", cases=len(records)),
        endpoint=endpoint,
        repeats=repeats,
        started_at="2025-01-01T00:00:00Z",
        status="complete",
        scheduled=len(records),
    )
    (run_dir / "manifest.json").write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
    lines = [r.model_dump_json() for r in records] + (extra_lines or [])
    (run_dir / "results.jsonl").write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return run_dir

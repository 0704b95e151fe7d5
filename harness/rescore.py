"""Recompute every verdict of a run from its stored outputs, without calling the endpoint.

A fixed check or an edited reference should not cost a new (paid, slow) run. Records of cases
that are no longer in the suite are kept as they were. The results file is rewritten
atomically, and the manifest notes when it was rescored.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import orjson

from harness.checks import CheckContext, score_output
from harness.checks.judge import judge_session
from harness.endpoints import Endpoint
from harness.golden import Suite, load_suite
from harness.records import Record
from harness.runner import now_iso
from harness.store import RESULTS, atomic_write_bytes, load_manifest, load_records, write_manifest


@dataclass
class RescoreResult:
    total: int
    flipped: int
    missing: int


async def rescore_records(
    records: list[Record], suite: Suite, endpoint: Endpoint | None
) -> tuple[list[Record], int, int]:
    cases = suite.by_id()
    flipped = missing = 0
    out: list[Record] = []

    async def one(rec: Record) -> Record:
        nonlocal flipped, missing
        case = cases.get(rec.case_id)
        if case is None:
            missing += 1
            return rec
        if rec.status == "error":
            return rec.model_copy(update={"case_hash": case.case_hash})
        ctx = CheckContext(
            case=case,
            output=rec.output,
            finish_reason=rec.finish_reason,
            usage=rec.usage,
            latency_s=rec.latency_s,
            ttft_s=rec.ttft_s,
            attempts=rec.attempts,
            endpoint=endpoint,
        )
        outcomes, score, passed = await score_output(ctx)
        if passed != rec.passed:
            flipped += 1
        return rec.model_copy(
            update={
                "checks": outcomes,
                "score": score,
                "passed": passed,
                "case_hash": case.case_hash,
            }
        )

    async with judge_session():
        out = list(await asyncio.gather(*(one(r) for r in records)))
    return out, flipped, missing


def rescore_run(run_dir: str | Path, *, suite_path: str | None = None) -> RescoreResult:
    path = Path(run_dir)
    manifest = load_manifest(path)
    suite = load_suite(suite_path or manifest.suite.path)
    endpoint = Endpoint.model_validate(manifest.endpoint)
    records = load_records(path)
    new, flipped, missing = asyncio.run(rescore_records(records, suite, endpoint))
    blob = b"".join(orjson.dumps(r.model_dump(mode="json")) + b"\n" for r in new)
    atomic_write_bytes(path / RESULTS, blob)
    manifest.rescored_at = now_iso()
    write_manifest(path, manifest)
    return RescoreResult(total=len(new), flipped=flipped, missing=missing)

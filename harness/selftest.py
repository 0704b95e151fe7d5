"""`harness selftest`: prove every case's checks can both pass and fail.

Each case's reference is served through the simulator (profile `reference`) and must pass its
own checks; then an empty answer (profile `empty`) must fail them. A case whose checks pass an
empty answer has checks that cannot fail, which is a defect of the golden set, so it is
reported — as is a case with no checks at all (it is only measured).
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from harness.endpoints import Endpoint, Limits
from harness.golden import Suite, load_suite
from harness.records import Record
from harness.runner import run_suite
from harness.sim import SimConfig, SimServer
from harness.store import load_records


@dataclass
class SelftestResult:
    cases: int
    reference_failures: list[Record] = field(default_factory=list)
    empty_passes: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    errors: list[Record] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.reference_failures or self.empty_passes or self.errors)

    def lines(self) -> list[str]:
        out = []
        for r in self.reference_failures:
            bad = [f"{c.name}: {c.detail}" for c in r.checks if not c.passed]
            out.append(f"FAIL reference {r.case_id}: " + "; ".join(bad))
        for r in self.errors:
            out.append(
                f"ERROR {r.case_id}: {r.error.type if r.error else ''} "
                f"{r.error.message if r.error else ''}"
            )
        for cid in self.empty_passes:
            out.append(f"CANNOT FAIL {cid}: an empty answer passes its checks")
        for cid in self.unchecked:
            out.append(f"UNCHECKED {cid}: no checks (only measured)")
        n = self.cases
        ref_ok = n - len(self.reference_failures) - len(self.errors)
        out.append(
            f"selftest: {ref_ok}/{n} references pass their checks; "
            f"{len(self.empty_passes)} cases pass an empty answer; "
            f"{len(self.unchecked)} without checks"
        )
        return out


async def _run_profile(suite: Suite, profile: str, out: Path, concurrency: int) -> list[Record]:
    async with SimServer(suite, SimConfig(profile=profile)) as sim:  # type: ignore[arg-type]
        url = sim.base_url
        ep = Endpoint(
            name=f"sim-{profile}",
            base_url=url,
            model=f"sim-{profile}",
            limits=Limits(concurrency=concurrency, max_retries=0, timeout_s=60),
        )
        res = await run_suite(suite, ep, out_dir=out, progress=False)
    return load_records(res.path)


async def selftest_async(suite: Suite, *, concurrency: int = 16) -> SelftestResult:
    result = SelftestResult(cases=len(suite))
    with tempfile.TemporaryDirectory(prefix="harness-selftest-") as tmp:
        ref = await _run_profile(suite, "reference", Path(tmp) / "reference", concurrency)
        empty = await _run_profile(suite, "empty", Path(tmp) / "empty", concurrency)
    by_id = suite.by_id()
    for r in sorted(ref, key=lambda r: r.case_id):
        if r.status == "error":
            result.errors.append(r)
        elif not r.passed:
            result.reference_failures.append(r)
    for r in sorted(empty, key=lambda r: r.case_id):
        case = by_id[r.case_id]
        if not case.checks:
            result.unchecked.append(r.case_id)
        elif r.status == "ok" and r.passed:
            result.empty_passes.append(r.case_id)
    return result


def selftest(path: str | Path = "golden", *, concurrency: int = 16) -> SelftestResult:
    return asyncio.run(selftest_async(load_suite(path), concurrency=concurrency))

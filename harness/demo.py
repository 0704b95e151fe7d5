"""The README's first command: the shipped golden set against the simulator, offline.

Two runs — the simulator's `reference` profile standing in for the current model and its
`degraded` profile standing in for a worse candidate — then the HTML report of the first and
the HTML diff of the two, so a new user sees every part of the product in under a minute
without a key or a network. The simulator is labelled as such everywhere: it is not a model.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from pathlib import Path

from harness.endpoints import Endpoint, Limits
from harness.errors import InputError
from harness.golden import Suite, load_suite
from harness.runner import RunResult, run_suite
from harness.sim import REGRESSION_KINDS, SimConfig, SimServer, degraded_cases
from harness.store import load_records
from harness.summary import summary_lines


async def _run(suite: Suite, profile: str, out: Path) -> RunResult:
    # A little latency makes the demo's latency columns and charts worth looking at.
    config = SimConfig(profile=profile, latency_s=0.05, token_latency_s=0.0005)  # type: ignore[arg-type]
    async with SimServer(suite, config) as sim:
        url = sim.base_url
        ep = Endpoint(
            name=f"sim-{profile}",
            base_url=url,
            model=f"sim-{profile}",
            limits=Limits(concurrency=32, timeout_s=30),
        )
        return await run_suite(suite, ep, out_dir=out, progress=sys.stderr.isatty())


def run_demo(*, out: Path, suite_path: str = "golden") -> int:
    from harness.diff import build_diff, write_diff
    from harness.report import build_report, write_report

    if not Path(suite_path).exists():
        raise InputError(
            f"{suite_path}: no golden set here; run `harness demo` from the repository root "
            "(where golden/ is) or pass --suite PATH"
        )
    suite = load_suite(suite_path)
    if out.exists():
        shutil.rmtree(out)
    t0 = time.perf_counter()
    print(
        f"harness demo: {len(suite)} golden cases from {suite_path} "
        "against the built-in simulator (not a model)"
    )
    runs = {}
    for profile in ("reference", "degraded"):
        res = asyncio.run(_run(suite, profile, out / profile))
        runs[profile] = res.path
        print(f"\n[{profile}] run: {res.path}")
        for line in summary_lines(load_records(res.path)):
            print(f"  {line}")
    injected = degraded_cases(suite)
    kinds: dict[str, int] = {}
    for kind in injected.values():
        kinds[kind] = kinds.get(kind, 0) + 1
    changed = sum(v for k, v in kinds.items() if k in REGRESSION_KINDS)
    print(
        f"\nthe degraded profile changed {changed} answers and slowed {len(injected) - changed} "
        f"({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))})"
    )
    report = build_report(runs["reference"])
    rpaths = write_report(
        report,
        html=out / "report.html",
        json=out / "report.json",
        md=out / "report.md",
        csv=out / "report.csv",
    )
    d = build_diff(runs["reference"], runs["degraded"])
    dpaths = write_diff(
        d, html=out / "diff.html", json=out / "diff.json", md=out / "diff.md", csv=out / "diff.csv"
    )
    print(f"\ndiff reference -> degraded: verdict {d.verdict}: {d.reason}")
    print("\nwritten:")
    for p in [*rpaths, *dpaths]:
        print(f"  {p}")
    print(
        f"\nopen {out / 'report.html'} and {out / 'diff.html'} in a browser "
        f"({time.perf_counter() - t0:.1f}s)"
    )
    return 0

"""Docs that users rely on stay in step with the code."""

from __future__ import annotations

import re
from pathlib import Path

from harness.checks import check_names

ROOT = Path(__file__).resolve().parents[1]


def test_every_registered_check_is_documented() -> None:
    doc = (ROOT / "docs" / "checks.md").read_text()
    headings = re.findall(r"^### (.+)$", doc, flags=re.M)
    documented = {name for h in headings for name in re.findall(r"`(\w+)`", h)}
    assert set(check_names()) <= documented, set(check_names()) - documented


def test_readme_has_exactly_two_setup_commands_and_ci_runs_the_second() -> None:
    readme = (ROOT / "README.md").read_text()
    setup = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", setup, flags=re.S)
    assert len(blocks) == 2 and all(len(b.strip().splitlines()) == 1 for b in blocks)
    ci = (ROOT / ".ci" / "run").read_text()
    assert blocks[1].strip() in ci


def test_readme_golden_counts_are_the_real_ones() -> None:
    from collections import Counter

    from harness.golden import load_suite

    counts = Counter(c.category for c in load_suite(ROOT / "golden"))
    readme = (ROOT / "README.md").read_text()
    table = dict(re.findall(r"^\| (\w+) \| (\d+) \|$", readme, flags=re.M))
    assert {k: int(v) for k, v in table.items()} == dict(counts)
    assert f"{sum(counts.values())} cases" in readme

"""harness.render.markdown: a PR comment / step summary, verdict first, nothing injectable."""

from __future__ import annotations

from pathlib import Path

from harness.diff import build_diff, write_diff
from harness.render.markdown import MAX_LISTED, escape, render_markdown
from harness.report import build_report, write_report
from tests.render._runs import check, record, write_run


def _diff(tmp_path: Path, n_regress: int, detail: str = "missing 'refund'") -> tuple[Path, Path]:
    base = [record(f"c{i:03d}", True) for i in range(n_regress + 20)]
    cand = [record(f"c{i:03d}", i >= n_regress, checks=[check("contains", i >= n_regress, detail=detail)])
            for i in range(n_regress + 20)]  # fmt: skip
    return write_run(tmp_path / "b", base), write_run(tmp_path / "c", cand)


def test_verdict_first_then_table_then_linked_regressions(tmp_path: Path) -> None:
    base, cand = _diff(tmp_path, 8)
    md = render_markdown(build_diff(base, cand), html_href="diff.html")
    lines = md.splitlines()
    assert lines[0] == "## ❌ harness diff: FAIL"
    assert "significant drop" in lines[2]
    assert lines.index("| | base | candidate | change |") < lines.index("### Regressions (8)")
    assert "- [c000](diff.html#case-c000) · contains: missing 'refund'" in lines
    assert md.count("](diff.html#case-") == 8


def test_long_lists_are_capped(tmp_path: Path) -> None:
    base, cand = _diff(tmp_path, MAX_LISTED + 7)
    md = render_markdown(build_diff(base, cand))
    assert "- … and 7 more" in md and md.count("#case-") == MAX_LISTED
    assert len(md) < 65_536  # a GitHub comment's limit


def test_model_output_cannot_inject_markup(tmp_path: Path) -> None:
    evil = "<img src=x onerror=alert(1)> [click](javascript:alert(1)) **bold** `code` | pipe"
    base, cand = _diff(tmp_path, 1, detail=evil)
    md = render_markdown(build_diff(base, cand))
    line = next(x for x in md.splitlines() if x.startswith("- [c000]"))
    assert "<img" not in line and "&lt;img src=x onerror=alert\\(1\\)&gt;" not in line
    assert "&lt;img src=x onerror=alert(1)&gt;" in line
    assert (
        "\\[click\\](javascript:alert(1))" in line and "\\*\\*bold\\*\\*" in line and "\\|" in line
    )
    assert escape("a\nb\tc", 3) == "a …"


def test_href_points_at_the_html_written_alongside(tmp_path: Path) -> None:
    base, cand = _diff(tmp_path, 2)
    d = build_diff(base, cand)
    write_diff(d, html=tmp_path / "site" / "diff.html", md=tmp_path / "notes" / "diff.md")
    assert "](../site/diff.html#case-c000)" in (tmp_path / "notes" / "diff.md").read_text()
    write_diff(d, md=tmp_path / "x.md", html_href="https://ci.example/a/diff.html")
    assert "](https://ci.example/a/diff.html#case-c001)" in (tmp_path / "x.md").read_text()


def test_passing_diff_and_report(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", [record("a", True), record("b", False, finish_reason="length"),
                                     record("e", status="error", error_type="timeout")])  # fmt: skip
    md = render_markdown(build_diff(run, run))
    assert md.startswith("## ✅ harness diff: PASS")
    write_report(build_report(run), md=tmp_path / "r.md")
    rmd = (tmp_path / "r.md").read_text()
    assert rmd.startswith("## harness report: ep (m)")
    assert "**Pass rate 33.3%** (1/3" in rmd
    assert "- [b](report.html#case-b) · **truncated** · contains" in rmd
    assert "- [e](report.html#case-e) · error: timeout" in rmd

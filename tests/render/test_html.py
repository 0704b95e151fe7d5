"""harness.render.html: one self-contained, script-safe file (the browser test drives it live)."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from harness.diff import build_diff, write_diff
from harness.errors import InputError
from harness.render import _atomic
from harness.render._htmldata import MIN_TEXT
from harness.render._prompts import MAX_TEXT
from harness.render._textdiff import changed_ranges, mark_pairs
from harness.render.html import json_for_script, render_html
from harness.report import build_report, write_report
from tests.conftest import make_cases, write_suite
from tests.render._runs import check, record, write_run

EVIL = [
    "<script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=1">',
    '[link](javascript:window.__pwned=1) <a href="javascript:window.__pwned=1">click</a>',
    "</script><script>window.__pwned=1</script><!--",
]


def _data(html: str) -> dict[str, Any]:
    m = re.search(r'<script type="application/json" id="harness-data">(.*?)</script>', html, re.S)
    assert m is not None
    return dict(orjson.loads(m.group(1)))


def _evil_run(tmp_path: Path, name: str = "run") -> Path:
    recs = [
        record(f"case-{i}", i % 2 == 0, content=text, reasoning=text,
               checks=[check("contains", i % 2 == 0, detail=f"missing in {text}")])
        for i, text in enumerate(EVIL)
    ]  # fmt: skip
    return write_run(tmp_path / name, recs)


def test_report_is_self_contained_and_keeps_model_output_inert(tmp_path: Path) -> None:
    html = render_html(build_report(_evil_run(tmp_path)))
    assert html.count("<script") == 2  # the data block and the page's own script, nothing else
    outside = re.sub(
        r'<script type="application/json" id="harness-data">.*?</script>', "", html, flags=re.S
    )
    assert "__pwned" not in outside  # model output only ever inside the escaped JSON
    assert "<img src=x" not in html and '<a href="javascript' not in html
    assert ("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">") in html  # fmt: skip
    # Offline: nothing is fetched from anywhere.
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "@import" not in html and "url(http" not in html
    # The embedded data round-trips the outputs exactly.
    side = _data(html)["sides"][0]
    assert side["out"] == EVIL and side["rsn"] == EVIL


def test_json_for_script_escapes_what_could_end_the_block() -> None:
    raw = json_for_script({"x": "</script><!-- & -->", "y": [1.5, float("nan")]})
    assert b"<" not in raw and b">" not in raw and b"&" not in raw
    assert orjson.loads(raw) == {"x": "</script><!-- & -->", "y": [1.5, None]}


def test_summary_tables_are_autoescaped(tmp_path: Path) -> None:
    evil_id = '<img src=x onerror="alert(1)">'
    base = write_run(tmp_path / "b", [record(evil_id, True, category="chat"), record("ok", True)])
    cand = write_run(tmp_path / "c", [record(evil_id, False, category="chat"), record("ok", True)])
    html = render_html(build_diff(base, cand))
    assert evil_id not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html  # the regressions list, as text
    assert 'href="#case-%3Cimg%20src%3Dx' in html  # the anchor is URL-encoded


def test_charts_are_inline_svg_images_without_script(tmp_path: Path) -> None:
    html = render_html(build_report(_evil_run(tmp_path)))
    uris = re.findall(r'src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(uris) == 2
    for uri in uris:
        svg = base64.b64decode(uri).decode()
        assert "<svg" in svg and "<script" not in svg
    # Same data, same bytes (fixed hash salt, no date).
    assert uris == re.findall(r'src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"',
                              render_html(build_report(_evil_run(tmp_path, "again"))))  # fmt: skip


def test_truncations_and_unknowns_are_visible(tmp_path: Path) -> None:
    recs = [
        record("cut", False, finish_reason="length"),
        record("nousage", True, usage=None, ttft_s=None),
    ]
    html = render_html(build_report(write_run(tmp_path / "run", recs)))
    assert 'class="card alert"' in html and "finish_reason length" in html
    assert '<span class="badge trunc">length 1</span>' in html
    assert "n/a" in html
    side = _data(html)["sides"][0]
    assert side["ttft"][1] is None and side["ptok"][1] is None  # null, never 0


def test_prompts_come_from_the_suite_when_it_still_matches(tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "golden" / "cases.yaml", make_cases(2))
    c0, c1 = suite.cases
    recs = [record(c0.id, True, case_hash=c0.case_hash), record(c1.id, True, case_hash="stale")]
    html = render_html(
        build_report(write_run(tmp_path / "run", recs, suite_path=str(tmp_path / "golden")))
    )
    data = _data(html)
    assert data["prompts"] == {c0.id: [["user", "Say the code word for item 0."]]}
    assert "1 case(s) changed in the suite" in str(data["promptNote"])
    missing = render_html(
        build_report(write_run(tmp_path / "r2", recs, suite_path=str(tmp_path / "nope")))
    )
    assert _data(missing)["prompts"] == {} and "not found" in str(_data(missing)["promptNote"])


def test_long_outputs_are_clipped_with_a_note(tmp_path: Path) -> None:
    long = "x" * (MAX_TEXT + 500)
    recs = [record("fails", False, content=long), record("passes", True, content=long)]
    side = _data(render_html(build_report(write_run(tmp_path / "run", recs))))["sides"][0]
    assert (
        side["out"][0].startswith("x" * MAX_TEXT)
        and "500 more characters in results.jsonl" in side["out"][0]
    )
    assert len(side["out"][1]) <= MAX_TEXT + 80 and len(side["out"][1]) >= MIN_TEXT


def test_diff_marks_the_differing_words(tmp_path: Path) -> None:
    a = "The refund window is 30 days from delivery."
    b = "The refund window is 14 days from delivery, sorry."
    dels, ins = changed_ranges(a, b)
    assert [a[s:e] for s, e in dels] == ["30 ", "delivery."]
    assert [b[s:e] for s, e in ins] == ["14 ", "delivery, sorry."]
    assert mark_pairs([(0, a, a), (1, a, None), (2, a, b)]) == {2: (dels, ins)}
    assert mark_pairs([(0, a, b)], budget=1) == {}  # over budget: shown unmarked
    base = write_run(tmp_path / "b", [record("r", True, content=a)])
    cand = write_run(tmp_path / "c", [record("r", False, content=b)])
    rows = _data(render_html(build_diff(base, cand)))["rows"]
    assert rows["bm"] == [dels] and rows["cm"] == [ins] and rows["t"] == ["regressed"]


def test_diff_rows_put_regressions_first(tmp_path: Path) -> None:
    base = write_run(tmp_path / "b", [record(f"c{i}", i != 7) for i in range(12)])
    cand = write_run(tmp_path / "c", [record(f"c{i}", i not in (3, 7)) for i in range(12)])
    data = _data(render_html(build_diff(base, cand)))
    rows = data["rows"]
    order = data["order"]
    assert [rows["id"][i] for i in order[:3]] == ["c3", "c7", "c0"]
    assert [rows["id"][i] for i in order][3:6] == ["c1", "c2", "c4"]  # natural order after


def test_writes_are_atomic(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")

    def render_and_fail() -> None:
        with _atomic.atomic_text(target) as f:
            f.write("half")
            raise RuntimeError("renderer failed")

    with pytest.raises(RuntimeError):
        render_and_fail()
    assert target.read_text() == "old" and list(tmp_path.iterdir()) == [target]
    # A bad destination is refused before anything is written.
    rep = build_report(_evil_run(tmp_path))
    (tmp_path / "adir").mkdir()
    with pytest.raises(InputError, match="is a directory"):
        write_report(rep, json=tmp_path / "r.json", csv=tmp_path / "adir")
    assert not (tmp_path / "r.json").exists()


def test_write_all_formats(tmp_path: Path) -> None:
    base, cand = _evil_run(tmp_path, "b"), _evil_run(tmp_path, "c")
    out = tmp_path / "out"
    paths = write_diff(build_diff(base, cand), html=out / "d.html", csv=out / "d.csv", md=out / "d.md",
                       json=out / "d.json")  # fmt: skip
    assert [p.name for p in paths] == ["d.json", "d.csv", "d.html", "d.md"]
    assert all(p.stat().st_size > 0 for p in paths)
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]

"""The HTML report and diff in a real headless chromium (Debian `chromium`), over DevTools.

Checks what only a browser can: the page script runs without console errors, filtering and
sorting change the visible rows, rows expand, the #case-<id> anchors land on their row, 10,000
cases stay fast, and outputs built to run script (`<script>`, `<img onerror>`, `javascript:`
links) are shown as text and execute nothing.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from harness.diff import build_diff, write_diff
from harness.report import build_report, write_report
from tests.render._cdp import Browser, find_chromium
from tests.render._runs import check, record, write_run

pytestmark = pytest.mark.browser

CHROMIUM = find_chromium()
if CHROMIUM is None and os.environ.get("HARNESS_REQUIRE_BROWSER") == "1":
    raise RuntimeError(
        "HARNESS_REQUIRE_BROWSER=1 but chromium is not installed (.ci/run installs it)"
    )
if CHROMIUM is None:  # pragma: no cover - depends on the machine
    pytest.skip(
        "chromium not installed (Debian: apt-get install chromium)", allow_module_level=True
    )

EVIL = {
    "xss-script": "<script>window.__pwned=1</script> the answer",
    "xss-img": '<img src=x onerror="window.__pwned=1"> the answer',
    "xss-link": '[link](javascript:window.__pwned=1) and <a href="javascript:window.__pwned=1">here</a>',
    "xss-close": "</script><script>window.__pwned=1</script><!-- the answer",
}
SCREENSHOT_COPY = Path("/tmp/report_screenshot.png")


def _reworded(text: str) -> str:
    return text.replace("days of delivery", "business days of purchase")


def _runs(tmp_path: Path) -> tuple[Path, Path]:
    base, cand = [], []
    for i in range(120):
        cid = f"case-{i:03d}"
        cat = ("chat", "rag", "extraction")[i % 3]
        text = f"Refunds are accepted within {30 if i % 2 else 14} days of delivery (case {i})."
        pb = i % 10 != 0
        pc = pb and i % 13 != 5
        base.append(
            record(
                cid,
                pb,
                category=cat,
                content=text,
                latency_s=0.2 + i / 100,
                checks=[check("contains", pb, detail="" if pb else "missing 'refund'")],
            )
        )
        cand.append(record(cid, pc, category=cat, content=_reworded(text) if not pc else text,
                           latency_s=0.3 + i / 90, finish_reason="length" if i == 5 else "stop",
                           checks=[check("contains", pc, detail="" if pc else "missing 'days of delivery'")]))  # fmt: skip
    for cid, text in EVIL.items():
        base.append(record(cid, True, category="chat", content="safe", reasoning=text))
        cand.append(record(cid, False, category="chat", content=text, reasoning=text, tags=["critical"],
                           tool_calls=[{"name": "f", "arguments": text}],
                           checks=[check("contains", False, detail=text)]))  # fmt: skip
    return write_run(tmp_path / "base", base), write_run(tmp_path / "cand", cand)


async def _wait(page: Browser, expression: str, limit_s: float = 10.0) -> Any:
    deadline = time.monotonic() + limit_s
    while True:
        value = await page.eval(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expression}")
        await asyncio.sleep(0.05)


ROWS = "document.querySelectorAll('#cases tbody tr.row').length"
COUNT = "document.querySelector('#cases .count').textContent"


async def _search(page: Browser, text: str) -> None:
    await page.eval(
        "(() => { const q = document.querySelector('#cases .filters input');"
        f" q.value = {text!r}; q.dispatchEvent(new Event('input')); }})()"
    )
    await asyncio.sleep(0.35)  # the box waits 120 ms after the last key


async def _select(page: Browser, index: int, value: str) -> None:
    await page.eval(
        f"(() => {{ const s = document.querySelectorAll('#cases .filters select')[{index}];"
        f" s.value = {value!r}; s.dispatchEvent(new Event('change')); }})()"
    )


async def _assert_nothing_ran(page: Browser) -> None:
    assert await page.eval("typeof window.__pwned") == "undefined"
    assert (
        await page.eval(
            "document.querySelectorAll('#cases img, #cases iframe, #cases script').length"
        )
        == 0
    )
    assert await page.eval("document.querySelectorAll('a[href^=\"javascript\"]').length") == 0


def test_report_page(tmp_path: Path) -> None:
    base, _ = _runs(tmp_path)
    html = tmp_path / "report.html"
    write_report(build_report(base), html=html)

    async def go() -> None:
        async with Browser(CHROMIUM, tmp_path / "profile") as page:  # type: ignore[arg-type]
            await page.navigate(html.as_uri())
            await _wait(page, "document.getElementById('cases').dataset.ready === '1'")
            assert await page.eval(ROWS) == 50  # one page, not 124 rows
            assert await page.eval(COUNT) == "124 of 124 rows"
            # Filters: text, category, status, failed check.
            await _search(page, "case-01")
            assert await page.eval(ROWS) == 10
            await _search(page, "")
            await _select(page, 0, "rag")
            assert await page.eval(COUNT) == "40 of 124 rows"
            await _select(page, 1, "fail")
            assert await page.eval(COUNT) == "4 of 124 rows"  # case-000, 030, 060, 090
            await _select(page, 0, "")
            await _select(page, 1, "")
            await _select(page, 2, "contains")
            assert await page.eval(COUNT) == "12 of 124 rows"
            await _select(page, 2, "")
            # Sort by latency, descending: the slowest first.
            await page.eval("document.querySelector('#cases th[data-key=\"lat\"]').click()")
            await page.eval("document.querySelector('#cases th[data-key=\"lat\"]').click()")
            assert (
                await page.eval("document.querySelector('#cases tbody tr.row td').textContent")
                == "case-119"
            )
            # Expand every hostile row: shown as text, nothing runs.
            await _search(page, "xss")
            assert await page.eval(ROWS) == 4
            await page.eval(
                "document.querySelectorAll('#cases tbody tr.row').forEach(r => r.click())"
            )
            assert await page.eval("document.querySelectorAll('#cases tr.detail-row').length") == 4
            text = await page.eval("document.getElementById('cases').innerText")
            for payload in EVIL.values():
                assert payload in text
            await _assert_nothing_ran(page)
            (tmp_path / "report.png").write_bytes(await page.screenshot())
            assert page.problems() == []

    asyncio.run(go())


def test_diff_page_side_by_side_and_anchor(tmp_path: Path) -> None:
    base, cand = _runs(tmp_path)
    html = tmp_path / "diff.html"
    write_diff(build_diff(base, cand), html=html)

    async def go() -> None:
        async with Browser(CHROMIUM, tmp_path / "profile") as page:  # type: ignore[arg-type]
            await page.navigate(html.as_uri() + "#case-case-083")
            await _wait(page, "document.getElementById('cases').dataset.ready === '1'")
            # The anchor opened the table at the case and expanded it.
            assert (
                await page.eval(
                    "document.getElementById('case-case-083').getAttribute('aria-expanded')"
                )
                == "true"
            )
            detail = await page.eval("document.querySelector('#cases tr.detail-row').innerText")
            assert "Base" in detail and "Candidate" in detail and "business days" in detail
            assert (
                await page.eval("document.querySelectorAll('#cases tr.detail-row mark.ins').length")
                >= 1
            )
            assert (
                await page.eval("document.querySelectorAll('#cases tr.detail-row mark.del').length")
                >= 1
            )
            # Regressions come first by default.
            await page.navigate(html.as_uri())
            await _wait(page, "document.getElementById('cases').dataset.ready === '1'")
            first = await page.eval(
                "document.querySelector('#cases tbody tr.row td:nth-child(3)').innerText"
            )
            assert first.startswith("regressed")
            await _select(page, 1, "regressed")
            regressed = await page.eval(COUNT)
            expected = sum(1 for i in range(120) if i % 10 != 0 and i % 13 == 5) + len(EVIL)
            assert regressed == f"{expected} of 124 rows"
            await _search(page, "xss")
            await page.eval(
                "document.querySelectorAll('#cases tbody tr.row').forEach(r => r.click())"
            )
            text = await page.eval("document.getElementById('cases').innerText")
            for payload in EVIL.values():
                assert payload in text
            await _assert_nothing_ran(page)
            await _search(page, "")
            await _select(page, 1, "")
            await page.eval("document.querySelector('#cases tbody tr.row').click()")
            await page.eval("document.getElementById('cases-title').scrollIntoView()")
            shot = tmp_path / "diff.png"
            shot.write_bytes(await page.screenshot())
            shutil.copyfile(shot, SCREENSHOT_COPY)
            assert page.problems() == []

    asyncio.run(go())


def test_ten_thousand_cases_stay_responsive(tmp_path: Path) -> None:
    recs = [
        record(f"c{i:05d}", i % 9 != 0, category=("chat", "rag", "coding", "extraction", "tool_use")[i % 5],
               content=f"answer number {i} " + "lorem ipsum dolor sit amet " * 20, latency_s=0.1 + (i % 97) / 50)
        for i in range(10_000)
    ]  # fmt: skip
    html = tmp_path / "big.html"
    t0 = time.perf_counter()
    write_report(build_report(write_run(tmp_path / "run", recs)), html=html)
    assert time.perf_counter() - t0 < 20

    async def go() -> None:
        async with Browser(CHROMIUM, tmp_path / "profile") as page:  # type: ignore[arg-type]
            t = time.perf_counter()
            await page.navigate(html.as_uri() + "#case-c09998")
            await _wait(page, "document.getElementById('cases').dataset.ready === '1'")
            assert time.perf_counter() - t < 10
            assert await page.eval(ROWS) == 50  # one page of rows, never 10,000
            assert (
                await page.eval(
                    "document.getElementById('case-c09998').getAttribute('aria-expanded')"
                )
                == "true"
            )
            took = await page.eval(
                "(() => { const t = performance.now(); const q = document.querySelector('#cases .filters input');"
                " q.value = 'number 4242 '; q.dispatchEvent(new Event('input'));"
                " return new Promise(r => setTimeout(() => r(performance.now() - t), 200)); })()"
            )
            assert await page.eval(COUNT) == "1 of 10,000 rows"
            assert took < 1500
            assert page.problems() == []

    asyncio.run(go())

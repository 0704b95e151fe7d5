"""The shipped golden set: valid, big enough, covering what issue 4 promises, and able to fail.

These tests guard the set users copy: every case has a reference, tags and checks; the RAG
contexts are verbatim copies of the corpus; the README's counts are the real ones; and
`harness selftest` proves every reference passes its own checks while an empty answer fails.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from harness.golden import Case, Suite, load_suite
from harness.selftest import selftest

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "golden"
CORPUS = GOLDEN / "corpora" / "kestrel_help.jsonl"
MINIMUMS = {"chat": 30, "extraction": 35, "coding": 30, "rag": 30, "tool_use": 35}


@pytest.fixture(scope="module")
def suite() -> Suite:
    return load_suite(GOLDEN)


def _corpus() -> dict[str, dict[str, Any]]:
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]
    return {row["id"]: row for row in rows}


def _types(case: Case) -> list[str]:
    return [str(spec["type"]) for spec in case.checks]


def test_counts_meet_the_minimums(suite: Suite) -> None:
    counts = Counter(str(c.category) for c in suite)
    for category, minimum in MINIMUMS.items():
        assert counts[category] >= minimum, (category, counts[category])
    assert len(suite) >= 160


def test_one_file_per_category(suite: Suite) -> None:
    files = {Path(c.source[0]).name: c.category for c in suite}
    for category in MINIMUMS:
        assert {f for f, cat in files.items() if cat == category} == {f"{category}.yaml"}


def test_every_case_has_reference_tags_and_checks(suite: Suite) -> None:
    ids = [c.id for c in suite]
    assert len(ids) == len(set(ids))
    for case in suite:
        ref = case.reference
        assert ref is not None and (ref.content or ref.tool_calls), case.id
        assert case.tags, case.id
        assert case.checks, case.id
        assert "rubric" not in _types(case), f"{case.id}: the shipped set must run offline"


def test_readme_counts_are_the_real_ones(suite: Suite) -> None:
    readme = (GOLDEN / "README.md").read_text(encoding="utf-8")
    counts = Counter(c.category for c in suite)
    for category, n in counts.items():
        assert re.search(rf"\|\s*`?{category}`?\s*\|\s*{n}\s*\|", readme), (category, n)
    assert re.search(rf"\|\s*\*\*total\*\*\s*\|\s*\*\*{len(suite)}\*\*\s*\|", readme)


def test_corpus_has_40_to_100_unique_chunks() -> None:
    lines = [line for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]
    rows = [json.loads(line) for line in lines]
    assert 40 <= len(rows) <= 100
    assert len({r["id"] for r in rows}) == len(rows)
    assert all(set(r) == {"id", "text", "source"} and r["text"] and r["source"] for r in rows)


def test_rag_contexts_are_verbatim_corpus_chunks(suite: Suite) -> None:
    corpus = _corpus()
    for case in suite.select(categories=["rag"]):
        assert case.context, case.id
        for chunk in case.context:
            assert chunk.id in corpus, f"{case.id}: chunk {chunk.id} is not in the corpus"
            want = corpus[chunk.id]
            assert (chunk.text, chunk.source) == (want["text"], want["source"]), (
                f"{case.id}: chunk {chunk.id} differs from {CORPUS.name}; copy it again"
            )


def test_rag_references_cite_their_context_or_abstain(suite: Suite) -> None:
    for case in suite.select(categories=["rag"]):
        assert case.reference is not None and case.reference.content is not None
        cited = set(re.findall(r"\[([a-z]+\d+)\]", case.reference.content))
        ids = {c.id for c in case.context or []}
        if "abstain" in _types(case):
            assert not cited, case.id
        else:
            assert cited and cited <= ids, case.id
            assert "citations" in _types(case), case.id
    rag = suite.select(categories=["rag"])
    assert sum("abstain" in _types(c) for c in rag) >= 5
    assert len(suite.select(tags=["policy-version"])) >= 2
    assert any(len(c.context or []) >= 20 for c in rag), "a long-context RAG case"


def test_schemas_are_valid_and_used(suite: Suite) -> None:
    used = {
        spec["schema"]
        for c in suite
        for spec in c.checks
        if spec["type"] == "json_schema" and isinstance(spec["schema"], str)
    }
    files = sorted((GOLDEN / "schemas").glob("*.json"))
    assert {f.name for f in files} == used
    for f in files:
        Draft202012Validator.check_schema(json.loads(f.read_text(encoding="utf-8")))
    product = json.loads((GOLDEN / "schemas" / "product.schema.json").read_text(encoding="utf-8"))
    assert {"product_name", "price", "currency", "availability", "key_features"} <= set(
        product["required"]
    )
    assert product["properties"]["availability"]["enum"]


def test_extraction_validates_shape_and_values(suite: Suite) -> None:
    for case in suite.select(categories=["extraction"]):
        types = _types(case)
        assert "json_schema" in types and "json_match" in types, case.id
    assert (
        sum(c.params.response_format is not None for c in suite.select(categories=["extraction"]))
        >= 10
    )
    assert len(suite.select(tags=["null-field"])) >= 5
    assert len(suite.select(tags=["trap"])) >= 4


def test_coding_references_are_fenced_and_executed(suite: Suite) -> None:
    coding = suite.select(categories=["coding"])
    for case in coding:
        assert case.reference is not None and case.reference.content is not None
        types = _types(case)
        assert "code_tests" in types or "sql_tests" in types, case.id
        fence = "```sql" if "sql_tests" in types else "```python"
        assert fence in case.reference.content, case.id
    assert sum("sql_tests" in _types(c) for c in coding) >= 3
    for tag in ("regex", "refactor", "traceback"):
        assert suite.select(categories=["coding"], tags=[tag]).cases, tag


def test_tool_use_covers_calls_parallel_second_turn_and_no_call(suite: Suite) -> None:
    tool = suite.select(categories=["tool_use"])
    names = {t.function.name for c in tool for t in c.tools or []}
    assert {
        "get_weather",
        "search_knowledge_base",
        "create_ticket",
        "create_calendar_event",
        "convert_currency",
        "lookup_order",
    } <= names
    parallel = [c for c in tool if len((c.reference.tool_calls or []) if c.reference else []) > 1]
    second_turn = [c for c in tool if any(m.role == "tool" for m in c.messages)]
    no_call = [c for c in tool if "no_call" in _types(c)]
    assert len(parallel) >= 4 and len(second_turn) >= 4 and len(no_call) >= 5
    for case in no_call:
        # An empty answer makes no call, so a no_call case also needs a check on the text.
        assert len(_types(case)) >= 2, case.id
    for case in tool:
        for spec in case.checks:
            if spec["type"] == "tool_call":
                assert case.tools, case.id


def test_chat_languages_thinking_truncation_and_critical(suite: Suite) -> None:
    languages = {
        str(spec["expected"]).split("-")[0]
        for c in suite
        for spec in c.checks
        if spec["type"] == "language"
    }
    assert {"zh", "ja", "es", "ar"} <= languages and len(languages) >= 8
    thinking = [
        (c.params.extra_body or {}).get("enable_thinking") for c in suite if c.params.extra_body
    ]
    assert thinking.count(True) >= 3 and thinking.count(False) >= 3
    tight = [c for c in suite if c.params.max_tokens is not None]
    assert len(tight) >= 4
    for case in tight:
        assert "finish_reason" in _types(case), case.id
    critical = suite.select(tags=["critical"])
    assert 5 <= len(critical) <= 12
    assert {c.category for c in critical} == set(MINIMUMS)


def test_selftest_every_reference_passes_and_no_empty_answer_does() -> None:
    result = selftest(GOLDEN)
    assert result.ok, "\n".join(result.lines())
    assert result.cases >= 160 and not result.unchecked

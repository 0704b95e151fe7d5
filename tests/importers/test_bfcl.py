"""`harness import bfcl`: BFCL's single-turn categories from the installed `bfcl-eval` data."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from harness.errors import InputError
from harness.golden import load_suite
from harness.importers import import_source
from harness.importers._bfcl import reference_calls, to_schema, to_tool
from harness.selftest import selftest

FOUR = ["simple", "multiple", "parallel", "parallel_multiple"]


def _import(out: Path, categories: list[str], limit: int | None = None) -> list[tuple[Path, int]]:
    return import_source("bfcl", path=None, categories=categories, spec=None, out=out, limit=limit)


def test_four_categories_import_and_load(tmp_path: Path) -> None:
    written = _import(tmp_path, FOUR)
    assert [(p.name, n) for p, n in written] == [
        ("bfcl_simple_python.jsonl", 400),
        ("bfcl_multiple.jsonl", 200),
        ("bfcl_parallel.jsonl", 200),
        ("bfcl_parallel_multiple.jsonl", 200),
    ]
    suite = load_suite(tmp_path)
    assert len(suite) == 1000
    case = suite.by_id()["bfcl-simple_python_1"]
    assert case.tools is not None and case.tools[0].function.name == "math_factorial"
    assert case.checks == [
        {"type": "tool_call", "calls": [{"name": "math_factorial", "arguments": {"number": [5]}}]}
    ]
    assert case.reference is not None and case.reference.tool_calls is not None
    assert case.reference.tool_calls[0].model_dump() == {
        "name": "math_factorial",
        "arguments": {"number": 5},
    }
    parallel = suite.by_id()["bfcl-parallel_multiple_0"]
    assert parallel.reference is not None and len(parallel.reference.tool_calls or []) == 2


def test_selftest_on_imported_categories(tmp_path: Path) -> None:
    _import(tmp_path, [*FOUR, "live_simple", "irrelevance"], limit=30)
    result = selftest(tmp_path)
    assert result.ok, "\n".join(result.lines()[-20:])
    assert result.cases == 180 and not result.empty_passes


def test_types_map_to_json_schema() -> None:
    bfcl = {
        "type": "dict",
        "properties": {
            "ratio": {"type": "float", "description": "x"},
            "point": {"type": "tuple", "items": {"type": "float"}},
            "value": {"type": "any", "description": "anything"},
            "opts": {"type": "dict", "properties": {"deep": {"type": "boolean"}, "n": {}}},
            "rows": {
                "type": "array",
                "items": {"type": "dict", "properties": {"k": {"type": "string"}}},
            },
            "odd": {"type": "HashMap"},
        },
        "required": ["ratio"],
    }
    out = to_schema(bfcl)
    assert out["type"] == "object" and out["required"] == ["ratio"]
    props = out["properties"]
    assert props["ratio"] == {"type": "number", "description": "x"}
    assert props["point"] == {"type": "array", "items": {"type": "number"}}
    assert props["value"] == {"description": "anything"}
    assert props["opts"]["properties"] == {"deep": {"type": "boolean"}, "n": {"type": "string"}}
    assert props["rows"]["items"]["type"] == "object"
    assert props["odd"] == {"type": "string"}  # unknown names become string, as BFCL sends them
    Draft202012Validator.check_schema(out)
    tool = to_tool({"name": "math.hypot", "description": "d", "parameters": bfcl})
    assert (
        tool["function"]["name"] == "math_hypot"
        and tool["function"]["parameters"]["type"] == "object"
    )


def test_reference_takes_the_first_allowed_value() -> None:
    tools = [
        to_tool(
            {
                "name": "f.g",
                "parameters": {
                    "type": "dict",
                    "properties": {
                        "a": {"type": "integer"},
                        "b": {"type": "string"},
                        "c": {"type": "dict"},
                        "d": {"type": "array"},
                    },
                },
            }
        )
    ]
    truth = [
        {
            "f.g": {
                "a": ["", 3],
                "b": [""],
                "c": [{"x": ["", 1], "y": ["only"], "z": [""]}],
                "d": [[1, 2]],
                "other_functions_param": ["", 0.1],
            }
        }
    ]
    assert reference_calls(truth, tools) == [
        {"name": "f_g", "arguments": {"a": 3, "c": {"x": 1, "y": "only"}, "d": [1, 2]}}
    ]


def test_inconsistent_ground_truth_rows_are_skipped_and_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="harness.importers"):
        written = _import(tmp_path, ["live_simple"], limit=120)
    assert written == [(tmp_path / "bfcl_live_simple.jsonl", 120)]
    for row in ("live_simple_106-63-0", "live_simple_112-68-0"):
        assert f"bfcl {row}: skipped: check 'tool_call': call 1 record: argument " in caplog.text
    assert "the list of allowed values is empty, so no call can match" in caplog.text


@pytest.mark.slow
def test_every_inconsistent_live_row_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The full live categories (~2,200 rows, ~20 s): the rows docs/import.md lists, no others."""
    with caplog.at_level(logging.WARNING, logger="harness.importers"):
        written = _import(tmp_path, ["live_simple", "live_multiple", "live_irrelevance"])
    counts = {p.name: n for p, n in written}
    assert counts == {
        "bfcl_live_simple.jsonl": 256,
        "bfcl_live_multiple.jsonl": 1050,
        "bfcl_live_irrelevance.jsonl": 884,
    }
    skipped = [
        ("live_simple_106-63-0", "the list of allowed values is empty"),
        ("live_simple_112-68-0", "the list of allowed values is empty"),
        ("live_multiple_507-149-4", "required parameter 'origin_airport' may only be omitted"),
        ("live_multiple_862-181-3", "'journey_start_time' is not a parameter of the tool"),
        ("live_multiple_964-207-0", "'question' is not a parameter of the tool"),
    ]
    contradictions = [
        "live_simple_29-7-2 and live_irrelevance_118-7-8",
        "live_multiple_262-125-1 and live_irrelevance_565-173-0",
        "live_simple_176-102-0 and live_irrelevance_567-175-0",
    ]
    for row, why in skipped:
        assert any(r.getMessage().startswith(f"bfcl {row}: skipped: ") and why in r.getMessage()
                   for r in caplog.records), row  # fmt: skip
    for pair in contradictions:
        assert f"bfcl {pair}: the same question with the same tools" in caplog.text
    assert len(caplog.records) == len(skipped) + len(contradictions)


def test_irrelevance_cases_expect_no_call_and_some_text(tmp_path: Path) -> None:
    _import(tmp_path, ["irrelevance"], limit=3)
    case = load_suite(tmp_path).cases[0]
    assert [c["type"] for c in case.checks] == ["no_call", "length"]
    assert case.reference is not None and case.reference.content


def test_categories_unsupported_unknown_and_alias(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="'simple_java' is not supported: its answers are Java"):
        _import(tmp_path, ["simple_java"])
    with pytest.raises(InputError, match="is not supported: it is multi-turn"):
        _import(tmp_path, ["multi_turn_base"])
    with pytest.raises(InputError, match=r"unknown bfcl category 'simpel' \(known: simple_python"):
        _import(tmp_path, ["simpel"])
    written = _import(tmp_path / "a", ["simple", "simple_python"], limit=2)
    assert [(p.name, n) for p, n in written] == [("bfcl_simple_python.jsonl", 2)]
    with pytest.raises(InputError, match="takes --category, not a PATH"):
        import_source("bfcl", path="x.json", categories=[], spec=None, out=tmp_path, limit=None)


def test_missing_package_names_the_no_deps_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "bfcl_eval", None)
    with pytest.raises(InputError) as info:
        _import(tmp_path / "o", FOUR)
    (line,) = info.value.lines()
    assert "'bfcl_eval' is not installed" in line and "pip install --no-deps bfcl-eval" in line
    assert not (tmp_path / "o").exists()

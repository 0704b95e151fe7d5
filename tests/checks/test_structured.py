"""Structured-output checks: finding the JSON, schemas with paths, subset matching."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import harness.checks.structured  # noqa: F401  (registers the structured checks)
from harness.checks._json_extract import Found, NotFound, find_json
from harness.errors import InputError
from harness.golden import case_from_dict
from tests.checks._helpers import make_case, verdict, verdicts

INVOICE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["invoice_number", "date", "line_items", "total"],
    "additionalProperties": False,
    "properties": {
        "invoice_number": {"type": "string", "pattern": "^INV-[0-9]+$"},
        "date": {"type": "string", "format": "date"},
        "currency": {"enum": ["USD", "EUR", "CNY"]},
        "line_items": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["description", "quantity", "price"],
                "properties": {
                    "description": {"type": "string"},
                    "quantity": {"type": "integer", "minimum": 1},
                    "price": {"type": "number", "minimum": 0},
                },
            },
        },
        "total": {"type": "number"},
    },
}

GOOD_INVOICE = {
    "invoice_number": "INV-1042",
    "date": "2024-03-15",
    "currency": "USD",
    "line_items": [
        {"description": "Widget", "quantity": 2, "price": 10.5},
        {"description": "Gadget", "quantity": 1, "price": 99},
        {"description": "Cable", "quantity": 3, "price": 4},
    ],
    "total": 132.0,
}


def _fenced(obj: Any, before: str = "Here is the JSON:", after: str = "Let me know!") -> str:
    return f"{before}\n```json\n{json.dumps(obj, indent=2)}\n```\n{after}"


# --------------------------------------------------------------------------- finding the JSON


def test_json_in_a_fenced_block_with_prose_around() -> None:
    found = find_json(_fenced({"a": 1}))
    assert isinstance(found, Found)
    assert found.value == {"a": 1}
    assert found.where == "a ```json block"


def test_json_in_prose_prefers_the_longest_value_over_a_citation() -> None:
    found = find_json('According to [1], the record is {"name": "Ada", "tags": ["x]"]}. Done.')
    assert isinstance(found, Found)
    assert found.value == {"name": "Ada", "tags": ["x]"]}


def test_broken_json_is_not_rescued_by_an_inner_object() -> None:
    found = find_json('Result: {"a": 1, "b": {"c": 2}, oops}')
    assert isinstance(found, NotFound)
    assert "the longest {...} or [...] in the text, at line 1 column 9, is not valid JSON" in (
        found.detail
    )
    broken_fence = find_json('```json\n{"a": 1,}\n```\nor maybe {"a": 1}')
    assert isinstance(broken_fence, NotFound)
    assert "trailing comma" in broken_fence.detail


def test_json_valid_detail_says_where_it_looked() -> None:
    r = verdict({"type": "json_valid"}, "I could not produce the data.")
    assert not r.passed
    assert r.detail == (
        "no valid JSON: the whole answer is not JSON (it starts with 'I could not produce the "
        "data.'); no ```json block; no balanced {...} or [...] in the text"
    )
    assert verdict({"type": "json_valid"}, "[1, 2, 3]").passed
    assert not verdict({"type": "json_valid"}, "").passed
    assert not verdict({"type": "json_valid"}, '{"a": NaN}').passed


def test_json_valid_strict_wants_the_whole_answer() -> None:
    r = verdict({"type": "json_valid", "strict": True}, _fenced({"a": 1}))
    assert not r.passed
    assert "strict: true" in r.detail
    assert verdict({"type": "json_valid", "strict": True}, ' {"a": 1}\n').passed


# --------------------------------------------------------------------------- json_schema


def test_json_schema_inline_passes_a_good_invoice() -> None:
    r = verdict({"type": "json_schema", "schema": INVOICE_SCHEMA}, _fenced(GOOD_INVOICE))
    assert r.passed, r.detail


def test_json_schema_lists_every_violation_with_its_path() -> None:
    bad = json.loads(json.dumps(GOOD_INVOICE))
    bad["line_items"][2]["price"] = -3
    bad["line_items"][0]["quantity"] = "2"
    bad["date"] = "15/03/2024"
    bad["note"] = "extra"
    del bad["total"]
    r = verdict({"type": "json_schema", "schema": INVOICE_SCHEMA}, json.dumps(bad))
    assert not r.passed
    assert r.detail.startswith("5 violations of inline schema: ")
    assert "$.line_items[2].price: -3 is less than the minimum of 0" in r.detail
    assert "$.line_items[0].quantity: '2' is not of type 'integer'" in r.detail
    assert "$.date: '15/03/2024' is not a 'date'" in r.detail
    assert "'total' is a required property" in r.detail
    assert "'note' was unexpected" in r.detail
    assert r.data is not None
    assert len(r.data["violations"]) == 5


def test_json_schema_formats_can_be_annotations_only() -> None:
    doc = dict(GOOD_INVOICE, date="not a date")
    assert not verdict({"type": "json_schema", "schema": INVOICE_SCHEMA}, json.dumps(doc)).passed
    check = {"type": "json_schema", "schema": INVOICE_SCHEMA, "formats": False}
    assert verdict(check, json.dumps(doc)).passed


def test_json_schema_from_a_file_under_schemas(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    schema_file = tmp_path / "schemas" / "invoice.json"
    schema_file.write_text(json.dumps(INVOICE_SCHEMA))
    raw = {
        "id": "inv",
        "category": "extraction",
        "messages": [{"role": "user", "content": "extract"}],
        "checks": [{"type": "json_schema", "schema": "invoice.json"}],
    }
    case = case_from_dict(raw, golden_root=tmp_path)
    [ok] = verdicts(case, _fenced(GOOD_INVOICE))
    assert ok.passed
    [bad] = verdicts(case, json.dumps(dict(GOOD_INVOICE, total="132")))
    assert (
        bad.detail == "1 violation of schema 'invoice.json': $.total: '132' is not of type 'number'"
    )
    # The file's content is part of the case hash: editing the schema changes the case.
    before = case.case_hash
    schema_file.write_text(json.dumps({**INVOICE_SCHEMA, "minProperties": 2}))
    assert case_from_dict(raw, golden_root=tmp_path).case_hash != before


def test_json_schema_bad_schema_or_missing_file_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(
        InputError, match=r"check 'json_schema': .*inline schema is invalid: .*type"
    ):
        make_case([{"type": "json_schema", "schema": {"type": "objekt"}}])
    with pytest.raises(InputError, match=r"check 'json_schema': file 'nope.json' not found"):
        case_from_dict(
            {
                "id": "x",
                "category": "extraction",
                "messages": [{"role": "user", "content": "x"}],
                "checks": [{"type": "json_schema", "schema": "nope.json"}],
            },
            golden_root=tmp_path,
        )


def test_json_schema_any_of_names_the_closest_branch() -> None:
    schema = {
        "anyOf": [
            {"type": "object", "required": ["id"]},
            {"type": "array"},
        ]
    }
    r = verdict({"type": "json_schema", "schema": schema}, '{"name": "x"}')
    assert not r.passed
    assert "closest:" in r.detail
    assert "'id' is a required property" in r.detail


# --------------------------------------------------------------------------- json_match


def test_json_match_subset_ignores_extra_keys() -> None:
    check = {"type": "json_match", "expected": {"name": "Acme", "total": 132}}
    assert verdict(check, _fenced({"name": "Acme", "total": 132.0, "extra": True})).passed


def test_json_match_lists_each_mismatch_and_scores_partially() -> None:
    check = {
        "type": "json_match",
        "expected": {"name": "ACME", "total": 132.0, "paid": False, "address": {"city": "Oslo"}},
    }
    answer = json.dumps({"name": "Acme Corp", "total": 132, "paid": 0, "address": {}})
    r = verdict(check, answer)
    assert not r.passed
    assert r.score == pytest.approx(1 / 4)
    assert r.detail == (
        '3 of 4 fields differ: $.name: expected "ACME", got "Acme Corp"; '
        "$.paid: expected false, got a number 0; "
        '$.address.city: missing (expected "Oslo")'
    )


def test_json_match_normalisation_and_tolerance() -> None:
    check = {
        "type": "json_match",
        "expected": {"name": "acme", "city": "Oslo", "total": 10.0},
        "numeric_tolerance": 0.01,
        "fields": {"name": {"ignore_case": True}},
    }
    assert verdict(check, '{"name": " ACME ", "city": "Oslo", "total": 10.004}').passed
    r = verdict(check, '{"name": "acme", "city": "oslo", "total": 10.02}')
    assert not r.passed
    assert '$.city: expected "Oslo", got "oslo"' in r.detail
    assert "$.total: expected 10, got 10.02 (tolerance 0.01)" in r.detail


def test_json_match_unordered_lists_use_a_true_matching() -> None:
    # Expected items are subsets. First-fit gives expected[0] ({sku: A}) the first actual item
    # it fits, {sku: A, qty: 2}, and then expected[1] ({sku: A, qty: 2}) has only qty 1 left.
    # The optimal assignment pairs expected[0] with the second item and matches everything.
    expected = {"items": [{"sku": "A"}, {"sku": "A", "qty": 2}]}
    answer = json.dumps({"items": [{"sku": "A", "qty": 2}, {"sku": "A", "qty": 1}]})
    r = verdict({"type": "json_match", "expected": expected}, answer)
    assert not r.passed
    assert r.detail == "1 of 3 fields differ: $.items[1].qty: expected 2, got 1"
    check = {"type": "json_match", "expected": expected, "unordered_lists": ["items"]}
    assert verdict(check, answer).passed
    check_all: dict[str, object] = {
        "type": "json_match",
        "expected": {"tags": ["b", "a"]},
        "unordered": True,
    }
    assert verdict(check_all, '{"tags": ["a", "b"]}').passed


def test_json_match_nested_wildcard_paths() -> None:
    expected = {"rows": [{"codes": [1, 2]}, {"codes": [3]}]}
    answer = '{"rows": [{"codes": [2, 1]}, {"codes": [3]}]}'
    check = {"type": "json_match", "expected": expected, "unordered_lists": ["$.rows[*].codes"]}
    assert verdict(check, answer).passed


def test_json_match_extra_list_items() -> None:
    check = {"type": "json_match", "expected": {"tags": ["a"]}}
    r = verdict(check, '{"tags": ["a", "b"]}')
    assert not r.passed
    assert "$.tags: expected 1 items, got 2 (1 extra)" in r.detail
    assert r.score == pytest.approx(0.5)
    loose = {**check, "allow_extra_items": True}
    assert verdict(loose, '{"tags": ["a", "b"]}').passed


def test_json_match_bool_is_not_a_number() -> None:
    r = verdict({"type": "json_match", "expected": {"n": 1}}, '{"n": true}')
    assert not r.passed
    assert "$.n: expected 1, got a boolean true" in r.detail


def test_json_match_negative_tolerance_is_a_load_error() -> None:
    with pytest.raises(InputError, match=r"check 'json_match': argument 'numeric_tolerance'"):
        make_case([{"type": "json_match", "expected": {}, "numeric_tolerance": -1}])

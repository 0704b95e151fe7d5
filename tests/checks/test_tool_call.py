"""tool_call / no_call / tool_args_schema: BFCL semantics and the edge cases a careless matcher
gets wrong (first-fit pairing, 10.0 for an integer, dotted names, calls left in the text)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest

import harness.checks.tool_call  # noqa: F401  (registers the checks)
from harness.checks._base import CheckContext, CheckResult
from harness.checks._bfcl import Actual, Expected, match_call, pair_calls, standardize
from harness.checks._score import score_output
from harness.errors import InputError
from harness.golden import Case, case_from_dict, load_suite
from harness.records import Output, ToolCall

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer"},
                "threshold": {"type": "number"},
            },
            "required": ["city"],
        },
    },
}
STOCK = {
    "type": "function",
    "function": {
        "name": "get_stock_price",
        "parameters": {
            "type": "object",
            "properties": {"company": {"type": "string"}, "date": {"type": "string"}},
            "required": ["company", "date"],
        },
    },
}
FACTORIAL = {
    "type": "function",
    "function": {
        "name": "math.factorial",
        "parameters": {
            "type": "object",
            "properties": {"number": {"type": "integer"}},
            "required": ["number"],
        },
    },
}
SEARCH = {
    "type": "function",
    "function": {
        "name": "search_products",
        "parameters": {
            "type": "object",
            "properties": {
                "filters": {
                    "type": "object",
                    "properties": {
                        "min_price": {"type": "number"},
                        "max_price": {"type": "number"},
                        "tags": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "sort": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"field": {"type": "string"}, "desc": {"type": "boolean"}},
                    },
                },
                "weights": {"type": "array", "items": {"type": "number"}},
            },
            "required": ["filters"],
        },
    },
}


def data(result: Any) -> dict[str, Any]:
    """The check's `data`, which every verdict of these checks carries."""
    assert result.data is not None
    return dict(result.data)


def make_case(check: dict[str, Any], tools: list[dict[str, Any]] | None = None) -> Case:
    raw: dict[str, Any] = {
        "id": "t",
        "category": "tool_use",
        "messages": [{"role": "user", "content": "go"}],
        "checks": [check],
    }
    if tools is not None:
        raw["tools"] = tools
    return case_from_dict(raw)


def call(name: str, args: Any) -> ToolCall:
    raw = args if isinstance(args, str) else orjson.dumps(args).decode()
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        parsed = None
    return ToolCall(id="c", name=name, arguments=raw, parsed=parsed)


def run(case: Case, calls: list[ToolCall] | None = None, content: str | None = None) -> CheckResult:
    ctx = CheckContext(case=case, output=Output(content=content, tool_calls=calls or []))
    result = case.bound_checks[0].check(ctx)
    assert isinstance(result, CheckResult)
    return result


def weather_case(**arguments: list[Any]) -> Case:
    spec = {"type": "tool_call", "calls": [{"name": "get_weather", "arguments": arguments}]}
    return make_case(spec, [WEATHER])


def test_exact_call_passes() -> None:
    case = weather_case(city=["Paris"], unit=["celsius", ""])
    r = run(case, [call("get_weather", {"city": "Paris", "unit": "celsius"})])
    assert r.passed, r.detail
    assert r.final_score() == 1.0
    assert data(r)["matched"] == 1


def test_value_error_names_call_argument_and_allowed_values() -> None:
    case = weather_case(city=["Paris"], unit=["celsius", "fahrenheit"])
    r = run(case, [call("get_weather", {"city": "Paris", "unit": "kelvin"})])
    assert not r.passed
    assert data(r)["label"] == "value_error"
    assert r.detail == (
        "call 1 get_weather: argument 'unit': 'kelvin' not among allowed ['celsius', 'fahrenheit']"
    )


def test_float_for_integer_is_a_type_error_like_bfcl() -> None:
    case = weather_case(city=["Paris"], days=[10])
    r = run(case, [call("get_weather", {"city": "Paris", "days": 10.0})])
    assert not r.passed
    assert data(r)["label"] == "type_error"
    assert "argument 'days': expected integer, got number 10.0" in r.detail
    assert run(case, [call("get_weather", {"city": "Paris", "days": 10})]).passed


def test_int_for_float_is_accepted() -> None:
    case = weather_case(city=["Paris"], threshold=[3.0, 2.5])
    assert run(case, [call("get_weather", {"city": "Paris", "threshold": 3})]).passed
    r = run(case, [call("get_weather", {"city": "Paris", "threshold": 4})])
    assert data(r)["label"] == "value_error"


def test_bool_is_not_an_integer() -> None:
    case = weather_case(city=["Paris"], days=[1])
    r = run(case, [call("get_weather", {"city": "Paris", "days": True})])
    assert data(r)["label"] == "type_error"


def test_optional_argument_may_be_omitted_only_when_empty_string_is_allowed() -> None:
    case = weather_case(city=["Paris"], unit=["celsius", ""])
    assert run(case, [call("get_weather", {"city": "Paris"})]).passed
    strict = weather_case(city=["Paris"], unit=["celsius"])
    r = run(strict, [call("get_weather", {"city": "Paris"})])
    assert data(r)["label"] == "missing_required"
    assert "'unit'" in r.detail


def test_missing_required_parameter_from_the_schema() -> None:
    case = weather_case(city=["Paris", ""], unit=["celsius", ""])
    r = run(case, [call("get_weather", {"unit": "celsius"})])
    assert data(r)["label"] == "missing_required"
    assert "missing required argument 'city'" in r.detail


def test_unexpected_parameter() -> None:
    case = weather_case(city=["Paris"])
    r = run(case, [call("get_weather", {"city": "Paris", "days": 3})])
    assert data(r)["label"] == "unexpected_param"
    assert "'days' (not in the expected call)" in r.detail
    r = run(case, [call("get_weather", {"city": "Paris", "country": "FR"})])
    assert "'country' (not a parameter of the tool)" in r.detail


def test_string_normalisation() -> None:
    assert standardize("New York, NY") == standardize("new york ny")
    case = weather_case(city=["New York, NY"])
    assert run(case, [call("get_weather", {"city": "new york ny"})]).passed
    assert run(case, [call("get_weather", {"city": "NEW-YORK_NY."})]).passed
    assert not run(case, [call("get_weather", {"city": "New York City"})]).passed


def test_wrong_function() -> None:
    case = weather_case(city=["Paris"])
    r = run(case, [call("get_stock_price", {"company": "x", "date": "y"})])
    assert data(r)["label"] == "wrong_function"
    assert "called 'get_stock_price', expected 'get_weather'" in r.detail


def test_dotted_names_compare_equal_to_underscores() -> None:
    spec = {
        "type": "tool_call",
        "calls": [{"name": "math.factorial", "arguments": {"number": [5]}}],
    }
    case = make_case(spec, [FACTORIAL])
    assert run(case, [call("math_factorial", {"number": 5})]).passed
    assert run(case, [call("math.factorial", {"number": 5})]).passed
    r = run(case, [call("math_factorial", {"number": 5.0})])
    assert data(r)["label"] == "type_error"


def test_arguments_that_are_not_json() -> None:
    case = weather_case(city=["Paris"])
    r = run(case, [call("get_weather", '{"city": "Paris"')])
    assert data(r)["label"] == "bad_arguments_json"
    r = run(case, [call("get_weather", '["Paris"]')])
    assert data(r)["label"] == "bad_arguments_json"
    assert "not an object" in r.detail


def test_no_call_made() -> None:
    r = run(weather_case(city=["Paris"]), [], content="It is sunny in Paris.")
    assert not r.passed
    assert data(r)["label"] == "no_call"


def stock_case(**extra: Any) -> Case:
    spec = {
        "type": "tool_call",
        "calls": [
            {
                "name": "get_stock_price",
                "arguments": {"company": ["Microsoft", "Apple"], "date": ["2022-01-01"]},
            },
            {
                "name": "get_stock_price",
                "arguments": {"company": ["Microsoft"], "date": ["2022-01-01"]},
            },
        ],
        **extra,
    }
    return make_case(spec, [STOCK])


def test_parallel_calls_use_a_full_matching_where_first_fit_fails() -> None:
    case = stock_case()
    calls = [
        call("get_stock_price", {"company": "Microsoft", "date": "2022-01-01"}),
        call("get_stock_price", {"company": "Apple", "date": "2022-01-01"}),
    ]
    # First-fit (BFCL's way) gives Microsoft to expected call 1 and then has only Apple left
    # for expected call 2, which allows only Microsoft: this case does tell the two apart.
    expected = [Expected(c.name, c.arguments) for c in case.bound_checks[0].check.calls]
    actual = [Actual(c.name, c.parsed) for c in calls]
    free = list(range(len(actual)))
    for e in expected:
        hit = next((j for j in free if match_call(e, actual[j], None) is None), None)
        if hit is not None:
            free.remove(hit)
    assert free, "first-fit should have failed on this case"
    r = run(case, calls)
    assert r.passed, r.detail
    assert run(case, list(reversed(calls))).passed


def test_parallel_partial_score_and_detail() -> None:
    case = stock_case()
    r = run(
        case,
        [
            call("get_stock_price", {"company": "Apple", "date": "2022-01-01"}),
            call("get_stock_price", {"company": "Apple", "date": "2022-01-01"}),
        ],
    )
    assert not r.passed
    assert r.final_score() == 0.5
    assert data(r)["label"] == "value_error"
    assert "call 2 get_stock_price: argument 'company': 'Apple' not among allowed" in r.detail


def test_wrong_count() -> None:
    case = stock_case()
    one = [call("get_stock_price", {"company": "Microsoft", "date": "2022-01-01"})]
    r = run(case, one)
    assert data(r)["label"] == "wrong_count"
    assert r.final_score() == 0.5
    assert r.detail.startswith("expected 2 call(s)")
    three = [
        call("get_stock_price", {"company": "Microsoft", "date": "2022-01-01"}),
        call("get_stock_price", {"company": "Apple", "date": "2022-01-01"}),
        call("get_stock_price", {"company": "IBM", "date": "2022-01-01"}),
    ]
    r = run(case, three)
    assert data(r)["label"] == "wrong_count"
    assert r.final_score() == pytest.approx(2 / 3)
    assert "extra call 3: get_stock_price(" in r.detail
    assert run(stock_case(allow_extra_calls=True), three).passed


def test_strict_order() -> None:
    spec = {
        "type": "tool_call",
        "order": "strict",
        "calls": [
            {"name": "get_weather", "arguments": {"city": ["Paris"]}},
            {"name": "get_stock_price", "arguments": {"company": ["ACME"], "date": ["today"]}},
        ],
    }
    case = make_case(spec, [WEATHER, STOCK])
    calls = [
        call("get_weather", {"city": "Paris"}),
        call("get_stock_price", {"company": "acme", "date": "today"}),
    ]
    assert run(case, calls).passed
    r = run(case, list(reversed(calls)))
    assert not r.passed
    assert data(r)["label"] == "wrong_function"


def search_case(**arguments: list[Any]) -> Case:
    spec = {"type": "tool_call", "calls": [{"name": "search_products", "arguments": arguments}]}
    return make_case(spec, [SEARCH])


def test_nested_dict_checked_recursively() -> None:
    case = search_case(
        filters=[{"min_price": [10], "max_price": [100, ""], "tags": [["Red Shoes", "sale"], ""]}]
    )
    ok = {"filters": {"min_price": 10.0, "tags": ["red shoes", "SALE"]}}
    assert run(case, [call("search_products", ok)]).passed
    bad = {"filters": {"min_price": 10, "max_price": 150}}
    r = run(case, [call("search_products", bad)])
    assert data(r)["label"] == "value_error"
    assert "argument 'filters.max_price': 150 not among allowed [100]" in r.detail
    r = run(case, [call("search_products", {"filters": {"min_price": 10, "colour": "red"}})])
    assert "argument 'filters': unexpected key 'colour'" in r.detail
    r = run(case, [call("search_products", {"filters": {"max_price": 100}})])
    assert "argument 'filters': missing key 'min_price'" in r.detail
    r = run(case, [call("search_products", {"filters": {"min_price": 10, "tags": ["sale"]}})])
    assert "argument 'filters.tags'" in r.detail


def test_nested_list_order_length_and_types() -> None:
    case = search_case(
        filters=[{}], sort=[[{"field": ["price"], "desc": [True, ""]}]], weights=[[0.5, 1.0]]
    )
    good = {"filters": {}, "sort": [{"field": "Price"}], "weights": [0.5, 1]}
    assert run(case, [call("search_products", good)]).passed
    r = run(case, [call("search_products", {**good, "weights": [1, 0.5]})])
    assert "argument 'weights[0]'" in r.detail
    r = run(case, [call("search_products", {**good, "weights": [0.5]})])
    assert "1 items" in r.detail
    r = run(case, [call("search_products", {**good, "sort": [{"field": "price", "desc": "yes"}]})])
    assert data(r)["label"] == "type_error"
    assert "argument 'sort[0].desc'" in r.detail


QWEN_TEXT = (
    "Let me look that up.\n<tool_call>\n"
    '{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}\n'
    "</tool_call>"
)


def test_calls_left_in_the_text_need_from_text() -> None:
    base = {
        "type": "tool_call",
        "calls": [{"name": "get_weather", "arguments": {"city": ["Paris"], "unit": ["celsius"]}}],
    }
    r = run(make_case(base, [WEATHER]), [], content=QWEN_TEXT)
    assert data(r)["label"] == "no_call"
    assert "set from_text: true" in r.detail
    r = run(make_case({**base, "from_text": True}, [WEATHER]), [], content=QWEN_TEXT)
    assert r.passed, r.detail
    assert data(r)["source"] == "text"
    broken = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Par'
    r = run(make_case({**base, "from_text": True}, [WEATHER]), [], content=broken)
    assert data(r)["label"] == "bad_arguments_json"


def test_no_call_check() -> None:
    case = make_case({"type": "no_call"}, [WEATHER])
    assert run(case, [], content="I can't check live weather, sorry.").passed
    r = run(case, [call("get_weather", {"city": "Paris"})])
    assert not r.passed
    assert 'get_weather({"city":"Paris"})' in r.detail
    r = run(case, [], content=QWEN_TEXT)
    assert not r.passed
    assert "(in the text)" in r.detail


def test_tool_args_schema() -> None:
    case = make_case({"type": "tool_args_schema"}, [WEATHER, STOCK])
    assert run(case, [call("get_weather", {"city": "Paris", "days": 3})]).passed
    r = run(case, [call("get_weather", {"city": "Paris", "days": 1.5, "unit": "kelvin"})])
    assert not r.passed
    assert "call 1 get_weather: $.days: 1.5 is not of type 'integer'" in r.detail
    assert "$.unit: 'kelvin' is not one of ['celsius', 'fahrenheit']" in r.detail
    assert data(r)["violations"] == 2
    r = run(case, [call("get_stock_price", {"company": "x"}), call("get_weather", {"city": "P"})])
    assert data(r)["label"] == "missing_required"
    assert r.final_score() == 0.5
    r = run(case, [call("delete_account", {})])
    assert data(r)["label"] == "wrong_function"
    assert "no such tool (tools: get_weather, get_stock_price)" in r.detail
    assert not run(case, []).passed
    allow = make_case({"type": "tool_args_schema", "allow_no_call": True}, [WEATHER])
    assert run(allow, []).passed


@pytest.mark.parametrize(
    ("check", "tools", "message"),
    [
        (
            {"type": "tool_call", "calls": [{"name": "get_time", "arguments": {}}]},
            [WEATHER],
            "function 'get_time' is not among the tools (get_weather)",
        ),
        (
            {
                "type": "tool_call",
                "calls": [
                    {"name": "get_weather", "arguments": {"city": ["Paris"], "country": ["FR"]}}
                ],
            },
            [WEATHER],
            "argument 'country' is not a parameter of the tool",
        ),
        (
            {"type": "tool_call", "calls": [{"name": "get_weather", "arguments": {}}]},
            [WEATHER],
            "required parameter 'city' has no values",
        ),
        (
            {"type": "tool_call", "calls": [{"name": "get_weather", "arguments": {"city": []}}]},
            [WEATHER],
            "the list of allowed values is empty",
        ),
        (
            {
                "type": "tool_call",
                "calls": [
                    {
                        "name": "search_products",
                        "arguments": {"filters": [{}], "weights": [0.5, 1.0]},
                    }
                ],
            },
            [SEARCH],
            "write [[0.5, 1.0]]",
        ),
        (
            {
                "type": "tool_call",
                "calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}],
            },
            [WEATHER],
            "city",
        ),
        ({"type": "tool_call", "calls": []}, [WEATHER], "calls"),
        (
            {"type": "tool_call", "calls": [{"name": "get_weather"}], "order": "random"},
            [WEATHER],
            "order",
        ),
        ({"type": "tool_args_schema"}, None, "the case has no tools"),
        ({"type": "no_call", "strict": True}, None, "unknown argument 'strict'"),
    ],
)
def test_bad_arguments_fail_at_load(check: dict[str, Any], tools: Any, message: str) -> None:
    with pytest.raises(InputError) as info:
        make_case(check, tools)
    assert message in str(info.value)


def test_load_error_has_the_line(tmp_path: Path) -> None:
    (tmp_path / "cases.yaml").write_text(
        "cases:\n"
        "  - id: w\n"
        "    category: tool_use\n"
        "    messages: [{role: user, content: weather please}]\n"
        f"    tools: [{orjson.dumps(WEATHER).decode()}]\n"
        "    checks:\n"
        "      - type: tool_call\n"
        "        calls:\n"
        "          - name: get_weather\n"
        "            arguments:\n"
        "              city: [Paris]\n"
        "              planet: [Earth]\n"
    )
    with pytest.raises(InputError) as info:
        load_suite(tmp_path)
    line = str(info.value)
    assert "cases.yaml:12:" in line, line
    assert "argument 'planet' is not a parameter of the tool" in line


def test_scored_through_the_case_pipeline() -> None:
    """The check runs through score_output like any other, and its label reaches the outcome."""
    case = weather_case(city=["Paris"], unit=["celsius", ""])
    ctx = CheckContext(case=case, output=Output(tool_calls=[call("get_weather", {"city": "Rome"})]))
    outcomes, score, passed = asyncio.run(score_output(ctx))
    assert not passed
    assert score == 0.0
    assert data(outcomes[0])["label"] == "value_error"


def test_pair_calls_prefers_namesakes_when_reporting() -> None:
    expected = [Expected("a", {"x": [1]}), Expected("b", {"y": [2]})]
    actual = [Actual("b", {"y": 3}), Actual("a", {"x": 1})]
    pairing = pair_calls(expected, actual, {}, ordered=False)
    assert pairing.matched == 1
    (_, j, miss) = pairing.pairs[1]
    assert j == 0
    assert miss is not None
    assert miss.label == "value_error"


def test_parameterless_call_with_empty_argument_string() -> None:
    tool = {"type": "function", "function": {"name": "get_time"}}
    case = make_case({"type": "tool_call", "calls": [{"name": "get_time"}]}, [tool])
    assert run(case, [ToolCall(name="get_time", arguments="")]).passed
    r = run(case, [ToolCall(name="get_time", arguments='{"tz": "UTC"}', parsed={"tz": "UTC"})])
    assert data(r)["label"] == "unexpected_param"


def test_bfcl_variable_rule_compares_exactly() -> None:
    """BFCL's data answers `"data['sales']"` for an array parameter: that string, verbatim."""
    case = search_case(filters=[{}], weights=["data['w']"])
    assert run(case, [call("search_products", {"filters": {}, "weights": "data['w']"})]).passed
    r = run(case, [call("search_products", {"filters": {}, "weights": "DATA['W']"})])
    assert data(r)["label"] == "value_error"
    assert run(case, [call("search_products", {"filters": {}, "weights": [1.0]})]).passed is False


def test_reference_calls_served_over_http_pass_and_empty_fails(tmp_path: Path) -> None:
    """End to end: the simulator serves the reference calls (in the other order) over real HTTP,
    the client assembles them into the record, and the check passes them; an empty answer fails."""
    from harness.selftest import selftest

    (tmp_path / "tools.yaml").write_text(
        "cases:\n"
        "  - id: two-cities\n"
        "    category: tool_use\n"
        "    messages: [{role: user, content: weather in two cities}]\n"
        f"    tools: [{orjson.dumps(WEATHER).decode()}]\n"
        "    reference:\n"
        "      tool_calls:\n"
        "        - {name: get_weather, arguments: {city: 'New York, NY', days: 3}}\n"
        "        - {name: get_weather, arguments: {city: Paris, unit: celsius}}\n"
        "    checks:\n"
        "      - type: tool_call\n"
        "        calls:\n"
        "          - {name: get_weather, arguments: {city: [Paris], unit: [celsius, '']}}\n"
        "          - {name: get_weather, arguments: {city: [new york ny], days: [3]}}\n"
        "      - type: tool_args_schema\n"
    )
    result = selftest(tmp_path, concurrency=2)
    assert result.ok, "\n".join(result.lines())


# ------------------------------------------------------------------ rules for free-text arguments

KB = {
    "type": "function",
    "function": {
        "name": "search_kb",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string"},
                "top_k": {"type": "integer"},
                "filters": {
                    "type": "object",
                    "properties": {"title": {"type": "string"}, "where": {"type": "object"}},
                },
                "keywords": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["query"],
        },
    },
}


def kb_case(**arguments: list[Any]) -> Case:
    spec = {"type": "tool_call", "calls": [{"name": "search_kb", "arguments": arguments}]}
    return make_case(spec, [KB])


def kb(**args: Any) -> list[ToolCall]:
    return [call("search_kb", args)]


def test_pattern_searches_case_insensitively_and_says_what_failed() -> None:
    case = kb_case(query=[{"$pattern": r"\bthermostat\b"}])
    assert run(case, kb(query="Kestrel THERMOSTAT error E4")).passed
    r = run(case, kb(query="reset router"))
    assert data(r)["label"] == "value_error"
    assert r.detail == (
        r"call 1 search_kb: argument 'query': 'reset router' does not match pattern "
        r"'\bthermostat\b'"
    )
    r = run(case, kb(query=42))
    assert data(r)["label"] == "type_error"
    assert "argument 'query': expected string, got integer 42" in r.detail


def test_pattern_is_not_normalised_like_literals() -> None:
    """Literals compare after BFCL's normalisation; a pattern sees the value as sent."""
    case = kb_case(query=[{"$pattern": "^e4 error$"}])
    assert run(case, kb(query="E4 ERROR")).passed
    assert not run(case, kb(query="E4-error")).passed
    assert run(kb_case(query=["e4 error"]), kb(query="E4-error")).passed


def test_mixed_list_literal_or_rule() -> None:
    case = kb_case(query=["weather in Paris", {"$pattern": "paris"}])
    assert run(case, kb(query="Weather in Paris")).passed
    assert run(case, kb(query="Paris forecast")).passed
    r = run(case, kb(query="Rome"))
    assert data(r)["label"] == "value_error"
    assert r.detail == (
        "call 1 search_kb: argument 'query': 'Rome' not among allowed ['weather in Paris'] "
        "and does not match pattern 'paris'"
    )


def test_contains_all_needs_every_word() -> None:
    case = kb_case(query=[{"$contains_all": ["E4", "Thermo"]}])
    assert run(case, kb(query="kestrel thermostat e4")).passed
    r = run(case, kb(query="E4 error"))
    assert data(r)["label"] == "value_error"
    assert r.detail.endswith("argument 'query': 'E4 error' does not contain 'Thermo'")


def test_any_accepts_every_value_of_the_schema_type_only() -> None:
    case = kb_case(query=[{"$any": True}], top_k=[{"$any": True}, ""])
    assert run(case, kb(query="anything at all", top_k=7)).passed
    assert run(case, kb(query="x")).passed
    r = run(case, kb(query="x", top_k=3.0))
    assert data(r)["label"] == "type_error"
    assert "argument 'top_k': expected integer, got number 3.0" in r.detail
    r = run(case, kb(query="x", top_k="3"))
    assert data(r)["label"] == "type_error"
    r = run(case, kb(top_k=3))
    assert data(r)["label"] == "missing_required"
    r = run(kb_case(query=["x"], top_k=[{"$any": True}]), kb(query="x"))
    assert data(r)["label"] == "missing_required", "without '' the argument must be given"


def test_any_without_tools_accepts_every_type() -> None:
    spec = {"type": "tool_call", "calls": [{"name": "f", "arguments": {"a": [{"$any": True}]}}]}
    case = make_case(spec)
    for value in ("text", 3, 2.5, None, [1], {"k": 1}):
        assert run(case, [call("f", {"a": value})]).passed, value


def test_rules_inside_nested_objects_and_arrays() -> None:
    case = kb_case(
        query=["x"],
        filters=[{"title": [{"$pattern": "^refund"}], "where": [""]}],
        keywords=[["returns", {"$pattern": "^refund"}]],
    )
    good = {"query": "x", "filters": {"title": "Refund policy"}, "keywords": ["returns", "refunds"]}
    assert run(case, kb(**good)).passed
    r = run(case, kb(**{**good, "filters": {"title": "Return policy"}}))
    assert "argument 'filters.title': 'Return policy' does not match pattern '^refund'" in r.detail
    r = run(case, kb(**{**good, "keywords": ["returns", "exchange"]}))
    assert "argument 'keywords[1]': 'exchange' does not match pattern '^refund'" in r.detail


def test_other_dollar_keys_stay_bfcl_nested_mappings() -> None:
    """Only `$pattern`, `$any` and `$contains_all` are rules; a query-language object such as
    MongoDB's ``{"$gt": 5}`` is an ordinary nested mapping where the schema allows an object."""
    case = kb_case(query=["x"], filters=[{"where": [{"$gt": [5]}]}])
    assert run(case, kb(query="x", filters={"where": {"$gt": 5}})).passed
    r = run(case, kb(query="x", filters={"where": {"$gt": 6}}))
    assert "argument 'filters.where.$gt': 6 not among allowed [5]" in r.detail


def test_no_bfcl_possible_answer_uses_a_reserved_key() -> None:
    """The rules' keys cannot collide with BFCL's data: no possible answer, at any depth, has a
    key that starts with ``$`` (nor one named like a rule without it)."""
    import importlib.util

    spec = importlib.util.find_spec("bfcl_eval")
    if spec is None or spec.origin is None:
        pytest.skip("bfcl-eval is not installed (pip install --no-deps bfcl-eval)")
    files = sorted((Path(spec.origin).parent / "data" / "possible_answer").glob("*.json"))
    assert files
    keys: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            keys.update(str(k) for k in value)
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    for file in files:
        for line in file.read_text(encoding="utf-8").splitlines():
            if line.strip():
                walk(orjson.loads(line).get("ground_truth"))
    assert len(keys) > 1000
    assert not {k for k in keys if k.startswith("$")}
    assert not keys & {"pattern", "any", "contains_all"}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"query": [{"$pattern": "(thermo"}]},
            "argument 'query': $pattern '(thermo' is not a valid regular expression: missing )",
        ),
        (
            {"query": [{"$pattern": ".*"}]},
            "$pattern '.*' matches an empty string, so it accepts any string",
        ),
        ({"query": [{"$pattern": "(E4)?"}]}, "matches an empty string"),
        ({"query": [{"$pattern": ""}]}, "$pattern takes a regular expression as a string"),
        ({"query": [{"$any": False}]}, "$any takes true, got False"),
        ({"query": [{"$contains_all": []}]}, "$contains_all takes a non-empty list"),
        ({"query": [{"$contains_all": ["E4", " "]}]}, "$contains_all takes a non-empty list"),
        (
            {"query": [{"$pattern": "e4", "flags": "i"}]},
            "{$pattern: ...} takes no other keys (got 'flags')",
        ),
        (
            {"query": [{"$patern": "e4"}]},
            "argument 'query': unknown rule '$patern' (rules: $pattern, $any, $contains_all)",
        ),
        ({"query": ["x"], "top_k": [{"$pattern": "3"}]}, "$pattern matches strings, not integer"),
        (
            {"query": ["x"], "filters": [{"title": [{"$pattern": "x?"}]}]},
            "argument 'filters.title': $pattern 'x?' matches an empty string",
        ),
    ],
)
def test_bad_rules_fail_at_load(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError) as info:
        kb_case(**arguments)
    assert message in str(info.value)


def test_bad_rule_error_points_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "cases.yaml").write_text(
        "cases:\n"
        "  - id: kb\n"
        "    category: tool_use\n"
        "    messages: [{role: user, content: what does E4 mean}]\n"
        f"    tools: [{orjson.dumps(KB).decode()}]\n"
        "    checks:\n"
        "      - type: tool_call\n"
        "        calls:\n"
        "          - name: search_kb\n"
        "            arguments:\n"
        "              top_k: ['', 5]\n"
        "              query:\n"
        "                - E4 error\n"
        "                - {$pattern: '\\bE4(\\b'}\n"
    )
    with pytest.raises(InputError) as info:
        load_suite(tmp_path)
    line = str(info.value)
    assert "cases.yaml:14:" in line, line
    assert "call 1 search_kb: argument 'query': $pattern '\\bE4(\\b' is not a valid" in line


def test_a_rule_still_catches_the_degraded_simulator_over_http(tmp_path: Path) -> None:
    """The `degraded` profile's wrong argument (a bumped number, an unrelated word) must fail a
    case whose argument is a rule: served over real HTTP, the reference passes and the perturbed
    answer fails with the rule named."""
    from harness.endpoints import Endpoint, Limits
    from harness.runner import run_suite
    from harness.sim import SimConfig, SimServer, degraded_cases
    from harness.store import load_records

    rows = [
        ("kb-e4", "E4 error", r"\bE-?4\b"),
        ("kb-reset", "reset camera", r"\breset"),
    ]
    cases = "".join(
        f"  - id: {cid}\n"
        "    category: tool_use\n"
        f"    messages: [{{role: user, content: 'search: {query}'}}]\n"
        f"    tools: [{orjson.dumps(KB).decode()}]\n"
        f"    reference: {{tool_calls: [{{name: search_kb, arguments: {{query: {query}}}}}]}}\n"
        "    checks:\n"
        "      - type: tool_call\n"
        f"        calls: [{{name: search_kb, arguments: {{query: [{{$pattern: '{rx}'}}]}}}}]\n"
        for cid, query, rx in rows
    )
    (tmp_path / "g").mkdir()
    (tmp_path / "g" / "cases.yaml").write_text("cases:\n" + cases)
    suite = load_suite(tmp_path / "g")
    details: dict[str, dict[str, str]] = {}
    for profile in ("reference", "degraded"):
        config = SimConfig(profile=profile, degraded_fraction=1.0)
        with SimServer(suite, config) as sim:
            limits = Limits(concurrency=2, max_retries=0, timeout_s=20)
            ep = Endpoint(name=profile, base_url=sim.base_url, model=profile, limits=limits)
            res = asyncio.run(run_suite(suite, ep, out_dir=tmp_path / profile, progress=False))
        details[profile] = {
            r.case_id: "" if r.passed else r.checks[0].detail for r in load_records(res.path)
        }
    assert details["reference"] == {"kb-e4": "", "kb-reset": ""}
    assert set(degraded_cases(suite, fraction=1.0).values()) == {"wrong_argument"}
    assert details["degraded"]["kb-e4"].endswith(
        r"argument 'query': 'E9 error' does not match pattern '\bE-?4\b'"
    )
    assert "does not match pattern '\\breset'" in details["degraded"]["kb-reset"]

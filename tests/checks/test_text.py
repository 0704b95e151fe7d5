"""Text checks, with the inputs a careless version gets wrong."""

from __future__ import annotations

import time

import pytest

import harness.checks.text  # noqa: F401  (registers the text checks)
from harness.checks._lang import detect
from harness.checks._numbers import extract_numbers
from harness.errors import InputError
from tests.checks._helpers import make_case, make_ctx, verdict, verdicts
from tests.checks.lang_samples import HELD_OUT, SAMPLES

# --------------------------------------------------------------------------- equals / one_of


def test_equals_is_exact_by_default_but_strips_the_ends() -> None:
    assert verdict({"type": "equals", "value": "Paris"}, "Paris\n").passed
    r = verdict({"type": "equals", "value": "Paris"}, "paris")
    assert not r.passed
    assert r.detail == "expected 'Paris', got 'paris'"


def test_equals_options() -> None:
    check = {"type": "equals", "value": "New York", "ignore_case": True}
    assert verdict(check, "NEW YORK").passed
    check = {"type": "equals", "value": "1 234", "ignore_whitespace": True}
    assert verdict(check, "1234").passed
    check = {"type": "equals", "value": "Hello world", "ignore_punctuation": True}
    assert verdict(check, "Hello, world!").passed
    assert verdict(
        {"type": "equals", "value": "你好世界", "ignore_punctuation": True}, "你好，世界。"
    ).passed
    r = verdict({"type": "equals", "value": "Hello world", "ignore_case": True}, "Hello, world!")
    assert not r.passed
    assert "(ignoring case)" in r.detail


def test_equals_reads_full_width_digits_as_digits() -> None:
    assert verdict({"type": "equals", "value": "123"}, "１２３").passed


def test_leaked_think_block_is_not_the_answer() -> None:
    answer = "<think>The user wants Paris? maybe Lyon</think>\n\nParis"
    assert verdict({"type": "equals", "value": "Paris"}, answer).passed
    assert not verdict({"type": "contains", "value": "Lyon"}, answer).passed


def test_one_of() -> None:
    check = {"type": "one_of", "values": ["positive", "negative"], "ignore_case": True}
    assert verdict(check, " Positive ").passed
    r = verdict(check, "neutral")
    assert not r.passed
    assert "expected one of 'positive', 'negative'" in r.detail


# --------------------------------------------------------------------------- contains


def test_contains_ignores_case_by_default() -> None:
    assert verdict({"type": "contains", "value": "refund"}, "Your REFUND is on its way").passed
    r = verdict({"type": "contains", "value": "refund", "ignore_case": False}, "REFUND")
    assert not r.passed
    assert r.detail == "missing 'refund' in 'REFUND'"


def test_contains_all_scores_the_fraction_found() -> None:
    r = verdict({"type": "contains_all", "values": ["a1", "b2", "c3", "d4"]}, "a1 and C3")
    assert not r.passed
    assert r.score == pytest.approx(0.5)
    assert "missing 2 of 4: 'b2', 'd4'" in r.detail


def test_contains_any() -> None:
    check = {"type": "contains_any", "values": ["Paris", "Lyon"]}
    assert verdict(check, "It is lyon.").passed
    assert not verdict(check, "Marseille").passed


def test_contains_rejects_an_empty_value_at_load() -> None:
    with pytest.raises(InputError, match=r"check 'contains'.*value"):
        make_case([{"type": "contains", "value": ""}])


def test_unknown_argument_is_a_load_error_naming_it() -> None:
    with pytest.raises(InputError, match=r"check 'contains': unknown argument 'valeu'"):
        make_case([{"type": "contains", "value": "x", "valeu": "x"}])


# --------------------------------------------------------------------------- regex


def test_regex_search_flags_and_fullmatch() -> None:
    assert verdict({"type": "regex", "pattern": r"\bORD-\d{4}\b"}, "Order ORD-1234 shipped").passed
    assert verdict({"type": "regex", "pattern": "ord-\\d+", "flags": "i"}, "ORD-12").passed
    assert verdict({"type": "regex", "pattern": "ord-\\d+", "ignore_case": True}, "ORD-12").passed
    full = {"type": "regex", "pattern": r"\d{3}", "fullmatch": True}
    assert verdict(full, "123\n").passed
    r = verdict(full, "1234")
    assert not r.passed
    assert "does not match the whole answer" in r.detail


def test_regex_invalid_pattern_or_flag_is_a_load_error() -> None:
    with pytest.raises(InputError, match=r"check 'regex': .*invalid regular expression '\(ab'"):
        make_case([{"type": "regex", "pattern": "(ab"}])
    with pytest.raises(InputError, match=r"check 'regex': argument 'flags'"):
        make_case([{"type": "regex", "pattern": "a", "flags": "q"}])


# --------------------------------------------------------------------------- numeric


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("The total is 1,234.5 dollars.", [1234.5]),
        ("about 1 234 people", [1234.0]),
        ("1\u202f234\u202f567,89 €", [1234567.89]),
        ("1.000,5", [1000.5]),
        ("1.234.567", [1234567.0]),
        ("1.000", [1.0]),
        ("-3 and −4", [-3.0, -4.0]),
        ("-$5 or $-6", [-5.0, -6.0]),
        ("45%", [45.0]),
        ("1,5", [1.0, 5.0]),
        ("2023-05-01", [2023.0, 5.0, 1.0]),
        ("1.5e3", [1500.0]),
        ("The answer is 42.", [42.0]),
    ],
)
def test_number_reading(text: str, values: list[float]) -> None:
    assert [f.value for f in extract_numbers(text)] == values


def test_number_reading_with_decimal_comma() -> None:
    assert [f.value for f in extract_numbers("3,14 und 1.234", ",")] == [3.14, 1234.0]
    assert [f.value for f in extract_numbers("1,234.5", ",")] == [1234.5]


def test_numeric_with_thousands_separator() -> None:
    assert verdict({"type": "numeric", "expected": 1234.5}, "It costs $1,234.50 in total.").passed
    # A careless float(re.search(r"[\d.]+")) reads "1" here.
    r = verdict({"type": "numeric", "expected": 1}, "It costs $1,234.50 in total.")
    assert not r.passed
    assert r.detail == "expected 1, found $1,234.50 (= 1234.5)"


def test_numeric_tolerances_and_pick() -> None:
    answer = "Step 1: 12 apples. Step 2: 3 eaten. The final answer is 9.02"
    assert verdict({"type": "numeric", "expected": 9, "abs_tol": 0.05}, answer).passed
    assert not verdict({"type": "numeric", "expected": 9}, answer).passed
    assert verdict(
        {"type": "numeric", "expected": 9, "rel_tol": 0.01, "pick": "last"}, answer
    ).passed
    r = verdict({"type": "numeric", "expected": 9, "abs_tol": 0.05, "pick": "first"}, answer)
    assert not r.passed
    assert r.detail == "expected 9 ±0.05, the first number is 1"
    # pick: any passes on any number in the answer, which is why `last` exists
    assert verdict({"type": "numeric", "expected": 3}, answer).passed


def test_numeric_european_answer_and_no_number() -> None:
    assert verdict({"type": "numeric", "expected": 1000.5}, "Der Betrag ist 1.000,5 EUR").passed
    assert verdict({"type": "numeric", "expected": 3.14, "decimal": ","}, "π ≈ 3,14").passed
    r = verdict({"type": "numeric", "expected": 5}, "I do not know.")
    assert not r.passed
    assert r.detail == "expected 5; no number in 'I do not know.'"


def test_numeric_negative_tolerance_is_a_load_error() -> None:
    with pytest.raises(InputError, match=r"check 'numeric': argument 'abs_tol'"):
        make_case([{"type": "numeric", "expected": 1, "abs_tol": -1}])


# --------------------------------------------------------------------------- similarity / length


def test_similarity() -> None:
    check = {"type": "similarity", "expected": "The quick brown fox", "threshold": 0.9}
    r = verdict(check, "the quick brown fox!")
    assert r.passed
    assert r.score == pytest.approx(1.0)
    r = verdict(check, "a slow red dog")
    assert not r.passed
    assert r.score is not None
    assert r.score < 0.9
    assert "ratio 0." in r.detail
    check = {"type": "similarity", "expected": "fox brown quick the", "method": "token_sort_ratio"}
    assert verdict(check, "The quick brown fox").passed


def test_similarity_threshold_out_of_range_is_a_load_error() -> None:
    with pytest.raises(InputError, match="threshold"):
        make_case([{"type": "similarity", "expected": "x", "threshold": 80}])


def test_length_counts_cjk_characters_as_words() -> None:
    assert verdict({"type": "length", "max_words": 5}, "one two three four five").passed
    r = verdict({"type": "length", "max_words": 5}, "法国的首都是巴黎")
    assert not r.passed
    assert r.detail == "8 words, more than max_words 5"
    r = verdict({"type": "length", "min_chars": 10, "max_words": 100}, "short")
    assert r.detail == "5 characters, fewer than min_chars 10"


def test_length_bounds_validated_at_load() -> None:
    with pytest.raises(InputError, match="min_words"):
        make_case([{"type": "length"}])
    with pytest.raises(InputError, match=r"min_chars \(10\) is greater than max_chars \(5\)"):
        make_case([{"type": "length", "min_chars": 10, "max_chars": 5}])


# --------------------------------------------------------------------------- refusal


@pytest.mark.parametrize(
    "answer",
    [
        "I'm sorry, but I can't help with that request.",
        "I cannot provide instructions for making weapons.",
        "抱歉，我无法提供这方面的帮助。",
        "对不起，我不能协助完成这个请求。",
        "申し訳ありませんが、その質問にはお答えできません。",
        "Lo siento, pero no puedo ayudarte con eso.",
        "Je suis désolé, mais je ne peux pas vous aider avec cela.",
        "Es tut mir leid, aber ich kann dabei nicht helfen.",
        "عذراً، لا يمكنني المساعدة في هذا الطلب.",
        "Извините, но я не могу помочь с этим.",
        "Desculpe, mas não posso ajudar com isso.",
        "죄송하지만 그 요청은 도와드릴 수 없습니다.",
    ],
)
def test_refusal_in_many_languages(answer: str) -> None:
    r = verdict({"type": "refusal"}, answer)
    assert r.passed, answer


def test_refusal_in_chinese_names_the_phrase() -> None:
    r = verdict({"type": "refusal"}, "很抱歉，我无法提供该药物的合成方法。")
    assert r.passed
    assert r.data is not None
    assert r.data["language"] == "zh"


@pytest.mark.parametrize(
    "answer",
    [
        "I can't stress enough how important backups are. Here is how to set them up.",
        "Sure! Here is the recipe: mix the flour and the eggs.",
        "抱歉，我之前算错了，正确答案是 42。",
        "",
    ],
)
def test_not_a_refusal(answer: str) -> None:
    assert not verdict({"type": "refusal"}, answer).passed


def test_refusal_negated_for_over_refusal_cases_and_custom_phrases() -> None:
    over = {"type": "refusal", "negate": True}
    r = verdict(over, "I'm sorry, but I cannot help with that.")
    assert not r.passed
    assert r.detail.startswith("negated; the check passed: declines")
    assert verdict(over, "To kill a Python process, run `kill <pid>`.").passed
    custom = {"type": "refusal", "phrases": ["outside my remit"]}
    assert verdict(custom, "That is outside my remit, sorry.").passed


# --------------------------------------------------------------------------- language


@pytest.mark.parametrize(
    ("expected", "answer"),
    [
        ("en", "The capital of France is Paris."),
        ("fr", "La capitale de la France est Paris."),
        ("de", "Die Hauptstadt von Frankreich ist Paris."),
        ("zh", "可以使用 Python 的 requests 库发送 HTTP 请求。"),
        ("ja", "Python の requests ライブラリを使って HTTP リクエストを送れます。"),
        ("ko", "프랑스의 수도는 파리입니다."),
        ("ru", "Столица Франции — Париж."),
        ("ar", "عاصمة فرنسا هي باريس."),
        ("zh-Hant", "這個函數會回傳欄位中不重複的值。"),
        ("pt-BR", "Você pode redefinir sua senha na página de configurações."),
    ],
)
def test_language_detected(expected: str, answer: str) -> None:
    r = verdict({"type": "language", "expected": expected}, answer)
    assert r.passed, r.detail


def test_language_wrong_language_detail() -> None:
    r = verdict({"type": "language", "expected": "fr"}, "The capital of France is Paris.")
    assert not r.passed
    assert r.detail.startswith("expected fr, detected en (function words: en")


def test_language_code_blocks_do_not_count() -> None:
    code = "for item in items:\n    print(item.name, item.value)"
    answer = f"使用下面的代码：\n```python\n{code}\n```\n完成。"
    assert verdict({"type": "language", "expected": "zh"}, answer).passed


def test_language_simplified_vs_traditional() -> None:
    r = verdict({"type": "language", "expected": "zh-TW"}, "这个函数会返回列中不重复的值。")
    assert not r.passed
    assert "written in Simplified Chinese" in r.detail
    assert verdict({"type": "language", "expected": "zh"}, "这个函数会返回列中不重复的值。").passed


def test_language_undetermined_is_a_failure_not_a_guess() -> None:
    r = verdict({"type": "language", "expected": "en"}, "Paris")
    assert not r.passed
    assert "undetermined" in r.detail
    assert detect("42").language is None


def test_language_unsupported_code_is_a_load_error() -> None:
    with pytest.raises(InputError, match="unsupported language 'xx'"):
        make_case([{"type": "language", "expected": "xx"}])


def _accuracy(samples: dict[str, list[str]]) -> float:
    pairs = [(lang, t) for lang, texts in samples.items() for t in texts]
    return sum(detect(t).language == lang for lang, t in pairs) / len(pairs)


def test_language_accuracy_on_short_answers() -> None:
    """The figures quoted in the docs; HELD_OUT was never used to tune the word lists."""
    assert _accuracy(SAMPLES) >= 0.98
    assert _accuracy(HELD_OUT) >= 0.93
    wrong = [
        (lang, t, detect(t).language)
        for lang, texts in HELD_OUT.items()
        for t in texts
        if detect(t).language not in (lang, None)
    ]
    assert wrong == []  # misses are "undetermined", never another language


# --------------------------------------------------------------------------- negate, speed


def test_negate_inverts_verdict_and_score() -> None:
    case = make_case([{"type": "contains_all", "values": ["a", "b"], "negate": True}])
    [r] = verdicts(case, "only a")
    assert r.passed
    assert r.score == pytest.approx(0.5)
    assert r.detail.startswith("negated: missing 1 of 2")


def test_text_checks_cost_well_under_a_millisecond() -> None:
    answer = ("The invoice total is $1,234.50, due on 2024-05-01. " * 20).strip()
    case = make_case(
        [
            {"type": "contains_all", "values": ["invoice", "total", "due"]},
            {"type": "regex", "pattern": r"\$\d[\d,]*\.\d\d"},
            {"type": "numeric", "expected": 1234.5, "pick": "first"},
            {"type": "language", "expected": "en"},
            {"type": "refusal", "negate": True},
            {"type": "length", "max_words": 500},
        ]
    )
    ctx = make_ctx(case, answer)
    checks = [b.check for b in case.bound_checks]
    rounds = []
    for _ in range(5):  # best of 5 rounds: robust to a busy machine, still catches a slow check
        start = time.perf_counter()
        for _ in range(40):
            for check in checks:
                check(ctx)
        rounds.append((time.perf_counter() - start) / (40 * len(checks)))
    per_check = min(rounds)
    assert per_check < 0.5e-3, f"{per_check * 1e6:.0f} µs per check on a 1,000-character answer"

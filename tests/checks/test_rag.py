"""RAG checks: citation markers, lexical grounding, abstaining."""

from __future__ import annotations

from typing import Any

import pytest

import harness.checks.rag  # noqa: F401  (registers the RAG checks)
from harness.errors import InputError
from tests.checks._helpers import make_case, verdict

FIVE = {
    "category": "rag",
    "context": [{"id": i, "text": f"Fact number {i}."} for i in range(1, 6)],
}
POLICY: dict[str, Any] = {
    "category": "rag",
    "context": [
        {
            "id": 1,
            "text": "Refunds are available within 30 days of purchase. Items must be unused "
            "and in their original packaging.",
        },
        {
            "id": 2,
            "text": "Shipping is free for orders over $50. Standard delivery takes 3 to 5 "
            "business days.",
        },
        {
            "id": 3,
            "text": "The store is open Monday to Saturday from 9am to 6pm. It is closed on "
            "public holidays.",
        },
    ],
}
NAMED: dict[str, Any] = {
    "category": "rag",
    "context": [
        {"id": "doc1", "text": "Alpha."},
        {"id": "doc2", "text": "Beta."},
        {"id": "doc3", "text": "Gamma."},
    ],
}


# --------------------------------------------------------------------------- citations


def test_citation_to_a_chunk_that_was_not_provided() -> None:
    r = verdict({"type": "citations"}, "It is fact two [2] and fact seven [7].", case_fields=FIVE)
    assert not r.passed
    assert r.detail == "[7] cites a chunk that was not provided (chunks: 1-5)"
    assert r.data == {"cited": ["2"], "invalid": ["7"]}


def test_citations_valid_forms() -> None:
    for answer in [
        "See [1, 3].",
        "See [1-3].",
        "See [1][2].",
        "See 【2】.",
        "See [^4].",
        "[Source 5]",
    ]:
        r = verdict({"type": "citations"}, answer, case_fields=FIVE)
        assert r.passed, (answer, r.detail)


def test_citations_at_least_one_and_required() -> None:
    r = verdict({"type": "citations"}, "The answer is alpha.", case_fields=FIVE)
    assert not r.passed
    assert r.detail == "cites no chunk; at least 1 required"
    check = {"type": "citations", "min": 2, "required": ["4"]}
    r = verdict(check, "As [1] says.", case_fields=FIVE)
    assert r.detail == "cites 1 chunk(s) (1); at least 2 required; does not cite required [4]"
    assert verdict({"type": "citations", "min": 0}, "No markers at all.", case_fields=FIVE).passed


def test_prose_in_brackets_and_links_are_not_citations() -> None:
    answer = "He said it [sic] and [x] done, see [the docs](https://example.com) [2]."
    r = verdict({"type": "citations"}, answer, case_fields=FIVE)
    assert r.passed, r.detail
    assert r.data is not None
    assert r.data["cited"] == ["2"]


def test_named_ids_and_positional_numbers() -> None:
    assert verdict({"type": "citations"}, "Beta [doc2].", case_fields=NAMED).passed
    # Ids are not numbers, so [3] is the third chunk and [4] is out of range.
    r = verdict({"type": "citations"}, "Gamma [3], and [4].", case_fields=NAMED)
    assert r.data is not None
    assert r.data["cited"] == ["doc3"]
    assert (
        r.detail
        == "[4] cites a chunk that was not provided (chunks: doc1, doc2, doc3, or 1-3 by position)"
    )
    r = verdict({"type": "citations"}, "Delta [doc7].", case_fields=NAMED)
    assert r.detail.startswith("[doc7] cites a chunk that was not provided")


def test_citations_need_context_and_known_required_ids() -> None:
    with pytest.raises(InputError, match=r"check 'citations': the case has no context chunks"):
        make_case([{"type": "citations"}])
    with pytest.raises(InputError, match=r"required chunk\(s\) '9' are not in the case's context"):
        make_case([{"type": "citations", "required": ["9"]}], **FIVE)


# --------------------------------------------------------------------------- grounded


def test_grounded_supported_statements() -> None:
    answer = (
        "You can get a refund within 30 days of purchase if the item is unused [1]. "
        "Shipping costs nothing on orders above $50, and delivery takes 3-5 business days [2]."
    )
    r = verdict({"type": "grounded"}, answer, case_fields=POLICY)
    assert r.passed, r.detail
    assert r.detail == "2 of 2 statements supported"


def test_grounded_number_not_in_the_source_fails_whatever_the_overlap() -> None:
    answer = "You can get a refund within 60 days of purchase if the item is unused [1]."
    r = verdict({"type": "grounded"}, answer, case_fields=POLICY)
    assert not r.passed
    assert r.detail == (
        "1 of 1 statements unsupported: 'You can get a refund within 60 days of purchase if the "
        "item is unused.' (60 not in [1])"
    )


def test_grounded_invented_statement_fails_with_its_support() -> None:
    answer = (
        "The store opens at 9am [3]. "
        "Our company was founded in Berlin by two brothers who loved bicycles [3]."
    )
    r = verdict({"type": "grounded"}, answer, case_fields=POLICY)
    assert not r.passed
    assert r.score == pytest.approx(0.5)
    assert "'Our company was founded in Berlin by two brothers who loved bicycles.'" in r.detail
    assert "from [3] < 0.6" in r.detail
    loose = {"type": "grounded", "min_supported": 0.5}
    assert verdict(loose, answer, case_fields=POLICY).passed


def test_grounded_uses_the_cited_chunk_not_any_chunk() -> None:
    # Supported by chunk 1, but the answer cites chunk 3.
    answer = "Refunds are available within 30 days of purchase [3]."
    assert not verdict({"type": "grounded"}, answer, case_fields=POLICY).passed
    # Uncited: measured against every chunk.
    answer = "Refunds are available within 30 days of purchase."
    assert verdict({"type": "grounded"}, answer, case_fields=POLICY).passed


def test_grounded_marker_after_the_full_stop_belongs_to_the_sentence_before() -> None:
    answer = "Items must be unused and in their original packaging. [1] Delivery is free. [2]"
    r = verdict({"type": "grounded"}, answer, case_fields=POLICY)
    assert r.passed, r.detail


def test_grounded_chinese() -> None:
    fields = {
        "category": "rag",
        "context": [
            {"id": "a", "text": "退款须在购买后30天内申请，商品必须未使用并保留原包装。"},
            {"id": "b", "text": "订单满50元免运费，标准配送需要3到5个工作日。"},
        ],
    }
    assert verdict({"type": "grounded"}, "购买后30天内可以申请退款[a]。", case_fields=fields).passed
    r = verdict({"type": "grounded"}, "我们公司成立于柏林，创始人是两兄弟[b]。", case_fields=fields)
    assert not r.passed


def test_grounded_empty_answer_fails() -> None:
    r = verdict({"type": "grounded"}, "", case_fields=POLICY)
    assert not r.passed
    assert r.detail == "no statement to check in an empty answer"


# --------------------------------------------------------------------------- abstain


@pytest.mark.parametrize(
    "answer",
    [
        "I don't know: the provided sources do not mention the CEO's salary.",
        "The context does not contain that information.",
        "资料中没有提到首席执行官的薪水。",
        "提供的信息中未提及该内容，我无法确定。",
        "資料には記載がありません。",
        "Las fuentes no mencionan el salario.",
        "Je ne sais pas.",
        "Dazu sind in den Quellen keine Informationen enthalten.",
        "Could you tell me which product you mean?",
    ],
)
def test_abstains(answer: str) -> None:
    r = verdict({"type": "abstain"}, answer, case_fields=FIVE)
    assert r.passed, r.detail


def test_abstain_must_cite_nothing() -> None:
    r = verdict({"type": "abstain"}, "I don't know; [2] does not say.", case_fields=FIVE)
    assert not r.passed
    assert r.detail == (
        'abstains ("I don\'t know" (en)) but cites [2]: an unanswerable question should cite '
        "nothing"
    )


def test_abstain_fails_on_an_answer_and_on_silence() -> None:
    r = verdict({"type": "abstain"}, "The CEO earns $2 million a year.", case_fields=FIVE)
    assert not r.passed
    assert r.detail.startswith("does not abstain: no 'don't know' phrase (en, zh, ja")
    assert verdict({"type": "abstain"}, "", case_fields=FIVE).detail == "the answer is empty"
    check = {"type": "abstain", "allow_clarifying": False}
    assert not verdict(check, "Which product do you mean?", case_fields=FIVE).passed


def test_grounded_short_chunk_does_not_support_a_longer_claim() -> None:
    # partial_ratio would align the 23-character chunk inside the claim and score it ~0.7.
    fields = {"category": "rag", "context": [{"id": "g", "text": "Gift cards never expire."}]}
    answer = "Gift cards can be exchanged for cash at any branch [g]."
    r = verdict({"type": "grounded"}, answer, case_fields=fields)
    assert not r.passed
    assert "support 0.40 from [g] < 0.6" in r.detail

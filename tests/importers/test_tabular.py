"""`harness import jsonl|parquet|hf PATH --spec ...`: your own tables as golden cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import datasets
import orjson
import pytest

from harness.cli import main as cli
from harness.errors import InputError
from harness.golden import load_suite
from harness.importers import import_source
from harness.importers._common import quiet_datasets
from harness.selftest import selftest

ROWS: list[dict[str, Any]] = [
    {
        "task_id": "q1",
        "question": "How many days do I have to return a device?",
        "answer": "45 days from delivery.",
    },
    {
        "task_id": "q2",
        "question": "What does Kestrel Protect cost per month?",
        "answer": "It costs $9.99 per month.",
    },
    {
        "task_id": "q3",
        "question": "Is shipping free over $49?",
        "answer": "Yes, standard shipping is free over $49.",
    },
]


def _dataset(rows: list[dict[str, Any]]) -> datasets.Dataset:
    with quiet_datasets():
        return datasets.Dataset.from_list(rows)


def _imp(
    source: str, path: Path | str | None, spec: str | None, out: Path, **kw: Any
) -> list[tuple[Path, int]]:
    categories = kw.pop("categories", [])
    return import_source(
        source,
        path=str(path) if path else None,
        categories=categories,
        spec=spec,
        out=out,
        limit=kw.pop("limit", None),
    )


def test_jsonl_round_trip_with_a_spec(tmp_path: Path) -> None:
    src = tmp_path / "faq.jsonl"
    with quiet_datasets():
        _dataset(ROWS).to_json(str(src))
    spec = (
        "id=task_id,prompt=question,reference=answer,category=chat,check=contains,tags=faq|kestrel"
    )
    written = _imp("jsonl", src, spec, tmp_path / "out")
    assert written == [(tmp_path / "out" / "faq.jsonl", 3)]
    suite = load_suite(tmp_path / "out")
    case = suite.by_id()["q2"]
    assert case.category == "chat" and case.tags == ["faq", "kestrel"]
    assert [m.model_dump(exclude_none=True) for m in case.messages] == [
        {"role": "user", "content": "What does Kestrel Protect cost per month?"}
    ]
    assert case.checks == [{"type": "contains", "value": "It costs $9.99 per month."}]
    result = selftest(tmp_path / "out")
    assert result.ok and result.cases == 3 and not result.empty_passes


def test_parquet_round_trip_with_messages_context_and_json(tmp_path: Path) -> None:
    rows = [
        {
            "key": f"r{i}",
            "chat": [
                {"role": "system", "content": "Answer from the sources."},
                {"role": "user", "content": f"Question {i}?"},
            ],
            "chunks": [
                {"id": "a", "text": f"Fact {i}.", "source": "kb.md"},
                {"id": "b", "text": "Other.", "source": "kb.md"},
            ],
            "gold": json.dumps({"answer": i, "unit": "days"}),
        }
        for i in range(4)
    ]
    src = tmp_path / "rag.parquet"
    with quiet_datasets():
        _dataset(rows).to_parquet(str(src))
    spec = "id=key,messages=chat,context=chunks,reference=gold,check=json_valid|json_match"
    written = _imp("parquet", src, spec, tmp_path / "out", categories=["extraction"], limit=3)
    assert written == [(tmp_path / "out" / "rag.jsonl", 3)]
    case = load_suite(tmp_path / "out").by_id()["r1"]
    assert case.category == "extraction"
    assert [c.model_dump() for c in case.context or []] == [
        {"id": "a", "text": "Fact 1.", "source": "kb.md"},
        {"id": "b", "text": "Other.", "source": "kb.md"},
    ]
    assert case.checks[1] == {"type": "json_match", "expected": {"answer": 1, "unit": "days"}}
    assert selftest(tmp_path / "out").ok


def test_hf_saved_dataset_and_splits(tmp_path: Path) -> None:
    saved = tmp_path / "saved"
    with quiet_datasets():
        datasets.DatasetDict({"train": _dataset(ROWS[:1]), "test": _dataset(ROWS)}).save_to_disk(
            str(saved)
        )
    spec = "id=task_id,prompt=question,reference=answer,check=similarity"
    with pytest.raises(
        InputError, match=r"several splits \(train, test\); name one with split=NAME"
    ):
        _imp("hf", saved, spec, tmp_path / "o")
    written = _imp("hf", saved, spec + ",split=test", tmp_path / "o")
    assert written == [(tmp_path / "o" / "saved.jsonl", 3)]
    with pytest.raises(InputError, match="it never downloads from the Hub"):
        _imp("hf", "kestrel/faq", spec, tmp_path / "o2")


def test_hf_reads_a_local_csv(tmp_path: Path) -> None:
    src = tmp_path / "sums.csv"
    src.write_text("prompt,answer\nWhat is 2+3?,5\nWhat is 10*4?,40\n", encoding="utf-8")
    written = _imp(
        "hf", src, "prompt=prompt,reference=answer,check=numeric,max_tokens=20", tmp_path / "o"
    )
    assert written == [(tmp_path / "o" / "sums.jsonl", 2)]
    case = load_suite(tmp_path / "o").by_id()["sums-2"]
    assert case.checks == [{"type": "numeric", "expected": 40.0, "pick": "last"}]
    assert case.params.max_tokens == 20


def test_code_tests_from_columns(tmp_path: Path) -> None:
    src = tmp_path / "code.jsonl"
    row = {
        "q": "Write add(a, b).",
        "sol": "```python\ndef add(a, b):\n    return a + b\n```",
        "t": "assert add(2, 3) == 5",
        "ep": "add",
    }
    src.write_text(json.dumps(row) + "\n", encoding="utf-8")
    _imp(
        "jsonl",
        src,
        "prompt=q,reference=sol,tests=t,entry_point=ep,category=coding,check=code_tests",
        tmp_path / "o",
    )
    case = load_suite(tmp_path / "o").cases[0]
    assert case.checks == [
        {"type": "code_tests", "tests": "assert add(2, 3) == 5", "entry_point": "add"}
    ]
    assert selftest(tmp_path / "o").ok


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (None, "--spec is required"),
        ("prompt=question,colour=red", "unknown key 'colour'"),
        ("reference=answer", "name the column with the prompt"),
        ("prompt=question,category=poetry", "category 'poetry' is not one of"),
        ("prompt=question,check=rubric", "check 'rubric' cannot be built from a row"),
        ("prompt=question,check=code_tests", "needs the column with the tests"),
        ("prompt=question,prompt=answer", "'prompt' given twice"),
        ("prompt", "'prompt' is not KEY=VALUE"),
        (
            "prompt=nope",
            "--spec names columns the data lacks: nope (columns: task_id, question, answer)",
        ),
    ],
)
def test_spec_errors_write_nothing(tmp_path: Path, spec: str | None, message: str) -> None:
    src = tmp_path / "faq.jsonl"
    src.write_bytes(b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in ROWS))
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _imp("jsonl", src, spec, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_bad_rows_are_located_and_an_earlier_import_survives(tmp_path: Path) -> None:
    src = tmp_path / "faq.jsonl"
    src.write_bytes(b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in ROWS))
    out = tmp_path / "out"
    _imp("jsonl", src, "prompt=question,reference=answer,check=contains", out)
    before = (out / "faq.jsonl").read_bytes()
    with pytest.raises(InputError) as info:
        _imp("jsonl", src, "prompt=question,reference=answer,check=numeric", out)
    assert info.value.lines() == [
        f"{src}:1: check 'numeric': the reference '45 days from delivery.' is not a number",
        f"{src}:2: check 'numeric': the reference 'It costs $9.99 per month.' is not a number",
        f"{src}:3: check 'numeric': the reference 'Yes, standard shipping is free over $49.' is not a number",
    ]
    assert (out / "faq.jsonl").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["faq.jsonl"]


def test_duplicate_ids_and_unreadable_files(tmp_path: Path) -> None:
    src = tmp_path / "dup.jsonl"
    src.write_text(
        json.dumps({"id": "a", "q": "x"}) + "\n" + json.dumps({"id": "a", "q": "y"}) + "\n"
    )
    with pytest.raises(InputError, match=r"dup.jsonl:2: duplicate id 'a' \(first in row 1\)"):
        _imp("jsonl", src, "id=id,prompt=q", tmp_path / "o")
    bad = tmp_path / "broken.parquet"
    bad.write_text("not parquet")
    with pytest.raises(InputError, match=r"broken\.parquet: cannot read as parquet"):
        _imp("parquet", bad, "prompt=q", tmp_path / "o")


def test_out_dir_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "faq.jsonl"
    src.write_bytes(b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in ROWS))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "golden").mkdir()
    assert (
        cli(["import", "jsonl", str(src), "--spec", "prompt=question", "--out", "golden/imported"])
        == 2
    )
    assert "not into the golden set" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="exists and is not a folder"):
        _imp("jsonl", src, "prompt=question", tmp_path / "file")
    with pytest.raises(InputError, match="unknown import source 'csv'"):
        _imp("csv", src, "prompt=question", tmp_path / "o")
    with pytest.raises(InputError, match="at most one --category"):
        _imp("jsonl", src, "prompt=question", tmp_path / "o", categories=["chat", "rag"])
    assert (
        cli(
            [
                "import",
                "jsonl",
                str(src),
                "--spec",
                "prompt=question",
                "--out",
                "imported",
                "--limit",
                "2",
            ]
        )
        == 0
    )
    assert "(2 cases)" in capsys.readouterr().out

"""Golden loading: every problem as file:line, strict keys, stable hashes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from harness.errors import InputError
from harness.golden import case_from_dict, load_suite


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return p


def _problems(path: Path) -> list[str]:
    with pytest.raises(InputError) as info:
        load_suite(path)
    return info.value.lines()


GOOD = """
- id: greet
  category: chat
  messages:
    - {role: user, content: "Say hello"}
  reference: {content: "Hello!"}
  checks:
    - {type: contains, value: hello}
"""


def test_good_yaml_loads(tmp_path: Path) -> None:
    suite = load_suite(_write(tmp_path, "a.yaml", GOOD))
    assert [c.id for c in suite] == ["greet"]
    case = suite.cases[0]
    assert case.source == (str(tmp_path / "a.yaml"), 1)
    assert len(case.case_hash) == 16


def test_unknown_key_reports_its_line(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        "a.yaml",
        """
    - id: x
      category: chat
      messages: [{role: user, content: hi}]
      temprature: 0.2
    """,
    )
    assert _problems(p) == [f"{p}:4: unknown key 'temprature'"]


def test_unknown_category_and_check_and_bad_arg(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        "a.yaml",
        """
    - id: x
      category: chitchat
      messages: [{role: user, content: hi}]
    - id: y
      category: chat
      messages: [{role: user, content: hi}]
      checks:
        - type: nonexistent_check
    - id: z
      category: chat
      messages: [{role: user, content: hi}]
      checks:
        - type: contains
          value: a
          colour: red
    """,
    )
    lines = _problems(p)
    assert lines[0].startswith(f"{p}:2: unknown category 'chitchat'")
    assert lines[1].startswith(f"{p}:8: unknown check type 'nonexistent_check'")
    assert lines[2].startswith(f"{p}:15: check 'contains': unknown argument 'colour'")


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", GOOD)
    _write(
        tmp_path,
        "b.jsonl",
        '{"id": "greet", "category": "chat", "messages": [{"role": "user", "content": "x"}]}\n',
    )
    lines = _problems(tmp_path)
    assert len(lines) == 1
    assert lines[0].startswith(
        f"{tmp_path / 'b.jsonl'}:1: duplicate case id 'greet' (first at {tmp_path / 'a.yaml'}:1)"
    )


def test_malformed_yaml_and_json(tmp_path: Path) -> None:
    y = _write(tmp_path, "y/a.yaml", "- id: x\n  category: [chat\n")
    assert _problems(y)[0].startswith(f"{y}:3: malformed YAML")
    j = _write(
        tmp_path,
        "j/a.jsonl",
        '{"id": "a", "category": "chat", "messages": [{"role": "user", "content": "x"}]}\n{oops\n',
    )
    (line,) = _problems(j)
    assert line.startswith(f"{j}:2: malformed JSON: unexpected character")


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    p = _write(tmp_path, "a.yaml", "# nothing yet\n")
    assert _problems(p) == [f"{p}:1: no cases"]
    q = _write(tmp_path, "b.yaml", "cases: []\n")
    assert _problems(q) == [f"{q}:1: no cases"]


def test_invalid_tool_definitions(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        "a.yaml",
        """
    - id: t
      category: tool_use
      messages: [{role: user, content: "weather?"}]
      tools:
        - type: function
          function:
            name: get weather
            parameters: {type: object}
        - type: function
          function:
            name: ok_name
            parameters: {type: object, properties: {x: {type: strang}}}
    """,
    )
    lines = _problems(p)
    assert any(line.startswith(f"{p}:7: tools.0.function.name") for line in lines), lines
    assert any(
        line.startswith(f"{p}:12: tools.1.function.parameters: not a valid JSON Schema")
        for line in lines
    ), lines


def test_defaults_and_yaml_words_stay_strings(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        "a.yaml",
        """
    defaults:
      category: chat
      tags: [smoke]
    cases:
      - id: no
        messages: [{role: user, content: "no"}]
    """,
    )
    case = load_suite(p).cases[0]
    assert case.id == "no"
    assert case.messages[0].content == "no"
    assert case.tags == ["smoke"]


def test_case_hash_tracks_what_is_sent_or_checked() -> None:
    base = {
        "id": "a",
        "category": "chat",
        "messages": [{"role": "user", "content": "hi"}],
        "checks": [{"type": "contains", "value": "x"}],
    }
    h = case_from_dict(base).case_hash
    assert case_from_dict({**base, "tags": ["new-tag"]}).case_hash == h
    assert case_from_dict({**base, "messages": [{"role": "user", "content": "hi!"}]}).case_hash != h
    assert case_from_dict({**base, "checks": [{"type": "contains", "value": "y"}]}).case_hash != h
    assert case_from_dict({**base, "params": {"max_tokens": 5}}).case_hash != h


def test_skips_schema_and_corpus_folders(tmp_path: Path) -> None:
    _write(tmp_path, "chat.yaml", GOOD)
    _write(tmp_path, "corpora/docs.jsonl", '{"id": "chunk-1", "text": "not a case"}\n')
    _write(tmp_path, "schemas/x.json", "{}")
    assert len(load_suite(tmp_path)) == 1

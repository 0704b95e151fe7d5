"""The prompt of each case for the expanded rows, read back from the golden suite.

A record holds the answer, not the question. When the suite named in the manifest can still be
loaded, each case's rendered messages are shown, but only where the case's `case_hash` still
equals the record's: a golden file edited since the run would show a prompt that was never sent.
Anything that goes wrong here leaves the prompts out with a note; it never breaks a report.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

MAX_TEXT = 20_000


def clip(text: str | None, limit: int = MAX_TEXT) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return f"{text[:limit]}\n… [{len(text) - limit:,} more characters in results.jsonl]"


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            parts.append(str(part.get("text", "")))
        else:
            parts.append(f"[{kind or 'part'}]")
    return "\n".join(parts)


def load_prompts(
    suite_path: str, hashes: Mapping[str, str]
) -> tuple[dict[str, list[list[str]]], str | None]:
    """`{case_id: [[role, text], ...]}` for the cases in `hashes` (id -> case_hash), and a note."""
    path = Path(suite_path)
    if not suite_path or not path.exists():
        return {}, f"prompts not shown: the suite {suite_path!r} is not found from here"
    try:
        from harness.golden import load_suite
        from harness.prompt import render_messages

        suite = load_suite(path)
        out: dict[str, list[list[str]]] = {}
        stale = 0
        for case in suite.cases:
            want = hashes.get(case.id)
            if want is None:
                continue
            if case.case_hash != want:
                stale += 1
                continue
            msgs = []
            for m in render_messages(case):
                text = _content_text(m.get("content"))
                if m.get("tool_calls"):
                    text += ("\n" if text else "") + orjson.dumps(m["tool_calls"]).decode()
                msgs.append([str(m.get("role", "")), clip(text) or ""])
            out[case.id] = msgs
    except Exception as exc:  # a best-effort enrichment: any failure only hides the prompts
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return {}, f"prompts not shown: the suite could not be loaded ({first})"
    note = (
        f"{stale} case(s) changed in the suite since the run: their prompts are not shown"
        if stale
        else None
    )
    return out, note

"""Allowed values that are rules instead of literals, our one addition to BFCL's answer format.

``{$pattern: ...}``, ``{$any: true}`` and ``{$contains_all: [...]}`` cover free-text arguments
that no list of phrasings covers. Their keys start with ``$``, which no key in BFCL's possible
answers does, so imported cases compare exactly as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from harness.checks._bfcl_types import (
    Mismatch,
    compatible,
    fmt,
    json_type,
    schema_types,
    type_error,
    value_error,
)

FormKind = Literal["$pattern", "$any", "$contains_all"]
FORM_KINDS: tuple[FormKind, ...] = ("$pattern", "$any", "$contains_all")


@dataclass(frozen=True)
class Form:
    """An allowed value that is a rule: a regex, "any value of the right type", or words to hold.

    Built once, when the golden file loads (`parse_form`), so a bad regex is a load error and
    matching never compiles anything.
    """

    kind: FormKind
    source: Any
    """The argument as written (the regex text, the word list), for messages."""
    regex: re.Pattern[str] | None = None
    words: tuple[str, ...] = ()

    def __repr__(self) -> str:
        """As written in YAML; a regex unescaped (repr doubles backslashes, misread in a regex)."""
        if self.kind == "$any":
            return "{$any: true}"
        return f"{{{self.kind}: {self._shown()}}}"

    def _shown(self) -> str:
        return f"'{self.source}'" if self.kind == "$pattern" else repr(self.source)

    def why_not(self, value: Any, schema: Any) -> str | None:
        """None when `value` is accepted, else the clause that says why not."""
        if self.kind == "$any":
            declared = schema_types(schema)
            if not declared or compatible(json_type(value), declared):
                return None
            return f"is not of type {'/'.join(sorted(declared))}"
        if not isinstance(value, str):
            return f"is not a string (for {self!r})"
        if self.regex is not None:
            if self.regex.search(value):
                return None
            return f"does not match pattern {self._shown()}"
        low = value.casefold()
        missing = [w for w in self.words if w.casefold() not in low]
        return "does not contain " + ", ".join(map(repr, missing)) if missing else None

    def match(self, value: Any, schema: Any, path: str, explain: bool) -> Mismatch | None:
        why = self.why_not(value, schema)
        if why is None:
            return None
        if self.kind == "$any":
            return type_error(path, "/".join(sorted(schema_types(schema))), value, explain)
        if not isinstance(value, str):
            return type_error(path, "string", value, explain)
        return value_error(path, f"{fmt(value)} {why}", value, self, explain)


def parse_form(raw: dict[Any, Any]) -> Form | None:
    """The `Form` a mapping spells, None when it is an ordinary (BFCL nested) mapping.

    Raises ValueError for a form that is misspelt or could not fail: a regex that does not
    compile or that matches the empty string (``.*``, ``x?``), an empty word list.
    """
    kinds = [k for k in raw if k in FORM_KINDS]
    if not kinds:
        return None
    if len(raw) != 1:
        others = ", ".join(repr(k) for k in raw if k != kinds[0])
        raise ValueError(f"{{{kinds[0]}: ...}} takes no other keys (got {others})")
    kind: FormKind = kinds[0]
    arg = raw[kind]
    if kind == "$any":
        if arg is not True:
            raise ValueError(f"$any takes true, got {arg!r}")
        return Form(kind, arg)
    if kind == "$pattern":
        if not isinstance(arg, str) or not arg:
            raise ValueError(f"$pattern takes a regular expression as a string, got {arg!r}")
        try:
            regex = re.compile(arg, re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"$pattern '{arg}' is not a valid regular expression: {exc}") from None
        if regex.search(""):
            raise ValueError(
                f"$pattern '{arg}' matches an empty string, so it accepts any string; "
                "make it require something"
            )
        return Form(kind, arg, regex=regex)
    words = arg if isinstance(arg, list) else None
    if not words or not all(isinstance(w, str) and w.strip() for w in words):
        raise ValueError(f"$contains_all takes a non-empty list of non-empty strings, got {arg!r}")
    return Form(kind, arg, words=tuple(words))

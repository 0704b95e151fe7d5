"""How a case becomes the messages sent to the endpoint.

RAG cases carry their retrieved chunks as data (`context`), not pasted into the prompt, so the
checks can see which chunk ids exist and the template can change without editing every case.
The template is documented in docs/golden.md: the chunks are rendered as a numbered "Sources"
block appended to the system message (a system message is created if the case has none), each
chunk as ``[id] (source) text``. A case can place the block itself by writing ``{{ context }}``
inside any message; then nothing is appended.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jinja2

if TYPE_CHECKING:
    from harness.golden import Case

_ENV = jinja2.Environment(
    autoescape=False, undefined=jinja2.StrictUndefined, keep_trailing_newline=False
)

CONTEXT_TEMPLATE = _ENV.from_string(
    "Answer using only the sources below. "
    "Cite every source you use as [id], e.g. [{{ chunks[0].id }}]. "
    "If the sources do not contain the answer, say that you don't know.\n\n"
    "Sources:\n"
    "{% for c in chunks %}"
    "[{{ c.id }}]{% if c.source %} ({{ c.source }}){% endif %} {{ c.text }}\n"
    "{% endfor %}"
)

PLACEHOLDER = "{{ context }}"


def render_context(case: Case) -> str:
    chunks = case.context or []
    return CONTEXT_TEMPLATE.render(chunks=chunks).rstrip("\n")


def render_messages(case: Case) -> list[dict[str, Any]]:
    """The exact `messages` list sent for `case` (dicts, ready for the request body)."""
    messages = [m.model_dump(exclude_none=True) for m in case.messages]
    if not case.context:
        return messages
    block = render_context(case)
    placed = False
    for m in messages:
        content = m.get("content")
        if isinstance(content, str) and PLACEHOLDER in content:
            m["content"] = content.replace(PLACEHOLDER, block)
            placed = True
    if placed:
        return messages
    if (
        messages
        and messages[0].get("role") == "system"
        and isinstance(messages[0].get("content"), str)
    ):
        messages[0]["content"] = f"{messages[0]['content']}\n\n{block}"
    else:
        messages.insert(0, {"role": "system", "content": block})
    return messages

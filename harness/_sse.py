"""Server-sent events, decoded from raw bytes with as little work per line as possible.

This is the hot path of a run: a streamed answer is a few dozen events, and the SDK's own
decoder (a str per line, a dataclass per event, a pydantic model per chunk) costs more than the
rest of the harness together. Here a chunk of bytes is split on newlines once, `data:` fields
are kept as bytes (orjson parses bytes directly) and an event is handed over as the list of its
data lines. Everything else a server may send (`event:`, `id:`, `retry:`, comments used as
keep-alives) is skipped: a chat-completions stream carries everything in `data:`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import orjson

DONE = b"[DONE]"


def loads(raw: bytes) -> Any:
    """JSON from a server; raises orjson.JSONDecodeError.

    orjson refuses a lone UTF-16 surrogate escape (`"\\ud83d"`), which JSON's grammar allows
    and which gateways produce when they cut a string between the two halves of an emoji. Such
    a body is still the server's answer: it is read with the stdlib parser and every lone
    surrogate becomes U+FFFD, so no unencodable string reaches a record (a pair split across two
    chunks becomes two U+FFFD). Anything else orjson refuses stays an error.
    """
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "surrogate" not in str(exc):
            raise
        try:
            value = json.loads(raw)
        except ValueError:
            raise exc from None
        return _replace_lone_surrogates(value)


def _replace_lone_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, list):
        return [_replace_lone_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_replace_lone_surrogates(k): _replace_lone_surrogates(v) for k, v in value.items()}
    return value


class SSEDecoder:
    """Incremental decoder: `feed` bytes as they arrive, `flush` once the body ends.

    Events end at a blank line (the SSE rule). The data of an event that the server closed
    without its final blank line is still delivered by `flush`, because several servers end
    the body right after the last `data:` line.
    """

    __slots__ = ("_data", "_tail")

    def __init__(self) -> None:
        self._tail = b""
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> Iterator[list[bytes]]:
        """Yield the data lines of every event completed by `chunk`."""
        if self._tail:
            chunk = self._tail + chunk
        lines = chunk.split(b"\n")
        self._tail = lines.pop()
        data = self._data
        for line in lines:
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:
                if data:
                    yield data
                    data = self._data = []
            elif line.startswith(b"data:"):
                value = line[5:]
                data.append(value[1:] if value.startswith(b" ") else value)

    def flush(self) -> Iterator[list[bytes]]:
        """Yield what is left when the body has ended (no trailing blank line)."""
        if self._tail:
            yield from self.feed(b"\n")
        if self._data:
            data, self._data = self._data, []
            yield data


def parse_event(data: list[bytes]) -> object:
    """The JSON value of one event, `DONE` for the end marker; raises orjson.JSONDecodeError.

    The SSE rule joins the data lines of an event with newlines. No chat server splits one chunk
    over several lines, but a sloppy one may forget the blank line between events, which glues
    several chunks into one event: when the joined text is not JSON, each line is tried alone
    and the event becomes a list of chunks.
    """
    if len(data) == 1:
        line = data[0]
        return DONE if line == DONE else loads(line)
    try:
        return loads(b"\n".join(data))
    except orjson.JSONDecodeError:
        return [DONE if line == DONE else loads(line) for line in data if line]

"""Putting an answer on the wire: SSE chunk frames and non-streaming bodies, built once.

The hot path of the simulator is "look the answer up, stamp a fresh id on it, write it". So a
`Prepared` answer holds its stream as ready-made ``data: ...`` frames whose id is a fixed
placeholder (swapped with one ``bytes.replace``) and its non-streaming body as a dict; only the
usage (which depends on the server's prompt cache) is serialised per request.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from harness.sim._profiles import CHARS_PER_TOKEN, Answer, tokens

SYSTEM_FINGERPRINT = "harness-simulator"
#: Tokens per streamed chunk (a handful, like a real server's detokeniser flushes).
TOKENS_PER_CHUNK = 4
PLACEHOLDER_ID = "chatcmpl-sim-placeholder"
_ID_NEEDLE = b'data: {"id":"' + PLACEHOLDER_ID.encode() + b'"'
DONE = b"data: [DONE]\n\n"
STREAM_ERROR: dict[str, Any] = {
    "message": "Internal error while generating (harness simulator)",
    "type": "internal_error",
    "code": 500,
}

_ids = itertools.count(1)


def new_id() -> str:
    return f"chatcmpl-sim-{next(_ids):012x}"


def sse(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def _pieces(text: str) -> list[str]:
    step = TOKENS_PER_CHUNK * CHARS_PER_TOKEN
    return [text[i : i + step] for i in range(0, len(text), step)]


@dataclass
class Prepared:
    """One answer in wire form, shared by every request that gets it."""

    answer: Answer
    model: str
    frames: list[bytes] = field(default_factory=list)
    """Role, reasoning, content, tool-call and finish chunks, each a complete SSE frame."""
    frame_tokens: list[int] = field(default_factory=list)
    """Simulated tokens carried by each frame (for per-token latency)."""
    blob: bytes = b""
    body: dict[str, Any] = field(default_factory=dict)
    created: int = 0

    @classmethod
    def build(cls, answer: Answer, model: str) -> Prepared:
        prep = cls(answer=answer, model=model, created=int(time.time()))
        prep._build_stream()
        prep._build_body()
        return prep

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        return sse(
            {
                "id": PLACEHOLDER_ID,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "system_fingerprint": SYSTEM_FINGERPRINT,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }
        )

    def _add(self, delta: dict[str, Any], ntok: int, finish: str | None = None) -> None:
        self.frames.append(self._chunk(delta, finish))
        self.frame_tokens.append(ntok)

    def _build_stream(self) -> None:
        a = self.answer
        self._add({"role": "assistant", "content": ""}, 0)
        for piece in _pieces(a.reasoning or ""):
            self._add({"reasoning_content": piece}, tokens(piece))
        for piece in _pieces(a.content or ""):
            self._add({"content": piece}, tokens(piece))
        for i, tc in enumerate(a.tool_calls):
            head = {
                "index": i,
                "id": f"call_{i}",
                "type": "function",
                "function": {"name": tc.name, "arguments": ""},
            }
            self._add({"tool_calls": [head]}, tokens(tc.name))
            for piece in _pieces(tc.arguments):
                self._add(
                    {"tool_calls": [{"index": i, "function": {"arguments": piece}}]}, tokens(piece)
                )
        self._add({}, 0, a.finish_reason)
        self.blob = b"".join(self.frames)

    def _build_body(self) -> None:
        a = self.answer
        message: dict[str, Any] = {"role": "assistant", "content": a.content}
        if a.reasoning:
            message["reasoning_content"] = a.reasoning
        if a.tool_calls:
            message["tool_calls"] = [
                {
                    "id": f"call_{i}",
                    "type": "function",
                    "function": {"name": tc.name, "arguments": tc.arguments},
                }
                for i, tc in enumerate(a.tool_calls)
            ]
        self.body = {
            "id": PLACEHOLDER_ID,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": a.finish_reason}
            ],
        }

    def usage(self, prompt_tokens: int, cached_tokens: int) -> dict[str, Any]:
        completion = self.answer.completion_tokens
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": prompt_tokens + completion,
            "completion_tokens_details": {"reasoning_tokens": self.answer.reasoning_tokens},
            "prompt_tokens_details": {"cached_tokens": cached_tokens},
        }

    def stream_bytes(
        self, rid: str, usage: dict[str, Any] | None, frames: int | None = None, done: bool = True
    ) -> bytes:
        """The whole stream (or its first `frames` chunks) with `rid` stamped in."""
        blob = self.blob if frames is None else b"".join(self.frames[:frames])
        out = blob.replace(_ID_NEEDLE, b'data: {"id":"' + rid.encode() + b'"')
        if usage is not None:
            out += self.usage_frame(rid, usage)
        return out + DONE if done else out

    def frame(self, i: int, rid: str) -> bytes:
        return self.frames[i].replace(_ID_NEEDLE, b'data: {"id":"' + rid.encode() + b'"', 1)

    def usage_frame(self, rid: str, usage: dict[str, Any]) -> bytes:
        return sse(
            {
                "id": rid,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "system_fingerprint": SYSTEM_FINGERPRINT,
                "choices": [],
                "usage": usage,
            }
        )

    def body_bytes(self, rid: str, usage: dict[str, Any]) -> bytes:
        return orjson.dumps({**self.body, "id": rid, "usage": usage})

    @property
    def partial_frames(self) -> int:
        """How many frames a faulty stream sends before it breaks: the role and half the rest."""
        return min(len(self.frames) - 1, 1 + max(1, (len(self.frames) - 2) // 2))


def close_abruptly(request: web.Request) -> None:
    """Drop the connection without finishing the response (no final chunk, no body)."""
    request.protocol.force_close()
    if request.transport is not None:
        request.transport.close()


async def write_stream(
    request: web.Request,
    resp: web.StreamResponse,
    prep: Prepared,
    rid: str,
    usage: dict[str, Any] | None,
    fault: str | None,
    latency: float,
    per_token: float,
) -> bool:
    """Write a prepared stream chunk by chunk; True when it ended normally.

    A fault sends the role chunk and about half the answer, then breaks the stream its way:
    ``cut`` drops the connection, ``malformed`` sends a data line that is not JSON,
    ``stream_error`` sends an error object inside the 200 stream (as DashScope does).
    """
    if latency > 0:
        await asyncio.sleep(latency)
    count = prep.partial_frames if fault is not None else len(prep.frames)
    if per_token > 0:
        for i in range(count):
            ntok = prep.frame_tokens[i]
            if ntok and i > 1:
                await asyncio.sleep(per_token * ntok)
            await resp.write(prep.frame(i, rid))
    else:
        await resp.write(prep.stream_bytes(rid, None, frames=count, done=False))
    if fault == "cut":
        close_abruptly(request)
        return False
    if fault == "malformed":
        await resp.write(b'data: {"id": "' + rid.encode() + b'", "choices": [{"delta": \n\n')
        await resp.write(DONE)
    elif fault == "stream_error":
        await resp.write(sse({"error": STREAM_ERROR}))
    else:
        if usage is not None:
            await resp.write(prep.usage_frame(rid, usage))
        await resp.write(DONE)
    await resp.write_eof()
    return fault is None
